"""Drawing an AU reference on its image: face box, 68 landmarks, AU boxes with labels (PIL only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tag_bench.facs import au_code, au_sort_key
from tag_bench.schema import AUReference

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

_PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (170, 110, 40),
)


def default_aus(ref: AUReference) -> list[str]:
    """Active AUs; for a regions-only reference (no scores), every AU with a box."""
    if any(s.score is not None for s in ref.aus.values()):
        chosen = [au for au, s in ref.aus.items() if s.active and s.box is not None]
    else:
        chosen = [au for au, s in ref.aus.items() if s.box is not None]
    return sorted(chosen, key=au_sort_key)


def draw_reference(
    image: PILImage.Image,
    ref: AUReference,
    aus: Iterable[str] | None = None,
    *,
    landmarks: bool = True,
    per_side: bool = True,
) -> PILImage.Image:
    """A copy of ``image`` (RGB) with the reference drawn on it.

    ``aus`` selects AUs (any spelling ``au_code`` accepts); default: ``default_aus(ref)``. Per-side
    boxes are drawn when ``per_side``, else the merged box. Labels show the AU and its score.
    """
    from PIL import ImageDraw, ImageFont

    img = image.convert("RGB").copy()
    draw = ImageDraw.Draw(img)
    scale = max(1, round(max(img.size) / 400))
    try:
        font = ImageFont.load_default(size=10 * scale)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    if ref.status != "ok":
        draw.text(
            (4, 4), f"{ref.reference_id}: {ref.status} {ref.message or ''}", fill=(255, 0, 0), font=font
        )
        return img
    if ref.face_box:
        draw.rectangle(ref.face_box, outline=(200, 200, 200), width=scale)
    if landmarks and ref.landmarks:
        r = scale
        for x, y in ref.landmarks:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(0, 255, 0))
    selected = default_aus(ref) if aus is None else [c for c in (au_code(a) for a in aus) if c]
    for i, au in enumerate(selected):
        state = ref.aus.get(au)
        if state is None or state.box is None:
            continue
        colour = _PALETTE[i % len(_PALETTE)]
        width = 2 * scale if state.active else scale
        boxes = state.boxes if per_side and state.boxes else [state.box]
        for b in boxes:
            if b[2] > b[0] and b[3] > b[1]:
                draw.rectangle(b, outline=colour, width=width)
        label = au if state.score is None else f"{au} {state.score:.2f}"
        x, y = state.box[0], state.box[1]
        tb = draw.textbbox((x, y), label, font=font)
        ty = y - (tb[3] - tb[1]) - 2 if y - (tb[3] - tb[1]) - 2 >= 0 else state.box[3] + 1
        tb = draw.textbbox((x, ty), label, font=font)
        draw.rectangle(tb, fill=(0, 0, 0))
        draw.text((x, ty), label, fill=colour, font=font)
    return img
