"""Count-based bootstrap for large runs: resampling method ``strata/1``.

The sample bootstrap draws each sample's multiplicity; a statistic that is a function of column sums
only sees, for every group of samples whose rows are equal, the total multiplicity of the group. For
``n`` draws with replacement those totals are exactly Multinomial(n, group sizes / n). So the
bootstrap distribution of a statistic of column sums is the same whether one draws n indices per
resample (``O(n)``) or one multinomial count per distinct row (``O(distinct rows)``).

Three refinements keep the number of distinct rows small at any n:

- **Per output.** An interval is marginal: each output (metric) needs the joint law of only the
  columns it reads. Outputs are grouped by those columns (found by probing the statistic), and each
  group is resampled on its own columns, with its own draws.
- **Discrete columns exactly.** Columns of small non-negative integers (indicators, counts, the
  confusion cell) define the strata: the group's distinct rows over them.
- **Continuous columns by the central limit theorem within strata.** A column with other values
  (IoU sums, latencies, token counts) cannot define strata; given a stratum's count ``C`` its resampled
  sum is a sum of C draws from the stratum's values, replaced by ``C * mean + sqrt(C) * L z`` (L a square
  root of the stratum's covariance of those columns, z standard normal): exact in mean and
  covariance, and in distribution as C grows. The method is used only for large n
  (``tag_bench.scoring.aggregate.STRATA_MIN_SAMPLES``), where strata hold thousands of samples; the
  coverage simulation in ``tests/test_strata.py`` compares it with the per-sample bootstrap.

numpy only; seeded: the draws are one stream from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: Recorded in ``metrics.json`` (``bootstrap.resampling``) for intervals drawn this way.
METHOD = "strata/1"
#: The per-sample bootstrap of :func:`tag_bench.metrics.stats.resample_weights`.
PER_SAMPLE_METHOD = "multinomial/1"
#: A column whose values are all integers in [0, this] defines strata; any other column is continuous.
MAX_DISCRETE = 64
#: Multinomial counts drawn at once (resamples x strata), to bound memory.
_CHUNK_CELLS = 4_000_000

#: statistic(sums, outputs) -> (b, len(outputs)): the outputs at each row of (b, F) column sums.
SumsStatistic = Callable[[np.ndarray, Sequence[int]], np.ndarray]


def discrete_columns(compact: np.ndarray) -> np.ndarray:
    """(C,) bool: the columns whose values are all integers in [0, :data:`MAX_DISCRETE`]."""
    if compact.shape[0] == 0:
        return np.ones(compact.shape[1], dtype=bool)
    in_range = (compact.min(axis=0) >= 0) & (compact.max(axis=0) <= MAX_DISCRETE)
    out = np.zeros(compact.shape[1], dtype=bool)
    for c in np.flatnonzero(in_range):  # column by column: a copy of them all is half a gigabyte at 1M
        column = compact[:, c]
        out[c] = bool((column == np.floor(column)).all())
    return out


def dependencies(statistic: SumsStatistic, n_outputs: int, n_columns: int, seed: int = 12345) -> np.ndarray:
    """(M, F) bool: which columns of the sums each output depends on.

    Each column is scaled in turn at two random positive points; an output depends on a column when
    its value (or whether it is defined) changes at either point.
    """
    rng = np.random.default_rng(seed)
    dep = np.zeros((n_outputs, n_columns), dtype=bool)
    outputs = list(range(n_outputs))
    for _ in range(2):
        base = rng.uniform(50.0, 100.0, size=n_columns)
        probe = np.tile(base, (n_columns + 1, 1))
        probe[np.arange(1, n_columns + 1), np.arange(n_columns)] *= rng.uniform(1.3, 1.7, size=n_columns)
        with np.errstate(all="ignore"):
            values = np.asarray(statistic(probe, outputs), dtype=float)
        ref, moved = values[:1], values[1:]  # (1, M), (F, M)
        changed = ~((moved == ref) | (np.isnan(moved) & np.isnan(ref)))
        dep |= changed.T
    return dep


#: Strata found by counting (no sort) while the product of the columns' ranges stays below this.
_DENSE_CODES = 1 << 22


def _strata(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inverse, first): the stratum of each row of the non-negative integer matrix ``keys`` (n, d), and
    one row of each stratum. Rows are coded in mixed radix: counted when the codes are few,
    else sorted."""
    n, d = keys.shape
    if d == 0 or n == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(1 if n else 0, dtype=np.int64)
    radix = keys.max(axis=0) + 1
    if float(np.prod(radix.astype(float))) < _DENSE_CODES:
        code = np.zeros(n, dtype=np.int64)
        for j in range(d):
            code = code * radix[j] + keys[:, j]
        present = np.bincount(code, minlength=int(np.prod(radix)))
        label = np.cumsum(present > 0) - 1
        inverse = label[code]
        first = np.empty(int(label[-1]) + 1, dtype=np.int64)
        first[inverse] = np.arange(n)  # any member stands for its stratum: they agree on every key
        return inverse, first
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), first.astype(np.int64)


def strata_distribution(
    compact: np.ndarray,
    expand: Callable[[np.ndarray], np.ndarray],
    origin: np.ndarray,
    statistic: SumsStatistic,
    n_outputs: int,
    *,
    n_resamples: int,
    fill: np.ndarray,
    seed: int = 0,
    categorical: Sequence[int] = (),
) -> np.ndarray:
    """The statistic on ``n_resamples`` count-based resamples of the rows of ``compact``, (B, M).

    ``compact`` (n, C) holds the data of each sample; ``expand`` turns compact rows (u, C) into the full
    rows (u, F) whose column sums the statistic reads (e.g. a class index into a one-hot block);
    ``origin`` (F,) names the compact column each full column comes from. A continuous compact column
    (see :func:`discrete_columns`) must expand to itself: one full column, equal to it. ``categorical``:
    compact columns of codes (non-negative integers of any size, e.g. a confusion cell) that define strata
    whatever their values. ``fill`` (F,): the column sums of all the data, the value of the columns an
    output does not read.
    """
    n, n_compact = compact.shape
    if n < 1:
        raise ValueError("the bootstrap needs at least one observation")
    compact = np.asfortranarray(compact, dtype=float)  # read column by column below
    discrete = discrete_columns(compact)
    discrete[list(categorical)] = True
    n_full = origin.size
    for c in np.flatnonzero(~discrete):
        if np.count_nonzero(origin == c) != 1:
            raise ValueError(f"continuous compact column {c} must expand to exactly one full column")
    full_of = {int(c): int(np.flatnonzero(origin == c)[0]) for c in np.flatnonzero(~discrete)}
    point = np.asarray(fill, dtype=float).reshape(n_full)
    dep_full = dependencies(statistic, n_outputs, n_full)
    dep = np.zeros((n_outputs, n_compact), dtype=bool)
    for j in range(n_outputs):
        dep[j, np.unique(origin[dep_full[j]])] = True
    groups: dict[bytes, list[int]] = {}
    for j in range(n_outputs):
        groups.setdefault(dep[j].tobytes(), []).append(j)

    # the smallest integer type that holds each column: 67 int64 columns are half a gigabyte at 1M rows
    codes = {
        int(c): compact[:, c].astype(np.min_scalar_type(int(compact[:, c].max(initial=0))))
        for c in np.flatnonzero(discrete & dep.any(axis=0))
    }
    rng = np.random.default_rng(seed)
    out = np.full((n_resamples, n_outputs), np.nan)
    for outputs in groups.values():
        cols = dep[outputs[0]]
        disc = np.flatnonzero(cols & discrete)
        cont = np.flatnonzero(cols & ~discrete)
        keys = np.empty((n, disc.size), dtype=np.int64, order="F")
        for i, c in enumerate(disc):
            keys[:, i] = codes[int(c)]
        inverse, first = _strata(keys)
        sizes = np.bincount(inverse, minlength=first.size).astype(float)
        reps = expand(np.ascontiguousarray(compact[first]))  # (U, F): continuous columns set below
        means, chol = _moments(compact[:, cont], inverse, sizes)
        p = sizes / n
        touched = np.flatnonzero(np.isin(origin, disc))
        rows = max(1, _CHUNK_CELLS // max(1, first.size * max(1, cont.size)))
        done = 0
        while done < n_resamples:
            b = min(rows, n_resamples - done)
            counts = rng.multinomial(n, p, size=b).astype(float)  # (b, U)
            sums = np.tile(point, (b, 1))
            sums[:, touched] = counts @ reps[:, touched]
            if cont.size:
                z = rng.standard_normal(size=(b, first.size, cont.size))
                noise = np.einsum("ukl,bul->buk", chol, z) * np.sqrt(counts)[:, :, None]
                cont_sums = counts @ means + noise.sum(axis=1)
                for k, c in enumerate(cont):
                    sums[:, full_of[int(c)]] = cont_sums[:, k]
            with np.errstate(all="ignore"):
                out[done : done + b, outputs] = statistic(sums, outputs)
            done += b
    return out


def _moments(values: np.ndarray, inverse: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per stratum: the mean (U, k) of ``values`` (n, k) and a square root L (U, k, k) of their
    covariance, L L^T = cov (population form: the law of one draw from the stratum)."""
    u, k = sizes.size, values.shape[1]
    means = np.zeros((u, k))
    cov = np.zeros((u, k, k))
    if k == 0:
        return means, cov
    for a in range(k):
        means[:, a] = np.bincount(inverse, weights=values[:, a], minlength=u) / sizes
    for a in range(k):
        da = values[:, a] - means[inverse, a]
        for b in range(a + 1):
            db = values[:, b] - means[inverse, b]
            cov[:, a, b] = cov[:, b, a] = np.bincount(inverse, weights=da * db, minlength=u) / sizes
    # eigen-decomposition rather than Cholesky: defined for constant and collinear columns too
    w, vecs = np.linalg.eigh(cov)
    return means, vecs * np.sqrt(np.clip(w, 0.0, None))[:, None, :]
