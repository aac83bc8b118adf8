"""Bootstrap, Wilson, McNemar, Holm and the paired bootstrap against scipy and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from tag_bench.metrics import stats as st


def _ratio_of_sums(data: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w @ data[:, 0]) / (w @ data[:, 1])


def test_percentile_ci_of_a_mean_matches_scipy():
    rng = np.random.default_rng(0)
    x = rng.exponential(size=150)
    lo, hi = st.bootstrap_ci(x, n_resamples=20000, ci=0.95, seed=1)
    ref = sps.bootstrap(
        (x,), np.mean, n_resamples=20000, confidence_level=0.95, method="percentile", random_state=2
    ).confidence_interval
    se = x.std(ddof=1) / np.sqrt(x.size)
    # two independent Monte-Carlo estimates of the same percentiles
    assert lo == pytest.approx(ref.low, abs=0.08 * se)
    assert hi == pytest.approx(ref.high, abs=0.08 * se)
    assert lo < x.mean() < hi


def test_percentile_ci_of_a_ratio_statistic_matches_scipy_paired():
    rng = np.random.default_rng(5)
    den = rng.integers(0, 5, size=200).astype(float)  # e.g. claims per sample
    num = rng.binomial(den.astype(int), 0.3).astype(float)  # hits among them
    data = np.column_stack([num, den])
    lo, hi = st.bootstrap_ci(data, _ratio_of_sums, n_resamples=20000, seed=3)

    def ratio(a, b, axis=-1):
        return a.sum(axis=axis) / b.sum(axis=axis)

    ref = sps.bootstrap(
        (num, den),
        ratio,
        paired=True,
        vectorized=True,
        n_resamples=20000,
        method="percentile",
        random_state=4,
    ).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.004)
    assert hi == pytest.approx(ref.high, abs=0.004)


def test_deterministic_for_a_seed_and_independent_of_chunking(monkeypatch):
    x = np.random.default_rng(1).normal(size=300)

    def weights(**kw):
        return np.concatenate(list(st.resample_weights(300, n_resamples=500, seed=7, **kw)))

    w = weights()
    np.testing.assert_array_equal(w, weights(max_bytes=8 * 300 * 3))  # 3 rows per chunk
    monkeypatch.setattr(st, "_SMALL_UNITS", 0)  # the row-by-row path draws the same stream
    np.testing.assert_array_equal(w, weights())
    monkeypatch.undo()
    assert not np.array_equal(w, np.concatenate(list(st.resample_weights(300, n_resamples=500, seed=8))))

    a = st.bootstrap_distribution(x, n_resamples=500, seed=7)
    np.testing.assert_array_equal(a, st.bootstrap_distribution(x, n_resamples=500, seed=7))
    # BLAS may round a differently shaped product in the last bit; the draws are identical
    np.testing.assert_allclose(
        a, st.bootstrap_distribution(x, n_resamples=500, seed=7, max_bytes=7200), rtol=1e-12
    )
    assert st.bootstrap_ci(x, seed=7) == st.bootstrap_ci(x, seed=7)


def test_resample_weights_are_multiplicities():
    for w in st.resample_weights(40, n_resamples=30, seed=0, max_bytes=8 * 40 * 7):
        assert w.shape[1] == 40
        assert np.all(w.sum(axis=1) == 40)
        assert np.all(w == np.round(w)) and w.min() >= 0


def test_cluster_bootstrap_moves_clusters_together():
    clusters = np.repeat(np.arange(12), np.arange(1, 13))  # cluster i has i+1 observations
    n = clusters.size
    for w in st.resample_weights(n, n_resamples=50, seed=2, clusters=clusters):
        for c in range(12):
            assert np.unique(w[:, clusters == c], axis=1).shape[1] == 1  # equal weight inside a cluster
        # clusters were drawn 12 times in total per resample
        per_cluster = np.stack([w[:, clusters == c][:, 0] for c in range(12)], axis=1)
        assert np.all(per_cluster.sum(axis=1) == 12)


def test_cluster_bootstrap_is_wider_when_observations_within_a_cluster_agree():
    # 30 images x 10 claims each; all claims of an image succeed or fail together
    rng = np.random.default_rng(0)
    per_image = rng.random(30) < 0.5
    hits = np.repeat(per_image, 10).astype(float)
    image = np.repeat(np.arange(30), 10)
    naive = st.bootstrap_ci(hits, n_resamples=4000, seed=0)
    clustered = st.bootstrap_ci(hits, n_resamples=4000, seed=0, clusters=image)
    width_naive = naive[1] - naive[0]
    width_clustered = clustered[1] - clustered[0]
    # the effective sample size is 30 images, not 300 claims: about sqrt(10) ~ 3.2x wider
    assert width_clustered > 2.5 * width_naive
    image_level = st.bootstrap_ci(per_image.astype(float), n_resamples=4000, seed=0)
    assert width_clustered == pytest.approx(image_level[1] - image_level[0], rel=0.15)


def test_array_statistic_and_all_nan_columns():
    x = np.column_stack([np.arange(10.0), np.full(10, np.nan)])
    lo, hi = st.bootstrap_ci(x, n_resamples=200, seed=0)
    assert lo.shape == (2,) and np.isnan(lo[1]) and np.isnan(hi[1])
    assert 0 <= lo[0] < 4.5 < hi[0] <= 9


def test_wilson_interval_known_values():
    # closed form at k = 0: upper = z^2 / (n + z^2)
    z = sps.norm.ppf(0.975)
    assert st.wilson_interval(0, 10) == pytest.approx((0.0, z**2 / (10 + z**2)))
    for k, n, conf in [(8, 20, 0.95), (81, 263, 0.95), (1, 3, 0.9), (20, 20, 0.99), (0, 1, 0.95)]:
        ref = sps.binomtest(k, n).proportion_ci(confidence_level=conf, method="wilson")
        assert st.wilson_interval(k, n, conf) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert st.wilson_interval(8, 20) == pytest.approx((0.2188065, 0.6134185), abs=1e-7)
    with pytest.raises(ValueError, match="n >= 1"):
        st.wilson_interval(0, 0)
    with pytest.raises(ValueError, match="k must be"):
        st.wilson_interval(3, 2)


@pytest.mark.parametrize(
    "b,c", [(0, 0), (3, 0), (0, 7), (5, 5), (12, 3), (40, 61), (5000, 5300), (20000, 19000)]
)
def test_mcnemar_exact_matches_binomtest(b, c):
    both_right, both_wrong = 11, 4
    a = np.array([True] * both_right + [True] * b + [False] * c + [False] * both_wrong)
    bb = np.array([True] * both_right + [False] * b + [True] * c + [False] * both_wrong)
    res = st.mcnemar_exact(a, bb)
    assert (res.b, res.c) == (b, c)
    expected = 1.0 if b + c == 0 else sps.binomtest(b, b + c, 0.5).pvalue
    assert res.p_value == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_holm_hand_computed():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(st.holm(p), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(st.holm([0.5, 0.9]), [1.0, 1.0])
    assert st.holm([]).size == 0
    with pytest.raises(ValueError):
        st.holm([0.1, float("nan")])


def test_paired_bootstrap_sign_ci_and_p_value():
    rng = np.random.default_rng(0)
    n = 400
    truth = rng.random(n)
    a = (truth < 0.75).astype(float)  # system A right on ~75 %
    b = (truth < 0.60).astype(float)  # B right on a subset of A's: strictly worse
    res = st.paired_bootstrap(a, b, n_resamples=2000, seed=0)
    assert res.diff == pytest.approx(a.mean() - b.mean())
    assert 0 < res.ci_low < res.diff < res.ci_high
    assert res.p_value == pytest.approx(2 / 2001)  # no resample reaches 0: smallest possible p

    swapped = st.paired_bootstrap(b, a, n_resamples=2000, seed=0)
    assert swapped.diff == pytest.approx(-res.diff)
    assert swapped.ci_high < 0 and swapped.p_value == res.p_value

    same = st.paired_bootstrap(a, a.copy(), n_resamples=500, seed=0)
    assert same.diff == 0 and same.ci_low == same.ci_high == 0 and same.p_value == 1.0

    # noise only: no evidence of a difference
    c = rng.permutation(a)
    noise = st.paired_bootstrap(a, c, n_resamples=2000, seed=0)
    assert noise.p_value > 0.2
    assert noise.ci_low < 0 < noise.ci_high


def test_paired_bootstrap_pairing_matters():
    # both systems share a large per-sample effect; paired differences are tiny and consistent
    rng = np.random.default_rng(1)
    base = rng.normal(size=200) * 10
    a, b = base + 0.1, base
    paired = st.paired_bootstrap(a, b, n_resamples=1000, seed=0)
    assert paired.ci_low == pytest.approx(0.1) and paired.ci_high == pytest.approx(0.1)
    assert paired.p_value < 0.01


def test_bootstrap_input_errors():
    with pytest.raises(ValueError, match="at least one observation"):
        st.bootstrap_ci(np.array([]))
    with pytest.raises(ValueError, match="equal length"):
        st.paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="one id per observation"):
        st.bootstrap_ci(np.ones(4), clusters=[0, 1])
    with pytest.raises(ValueError, match="confidence level"):
        st.bootstrap_ci(np.ones(4), ci=95)
