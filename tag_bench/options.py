"""``key=value`` options from the command line, typed one way everywhere.

``--model-args`` and ``--gen-kwargs`` take one comma-separated string (commas inside brackets do not
split: ``stop=["a","b"]``); ``--option`` is repeated, one pair each, and never split. Values are typed
by :func:`typed_value`: ``true``/``false`` -> bool, ``none``/``null`` -> None, integers, decimals,
JSON lists and objects; anything else stays text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from tag_bench.errors import TagBenchError


class OptionError(TagBenchError, ValueError):
    """A ``key=value`` option that cannot be read; the message names it."""


def typed_value(text: str) -> Any:
    """``"8"`` -> 8, ``"0.5"`` -> 0.5, ``"True"`` -> True, ``"none"`` -> None, ``"[1, 2]"`` -> [1, 2]."""
    v = text.strip()
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    if v[:1] in "[{":
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            pass
    return v


#: A text value holding ``<space>key=``: two pairs with the comma between them left out.
_MISSING_COMMA = re.compile(r"\s+([A-Za-z_][\w.\-]*=)")


def parse_kv(text: str | None) -> dict[str, Any]:
    """``pretrained=Qwen/Qwen2.5-VL-7B-Instruct,dtype=bfloat16,batch=4`` -> typed dict."""
    if not text:
        return {}
    return parse_pairs((p for p in _split_top_level(text) if p.strip()), whole=text)


def parse_pairs(pairs: Iterable[str], *, whole: str | None = None) -> dict[str, Any]:
    """Repeated ``KEY=VALUE`` strings -> typed dict.

    A text value that holds ``key=`` after a space (``model=x base_url=http://...``) is refused: the
    comma between two pairs is missing, and taking it as one value would send the run elsewhere. A
    value with spaces and no ``key=`` after them (``pretrained=/data/my models/qwen``) is kept.
    """
    out: dict[str, Any] = {}
    for part in pairs:
        if "=" not in part:
            where = f" in {whole!r}" if whole is not None else ""
            raise OptionError(f"expected key=value{where}, got {part!r}")
        k, v = part.split("=", 1)
        value = typed_value(v)
        if isinstance(value, str):
            _check_missing_comma(k.strip(), value, whole)
        out[k.strip()] = value
    return out


def _check_missing_comma(key: str, value: str, whole: str | None) -> None:
    m = _MISSING_COMMA.search(value)
    if m is None:
        return
    first, rest = value[: m.start()], value[m.start(1) :]
    fix = (
        f"separate the pairs with a comma: {key}={first},{rest}"
        if whole is not None
        else f"give each KEY=VALUE on its own: {key}={first} and {rest}"
    )
    raise OptionError(f"the value of {key!r} ({value!r}) holds {m.group(1)!r} after a space; {fix}")


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts
