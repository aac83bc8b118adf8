"""The base of every error a user can fix.

Each subclass's message says what is wrong and what to do; the command line prints it on one line
without a traceback (exit status 1). Anything else escaping a command is a bug in tag-bench.
"""

from __future__ import annotations


class TagBenchError(Exception):
    """A problem with what the user asked for or gave us, not a bug; the message says how to fix it."""
