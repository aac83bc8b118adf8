"""Felzenszwalb HOG (FHOG) features as dlib's ``extract_fhog_features`` computes them, in numpy.

OpenFace's AU models were trained on dlib's FHOG of the 112x112 aligned face, so the features must be
dlib's, not another HOG (scikit-image's HOG is a different feature). Per cell of ``cell_size`` pixels
there are 31 channels: 18 contrast-sensitive orientations, 9 contrast-insensitive ones and 4
gradient-energy ("texture") features, each histogram normalised by its four 2x2-cell neighbourhoods
and truncated at 0.2. The outermost ring of cells is dropped, so a 112-pixel side with 8-pixel cells
gives 12x12 cells and 4,464 values.

This is an independent implementation of the published algorithm (Felzenszwalb et al., PAMI 2010) in
dlib's variant, computed in float32 like dlib; ``tests/test_au_fhog.py`` checks it against the
``pyfhog`` wheel (a binding of dlib's C++ code). Colour images use, per pixel, the gradient of the
channel with the largest gradient; where two channels tie, the pick follows dlib's vectorised code
(blue, then green, then red) on the columns it processes in blocks of 8 and the scalar code (red, then
green, then blue) on the rest.
"""

from __future__ import annotations

import numpy as np

#: Unit vectors of the 9 orientation bins (dlib's table, 20 degrees apart).
_DIRECTIONS = np.array(
    [
        [1.0000, 0.0000],
        [0.9397, 0.3420],
        [0.7660, 0.6428],
        [0.5000, 0.8660],
        [0.1736, 0.9848],
        [-0.1736, 0.9848],
        [-0.5000, 0.8660],
        [-0.7660, 0.6428],
        [-0.9397, 0.3420],
    ],
    dtype=np.float32,
)
CHANNELS = 31
_EPS = np.float32(0.0001)
_TEXTURE = np.float32(2 * 0.2357)


def fhog_shape(height: int, width: int, cell_size: int = 8) -> tuple[int, int, int]:
    """(rows, cols, 31) of the FHOG of an image of that size (0 rows/cols when too small)."""
    cells_r = int(np.float32(height) / np.float32(cell_size) + np.float32(0.5))
    cells_c = int(np.float32(width) / np.float32(cell_size) + np.float32(0.5))
    return max(cells_r - 2, 0), max(cells_c - 2, 0), CHANNELS


def _simd_columns(visible_nc: int) -> np.ndarray:
    """Which pixel columns dlib's vectorised loop handles (blocks of 8 from column 1)."""
    covered = np.zeros(max(visible_nc, 1), dtype=bool)
    x = 1
    while x < visible_nc - 7:
        covered[x : x + 8] = True
        x += 8
    return covered


def _gradients(
    img: np.ndarray, visible_nr: int, visible_nc: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gx, gy and squared length of the strongest channel's central difference, for pixels
    y in [1, visible_nr), x in [1, visible_nc)."""
    a = img.astype(np.int32)
    if a.ndim == 2:
        a = a[:, :, None]
    ys, xs = slice(1, visible_nr), slice(1, visible_nc)
    gx = a[ys, 2 : visible_nc + 1] - a[ys, 0 : visible_nc - 1]
    gy = a[2 : visible_nr + 1, xs] - a[0 : visible_nr - 1, xs]
    length = gx * gx + gy * gy
    if a.shape[2] == 1:
        return gx[..., 0], gy[..., 0], length[..., 0]
    r, g, b = 0, 1, 2  # channel indices of an RGB array
    # scalar code: start from red; green if strictly longer; then blue if strictly longer
    pick_s = np.where(length[..., g] > length[..., r], g, r)
    best_s = np.take_along_axis(length, pick_s[..., None], 2)[..., 0]
    pick_s = np.where(length[..., b] > best_s, b, pick_s)
    # vectorised code: red only if strictly longer than green; then that only if longer than blue
    pick_v = np.where(length[..., r] > length[..., g], r, g)
    best_v = np.take_along_axis(length, pick_v[..., None], 2)[..., 0]
    pick_v = np.where(best_v > length[..., b], pick_v, b)
    simd = _simd_columns(visible_nc)[1:visible_nc]
    pick = np.where(simd[None, :], pick_v, pick_s)[..., None]
    return (
        np.take_along_axis(gx, pick, 2)[..., 0],
        np.take_along_axis(gy, pick, 2)[..., 0],
        np.take_along_axis(length, pick, 2)[..., 0],
    )


def _orientation_bins(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The 18-way signed orientation bin of each gradient (first best wins, as in dlib)."""
    fx, fy = gx.astype(np.float32), gy.astype(np.float32)
    best_dot = np.zeros(fx.shape, dtype=np.float32)
    best_o = np.zeros(fx.shape, dtype=np.int64)
    for o in range(9):
        dot = fx * _DIRECTIONS[o, 0] + fy * _DIRECTIONS[o, 1]
        up = dot > best_dot
        best_dot = np.where(up, dot, best_dot)
        best_o = np.where(up, o, best_o)
        down = -dot > best_dot
        best_dot = np.where(down, -dot, best_dot)
        best_o = np.where(down, o + 9, best_o)
    return best_o


def fhog(img: np.ndarray, cell_size: int = 8) -> np.ndarray:
    """dlib's FHOG of an H x W x 3 RGB (or H x W grey) uint8 image: a (rows, cols, 31) float32 array."""
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"expected an HxW or HxWx3 uint8 image, got {img.shape} {img.dtype}")
    if cell_size < 2:
        raise ValueError(f"cell_size must be >= 2, got {cell_size}")
    h, w = img.shape[:2]
    hog_r, hog_c, _ = fhog_shape(h, w, cell_size)
    if hog_r == 0 or hog_c == 0:
        return np.zeros((hog_r, hog_c, CHANNELS), dtype=np.float32)
    cells_r, cells_c = hog_r + 2, hog_c + 2
    visible_nr = min(cells_r * cell_size, h) - 1
    visible_nc = min(cells_c * cell_size, w) - 1

    gx, gy, length = _gradients(img, visible_nr, visible_nc)
    magnitude = np.sqrt(length.astype(np.float32))
    bins = _orientation_bins(gx, gy)

    # bilinear votes into the 4 cells around each pixel; hist has a 1-cell border all round
    ys = np.arange(1, visible_nr, dtype=np.float32)
    xs = np.arange(1, visible_nc, dtype=np.float32)
    yp = (ys + np.float32(0.5)) / np.float32(cell_size) - np.float32(0.5)
    xp = (xs + np.float32(0.5)) / np.float32(cell_size) - np.float32(0.5)
    iy, ix = np.floor(yp).astype(np.int64), np.floor(xp).astype(np.int64)
    vy0, vx0 = yp - iy, xp - ix
    vy1, vx1 = np.float32(1.0) - vy0, np.float32(1.0) - vx0
    hist = np.zeros((cells_r + 2) * (cells_c + 2) * 18, dtype=np.float64)
    row_stride, col_stride = (cells_c + 2) * 18, 18
    base = (iy[:, None] + 1) * row_stride + (ix[None, :] + 1) * col_stride + bins
    for dy, wy in ((0, vy1), (1, vy0)):
        for dx, wx in ((0, vx1), (1, vx0)):
            weight = wy[:, None] * (wx[None, :] * magnitude)
            index = base + dy * row_stride + dx * col_stride
            hist += np.bincount(index.ravel(), weights=weight.ravel(), minlength=hist.size)
    cells = hist.astype(np.float32).reshape(cells_r + 2, cells_c + 2, 18)[1:-1, 1:-1]

    unsigned = cells[..., :9] + cells[..., 9:]
    energy = (unsigned * unsigned).sum(axis=2, dtype=np.float32)  # (cells_r, cells_c)
    # the 4 blocks of 2x2 cells containing each inner cell: below-right, above-right, below-left, above-left
    e = energy
    blocks = np.stack(
        [
            e[1:-1, 1:-1] + e[1:-1, 2:] + e[2:, 1:-1] + e[2:, 2:],
            e[:-2, 1:-1] + e[:-2, 2:] + e[1:-1, 1:-1] + e[1:-1, 2:],
            e[1:-1, :-2] + e[1:-1, 1:-1] + e[2:, :-2] + e[2:, 1:-1],
            e[:-2, :-2] + e[:-2, 1:-1] + e[1:-1, :-2] + e[1:-1, 1:-1],
        ],
        axis=-1,
    )  # (hog_r, hog_c, 4)
    nn = np.float32(0.2) * np.sqrt(blocks + _EPS)
    n = np.float32(0.1) / nn
    inner = cells[1:-1, 1:-1]  # (hog_r, hog_c, 18)
    signed = np.minimum(inner[..., None], nn[:, :, None, :]) * n[:, :, None, :]  # (..., 18, 4)
    folded = inner[..., :9] + inner[..., 9:]
    unsigned_h = np.minimum(folded[..., None], nn[:, :, None, :]) * n[:, :, None, :]
    out = np.empty((hog_r, hog_c, CHANNELS), dtype=np.float32)
    out[..., :18] = signed.sum(axis=-1)
    out[..., 18:27] = unsigned_h.sum(axis=-1)
    out[..., 27:] = signed.sum(axis=2) * _TEXTURE
    return out


def fhog_vector(img: np.ndarray, cell_size: int = 8) -> np.ndarray:
    """The FHOG as OpenFace flattens it (``Extract_FHOG_descriptor``): cell rows, then cell columns,
    then the 31 channels, as float64."""
    return fhog(img, cell_size).astype(np.float64).ravel()
