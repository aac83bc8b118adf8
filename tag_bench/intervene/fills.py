"""The fills of the intervene stage: what replaces the pixels a condition removes.

Each fill is a separate intervention set, because the fill itself is a confound (docs/faithfulness.md):

- ``blur``: a Gaussian blur whose sigma is :data:`BLUR_SIGMA` x the square root of the filled box's area,
  each box blurred on its own (``keep``: the outside blurred with the sigma of the cited boxes' mean area);
  wide kernels are computed on a reduced copy (:func:`gaussian`);
- ``mean``: the image's per-channel mean;
- ``noise``: ROAD's noisy linear imputer (Rong et al. 2022): every filled pixel is the weighted average of
  its eight neighbours (1/6 for the four direct ones, 1/12 for the diagonal ones), solved as one sparse
  linear system with the kept pixels as boundary, plus Gaussian noise of :data:`NOISE_SIGMA` grey levels
  (seeded by the image and mask). Only the filled pixels change (ROAD adds its noise everywhere). It needs
  scipy (``pip install 'tag-bench[intervene]'``) and is slow on large areas (``keep``).

Only the filled pixels change in every fill. :class:`FillCache` keeps each filled image once per
(image content, mask, fill) on disk, so re-running never pays for a fill twice.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tag_bench._hashing import sha256_hex
from tag_bench._optional import require
from tag_bench._registry import Registry
from tag_bench.intervene.placement import box_mask, pixel_span, placement_mask
from tag_bench.schema import Placement

#: Bump when a fill's pixels change: it is part of every cache key and of the comparability key.
FILL_VERSION = 1
#: Gaussian sigma of the blur fill, per square root of the filled box's area (pixels).
BLUR_SIGMA = 0.2
#: Standard deviation of the noise fill's Gaussian noise, in grey levels (0.01 of the 0-255 range).
NOISE_SIGMA = 2.55

#: fill(rgb (H, W, 3) uint8, placement, seed) -> filled rgb uint8 (a new array; only the placement's pixels
#: differ from ``rgb``)
FillFn = Callable[[np.ndarray, Placement, int], np.ndarray]


@dataclass(frozen=True)
class Fill:
    name: str
    fn: FillFn
    description: str


FILLS: Registry[Fill] = Registry("fill")


def register_fill(name: str, description: str) -> Callable[[FillFn], FillFn]:
    def add(fn: FillFn) -> FillFn:
        FILLS.register(name, Fill(name, fn, description), source=f"{fn.__module__}:{fn.__qualname__}")
        return fn

    return add


def fill_names() -> list[str]:
    return FILLS.in_order()


def get_fill(name: str) -> Fill:
    return FILLS.get(name)


def _sigma(area: float) -> float:
    return max(0.5, BLUR_SIGMA * float(np.sqrt(max(area, 0.0))))


def _spans(p: Placement, w: int, h: int) -> list[tuple[int, int, int, int]]:
    """Each box of ``p`` as pixel spans (x0, x1, y0, y1), empty ones left out."""
    out = []
    for b in p.boxes:
        x0, x1 = pixel_span(b[0], b[2], w)
        y0, y1 = pixel_span(b[1], b[3], h)
        if x1 > x0 and y1 > y0:
            out.append((x0, x1, y0, y1))
    return out


def _restore(out: np.ndarray, rgb: np.ndarray, p: Placement) -> np.ndarray:
    """``keep``: the boxes kept get their own pixels back (everything else was filled)."""
    h, w = rgb.shape[:2]
    for x0, x1, y0, y1 in _spans(p, w, h):
        out[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
    return out


def gaussian(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of ``rgb`` (Pillow's). Above a sigma of 4 it is computed on a copy reduced by
    ``sigma // 2`` and enlarged back (bilinear): the blur removes what the reduction loses, at a fraction of
    the cost of a wide kernel."""
    from PIL import Image, ImageFilter

    img = Image.fromarray(np.ascontiguousarray(rgb))
    factor = int(sigma // 2) if sigma > 4 else 1
    if factor > 1 and min(img.size) // factor >= 4:
        small = img.resize((max(1, img.width // factor), max(1, img.height // factor)), Image.Resampling.BOX)
        small = small.filter(ImageFilter.GaussianBlur(radius=sigma / factor))
        return np.asarray(small.resize(img.size, Image.Resampling.BILINEAR))
    return np.asarray(img.filter(ImageFilter.GaussianBlur(radius=sigma)))


@register_fill("blur", "Gaussian blur, sigma 0.2 x sqrt(box area), each box on its own")
def blur_fill(rgb: np.ndarray, p: Placement, seed: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if p.inverse:
        areas = [(x1 - x0) * (y1 - y0) for x0, x1, y0, y1 in _spans(p, w, h)] or [w * h]
        return _restore(gaussian(rgb, _sigma(float(np.mean(areas)))).copy(), rgb, p)
    out = rgb.copy()
    for x0, x1, y0, y1 in _spans(p, w, h):
        sigma = _sigma(float((x1 - x0) * (y1 - y0)))
        pad = int(np.ceil(3 * sigma))
        a0, b0, a1, b1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
        blurred = gaussian(out[b0:b1, a0:a1], sigma)
        out[y0:y1, x0:x1] = blurred[y0 - b0 : y1 - b0, x0 - a0 : x1 - a0]
    return out


def image_mean(rgb: np.ndarray) -> np.ndarray:
    """The per-channel mean of an image, rounded to grey levels (from Pillow's histogram: fast)."""
    from PIL import Image, ImageStat

    return np.round(ImageStat.Stat(Image.fromarray(np.ascontiguousarray(rgb))).mean[:3]).astype(np.uint8)


@register_fill("mean", "the image's per-channel mean")
def mean_fill(rgb: np.ndarray, p: Placement, seed: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    value = image_mean(rgb)
    if p.inverse:
        out = np.empty_like(rgb)
        out[:] = value
        return _restore(out, rgb, p)
    out = rgb.copy()
    for x0, x1, y0, y1 in _spans(p, w, h):
        out[y0:y1, x0:x1] = value
    return out


#: ROAD's neighbour weights: (dy, dx) -> weight.
_NEIGHBOURS = (
    ((-1, -1), 1 / 12), ((-1, 0), 1 / 6), ((-1, 1), 1 / 12), ((0, -1), 1 / 6),
    ((0, 1), 1 / 6), ((1, -1), 1 / 12), ((1, 0), 1 / 6), ((1, 1), 1 / 12),
)  # fmt: skip


@register_fill("noise", "ROAD's noisy linear imputer: neighbour-average sparse solve plus Gaussian noise")
def noise_fill(rgb: np.ndarray, p: Placement, seed: int) -> np.ndarray:
    mask = placement_mask(p, (rgb.shape[1], rgb.shape[0]))
    sparse = require("scipy.sparse", "intervene", "The noise fill (ROAD's noisy linear imputer)")
    linalg = require("scipy.sparse.linalg", "intervene", "The noise fill (ROAD's noisy linear imputer)")
    out = rgb.copy()
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    n = ys.size
    if n == 0:
        return out
    if n == mask.size:  # nothing kept to interpolate from
        return mean_fill(rgb, p, seed)
    var = np.full((h, w), -1, dtype=np.int64)
    var[ys, xs] = np.arange(n)
    values = rgb.astype(np.float64)
    rows, cols, data = [np.arange(n)], [np.arange(n)], []
    diag = np.zeros(n)
    rhs = np.zeros((n, 3))
    for (dy, dx), wt in _NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        diag[ok] += wt
        idx = np.flatnonzero(ok)
        nb = var[ny[idx], nx[idx]]
        unknown = nb >= 0
        rows.append(idx[unknown])
        cols.append(nb[unknown])
        data.append(np.full(int(unknown.sum()), -wt))
        known = idx[~unknown]
        np.add.at(rhs, known, wt * values[ny[known], nx[known]])
    matrix = sparse.csc_matrix(
        (np.concatenate([diag, *data]), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    solved = np.asarray(linalg.spsolve(matrix, rhs)).reshape(n, 3)
    solved += np.random.default_rng(seed).normal(0.0, NOISE_SIGMA, size=solved.shape)
    out[ys, xs] = np.clip(np.round(solved), 0, 255).astype(np.uint8)
    return out


def mask_key(p: Placement, size: tuple[int, int]) -> str:
    """The identity of the pixels a placement fills (its boxes on the pixel grid, and the inversion)."""
    spans = [(*pixel_span(b[0], b[2], size[0]), *pixel_span(b[1], b[3], size[1])) for b in p.boxes]
    return sha256_hex(json.dumps({"size": list(size), "spans": spans, "inverse": p.inverse}), 24)


def fill_key(image_sha256: str, p: Placement, size: tuple[int, int], fill: str) -> str:
    return sha256_hex(f"{image_sha256}|{mask_key(p, size)}|{fill}@{FILL_VERSION}", 40)


def apply_fill(rgb: np.ndarray, p: Placement, fill: str, key: str = "") -> np.ndarray:
    """``rgb`` with the pixels of ``p`` filled by ``fill`` (a new array; ``none`` returns a copy)."""
    if p.condition == "none" or (not p.boxes and not p.inverse):
        return rgb.copy()
    size = (rgb.shape[1], rgb.shape[0])
    seed = int((key or mask_key(p, size))[:12], 16)
    return get_fill(fill).fn(rgb, p, seed)


def default_fill_cache_dir() -> Path:
    from tag_bench.store import cache_dir

    return cache_dir() / "interventions"


class FillCache:
    """Filled images on disk, one lossless PNG per (image content, mask, fill); safe for several processes
    (each file is written to a temporary name and renamed)."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = Path(folder) if folder else default_fill_cache_dir()
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.png"

    def get(self, key: str) -> np.ndarray | None:
        from PIL import Image, UnidentifiedImageError

        path = self.path(key)
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"))
        except (FileNotFoundError, UnidentifiedImageError, OSError):
            self.misses += 1
            return None
        self.hits += 1
        return arr

    def put(self, key: str, rgb: np.ndarray) -> None:
        from PIL import Image

        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)

    def filled(self, rgb: np.ndarray, image_sha256: str, p: Placement, fill: str) -> np.ndarray:
        """The filled image, from the cache or computed (and stored)."""
        if p.condition == "none":
            return rgb
        size = (rgb.shape[1], rgb.shape[0])
        key = fill_key(image_sha256, p, size, fill)
        hit = self.get(key)
        if hit is not None and hit.shape == rgb.shape:
            return hit
        out = apply_fill(rgb, p, fill, key)
        self.put(key, out)
        return out


__all__ = [
    "BLUR_SIGMA",
    "FILLS",
    "FILL_VERSION",
    "NOISE_SIGMA",
    "Fill",
    "FillCache",
    "apply_fill",
    "box_mask",
    "fill_key",
    "fill_names",
    "get_fill",
    "mask_key",
    "register_fill",
]
