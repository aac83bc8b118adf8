"""The count-based bootstrap of large runs (resampling ``strata/1``) against the per-sample bootstrap.

The coverage simulation draws many runs from one population, computes every bootstrap interval both
ways and checks that the share of intervals containing the population value is the same (within the
simulation's noise) for each metric. The runs are small (1,500 samples) so that the within-stratum
normal approximation of continuous columns is tested where it is weakest; the method is only used above
:data:`~tag_bench.scoring.aggregate.STRATA_MIN_SAMPLES` samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from tag_bench.metrics import strata
from tag_bench.scoring import aggregate as ag
from tag_bench.scoring.features import FIELD_INDEX, SUM_FIELDS

CLASSES = ("neutral", "happiness", "sadness", "surprise", "fear")
#: Bootstrap metrics checked: class-averaged, claim-level, continuous means, per-class F1.
CHECKED = (
    "balanced_accuracy",
    "macro_f1",
    "f1/fear",
    "au_box_iou",
    "grounding_precision@0.5",
    "hallucinated_au_rate",
    "au_recall",
    "au_f1",
    "latency_mean_s",
    "output_tokens_mean",
)


def population_run(n: int, seed: int) -> ag.ScoreArrays:
    """``n`` samples of one population: unbalanced classes, failures, 0 to 4 box claims with
    zero-inflated IoUs, cited and active AU counts, skewed latencies and token counts."""
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    gold = rng.choice(k, size=n, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    right = rng.random(n) < 0.6
    pred = np.where(right, gold, rng.integers(0, k, size=n))
    failed = rng.random(n) < 0.1
    pred = np.where(failed, -1, pred)
    rows = np.zeros((n, len(SUM_FIELDS)))

    def put(name: str, values) -> None:
        rows[:, FIELD_INDEX[name]] = values

    put("samples", 1.0)
    put("parse_failed", failed)
    covered = rng.random(n) < 0.9
    put("referenced", 1.0)
    put("covered", covered)
    claims = np.where(covered, rng.choice(5, size=n, p=[0.3, 0.3, 0.2, 0.15, 0.05]), 0)
    put("box_claims", claims)
    put("cited_boxes", claims)
    put("has_box", claims > 0)
    # per claim: IoU 0 with probability 0.5, else Beta(2, 3)
    ious = [np.where(rng.random(c) < 0.5, 0.0, rng.beta(2, 3, size=c)) for c in claims]
    put("iou_sum", [x.sum() for x in ious])
    put("iou_ge_0.5", [(x >= 0.5).sum() for x in ious])
    put("iou_ge_0.3", [(x >= 0.3).sum() for x in ious])
    cited = np.where(covered, rng.integers(0, 6, size=n), 0)
    halluc = rng.binomial(cited, 0.3)
    active = np.where(covered, rng.integers(1, 7, size=n), 0)
    active_cited = np.minimum(cited - halluc, active)
    put("cited_aus_covered", cited)
    put("judged_aus", cited)
    put("hallucinated_aus", halluc)
    put("samples_judged", cited > 0)
    put("samples_hallucinated", halluc > 0)
    put("active_aus", active)
    put("active_cited", active_cited)
    f1_den = cited + active
    put("f1_sum", np.where(f1_den > 0, 2 * active_cited / np.maximum(f1_den, 1), 0.0))
    put("f1_samples", covered & (f1_den > 0))
    put("correct_covered", covered & (pred == gold))
    timed = rng.random(n) < 0.95
    put("timed", timed)
    put("latency_s", np.where(timed, rng.lognormal(-1.5, 0.8, size=n), 0.0))
    put("output_counted", 1.0)
    put("output_tokens", rng.poisson(rng.gamma(2.0, 60.0, size=n)))
    return ag.ScoreArrays(
        classes=CLASSES,
        au_reference="population@1",
        sample_ids=[f"s{i}" for i in range(n)],
        gold=gold.astype(np.int64),
        pred=pred.astype(np.int64),
        status=np.where(failed, 1, 0).astype(np.int8),
        rows=rows,
    )


def _intervals(arrays: ag.ScoreArrays, seed: int, method_threshold: int) -> dict[str, tuple[float, float]]:
    old = ag.STRATA_MIN_SAMPLES
    ag.STRATA_MIN_SAMPLES = method_threshold
    try:
        report = ag.metrics_from_arrays(arrays, n_resamples=300, seed=seed)
    finally:
        ag.STRATA_MIN_SAMPLES = old
    want = strata.METHOD if method_threshold == 0 else strata.PER_SAMPLE_METHOD
    assert report.bootstrap["resampling"] == want
    out = {}
    for name in CHECKED:
        m = report.metrics[name]
        assert m.ci_method == "bootstrap", (name, m)
        out[name] = (m.ci_low, m.ci_high)
    return out


@pytest.mark.slow
def test_coverage_matches_the_per_sample_bootstrap():
    truth_run = population_run(1_000_000, seed=10_000)
    truth = ag.metrics_from_arrays(truth_run, n_resamples=0).metrics
    reps = 160
    hits = {"per-sample": dict.fromkeys(CHECKED, 0), "strata": dict.fromkeys(CHECKED, 0)}
    for r in range(reps):
        run = population_run(1_500, seed=r)
        for method, threshold in (("per-sample", 10**9), ("strata", 0)):
            for name, (lo, hi) in _intervals(run, r, threshold).items():
                value = truth[name].value
                hits[method][name] += lo <= value <= hi
    cover = {m: {k: v / reps for k, v in h.items()} for m, h in hits.items()}
    for name in CHECKED:
        a, b = cover["per-sample"][name], cover["strata"][name]
        # the two coverages are estimated on the same runs: their difference is far less noisy than
        # either (one binomial SE of a coverage near 0.95 over 160 runs is 0.017)
        assert abs(a - b) <= 0.05, (name, cover)
        assert b >= 0.85, (name, cover)
    mean_a = np.mean(list(cover["per-sample"].values()))
    mean_b = np.mean(list(cover["strata"].values()))
    assert abs(mean_a - mean_b) <= 0.015, cover


def test_point_estimates_and_counts_do_not_depend_on_the_method():
    run = population_run(3_000, seed=1)
    per_sample = _report(run, 10**9)
    counted = _report(run, 0)
    for name, m in per_sample.metrics.items():
        assert counted.metrics[name].value == m.value, name
        assert counted.metrics[name].n == m.n, name
        if m.ci_method != "bootstrap":  # Wilson, boundary and order-statistic intervals draw nothing
            assert counted.metrics[name] == m, name
    assert counted.bootstrap["resampling"] == "strata/1"


def _report(run: ag.ScoreArrays, threshold: int):
    old = ag.STRATA_MIN_SAMPLES
    ag.STRATA_MIN_SAMPLES = threshold
    try:
        return ag.metrics_from_arrays(run, n_resamples=200, seed=0)
    finally:
        ag.STRATA_MIN_SAMPLES = old


def test_seeded_and_paired():
    a = population_run(2_000, seed=3)
    b = population_run(2_000, seed=4)
    b.gold = a.gold
    old = ag.STRATA_MIN_SAMPLES
    ag.STRATA_MIN_SAMPLES = 0
    try:
        one = ag.compare_arrays(a, b, n_resamples=200, seed=5)
        two = ag.compare_arrays(a, b, n_resamples=200, seed=5)
        same = ag.compare_arrays(a, a, n_resamples=200, seed=5)
    finally:
        ag.STRATA_MIN_SAMPLES = old
    assert one == two and one.bootstrap["resampling"] == "strata/1"
    d = one.differences["au_box_iou"]
    assert d.ci_low <= d.diff <= d.ci_high and d.ci_low < d.ci_high
    # a run against itself: every resample's difference is 0 (the pairing is kept exactly)
    for name in ("balanced_accuracy", "au_box_iou", "latency_mean_s"):
        s = same.differences[name]
        assert (
            s.diff == 0.0
            and s.ci_low == pytest.approx(0.0, abs=1e-9)
            and s.ci_high == pytest.approx(0.0, abs=1e-9)
        )


def test_discrete_strata_are_the_exact_multinomial():
    """With only discrete columns the method is exact: a share's resampled value is Binomial(n, p) / n."""
    x = np.array([[1.0]] * 30 + [[0.0]] * 70)
    dist = strata.strata_distribution(
        x, lambda rows: np.hstack([rows, np.ones_like(rows)]), np.array([0, 0]),
        lambda sums, outputs: (sums[:, :1] / sums[:, 1:])[:, list(outputs)], 1,
        n_resamples=20_000, fill=np.array([30.0, 100.0]), seed=0,
    )  # fmt: skip
    assert dist.mean() == pytest.approx(0.3, abs=0.002)
    assert dist.var() == pytest.approx(0.3 * 0.7 / 100, rel=0.05)
    assert np.allclose(dist * 100, np.round(dist * 100))  # counts, not a normal approximation


def test_strata_group_equal_rows_only():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 3, size=(500, 4))
    inverse, first = strata._strata(keys)
    assert np.array_equal(keys[first][inverse], keys)
    assert first.size == len({tuple(r) for r in keys})
    big = rng.integers(0, 60, size=(500, 6))  # too many codes to count: sorted instead
    inverse, first = strata._strata(big)
    assert np.array_equal(big[first][inverse], big)


def test_dependencies_follow_the_statistic():
    def statistic(sums, outputs):
        values = np.stack([sums[:, 0] / sums[:, 1], sums[:, 2] * 2.0], axis=1)
        return values[:, list(outputs)]

    dep = strata.dependencies(statistic, 2, 4)
    assert dep.tolist() == [[True, True, False, False], [False, False, True, False]]
