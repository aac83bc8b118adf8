"""The shared shape of the detectors built on MediaPipe landmarks (blendshapes, geometric,
openface-static): one face per image, AU regions from its 68 landmarks, AU scores from the subclass."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tag_bench.au.base import BaseAUDetector, box_list, build_states, point_list
from tag_bench.au.regions import REGION_RULES, au_regions

if TYPE_CHECKING:
    from tag_bench.au.landmarks import FaceLandmarks, MediaPipeLandmarker

#: (scores, thresholds, sources): one value for every AU or one per AU, as ``build_states`` takes them.
AUScores = tuple[
    Mapping[str, float | None], float | Mapping[str, float] | None, str | Mapping[str, str] | None
]


def check_regions(regions: str) -> None:
    if regions not in REGION_RULES:
        raise ValueError(f"regions must be one of {REGION_RULES}, got {regions!r}")


class LandmarkAUDetector(BaseAUDetector):
    """Locates one face with ``self.landmarker`` (set by the subclass), boxes the AU regions of its 68
    landmarks by ``region_rule`` and scores the AUs with :meth:`score_face`."""

    landmarker: MediaPipeLandmarker

    @property
    def params(self) -> dict[str, Any]:
        return {"regions": self.region_rule, **self.landmarker.params}

    @abstractmethod
    def score_face(self, rgb: np.ndarray, face: FaceLandmarks) -> AUScores:
        """The AU scores of the located face (with their thresholds and sources)."""

    def _detect(self, rgb: np.ndarray) -> dict[str, Any]:
        face, n = self.landmarker.locate(rgb)
        if face is None:
            return {"status": "no_face", "message": "no face found"}
        scores, thresholds, sources = self.score_face(rgb, face)
        size = (rgb.shape[1], rgb.shape[0])
        regions = au_regions(face.landmarks68, self.region_rule, image_size=size)
        message = None
        if n > 1:
            message = f"{n} faces found; kept one by face_policy={self.landmarker.face_policy!r}"
        return {
            "status": "ok",
            "message": message,
            "face_box": box_list(face.box),
            "landmarks": point_list(face.landmarks68),
            "aus": build_states(regions, scores, thresholds, sources),
        }
