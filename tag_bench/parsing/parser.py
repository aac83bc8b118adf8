"""``parse_response``: one raw VLM answer in, one :class:`~tag_bench.schema.Parsed` record out.

Never raises, always gives a status. The label comes from the text after any ``<think>`` block
(``answer.py``); evidence (AUs and boxes) from the whole response, reasoning included
(``evidence.py``); boxes are converted from the adapter's declared frame to presented-image pixels
(``frames.py``).

Reasoning-block policy: text inside ``<think>…</think>`` never decides the label when anything
follows the block. When nothing usable follows it (a response that is only a think block, or one whose
``<think>`` never closes), only an explicit ``<answer>…</answer>`` or ``\\boxed{}`` inside the block is
accepted, with a note; hedged prose in reasoning ("maybe sad… or happy") never becomes a label.

Truncation: when ``finish_reason`` says the length limit was hit and no explicit answer marker was
found, the status is ``truncated``; weak cues (a last line, a bold word, free text) of a cut-off text
are not consulted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from tag_bench._construct import constructor
from tag_bench.facs import AU_CATALOGUE
from tag_bench.parsing.answer import Answer, explicit_cue, extract_answer, extract_explicit
from tag_bench.parsing.evidence import extract_evidence
from tag_bench.parsing.frames import (
    CLIPPED,
    FAR_OUTSIDE,
    OUT_OF_RANGE,
    REVERSED,
    FrameContext,
    convert,
    frame_hints,
    make_context,
)
from tag_bench.parsing.text import cap, is_refusal, lower_same_length, resolve_classes, split_think
from tag_bench.schema import CANONICAL_EMOTIONS, Evidence, Parsed

# Built from values of the records' own types (str codes, float boxes from ``frames.convert``, int
# steps), without pydantic's per-field checks: the parser runs once per response, millions of times
# per sweep. ``tests/test_parsing.py`` checks that validating what it builds changes nothing.
_parsed = constructor(Parsed)
_evidence_item = constructor(Evidence)

#: finish_reason values (OpenAI, vLLM, HF, Anthropic spellings) meaning "stopped at the token limit".
LENGTH_REASONS = frozenset({"length", "max_tokens", "max_length", "max_new_tokens", "max_output_tokens"})


def parse_response(
    text: str | None,
    frame: str | None,
    image_size: tuple[int, int] | None,
    input_size: tuple[int, int] | None = None,
    finish_reason: str | None = None,
    classes: Sequence[str] | None = None,
) -> Parsed:
    """Extract the label, the cited AUs and the boxes of one response.

    ``frame`` is the adapter's declared box frame (``schema.BOX_FRAMES``); ``image_size`` the presented
    image ``(w, h)``; ``input_size`` the ``(w, h)`` the model saw (needed by ``pixel-resized``);
    ``classes`` the task's class list (None: all eight canonical emotions). Boxes come back in pixels of
    the presented image, clipped to it.
    """
    return parse_with_cue(text, frame, image_size, input_size, finish_reason, classes)[0]


def parse_with_cue(
    text: str | None,
    frame: str | None,
    image_size: tuple[int, int] | None,
    input_size: tuple[int, int] | None = None,
    finish_reason: str | None = None,
    classes: Sequence[str] | None = None,
) -> tuple[Parsed, str | None]:
    """:func:`parse_response`, and the cue that decided the answer text after any reasoning block
    (``Answer.source``: ``answer_tag`` exactly when that text holds an ``<answer>`` tag that reads as
    an answer; None when the text is empty or the parser failed). The format reward reads the cue
    instead of scanning the text a second time."""
    try:
        return _parse(text, frame, image_size, input_size, finish_reason, classes)
    except Exception as e:  # last-resort guard: a parser bug must not lose the sample
        failed = Parsed(
            status="no_answer",
            frame=None if frame is None else str(frame),
            notes=[f"parser-error: parser error ({type(e).__name__}: {e}); please report this response"],
        )
        return failed, None


def _parse(
    text: object,
    frame: object,
    image_size: object,
    input_size: object,
    finish_reason: object,
    classes: object,
) -> tuple[Parsed, str | None]:
    notes: list[str] = []
    if text is None:
        text = ""
    elif isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        notes.append(f"response-not-text: response was a {type(text).__name__}, parsed as its string form")
        text = str(text)
    text, cap_note = cap(text)
    if cap_note:
        notes.append(cap_note)

    allowed, class_notes = resolve_classes(_class_tuple(classes, notes))
    notes.extend(class_notes)

    low = lower_same_length(text)  # shared by every scan; positions match ``text``
    truncated = isinstance(finish_reason, str) and finish_reason.lower() in LENGTH_REASONS
    answer, region_cue = _answer(text, low, allowed, notes, decisive_only=truncated)
    if truncated:
        if answer.decisive:
            notes.append("length-limit: generation hit the length limit, but an explicit answer was found")
        else:
            answer = Answer(None, "truncated", None, False, "truncated")
    notes.extend(answer.notes)

    evidence, aus = _evidence(text, low, frame, image_size, input_size, notes)
    parsed = _parsed(
        label=answer.label,
        status=answer.status,
        raw_label=answer.raw_label,
        aus=aus,
        evidence=evidence,
        frame=None if frame is None else str(frame),
        notes=notes,
    )
    return parsed, region_cue


def _class_tuple(classes: object, notes: list[str]) -> tuple[str, ...] | None:
    if classes is None:
        return None
    if isinstance(classes, str):
        return tuple(c.strip() for c in classes.split(",") if c.strip())
    try:
        return tuple(map(str, classes))  # type: ignore[call-overload]
    except TypeError:
        notes.append(f"classes: {classes!r} is not a list of names: using all canonical emotions")
        return None


def _answer(
    text: str, low: str, allowed: frozenset[str], notes: list[str], decisive_only: bool = False
) -> tuple[Answer, str | None]:
    """The answer, and the cue that decided the text after any reasoning block (None: no such text)."""
    if not text.strip():
        notes.append("empty-response: empty response")
        return Answer(None, "no_answer", None, False, "none"), None
    split = split_think(text)
    region_cue = None
    if split.answer.strip():
        answer = extract_answer(split.answer, allowed, decisive_only, low[split.start : split.end])
        region_cue = answer.source
    else:
        answer = Answer(None, "no_answer", None, False, "none")
    if answer.status == "no_answer" and answer.label is None and split.think.strip():
        if not split.think_closed:
            notes.append("think-unclosed: the <think> block is never closed")
        inner = extract_explicit(split.think, allowed)
        if inner is not None:
            notes.append(
                "answer-in-reasoning: answer taken from inside the reasoning block (no answer followed it)"
            )
            return inner, region_cue
        if not split.answer.strip() and is_refusal(split.think.lower()):
            return Answer(None, "refusal", None, False, "refusal"), region_cue
    return answer, region_cue


def explicit_answer_cue(text: str | None) -> str | None:
    """The explicit cue that decides the label of a whole response (``answer_tag``, ``boxed``,
    ``json``, ``final_answer``, ``field``, ``unclosed_answer_tag``, ``last_line``, or
    ``answer_in_reasoning`` for a tag or ``\\boxed{}`` inside the reasoning block), or None when only
    the free-text reader can decide it. ``bench/output_identity.py --parser-change`` accepts a
    changed label only where this is None."""
    if not text:
        return None
    text, _ = cap(text)
    split = split_think(text)
    if split.answer.strip():
        cue = explicit_cue(split.answer)
        if cue is not None:
            return cue
    if split.think.strip() and extract_explicit(split.think, frozenset(CANONICAL_EMOTIONS)) is not None:
        return "answer_in_reasoning"
    return None


@lru_cache(maxsize=512)
def _cached_context(frame: object, image_size: object, input_size: object) -> FrameContext:
    return make_context(frame, image_size, input_size)


def _context(frame: object, image_size: object, input_size: object) -> FrameContext:
    try:
        return _cached_context(frame, image_size, input_size)
    except TypeError:  # unhashable sizes (lists)
        return make_context(frame, image_size, input_size)


def _evidence(
    text: str, low: str, frame: object, image_size: object, input_size: object, notes: list[str]
) -> tuple[list[Evidence], list[str]]:
    ext = extract_evidence(text, low)
    notes.extend(ext.notes)
    if not ext.evidence and not ext.aus:
        return [], []
    ctx = _context(frame, image_size, input_size)
    step_of: dict[int, int] = {}
    out: list[Evidence] = []
    append = out.append
    flags_seen = n_boxes = n_malformed = 0
    raws: list[Sequence[float]] = []  # the numbers of boxes read in the declared frame
    non_finite: list[str] = []
    isfinite = math.isfinite
    for _pos, key, au, nums, _kind, malformed in ext.evidence:
        step = step_of.get(key)
        if step is None:
            step = step_of[key] = len(step_of)
        if nums is None:
            append(_evidence_item(au=au, step=step))
            continue
        n_boxes += 1
        if malformed:
            n_malformed += 1
            raw = nums if nums and all(map(isfinite, nums)) else None
            append(_evidence_item(au=au, raw_box=raw, box_status="malformed", step=step))
            continue
        box, status, flags = convert(nums, ctx)
        flags_seen |= flags
        if status in ("ok", "outside"):
            raws.append(nums)
        raw = nums
        if status == "non_finite" and not all(map(isfinite, nums)):
            # JSON has no NaN/inf: keep the record round-trippable and put the numbers in a note
            non_finite.append(repr(nums))
            raw = None
        append(_evidence_item(au=au, box=box, raw_box=raw, box_status=status, step=step))
    if non_finite:
        shown = ", ".join(non_finite[:5]) + (" ..." if len(non_finite) > 5 else "")
        notes.append(
            f"box-non-finite: {len(non_finite)} box(es) with non-finite numbers (raw_box left empty): {shown}"
        )
    if n_boxes:
        if ctx.reason:
            notes.append(f"frame-unusable: {ctx.reason}")
        if n_malformed:
            notes.append(f"box-malformed: {n_malformed} box(es) not made of four numbers: kept without a box")
        if flags_seen & REVERSED:
            notes.append("box-reversed: reversed box corner(s) (x1 > x2 or y1 > y2) swapped")
        if flags_seen & CLIPPED:
            notes.append("box-clipped: box(es) clipped to the image")
        if flags_seen & FAR_OUTSIDE:
            notes.append("box-far-outside: box(es) reaching far beyond the image marked outside, not clipped")
        if flags_seen & OUT_OF_RANGE:
            notes.append(
                f"box-out-of-range: box values outside the {ctx.frame} range: is the declared frame right?"
            )
        notes.extend(frame_hints(ctx, raws, flags_seen))
        if "loc" in ext.kinds and ctx.frame != "loc1024-yxyx":
            notes.append(
                f"box-loc-tokens: <loc> tokens read in the declared frame {ctx.frame}, not as PaliGemma loc1024-yxyx"
            )
        if (
            ('"box_2d"' in text or "'box_2d'" in text)
            and "json" in ext.kinds
            and not ctx.frame.endswith("yxyx")
        ):
            notes.append(
                f"box-2d-order: Gemini-style box_2d read in the declared frame {ctx.frame} (x first)"
            )
    unknown = [a for a in ext.aus if a not in AU_CATALOGUE]
    if unknown:
        notes.append(f"au-unknown: AU codes not in the FACS catalogue: {', '.join(unknown)}")
    return out, ext.aus
