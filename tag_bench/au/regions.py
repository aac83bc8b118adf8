"""Where each AU lives: region boxes from the 68 iBUG landmarks (``docs/au-reference.md``, "Regions").

Two rules, named in every reference id:

``tight`` — JAA-Net's operational form of the EAC-Net AU centres. In the roll-corrected face
(eye centres level), with the ruler ``r = |x39 - x42|`` (inner eye corners), each AU has two centres
(landmark, vertical offset in units of r, + = down). Each centre gets an axis-aligned square of side
``0.406 * E`` (E = larger side of the roll-corrected box of {left-eye centre, right-eye centre, 30,
48, 54}; 0.406 = ``spatial_ratio`` 0.14 x ``box_enlarge`` 2.9 of the JAA-Net code). The merged box
is the union of the two squares.

=======  ===================================  ========  =====================================
AU       centres (left, right; 0-based)       offset    source
=======  ===================================  ========  =====================================
AU1      21, 22                               -1/2 r    JAA-Net
AU2      18, 25                               -1/3 r    JAA-Net
AU4      19, 24                               +1/3 r    JAA-Net
AU6      41, 46                               +1 r      JAA-Net
AU7      38, 43                               0         JAA-Net
AU9      32, 34                               -1/2 r    JAA-Net
AU10     61, 63                               0         JAA-Net
AU12     48, 54                               0         JAA-Net (AU14 and AU15 share it)
AU14     48, 54                               0         JAA-Net
AU15     48, 54                               0         JAA-Net
AU17     58, 56                               +1/2 r    JAA-Net
AU23     51 (upper lip), 57 (lower lip)       0         JAA-Net (AU24, AU25 share it)
AU24     51, 57                               0         JAA-Net
AU25     51, 57                               0         JAA-Net
AU26     58, 56                               +1/2 r    JAA-Net
AU5      mean(37,38), mean(43,44)             0         extension (upper lids)
AU20     centroid(4,5,48), centroid(11,12,54) 0         extension (risorius triangles)
AU45     mean(36..41), mean(42..47)           0         extension (eyes)
AU43     mean(36..41), mean(42..47)           0         extension, as AU45 (eyes closed)
AU11     mean(31,48), mean(35,54)             0         extension (nasolabial furrow, zyg. minor)
AU16     58, 56                               0         extension (lower lip, below AU12's map)
AU27     58, 56                               +1/2 r    extension, as AU26 (jaw)
AU28     51, 57                               0         extension, as AU23 (lips)
=======  ===================================  ========  =====================================

Every AU of ``tag_bench.facs.AU_CATALOGUE`` has a tight region. "left" and "right" are the *image's*
left and right (the subject's right and left); for the midline AUs 23/24/25/28 the two boxes are the
upper and the lower lip.

``loose`` — AU R-CNN (Ma et al. 2019; ``machanic/AU_R-CNN`` ``config.py``): the face is cut into 43
polygons built from the 68 points (``"17u"`` = point 17 moved up, ``"27uu"`` moved up twice as far,
``"3~29"`` = midpoint); an AU's region is the union of its polygons (``AU_ROI``). AU R-CNN moves
points up by 20 px (``uu``: 40 px) in BP4D frames, where r is about 125 px; here u = 0.16 r and
uu = 0.32 r, along the face's up direction. The union is split at the facial midline (nose 27-30,
33) into the left and right boxes; the merged box is the union's bounding box. Boxes are much larger
than ``tight`` ones; report both, the convention dominates box-AU IoU.

All boxes are in the pixels of the landmarks' image, clipped to it when its size is given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tag_bench.geometry import clip_box, union_box

Box = list[float]
REGION_RULES: tuple[str, ...] = ("tight", "loose")

#: JAA-Net box side as a fraction of E (spatial_ratio 0.14 x box_enlarge 2.9).
TIGHT_SIDE_PER_E = 0.14 * 2.9

# AU -> (left centre landmarks, right centre landmarks, vertical offset in r)
_TIGHT: dict[str, tuple[tuple[int, ...], tuple[int, ...], float]] = {
    "AU1": ((21,), (22,), -1 / 2),
    "AU2": ((18,), (25,), -1 / 3),
    "AU4": ((19,), (24,), 1 / 3),
    "AU5": ((37, 38), (43, 44), 0.0),
    "AU6": ((41,), (46,), 1.0),
    "AU7": ((38,), (43,), 0.0),
    "AU9": ((32,), (34,), -1 / 2),
    "AU10": ((61,), (63,), 0.0),
    "AU11": ((31, 48), (35, 54), 0.0),
    "AU12": ((48,), (54,), 0.0),
    "AU14": ((48,), (54,), 0.0),
    "AU15": ((48,), (54,), 0.0),
    "AU16": ((58,), (56,), 0.0),
    "AU17": ((58,), (56,), 1 / 2),
    "AU20": ((4, 5, 48), (11, 12, 54), 0.0),
    "AU23": ((51,), (57,), 0.0),
    "AU24": ((51,), (57,), 0.0),
    "AU25": ((51,), (57,), 0.0),
    "AU26": ((58,), (56,), 1 / 2),
    "AU27": ((58,), (56,), 1 / 2),
    "AU28": ((51,), (57,), 0.0),
    "AU43": (tuple(range(36, 42)), tuple(range(42, 48)), 0.0),
    "AU45": (tuple(range(36, 42)), tuple(range(42, 48)), 0.0),
}

#: AU R-CNN ``ROI_LANDMARK`` (dlib 0-based indices).
_ROI_LANDMARK: dict[int, tuple[str, ...]] = {
    1: ("17u", "19u", "19", "17"),
    2: ("19u", "21u", "21", "19"),
    3: ("21u", "27uu", "27", "21"),
    4: ("27uu", "22u", "27", "22"),
    5: ("22u", "24u", "24", "22"),
    6: ("24u", "26u", "26", "24"),
    7: ("1", "17", "36"),
    8: ("17", "19", "37", "36"),
    9: ("19", "38", "39", "21"),
    10: ("21", "27", "28", "39"),
    11: ("22", "27", "28", "42"),
    12: ("22", "42", "43", "24"),
    13: ("24", "44", "45", "26"),
    14: ("26", "16", "15", "45"),
    15: ("2", "41~2", "3~29", "3"),
    16: ("41", "2~41", "3~29", "39"),
    17: ("39", "3~29", "29", "28"),
    18: ("28", "29", "13~29", "42"),
    19: ("42", "46", "14~46", "13~29"),
    20: ("14~46", "14", "13", "13~29"),
    21: ("3", "3~29", "4~33", "4"),
    22: ("4~33", "3~29", "29", "33"),
    23: ("33", "29", "13~29", "12~33"),
    24: ("13~29", "13", "12", "12~33"),
    25: ("4", "4~33", "5~59", "5"),
    26: ("5~59", "4~33", "33", "59"),
    27: ("33", "55", "11~55", "12~33"),
    28: ("11~55", "12~33", "12", "11"),
    29: ("59", "58", "6~58", "5~59"),
    30: ("6~58", "58", "57", "8~57"),
    31: ("57", "8~57", "10~56", "56"),
    32: ("56", "10~56", "11~55", "55"),
    33: ("5", "5~59", "6~58", "6"),
    34: ("6", "6~58", "8~57", "8"),
    35: ("8~57", "10~56", "10", "8"),
    36: ("10~56", "10", "11", "11~55"),
    37: ("33", "55", "56", "57", "58", "59"),
    38: ("1", "2", "36", "37"),
    39: ("14", "15", "44", "45"),
    40: ("19", "37", "38"),
    41: ("24", "43", "44"),
    42: ("36", "37", "38", "39", "40", "41"),
    43: ("42", "43", "44", "45", "46", "47"),
}

_EYE_BROW = (1, 2, 8, 9, 5, 6, 12, 13, 40, 41, 42, 43)
_LOWER_FACE = (21, 22, 23, 24, 25, 26, 27, 28, 37)
_MOUTH_CHIN = (25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37)
_LIPS = (26, 27, 37, 29, 30, 31, 32)
_EYES = (8, 9, 12, 13, 40, 41, 42, 43)

#: AU R-CNN ``AU_ROI`` for the AUs of the FACS catalogue.
_AU_ROI: dict[str, tuple[int, ...]] = {
    "AU1": _EYE_BROW,
    "AU2": _EYE_BROW,
    "AU4": (1, 2, 3, 4, 8, 9, 5, 6, 12, 13, 40, 41),
    "AU5": _EYE_BROW,
    "AU6": (42, 43, 16, 17, 18, 19),
    "AU7": _EYE_BROW,
    "AU9": (10, 11, 17, 18, 22, 23),
    "AU10": _LOWER_FACE,
    "AU11": _LOWER_FACE,
    "AU12": _LOWER_FACE,
    "AU14": _LOWER_FACE,
    "AU15": _LOWER_FACE,
    "AU16": _MOUTH_CHIN,
    "AU17": (29, 30, 31, 32, 33, 34, 35, 36),
    "AU20": _MOUTH_CHIN,
    "AU23": _LIPS,
    "AU24": _LIPS,
    "AU25": _MOUTH_CHIN,
    "AU26": _MOUTH_CHIN,
    "AU27": _MOUTH_CHIN,
    "AU28": _LIPS,
    "AU43": _EYES,
    "AU45": _EYES,
}

LOOSE_U = 0.16  # AU R-CNN's "u" shift in units of r


def region_aus(rule: str) -> tuple[str, ...]:
    """The AUs a rule gives regions for."""
    if rule == "tight":
        return tuple(_TIGHT)
    if rule == "loose":
        return tuple(_AU_ROI)
    raise ValueError(f"unknown region rule {rule!r}; known: {', '.join(REGION_RULES)}")


class FaceFrame:
    """The roll-corrected frame of a face: origin between the eye centres, x along the eye line."""

    def __init__(self, lm: np.ndarray):
        lm = np.asarray(lm, dtype=np.float64)
        if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
            raise ValueError(f"expected 68 finite (x, y) landmarks, got shape {lm.shape}")
        left_eye, right_eye = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
        d = right_eye - left_eye
        self.roll = float(np.arctan2(d[1], d[0]))
        c, s = np.cos(self.roll), np.sin(self.roll)
        self._rot = np.array([[c, -s], [s, c]])  # aligned -> image
        self.origin = (left_eye + right_eye) / 2.0
        self.aligned = self.to_aligned(lm)
        self.eye_distance = float(np.hypot(*d))
        self.r = abs(self.aligned[39, 0] - self.aligned[42, 0])

    def to_aligned(self, pts: np.ndarray) -> np.ndarray:
        return (np.asarray(pts, dtype=np.float64) - self.origin) @ self._rot

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        return np.asarray(pts, dtype=np.float64) @ self._rot.T + self.origin

    def box_to_image(self, box: Sequence[float]) -> Box:
        """Axis-aligned image box around an aligned-frame box (its four corners rotated back)."""
        x1, y1, x2, y2 = box
        corners = self.to_image(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]))
        return [
            float(corners[:, 0].min()),
            float(corners[:, 1].min()),
            float(corners[:, 0].max()),
            float(corners[:, 1].max()),
        ]


def _tight(frame: FaceFrame) -> dict[str, tuple[Box, Box]]:
    a = frame.aligned
    eyes = np.array([a[36:42].mean(axis=0), a[42:48].mean(axis=0), a[30], a[48], a[54]])
    e = float(max(np.ptp(eyes[:, 0]), np.ptp(eyes[:, 1])))
    half = TIGHT_SIDE_PER_E * e / 2.0
    out: dict[str, tuple[Box, Box]] = {}
    for au, (left, right, offset) in _TIGHT.items():
        sides = []
        for idx in (left, right):
            centre = a[list(idx)].mean(axis=0) + np.array([0.0, offset * frame.r])
            cx, cy = frame.to_image(centre[None, :])[0]
            sides.append([float(cx - half), float(cy - half), float(cx + half), float(cy + half)])
        out[au] = (sides[0], sides[1])
    return out


def _roi_point(a: np.ndarray, spec: str, u: float) -> np.ndarray:
    if spec.endswith("uu"):
        return a[int(spec[:-2])] - np.array([0.0, 2 * u])
    if spec.endswith("u"):
        return a[int(spec[:-1])] - np.array([0.0, u])
    if "~" in spec:
        i, j = spec.split("~")
        return (a[int(i)] + a[int(j)]) / 2.0
    return a[int(spec)]


def _loose(frame: FaceFrame) -> dict[str, tuple[Box, Box]]:
    a = frame.aligned
    u = LOOSE_U * frame.r
    mid = float(a[[27, 28, 29, 30, 33], 0].mean())
    roi_boxes: dict[int, Box] = {}
    for roi, specs in _ROI_LANDMARK.items():
        pts = np.array([_roi_point(a, s, u) for s in specs])
        roi_boxes[roi] = [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()]
    out: dict[str, tuple[Box, Box]] = {}
    for au, rois in _AU_ROI.items():
        lefts = [[b[0], b[1], min(b[2], mid), b[3]] for b in (roi_boxes[r] for r in rois) if b[0] < mid]
        rights = [[max(b[0], mid), b[1], b[2], b[3]] for b in (roi_boxes[r] for r in rois) if b[2] > mid]
        left_box = union_box(lefts) or [mid, 0.0, mid, 0.0]
        right_box = union_box(rights) or [mid, 0.0, mid, 0.0]
        out[au] = (frame.box_to_image(left_box), frame.box_to_image(right_box))
    return out


def au_regions(
    landmarks68: np.ndarray | Sequence[Sequence[float]],
    rule: str = "tight",
    image_size: tuple[int, int] | None = None,
) -> dict[str, tuple[Box, Box]]:
    """Per-AU (left, right) boxes from 68 landmarks.

    ``image_size`` is (width, height); when given, boxes are clipped to the image (a side that falls
    entirely outside becomes a zero-area box on the border, so the pair keeps its order).
    """
    frame = FaceFrame(np.asarray(landmarks68, dtype=np.float64))
    if rule == "tight":
        raw = _tight(frame)
    elif rule == "loose":
        raw = _loose(frame)
    else:
        raise ValueError(f"unknown region rule {rule!r}; known: {', '.join(REGION_RULES)}")
    if image_size is None:
        return raw
    w, h = image_size
    return {au: (clip_box(left, w, h), clip_box(right, w, h)) for au, (left, right) in raw.items()}


def merged(boxes: Sequence[Box]) -> Box | None:
    """The union of the sides with a positive area, or None when none has."""
    return union_box([b for b in boxes if (b[2] - b[0]) > 0 and (b[3] - b[1]) > 0])
