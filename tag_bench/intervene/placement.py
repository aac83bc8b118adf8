"""Where each condition fills a sample's image: boxes to pixel masks, and the seeded placements.

Every placement is a pure function of the sample's id, its cited boxes, its AU reference (face box and
AU regions) and the image size, so the plan of a run is the same on every machine. A box covers the
pixels whose centres lie inside it (``[x1, x2) x [y1, y2)`` after rounding to the pixel grid), so areas
and overlaps are pixel counts, exactly as the fills see them.

- **cited**: the union of the cited boxes.
- **control**: one box per cited box, of its size, centred on the region of an AU the model did not cite
  (seeded order), where it overlaps the cited union by at most :data:`MAX_OVERLAP` of its own area (no
  overlap preferred); otherwise at a seeded random place inside the face with the same bound. The union
  is then grown or shrunk about the boxes' centres until its area is within :data:`AREA_TOLERANCE` of the
  cited union's.
- **habitual**: the cited boxes of another sample of the run (seeded choice among those with boxes),
  mapped from that sample's face box to this one's and area-matched the same way.
- **keep**: everything outside the cited union.
- **drop:AU**: the boxes cited for one AU only (``--per-au``: leave one cited AU out).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tag_bench.schema import Box, Placement

#: The most of a control box's pixels that may lie inside the cited union.
MAX_OVERLAP = 0.10
#: How far a control's (and a habitual's) filled area may be from the cited union's, relative.
AREA_TOLERANCE = 0.10
#: Random positions tried per control box before the sample's control counts as impossible.
RANDOM_TRIES = 200


def pixel_span(lo: float, hi: float, limit: int) -> tuple[int, int]:
    """The pixel indices [a, b) whose centres lie in [lo, hi), clipped to [0, limit)."""
    a = min(max(math.floor(lo + 0.5), 0), limit)
    b = min(max(math.floor(hi + 0.5), 0), limit)
    return a, max(a, b)


def box_mask(boxes: Sequence[Box], size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels covered by any of ``boxes`` (size is (W, H))."""
    w, h = size
    mask = np.zeros((h, w), dtype=bool)
    for b in boxes:
        x0, x1 = pixel_span(b[0], b[2], w)
        y0, y1 = pixel_span(b[1], b[3], h)
        mask[y0:y1, x0:x1] = True
    return mask


def placement_mask(p: Placement, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels a placement fills."""
    mask = box_mask(p.boxes, size)
    return ~mask if p.inverse else mask


def _box_pixels(b: Box, size: tuple[int, int]) -> int:
    x0, x1 = pixel_span(b[0], b[2], size[0])
    y0, y1 = pixel_span(b[1], b[3], size[1])
    return (x1 - x0) * (y1 - y0)


def _clamp_box(cx: float, cy: float, bw: float, bh: float, area: Box) -> Box:
    """A bw x bh box centred at (cx, cy), moved (not shrunk) to lie inside ``area`` where it fits."""
    ax0, ay0, ax1, ay1 = area
    bw, bh = min(bw, ax1 - ax0), min(bh, ay1 - ay0)
    x0 = min(max(cx - bw / 2, ax0), ax1 - bw)
    y0 = min(max(cy - bh / 2, ay0), ay1 - bh)
    return [x0, y0, x0 + bw, y0 + bh]


@dataclass(frozen=True)
class SampleBoxes:
    """What placing a sample's conditions needs: its cited boxes (with their AUs), face and image."""

    sample_id: str
    size: tuple[int, int]  # (W, H) of the presented image
    cited: list[tuple[str | None, Box]]  # (AU, box) of every usable cited box, in reply order
    cited_aus: frozenset[str]  # every AU the reply cites, with or without a box
    face: Box  # the reference's face box, or the whole image
    regions: Mapping[str, Box]  # reference region of each AU (empty without a usable reference)

    @property
    def boxes(self) -> list[Box]:
        return [b for _, b in self.cited]


def _rng(sample_id: str, what: str, version: int) -> random.Random:
    return random.Random(f"tag-bench-intervene:{version}:{what}:{sample_id}")


def _stats(
    boxes: Sequence[Box], inverse: bool, cited: np.ndarray, size: tuple[int, int]
) -> tuple[float, float]:
    """(filled pixels, share of them inside the cited union)."""
    mask = box_mask(boxes, size)
    if inverse:
        mask = ~mask
    filled = int(mask.sum())
    inside = int((mask & cited).sum())
    return float(filled), (inside / filled if filled else 0.0)


def cited_placement(s: SampleBoxes, cited: np.ndarray) -> Placement:
    area = float(cited.sum())
    return Placement(condition="cited", boxes=s.boxes, filled_area=area, cited_area=area, overlap=1.0)


def keep_placement(s: SampleBoxes, cited: np.ndarray) -> Placement:
    area = float(cited.sum())
    filled = float(cited.size - area)
    return Placement(condition="keep", boxes=s.boxes, inverse=True, filled_area=filled, cited_area=area)


def none_placement(s: SampleBoxes, cited: np.ndarray) -> Placement:
    return Placement(condition="none", cited_area=float(cited.sum()))


def drop_placements(s: SampleBoxes, cited: np.ndarray) -> list[Placement]:
    """``drop:AU`` for each AU cited with a box: its boxes alone are filled."""
    out = []
    area = float(cited.sum())
    for au in dict.fromkeys(au for au, _ in s.cited if au):
        boxes = [b for a, b in s.cited if a == au]
        filled, overlap = _stats(boxes, False, cited, s.size)
        out.append(Placement(condition=f"drop:{au}", boxes=boxes, filled_area=filled, cited_area=area,
                             overlap=overlap, source=au))  # fmt: skip
    return out


def _overlap_share(box: Box, cited: np.ndarray, size: tuple[int, int]) -> float:
    x0, x1 = pixel_span(box[0], box[2], size[0])
    y0, y1 = pixel_span(box[1], box[3], size[1])
    n = (x1 - x0) * (y1 - y0)
    return float(cited[y0:y1, x0:x1].sum()) / n if n else 1.0


def _match_area(boxes: list[Box], target: float, size: tuple[int, int]) -> list[Box]:
    """``boxes`` scaled about their centres (kept inside the image) until their union's pixel count is
    within :data:`AREA_TOLERANCE` of ``target``, or as close as a few steps get."""
    image: Box = [0.0, 0.0, float(size[0]), float(size[1])]
    for _ in range(12):
        area = float(box_mask(boxes, size).sum())
        if area <= 0 or abs(area - target) <= AREA_TOLERANCE * target * 0.5:
            break
        f = math.sqrt(target / area)
        boxes = [
            _clamp_box((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, (b[2] - b[0]) * f, (b[3] - b[1]) * f, image)
            for b in boxes
        ]
    return boxes


def _within_area(boxes: list[Box], target: float, size: tuple[int, int]) -> bool:
    area = float(box_mask(boxes, size).sum())
    return target > 0 and abs(area - target) <= AREA_TOLERANCE * target


def control_placement(s: SampleBoxes, cited: np.ndarray, version: int) -> Placement | str:
    """The control of a sample, or why it has none."""
    rng = _rng(s.sample_id, "control", version)
    target = float(cited.sum())
    candidates = sorted(au for au in s.regions if au not in s.cited_aus)
    rng.shuffle(candidates)
    placed: list[Box] = []
    used: list[str] = []
    methods: set[str] = set()
    taken = cited.copy()  # the cited union and the control boxes placed so far
    unique = list(dict.fromkeys(tuple(b) for b in s.boxes))
    for bw, bh in ((b[2] - b[0], b[3] - b[1]) for b in unique):
        best: tuple[float, Box, str | None] | None = None
        for au in candidates:
            if au in used:
                continue
            r = s.regions[au]
            box = _clamp_box((r[0] + r[2]) / 2, (r[1] + r[3]) / 2, bw, bh, [0, 0, *map(float, s.size)])
            share = _overlap_share(box, taken, s.size)
            if share <= MAX_OVERLAP and (best is None or share < best[0]):
                best = (share, box, au)
                if share == 0.0:
                    break
        if best is None:  # no un-cited region is free enough: a random place inside the face
            for _ in range(RANDOM_TRIES):
                fx0, fy0, fx1, fy1 = s.face
                cx = rng.uniform(fx0 + min(bw, fx1 - fx0) / 2, fx1 - min(bw, fx1 - fx0) / 2)
                cy = rng.uniform(fy0 + min(bh, fy1 - fy0) / 2, fy1 - min(bh, fy1 - fy0) / 2)
                box = _clamp_box(cx, cy, bw, bh, s.face)
                share = _overlap_share(box, taken, s.size)
                if share <= MAX_OVERLAP and (best is None or share < best[0]):
                    best = (share, box, None)
                    if share == 0.0:
                        break
        if best is None:
            return (
                f"no control placement: no box of the cited sizes fits in the face outside the cited boxes "
                f"(at most {MAX_OVERLAP:.0%} inside them)"
            )
        _, box, chosen = best
        placed.append(box)
        methods.add("reference" if chosen else "random")
        if chosen:
            used.append(chosen)
        taken |= box_mask([box], s.size)
    placed = _match_area(placed, target, s.size)
    filled, overlap = _stats(placed, False, cited, s.size)
    if not _within_area(placed, target, s.size) or overlap > MAX_OVERLAP:
        return (
            f"no control placement: the control's area ({filled:.0f} px) cannot match the cited union's "
            f"({target:.0f} px) within {AREA_TOLERANCE:.0%} with at most {MAX_OVERLAP:.0%} inside it"
        )
    return Placement(condition="control", boxes=placed, filled_area=filled, cited_area=target, overlap=overlap,
                     method="+".join(sorted(methods)), source=",".join(used) or None)  # fmt: skip


def map_boxes(boxes: Sequence[Box], src_face: Box, dst_face: Box) -> list[Box]:
    """Boxes in one face box's frame carried to another's (relative position and size kept)."""
    sw, sh = max(src_face[2] - src_face[0], 1e-9), max(src_face[3] - src_face[1], 1e-9)
    dw, dh = dst_face[2] - dst_face[0], dst_face[3] - dst_face[1]
    return [
        [
            dst_face[0] + (b[0] - src_face[0]) / sw * dw,
            dst_face[1] + (b[1] - src_face[1]) / sh * dh,
            dst_face[0] + (b[2] - src_face[0]) / sw * dw,
            dst_face[1] + (b[3] - src_face[1]) / sh * dh,
        ]
        for b in boxes
    ]


def habitual_placement(
    s: SampleBoxes, cited: np.ndarray, donors: Sequence[SampleBoxes], version: int
) -> Placement | str:
    """Another sample's cited boxes on this face (seeded choice of the donor), or why there is none."""
    others = [d for d in donors if d.sample_id != s.sample_id and d.cited]
    if not others:
        return "no habitual placement: no other sample of the run cites a usable box"
    rng = _rng(s.sample_id, "habitual", version)
    order = list(range(len(others)))
    rng.shuffle(order)
    target = float(cited.sum())
    image: Box = [0.0, 0.0, float(s.size[0]), float(s.size[1])]
    for i in order[:20]:
        donor = others[i]
        mapped = [
            _clamp_box((b[0] + b[2]) / 2, (b[1] + b[3]) / 2, b[2] - b[0], b[3] - b[1], image)
            for b in map_boxes(donor.boxes, donor.face, s.face)
        ]
        mapped = _match_area(mapped, target, s.size)
        if not _within_area(mapped, target, s.size):
            continue
        filled, overlap = _stats(mapped, False, cited, s.size)
        return Placement(condition="habitual", boxes=mapped, filled_area=filled, cited_area=target,
                         overlap=overlap, method="mapped", source=donor.sample_id)  # fmt: skip
    return (
        "no habitual placement: no other sample's boxes, mapped to this face, match the cited union's area "
        f"within {AREA_TOLERANCE:.0%}"
    )


def place_all(
    s: SampleBoxes, donors: Sequence[SampleBoxes], version: int
) -> tuple[list[Placement], str | None]:
    """Every condition's placement (the standard five, then ``drop:AU``), or the reason one is impossible."""
    cited = box_mask(s.boxes, s.size)
    if not cited.any():
        return [], "the cited boxes cover no pixel of the image"
    control = control_placement(s, cited, version)
    if isinstance(control, str):
        return [], control
    habitual = habitual_placement(s, cited, donors, version)
    if isinstance(habitual, str):
        return [], habitual
    placements = [
        none_placement(s, cited),
        cited_placement(s, cited),
        control,
        habitual,
        keep_placement(s, cited),
    ]
    return placements + drop_placements(s, cited), None


__all__ = [
    "AREA_TOLERANCE",
    "MAX_OVERLAP",
    "SampleBoxes",
    "box_mask",
    "map_boxes",
    "pixel_span",
    "place_all",
    "placement_mask",
]
