"""Opening a sample's image: plain files, rows of container files, dataset crops.

A sample's *presented* image is what the model is shown: the file (or container row), decoded to RGB,
then cut to ``sample.crop`` when the dataset asks for it (AffectNet face boxes). Its identity,
``image_sha256``, is the sha256 of the file bytes, extended with the row index and crop when those
apply, so two samples share an id only when they present the same pixels.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tag_bench._hashing import file_sha256, sha256_hex
from tag_bench.errors import TagBenchError

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

    from tag_bench.schema import Sample


class ImageLoadError(TagBenchError):
    """The image of a sample cannot be read; the message says what to fix."""


def _file_sha256(path: str) -> str:
    st = os.stat(path)
    return _file_sha256_cached(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=65536)
def _file_sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(path)


def image_sha256(sample: Sample) -> str:
    """Content id of the presented image (see module docstring)."""
    path = sample.image
    if not os.path.exists(path):
        raise ImageLoadError(f"image file not found: {path}")
    if sample.image_index is not None:
        base = sha256_hex(_container_row_bytes(path, sample.image_index))
    else:
        base = _file_sha256(path)
    if sample.crop is not None:
        crop = ",".join(f"{v:g}" for v in sample.crop)
        return sha256_hex(f"{base}:crop={crop}")
    return base


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


def presented_sizes(samples: list[Sample]) -> list[tuple[int, int] | ImageLoadError]:
    """:func:`presented_size` of many samples: the size, or the error, per sample, in order.

    From 20,000 samples on Linux the headers are read in forked processes (one per core): each read
    is ~20 microseconds of Python inside Pillow, and only chunk bounds and sizes cross the process
    boundary (the workers read the samples from the parent's memory).
    """
    import sys

    workers = min(os.cpu_count() or 1, 8)
    if len(samples) < 20_000 or workers < 2 or not sys.platform.startswith("linux"):
        return _sizes(samples)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    global _FORKED_SAMPLES
    size = -(-len(samples) // (workers * 4))
    bounds = [(i, min(i + size, len(samples))) for i in range(0, len(samples), size)]
    _FORKED_SAMPLES = samples  # the workers read them from the parent's memory: only bounds are pickled
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            return [x for part in pool.map(_sizes_of_range, bounds) for x in part]
    finally:
        _FORKED_SAMPLES = None


_FORKED_SAMPLES: list[Sample] | None = None


def _sizes_of_range(bounds: tuple[int, int]) -> list[tuple[int, int] | ImageLoadError]:
    assert _FORKED_SAMPLES is not None, "forked size reader without samples"
    return _sizes(_FORKED_SAMPLES[bounds[0] : bounds[1]])


def _sizes(samples: list[Sample]) -> list[tuple[int, int] | ImageLoadError]:
    out: list[tuple[int, int] | ImageLoadError] = []
    for s in samples:
        try:
            out.append(presented_size(s))
        except ImageLoadError as e:
            out.append(e)
    return out


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
