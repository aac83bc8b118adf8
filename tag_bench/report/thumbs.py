"""JPEG thumbnails of presented images, cached on disk by image sha256 (``$TAG_BENCH_CACHE/thumbs/``).

A thumbnail is made once per image and size (Pillow: JPEG files are decoded at a reduced scale
with ``draft``) and reused by every report after it. The side is chosen from the number of images so
that a report stays small: 320 px for a handful of images, 128 px around 4,000.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tag_bench._forkmap import usable_cpus
from tag_bench.images import ImageLoadError, image_sha256, open_image
from tag_bench.schema import Sample
from tag_bench.store import cache_dir

QUALITY = 70
SIDES = (320, 256, 192, 160, 128, 112, 96)
#: Measured mean size of a base64 JPEG face thumbnail of 128 px at quality 70 (bytes); it grows with
#: the area.
BYTES_AT_128 = 4600
#: What the thumbnails of one report may take in all (the rest of a 25 MB page is the sample data).
IMAGE_BUDGET = 18_500_000


def cache_root() -> Path:
    return cache_dir() / "thumbs"


def side_for(n_images: int, budget: int = IMAGE_BUDGET) -> int:
    """The largest thumbnail side whose expected total size for ``n_images`` fits ``budget``."""
    for side in SIDES:
        if n_images * BYTES_AT_128 * (side / 128) ** 2 <= budget:
            return side
    return SIDES[-1]


@dataclass
class Thumb:
    """A thumbnail (JPEG bytes) and the presented image's size, or why there is none."""

    jpeg: bytes | None
    size: tuple[int, int] | None  # presented image (w, h), when known
    error: str | None = None


class ThumbnailCache:
    """Thumbnails of one side and quality under ``root/<side>q<quality>/``."""

    def __init__(self, side: int, quality: int = QUALITY, root: str | os.PathLike[str] | None = None):
        self.side, self.quality = side, quality
        self.dir = Path(root) if root is not None else cache_root()
        self.dir = self.dir / f"{side}q{quality}"
        self.made = 0  # thumbnails encoded by this object (the others came from the cache)
        self._lock = threading.Lock()

    def path(self, sha: str) -> Path:
        return self.dir / sha[:2] / f"{sha}.jpg"

    def get(self, sample: Sample, sha: str | None = None) -> tuple[str | None, Thumb]:
        """(image sha256, thumbnail) of the presented image of ``sample``; never raises for a bad image."""
        try:
            sha = sha or image_sha256(sample)
        except ImageLoadError as e:
            return None, Thumb(None, None, str(e))
        p = self.path(sha)
        try:
            return sha, Thumb(p.read_bytes(), None)
        except OSError:
            pass
        try:
            jpeg, size = self._make(sample)
        except ImageLoadError as e:
            return sha, Thumb(None, None, str(e))
        self._store(p, jpeg)
        with self._lock:
            self.made += 1
        return sha, Thumb(jpeg, size)

    def get_many(
        self, items: Sequence[tuple[Sample, str | None]], workers: int | None = None
    ) -> list[tuple[str | None, Thumb]]:
        """:meth:`get` of many (sample, known sha or None), in order. Pillow releases the GIL while it
        decodes, resizes and encodes, so threads help where cores are free (one per two cores: on the
        2-core dev machine one thread is faster than two)."""
        workers = workers or max(1, min(4, usable_cpus() // 2))
        if workers < 2 or len(items) < 8:
            return [self.get(s, sha) for s, sha in items]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda item: self.get(*item), items))

    def of_array(self, key: str, rgb: Any) -> bytes:
        """The thumbnail of an image given as pixels (an intervened image), cached under ``key``."""
        from PIL import Image

        p = self.path(key)
        try:
            return p.read_bytes()
        except OSError:
            pass
        img = Image.fromarray(rgb)
        img.thumbnail((self.side, self.side), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=self.quality, optimize=True)
        self._store(p, buf.getvalue())
        with self._lock:
            self.made += 1
        return buf.getvalue()

    def _make(self, sample: Sample) -> tuple[bytes, tuple[int, int]]:
        from PIL import Image

        img = None
        if sample.image_index is None and sample.crop is None:
            try:
                with Image.open(sample.image) as im:
                    size = im.size
                    im.draft("RGB", (self.side, self.side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
                    img = im.convert("RGB")
            except (OSError, ValueError, SyntaxError):
                img = None  # open_image says what is wrong
        if img is None:
            img = open_image(sample)
            size = img.size
        img.thumbnail((self.side, self.side), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=self.quality, optimize=True)
        return buf.getvalue(), size

    def _store(self, path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError:
            return  # a read-only cache only costs time
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
