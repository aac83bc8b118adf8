"""Evidence extraction: cited AUs and boxes, each box tied to the AU of its own step.

Box syntaxes (numbers always kept as written; the frame is applied later, by ``frames``):

- TAG ``<bbox>[x1,y1,x2,y2]</bbox>`` (spaces optional; ``<bbox>x1,y1,x2,y2</bbox>`` too);
- Qwen2.5-VL / Gemini JSON objects ``{"bbox_2d": [...], "label": "AU12 …"}`` / ``{"box_2d": …}``
  (a list of objects, fenced or not, pretty-printed or not);
- Qwen2-VL ``<|object_ref_start|>AU12<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>``;
- InternVL ``<ref>AU12</ref><box>[[x1, y1, x2, y2], …]</box>`` (several boxes in one ``<box>``);
- PaliGemma ``<loc0123><loc0456><loc0789><loc1000> AU12`` (objects separated by ``;``);
- a plain ``[x1, y1, x2, y2]`` (e.g. right after an AU mention).

AU mentions: ``AU4``, ``AU 12``, ``AU06``, ``au12``, ``Action Unit 4`` anywhere, the reasoning block
included; in structured labels (JSON ``label``, ``<ref>``) an AU *name* such as "Lip Corner Puller"
counts too. AU mentions are counted as written (Facial-R1 style): "no AU9" still cites AU9.

A step is a JSON object, or a line (continuation lines starting with an arrow join the previous line)
further split before each ``Inspect``, ``<ref>`` and ``<|object_ref_start|>`` (and at ``;`` in
PaliGemma output). Within a step: one AU takes every box; a prose step citing several AUs is split
into sentences first; one box with several AUs is cited for each of them (noted); equal numbers of
AUs and boxes pair in order; otherwise each box goes to the nearest AU mention before it (else after
it; noted). A box is never tied to an AU of another step; a box whose step cites no AU is kept with
``au=None``. ``Evidence.step`` numbers the steps that carry evidence, in text order, from 0.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

from tag_bench.facs import AU_CATALOGUE
from tag_bench.parsing.text import lower_same_length

MAX_EVIDENCE = 200

_N = r"[-+]?(?:\d{1,40}(?:\.\d{0,40})?|\.\d{1,40})(?:e[-+]?\d{1,5})?|[-+]?(?:nan|inf(?:inity)?)"
_NUM_RE = re.compile(_N, re.ASCII)
_LIST_BODY = rf"\[\s*(?P<n1>{_N})\s*,\s*(?P<n2>{_N})\s*,\s*(?P<n3>{_N})\s*,\s*(?P<n4>{_N})\s*\]"
_LIST_RE = re.compile(_LIST_BODY, re.ASCII)
# Each box syntax has its own pattern starting with a literal ("<bbox>", "<box>", "[", ...), so ``re``
# skips ahead with a fast substring search, and runs only when a cheap ``in`` test finds that literal.
# The common TAG form captures its four numbers directly.
_BBOX_RE = re.compile(
    rf"<bbox>[ \t]{{0,3}}\[\s*(?P<b1>{_N})\s*,\s*(?P<b2>{_N})\s*,\s*(?P<b3>{_N})\s*,\s*(?P<b4>{_N})\s*\]"
    r"[ \t]{0,3}</bbox>|<bbox>(?P<any>[^<>]{0,400})</bbox>",
    re.ASCII,
)
_IBOX_RE = re.compile(r"<box>([^<>]{0,800})</box>")
_QWEN_BOX_RE = re.compile(r"<\|box_start\|>([^<>]{0,400})<\|box_end\|>")
_LOC_RE = re.compile(
    r"<loc(\d{1,4})>\s{0,3}<loc(\d{1,4})>\s{0,3}<loc(\d{1,4})>\s{0,3}<loc(\d{1,4})>", re.ASCII
)
# Patterns below run on the lower-cased text (case-sensitive patterns with a literal prefix are several
# times faster in ``re`` than IGNORECASE ones); a match's preceding character is checked in Python.
_AU_RE = re.compile(
    r"(?:au|action[ \t_-]{0,3}units?)[ \t]{0,3}[-_#:]?[ \t]{0,3}0{0,3}(\d{1,2})(?!\d)", re.ASCII
)
_AU_LIST_PREFIX_RE = re.compile(r"(?:aus|action[ \t]+units)[ \t]*[:=]?[ \t]*$")
_INSPECT_RE = re.compile(r"inspect(?![a-z])")
_SENTENCE_RE = re.compile(r"[.!?][\"')\]]?[ \t\n]+(?=[A-Z])")
_NEWLINE_STEP_RE = re.compile(r"\n(?![ \t]{0,40}(?:→|->|⟶|=>|—>|➔|⇒))")
_REF_RE = re.compile(
    r"<ref>(?P<a>[^<>]{1,200})</ref>|<\|object_ref_start\|>(?P<b>[^<>]{1,200})<\|object_ref_end\|>"
)
_LOC_LABEL_RE = re.compile(r"[ \t]*(?P<v>[^<;\n]{1,120})")

# Starts with a literal (fast scan); the opening quote is checked in Python.
_JSON_BOX_KEY_RE = re.compile(r"b(?:box_2d|ox_2d|box|ox|ounding_box)[\"'][ \t]*:[ \t]*")
_FLAT_RE = re.compile(r"\[([^\[\]]{0,200})\]")
_NESTED_RE = re.compile(r"\[\s*((?:\[[^\[\]]{0,200}\]\s*(?:,\s*)?){1,16})\]", re.ASCII)
_JSON_LABEL_RE = re.compile(
    r"[\"'](?:label|au|action_unit|aus|name|region|category|description)[\"'][ \t]*:[ \t]*"
    r"[\"'](?P<v>[^\"'\n]{0,200})[\"']"
)


def _name_regex() -> re.Pattern[str]:
    names = sorted((au.name.lower() for au in AU_CATALOGUE.values()), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(r"[\s\-]+".join(map(re.escape, n.split())) for n in names) + r")\b")


_NAME_RE = _name_regex()
_NAME_TO_CODE = {au.name.lower(): au.code for au in AU_CATALOGUE.values()}


class RawEvidence(NamedTuple):
    """One evidence item before frame conversion."""

    pos: int  # position in the text (for ordering)
    step_key: int  # items of one step share it (the step's start position)
    au: str | None
    nums: list[float] | None  # None: an AU mention with no box
    kind: str  # "bbox", "json", "qwen2", "internvl", "loc", "list", "au"
    malformed: bool = False  # a box was written but is not four numbers


@dataclass
class Extracted:
    evidence: list[RawEvidence] = field(default_factory=list)
    aus: list[str] = field(default_factory=list)  # distinct, first-mention order
    notes: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)


class _Box(NamedTuple):
    pos: int
    nums: list[float]
    kind: str
    malformed: bool = False
    end: int = 0


_POS = itemgetter(0)
_CODES = {**{str(n): f"AU{n}" for n in range(1, 100)}, **{f"0{n}": f"AU{n}" for n in range(1, 10)}}


def au_codes(low: str) -> list[tuple[int, str]]:
    """(position, code) of every AU mention in lower-cased text ("au06" -> "AU6"; "au0" is none)."""
    out = []
    codes = _CODES
    for m in _AU_RE.finditer(low):
        s = m.start()
        if s and low[s - 1].isalnum():
            continue  # "tau12", "beau 1"
        code = codes.get(m.group(1))
        if code is not None:
            out.append((s, code))
    return out


def _names(low: str, base: int) -> list[tuple[int, str]]:
    return [
        (base + m.start(), _NAME_TO_CODE[re.sub(r"[\s\-]+", " ", m.group(1))]) for m in _NAME_RE.finditer(low)
    ]


def _floats(s: str) -> list[float]:
    """Numbers in ``s``: a plain comma-separated list parses directly, anything else by regex."""
    try:
        return list(map(float, s.replace("(", "").replace(")", "").split(",")))
    except ValueError:
        return list(map(float, _NUM_RE.findall(s)))


def _tag_boxes(content: str, pos: int, kind: str) -> list[_Box]:
    """Boxes written inside a tag: bracketed lists, or bare numbers in groups of four."""
    lists = [list(map(float, m.group("n1", "n2", "n3", "n4"))) for m in _LIST_RE.finditer(content)]
    if lists:
        return [_Box(pos, nums, kind) for nums in lists]
    nums = _floats(content)
    if nums and len(nums) % 4 == 0 and len(nums) <= 64:
        return [_Box(pos, nums[i : i + 4], kind) for i in range(0, len(nums), 4)]
    return [_Box(pos, nums, kind, malformed=True)]


class _Spans:
    """Sorted, merged spans with a fast membership test."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[tuple[int, int]] = []
        for s, e in sorted(spans):
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
            else:
                merged.append((s, e))
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def __contains__(self, pos: int) -> bool:
        i = bisect_right(self.starts, pos) - 1
        return i >= 0 and pos < self.ends[i]

    def __bool__(self) -> bool:
        return bool(self.starts)


def step_bounds(low: str, paligemma: bool = False) -> list[int]:
    """Start positions of reasoning steps: new lines (except arrow continuations), ``inspect``,
    ``<ref>``, ``<|object_ref_start|>`` and, in PaliGemma output, ``;``."""
    bounds = [m.start() for m in _NEWLINE_STEP_RE.finditer(low)]
    if "inspect" in low:
        bounds += [
            m.start() for m in _INSPECT_RE.finditer(low) if not (m.start() and low[m.start() - 1].isalpha())
        ]
    for tag in ("<ref>", "<|object_ref_start|>", ";") if paligemma else ("<ref>", "<|object_ref_start|>"):
        i = low.find(tag)
        while i >= 0:
            bounds.append(i)
            i = low.find(tag, i + 1)
    bounds.sort()
    return bounds


def extract_evidence(text: str, low: str | None = None) -> Extracted:
    """All cited AUs and boxes of ``text`` (the whole response, reasoning included).
    ``low``: ``lower_same_length(text)`` when already known."""
    out = Extracted()
    if low is None:
        low = lower_same_length(text)
    has_box_syntax = "[" in low or "<" in low
    mentions = au_codes(low) if ("au" in low or "action" in low) else []
    if not mentions and not has_box_syntax:
        return out

    items: list[RawEvidence] = []
    json_mentions: list[tuple[int, str]] = []
    json_spans: list[tuple[int, int]] = []
    if ("box_2d" in low or 'box"' in low or "box'" in low) and ":" in low:
        json_spans = _json_objects(low, items, json_mentions, out)

    boxes = _scan_boxes(low, json_spans) if has_box_syntax else []
    consumed = _Spans(json_spans) if json_spans else None
    if consumed:
        mentions = [p for p in mentions if p[0] not in consumed]
    if "ref" in low:
        for m in _REF_RE.finditer(low):
            g = "a" if m.group("a") is not None else "b"
            if not _AU_RE.search(m.group(g)):
                mentions += _names(m.group(g), m.start(g))
    paligemma = any(b.kind == "loc" for b in boxes)
    if paligemma:
        for b in boxes:
            lm = _LOC_LABEL_RE.match(low, b.end) if b.kind == "loc" else None
            if lm and not _AU_RE.search(lm.group("v")):
                mentions += _names(lm.group("v"), lm.start("v"))
    mentions.sort()
    _pair_steps(text, low, boxes, mentions, items, out, paligemma)

    # Distinct AUs in first-mention order (JSON labels and text alike).
    ordered = sorted(mentions + json_mentions) if json_mentions else mentions
    out.aus = list(dict.fromkeys([c for _, c in ordered]))
    items.sort(key=_POS)
    if len(items) > MAX_EVIDENCE:
        out.notes.append(f"evidence-capped: {len(items)} evidence items: kept the first {MAX_EVIDENCE}")
        del items[MAX_EVIDENCE:]
    out.evidence = items
    return out


def _scan_boxes(low: str, json_spans: list[tuple[int, int]]) -> list[_Box]:
    """Every box outside JSON box objects, in text order; a list inside a tag is read once, as the tag."""
    boxes: list[_Box] = []
    spans = list(json_spans)  # what the plain-list scan must skip
    in_json = _Spans(json_spans) if json_spans else None
    n_tag_lists = 0
    if "<bbox>" in low:
        for m in _BBOX_RE.finditer(low):
            if in_json is not None and m.start() in in_json:
                continue
            if m.lastgroup == "b4":  # the TAG form: the hot path (groups 1-4 are b1-b4)
                boxes.append(_Box(m.start(), list(map(float, m.group(1, 2, 3, 4))), "bbox"))
                n_tag_lists += 1
            else:
                boxes += _tag_boxes(m.group("any"), m.start(), "bbox")
            spans.append(m.span())
    if "<box>" in low:
        for m in _IBOX_RE.finditer(low):
            if in_json is not None and m.start() in in_json:
                continue
            boxes += _tag_boxes(m.group(1), m.start(), "internvl")
            spans.append(m.span())
    if "<|box_start|>" in low:
        for m in _QWEN_BOX_RE.finditer(low):
            if in_json is not None and m.start() in in_json:
                continue
            boxes += _tag_boxes(m.group(1), m.start(), "qwen2")
            spans.append(m.span())
    if "<loc" in low:
        for m in _LOC_RE.finditer(low):
            if in_json is not None and m.start() in in_json:
                continue
            boxes.append(_Box(m.start(), list(map(float, m.groups())), "loc", False, m.end()))
    # Plain [x1, y1, x2, y2] lists, unless every "[" already belonged to a TAG box.
    if "[" in low and low.count("[") != n_tag_lists:
        skip = _Spans(spans) if spans else None
        for m in _LIST_RE.finditer(low):
            pos = m.start()
            if skip is not None and pos in skip:
                continue
            if pos and _AU_LIST_PREFIX_RE.search(low, max(0, pos - 20), pos):
                continue  # "AUs: [1, 2, 4, 5]" lists AU numbers, not a box
            boxes.append(_Box(pos, list(map(float, m.groups())), "list"))
    if len(boxes) > 1:
        boxes.sort(key=_POS)
    return boxes


def _json_objects(
    low: str, items: list[RawEvidence], mentions: list[tuple[int, str]], out: Extracted
) -> list[tuple[int, int]]:
    """Box objects of JSON answers (Qwen2.5-VL ``bbox_2d``, Gemini ``box_2d``); returns their spans."""
    spans: list[tuple[int, int]] = []
    for m in _JSON_BOX_KEY_RE.finditer(low):
        if not m.start() or low[m.start() - 1] not in "\"'":
            continue
        p = m.end()
        fm = _FLAT_RE.match(low, p)
        if fm is not None:
            lists, end = [_floats(fm.group(1))], fm.end()
        else:
            nm = _NESTED_RE.match(low, p)
            if nm is None:
                continue
            lists, end = [_floats(x.group(1)) for x in _FLAT_RE.finditer(nm.group(1))], nm.end()
        lb = low.rfind("{", max(0, m.start() - 600), m.start())
        rb = low.find("}", end, end + 600)
        start = lb if lb >= 0 else m.start()
        stop = rb + 1 if rb >= 0 else end
        obj = low[start:stop]
        codes: list[tuple[int, str]] = []
        for lm in _JSON_LABEL_RE.finditer(obj):
            codes += [(start + lm.start("v") + q, c) for q, c in au_codes(lm.group("v"))]
        if not codes:
            codes = [(start + q, c) for q, c in au_codes(obj)]
        if not codes:
            for lm in _JSON_LABEL_RE.finditer(obj):
                codes += _names(lm.group("v"), start + lm.start("v"))
        mentions += codes
        distinct = list(dict.fromkeys(c for _, c in codes))
        cited: list[str | None] = list(distinct) or [None]
        for nums in lists:
            for au in cited:
                items.append(RawEvidence(m.start(), start, au, nums, "json", malformed=len(nums) != 4))
        if len(distinct) > 1:
            out.notes.append(
                f"box-several-aus: one box object cites several AUs ({', '.join(distinct)}): box kept for each"
            )
        out.kinds.add("json")
        spans.append((start, stop))
    return spans


def _pair_steps(
    text: str,
    low: str,
    boxes: list[_Box],
    mentions: list[tuple[int, str]],
    items: list[RawEvidence],
    out: Extracted,
    paligemma: bool,
) -> None:
    if not boxes and not mentions:
        return
    bounds = step_bounds(low, paligemma)
    steps: dict[int, tuple[list[_Box], list[tuple[int, str]]]] = {}
    for b in boxes:
        sid = bisect_right(bounds, b.pos)
        entry = steps.get(sid)
        if entry is None:
            steps[sid] = ([b], [])
        else:
            entry[0].append(b)
    out.kinds.update({b.kind for b in boxes})
    first: dict[str, tuple[int, int]] = {}  # code -> (position, step) of its first mention
    for mention in mentions:  # sorted by position
        sid = bisect_right(bounds, mention[0])
        entry = steps.get(sid)
        if entry is not None:
            entry[1].append(mention)
        if mention[1] not in first:
            first[mention[1]] = (mention[0], sid)
    boxed_aus: set[str] = {e.au for e in items if e.au is not None}
    append = items.append
    for sid, (sboxes, smentions) in steps.items():
        key = bounds[sid - 1] if sid else 0
        code = smentions[0][1] if smentions else None
        if code is None or all(c == code for _, c in smentions):  # the common case: <= 1 AU
            for pos, nums, kind, malformed, _end in sboxes:
                append(RawEvidence(pos, key, code, nums, kind, malformed))
            if code is not None:
                boxed_aus.add(code)
            continue
        for b, paired in _pair_step(text, sboxes, smentions, out):
            append(RawEvidence(b.pos, key, paired, b.nums, b.kind, b.malformed))
            if paired is not None:
                boxed_aus.add(paired)
    for code, (pos, sid) in first.items():  # AUs cited without any box
        if code not in boxed_aus:
            append(RawEvidence(pos, bounds[sid - 1] if sid else 0, code, None, "au"))


def _pair_step(
    text: str, sboxes: list[_Box], smentions: list[tuple[int, str]], out: Extracted
) -> list[tuple[_Box, str | None]]:
    """Tie each box of one step to its AU(s). A prose step citing several AUs is first split into
    sentences, so "Brows raised (AU1). Jaw dropped (AU26) [box]." ties the box to AU26 only."""
    if len({c for _, c in smentions}) > 1:
        lo = min(sboxes[0].pos, smentions[0][0])
        hi = max(sboxes[-1].pos, smentions[-1][0])
        cuts = [m.end() for m in _SENTENCE_RE.finditer(text, lo, hi)]
        if cuts:
            groups: dict[int, tuple[list[_Box], list[tuple[int, str]]]] = {}
            for b in sboxes:
                groups.setdefault(bisect_right(cuts, b.pos), ([], []))[0].append(b)
            for mention in smentions:
                groups.setdefault(bisect_right(cuts, mention[0]), ([], []))[1].append(mention)
            pairs: list[tuple[_Box, str | None]] = []
            for gboxes, gmentions in groups.values():
                if not gboxes:
                    continue
                if gmentions:
                    pairs += _pair(gboxes, gmentions, out)
                else:  # a sentence with a box and no AU: the nearest AU of the step
                    pairs += [(b, _nearest(b.pos, smentions)) for b in gboxes]
            pairs.sort(key=lambda p: p[0].pos)
            return pairs
    return _pair(sboxes, smentions, out)


def _pair(
    sboxes: list[_Box], smentions: list[tuple[int, str]], out: Extracted
) -> list[tuple[_Box, str | None]]:
    distinct = list(dict.fromkeys(c for _, c in smentions))
    if not distinct:
        return [(b, None) for b in sboxes]
    if len(distinct) == 1:
        return [(b, distinct[0]) for b in sboxes]
    if len(sboxes) == 1:
        out.notes.append(
            f"box-several-aus: one box cited for several AUs ({', '.join(distinct)}): box kept for each"
        )
        return [(sboxes[0], c) for c in distinct]
    if len(distinct) == len(sboxes):
        return list(zip(sboxes, distinct, strict=True))
    out.notes.append(
        f"box-au-pairing: a step has {len(sboxes)} boxes and {len(distinct)} AUs: each box tied to its nearest AU"
    )
    return [(b, _nearest(b.pos, smentions)) for b in sboxes]


def _nearest(pos: int, mentions: list[tuple[int, str]]) -> str:
    """The AU of the last mention before ``pos``, else of the first one after it (mentions sorted)."""
    i = bisect_right(mentions, (pos, ""))
    return mentions[i - 1][1] if i else mentions[0][1]
