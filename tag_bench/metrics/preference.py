"""Bradley-Terry ratings from pairwise preferences, fitted for many bootstrap resamples at once.

numpy only. A comparison is an outcome ``y`` of candidate ``i`` against candidate ``j`` (1: ``i``
preferred, 0: ``j`` preferred, 0.5: a tie, i.e. half a win each), made on one sample. The model is

    P(i preferred to j) = σ(θ_i − θ_j + γ z)

with an optional covariate ``z`` per comparison (the length-controlled rating of ``tag-bench judge``:
Arena's style control). The fit maximises the log-likelihood minus a ridge ``α (Σ θ² + γ²)`` (choix's
``alpha``): the ridge keeps a candidate that wins or loses every comparison finite and makes the
maximiser unique (with ``α > 0`` its θ sum to 0), and is negligible against a few comparisons.

Every resample is a row of multiplicities over **samples** (:func:`tag_bench.metrics.stats.resample_weights`),
so the comparisons of one sample move together; the fits of a chunk of resamples are one batched Newton
iteration (a (B, m, m) linear solve per step). Without a covariate the likelihood depends on the data only
through the weighted wins and counts per pair, so a resample costs one matrix product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tag_bench.metrics.stats import percentile_interval, resample_weights

#: Elo points per unit of log-odds: 100 points apart is a 64 % chance of being preferred.
ELO = 400.0 / math.log(10.0)
#: The default ridge α of the fits (see the module docstring).
DEFAULT_RIDGE = 0.01
_MAX_STEP = 4.0  # a Newton step moves no parameter further than this (log-odds): damped near separation
_TOL = 1e-10
_MAX_ITER = 200


@dataclass(frozen=True)
class Comparisons:
    """Outcomes of comparisons between ``m`` candidates on ``n_samples`` samples."""

    m: int
    n_samples: int
    i: np.ndarray  # (C,) int: one candidate
    j: np.ndarray  # (C,) int: the other (i != j)
    y: np.ndarray  # (C,) float in {0, 0.5, 1}: 1 when i was preferred
    sample: np.ndarray  # (C,) int in [0, n_samples)
    z: np.ndarray | None = None  # (C,) float covariate, or None

    def __post_init__(self) -> None:
        c = len(self.y)
        for name in ("i", "j", "sample") + (("z",) if self.z is not None else ()):
            if len(getattr(self, name)) != c:
                raise ValueError(f"comparisons: {name} has {len(getattr(self, name))} entries, y has {c}")
        if c and (
            np.any(self.i == self.j)
            or min(self.i.min(), self.j.min()) < 0
            or max(self.i.max(), self.j.max()) >= self.m
        ):
            raise ValueError("comparisons: i and j must be distinct candidates in [0, m)")

    def subset(self, mask: np.ndarray) -> Comparisons:
        return Comparisons(
            self.m, self.n_samples, self.i[mask], self.j[mask], self.y[mask], self.sample[mask],
            None if self.z is None else self.z[mask],
        )  # fmt: skip

    def oriented(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """(pair id, y, sample, z, order) with every comparison turned so that i < j (y and z flipped where
        it was not), pairs numbered over the upper triangle; ``order`` sorts by pair id."""
        swap = self.i > self.j
        lo, hi = np.where(swap, self.j, self.i), np.where(swap, self.i, self.j)
        y = np.where(swap, 1.0 - self.y, self.y)
        z = None if self.z is None else np.where(swap, -self.z, self.z)
        pair = pair_index(self.m)[lo, hi]
        return pair, y, self.sample, z, np.argsort(pair, kind="stable")


def pair_index(m: int) -> np.ndarray:
    """(m, m) ids of the pairs i < j, in row order (-1 elsewhere)."""
    out = np.full((m, m), -1, dtype=np.int64)
    iu = np.triu_indices(m, 1)
    out[iu] = np.arange(len(iu[0]))
    return out


def incidence(m: int) -> np.ndarray:
    """(P, m): +1 at i and −1 at j for each pair i < j."""
    iu = np.triu_indices(m, 1)
    e = np.zeros((len(iu[0]), m))
    e[np.arange(len(iu[0])), iu[0]] = 1.0
    e[np.arange(len(iu[0])), iu[1]] = -1.0
    return e


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _newton(grad_hess, params: np.ndarray) -> np.ndarray:
    """Maximise a concave objective from ``params`` (B, k): ``grad_hess(params) -> (grad, neg_hessian)``."""
    for _ in range(_MAX_ITER):
        grad, neg_h = grad_hess(params)
        step = np.linalg.solve(neg_h, grad[..., None])[..., 0]
        big = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(big > _MAX_STEP, step * (_MAX_STEP / np.maximum(big, 1e-300)), step)
        params = params + step
        if not np.isfinite(big).all() or big.max() < _TOL:
            break
    return params


def fit_pairs(wins: np.ndarray, counts: np.ndarray, m: int, ridge: float = DEFAULT_RIDGE) -> np.ndarray:
    """θ (B, m) of the plain model from the (weighted) wins of i over j and the comparison counts per pair
    i < j, each (B, P): ties count half a win each."""
    if ridge <= 0:
        raise ValueError("the ridge must be positive")
    e = incidence(m)
    b = wins.shape[0]

    def grad_hess(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = _sigmoid(theta @ e.T)  # (B, P): P(i preferred) per pair
        grad = (wins - counts * p) @ e - 2 * ridge * theta
        s = counts * p * (1 - p)
        neg_h = np.einsum("bp,pi,pk->bik", s, e, e) + 2 * ridge * np.eye(m)
        return grad, neg_h

    return _newton(grad_hess, np.zeros((b, m)))


def fit_covariate(comps: Comparisons, weights: np.ndarray, ridge: float = DEFAULT_RIDGE) -> np.ndarray:
    """(θ, γ) (B, m + 1) of the model with the covariate ``z``; ``weights`` (B, n_samples)."""
    if comps.z is None:
        raise ValueError("fit_covariate needs comparisons with a covariate z")
    if ridge <= 0:
        raise ValueError("the ridge must be positive")
    m = comps.m
    pair, y, sample, z, order = comps.oriented()
    assert z is not None
    pair, y, sample, z = pair[order], y[order], sample[order], z[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if len(pair) else np.array([], dtype=np.int64)
    present = pair[starts]
    e = incidence(m)[present]  # (P', m): only the pairs with comparisons
    w = weights[:, sample]  # (B, C)
    b = weights.shape[0]
    zz = z * z

    def seg(x: np.ndarray) -> np.ndarray:
        return np.add.reduceat(x, starts, axis=1)

    def grad_hess(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta, gamma = params[:, :m], params[:, m]
        diff = theta @ e.T  # (B, P')
        eta = np.repeat(diff, np.diff(np.r_[starts, len(pair)]), axis=1) + gamma[:, None] * z
        p = _sigmoid(eta)
        r = w * (y - p)
        s = w * p * (1 - p)
        sz = s * z
        grad = np.empty((b, m + 1))
        grad[:, :m] = seg(r) @ e - 2 * ridge * theta
        grad[:, m] = (r * z).sum(axis=1) - 2 * ridge * gamma
        neg_h = np.empty((b, m + 1, m + 1))
        neg_h[:, :m, :m] = np.einsum("bp,pi,pk->bik", seg(s), e, e)
        cross = seg(sz) @ e
        neg_h[:, :m, m] = cross
        neg_h[:, m, :m] = cross
        neg_h[:, m, m] = (s * zz).sum(axis=1)
        neg_h += 2 * ridge * np.eye(m + 1)
        return grad, neg_h

    if not len(pair):
        return np.zeros((b, m + 1))
    return _newton(grad_hess, np.zeros((b, m + 1)))


def reachable(counts: np.ndarray, m: int, start: int | None) -> np.ndarray:
    """(B, m) bool: which candidates the comparison graph of each resample joins to ``start`` (None: to
    every other candidate, i.e. the whole graph is connected, the same value for each)."""
    iu = np.triu_indices(m, 1)
    adj = np.zeros((counts.shape[0], m, m), dtype=bool)
    adj[:, iu[0], iu[1]] = counts > 0
    adj |= adj.transpose(0, 2, 1)
    seen = np.zeros((counts.shape[0], m), dtype=bool)
    seen[:, 0 if start is None else start] = True
    for _ in range(m):
        grown = seen | (np.einsum("bi,bik->bk", seen.astype(float), adj.astype(float)) > 0)
        if (grown == seen).all():
            break
        seen = grown
    if start is None:
        return np.repeat(seen.all(axis=1, keepdims=True), m, axis=1)
    return seen


def components(i: np.ndarray, j: np.ndarray, m: int) -> list[list[int]]:
    """Connected components of the comparison graph (candidate indices), each sorted, in order of their
    smallest member."""
    parent = list(range(m))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for k in range(m):
        groups.setdefault(find(k), []).append(k)
    return sorted(groups.values(), key=lambda g: g[0])


@dataclass
class RatingFit:
    """Ratings (Elo scale) of one fit: the estimate, and the bootstrap distribution when resampled."""

    rating: np.ndarray  # (m,) NaN where not identified (not joined to the anchor)
    distribution: np.ndarray | None  # (n_resamples, m), NaN in resamples where not identified
    coefficient: float | None = None  # γ on the Elo scale (covariate fits)
    coefficient_distribution: np.ndarray | None = None

    def interval(self, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        if self.distribution is None:
            nan = np.full(len(self.rating), np.nan)
            return nan, nan
        return percentile_interval(self.distribution, ci)


def _anchored(theta: np.ndarray, ok: np.ndarray, anchor: int | None) -> np.ndarray:
    """θ shifted so that the anchor is 0 (or the mean is 0), NaN where not joined to the anchor."""
    if anchor is None:
        out = theta - theta.mean(axis=1, keepdims=True)
    else:
        out = theta - theta[:, anchor : anchor + 1]
    return np.where(ok, out, np.nan)


def pair_sums(comps: Comparisons) -> tuple[np.ndarray, np.ndarray]:
    """(S, P) wins of i over j and comparisons per sample and pair i < j."""
    p = comps.m * (comps.m - 1) // 2
    pair, y, sample, _z, _order = comps.oriented()
    wins = np.zeros((comps.n_samples, p))
    counts = np.zeros((comps.n_samples, p))
    np.add.at(wins, (sample, pair), y)
    np.add.at(counts, (sample, pair), 1.0)
    return wins, counts


def bradley_terry(
    comps: Comparisons,
    *,
    anchor: int | None = None,
    covariate: bool = False,
    ridge: float = DEFAULT_RIDGE,
    n_resamples: int = 1000,
    seed: int = 0,
) -> RatingFit:
    """Ratings (Elo scale) of the comparisons, anchored at candidate ``anchor`` (None: mean 0), with the
    bootstrap distribution over samples (``n_resamples`` 0: none). ``covariate``: fit γ of ``comps.z``
    too. A candidate the comparison graph does not join to the anchor (to every other candidate, for the
    mean anchor) has NaN: its rating is not identified."""
    m = comps.m
    wins_s, counts_s = pair_sums(comps)

    def fit(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        counts = weights @ counts_s
        ok = reachable(counts, m, anchor)
        if covariate:
            params = fit_covariate(comps, weights, ridge)
            return _anchored(params[:, :m], ok, anchor) * ELO, np.where(
                ok.all(axis=1), params[:, m], np.nan
            ) * ELO
        return _anchored(fit_pairs(weights @ wins_s, counts, m, ridge), ok, anchor) * ELO, None

    point, gamma = fit(np.ones((1, comps.n_samples)))
    out = RatingFit(point[0], None, None if gamma is None else float(gamma[0]))
    if n_resamples and comps.n_samples:
        parts, gparts = [], []
        # rows per chunk: the covariate fit holds a few (rows, comparisons) arrays at once
        budget = 32 * 2**20 // (8 * max(len(comps.y), comps.n_samples, 1)) if covariate else None
        kwargs = {} if budget is None else {"max_bytes": max(1, budget) * 8 * comps.n_samples}
        for w in resample_weights(comps.n_samples, n_resamples=n_resamples, seed=seed, **kwargs):
            r, g = fit(w)
            parts.append(r)
            if g is not None:
                gparts.append(g)
        out.distribution = np.concatenate(parts)
        if gparts:
            out.coefficient_distribution = np.concatenate(gparts)
    return out
