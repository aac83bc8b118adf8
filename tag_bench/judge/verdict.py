"""Reading a judge's verdict, with the parser's discipline: never guessed.

The MT-Bench convention: ``[[A]]`` (Response A is better), ``[[B]]`` or ``[[C]]`` (a tie), spaces inside
the brackets allowed. When the reply closes a ``<think>`` block, only the text after it counts. One
verdict, written any number of times, is read; none is ``no_verdict``; two different ones are
``conflicting_verdicts`` (e.g. a judge quoting the format "[[A]] if A is better..." before deciding): both
are ``judge_failed``, kept in every denominator, never resolved by picking one.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from tag_bench.parsing.text import split_think

_VERDICT_RE = re.compile(r"\[\[\s*([ABC])\s*\]\]")


class Verdict(NamedTuple):
    verdict: Literal["A", "B", "C"] | None
    failure: Literal["no_verdict", "conflicting_verdicts"] | None


def read_verdict(text: str | None) -> Verdict:
    """The verdict of one judge reply (see the module docstring)."""
    if not text:
        return Verdict(None, "no_verdict")
    split = split_think(text)
    scope = split.answer if split.think_closed else text
    found = set(_VERDICT_RE.findall(scope))
    if not found:
        return Verdict(None, "no_verdict")
    if len(found) > 1:
        return Verdict(None, "conflicting_verdicts")
    return Verdict(found.pop(), None)
