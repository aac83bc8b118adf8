"""Canonical traces: what the judge reads of a response, and the image it sees.

A candidate's raw response speaks its model's box frame (``norm1000``, ``<loc…>`` tokens, Qwen2-VL's
``<|box_start|>(x1,y1),(x2,y2)<|box_end|>``, ...) and carries model-specific special tokens. Shown as
they are, they would tell the judge which model wrote them and make boxes of different models
incomparable. So each box the parser finds (:func:`tag_bench.parsing.evidence.extract_evidence`) is
converted with the parser's own frame conversion (:func:`tag_bench.parsing.frames.convert`) to pixels of
the presented image, scaled to the image the judge sees, and written in one syntax, ``[A1: x1, y1, x2,
y2]``, numbered per response (``A1, A2, ...`` for the response shown first, ``B1, ...`` for the second);
the same boxes are drawn, labelled, on the judge's image (red for A, blue for B). A box that cannot be
converted is written ``[unusable box]`` and not drawn. Special tokens (``<|…|>``, ``<ref>``, ``<box>``,
``<loc…>``, ``<bbox>``) are stripped; the words around them stay.

The judge's image is the presented image enlarged (never reduced) so that its longer side is at least
``IMAGE_MIN_SIDE`` pixels: labels stay legible on 100×100 aligned faces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tag_bench._hashing import sha256_hex
from tag_bench.parsing.evidence import extract_evidence
from tag_bench.parsing.frames import convert, make_context
from tag_bench.parsing.text import lower_same_length

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

    from tag_bench.schema import Generation

#: The judge's image is enlarged to at least this longer side (pixels).
IMAGE_MIN_SIDE = 512
#: Bumped whenever the drawn image changes for the same inputs (part of the judge cache key).
DRAW_VERSION = 1
COLOURS = {"A": (230, 25, 75), "B": (0, 110, 220)}

_N = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)"
#: The whole written box, from the position the parser reports, per box syntax (on lower-cased text).
_SPANS: dict[str, re.Pattern[str]] = {
    "bbox": re.compile(r"<bbox>[^<>]{0,400}</bbox>"),
    "internvl": re.compile(r"<box>[^<>]{0,800}</box>"),
    "qwen2": re.compile(r"<\|box_start\|>[^<>]{0,400}<\|box_end\|>"),
    "loc": re.compile(r"<loc\d{1,4}>\s{0,3}<loc\d{1,4}>\s{0,3}<loc\d{1,4}>\s{0,3}<loc\d{1,4}>"),
    "list": re.compile(rf"\[\s*(?:{_N})\s*,\s*(?:{_N})\s*,\s*(?:{_N})\s*,\s*(?:{_N})\s*\]"),
}
_JSON_KEY = re.compile(r"b(?:box_2d|ox_2d|box|ox|ounding_box)[\"'][ \t]*:[ \t]*")
_JSON_VALUE = re.compile(r"\[\s*(?:\[[^\[\]]{0,200}\]\s*(?:,\s*)?){1,16}\]|\[[^\[\]]{0,200}\]")
#: Model-specific special tokens: removed from what the judge reads (their content stays).
_SPECIAL = re.compile(
    r"<\|[a-z0-9_]{1,40}\|>|</?(?:ref|box|bbox|quad|point)>|<(?:loc|seg)\d{1,4}>|</?s>|<(?:start|end)_of_turn>",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Canonical:
    """A response as the judge reads it, before it is given a position: text segments around box slots,
    and each slot's boxes in presented-image pixels (None: a box that cannot be converted)."""

    parts: tuple[str, ...]  # len(slots) + 1 text segments
    slots: tuple[tuple[tuple[float, float, float, float] | None, ...], ...]

    def boxes(self) -> list[tuple[float, float, float, float]]:
        """The usable boxes, in the order they are numbered."""
        return [b for slot in self.slots for b in slot if b is not None]

    def render(self, letter: str, scale: float = 1.0) -> str:
        """The trace with boxes written ``[A1: x1, y1, x2, y2]`` in pixels of the image scaled by ``scale``."""
        out = [self.parts[0]]
        k = 0
        for slot, after in zip(self.slots, self.parts[1:], strict=True):
            written = []
            for box in slot:
                if box is None:
                    written.append("[unusable box]")
                    continue
                k += 1
                x1, y1, x2, y2 = (round(v * scale) for v in box)
                written.append(f"[{letter}{k}: {x1}, {y1}, {x2}, {y2}]")
            out.append(", ".join(written))
            out.append(after)
        return "".join(out).strip()


def strip_special(text: str) -> str:
    """``text`` without model-specific special tokens, blank runs they leave collapsed."""
    return re.sub(r"[ \t]{2,}", " ", _SPECIAL.sub(" ", text))


def canonical_trace(generation: Generation, frame: str | None) -> Canonical | None:
    """The canonical form of a generation's response; None when it has none (failed or empty call)."""
    text = generation.text
    if generation.status != "ok" or not text or not text.strip():
        return None
    low = lower_same_length(text)
    ctx = make_context(generation.frame or frame, generation.image_size, generation.input_size)
    by_pos: dict[int, tuple[str, list[list[float] | None]]] = {}
    for item in extract_evidence(text, low).evidence:
        if item.nums is None:
            continue
        kind, seen = by_pos.setdefault(item.pos, (item.kind, []))
        nums = None if item.malformed or len(item.nums) != 4 else list(item.nums)
        if nums is None or nums not in seen:
            seen.append(nums)
    parts: list[str] = []
    slots: list[tuple[tuple[float, float, float, float] | None, ...]] = []
    cursor = 0
    for pos in sorted(by_pos):
        kind, numbers = by_pos[pos]
        span = _span(low, pos, kind)
        if span is None or span[0] < cursor:
            continue  # a syntax this reader does not know how to cut out: left as text
        start, end = span
        boxes = []
        for nums in numbers:
            box = None
            if nums is not None:
                converted, status, _flags = convert(nums, ctx)
                if status == "ok" and converted is not None:
                    box = (converted[0], converted[1], converted[2], converted[3])
            boxes.append(box)
        parts.append(strip_special(text[cursor:start]))
        slots.append(tuple(boxes))
        cursor = end
    parts.append(strip_special(text[cursor:]))
    return Canonical(tuple(parts), tuple(slots))


def _span(low: str, pos: int, kind: str) -> tuple[int, int] | None:
    """Where the box written at ``pos`` starts and ends (the value only, for a JSON key)."""
    if kind == "json":
        key = _JSON_KEY.match(low, pos)
        if key is None:
            return None
        value = _JSON_VALUE.match(low, key.end())
        return None if value is None else value.span()
    pattern = _SPANS.get(kind)
    m = pattern.match(low, pos) if pattern is not None else None
    return None if m is None else m.span()


# --------------------------------------------------------------------------------------------------
# The judge's image


def judge_scale(size: tuple[int, int], min_side: int = IMAGE_MIN_SIDE) -> float:
    """How much the presented image is enlarged for the judge (1: not at all)."""
    longer = max(size)
    return 1.0 if longer >= min_side else min_side / longer


def judge_size(size: tuple[int, int], min_side: int = IMAGE_MIN_SIDE) -> tuple[int, int]:
    s = judge_scale(size, min_side)
    return round(size[0] * s), round(size[1] * s)


def image_key(image_sha256: str, size: tuple[int, int], a: Canonical, b: Canonical, scale: float) -> str:
    """What the judge's image shows, as a hash: the presented image, its size, and the boxes drawn (the
    image itself is drawn only when a judge call is made)."""
    blob = json.dumps(
        {
            "image": image_sha256,
            "size": list(size),
            "scale": scale,
            "A": [[round(v * scale) for v in box] for box in a.boxes()],
            "B": [[round(v * scale) for v in box] for box in b.boxes()],
            "draw": DRAW_VERSION,
        },
        sort_keys=True,
    )
    return sha256_hex(blob)


def draw_judge_image(image: PILImage.Image, a: Canonical, b: Canonical, scale: float) -> PILImage.Image:
    """The presented image enlarged by ``scale`` with A's boxes (red, A1...) and B's (blue, B1...) drawn."""
    from PIL import Image, ImageDraw, ImageFont

    img = image.convert("RGB")
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC)
    else:
        img = img.copy()
    draw = ImageDraw.Draw(img)
    width = max(2, round(max(img.size) / 256))
    try:
        font = ImageFont.load_default(size=max(12, round(max(img.size) / 32)))
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for letter, trace in (("A", a), ("B", b)):
        colour = COLOURS[letter]
        for k, box in enumerate(trace.boxes(), start=1):
            x1, y1, x2, y2 = (round(v * scale) for v in box)
            draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
            label = f"{letter}{k}"
            left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
            tw, th = right - left, bottom - top
            tx = min(max(0, x1), max(0, img.width - tw - 4))
            ty = y1 - th - 4 if y1 - th - 4 >= 0 else min(y2, img.height - th - 4)
            draw.rectangle((tx, ty, tx + tw + 4, ty + th + 4), fill=colour)
            draw.text((tx + 2 - left, ty + 2 - top), label, fill=(255, 255, 255), font=font)
    return img
