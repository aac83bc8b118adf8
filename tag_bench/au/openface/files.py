"""Readers for OpenFace 2.x's AU model folder (``lib/local/FaceAnalyser/AU_predictors``).

The files are the user's (OpenFace's academic, non-commercial licence): tag-bench ships none of them
and reads them where the user put them. Formats, as OpenFace's own loaders read them
(``FaceAnalyser::Read`` / ``ReadAU`` / ``ReadRegressor``, ``SVR_static_lin_regressors::Read``,
``SVM_static_lin::Read``, ``PDM::Read``, ``Face_utils.cpp: ReadMat, ReadMatBin``):

- ``main_static_svms.txt``: lines ``<module> <path>`` with modules ``AUPredictor`` (an AU list),
  ``PDM`` and ``Triangulation``; paths relative to the file's folder.
- AU list (``AU_all_static.txt``): lines ``<path of a .dat file> <AU name>[,<AU name>...]``.
- ``.dat`` model (binary, little-endian): int32 model type (0 = static linear SVR, 4 = static linear
  SVM; 1 and 5 are the dynamic ones), then the feature means and the weights as binary matrices
  (int32 rows, int32 cols, int32 OpenCV type, row-major data; type 6 = float64), a float64 bias,
  and for an SVM two float64 values: the output for a positive and for a negative decision.
- PDM (``In-the-wild_aligned_PDM_68.txt``) and triangulation (``tris_68_full.txt``): text matrices
  ``rows cols type`` followed by the values; ``#`` lines are comments. The PDM holds the mean shape
  (3n x 1: all x, then all y, then all z), the principal components (3n x m) and the eigenvalues (m).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tag_bench._hashing import file_sha256, sha256_hex
from tag_bench.au.base import AUDetectorError
from tag_bench.facs import au_code

MAIN_FILE = "main_static_svms.txt"
#: What a main file names in OpenFace 2.x; used when the folder has no main file.
DEFAULT_FILES = {
    "AUPredictor": "AU_all_static.txt",
    "PDM": "In-the-wild_aligned_PDM_68.txt",
    "Triangulation": "tris_68_full.txt",
}
WHERE = (
    "point openface-static:DIR at OpenFace 2.x's lib/local/FaceAnalyser/AU_predictors folder "
    f"({MAIN_FILE}, {DEFAULT_FILES['AUPredictor']}, svr_combined/ and svm_combined/, "
    f"{DEFAULT_FILES['PDM']}, {DEFAULT_FILES['Triangulation']})"
)

#: Model types of ``FaceAnalyser::RegressorType``.
SVR_STATIC, SVR_DYNAMIC, SVM_STATIC, SVM_DYNAMIC = 0, 1, 4, 5
#: OpenCV matrix type codes -> dtype (single channel).
CV_DTYPES = {0: np.uint8, 4: np.int32, 5: np.float32, 6: np.float64}


class ModelFileError(AUDetectorError):
    """A file of the OpenFace model folder is missing or not in OpenFace's format."""


@dataclass(frozen=True)
class LinearModel:
    """One static linear model: ``decision = (features - means) . weights + bias``."""

    au: str  # AU code, e.g. "AU12"
    kind: str  # "svr" (intensity, 0-5) or "svm" (presence)
    means: np.ndarray  # (n_features,)
    weights: np.ndarray  # (n_features,)
    bias: float
    positive: float = 1.0  # SVM output when decision > 0
    negative: float = 0.0  # SVM output otherwise
    path: str = ""

    def decision(self, features: np.ndarray) -> float:
        return float((features - self.means) @ self.weights + self.bias)

    def predict(self, features: np.ndarray) -> float:
        """SVR: the intensity (not clipped here); SVM: the positive or negative output value."""
        d = self.decision(features)
        if self.kind == "svm":
            return self.positive if d > 0 else self.negative
        return d


@dataclass(frozen=True)
class PDMData:
    mean_shape: np.ndarray  # (3n,)
    princ_comp: np.ndarray  # (3n, m)
    eigen_values: np.ndarray  # (m,)


@dataclass
class ModelFolder:
    """Everything ``openface-static`` reads from the user's folder, and the hash of those files."""

    root: Path
    models: list[LinearModel]
    pdm: PDMData
    triangulation: np.ndarray  # (t, 3) int
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256

    @property
    def sha256(self) -> str:
        """One hash of every file read (path and content), so two model sets never share an id."""
        return sha256_hex("".join(f"{p}\0{h}\n" for p, h in sorted(self.files.items())))


def _need(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ModelFileError(f"openface-static: {what} not found: {path}; {WHERE}")
    return path


def _text_matrices(path: Path, count: int) -> list[np.ndarray]:
    """``count`` text matrices (``rows cols type`` then values) from a file; ``#`` lines skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise ModelFileError(f"openface-static: cannot read {path}: {e}; {WHERE}") from e
    tokens = [t for line in text.splitlines() if not line.lstrip().startswith("#") for t in line.split()]
    out: list[np.ndarray] = []
    pos = 0
    for i in range(count):
        try:
            rows, cols, cv_type = (int(t) for t in tokens[pos : pos + 3])
            dtype = CV_DTYPES[cv_type]
            if rows < 0 or cols < 0 or pos + 3 + rows * cols > len(tokens):
                raise ValueError("fewer values than the header says")
            values = np.array([float(t) for t in tokens[pos + 3 : pos + 3 + rows * cols]], dtype=np.float64)
        except (ValueError, KeyError) as e:
            raise ModelFileError(
                f"openface-static: {path} is not an OpenFace text matrix file (matrix {i + 1}: {e}); {WHERE}"
            ) from e
        out.append(values.astype(dtype).reshape(rows, cols))
        pos += 3 + rows * cols
    return out


def read_pdm(path: Path) -> PDMData:
    mean, comps, eig = _text_matrices(_need(path, "PDM"), 3)
    mean = mean.astype(np.float64).ravel()
    comps = comps.astype(np.float64)
    eig = eig.astype(np.float64).ravel()
    if mean.size % 3 or comps.shape[0] != mean.size or eig.size != comps.shape[1]:
        raise ModelFileError(
            f"openface-static: {path}: inconsistent PDM (mean {mean.size}, components {comps.shape}, "
            f"eigenvalues {eig.size}); {WHERE}"
        )
    if np.any(eig <= 0):
        raise ModelFileError(f"openface-static: {path}: PDM eigenvalues must be positive; {WHERE}")
    return PDMData(mean, comps, eig)


def read_triangulation(path: Path, n_points: int) -> np.ndarray:
    (tris,) = _text_matrices(_need(path, "triangulation"), 1)
    tris = tris.astype(np.int64)
    if tris.ndim != 2 or tris.shape[1] != 3 or tris.size == 0 or tris.min() < 0 or tris.max() >= n_points:
        raise ModelFileError(
            f"openface-static: {path}: expected t x 3 landmark indices below {n_points}, got {tris.shape}; "
            f"{WHERE}"
        )
    return tris


def _read_exact(f: BinaryIO, n: int, path: Path) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ModelFileError(f"openface-static: {path} is truncated (an OpenFace .dat model file?); {WHERE}")
    return data


def _read_mat_bin(f: BinaryIO, path: Path) -> np.ndarray:
    rows, cols, cv_type = struct.unpack("<iii", _read_exact(f, 12, path))
    dtype = CV_DTYPES.get(cv_type)
    if dtype is None or rows < 0 or cols < 0:
        raise ModelFileError(
            f"openface-static: {path}: bad matrix header (rows {rows}, cols {cols}, type {cv_type}); {WHERE}"
        )
    size = rows * cols * np.dtype(dtype).itemsize
    return np.frombuffer(_read_exact(f, size, path), dtype=np.dtype(dtype).newbyteorder("<")).reshape(
        rows, cols
    )


def read_model(path: Path, names: list[str]) -> LinearModel:
    """One static ``.dat`` model producing the AU in ``names`` (one name per file)."""
    _need(path, "AU model file")
    if len(names) != 1:
        raise ModelFileError(f"openface-static: {path}: expected one AU name per model, got {names}; {WHERE}")
    name = names[0].strip()
    au = au_code(name[:-2] if name.lower().endswith(("_r", "_c")) else name)  # AU01, or OpenFace's AU01_r
    if au is None:
        raise ModelFileError(f"openface-static: {path}: {names[0]!r} is not an AU name; {WHERE}")
    with open(path, "rb") as f:
        (kind,) = struct.unpack("<i", _read_exact(f, 4, path))
        if kind in (SVR_DYNAMIC, SVM_DYNAMIC):
            raise ModelFileError(
                f"openface-static: {path} is a dynamic model (type {kind}), which needs a per-person "
                f"running median; list only static models (OpenFace's {DEFAULT_FILES['AUPredictor']})"
            )
        if kind not in (SVR_STATIC, SVM_STATIC):
            raise ModelFileError(f"openface-static: {path}: unknown model type {kind}; {WHERE}")
        means = _read_mat_bin(f, path).astype(np.float64)
        weights = _read_mat_bin(f, path).astype(np.float64)
        (bias,) = struct.unpack("<d", _read_exact(f, 8, path))
        pos, neg = 1.0, 0.0
        if kind == SVM_STATIC:
            pos, neg = struct.unpack("<dd", _read_exact(f, 16, path))
    if means.shape[0] != 1 or weights.shape != (means.shape[1], 1):
        raise ModelFileError(
            f"openface-static: {path}: means {means.shape} and weights {weights.shape} do not form one "
            f"linear model; {WHERE}"
        )
    return LinearModel(
        au=au,
        kind="svm" if kind == SVM_STATIC else "svr",
        means=means.ravel(),
        weights=weights.ravel(),
        bias=float(bias),
        positive=float(pos),
        negative=float(neg),
        path=str(path),
    )


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ModelFileError(f"openface-static: cannot read {path}: {e}; {WHERE}") from e
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_folder(root: str | Path) -> ModelFolder:
    """Read the static AU models, PDM and triangulation of an OpenFace ``AU_predictors`` folder.

    Raises ModelFileError (one line, naming the file and what to put there) for anything missing or
    malformed.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ModelFileError(f"openface-static: model folder not found: {root}; {WHERE}")
    files: dict[str, str] = {}

    def record(p: Path) -> Path:
        files[p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)] = file_sha256(p)
        return p

    main = root / MAIN_FILE
    modules: dict[str, list[Path]] = {}
    if main.is_file():
        for n, line in _lines(record(main)):
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise ModelFileError(f"openface-static: {main}:{n}: expected '<module> <path>', got {line!r}")
            modules.setdefault(parts[0], []).append(main.parent / parts[1].strip())
    else:
        modules = {k: [root / v] for k, v in DEFAULT_FILES.items()}
    for module in DEFAULT_FILES:
        if module not in modules:
            raise ModelFileError(f"openface-static: {main} names no {module} file; {WHERE}")

    pdm = read_pdm(record(_need(modules["PDM"][-1], "PDM")))
    tris = read_triangulation(
        record(_need(modules["Triangulation"][-1], "triangulation")), pdm.mean_shape.size // 3
    )
    models: list[LinearModel] = []
    seen: dict[tuple[str, str], str] = {}
    for au_list in modules["AUPredictor"]:
        for n, line in _lines(record(_need(au_list, "AU model list"))):
            location, _, names = line.partition(" ")
            path = au_list.parent / location
            model = read_model(
                record(_need(path, f"AU model file (line {n} of {au_list})")), names.strip().split(",")
            )
            key = (model.au, model.kind)
            if key in seen:
                raise ModelFileError(
                    f"openface-static: {au_list}:{n}: a second {model.kind.upper()} model for {model.au} "
                    f"(the first is {seen[key]}); list each AU once per model kind"
                )
            seen[key] = str(path)
            models.append(model)
    if not models:
        raise ModelFileError(f"openface-static: the AU model lists of {root} name no model; {WHERE}")
    return ModelFolder(root=root, models=models, pdm=pdm, triangulation=tris, files=files)
