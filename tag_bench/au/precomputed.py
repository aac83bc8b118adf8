"""AU references from CSV files written by other tools: OpenFace 2.x and py-feat (Fex).

Rows are matched to samples by file name: a CSV with a file-name column (``input``, ``file``,
``filename``, ``image``, ``path`` or ``name``) keys each row by that column's base name; a CSV
without one (OpenFace ``FaceLandmarkImg`` writes one ``<image stem>.csv`` per image) is keyed by its own
stem, and a folder is read CSV by CSV. A sample matches on its image's base name, its stem, or its
id. Several rows for one image (several faces) -> the face with the largest landmark box.

Regions come from the CSV's own 68 landmarks (``x_0..x_67``, ``y_0..y_67``; header names may carry
leading spaces, as OpenFace writes them). Landmarks are taken to be in the pixels of the image file;
for a sample with a dataset crop they are shifted into the presented (cropped) image.

- **OpenFace 2.x**: score = ``AUxx_r`` / 5 (intensity 0-5), or ``AUxx_c`` (0/1) for AUs with no
  intensity column (AU28); threshold 0.2, i.e. active from intensity 1. ``success == 0`` -> no_face.
  Face box: the landmarks' bounding box.
- **py-feat Fex**: score = ``AUxx`` (probability in [0, 1]); threshold 0.5. Face box from
  ``FaceRectX/Y/Width/Height``. A row of NaNs (py-feat's no-face row) -> no_face.

The version in the reference id is a hash of the CSV contents, so metrics name the exact file.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tag_bench.au.base import box_list, build_states, point_list
from tag_bench.au.regions import REGION_RULES, au_regions
from tag_bench.facs import au_code
from tag_bench.images import presented_size
from tag_bench.schema import AUReference, Sample

_NAME_COLUMNS = ("input", "file", "filename", "file_name", "image", "image_path", "path", "name")
FORMATS = ("openface", "pyfeat-csv")
THRESHOLDS = {"openface": 0.2, "pyfeat-csv": 0.5}


@dataclass
class _Face:
    landmarks: np.ndarray | None  # (68, 2) or None when the row has no usable landmarks
    scores: dict[str, float | None]
    face_box: list[float] | None
    ok: bool  # False: the tool reported no face for this row
    extra: dict[str, Any] = field(default_factory=dict)


def _float(v: str | None) -> float | None:
    if v is None:
        return None
    try:
        x = float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise ValueError(f"{path}: empty CSV file") from None
        rows = [dict(zip(header, (v.strip() for v in row), strict=False)) for row in reader if row]
    return header, rows


def _landmarks(row: dict[str, str]) -> np.ndarray | None:
    xs = [_float(row.get(f"x_{i}")) for i in range(68)]
    ys = [_float(row.get(f"y_{i}")) for i in range(68)]
    if any(v is None for v in xs + ys):
        return None
    return np.array([xs, ys], dtype=np.float64).T


def _parse_openface(row: dict[str, str]) -> _Face:
    lm = _landmarks(row)
    success = _float(row.get("success"))
    scores: dict[str, float | None] = {}
    for key, value in row.items():
        if not key.startswith("AU"):
            continue
        if key.endswith("_r"):
            au = au_code(key[:-2])
            v = _float(value)
            if au:
                scores[au] = None if v is None else min(max(v / 5.0, 0.0), 1.0)
    for key, value in row.items():
        if key.startswith("AU") and key.endswith("_c"):
            au = au_code(key[:-2])
            v = _float(value)
            if au and au not in scores:
                scores[au] = None if v is None else float(v >= 0.5)
    ok = lm is not None and (success is None or success >= 0.5)
    box = None
    if lm is not None:
        box = [float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max())]
    return _Face(lm, scores, box, ok)


def _parse_fex(row: dict[str, str]) -> _Face:
    lm = _landmarks(row)
    scores: dict[str, float | None] = {}
    for key, value in row.items():
        au = au_code(key) if key.upper().startswith("AU") else None
        if au:
            v = _float(value)
            scores[au] = None if v is None else min(max(v, 0.0), 1.0)
    rect = [_float(row.get(k)) for k in ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight")]
    box: list[float] | None = None
    x, y, w, h = rect
    if x is not None and y is not None and w is not None and h is not None:
        box = [x, y, x + w, y + h]
    elif lm is not None:
        box = [float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max())]
    ok = lm is not None and any(v is not None for v in scores.values())
    return _Face(lm, scores, box, ok)


def _face_size(f: _Face) -> float:
    if f.landmarks is None:
        return -1.0
    span = f.landmarks.max(axis=0) - f.landmarks.min(axis=0)
    return float(span[0] * span[1])


class PrecomputedSource:
    """AU references read from OpenFace or py-feat CSV output (a file or a folder of files)."""

    def __init__(self, fmt: str, path: str | Path, *, regions: str = "tight"):
        if fmt not in FORMATS:
            raise ValueError(f"unknown precomputed format {fmt!r}; known: {', '.join(FORMATS)}")
        if regions not in REGION_RULES:
            raise ValueError(f"regions must be one of {REGION_RULES}, got {regions!r}")
        self.fmt = fmt
        self.path = Path(path)
        self.region_rule = regions
        self.threshold = THRESHOLDS[fmt]
        if not self.path.exists():
            raise FileNotFoundError(f"{fmt} CSV not found: {self.path}")
        files = sorted(self.path.glob("*.csv")) if self.path.is_dir() else [self.path]
        if not files:
            raise ValueError(f"no .csv files in {self.path}")
        digest = hashlib.sha256()
        self._faces: dict[str, list[_Face]] = {}
        parse = _parse_openface if fmt == "openface" else _parse_fex
        for f in files:
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
            header, rows = _read_rows(f)
            name_col = next((c for c in header if c.lower() in _NAME_COLUMNS), None)
            if "x_0" not in header or "y_67" not in header:
                raise ValueError(f"{f}: no 68-point landmark columns (x_0..x_67, y_0..y_67) in its header")
            for row in rows:
                key = os.path.basename(row[name_col].replace("\\", "/")) if name_col else f.stem
                self._faces.setdefault(key, []).append(parse(row))
        self.version = digest.hexdigest()[:12]
        self.name = fmt

    @property
    def reference_id(self) -> str:
        return f"{self.name}-{self.region_rule}@{self.version}"

    def keys(self) -> list[str]:
        return sorted(self._faces)

    def _lookup(self, sample: Sample) -> list[_Face] | None:
        base = os.path.basename(sample.image)
        stem = os.path.splitext(base)[0]
        for key in (base, stem, sample.id):
            if key in self._faces:
                return self._faces[key]
        # a name column holding file names without extension, or with a different one
        for key, faces in self._faces.items():
            if os.path.splitext(key)[0] == stem and sample.image_index is None:
                return faces
        return None

    def _ref(self, sample: Sample, **fields: Any) -> AUReference:
        return AUReference(
            reference_id=self.reference_id,
            detector=self.name,
            version=self.version,
            params={"path": str(self.path), "regions": self.region_rule},
            threshold=self.threshold,
            sample_id=sample.id,
            **fields,
        )

    def get(self, sample: Sample) -> AUReference:
        faces = self._lookup(sample)
        if faces is None:
            return self._ref(sample, status="error", message=f"no reference for sample (not in {self.path})")
        usable = [f for f in faces if f.ok]
        if not usable:
            return self._ref(sample, status="no_face", message=f"{self.fmt} found no face")
        face = max(usable, key=_face_size)
        assert face.landmarks is not None
        lm = face.landmarks.copy()
        box = list(face.face_box) if face.face_box else None
        size = None
        try:
            size = presented_size(sample)
        except Exception:
            size = None  # regions are still computed, unclipped
        if sample.crop is not None:
            dx, dy = max(sample.crop[0], 0.0), max(sample.crop[1], 0.0)
            lm -= np.array([dx, dy])
            if box:
                box = [box[0] - dx, box[1] - dy, box[2] - dx, box[3] - dy]
        try:
            regions = au_regions(lm, self.region_rule, image_size=size)
        except ValueError as e:
            return self._ref(sample, status="error", message=f"unusable landmarks: {e}")
        message = f"{len(usable)} faces in the CSV; kept the largest" if len(usable) > 1 else None
        return self._ref(
            sample,
            status="ok",
            message=message,
            image_size=size,
            face_box=box_list(box) if box else None,
            landmarks=point_list(lm),
            aus=build_states(regions, face.scores, self.threshold, f"{self.fmt} csv"),
        )
