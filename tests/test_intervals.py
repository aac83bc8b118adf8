"""Intervals that cannot be (issue 18): zero-width bootstrap intervals at 0 % / 100 %, intervals that miss
their estimate, too few resamples, and "± h" printed for an interval that is not symmetric."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.metrics import stats as st
from tag_bench.metrics.stats import MIN_BOOTSTRAP_RESAMPLES, ResamplesError, wilson_interval
from tag_bench.report.compare import CompareError, compare_runs
from tag_bench.report.render import RenderOptions, cell_text
from tag_bench.report.table import Cell, Column
from tag_bench.schema import COMMON7, AUReference, AUState, Evidence, Generation, Parsed, Sample
from tag_bench.scoring import aggregate, compare_metrics, compute_metrics, score_sample
from tag_bench.scoring.metric_table import spec
from tag_bench.scoring.run import score_run

CLASSES = list(COMMON7)
REF = "test-ref@1"


def _reference() -> AUReference:
    return AUReference(
        reference_id=REF, detector="test-ref", version="1", threshold=0.5, status="ok",
        aus={"AU6": AUState(score=0.9, active=True, box=[10, 10, 30, 30]),
             "AU12": AUState(score=0.8, active=True, box=[20, 40, 60, 60]),
             "AU4": AUState(score=0.1, active=False, box=[10, 0, 50, 10])},
    )  # fmt: skip


def _scored(sid: str, gold: str, label: str, aus=(), boxes=()):
    s = Sample(id=sid, dataset="demo", split="test", image=f"{sid}.jpg", label=gold, native_label=gold)
    evidence = [Evidence(au=au, box=box) for au, box in boxes]
    parsed = Parsed(label=label, status="ok", aus=list(aus), evidence=evidence)
    return score_sample(s, Generation(sample_id=sid, text="..."), parsed, _reference(), CLASSES)


def _all_wrong_run(n: int = 6):
    """n samples, every answer wrong, every cited AU active, every box exact: UAR and macro-F1 0 %,
    hallucinated AU rate 0 %, grounding precision 100 %."""
    golds = ["happiness", "sadness", "anger", "fear", "surprise", "disgust"]
    out = []
    for i in range(n):
        gold = golds[i % len(golds)]
        wrong = "neutral"
        boxes = [("AU6", [10, 10, 30, 30])] + ([("AU12", [20, 40, 60, 60])] if i % 2 else [])
        out.append(_scored(f"s{i}", gold, wrong, aus=[au for au, _ in boxes], boxes=boxes))
    return out


# --------------------------------------------------------------------------------------------------
# 0 % / 100 %


@pytest.mark.slow
def test_demo_bootstrap_rates_at_0_and_100_percent_are_never_pm_zero(tmp_path):
    """The issue's case: `tag-bench demo` showed facs-rules "Halluc. AU 0.0 ± 0.0" and random
    "UAR 0.0 ± 0.0" at N = 6, where Wilson gives [0.0, 39.0] for the same N."""
    pytest.importorskip("mediapipe")
    out = tmp_path / "demo"
    r = CliRunner().invoke(main, ["demo", "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    m = {
        name: json.loads((out / name / "metrics.json").read_text())["metrics"]
        for name in ("facs-rules", "random")
    }
    zero_of_six = wilson_interval(0, 6)
    for run, metric in (("facs-rules", "hallucinated_au_rate"), ("random", "balanced_accuracy"),
                        ("random", "macro_f1")):  # fmt: skip
        v = m[run][metric]
        assert v["value"] == 0.0, (run, metric)
        assert v["ci_method"] == "wilson-boundary", (run, metric)
        assert (v["ci_low"], v["ci_high"]) == pytest.approx(zero_of_six), (run, metric)
    board = (out / "leaderboard.md").read_text()
    assert "± 0.0" not in board and "0.0 ± 19.5" not in board
    assert "0.0 [0.0, 39.0]" in board
    assert "Wilson on the contributing samples for a bootstrap rate at 0 % or 100 %" in board


def test_bootstrap_rates_at_the_boundary_get_wilson_on_contributing_samples():
    rep = compute_metrics(_all_wrong_run(), CLASSES, au_reference_id=REF, n_resamples=1000)
    for name in ("balanced_accuracy", "macro_f1"):  # every sample contributes: n = 6
        v = rep.metrics[name]
        assert v.value == 0.0 and v.ci_method == "wilson-boundary"
        assert (v.ci_low, v.ci_high) == pytest.approx(wilson_interval(0, 6))
    # claim level: 9 box claims on 6 samples; the claims of one image are not independent, so n = 6 samples
    v = rep.metrics["grounding_precision@0.5"]
    assert v.value == 1.0 and v.n == 9 and v.ci_method == "wilson-boundary"
    assert (v.ci_low, v.ci_high) == pytest.approx(wilson_interval(6, 6))
    v = rep.metrics["hallucinated_au_rate"]
    assert v.value == 0.0 and (v.ci_low, v.ci_high) == pytest.approx(wilson_interval(0, 6))
    for name, v in rep.metrics.items():  # no rate reported with a zero-width interval
        if v.ci_low is not None and spec(name).unit == "rate":
            assert v.ci_high > v.ci_low, name
    v = rep.metrics["au_box_iou"]  # a mean IoU of exactly 1 (every box exact) is at the boundary too
    assert v.value == 1.0 and v.ci_method == "wilson-boundary"
    assert (
        compute_metrics(_all_wrong_run(), CLASSES, au_reference_id=REF, n_resamples=0)
        .metrics["macro_f1"]
        .ci_low
        is None
    )  # 0 resamples: no interval at all


def test_compare_of_two_runs_at_the_same_boundary_has_a_non_degenerate_interval():
    a, b = _all_wrong_run(), _all_wrong_run()
    cmp = compare_metrics(a, b, CLASSES, au_reference_id=REF, n_resamples=1000)
    for name in ("balanced_accuracy", "hallucinated_au_rate", "grounding_precision@0.5"):
        d = cmp.differences[name]
        assert d.diff == 0.0
        assert d.ci_low < 0.0 < d.ci_high, name  # Newcombe's square-and-add of the two Wilson intervals
        half = wilson_interval(0, 6)[1]
        assert d.ci_high == pytest.approx(np.hypot(half, 0.0)), name


# --------------------------------------------------------------------------------------------------
# An interval contains its estimate


def test_a_percentile_interval_that_misses_its_estimate_is_widened_to_contain_it(monkeypatch):
    """The issue's `balanced_accuracy 66.3 [66.4, 68.0]` (3 resamples): whatever the percentiles, the
    reported interval of every metric and of every compared difference contains its estimate."""
    real = aggregate.percentile_interval

    def shifted(dist, ci=0.95):  # a bootstrap distribution that lies wholly above the estimate
        lo, hi = real(dist, ci)
        return lo + 0.3, hi + 0.3

    monkeypatch.setattr(aggregate, "percentile_interval", shifted)
    run = _all_wrong_run()[:3] + [_scored(f"r{i}", "happiness", "happiness") for i in range(5)]
    rep = compute_metrics(run, CLASSES, au_reference_id=REF, n_resamples=200)
    for name, v in rep.metrics.items():
        if v.ci_low is not None:
            assert v.ci_low <= v.value <= v.ci_high, (name, v)
    assert rep.metrics["balanced_accuracy"].ci_method == "bootstrap"

    real_paired = aggregate.paired_bootstrap

    def paired_off(*args, **kwargs):  # the issue's `Δ +13.7 with CI [+12.2, +12.2]`
        res = real_paired(*args, **kwargs)
        return res._replace(ci_low=res.diff - 0.5, ci_high=res.diff - 0.4)

    monkeypatch.setattr(aggregate, "paired_bootstrap", paired_off)
    other = [_scored(s.sample_id, s.label, s.label) for s in run[:3]] + run[3:]  # same gold labels
    cmp = compare_metrics(run, other, CLASSES, au_reference_id=REF, n_resamples=200)
    for name, d in cmp.differences.items():
        if d.ci_low is not None:
            assert d.ci_low <= d.diff <= d.ci_high, (name, d)


# --------------------------------------------------------------------------------------------------
# Too few resamples


@pytest.mark.parametrize("n", [1, 3, 199])
def test_1_to_199_resamples_is_an_error_naming_200_in_every_api(tmp_path, n):
    run = _all_wrong_run()
    for call in (
        lambda: compute_metrics(run, CLASSES, au_reference_id=REF, n_resamples=n),
        lambda: compare_metrics(run, run, CLASSES, au_reference_id=REF, n_resamples=n),
        lambda: score_run(tmp_path, n_resamples=n),
        lambda: st.check_n_resamples(n),
    ):
        with pytest.raises(ResamplesError, match=str(MIN_BOOTSTRAP_RESAMPLES)):
            call()
    with pytest.raises(CompareError, match="at least 200"):
        compare_runs(tmp_path, tmp_path, n_resamples=n)
    from tag_bench.generate.evaluate import evaluate

    with pytest.raises(ResamplesError, match="at least 200"):  # before any model call
        evaluate("demo", "random", out=tmp_path / "never", n_resamples=n, progress=False)
    assert not (tmp_path / "never").exists()
    assert (
        compute_metrics(run, CLASSES, au_reference_id=REF, n_resamples=0).metrics["macro_f1"].ci_low is None
    )
    assert (
        compute_metrics(run, CLASSES, au_reference_id=REF, n_resamples=200).metrics["accuracy"].ci_low == 0.0
    )


def test_cli_n_resamples_3_and_compare_n_resamples_1_are_usage_errors(tmp_path):
    """The issue's `--n-resamples 3` (run, score) and `compare --n-resamples 1`: exit 2, naming 200."""
    for args in (
        ["run", "--model", "random", "--tasks", "demo", "--out", str(tmp_path / "r"), "--n-resamples", "3"],
        ["score", str(tmp_path), "--n-resamples", "3"],
        ["demo", "--out", str(tmp_path / "d"), "--n-resamples", "50"],
        ["compare", str(tmp_path), str(tmp_path), "--n-resamples", "1"],
        ["compare", str(tmp_path), str(tmp_path), "--n-resamples", "0"],  # compare always has intervals
    ):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2, (args, r.output)
        assert "at least 200" in r.output, (args, r.output)
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()


# --------------------------------------------------------------------------------------------------
# ± h only for symmetric intervals


def test_a_table_prints_pm_only_for_a_symmetric_interval():
    """The issue's `0.0 ± 19.5` for the Wilson interval [0.0, 39.0]."""
    col, pm, brackets = Column.of("accuracy"), RenderOptions(ci="pm"), RenderOptions(ci="brackets")
    lo, hi = wilson_interval(0, 6)
    assert cell_text(col, Cell(0.0, lo, hi), pm) == ("0.0", "[0.0, 39.0]")
    assert cell_text(col, Cell(0.5, 0.45, 0.55), pm) == ("50.0", "± 5.0")
    # symmetric at the printed precision (70.04 - 2.04 and 70.04 + 1.96 both print 2.0 away)
    assert cell_text(col, Cell(0.7004, 0.68, 0.72), pm) == ("70.0", "± 2.0")
    assert cell_text(col, Cell(0.5, 0.45, 0.55), brackets) == ("50.0", "[45.0, 55.0]")
    assert cell_text(col, Cell(0.5, 0.45, 0.55), RenderOptions(ci="none")) == ("50.0", "")
