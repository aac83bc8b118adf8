"""Statistics for metrics: seeded vectorised bootstrap, Wilson interval, paired tests, Holm.

numpy only. The bootstrap is written in terms of **resampling weights**: a resample is a matrix row
of multiplicities (how often each observation was drawn), so a statistic is any vectorised function
``statistic(data, weights) -> (b, ...)``. This covers plain means, ratios of sums, metrics computed
from a weighted confusion matrix, and the cluster bootstrap (every observation of a drawn cluster gets
the cluster's multiplicity, so claims of one image move together) without ragged arrays.

Resamples are drawn in chunks to bound memory; the draws are one stream from
``numpy.random.default_rng(seed)``, so they do not depend on the chunk size (a statistic computed
with BLAS may still differ in the last bit between chunk shapes). Results are identical for a seed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from tag_bench.errors import TagBenchError

#: statistic(data, weights) -> array of shape (b, ...): weights is (b, n) multiplicities.
WeightedStatistic = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: Default memory for one chunk of resampling weights (float64, resamples x observations).
DEFAULT_MAX_BYTES = 128 * 2**20
#: Up to this many resampling units a whole chunk is drawn and counted at once.
_SMALL_UNITS = 50_000
#: The fewest resamples a reported interval or bootstrap p-value is computed from (0 means none at all):
#: with fewer, the 2.5th and 97.5th percentiles are a handful of draws and the interval is noise.
MIN_BOOTSTRAP_RESAMPLES = 200


class ResamplesError(TagBenchError, ValueError):
    """Too few bootstrap resamples for an interval; the message names the minimum."""


def check_n_resamples(n_resamples: int, *, allow_zero: bool = True, what: str = "n_resamples") -> int:
    """``n_resamples`` when it is 0 (no intervals; only where ``allow_zero``) or at least
    :data:`MIN_BOOTSTRAP_RESAMPLES`; else a :class:`ResamplesError` naming the minimum (and ``what``,
    the parameter, unless it is empty)."""
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)):
        raise ResamplesError(
            f"{what or 'the number of resamples'} must be a whole number, got {n_resamples!r}"
        )
    if n_resamples == 0 and allow_zero:
        return 0
    if n_resamples < MIN_BOOTSTRAP_RESAMPLES:
        zero = "0 (no confidence intervals) or " if allow_zero else ""
        head = f"{what}={n_resamples}: " if what else ""
        raise ResamplesError(
            f"{head}{n_resamples} bootstrap resamples are too few for a confidence interval or p-value: "
            f"give {zero}at least {MIN_BOOTSTRAP_RESAMPLES}"
        )
    return int(n_resamples)


class PairedResult(NamedTuple):
    """Paired comparison ``a - b``: observed difference, percentile CI and two-sided p-value
    (floats, or arrays with one entry per metric)."""

    diff: Any
    ci_low: Any
    ci_high: Any
    p_value: Any


class McNemarResult(NamedTuple):
    """Discordant pair counts (b: a right / b wrong, c: a wrong / b right) and the exact p-value."""

    b: int
    c: int
    p_value: float


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Vectorised mean of ``values`` (n,) or (n, k) under each row of ``weights`` (b, n)."""
    values = np.asarray(values, dtype=float)
    total = weights.sum(axis=1)
    sums = weights @ values
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / (total if sums.ndim == 1 else total[:, None])


def resample_weights(
    n: int,
    *,
    n_resamples: int,
    seed: int | np.random.Generator = 0,
    clusters: ArrayLike | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Iterator[np.ndarray]:
    """Yield float (b, n) multiplicity matrices, ``n_resamples`` rows in total.

    Without ``clusters`` each row is n draws with replacement of the n observations. With
    ``clusters`` (one id per observation) the clusters are drawn with replacement and each
    observation receives its cluster's multiplicity. Each chunk holds at most about ``max_bytes``.
    """
    if n < 1:
        raise ValueError("the bootstrap needs at least one observation")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if clusters is None:
        inverse = None
        n_units = n
    else:
        ids = np.asarray(clusters)
        if ids.shape != (n,):
            raise ValueError(f"clusters must have one id per observation ({n}), got shape {ids.shape}")
        _, inverse = np.unique(ids, return_inverse=True)
        n_units = int(inverse.max()) + 1
    rows = max(1, max_bytes // (8 * max(n, n_units)))
    done = 0
    while done < n_resamples:
        b = min(rows, n_resamples - done)
        if n_units <= _SMALL_UNITS:
            # one bincount over the whole chunk: its output is small enough to stay in cache
            draws = rng.integers(0, n_units, size=(b, n_units))
            draws += (np.arange(b) * n_units)[:, None]
            counts = np.bincount(draws.ravel(), minlength=b * n_units).reshape(b, n_units).astype(float)
        else:
            # row by row (same random stream): a chunk-wide bincount would scatter over b * n bins
            counts = np.empty((b, n_units))
            for r in range(b):
                counts[r] = np.bincount(rng.integers(0, n_units, size=n_units), minlength=n_units)
        yield counts if inverse is None else counts[:, inverse]
        done += b


def bootstrap_distribution(
    data: ArrayLike,
    statistic: WeightedStatistic = weighted_mean,
    *,
    clusters: ArrayLike | None = None,
    n_resamples: int = 1000,
    seed: int | np.random.Generator = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """The statistic on every resample, shape (n_resamples, ...). ``data`` is indexed by observation."""
    arr = np.asarray(data)
    parts = [
        np.asarray(statistic(arr, w))
        for w in resample_weights(
            len(arr), n_resamples=n_resamples, seed=seed, clusters=clusters, max_bytes=max_bytes
        )
    ]
    return np.concatenate(parts, axis=0)


def percentile_interval(distribution: np.ndarray, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along axis 0, ignoring resamples where the statistic is undefined (NaN).

    Columns that are NaN in every resample give NaN bounds.
    """
    _check_level(ci)
    alpha = (1.0 - ci) / 2.0
    dist = np.asarray(distribution, dtype=float)
    q = [100 * alpha, 100 * (1 - alpha)]
    if not np.isnan(dist).any():
        lo, hi = np.percentile(dist, q, axis=0)
    else:
        with warnings.catch_warnings():  # all-NaN columns are expected: they give NaN bounds
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanpercentile(dist, q, axis=0)
    return lo, hi


def bootstrap_ci(
    data: ArrayLike,
    statistic: WeightedStatistic = weighted_mean,
    *,
    clusters: ArrayLike | None = None,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int | np.random.Generator = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Seeded percentile bootstrap interval ``(low, high)`` of a vectorised weighted statistic.

    ``statistic(data, weights)`` gets the full data and a (b, n) weight matrix and returns (b,) or
    (b, k); the bounds have the matching shape (floats for a scalar statistic). ``clusters`` gives
    one cluster id per observation: clusters are resampled whole (cluster bootstrap).
    """
    dist = bootstrap_distribution(
        data, statistic, clusters=clusters, n_resamples=n_resamples, seed=seed, max_bytes=max_bytes
    )
    lo, hi = percentile_interval(dist, ci)
    if np.ndim(lo) == 0:
        return float(lo), float(hi)
    return lo, hi


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    statistic: WeightedStatistic = weighted_mean,
    *,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int | np.random.Generator = 0,
    clusters: ArrayLike | None = None,
) -> PairedResult:
    """Paired bootstrap of ``statistic(a) - statistic(b)`` over the same observations.

    ``a`` and ``b`` hold the per-observation data of two systems in the same order (same sample
    ids); one weight matrix drives both, so the pairing is kept. A statistic returning (b,) gives float
    results; one returning (b, M) (several metrics at once) gives arrays of M. The p-value is two-sided,
    from inverting the percentile interval: ``p = min(1, 2 * (1 + #{d* on the far side of 0}) / (B + 1))``
    where the far side is the smaller tail; so p < 1 - ci roughly when the CI excludes 0, and p is
    never exactly 0. An undefined statistic gives NaN.
    """
    xa, xb = np.asarray(a), np.asarray(b)
    if len(xa) != len(xb):
        raise ValueError(f"paired data must have equal length, got {len(xa)} and {len(xb)}")
    if len(xa) == 0:
        raise ValueError("paired bootstrap needs at least one observation")
    ones = np.ones((1, len(xa)))
    diff = np.asarray(statistic(xa, ones))[0] - np.asarray(statistic(xb, ones))[0]
    parts = [
        np.asarray(statistic(xa, w)) - np.asarray(statistic(xb, w))
        for w in resample_weights(len(xa), n_resamples=n_resamples, seed=seed, clusters=clusters)
    ]
    dist = np.concatenate(parts).astype(float)
    lo, hi = percentile_interval(dist, ci)
    if dist.ndim == 1:
        if math.isnan(float(diff)):
            return PairedResult(math.nan, math.nan, math.nan, math.nan)
        return PairedResult(float(diff), float(lo), float(hi), bootstrap_p_value(dist))
    p = np.array([bootstrap_p_value(dist[:, j]) for j in range(dist.shape[1])])
    undefined = np.isnan(diff)
    return PairedResult(
        diff, np.where(undefined, np.nan, lo), np.where(undefined, np.nan, hi), np.where(undefined, np.nan, p)
    )


def bootstrap_p_value(differences: ArrayLike) -> float:
    """Two-sided p-value of "no difference" from bootstrap differences (NaN resamples ignored).

    ``min(1, 2 * (1 + smaller tail count) / (B + 1))`` where the tails are d* <= 0 and d* >= 0; NaN
    when no resample is defined.
    """
    d = np.asarray(differences, dtype=float).ravel()
    d = d[~np.isnan(d)]
    if d.size == 0:
        return math.nan
    tail = min(int(np.count_nonzero(d <= 0)), int(np.count_nonzero(d >= 0)))
    return min(1.0, 2.0 * (1 + tail) / (d.size + 1))


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (no continuity correction)."""
    _check_level(confidence)
    if n <= 0:
        raise ValueError("the Wilson interval needs n >= 1")
    if not 0 <= k <= n:
        raise ValueError(f"k must be within [0, n], got k={k}, n={n}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def newcombe_paired_interval(
    both: int, only_a: int, only_b: int, neither: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, method 10) for ``p_a - p_b`` of two paired proportions:
    ``both`` pairs are yes under a and b, ``only_a`` yes under a only, ``only_b`` under b only. It combines
    the Wilson intervals of both margins with their correlation, and unlike the bootstrap it has width when
    no pair is discordant (e.g. two rates both at 0). Bounds within [-1, 1]."""
    n = both + only_a + only_b + neither
    if n <= 0:
        raise ValueError("the paired interval needs at least one pair")
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = wilson_interval(both + only_a, n, confidence)
    l2, u2 = wilson_interval(both + only_b, n, confidence)
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    phi = (both * neither - only_a * only_b) / math.sqrt(margins) if margins > 0 else 0.0
    d = p1 - p2
    low = d - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = d + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return max(-1.0, low), min(1.0, high)


def quantile_interval(
    values: ArrayLike, q: float, confidence: float = 0.95
) -> tuple[float, float | None, float | None]:
    """(estimate, low, high) of the ``q`` quantile of ``values``: the order statistic of rank ceil(q n)
    and the distribution-free interval between the order statistics whose ranks bound a Binomial(n, q)
    count with the given confidence. When n is too small for such ranks to exist (e.g. n < 72 for the
    95th percentile at 95 %), the bounds are None: no interval is better than one that is too short."""
    _check_level(confidence)
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        raise ValueError("a quantile needs at least one value")
    rank = min(n, max(1, math.ceil(q * n - 1e-9)))  # 1-based rank of the estimate
    k = np.arange(n + 1, dtype=float)
    # log pmf of Binomial(n, q) at 0..n, accumulated as log C(n, k) (exact in log space for any n)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log((n - k[:-1]) / (k[:-1] + 1)))])
    log_pmf = log_choose + k * math.log(q) + (n - k) * math.log1p(-q)
    pmf = np.exp(log_pmf - log_pmf.max())
    cdf = np.cumsum(pmf / pmf.sum())  # cdf[j] = P(B <= j)
    alpha = (1.0 - confidence) / 2.0
    # X_(l) <= quantile <= X_(u) holds when l <= B <= u - 1
    low_rank = int(np.searchsorted(cdf, alpha, side="right"))  # largest l with P(B <= l - 1) <= alpha
    high_rank = (
        int(np.searchsorted(cdf, 1.0 - alpha, side="left")) + 1
    )  # smallest u: P(B <= u - 1) >= 1 - alpha
    if low_rank < 1 or high_rank > n:
        return float(x[rank - 1]), None, None
    low_rank, high_rank = min(low_rank, rank), max(high_rank, rank)
    return float(x[rank - 1]), float(x[low_rank - 1]), float(x[high_rank - 1])


def binom_two_sided_half(k: int, n: int) -> float:
    """Exact two-sided binomial p-value of k successes in n trials under p = 0.5."""
    if n == 0:
        return 1.0
    m = min(k, n - k)
    # log pmf(j) for j = 0..m by the ratio pmf(j+1)/pmf(j) = (n-j)/(j+1), in log space for large n
    j = np.arange(m, dtype=float)
    log_pmf = np.concatenate([[0.0], np.cumsum(np.log((n - j) / (j + 1)))]) - n * math.log(2.0)
    top = log_pmf.max()
    log_cdf = top + math.log(float(np.exp(log_pmf - top).sum()))
    return min(1.0, 2.0 * math.exp(log_cdf))


def mcnemar_exact(correct_a: ArrayLike, correct_b: ArrayLike) -> McNemarResult:
    """Exact McNemar test on paired correctness: two-sided binomial test of b vs c at p = 0.5."""
    ca = np.asarray(correct_a, dtype=bool)
    cb = np.asarray(correct_b, dtype=bool)
    if ca.shape != cb.shape or ca.ndim != 1:
        raise ValueError(f"paired correctness arrays must be 1-D of equal length, got {ca.shape}, {cb.shape}")
    b = int(np.count_nonzero(ca & ~cb))
    c = int(np.count_nonzero(~ca & cb))
    return McNemarResult(b, c, binom_two_sided_half(b, b + c))


def holm(p_values: Sequence[float] | ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control), in the input order."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1:
        raise ValueError("holm expects a 1-D sequence of p-values")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must be numbers in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
