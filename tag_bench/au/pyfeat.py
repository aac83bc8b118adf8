"""``pyfeat-v2``: py-feat 2.1.5 ``Detectorv2`` with locally provided weights, fully offline.

py-feat ships no weights; its detectors fetch them from the Hugging Face hub into
``feat/resources``. This detector reads them from a folder in Hugging Face cache layout instead, given as ``weights_dir=`` or ``$TAG_BENCH_PYFEAT_WEIGHTS``::

    WEIGHTS/models--py-feat--face_multitask_v2/refs/main              (a commit hash, e.g. 8b2c...)
    WEIGHTS/models--py-feat--face_multitask_v2/snapshots/<hash>/face_multitask_v28.safetensors
    WEIGHTS/models--py-feat--retinaface_r34/refs/main
    WEIGHTS/models--py-feat--retinaface_r34/snapshots/<hash>/model.safetensors   (or retinaface_r34.safetensors)

(what ``huggingface_hub.hf_hub_download(repo, file, cache_dir=WEIGHTS)`` writes on a machine with hub
access). The retinaface files are not needed with ``face_model="mediapipe"``, which finds faces with
MediaPipe and hands their boxes to py-feat's own crop (``Detectorv2.crop_faces_from_boxes``).
Construction runs with ``HF_HUB_OFFLINE=1`` and py-feat's resource path pointed at the folder, so a
missing file fails at once with a message listing exactly the missing paths, and never touches the
network.

Output: the 20 AU probabilities of the multitask model (threshold 0.5), the 478-point mesh it
predicts (68 points sampled as in ``landmarks.mp478_to_68``), the face box as the mesh's bounding
box, and region boxes from those 68 points. The version in the reference id is py-feat's version plus
the weights' commit hash, so references from different weights never mix in the cache.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tag_bench._optional import require
from tag_bench.au.base import AUDetectorError, BaseAUDetector, box_list, build_states, point_list
from tag_bench.au.landmarks import FACE_POLICIES, MediaPipeLandmarker, mp478_to_68
from tag_bench.au.regions import REGION_RULES, au_regions
from tag_bench.facs import au_code

ENV_WEIGHTS = "TAG_BENCH_PYFEAT_WEIGHTS"
THRESHOLD = 0.5
MULTITASK = ("face_multitask_v2", ("face_multitask_v28.safetensors",))
RETINAFACE = ("retinaface_r34", ("model.safetensors", "retinaface_r34.safetensors"))
FACE_MODELS = ("retinaface", "mediapipe")

_FEAT_LOCK = threading.Lock()  # patches of py-feat module attributes during construction


def hf_cache_file(weights_dir: Path, repo: str, filenames: tuple[str, ...]) -> tuple[Path | None, str, str]:
    """Find ``py-feat/<repo>``'s file in an HF cache folder.

    Returns (path or None, the commit hash or "", a description of what was looked for).
    """
    repo_dir = weights_dir / f"models--py-feat--{repo}"
    ref = repo_dir / "refs" / "main"
    wanted = " or ".join(filenames)
    if not ref.is_file():
        return None, "", f"{ref} (then snapshots/<hash>/{wanted})"
    revision = ref.read_text(encoding="utf-8").strip()
    for name in filenames:
        p = repo_dir / "snapshots" / revision / name
        if p.is_file():
            return p, revision, str(p)
    return None, revision, str(repo_dir / "snapshots" / revision / wanted)


@contextlib.contextmanager
def _patched(obj: Any, attr: str, value: Any) -> Iterator[None]:
    old = getattr(obj, attr)
    setattr(obj, attr, value)
    try:
        yield
    finally:
        setattr(obj, attr, old)


@contextlib.contextmanager
def _offline_env() -> Iterator[None]:
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


class PyFeatV2Detector(BaseAUDetector):
    """py-feat ``Detectorv2`` AU probabilities with regions from its predicted landmarks.

    Parameters: ``weights_dir`` (else ``$TAG_BENCH_PYFEAT_WEIGHTS``), ``regions`` (tight / loose),
    ``face_model`` (``retinaface``: py-feat's own detector; ``mediapipe``: MediaPipe boxes),
    ``face_detection_threshold``, ``face_policy`` (largest / center / single), ``device``.
    """

    name = "pyfeat-v2"
    threshold = THRESHOLD

    def __init__(
        self,
        *,
        weights_dir: str | Path | None = None,
        regions: str = "tight",
        face_model: str = "retinaface",
        face_detection_threshold: float = 0.5,
        face_policy: str = "largest",
        device: str = "cpu",
    ):
        if regions not in REGION_RULES:
            raise ValueError(f"regions must be one of {REGION_RULES}, got {regions!r}")
        if face_model not in FACE_MODELS:
            raise ValueError(f"face_model must be one of {FACE_MODELS}, got {face_model!r}")
        if face_policy not in FACE_POLICIES:
            raise ValueError(f"face_policy must be one of {FACE_POLICIES}, got {face_policy!r}")
        folder = weights_dir or os.environ.get(ENV_WEIGHTS)
        if not folder:
            raise AUDetectorError(
                f"pyfeat-v2 needs py-feat's weights in a local folder (Hugging Face cache layout): pass "
                f"weights_dir= or set {ENV_WEIGHTS}. Needed: py-feat/{MULTITASK[0]}/{MULTITASK[1][0]}"
                + ("" if face_model == "mediapipe" else f" and py-feat/{RETINAFACE[0]}/{RETINAFACE[1][0]}")
            )
        self.weights_dir = Path(folder).expanduser().resolve()
        self.region_rule = regions
        self.face_model = face_model
        self.face_detection_threshold = float(face_detection_threshold)
        self.face_policy = face_policy
        self.device = device

        needed = [MULTITASK] + ([RETINAFACE] if face_model == "retinaface" else [])
        found: dict[str, tuple[Path, str]] = {}
        missing: list[str] = []
        for repo, names in needed:
            path, revision, wanted = hf_cache_file(self.weights_dir, repo, names)
            if path is None:
                missing.append(wanted)
            else:
                found[repo] = (path, revision)
        if missing:
            raise AUDetectorError(
                f"pyfeat-v2: weight files missing under {self.weights_dir}: " + "; ".join(missing)
            )
        feat = require("feat", "feat", "The pyfeat-v2 AU detector")
        multitask_path, multitask_rev = found[MULTITASK[0]]
        self.version = f"{getattr(feat, '__version__', 'unknown')}-{multitask_rev[:12]}"
        self._revisions = {repo: rev for repo, (_, rev) in found.items()}
        self._det = self._build(multitask_path)
        self._lock = threading.Lock()
        self._landmarker = None
        if face_model == "mediapipe":
            self._landmarker = MediaPipeLandmarker(face_policy="largest")

    def _build(self, multitask_path: Path) -> Any:
        with _offline_env(), _FEAT_LOCK:
            import feat.detector_v2 as dv2
            import feat.utils.io as feat_io
            import huggingface_hub.constants as hf_constants
            import torch

            with contextlib.ExitStack() as stack:
                # py-feat's constructor turns autograd off for the whole process: keep the caller's mode
                stack.enter_context(torch.set_grad_enabled(torch.is_grad_enabled()))
                stack.enter_context(_patched(hf_constants, "HF_HUB_OFFLINE", True))
                stack.enter_context(_patched(feat_io, "get_resource_path", lambda: str(self.weights_dir)))
                if self.face_model == "mediapipe":
                    # Boxes come from MediaPipe; RetinaFace (and its weights) are never used.
                    stack.enter_context(_patched(dv2, "Retinaface", lambda device=None: None))
                try:
                    return dv2.Detectorv2(
                        device=self.device,
                        face_detection_threshold=self.face_detection_threshold,
                        identity_model=None,
                        multitask_weights=str(multitask_path),
                    )
                except Exception as e:
                    raise AUDetectorError(f"pyfeat-v2: py-feat could not load the weights: {e}") from e

    @property
    def params(self) -> dict[str, Any]:
        return {
            "regions": self.region_rule,
            "face_model": self.face_model,
            "face_detection_threshold": self.face_detection_threshold,
            "face_policy": self.face_policy,
            "weights": self._revisions,
        }

    @property
    def au_names(self) -> list[str]:
        return [au_code(a) or a for a in self._det.multitask.au_names]

    def _pick(self, boxes: np.ndarray, size: tuple[int, int]) -> int:
        if len(boxes) > 1 and self.face_policy == "single":
            raise ValueError(f"{len(boxes)} faces found; face_policy='single' requires exactly one")
        if self.face_policy == "center":
            cx = (boxes[:, 0] + boxes[:, 2]) / 2.0 - size[0] / 2.0
            cy = (boxes[:, 1] + boxes[:, 3]) / 2.0 - size[1] / 2.0
            return int(np.argmin(cx**2 + cy**2))
        boxes = boxes.astype(np.float64)
        return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))

    def _detect(self, rgb: np.ndarray) -> dict[str, Any]:
        import torch

        h, w = rgb.shape[:2]
        frame = torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1)[None]
        zero = torch.zeros(1)
        batch = {
            "Image": frame,
            "Scale": torch.ones(1),
            "Padding": {"Left": zero, "Top": zero, "Right": zero, "Bottom": zero},
        }
        with self._lock:
            if self._landmarker is not None:
                faces = self._landmarker.faces(rgb)
                if not faces:
                    return {"status": "no_face", "message": "no face found (mediapipe)"}
                boxes = np.array([f.box for f in faces], dtype=np.float32)
                i = self._pick(boxes, (w, h))
                faces_data = self._det.crop_faces_from_boxes(frame, torch.from_numpy(boxes[i : i + 1]))
                n = len(faces)
            else:
                faces_data = self._det.detect_faces(
                    frame, face_detection_threshold=self.face_detection_threshold
                )
                fd = faces_data[0]
                boxes = fd["boxes"].detach().cpu().numpy()
                valid = np.isfinite(boxes).all(axis=1)
                if not valid.any():
                    return {"status": "no_face", "message": "no face found (retinaface)"}
                idx = np.flatnonzero(valid)
                i = int(idx[self._pick(boxes[idx], (w, h))])
                n = int(valid.sum())
                faces_data = [
                    {k: (v[i : i + 1] if torch.is_tensor(v) and v.ndim >= 1 else v) for k, v in fd.items()}
                ]
            df = self._det.forward(faces_data, batch)
        row = df.iloc[0]
        mesh = np.stack(
            [
                row[[f"mesh_x_{j}" for j in range(478)]].to_numpy(float),
                row[[f"mesh_y_{j}" for j in range(478)]].to_numpy(float),
            ],
            axis=1,
        )
        if not np.all(np.isfinite(mesh)):
            return {"status": "error", "message": "py-feat returned non-finite landmarks"}
        lm = mp478_to_68(mesh)
        scores = {au_code(c) or c: float(row[c]) for c in self._det.multitask.au_names}
        box = [
            float(np.clip(mesh[:, 0].min(), 0, w)),
            float(np.clip(mesh[:, 1].min(), 0, h)),
            float(np.clip(mesh[:, 0].max(), 0, w)),
            float(np.clip(mesh[:, 1].max(), 0, h)),
        ]
        regions = au_regions(lm, self.region_rule, image_size=(w, h))
        return {
            "status": "ok",
            "message": f"{n} faces found; kept one by face_policy={self.face_policy!r}" if n > 1 else None,
            "face_box": box_list(box),
            "landmarks": point_list(lm),
            "aus": build_states(regions, scores, self.threshold, "pyfeat-v2 multitask"),
        }
