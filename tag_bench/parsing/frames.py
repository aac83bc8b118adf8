"""Coordinate frames: from a model's own box convention to pixels of the presented image.

The frame is always the adapter's declared one (``schema.BOX_FRAMES``); it is never guessed from the
numbers, and never chosen by trying several against the ground truth. Values beyond a frame's range
are reported in a note (a likely frame mis-declaration), not silently reinterpreted.

| frame | written | to presented pixels (image ``W×H``) |
|---|---|---|
| ``pixel`` | x1,y1,x2,y2 pixels of the presented image | as is |
| ``pixel-resized`` | x1,y1,x2,y2 pixels of the model input ``w×h`` | ``x·W/w``, ``y·H/h`` (needs input_size) |
| ``norm1000`` | x1,y1,x2,y2 in 0–1000 | ``x/1000·W``, ``y/1000·H`` |
| ``norm1000-yxyx`` | ymin,xmin,ymax,xmax in 0–1000 (Gemini) | swap to x,y, then as norm1000 |
| ``norm1`` | x1,y1,x2,y2 in 0–1 | ``x·W``, ``y·H`` |
| ``loc1024-yxyx`` | ymin,xmin,ymax,xmax tokens 0–1023 (PaliGemma) | swap, ``v/1024·W`` or ``·H`` |

After conversion a reversed box (x1 > x2 or y1 > y2) is swapped (a model slip, noted); a zero-area box
is ``degenerate``; a box with no overlap with the image is ``outside``; any other box is clipped to
the image. Non-finite numbers give ``non_finite``. Each of these leaves ``box`` None except the swap
and the clip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from math import isfinite
from typing import Any, cast

from tag_bench.schema import BOX_FRAMES

REVERSED = 1
CLIPPED = 2
OUT_OF_RANGE = 4
OUTSIDE = 8  # a box entirely outside the image
FAR_OUTSIDE = 16  # a box reaching more than the image's own size beyond it (1e24): not clipped

#: Each normalised frame's full scale: the divisor to image fractions and the largest valid raw value.
_SCALE: dict[str, float] = {"norm1000": 1000.0, "norm1000-yxyx": 1000.0, "norm1": 1.0, "loc1024-yxyx": 1024.0}


@dataclass(frozen=True)
class FrameContext:
    """Everything needed to convert one response's boxes."""

    frame: str
    usable: bool
    reason: str | None  # why boxes cannot be converted (usable False) or a caveat
    sx: float = 1.0
    sy: float = 1.0
    yx: bool = False
    width: float | None = None  # presented image; None = unknown (no clipping)
    height: float | None = None
    raw_max_x: float | None = None  # beyond this a raw x value is out of the frame's range
    raw_max_y: float | None = None


def valid_size(size: object) -> tuple[float, float] | None:
    """``(w, h)`` as positive finite floats, or None when ``size`` is not one."""
    try:
        raw_w, raw_h = cast("tuple[Any, Any]", size)
        w, h = float(raw_w), float(raw_h)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        return None
    return w, h


def make_context(frame: object, image_size: object, input_size: object = None) -> FrameContext:
    """Validate the frame and sizes once per response."""
    frame_s = str(frame)
    if frame not in BOX_FRAMES:
        return FrameContext(
            frame_s,
            False,
            f"unknown box frame {frame!r} (valid: {', '.join(BOX_FRAMES)}): boxes not converted",
        )
    size = valid_size(image_size)
    size_note = None
    if size is None:
        size_note = f"image_size {image_size!r} is not a (width, height) pair"
    if frame == "pixel":
        if size is None:
            return FrameContext(frame_s, True, f"{size_note}: pixel boxes kept as written, not clipped")
        return FrameContext(frame_s, True, None, width=size[0], height=size[1])
    if size is None:
        return FrameContext(frame_s, False, f"{size_note}: {frame} boxes cannot be converted to pixels")
    w, h = size
    if frame == "pixel-resized":
        inp = valid_size(input_size)
        if inp is None:
            return FrameContext(
                frame_s,
                False,
                f"pixel-resized boxes need the model's input_size (got {input_size!r}): boxes not converted",
            )
        return FrameContext(
            frame_s, True, None, w / inp[0], h / inp[1], False, w, h, raw_max_x=inp[0], raw_max_y=inp[1]
        )
    full = _SCALE[frame]
    return FrameContext(frame_s, True, None, w / full, h / full, frame.endswith("yxyx"), w, h, full, full)


def convert(raw: Sequence[float], ctx: FrameContext) -> tuple[list[float] | None, str, int]:
    """(box in presented pixels or None, box_status, flags) for four raw numbers as written."""
    a, b, c, d = raw
    if not isfinite(a + b + c + d) and not (isfinite(a) and isfinite(b) and isfinite(c) and isfinite(d)):
        return None, "non_finite", 0  # (a finite sum proves every term finite; an overflow does not)
    if not ctx.usable:
        return None, "unconvertible", 0
    if ctx.yx:
        a, b, c, d = b, a, d, c
    flags = 0
    if ctx.raw_max_x is not None and (
        min(a, b, c, d) < 0 or max(a, c) > ctx.raw_max_x or max(b, d) > ctx.raw_max_y  # type: ignore[operator]
    ):
        flags |= OUT_OF_RANGE
    x1, y1, x2, y2 = a * ctx.sx, b * ctx.sy, c * ctx.sx, d * ctx.sy
    if not isfinite(x1 + y1 + x2 + y2) and not (
        isfinite(x1) and isfinite(y1) and isfinite(x2) and isfinite(y2)
    ):
        return None, "non_finite", flags
    if x1 > x2:
        x1, x2 = x2, x1
        flags |= REVERSED
    if y1 > y2:
        y1, y2 = y2, y1
        flags |= REVERSED
    if x2 - x1 <= 0.0 or y2 - y1 <= 0.0:
        return None, "degenerate", flags
    w, h = ctx.width, ctx.height
    if w is not None and h is not None:
        if x1 < -w or y1 < -h or x2 > 2 * w or y2 > 2 * h:
            return None, "outside", flags | OUTSIDE | FAR_OUTSIDE
        if x2 <= 0.0 or y2 <= 0.0 or x1 >= w or y1 >= h:
            return None, "outside", flags | OUTSIDE
        if x1 < 0.0 or y1 < 0.0 or x2 > w or y2 > h:
            x1, y1, x2, y2 = max(x1, 0.0), max(y1, 0.0), min(x2, w), min(y2, h)
            flags |= CLIPPED
    return [x1, y1, x2, y2], "ok", flags


def frame_hints(ctx: FrameContext, raws: Sequence[Sequence[float]], flags: int) -> list[str]:
    """Notes when the boxes of one response look like another frame than the declared one.

    Only a hint for a person: tag-bench never changes the frame (that would be grading by guessing).
    """
    hints = []
    if ctx.frame in ("norm1000", "norm1000-yxyx") and raws and all(0.0 <= v <= 1.0 for r in raws for v in r):
        hints.append(
            f"frame-hint: every box value is between 0 and 1 although the frame is {ctx.frame}: "
            "are these 0-1 (norm1) boxes?"
        )
    if ctx.frame == "pixel" and ctx.width is not None and flags & (CLIPPED | OUTSIDE):
        hints.append(
            f"frame-hint: pixel box(es) beyond the {ctx.width:g}x{ctx.height:g} image: was the answer written in "
            "another frame (the model's resized input, 0-1000)?"
        )
    return hints
