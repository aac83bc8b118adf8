"""Response parsing: label, cited AUs and boxes of a VLM answer, in that model's own box frame.

``parse_response(text, frame, image_size, ...)`` never raises and always sets a status. The package is
light at import time (regular expressions and pydantic records only).
"""

from __future__ import annotations

from tag_bench.parsing.frames import convert, make_context
from tag_bench.parsing.parser import LENGTH_REASONS, explicit_answer_cue, parse_response

__all__ = ["LENGTH_REASONS", "convert", "explicit_answer_cue", "make_context", "parse_response"]
