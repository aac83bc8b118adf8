"""``openface-static``: OpenFace 2.x's static AU models on tag-bench's 68 landmarks (opt-in).

FACS-trained, user-supplied: OpenFace's linear SVR (intensity 0-5) and SVM (presence) models, read
from the user's copy of OpenFace's ``AU_predictors`` folder (``openface-static:DIR``, or
``$TAG_BENCH_OPENFACE_MODELS``; formats in ``files``). tag-bench ships none of those files
(academic, non-commercial licence). Per image, as OpenFace's ``FaceAnalyser::PredictStaticAUs``:

1. the 68 iBUG landmarks tag-bench derives from MediaPipe's mesh (``landmarks``);
2. the PDM fit of those landmarks (``pdm.PDM.fit``, OpenFace's ``CalcParams``);
3. the face aligned to 112x112 px (``AlignFaceMask``): a similarity transform of 24 rigid landmarks
   onto the PDM mean shape scaled by 0.7, centred on the fit's translation, then masked by the
   triangulation of the warped landmarks with the brows and jaw corners raised 30 px;
4. dlib's FHOG of the masked face, 8-px cells (``fhog``): 12 x 12 x 31 = 4,464 values;
5. the geometry: the PDM's non-rigid shape ``V p`` (3 x 68 values) then ``p`` itself (34), appended
   after the HOG (4,702 features);
6. each model: ``(features - means) . weights + bias``; intensities clipped to [0, 5].

What differs from the OpenFace binary: landmarks come from MediaPipe (mesh points mapped to the 68
iBUG positions), not from OpenFace's CLNF tracker, so the fit, the alignment and every feature move
with them (the jaw most); only static models run, with no per-person running median of HOG and
geometry (OpenFace's dynamic models subtract one and need a video of the person), so a person's
resting face can carry non-zero intensities; OpenFace's float32 arithmetic is float64 here.

Per AU: ``score`` = SVR intensity / 5, ``active`` = intensity >= ``min_intensity`` (default 1.5,
half-way between FACS intensities A (trace, 1) and B (slight, 2)), ``source: openface-static``. An
AU with only a presence (SVM) model scores 1.0 or 0.0 with threshold 0.5 (``source:
openface-static:presence``). The reference id names the pipeline version and a hash of every model
file read (``openface-static-tight@1-<hash8>``); ``model_sha256`` holds the full hash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tag_bench._optional import require
from tag_bench.au.base import AUDetectorError
from tag_bench.au.landmark_detector import AUScores, LandmarkAUDetector, check_regions
from tag_bench.au.landmarks import FaceLandmarks, MediaPipeLandmarker
from tag_bench.au.openface.fhog import fhog, fhog_shape
from tag_bench.au.openface.files import WHERE, LinearModel, ModelFolder, read_folder
from tag_bench.au.openface.pdm import PDM, PDMFit

ENV_MODELS = "TAG_BENCH_OPENFACE_MODELS"
#: Bump when the pipeline's arithmetic changes: it is part of the reference id.
PIPELINE_VERSION = "1"
SOURCE = "openface-static"
PRESENCE_SOURCE = "openface-static:presence"
MAX_INTENSITY = 5.0
DEFAULT_MIN_INTENSITY = 1.5

#: OpenFace's alignment: output side, similarity scale, HOG cell size.
ALIGNED_SIZE = 112
SIM_SCALE = 0.7
CELL_SIZE = 8
#: Landmarks that move little with expression (``extract_rigid_points``): jaw sides, nose, eye corners.
RIGID_POINTS = (1, 2, 3, 4, 12, 13, 14, 15, 27, 28, 29, 31, 32, 33, 34, 35, 36, 39, 40, 41, 42, 45, 46, 47)
#: Landmarks raised by 30 px (at scale 0.7) before masking, so the mask covers the forehead above
#: the brows: jaw corners 0 and 16 and the brows 17-26.
RAISED_POINTS = (0, 16, *range(17, 27))


def align_shapes_with_scale(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x2 scaled rotation ``A`` with ``A @ (src_i - mean) ~ dst_i - mean`` (Kabsch with scale)."""
    src_c = src - src.mean(axis=0)
    dst_c = dst - dst.mean(axis=0)
    s_src = np.sqrt(np.sum(src_c**2) / len(src))
    s_dst = np.sqrt(np.sum(dst_c**2) / len(dst))
    u, _, vt = np.linalg.svd((src_c / s_src).T @ (dst_c / s_dst))
    corr = np.diag([1.0, 1.0 if np.linalg.det(vt.T @ u.T) > 0 else -1.0])
    return (s_dst / s_src) * (vt.T @ corr @ u.T)


def _same_side(xx: np.ndarray, yy: np.ndarray, a: Any, b: Any, c: Any) -> np.ndarray:
    """Whether each pixel is on the same side of the line b-c as the vertex a, or on the line."""
    pixel = (c[0] - b[0]) * (yy - b[1]) - (xx - b[0]) * (c[1] - b[1])
    vertex = (c[0] - b[0]) * (a[1] - b[1]) - (a[0] - b[0]) * (c[1] - b[1])
    return pixel * vertex >= 0


def triangle_mask(points: np.ndarray, triangulation: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8: 1 where a pixel centre lies in (or on) a triangle of ``points``
    (OpenFace's ``PAW`` pixel mask, in float32 like it)."""
    pts = np.asarray(points, dtype=np.float32)
    mask = np.zeros((size, size), dtype=bool)
    for j, k, m in triangulation:
        (x1, y1), (x2, y2), (x3, y3) = pts[j], pts[k], pts[m]
        # only the pixels of the triangle's bounding box can be inside it
        c0, c1 = max(int(np.ceil(min(x1, x2, x3))), 0), min(int(np.floor(max(x1, x2, x3))), size - 1)
        r0, r1 = max(int(np.ceil(min(y1, y2, y3))), 0), min(int(np.floor(max(y1, y2, y3))), size - 1)
        if c0 > c1 or r0 > r1:
            continue
        yy, xx = np.mgrid[r0 : r1 + 1, c0 : c1 + 1].astype(np.float32)
        inside = _same_side(xx, yy, (x1, y1), (x2, y2), (x3, y3))
        inside &= _same_side(xx, yy, (x2, y2), (x1, y1), (x3, y3))
        inside &= _same_side(xx, yy, (x3, y3), (x1, y1), (x2, y2))
        mask[r0 : r1 + 1, c0 : c1 + 1] |= inside
    return mask.astype(np.uint8)


@dataclass
class AlignedFace:
    image: np.ndarray  # (112, 112, 3) uint8, masked
    mask: np.ndarray  # (112, 112) uint8
    warp: np.ndarray  # (2, 3): image pixels -> aligned pixels


def align_face(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    params_global: np.ndarray,
    pdm: PDM,
    triangulation: np.ndarray,
    *,
    sim_scale: float = SIM_SCALE,
    size: int = ALIGNED_SIZE,
) -> AlignedFace:
    """OpenFace's ``AlignFaceMask`` (rigid points, bilinear warp, black outside the face mask)."""
    cv2 = require("cv2", "landmarks", "The openface-static AU detector (face alignment)")
    n = pdm.n_points
    reference = (pdm.mean_shape[: 2 * n] * sim_scale).reshape(2, n).T
    rigid = list(RIGID_POINTS)
    a = align_shapes_with_scale(landmarks[rigid], reference[rigid])
    t = a @ params_global[4:6]
    warp = np.hstack([a, (np.array([size // 2, size // 2]) - t)[:, None]])
    image = cv2.warpAffine(
        np.ascontiguousarray(rgb), warp, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
    )
    warped = landmarks @ a.T + warp[:, 2]
    warped[list(RAISED_POINTS), 1] -= (30 / 0.7) * sim_scale
    mask = triangle_mask(warped, triangulation, size)
    return AlignedFace(image * mask[:, :, None], mask, warp)


def geometry_features(pdm: PDM, params_local: np.ndarray) -> np.ndarray:
    """``[V p, p]``: the non-rigid shape offsets (3n) then the parameters (m)."""
    return np.concatenate([pdm.princ_comp @ params_local, params_local])


@dataclass
class StaticFeatures:
    fit: PDMFit
    aligned: AlignedFace
    hog: np.ndarray  # (4464,)
    geometry: np.ndarray  # (3n + m,)

    @property
    def vector(self) -> np.ndarray:
        return np.concatenate([self.hog, self.geometry])


class OpenFaceStatic:
    """The models of one folder and the feature pipeline (no landmark detection)."""

    def __init__(self, folder: ModelFolder):
        self.folder = folder
        self.pdm = PDM(folder.pdm)
        if self.pdm.n_points != 68:
            raise AUDetectorError(
                f"openface-static: the PDM has {self.pdm.n_points} points; the 68-point PDM is needed ({WHERE})"
            )
        rows, cols, channels = fhog_shape(ALIGNED_SIZE, ALIGNED_SIZE, CELL_SIZE)
        self.n_hog = rows * cols * channels
        self.n_geometry = 3 * self.pdm.n_points + self.pdm.n_modes
        for model in folder.models:
            if model.means.size not in (self.n_hog, self.n_hog + self.n_geometry):
                raise AUDetectorError(
                    f"openface-static: {model.path} expects {model.means.size} features; this pipeline makes "
                    f"{self.n_hog} (HOG) or {self.n_hog + self.n_geometry} (HOG + geometry of this PDM)"
                )

    def features(self, rgb: np.ndarray, landmarks: np.ndarray) -> StaticFeatures:
        fit = self.pdm.fit(landmarks)
        aligned = align_face(
            rgb, np.asarray(landmarks, np.float64), fit.params_global, self.pdm, self.folder.triangulation
        )
        hog = fhog(aligned.image, CELL_SIZE).astype(np.float64).ravel()
        return StaticFeatures(fit, aligned, hog, geometry_features(self.pdm, fit.params_local))

    def _input(self, model: LinearModel, feats: StaticFeatures) -> np.ndarray:
        return feats.hog if model.means.size == self.n_hog else feats.vector

    def predict(self, feats: StaticFeatures) -> dict[str, dict[str, float]]:
        """AU -> {"svr": intensity clipped to [0, 5], "svm": 1.0 present / 0.0 absent} (the kinds it has)."""
        out: dict[str, dict[str, float]] = {}
        for model in self.folder.models:
            decision = model.decision(self._input(model, feats))
            if model.kind == "svr":
                value = min(max(decision, 0.0), MAX_INTENSITY)
            else:
                value = 1.0 if decision > 0 else 0.0
            out.setdefault(model.au, {})[model.kind] = value
        return out


def resolve_model_dir(model_dir: str | Path | None) -> Path:
    folder = model_dir or os.environ.get(ENV_MODELS)
    if not folder:
        raise AUDetectorError(
            f"openface-static needs your copy of OpenFace's AU model folder: use --au-reference "
            f"openface-static:DIR (or set {ENV_MODELS}); {WHERE}"
        )
    return Path(folder).expanduser().resolve()


class OpenFaceStaticDetector(LandmarkAUDetector):
    """OpenFace 2.x static AU models on MediaPipe-derived landmarks, regions from the same landmarks.

    Parameters: ``model_dir`` (else ``$TAG_BENCH_OPENFACE_MODELS``), ``regions`` (tight / loose),
    ``min_intensity`` (default 1.5), and the landmarker's ``face_policy``, ``margin``,
    ``min_detection_confidence``, ``min_mesh_confidence``, ``small_side``, ``small_pad``, ``jaw``.
    """

    name = "openface-static"
    threshold = None  # per AU: see the module docstring

    def __init__(
        self,
        *,
        model_dir: str | Path | None = None,
        regions: str = "tight",
        min_intensity: float = DEFAULT_MIN_INTENSITY,
        **landmarker_params: Any,
    ):
        check_regions(regions)
        if not 0 < min_intensity <= MAX_INTENSITY:
            raise ValueError(f"min_intensity must be in (0, 5], got {min_intensity}")
        self.model_dir = resolve_model_dir(model_dir)
        self.openface = OpenFaceStatic(read_folder(self.model_dir))
        require("mediapipe", "landmarks", "The openface-static AU detector (landmarks)")
        require("cv2", "landmarks", "The openface-static AU detector (face alignment)")
        self.landmarker = MediaPipeLandmarker(**landmarker_params)
        self.region_rule = regions
        self.min_intensity = float(min_intensity)
        self.model_sha256 = self.openface.folder.sha256
        self.version = f"{PIPELINE_VERSION}-{self.model_sha256[:8]}"

    @property
    def params(self) -> dict[str, Any]:
        # the folder's location is not a parameter: its content is, through the version's hash
        return {
            "regions": self.region_rule,
            "min_intensity": self.min_intensity,
            "mesh_model": self.landmarker.mesh_model,
            **self.landmarker.params,
        }

    def scores(
        self, predictions: dict[str, dict[str, float]]
    ) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
        """(scores in [0, 1], thresholds, sources) per AU from ``OpenFaceStatic.predict``."""
        scores: dict[str, float] = {}
        thresholds: dict[str, float] = {}
        sources: dict[str, str] = {}
        for au, kinds in predictions.items():
            if "svr" in kinds:
                scores[au] = kinds["svr"] / MAX_INTENSITY
                thresholds[au] = self.min_intensity / MAX_INTENSITY
                sources[au] = SOURCE
            else:
                scores[au] = 1.0 if kinds["svm"] > 0 else 0.0
                thresholds[au] = 0.5
                sources[au] = PRESENCE_SOURCE
        return scores, thresholds, sources

    def score_face(self, rgb: np.ndarray, face: FaceLandmarks) -> AUScores:
        return self.scores(self.openface.predict(self.openface.features(rgb, face.landmarks68)))
