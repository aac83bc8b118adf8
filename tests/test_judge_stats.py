"""The statistics of judged preference, checked against independent implementations: Bradley-Terry
against choix (a test dependency), Cohen's kappa against scikit-learn, Krippendorff's alpha against the
krippendorff package; and the judge's verdict reader and canonical traces."""

from __future__ import annotations

import numpy as np
import pytest

from tag_bench.judge.canonical import canonical_trace, judge_scale, strip_special
from tag_bench.judge.verdict import read_verdict
from tag_bench.metrics.agreement import cohen_kappa_bootstrap, krippendorff_alpha
from tag_bench.metrics.preference import DEFAULT_RIDGE, ELO, Comparisons, bradley_terry
from tag_bench.schema import Generation
from tag_bench.scoring.metric_table import JUDGE_METRICS, spec
from tag_bench.scoring.units import format_value


def _random_comparisons(seed: int, m: int = 5, c: int = 400, n_samples: int = 100) -> Comparisons:
    rng = np.random.default_rng(seed)
    strength = rng.normal(size=m)
    i = rng.integers(0, m, c)
    j = (i + rng.integers(1, m, c)) % m
    p = 1 / (1 + np.exp(-(strength[i] - strength[j])))
    u = rng.random(c)
    y = np.where(u < 0.8 * p, 1.0, np.where(u < 0.8 * p + 0.2, 0.5, 0.0))
    return Comparisons(m, n_samples, i, j, y, rng.integers(0, n_samples, c), rng.normal(size=c))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bradley_terry_matches_choix(seed):
    choix = pytest.importorskip("choix")
    comps = _random_comparisons(seed)
    fit = bradley_terry(comps, n_resamples=0)
    data = []  # ties as half wins: each comparison counted twice, a tie as one win each way
    for a, b, y in zip(comps.i, comps.j, comps.y, strict=True):
        data += [(a, b), (a, b)] if y == 1 else [(b, a), (b, a)] if y == 0 else [(a, b), (b, a)]
    theta = choix.opt_pairwise(comps.m, data, alpha=2 * DEFAULT_RIDGE, tol=1e-12)
    assert fit.rating / ELO == pytest.approx(theta - theta.mean(), abs=1e-6)


def test_anchor_covariate_and_identification():
    comps = _random_comparisons(3)
    mean0 = bradley_terry(comps, n_resamples=0)
    at2 = bradley_terry(comps, anchor=2, n_resamples=0)
    assert at2.rating[2] == 0.0 and at2.rating == pytest.approx(mean0.rating - mean0.rating[2])
    flat = Comparisons(comps.m, comps.n_samples, comps.i, comps.j, comps.y, comps.sample, comps.z * 0)
    lc = bradley_terry(flat, covariate=True, n_resamples=0)
    assert lc.rating == pytest.approx(mean0.rating, abs=1e-6) and lc.coefficient == pytest.approx(
        0.0, abs=1e-9
    )
    # a judge that prefers the longer response: gamma > 0, and the strengths barely move
    rng = np.random.default_rng(0)
    z = rng.uniform(-1, 1, len(comps.y))
    y = (rng.random(len(z)) < 1 / (1 + np.exp(-3 * z))).astype(float)
    biased = Comparisons(comps.m, comps.n_samples, comps.i, comps.j, y, comps.sample, z)
    assert bradley_terry(biased, covariate=True, n_resamples=0).coefficient > 2 * ELO
    # two groups that never meet: no rating across them
    two = Comparisons(4, 10, np.array([0, 0, 2, 2]), np.array([1, 1, 3, 3]), np.array([1.0, 0.5, 0.0, 1.0]),
                      np.arange(4), None)  # fmt: skip
    assert np.isnan(bradley_terry(two, n_resamples=0).rating).all()
    anchored = bradley_terry(two, anchor=0, n_resamples=0).rating
    assert not np.isnan(anchored[:2]).any() and np.isnan(anchored[2:]).all()


def test_bootstrap_intervals_resample_samples():
    comps = _random_comparisons(4)
    fit = bradley_terry(comps, n_resamples=300, seed=1)
    lo, hi = fit.interval()
    assert (lo <= fit.rating).all() and (fit.rating <= hi).all() and (hi > lo).all()
    again = bradley_terry(comps, n_resamples=300, seed=1)
    assert np.array_equal(fit.distribution, again.distribution)  # seeded


def test_kappa_matches_sklearn_and_alpha_matches_krippendorff():
    sk = pytest.importorskip("sklearn.metrics")
    kd = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(5)
    a = rng.integers(0, 3, 80)
    b = np.where(rng.random(80) < 0.6, a, rng.integers(0, 3, 80))
    kappa, lo, hi = cohen_kappa_bootstrap(a, b, 3, n_resamples=300)
    assert kappa == pytest.approx(sk.cohen_kappa_score(a, b), abs=1e-12) and lo <= kappa <= hi
    r = np.where(rng.random((60, 4)) < 0.8, rng.integers(0, 3, (60, 4)), -1)
    r[:, 1] = np.where(rng.random(60) < 0.7, r[:, 0], r[:, 1])
    alpha, lo, hi = krippendorff_alpha(r, 3, n_resamples=300)
    want = kd.alpha(
        reliability_data=np.where(r < 0, np.nan, r).T.astype(float), level_of_measurement="nominal"
    )
    assert alpha == pytest.approx(want, abs=1e-12) and lo <= alpha <= hi


@pytest.mark.parametrize(
    ("text", "verdict", "failure"),
    [
        ("A is better. [[A]]", "A", None),
        ("[[ B ]] ... final: [[B]]", "B", None),
        ("a tie: [[C]]", "C", None),
        ("no idea", None, "no_verdict"),
        ("[[A]] if A is better, [[B]] if B... I pick [[A]]", None, "conflicting_verdicts"),
        ("<think>maybe [[B]]</think> final [[A]]", "A", None),
        ("[A] or A", None, "no_verdict"),
        ("", None, "no_verdict"),
    ],
)
def test_verdicts_are_never_guessed(text, verdict, failure):
    assert tuple(read_verdict(text)) == (verdict, failure)


def test_canonical_traces_speak_one_frame_without_special_tokens():
    text = (
        "<|object_ref_start|>AU12<|object_ref_end|><|box_start|>(100,500),(300,700)<|box_end|> lips\n"
        "Inspect brows (AU4) → <bbox>[250, 100, 750, 300]</bbox>\n"
        "<loc0256><loc0256><loc0512><loc0512> AU6; [0, 0, 0, 0] AU1\n<answer>happiness</answer><|im_end|>"
    )
    g = Generation(sample_id="s", text=text, image_size=(200, 100), frame="norm1000")
    trace = canonical_trace(g, None)
    assert trace is not None
    out = trace.render("B", scale=2.0)
    assert "<|" not in out and "<loc" not in out and "<bbox>" not in out
    assert "AU12 [B1: 40, 100, 120, 140] lips" in out  # norm1000 -> presented pixels -> x2 judge image
    assert "[B2: 100, 20, 300, 60]" in out and "[unusable box]" in out
    assert "<answer>happiness</answer>" in out
    assert len(trace.boxes()) == 3  # the degenerate box is written, not drawn
    assert strip_special("a <|im_end|> b </s>") == "a b "
    assert judge_scale((100, 100)) == 5.12 and judge_scale((1024, 600)) == 1.0
    assert canonical_trace(Generation(sample_id="s", status="error", error="x"), "pixel") is None


def test_judge_metrics_are_in_the_metric_table():
    for m in JUDGE_METRICS:
        assert spec(m.name) is m and m.group == "judge" and m.kind == "judge"
    assert spec("bt_rating").unit == "elo" and format_value("elo", -12.4, 1) == "-12"
    assert spec("bt_rating").ranked and not spec("judge_failure_rate").ranked


def test_self_preference_families():
    from tag_bench.judge.candidates import model_family

    assert model_family("Qwen/Qwen2.5-VL-7B-Instruct") == "qwen" == model_family("/ckpt/qwen3-vl-ft")
    assert model_family("gpt-5") == "gpt" and model_family("google/paligemma2-3b") == "gemma"
    assert model_family("llava-hf/llava-1.5-7b-hf") == "llava" and model_family(None) is None
