"""Box arithmetic in continuous pixel coordinates (``[x1, y1, x2, y2]``, x right, y down)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Box = list[float]


def area(box: Sequence[float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes; 0.0 when either is empty."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def center(box: Sequence[float]) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)


def contains_point(box: Sequence[float], x: float, y: float) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def clip_box(box: Sequence[float], width: float, height: float) -> Box:
    """Clip to the image rectangle ``[0, width] x [0, height]``."""
    return [
        min(max(float(box[0]), 0.0), float(width)),
        min(max(float(box[1]), 0.0), float(height)),
        min(max(float(box[2]), 0.0), float(width)),
        min(max(float(box[3]), 0.0), float(height)),
    ]


def union_box(boxes: Iterable[Sequence[float]]) -> Box | None:
    """Smallest box containing every box, or None for no boxes."""
    bs = [b for b in boxes if b is not None]
    if not bs:
        return None
    return [min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs)]


def inside(inner: Sequence[float], outer: Sequence[float], tol: float = 0.0) -> bool:
    """Whether ``inner`` lies within ``outer`` (with a tolerance in pixels)."""
    return (
        inner[0] >= outer[0] - tol
        and inner[1] >= outer[1] - tol
        and inner[2] <= outer[2] + tol
        and inner[3] <= outer[3] + tol
    )
