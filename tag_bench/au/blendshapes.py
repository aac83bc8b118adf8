"""``mediapipe-blendshapes``: the offline default AU reference, learned but not FACS-trained.

MediaPipe's FaceLandmarker (the ``face_landmarker.task`` bundle shipped with tag-bench,
``tag_bench.au.bundle``) predicts 52 ARKit-style blendshape coefficients in [0, 1] from its 478-point
mesh. Each AU below is read from the blendshape channel(s) that move the same muscles (py-feat 2.1.5
``BLENDSHAPE_SEEDS``); a left/right pair scores the larger side, since FACS codes an AU that acts on
one side only. The mesh comes from the crop tag-bench's full-range detector finds
(``landmarks.MediaPipeLandmarker(mesh_model="task")``), and the region boxes from that same mesh, so
activations and regions always describe one face.

Every scored AU records its ``source`` and ``threshold``; the reference id names the mapping version
and the bundle's hash (``mediapipe-blendshapes-tight@1-64184e22``), and ``model_sha256`` holds the
full hash. How each threshold was chosen is in ``docs/au-reference.md`` ("Thresholds"): 0.5 (half the
channel's range) unless the channel's response to the clearest packaged example of its AU stays
near or below 0.5; those four are placed between that response and the highest score of the faces
not showing the AU.

Dead channels: ``cheekSquint*`` (AU6) and ``noseSneer*`` (AU9) are exactly 0.0 on every packaged
face, ``eyeWide*`` (AU5) at most 0.05, even on the surprise photo's wide-open eyes (upstream
google-ai-edge/mediapipe #4450, #4436). No geometric measurement of the same mesh separated those
AUs on the packaged faces either, so AU5, AU6 and AU9 are unjudged here (``score=None``: a region
but no decision), like AU11 and AU23, which no channel covers. AU25 (lips part) and AU27 (mouth
stretch) are the geometric lip-gap measurement of the same mesh (``source: geometric``), which has no
person-specific bias.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tag_bench._optional import require
from tag_bench.au.bundle import BUNDLE_SHA256
from tag_bench.au.geometric import measurements, scores_from_measurements
from tag_bench.au.landmark_detector import AUScores, LandmarkAUDetector, check_regions
from tag_bench.au.landmarks import FaceLandmarks, MediaPipeLandmarker

#: Bump when a channel, a threshold or the score rule changes: it is part of the reference id.
MAPPING_VERSION = "1"


@dataclass(frozen=True)
class Channel:
    """Blendshape categories that score one AU (the larger of a left/right pair) and its threshold."""

    names: tuple[str, ...]
    threshold: float

    @property
    def source(self) -> str:
        """``blendshape:<name>``; a pair is named by its common stem (``mouthSmileLeft/Right`` ->
        ``mouthSmile``, ``mouthRollLower/Upper`` -> ``mouthRoll``)."""
        stem = self.names[0]
        for other in self.names[1:]:
            stem = stem[
                : next((i for i, (x, y) in enumerate(zip(stem, other, strict=False)) if x != y), len(stem))
            ]
        return f"blendshape:{stem}"


def _pair(stem: str, threshold: float) -> Channel:
    return Channel((f"{stem}Left", f"{stem}Right"), threshold)


#: AU -> channel. Thresholds: docs/au-reference.md, "Thresholds" (measured on the packaged faces).
CHANNELS: dict[str, Channel] = {
    "AU1": Channel(("browInnerUp",), 0.30),
    "AU2": _pair("browOuterUp", 0.30),
    "AU4": _pair("browDown", 0.30),
    "AU7": _pair("eyeSquint", 0.50),
    "AU10": _pair("mouthUpperUp", 0.50),
    "AU12": _pair("mouthSmile", 0.50),
    "AU14": _pair("mouthDimple", 0.50),
    "AU15": _pair("mouthFrown", 0.50),
    "AU16": _pair("mouthLowerDown", 0.50),
    "AU17": Channel(("mouthShrugLower",), 0.50),
    "AU20": _pair("mouthStretch", 0.50),
    "AU24": _pair("mouthPress", 0.50),
    "AU26": Channel(("jawOpen",), 0.30),
    "AU28": Channel(("mouthRollLower", "mouthRollUpper"), 0.50),
    "AU43": _pair("eyeBlink", 0.50),
    "AU45": _pair("eyeBlink", 0.50),
}

#: AUs scored by the geometric measurement of the same mesh (``tag_bench.au.geometric``).
GEOMETRIC: tuple[str, ...] = ("AU25", "AU27")
GEOMETRIC_THRESHOLD = 0.5

#: Channels that never respond (see the module docstring): their AUs stay unjudged.
DEAD_CHANNELS: dict[str, tuple[str, ...]] = {
    "AU5": ("eyeWideLeft", "eyeWideRight"),
    "AU6": ("cheekSquintLeft", "cheekSquintRight"),
    "AU9": ("noseSneerLeft", "noseSneerRight"),
}


def blendshape_scores(shapes: dict[str, float]) -> dict[str, float]:
    """AU scores from the 52 blendshape coefficients (the mapped AUs only)."""
    return {au: max(float(shapes.get(n, 0.0)) for n in ch.names) for au, ch in CHANNELS.items()}


def face_scores(face: FaceLandmarks) -> tuple[dict[str, float | None], dict[str, float], dict[str, str]]:
    """(scores, thresholds, sources) of one face: blendshape AUs, geometric AUs, unjudged AUs (None)."""
    if face.blendshapes is None:
        raise ValueError("the mesh model gave no blendshapes")
    scores: dict[str, float | None] = dict(blendshape_scores(face.blendshapes))
    thresholds = {au: ch.threshold for au, ch in CHANNELS.items()}
    sources = {au: ch.source for au, ch in CHANNELS.items()}
    geometric = scores_from_measurements(measurements(face.mesh, face.landmarks68))
    for au in GEOMETRIC:
        scores[au] = geometric[au]
        thresholds[au] = GEOMETRIC_THRESHOLD
        sources[au] = "geometric"
    return scores, thresholds, sources


class MediaPipeBlendshapesDetector(LandmarkAUDetector):
    """MediaPipe FaceLandmarker blendshapes -> AU scores, regions from the same mesh, fully offline.

    Parameters: ``regions`` (``tight`` / ``loose``), ``face_policy`` (``largest`` / ``center`` /
    ``single``), ``margin`` (crop margin around a detection, default 0.5), ``min_detection_confidence``,
    ``min_mesh_confidence``, ``small_side`` / ``small_pad`` (padding of small inputs), ``jaw``.
    """

    name = "mediapipe-blendshapes"
    threshold = None  # per AU: see CHANNELS

    def __init__(self, *, regions: str = "tight", **landmarker_params: Any):
        check_regions(regions)
        require("mediapipe", "landmarks", "The mediapipe-blendshapes AU detector")
        self.region_rule = regions
        self.landmarker = MediaPipeLandmarker(mesh_model="task", **landmarker_params)
        self.model_sha256 = BUNDLE_SHA256
        self.version = f"{MAPPING_VERSION}-{BUNDLE_SHA256[:8]}"

    def score_face(self, rgb: np.ndarray, face: FaceLandmarks) -> AUScores:
        scores, thresholds, sources = face_scores(face)
        for au in DEAD_CHANNELS:
            scores.setdefault(au, None)
        return scores, thresholds, sources
