"""Opening a sample's image: plain files, rows of container files, dataset crops.

A sample's *presented* image is what the model is shown: the file (or container row), decoded to RGB,
then cut to ``sample.crop`` when the dataset asks for it (AffectNet face boxes). Its identity,
``image_sha256``, is the sha256 of the file bytes, extended with the row index and crop when those
apply, so two samples share an id only when they present the same pixels.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tag_bench._forkmap import fork_map
from tag_bench._hashing import file_sha256, sha256_hex
from tag_bench.errors import TagBenchError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

    from tag_bench.schema import Sample


class ImageLoadError(TagBenchError):
    """The image of a sample cannot be read; the message says what to fix."""


# The sha256 of an image file's bytes, remembered in this process per file (device, inode, size, mtime):
# a run asks for each image's id more than once (the AU cache, the data identity), hard links included.
FileKey = tuple[int, int, int, int]
_FILE_SHAS: dict[FileKey, str] = {}


def _file_key(path: str) -> FileKey:
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def image_sha256(sample: Sample) -> str:
    """Content id of the presented image (see module docstring)."""
    return _image_id(sample)[0]


def _image_id(sample: Sample) -> tuple[str, FileKey | None, str | None]:
    """:func:`image_sha256`, and for a plain file its key and bytes' sha (what ``_FILE_SHAS`` keeps)."""
    path = sample.image
    if not os.path.exists(path):
        raise ImageLoadError(f"image file not found: {path}")
    key = None
    if sample.image_index is not None:
        base = sha256_hex(_container_row_bytes(path, sample.image_index))
    else:
        key = _file_key(path)
        known = _FILE_SHAS.get(key)
        base = known if known is not None else _FILE_SHAS.setdefault(key, file_sha256(path))
    if sample.crop is not None:
        crop = ",".join(f"{v:g}" for v in sample.crop)
        return sha256_hex(f"{base}:crop={crop}"), key, base
    return base, key, base


#: (presented size or None, image_sha256 or None) of one sample, or why its image cannot be read
_Read = tuple["tuple[int, int] | None", "str | None"] | ImageLoadError


def _read_many(samples: Sequence[Sample], *, size: bool, sha: bool) -> list[_Read]:
    """The presented size and/or id of each sample, from 20,000 samples in forked processes (one per
    core); the file ids the workers read are remembered here as if read in this process."""

    def of_range(start: int, stop: int) -> list[tuple[_Read, FileKey | None, str | None]]:
        out: list[tuple[_Read, FileKey | None, str | None]] = []
        both = size and sha
        for s in samples[start:stop]:
            if both and s.image_index is None and not (s.width and s.height):
                read = _size_and_id_of_file(s)
                if read is not None:
                    out.append(read)
                    continue
            try:  # one read each (and the canonical error of each)
                wh = presented_size(s) if size else None
                got = _image_id(s) if sha else None
            except (ImageLoadError, OSError) as e:
                out.append((e if isinstance(e, ImageLoadError) else ImageLoadError(str(e)), None, None))
                continue
            out.append(((wh, got[0]), got[1], got[2]) if got is not None else ((wh, None), None, None))
        return out

    results = fork_map(of_range, len(samples), min_items=20_000)
    for _, key, base in results:
        if key is not None and base is not None:
            _FILE_SHAS[key] = base
    return [r for r, _, _ in results]


def _size_and_id_of_file(s: Sample) -> tuple[_Read, FileKey, str] | None:
    """:func:`presented_size` and :func:`image_sha256` of a plain image file from one read of it (Pillow
    reads the header from the bytes that are hashed), or None when anything is amiss (the two reads
    then say what, as they always do)."""
    from PIL import Image

    try:
        with open(s.image, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        base = _FILE_SHAS.get(key) or sha256_hex(data)
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Exception:  # the separate reads raise the error users see
        return None
    if s.crop is not None:
        x1, y1, x2, y2 = _clamped_crop(s.crop, w, h)
        crop = ",".join(f"{v:g}" for v in s.crop)
        return ((x2 - x1, y2 - y1), sha256_hex(f"{base}:crop={crop}")), key, base
    return ((w, h), base), key, base


def image_sha256s(samples: Sequence[Sample]) -> list[str | ImageLoadError]:
    """:func:`image_sha256` of many samples: the id, or the error, per sample, in order (see
    :func:`_read_many`)."""
    return [r if isinstance(r, ImageLoadError) else r[1] for r in _read_many(samples, size=False, sha=True)]  # type: ignore[misc]


def presented_sizes(samples: Sequence[Sample]) -> list[tuple[int, int] | ImageLoadError]:
    """:func:`presented_size` of many samples: the size, or the error, per sample, in order (see
    :func:`_read_many`; a header read is some 30 microseconds of Python inside Pillow)."""
    return [r if isinstance(r, ImageLoadError) else r[0] for r in _read_many(samples, size=True, sha=False)]  # type: ignore[misc]


def presented_sizes_and_ids(samples: Sequence[Sample]) -> list[tuple[tuple[int, int], str] | ImageLoadError]:
    """:func:`presented_size` and :func:`image_sha256` of many samples in one pass over their files:
    both, or the error, per sample, in order (see :func:`_read_many`)."""
    return _read_many(samples, size=True, sha=True)  # type: ignore[return-value]


def open_image(sample: Sample) -> PILImage.Image:
    """Decode the presented image as RGB. Raises ImageLoadError with a clear message."""
    from PIL import Image, UnidentifiedImageError

    path = sample.image
    if sample.image_index is not None:
        img = _open_container_row(path, sample.image_index)
    else:
        if not os.path.exists(path):
            raise ImageLoadError(f"image file not found: {path}")
        try:
            with Image.open(path) as im:
                im.load()
                img = im.copy()
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            raise ImageLoadError(f"cannot decode image {path}: {e}") from e
    if img.mode != "RGB":
        img = img.convert("RGB")
    if sample.crop is not None:
        x1, y1, x2, y2 = _clamped_crop(sample.crop, img.width, img.height)
        if x2 - x1 < 1 or y2 - y1 < 1:
            raise ImageLoadError(
                f"crop {sample.crop} of {path} is empty inside a {img.width}x{img.height} image"
            )
        img = img.crop((x1, y1, x2, y2))
    return img


def presented_size(sample: Sample) -> tuple[int, int]:
    """(width, height) of the presented image, reading only the file header when possible."""
    if sample.width and sample.height:
        return (sample.width, sample.height)
    if sample.image_index is not None:
        img = _open_container_row(sample.image, sample.image_index)
        w, h = img.size
    else:
        from PIL import Image, UnidentifiedImageError

        if not os.path.exists(sample.image):
            raise ImageLoadError(f"image file not found: {sample.image}")
        try:
            with Image.open(sample.image) as im:
                w, h = im.size
        except (UnidentifiedImageError, OSError) as e:
            raise ImageLoadError(f"cannot read image header {sample.image}: {e}") from e
    if sample.crop is not None:
        x1, y1, x2, y2 = _clamped_crop(sample.crop, w, h)
        return (x2 - x1, y2 - y1)
    return (w, h)


def _clamped_crop(crop: list[float], w: int, h: int) -> tuple[int, int, int, int]:
    x1 = int(round(min(max(crop[0], 0), w)))
    y1 = int(round(min(max(crop[1], 0), h)))
    x2 = int(round(min(max(crop[2], 0), w)))
    y2 = int(round(min(max(crop[3], 0), h)))
    return x1, y1, x2, y2


# --------------------------------------------------------------------------------------------------
# Container files. FER2013-style CSVs hold 48x48 grey images as 2,304 space-separated ints in a
# "pixels" column; rows are located through a byte-offset index built once per file (no decoding).

_index_lock = threading.Lock()


class _CsvRowIndex:
    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            header = f.readline()
            cols = [c.strip().lower() for c in header.decode("utf-8", "replace").strip().split(",")]
            if "pixels" not in cols:
                raise ImageLoadError(f"{path}: no 'pixels' column in header {cols}")
            self.pixels_col = cols.index("pixels")
            self.n_cols = len(cols)
            offsets = []
            pos = f.tell()
            for line in f:
                if line.strip():
                    offsets.append(pos)
                pos += len(line)
        self.offsets = offsets

    def row(self, index: int) -> bytes:
        if not 0 <= index < len(self.offsets):
            raise ImageLoadError(f"{self.path}: row {index} out of range (file has {len(self.offsets)} rows)")
        with open(self.path, "rb") as f:
            f.seek(self.offsets[index])
            return f.readline().rstrip(b"\r\n")


@lru_cache(maxsize=8)
def _csv_index(path: str, mtime_ns: int) -> _CsvRowIndex:
    return _CsvRowIndex(path)


def _container_row_bytes(path: str, index: int) -> bytes:
    if Path(path).suffix.lower() != ".csv":
        raise ImageLoadError(f"unsupported container file {path} (expected a FER2013-style .csv)")
    if not os.path.exists(path):
        raise ImageLoadError(f"image container not found: {path}")
    with _index_lock:
        idx = _csv_index(path, os.stat(path).st_mtime_ns)
    line = idx.row(index)
    fields = line.decode("utf-8", "replace").split(",")
    if len(fields) <= idx.pixels_col:
        raise ImageLoadError(f"{path}: row {index} has {len(fields)} fields, expected {idx.n_cols}")
    return fields[idx.pixels_col].strip().encode()


def _open_container_row(path: str, index: int) -> PILImage.Image:
    import numpy as np
    from PIL import Image

    raw = _container_row_bytes(path, index)
    try:
        values = np.array(raw.split(), dtype=np.int64)
    except ValueError as e:
        raise ImageLoadError(f"{path}: row {index} has non-numeric pixels") from e
    side = int(round(len(values) ** 0.5))
    if side * side != len(values) or len(values) == 0:
        raise ImageLoadError(f"{path}: row {index} has {len(values)} pixels, not a square image")
    if values.min() < 0 or values.max() > 255:
        raise ImageLoadError(f"{path}: row {index} has pixel values outside 0..255")
    return Image.fromarray(values.astype(np.uint8).reshape(side, side), mode="L")
