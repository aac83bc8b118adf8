"""compute_metrics / compare_metrics: hand-computed grounding, sklearn parity, CIs, no-reference runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import stats as sps
from sklearn import metrics as skm

from tag_bench import store
from tag_bench.metrics import stats as st
from tag_bench.schema import COMMON7, AUReference, AUState, Evidence, Generation, Parsed, Sample, ScoredSample
from tag_bench.scoring import MetricsReport, compare_metrics, compute_metrics, metric_names, score_sample
from tag_bench.scoring.metric_table import spec
from tag_bench.scoring.units import unit_of

CLASSES = list(COMMON7)
REF_ID = "test-ref@1"


def reference(ref_id: str = REF_ID) -> AUReference:
    return AUReference(
        reference_id=ref_id,
        detector="test-ref",
        version="1",
        threshold=0.5,
        status="ok",
        aus={
            "AU6": AUState(score=0.9, active=True, box=[10, 10, 30, 30]),
            "AU12": AUState(score=0.8, active=True, box=[20, 40, 60, 60]),
            "AU15": AUState(score=0.7, active=True, box=[0, 40, 80, 50]),
            "AU4": AUState(score=0.1, active=False, box=[10, 0, 50, 10]),
            "AU1": AUState(box=[0, 0, 100, 20]),  # no activation: unjudgeable
        },
    )


def scored(sid, gold, *, label=None, status="ok", aus=(), evidence=(), ref=True, generation=True):
    s = Sample(id=sid, dataset="demo", split="test", image=f"{sid}.jpg", label=gold, native_label=gold)
    g = Generation(sample_id=sid, text="...") if generation else None
    p = Parsed(label=label, status=status, aus=list(aus), evidence=list(evidence)) if generation else None
    r = (reference() if ref is True else ref) if ref else None
    return score_sample(s, g, p, r, CLASSES)


def hand_case(ref=True) -> list[ScoredSample]:
    return [
        # right; AU6 exact (IoU 1), AU12 half (0.5), AU4 hallucinated
        scored(
            "A",
            "happiness",
            label="happiness",
            aus=["AU6", "AU12", "AU4"],
            evidence=[Evidence(au="AU6", box=[10, 10, 30, 30]), Evidence(au="AU12", box=[20, 40, 40, 60])],
            ref=ref,
        ),
        # right; AU15 IoU 0.5, AU1 unjudgeable -> grounded
        scored(
            "B",
            "sadness",
            label="sadness",
            aus=["AU15", "AU1"],
            evidence=[Evidence(au="AU15", box=[0, 40, 40, 50])],
            ref=ref,
        ),
        # wrong; AU9 has no region (IoU 0, counted), AU4 hallucinated, no prototype support for happiness
        scored(
            "C",
            "anger",
            label="happiness",
            aus=["AU9", "AU4"],
            evidence=[Evidence(au="AU9", box=[0, 0, 10, 10])],
            ref=ref,
        ),
        scored("D", "fear", generation=False, ref=ref),  # no generation: a failure, kept
        # unparsed answer; its AU6 box (IoU 100/400) is still graded
        scored(
            "E",
            "surprise",
            status="no_answer",
            aus=["AU6"],
            evidence=[Evidence(au="AU6", box=[10, 10, 20, 20])],
            ref=ref,
        ),
    ]


def values(report: MetricsReport) -> dict[str, float | None]:
    return {k: v.value for k, v in report.metrics.items()}


def test_hand_computed_grounding_and_classification():
    rep = compute_metrics(hand_case(), CLASSES, au_reference_id=REF_ID, n_resamples=200)
    v = values(rep)
    expected = {
        "accuracy": 2 / 5,
        "accuracy_parsed": 2 / 3,
        "parse_failure_rate": 1 / 5,  # E: no_answer (D has no generation: missing, not a parse failure)
        "missing_rate": 1 / 5,
        "error_rate": 0.0,
        "invalid_label_rate": 0.0,
        "reference_coverage": 1.0,
        "accuracy_covered": 2 / 5,
        "box_rate": 4 / 5,
        "au_box_iou": (1 + 0.5 + 0.5 + 0 + 0.25) / 5,
        "grounding_precision@0.5": 3 / 5,
        "grounding_precision@0.3": 3 / 5,
        "pointing_accuracy": 4 / 5,  # C's AU9 has no region
        "hallucinated_au_rate": 2 / 6,  # judged distinct AUs: A 3, B 1, C 1, E 1
        "hallucinated_sample_rate": 2 / 4,  # A and C among A, B, C, E
        "unjudged_au_rate": 2 / 8,  # AU1 (B), AU9 (C) of 8 cited
        "au_recall": 4 / 15,  # 3 active AUs x 5 samples; cited: A 2, B 1, E 1
        "au_f1": (2 / 3 + 1 / 2 + 0 + 0 + 1 / 2) / 5,
        "evidence_consistency": 2 / 3,  # A, B yes; C no; D, E have no label
        "grounded_accuracy": 1 / 5,  # only B
    }
    for name, want in expected.items():
        assert v[name] == pytest.approx(want), name
    n = {k: m.n for k, m in rep.metrics.items()}
    assert n["accuracy"] == 5 and n["accuracy_parsed"] == 3 and n["au_box_iou"] == 5
    assert n["hallucinated_au_rate"] == 6 and n["hallucinated_sample_rate"] == 4 and n["au_recall"] == 15
    assert n["evidence_consistency"] == 3 and n["grounded_accuracy"] == 5 and n["au_f1"] == 5

    assert rep.n == 5
    assert rep.status_counts["ok"] == 3 and rep.status_counts["missing"] == 1
    assert rep.status_counts["no_answer"] == 1 and rep.status_counts["error"] == 0
    assert rep.status_rates["missing"] == pytest.approx(0.2)
    assert rep.au_reference == REF_ID and rep.reference_status_counts == {"ok": 5}
    cm = rep.confusion_matrix
    assert cm["classes"] == CLASSES
    hap, sad, ang = CLASSES.index("happiness"), CLASSES.index("sadness"), CLASSES.index("anger")
    assert cm["matrix"][hap][hap] == 1 and cm["matrix"][sad][sad] == 1 and cm["matrix"][ang][hap] == 1
    assert sum(map(sum, cm["matrix"])) == 3 and sum(cm["failed"]) == 2
    assert set(rep.metrics) == set(metric_names(CLASSES))
    for name, m in rep.metrics.items():
        unit = unit_of(spec(name))
        top = math.inf if unit.upper is None else unit.upper
        if m.value is not None:
            assert unit.lower <= m.value <= top, name
        if m.ci_low is not None:
            assert m.ci_high is not None and unit.lower <= m.ci_low <= m.ci_high <= top, name


def test_without_reference_grounding_is_not_computed_not_zero():
    rep = compute_metrics(hand_case(ref=False), CLASSES, au_reference_id=None, n_resamples=200)
    reference_free = {"box_rate", "evidence_consistency"}
    for name in (
        "au_box_iou",
        "grounding_precision@0.5",
        "grounding_precision@0.3",
        "pointing_accuracy",
        "hallucinated_au_rate",
        "hallucinated_sample_rate",
        "unjudged_au_rate",
        "au_recall",
        "au_f1",
        "grounded_accuracy",
    ):
        assert rep.metrics[name].value is None and rep.metrics[name].ci_low is None, name
        assert "no AU reference" in rep.not_computed[name]
    for name in reference_free:
        assert name not in rep.not_computed
    assert rep.metrics["box_rate"].value == pytest.approx(4 / 5)
    assert rep.metrics["evidence_consistency"].value == pytest.approx(2 / 3)
    assert rep.metrics["accuracy"].value == pytest.approx(2 / 5)
    assert rep.au_reference is None and rep.reference_status_counts == {"missing": 5}


def test_reference_ids_must_agree():
    with pytest.raises(ValueError, match="not comparable"):
        compute_metrics(hand_case(), CLASSES, au_reference_id="other@2")
    rep = compute_metrics(hand_case(), CLASSES, au_reference_id=None, n_resamples=0)
    assert "pass au_reference_id" in rep.not_computed["au_box_iou"]
    assert REF_ID in rep.not_computed["au_box_iou"]


def test_samples_missing_a_reference_are_left_out_of_reference_metrics_and_counted():
    case = hand_case()
    case[1] = scored(
        "B",
        "sadness",
        label="sadness",
        aus=["AU15", "AU1"],
        evidence=[Evidence(au="AU15", box=[0, 40, 40, 50])],
        ref=False,
    )
    rep = compute_metrics(case, CLASSES, au_reference_id=REF_ID, n_resamples=0)
    assert rep.reference_status_counts == {"missing": 1, "ok": 4}
    assert rep.metrics["grounded_accuracy"].n == 4 and rep.metrics["grounded_accuracy"].value == 0.0
    assert rep.metrics["au_box_iou"].n == 4
    assert rep.metrics["au_box_iou"].value == pytest.approx((1 + 0.5 + 0 + 0.25) / 4)
    assert rep.metrics["accuracy"].n == 5  # classification still counts every sample


def test_empty_denominators_give_none_with_reason():
    case = [scored("A", "happiness", label="happiness"), scored("B", "sadness", label="happiness")]
    rep = compute_metrics(case, CLASSES, au_reference_id=REF_ID, n_resamples=200)
    for name in ("au_box_iou", "pointing_accuracy", "hallucinated_au_rate", "evidence_consistency"):
        assert rep.metrics[name].value is None and name in rep.not_computed
    assert "no box claims" in rep.not_computed["au_box_iou"]
    assert rep.metrics["box_rate"].value == 0.0  # a real zero: no sample gave a box
    assert rep.metrics["au_recall"].value == 0.0 and rep.metrics["au_f1"].value == 0.0
    assert "precision/sadness" in rep.not_computed and "recall/neutral" in rep.not_computed
    assert rep.metrics["precision/happiness"].value == pytest.approx(0.5)

    empty = compute_metrics([], CLASSES, au_reference_id=None, n_resamples=200)
    assert empty.n == 0 and empty.metrics["accuracy"].value is None
    assert empty.not_computed["accuracy"] == "no samples"


def _random_run(seed: int, n: int, classes=CLASSES, p_fail=0.15, acc=0.55) -> list[ScoredSample]:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(len(classes), 0.7))
    out = []
    for i in range(n):
        gold = str(rng.choice(classes, p=probs))
        if rng.random() < p_fail:
            out.append(
                scored(
                    f"s{i}", gold, status=str(rng.choice(["no_answer", "refusal", "truncated"])), ref=False
                )
            )
            continue
        label = gold if rng.random() < acc else str(rng.choice(classes))
        out.append(scored(f"s{i}", gold, label=label, ref=False))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_matches_sklearn(seed):
    run = _random_run(seed, 300)
    rep = compute_metrics(run, CLASSES, au_reference_id=None, n_resamples=0)
    y_true = [s.label for s in run]
    y_pred = [s.pred if s.pred is not None else "__failed__" for s in run]
    assert rep.metrics["accuracy"].value == pytest.approx(skm.accuracy_score(y_true, y_pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the failure label has no gold row
        bal = skm.balanced_accuracy_score(y_true, y_pred)
    assert rep.metrics["balanced_accuracy"].value == pytest.approx(bal)
    occurring = [c for c in CLASSES if c in y_true or c in y_pred]
    assert rep.metrics["macro_f1"].value == pytest.approx(
        skm.f1_score(y_true, y_pred, labels=occurring, average="macro")
    )
    p, r, f, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=CLASSES, zero_division=np.nan
    )
    for i, c in enumerate(CLASSES):
        for name, ref in (("precision", p[i]), ("recall", r[i]), ("f1", f[i])):
            got = rep.metrics[f"{name}/{c}"].value
            assert (got is None) if np.isnan(ref) else got == pytest.approx(ref), (name, c)
        assert rep.metrics[f"recall/{c}"].n == support[i]
    assert rep.confusion_matrix["matrix"] == skm.confusion_matrix(y_true, y_pred, labels=CLASSES).tolist()
    failures = sum(s.status != "ok" for s in run)
    assert rep.metrics["parse_failure_rate"].value == pytest.approx(failures / len(run))
    assert rep.metrics["accuracy"].n == len(run)


def test_accuracy_ci_is_scipys_wilson_interval():
    run = _random_run(4, 400)
    rep = compute_metrics(run, CLASSES, au_reference_id=None, n_resamples=0)
    correct = np.array([s.correct for s in run])
    ref = sps.binomtest(int(correct.sum()), correct.size).proportion_ci(0.95, method="wilson")
    m = rep.metrics["accuracy"]
    assert m.value == pytest.approx(correct.mean()) and m.ci_method == "wilson"
    assert (m.ci_low, m.ci_high) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_zero_and_full_proportions_get_a_real_interval():
    # the random baseline at 0 % on six faces used to print "0.0 [0.0, 0.0]"
    wrong = [scored(f"s{i}", "happiness", label="sadness", ref=False) for i in range(6)]
    rep = compute_metrics(wrong, CLASSES, au_reference_id=None, n_resamples=500)
    acc = rep.metrics["accuracy"]
    assert acc.value == 0.0 and acc.ci_low == 0.0 and acc.ci_high == pytest.approx(0.390, abs=1e-3)
    right = [scored(f"s{i}", "happiness", label="happiness", ref=False) for i in range(6)]
    acc = compute_metrics(right, CLASSES, au_reference_id=None, n_resamples=500).metrics["accuracy"]
    assert acc.value == 1.0 and acc.ci_high == 1.0 and acc.ci_low == pytest.approx(0.610, abs=1e-3)


def test_balanced_accuracy_ci_matches_scipy_percentile_bootstrap():
    run = _random_run(4, 400)
    rep = compute_metrics(run, CLASSES, au_reference_id=None, n_resamples=10000, seed=0)
    y_true = [s.label for s in run]
    y_pred = [s.pred or "__failed__" for s in run]

    def bal(idx):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return skm.balanced_accuracy_score([y_true[i] for i in idx], [y_pred[i] for i in idx])

    ref = sps.bootstrap(
        (np.arange(len(run)),), bal, n_resamples=2000, method="percentile", random_state=1, vectorized=False
    ).confidence_interval
    m = rep.metrics["balanced_accuracy"]
    assert m.ci_method == "bootstrap"
    assert m.ci_low == pytest.approx(ref.low, abs=0.01) and m.ci_high == pytest.approx(ref.high, abs=0.01)


def test_bootstrap_is_seeded_and_can_be_skipped():
    run = _random_run(5, 200)
    a = compute_metrics(run, CLASSES, au_reference_id=None, n_resamples=300, seed=3)
    b = compute_metrics(run, CLASSES, au_reference_id=None, n_resamples=300, seed=3)
    c = compute_metrics(run, CLASSES, au_reference_id=None, n_resamples=300, seed=4)
    assert a.metrics == b.metrics
    assert a.metrics["macro_f1"] != c.metrics["macro_f1"]
    assert a.metrics["macro_f1"].value == c.metrics["macro_f1"].value
    none = compute_metrics(run, CLASSES, au_reference_id=None, n_resamples=0)
    assert none.metrics["macro_f1"].ci_low is None and none.metrics["macro_f1"].ci_method is None
    assert none.metrics["macro_f1"].value == a.metrics["macro_f1"].value
    # sample-level proportions carry a Wilson interval, which needs no resampling
    assert none.metrics["accuracy"] == a.metrics["accuracy"] and a.metrics["accuracy"].ci_method == "wilson"
    assert a.bootstrap == {
        "n_resamples": 300,
        "ci": 0.95,
        "seed": 3,
        "unit": "sample",
        "method": "percentile",
        "resampling": "multinomial/1",  # a run of this size draws each sample's multiplicity
    }


def test_claim_metrics_resample_samples_not_claims():
    # 40 images x 8 box claims; every claim of an image is either exact (IoU 1) or off (IoU 0)
    rng = np.random.default_rng(2)
    good = rng.random(40) < 0.5
    run = []
    for i, ok in enumerate(good):
        box = [20, 40, 60, 60] if ok else [70, 70, 90, 90]
        ev = [Evidence(au="AU12", box=box) for _ in range(8)]
        run.append(scored(f"s{i}", "happiness", label="happiness", aus=["AU12"], evidence=ev))
    rep = compute_metrics(run, CLASSES, au_reference_id=REF_ID, n_resamples=4000, seed=0)
    m = rep.metrics["au_box_iou"]
    assert m.n == 320 and m.value == pytest.approx(good.mean())
    claim_iou = np.repeat(good, 8).astype(float)
    naive = st.bootstrap_ci(claim_iou, n_resamples=4000, seed=0)
    cluster = st.bootstrap_ci(claim_iou, n_resamples=4000, seed=0, clusters=np.repeat(np.arange(40), 8))
    width = m.ci_high - m.ci_low
    assert width > 2.2 * (naive[1] - naive[0])  # about sqrt(8) wider than treating claims as independent
    assert width == pytest.approx(cluster[1] - cluster[0], rel=0.15)


def test_report_is_strict_json(tmp_path):
    rep = compute_metrics(hand_case(), CLASSES, au_reference_id=REF_ID, n_resamples=200)
    path = tmp_path / "metrics.json"
    store.write_json(path, rep)  # allow_nan=False: no NaN may leak
    back = MetricsReport.model_validate(json.loads(path.read_text()))
    assert back == rep
    assert back.metrics["accuracy"].value == pytest.approx(0.4)


def test_inconsistent_records_are_refused():
    case = hand_case()
    with pytest.raises(ValueError, match="more than once"):
        compute_metrics([*case, case[0]], CLASSES, au_reference_id=REF_ID)
    with pytest.raises(ValueError, match="contradicts"):  # `correct` is derived, never free
        ScoredSample.model_validate({**case[0].model_dump(), "correct": False})
    with pytest.raises(ValueError, match="not one of the task's classes"):
        compute_metrics(case, ["happiness", "sadness"], au_reference_id=REF_ID)


def test_compare_metrics_paired():
    base = _random_run(7, 300, acc=0.4, p_fail=0.0)
    # B is A with 60 wrong answers fixed
    fixed = 0
    better = []
    for s in base:
        if not s.correct and fixed < 60:
            better.append(s.model_copy(update={"pred": s.label, "correct": True}))
            fixed += 1
        else:
            better.append(s)
    cmp = compare_metrics(list(reversed(better)), base, CLASSES, au_reference_id=None, n_resamples=1000)
    acc = cmp.differences["accuracy"]
    assert acc.diff == pytest.approx(60 / 300)
    assert 0 < acc.ci_low < acc.diff < acc.ci_high and acc.p_value < 0.01
    assert cmp.mcnemar["b"] == 60 and cmp.mcnemar["c"] == 0
    assert cmp.mcnemar["p_value"] == pytest.approx(sps.binomtest(60, 60).pvalue)
    assert cmp.differences["au_box_iou"].diff is None and "au_box_iou" in cmp.not_computed

    same = compare_metrics(base, base, CLASSES, au_reference_id=None, n_resamples=200)
    assert same.differences["macro_f1"].diff == 0 and same.differences["macro_f1"].p_value == 1.0

    with pytest.raises(ValueError, match="different samples"):
        compare_metrics(base[:-1], base, CLASSES, au_reference_id=None)
    part = compare_metrics(base[:-1], base, CLASSES, au_reference_id=None, n_resamples=0, intersect=True)
    assert part.n == 299 and part.differences["accuracy"].ci_low is None


def test_scoring_and_metrics_import_no_heavy_packages():
    code = (
        "import sys, tag_bench.metrics, tag_bench.scoring\n"
        "heavy = [m for m in ('torch', 'transformers', 'sklearn', 'scipy', 'mediapipe', 'feat', 'vllm')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
