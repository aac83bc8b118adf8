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
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from tag_bench._forkmap import fork_map
from tag_bench._hashing import file_sha256, sha256_hex
from tag_bench.errors import TagBenchError
from tag_bench.file_ids import FileId, FileIds, Stat, stat_of

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

    from tag_bench.schema import Sample


class ImageLoadError(TagBenchError):
    """The image of a sample cannot be read; the message says what to fix."""


# The sha256 of an image file's bytes, remembered in this process per file version (``file_ids.Stat``):
# a run asks for each image's id more than once (the AU cache, the data identity), hard links included.
# Across runs, ``file_ids`` remembers them on disk.
_FILE_SHAS: dict[Stat, str] = {}
#: whether ids are looked up in and added to ``$TAG_BENCH_CACHE/file_ids.sqlite`` (see ``file_ids``)
REMEMBER_ACROSS_RUNS = True


def image_sha256(sample: Sample) -> str:
    """Content id of the presented image (see module docstring)."""
    return _image_id(sample)[0]


def _image_id(sample: Sample) -> tuple[str, Stat | None, str | None]:
    """:func:`image_sha256`, and for a plain file its stat data and bytes' sha (what ``_FILE_SHAS`` keeps)."""
    path = sample.image
    if not os.path.exists(path):
        raise ImageLoadError(f"image file not found: {path}")
    key = None
    if sample.image_index is not None:
        base = sha256_hex(_container_row_bytes(path, sample.image_index))
    else:
        key = stat_of(os.stat(path))
        known = _FILE_SHAS.get(key)
        base = known if known is not None else _FILE_SHAS.setdefault(key, file_sha256(path))
    return _with_crop(sample, base), key, base


def _with_crop(sample: Sample, base: str) -> str:
    """The presented image's id from its file's (or row's) sha."""
    if sample.crop is None:
        return base
    crop = ",".join(f"{v:g}" for v in sample.crop)
    return sha256_hex(f"{base}:crop={crop}")


#: (presented size or None, image_sha256 or None) of one sample, or why its image cannot be read
_Read = tuple["tuple[int, int] | None", "str | None"] | ImageLoadError
#: what a worker found for one sample: the read, and for a plain file its stat data, its FileId and
#: whether that was read now (else known without a read)
_Found = tuple[_Read, "Stat | None", "FileId | None", bool]


def _read_many(samples: Sequence[Sample], *, size: bool, sha: bool) -> list[_Read]:
    """The presented size and/or id of each sample, from 20,000 samples in forked processes (one per
    core). A plain file that has not changed since its id was read in this process, or since it was
    remembered on disk (``file_ids``), is not read again; the ids the workers read are remembered here
    as if read in this process, and on disk."""
    read_at = time.time_ns()

    def of_range(start: int, stop: int) -> list[_Found]:
        chunk = samples[start:stop]
        known = _known_reads(chunk, size=size, sha=sha)
        out: list[_Found] = []
        # An id read to be remembered comes with the header size, read from the same bytes (some 30
        # microseconds): the next run that needs the size then reads no file either.
        one_read = sha and (size or REMEMBER_ACROSS_RUNS)
        for k, s in enumerate(chunk):
            hit = known.get(k)
            if hit is not None:
                out.append(hit)
                continue
            if one_read and s.image_index is None and not (size and s.width and s.height):
                read = _size_and_id_of_file(s, size)
                if read is not None:
                    out.append(read)
                    continue
            try:  # one read each (and the canonical error of each)
                wh = presented_size(s) if size else None
                got = _image_id(s) if sha else None
            except (ImageLoadError, OSError) as e:
                out.append(
                    (e if isinstance(e, ImageLoadError) else ImageLoadError(str(e)), None, None, False)
                )
                continue
            if got is None:
                out.append(((wh, None), None, None, False))
            else:
                fid = None if got[2] is None else (got[2], None)
                out.append(((wh, got[0]), got[1], fid, True))
        return out

    results = fork_map(of_range, len(samples), min_items=20_000)
    fresh = []
    for _, key, fid, now in results:
        if key is not None and fid is not None:
            _FILE_SHAS[key] = fid[0]
            if now:
                fresh.append((key, fid))
    if fresh and REMEMBER_ACROSS_RUNS:
        remembered = FileIds()
        remembered.store(fresh, read_at)
        remembered.close()
    return [r[0] for r in results]


def _known_reads(samples: Sequence[Sample], *, size: bool, sha: bool) -> dict[int, _Found]:
    """By position, what is known without a read of the samples whose plain file has not changed since
    its id was read in this process (enough for an id alone) or remembered on disk (with its header
    size where the size is needed)."""
    if not sha and not (size and REMEMBER_ACROSS_RUNS):
        return {}
    out: dict[int, _Found] = {}
    ask: list[tuple[int, Stat]] = []
    for k, s in enumerate(samples):
        if s.image_index is not None:
            continue
        try:
            st = stat_of(os.stat(s.image))
        except OSError:
            continue  # read as usual, which gives the canonical error
        here = _FILE_SHAS.get(st) if sha and not size else None
        if here is not None:
            out[k] = ((None, _with_crop(s, here)), st, (here, None), False)
        else:
            ask.append((k, st))
    if not ask or not REMEMBER_ACROSS_RUNS:
        return out
    remembered = FileIds()
    found = remembered.lookup([st for _, st in ask])
    remembered.close()
    for (k, st), fid in zip(ask, found, strict=True):
        if fid is None:
            continue
        s = samples[k]
        wh: tuple[int, int] | None = None
        if size:
            if s.width and s.height:
                wh = (s.width, s.height)
            elif fid[1] is None:
                continue
            else:
                wh = _cropped_size(s, *fid[1])
        out[k] = ((wh, _with_crop(s, fid[0]) if sha else None), st, fid, False)
    return out


def _cropped_size(s: Sample, w: int, h: int) -> tuple[int, int]:
    if s.crop is None:
        return (w, h)
    x1, y1, x2, y2 = _clamped_crop(s.crop, w, h)
    return (x2 - x1, y2 - y1)


def _size_and_id_of_file(s: Sample, size: bool = True) -> _Found | None:
    """:func:`presented_size` (None unless ``size``) and :func:`image_sha256` of a plain image file from
    one read of it (Pillow reads the header from the bytes that are hashed), or None when anything is
    amiss (the separate reads then say what, as they always do)."""
    from PIL import Image

    try:
        with open(s.image, "rb") as f:
            key = stat_of(os.fstat(f.fileno()))
            data = f.read()
        base = _FILE_SHAS.get(key) or sha256_hex(data)
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Exception:  # the separate reads raise the error users see
        return None
    wh = _cropped_size(s, w, h) if size else None
    return (wh, _with_crop(s, base)), key, (base, (w, h)), True


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
    return _cropped_size(sample, w, h)


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
