"""Offline face landmarks with MediaPipe 0.10.21 (``docs/au-reference.md``, "Landmarks").

Pipeline:

1. ``FaceDetection(model_selection=1)`` (full-range BlazeFace, in the mediapipe wheel) on the image.
2. Each detected face is cut out as a square crop centred on its box, with ``margin`` (default 0.5,
   i.e. 50 % of the box side added on every side); parts outside the image are padded.
3. A mesh model on each crop gives 478 points: ``legacy`` = ``FaceMesh(static_image_mode=True,
   refine_landmarks=True)`` of the wheel; ``task`` = the Tasks API ``FaceLandmarker`` of the
   ``face_landmarker.task`` bundle shipped with tag-bench (``tag_bench.au.bundle``), which also gives
   the 52 blendshape scores of that same mesh. The task's own face detector is short-range and misses
   small faces in group photos; running it on the full-range detector's crops finds them.
4. When detection finds nothing (it misses some faces the mesh model finds), the mesh model runs on
   the whole image as a fallback.
5. The 68 iBUG points are sampled from the mesh (``DLIB68_FROM_MP478``).

Small inputs (RAF-DB aligned 100x100, FER 48x48: a face filling the frame) defeat the full-range
detector, which expects context around a face (it missed 3 of 7 test faces at 100x100). Inputs whose
short side is below ``small_side`` are padded by ``small_pad`` (fraction of the long side, filled with
the border's mean colour) and the mesh model runs on the padded image first, its own short-range detector
suiting a frame-filling face; the detection path runs only when that finds nothing. Coordinates are
mapped back to the input. Measured on the seven public test faces cropped and resized to 100, 64 and
48 px: 7/7 found at each size, landmarks within 0.02-0.07 inter-ocular distances of the full-size
ones, at twice the speed of the detection path (which gave the same accuracy).

Graph objects are expensive to build and not thread-safe: one set is built per configuration and
process, shared by every landmarker with that configuration, and used under a lock. MediaPipe cannot
run in a child fork()ed from a process where it already ran (it hangs); that case is reported as an
error naming the fix (use the ``spawn`` start method).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tag_bench._optional import require
from tag_bench.au.bundle import load_bundle
from tag_bench.geometry import iou

#: dlib/iBUG-68 -> MediaPipe-478 vertex indices, from py-feat 2.1.5
#: ``feat/utils/blendshape_to_au.py: DLIB68_FROM_MP478`` (MIT licence, (c) py-feat authors),
#: copied verbatim so that py-feat (and torch) need not be imported.
DLIB68_FROM_MP478: tuple[int, ...] = (
    # jaw 0-16
    127, 234, 93, 132, 58, 172, 136, 150, 176, 148, 152, 377, 400, 379, 365, 397, 356,
    # brows 17-21, 22-26
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose 27-30 bridge, 31-35 base
    168, 6, 195, 4, 240, 75, 1, 305, 460,
    # eyes 36-41, 42-47
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # outer lip 48-59, inner lip 60-67
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87,
)  # fmt: skip

#: A left/right-symmetric jaw (0-16) with the chin (152) at index 8. py-feat's table puts the chin at
#: index 10 and samples only six vertices on the face's left side, so its jaw lies 0.4-1.0
#: inter-ocular distances away from a dlib-style jaw. Chosen on ``single_face.jpg`` against py-feat's
#: own 68-point output for that image (``feat/tests/data/Feat_Test.csv``): mean error 0.07 vs 0.48
#: inter-ocular distances for py-feat's jaw. Mirror pairs: 127/356, 234/454, 93/323, 132/361,
#: 58/288, 136/365, 150/379, 176/400.
SYMMETRIC_JAW_FROM_MP478: tuple[int, ...] = (
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
)  # fmt: skip

JawMapping = Literal["symmetric", "pyfeat"]
FacePolicy = Literal["largest", "center", "single"]
FACE_POLICIES: tuple[str, ...] = ("largest", "center", "single")


def mp478_to_68(mesh: np.ndarray, jaw: JawMapping = "symmetric") -> np.ndarray:
    """The 68 iBUG points ``(68, 2)`` sampled from a ``(478, >=2)`` mesh."""
    idx = list(DLIB68_FROM_MP478)
    if jaw == "symmetric":
        idx[:17] = SYMMETRIC_JAW_FROM_MP478
    elif jaw != "pyfeat":
        raise ValueError(f"jaw must be 'symmetric' or 'pyfeat', got {jaw!r}")
    return np.asarray(mesh, dtype=np.float64)[idx, :2].copy()


@dataclass
class FaceLandmarks:
    """One face: box (bounding box of the mesh, clipped to the image), 478-point mesh, 68 points."""

    box: list[float]
    mesh: np.ndarray  # (478, 3): x, y in input pixels; z relative depth in x pixels
    landmarks68: np.ndarray  # (68, 2)
    detection_score: float | None  # None when found by the whole-image mesh fallback
    blendshapes: dict[str, float] | None = None  # the 52 scores of the ``task`` mesh model

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


@contextlib.contextmanager
def _native_stderr_muted(enabled: bool = True) -> Iterator[None]:
    """Silence what MediaPipe's C++ runtime prints on stderr (TFLite delegate and calculator warnings
    at start-up). glog writes to file descriptor 2 directly, so the descriptor is redirected.
    ``TAG_BENCH_DEBUG=1`` keeps it."""
    if not enabled or os.environ.get("TAG_BENCH_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _Graph:
    """One legacy MediaPipe graph whose native log lines are muted (they surface lazily, on later calls
    too; real failures still raise in Python)."""

    def __init__(self, graph: Any):
        self.graph = graph

    def process(self, img: np.ndarray) -> Any:
        with _native_stderr_muted():
            return self.graph.process(img)


#: One face from a mesh model: the (478, 3) mesh in the pixels of the image given to the model, and
#: the 52 blendshape scores where the model gives them.
MeshResult = tuple[np.ndarray, "dict[str, float] | None"]


class _LegacyMesh:
    """``mp.solutions.face_mesh.FaceMesh(refine_landmarks=True)``: 478 points, no blendshapes."""

    def __init__(self, solutions: Any, max_faces: int, min_mesh_confidence: float):
        self.graph = _Graph(
            solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                refine_landmarks=True,
                max_num_faces=max_faces,
                min_detection_confidence=min_mesh_confidence,
            )
        )

    def __call__(self, img: np.ndarray) -> list[MeshResult]:
        h, w = img.shape[:2]
        res = self.graph.process(img)
        return [(_mesh_array(fl.landmark, w, h), None) for fl in res.multi_face_landmarks or []]


class _TaskMesh:
    """The Tasks API ``FaceLandmarker`` of a ``face_landmarker.task`` bundle: 478 points and the 52
    blendshape scores of one mesh."""

    def __init__(self, bundle: bytes, max_faces: int, min_mesh_confidence: float):
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=bundle),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=min_mesh_confidence,
            min_face_presence_confidence=min_mesh_confidence,
            output_face_blendshapes=True,
        )
        self.task = vision.FaceLandmarker.create_from_options(options)

    def __call__(self, img: np.ndarray) -> list[MeshResult]:
        import mediapipe as mp

        h, w = img.shape[:2]
        with _native_stderr_muted():
            res = self.task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=img))
        out: list[MeshResult] = []
        for i, pts in enumerate(res.face_landmarks or []):
            shapes = res.face_blendshapes[i] if res.face_blendshapes else []
            out.append((_mesh_array(pts, w, h), {c.category_name: float(c.score) for c in shapes}))
        return out


#: Mesh models: ``legacy`` (FaceMesh of the mediapipe wheel) and ``task`` (the FaceLandmarker bundle).
MESH_MODELS: tuple[str, ...] = ("legacy", "task")
MeshModel = Literal["legacy", "task"]


class _Graphs:
    """MediaPipe graph objects of one configuration, used under ``lock``."""

    def __init__(
        self,
        min_detection_confidence: float,
        min_mesh_confidence: float,
        max_faces: int,
        mesh_model: str,
        bundle: bytes | None,
    ):
        mp = require("mediapipe", "landmarks", "MediaPipe face landmarks")
        self.lock = threading.Lock()
        with _native_stderr_muted():
            self.detector = _Graph(
                mp.solutions.face_detection.FaceDetection(
                    model_selection=1, min_detection_confidence=min_detection_confidence
                )
            )
            if mesh_model == "task":
                assert bundle is not None
                self.crop_mesh: Any = _TaskMesh(bundle, 1, min_mesh_confidence)
                self.image_mesh: Any = _TaskMesh(bundle, max_faces, min_mesh_confidence)
            else:
                self.crop_mesh = _LegacyMesh(mp.solutions, 1, min_mesh_confidence)
                self.image_mesh = _LegacyMesh(mp.solutions, max_faces, min_mesh_confidence)


_GRAPHS: dict[tuple[Any, ...], _Graphs] = {}
_GRAPHS_LOCK = threading.Lock()


def _reset_lock_in_child() -> None:
    global _GRAPHS_LOCK
    _GRAPHS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_reset_lock_in_child)


def _graphs(
    min_detection_confidence: float,
    min_mesh_confidence: float,
    max_faces: int,
    mesh_model: str = "legacy",
    bundle: bytes | None = None,
    bundle_id: str | None = None,
) -> _Graphs:
    pid = os.getpid()
    key = (pid, min_detection_confidence, min_mesh_confidence, max_faces, mesh_model, bundle_id)
    with _GRAPHS_LOCK:
        if any(k[0] != pid for k in _GRAPHS):
            # Measured: once MediaPipe has run in a process, a fork()ed child hangs in its runtime,
            # even with graphs of its own. Fail fast with the fix instead.
            raise RuntimeError(
                "MediaPipe ran in the parent process before fork(); it hangs in forked children. "
                "Start worker processes with the 'spawn' method (multiprocessing.get_context('spawn'))"
            )
        g = _GRAPHS.get(key)
        if g is None:
            g = _Graphs(min_detection_confidence, min_mesh_confidence, max_faces, mesh_model, bundle)
            _GRAPHS[key] = g
        return g


def _pad_constant(img: np.ndarray, pad: int) -> np.ndarray:
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).mean(axis=0)
    h, w = img.shape[:2]
    out = np.empty((h + 2 * pad, w + 2 * pad, 3), dtype=np.uint8)
    out[:] = np.round(border).astype(np.uint8)
    out[pad : pad + h, pad : pad + w] = img
    return out


def _square_crop(img: np.ndarray, box: list[float], margin: float) -> tuple[np.ndarray, float, float]:
    """Square crop around ``box`` enlarged by ``margin`` per side, padded with black outside the image.

    Returns the crop and the image coordinates of its top-left corner.
    """
    h, w = img.shape[:2]
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    side = max(box[2] - box[0], box[3] - box[1]) * (1.0 + 2.0 * margin)
    side_i = max(int(round(side)), 8)
    x0 = int(round(cx - side_i / 2.0))
    y0 = int(round(cy - side_i / 2.0))
    crop = np.zeros((side_i, side_i, 3), dtype=np.uint8)
    sx1, sy1 = max(x0, 0), max(y0, 0)
    sx2, sy2 = min(x0 + side_i, w), min(y0 + side_i, h)
    if sx2 > sx1 and sy2 > sy1:
        crop[sy1 - y0 : sy2 - y0, sx1 - x0 : sx2 - x0] = img[sy1:sy2, sx1:sx2]
    return crop, float(x0), float(y0)


def _mesh_array(points: Any, width: int, height: int) -> np.ndarray:
    pts = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float64)
    pts[:, 0] *= width
    pts[:, 1] *= height
    pts[:, 2] *= width
    return pts


class MediaPipeLandmarker:
    """Faces and landmarks of an RGB uint8 image, fully offline.

    ``faces(img)`` returns every face found; ``locate(img)`` applies ``face_policy``: ``largest``
    (default), ``center`` (box centre nearest the image centre) or ``single`` (more than one face is
    an error). ``mesh_model``: ``legacy`` (Face Mesh of the mediapipe wheel) or ``task`` (the
    FaceLandmarker bundle shipped with tag-bench, which adds the 52 blendshape scores of each mesh).
    """

    def __init__(
        self,
        *,
        margin: float = 0.5,
        face_policy: FacePolicy = "largest",
        min_detection_confidence: float = 0.5,
        min_mesh_confidence: float = 0.5,
        max_faces: int = 8,
        small_side: int = 160,
        small_pad: float = 0.5,
        jaw: JawMapping = "symmetric",
        mesh_model: MeshModel = "legacy",
    ):
        if face_policy not in FACE_POLICIES:
            raise ValueError(f"face_policy must be one of {FACE_POLICIES}, got {face_policy!r}")
        if jaw not in ("symmetric", "pyfeat"):
            raise ValueError(f"jaw must be 'symmetric' or 'pyfeat', got {jaw!r}")
        if mesh_model not in MESH_MODELS:
            raise ValueError(f"mesh_model must be one of {MESH_MODELS}, got {mesh_model!r}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)
        self.face_policy = face_policy
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_mesh_confidence = float(min_mesh_confidence)
        self.max_faces = int(max_faces)
        self.small_side = int(small_side)
        self.small_pad = float(small_pad)
        self.jaw: JawMapping = jaw
        self.mesh_model: MeshModel = mesh_model
        self._bundle: tuple[bytes, str] | None = None
        if mesh_model == "task":
            self._bundle = load_bundle()

    @property
    def params(self) -> dict[str, object]:
        return {
            "margin": self.margin,
            "face_policy": self.face_policy,
            "min_detection_confidence": self.min_detection_confidence,
            "min_mesh_confidence": self.min_mesh_confidence,
            "max_faces": self.max_faces,
            "small_side": self.small_side,
            "small_pad": self.small_pad,
            "jaw": self.jaw,
        }

    def _graphs(self) -> _Graphs:
        if self._bundle is None:
            return _graphs(self.min_detection_confidence, self.min_mesh_confidence, self.max_faces)
        data, sha = self._bundle
        return _graphs(
            self.min_detection_confidence, self.min_mesh_confidence, self.max_faces, "task", data, sha
        )

    def faces(self, img: np.ndarray) -> list[FaceLandmarks]:
        """Every face in ``img`` (H x W x 3 uint8 RGB), coordinates in ``img`` pixels."""
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB array, got shape {img.shape} {img.dtype}")
        h, w = img.shape[:2]
        pad = 0
        work = img
        if min(h, w) < self.small_side:
            pad = max(int(round(max(h, w) * self.small_pad)), 1)
            work = _pad_constant(img, pad)
        g = self._graphs()
        with g.lock:
            work = np.ascontiguousarray(work)
            found = self._mesh_first_locked(g, work) if pad else []
            if not found:
                found = self._faces_locked(g, work, whole_image_tried=bool(pad))
        out = []
        for f in found:
            mesh = f.mesh.copy()
            mesh[:, 0] -= pad
            mesh[:, 1] -= pad
            box = [
                float(np.clip(mesh[:, 0].min(), 0, w)),
                float(np.clip(mesh[:, 1].min(), 0, h)),
                float(np.clip(mesh[:, 0].max(), 0, w)),
                float(np.clip(mesh[:, 1].max(), 0, h)),
            ]
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue  # a mesh entirely inside the padding is not a face of this image
            out.append(
                FaceLandmarks(box, mesh, mp478_to_68(mesh, self.jaw), f.detection_score, f.blendshapes)
            )
        return out

    def _mesh_first_locked(self, g: _Graphs, img: np.ndarray) -> list[FaceLandmarks]:
        """Small inputs: the mesh model on the padded image directly (its own short-range detector
        suits a face that fills the frame); half the cost of detection + crop, same accuracy."""
        return [
            FaceLandmarks(_mesh_box(m), m, np.empty((0, 2)), None, shapes) for m, shapes in g.image_mesh(img)
        ]

    def _faces_locked(
        self, g: _Graphs, img: np.ndarray, whole_image_tried: bool = False
    ) -> list[FaceLandmarks]:
        h, w = img.shape[:2]
        det = g.detector.process(img)
        boxes: list[tuple[list[float], float]] = []
        for d in det.detections or []:
            rb = d.location_data.relative_bounding_box
            x1, y1 = rb.xmin * w, rb.ymin * h
            box = [x1, y1, x1 + rb.width * w, y1 + rb.height * h]
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
                boxes.append((box, float(d.score[0]) if d.score else 0.0))
        faces: list[FaceLandmarks] = []
        for box, score in boxes:
            crop, x0, y0 = _square_crop(img, box, self.margin)
            found = g.crop_mesh(crop)
            if not found:
                continue
            mesh, shapes = found[0]
            mesh[:, 0] += x0
            mesh[:, 1] += y0
            faces.append(FaceLandmarks(_mesh_box(mesh), mesh, np.empty((0, 2)), score, shapes))
        # Faces the detector missed, or whose crop gave no mesh: the mesh model on the whole image.
        if not whole_image_tried and (not faces or len(faces) < len(boxes)):
            for mesh, shapes in g.image_mesh(img):
                mbox = _mesh_box(mesh)
                if all(iou(mbox, f.box) < 0.3 for f in faces):
                    faces.append(FaceLandmarks(mbox, mesh, np.empty((0, 2)), None, shapes))
        return faces

    def locate(self, img: np.ndarray) -> tuple[FaceLandmarks | None, int]:
        """The face chosen by ``face_policy`` and the number of faces found.

        Raises ValueError for policy ``single`` when more than one face is found.
        """
        faces = self.faces(img)
        if not faces:
            return None, 0
        if len(faces) > 1 and self.face_policy == "single":
            raise ValueError(f"{len(faces)} faces found; face_policy='single' requires exactly one")
        if self.face_policy == "center":
            h, w = img.shape[:2]

            def dist(f: FaceLandmarks) -> float:
                cx, cy = (f.box[0] + f.box[2]) / 2.0, (f.box[1] + f.box[3]) / 2.0
                return (cx - w / 2.0) ** 2 + (cy - h / 2.0) ** 2

            return min(faces, key=dist), len(faces)
        return max(faces, key=lambda f: f.area), len(faces)


def _mesh_box(mesh: np.ndarray) -> list[float]:
    return [
        float(mesh[:, 0].min()),
        float(mesh[:, 1].min()),
        float(mesh[:, 0].max()),
        float(mesh[:, 1].max()),
    ]
