"""Agreement between raters on nominal labels: Cohen's kappa and Krippendorff's alpha, with the
seeded bootstrap over items (numpy; the point estimate of kappa is sklearn's ``cohen_kappa_score``,
checked against this vectorised form in the tests, and alpha against the ``krippendorff`` package).

Both are written as functions of a sum over items of per-item contributions (a confusion matrix, a
coincidence matrix), so one resample is a row of item multiplicities and a chunk of resamples is one
matrix product (:func:`tag_bench.metrics.stats.resample_weights`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tag_bench.metrics.stats import percentile_interval, resample_weights


def _one_hot_pairs(a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(a), k * k))
    out[np.arange(len(a)), a * k + b] = 1.0
    return out


def kappa_from_confusion(conf: np.ndarray) -> np.ndarray:
    """Cohen's kappa of (..., k, k) confusion matrices (NaN where chance agreement is 1)."""
    total = conf.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        po = np.trace(conf, axis1=-2, axis2=-1) / total
        pe = (conf.sum(axis=-1) * conf.sum(axis=-2)).sum(axis=-1) / total**2
        return np.where(pe < 1.0, (po - pe) / (1.0 - pe), np.nan)


def cohen_kappa_bootstrap(
    a: Sequence[int], b: Sequence[int], k: int, *, n_resamples: int, seed: int = 0, ci: float = 0.95
) -> tuple[float, float | None, float | None]:
    """(kappa, low, high): Cohen's kappa of two raters' labels (ints in [0, k)) and its percentile bootstrap
    interval over items (None without resamples or when undefined in every resample)."""
    x, y = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    return _bootstrap_over_items(_one_hot_pairs(x, y, k), k, kappa_from_confusion, n_resamples, seed, ci)


def _bootstrap_over_items(
    rows: np.ndarray,
    k: int,
    statistic: Callable[[np.ndarray], np.ndarray],
    n_resamples: int,
    seed: int,
    ci: float,
) -> tuple[float, float | None, float | None]:
    """(point, low, high) of ``statistic`` of the (k, k) matrix summed from per-item ``rows`` (items, k * k),
    with its percentile bootstrap interval over items (None without resamples or when undefined)."""
    point = float(statistic(rows.sum(axis=0).reshape(k, k)))
    if not n_resamples or not len(rows):
        return point, None, None
    dist = np.concatenate(
        [
            statistic((w @ rows).reshape(-1, k, k))
            for w in resample_weights(len(rows), n_resamples=n_resamples, seed=seed)
        ]
    )
    lo, hi = percentile_interval(dist, ci)
    if np.isnan(lo) or np.isnan(hi):
        return point, None, None
    return point, float(lo), float(hi)


def _coincidence_rows(ratings: np.ndarray, k: int) -> np.ndarray:
    """(U, k * k) per-item contributions to the coincidence matrix; ``ratings`` (U, R) ints, -1 = none."""
    counts = np.stack([(ratings == c).sum(axis=1) for c in range(k)], axis=1).astype(float)  # (U, k)
    m = counts.sum(axis=1)
    usable = m >= 2
    outer = counts[:, :, None] * counts[:, None, :] - np.eye(k)[None] * counts[:, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = np.where(usable[:, None, None], outer / np.where(usable, m - 1, 1.0)[:, None, None], 0.0)
    return rows.reshape(len(ratings), k * k)


def alpha_from_coincidence(o: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha (nominal) of (..., k, k) coincidence matrices (NaN where undefined)."""
    k = o.shape[-1]
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    off = 1.0 - np.eye(k)
    observed = (o * off).sum(axis=(-2, -1))
    expected = (n_c[..., :, None] * n_c[..., None, :] * off).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - (n - 1.0) * observed / expected, np.nan)


def krippendorff_alpha(
    ratings: np.ndarray, k: int, *, n_resamples: int = 0, seed: int = 0, ci: float = 0.95
) -> tuple[float, float | None, float | None]:
    """(alpha, low, high): Krippendorff's alpha for nominal labels of several raters. ``ratings`` is (items,
    raters) of ints in [0, k), -1 where a rater gave no label; items with fewer than two labels do not
    count. The interval is the percentile bootstrap over items (None without resamples)."""
    r = np.asarray(ratings, dtype=np.int64)
    return _bootstrap_over_items(_coincidence_rows(r, k), k, alpha_from_coincidence, n_resamples, seed, ci)
