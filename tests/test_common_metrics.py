"""Invariants every entry of the metric table must satisfy (in the style of scikit-learn's
``metrics/tests/test_common.py``): a new metric is checked here without a test of its own."""

from __future__ import annotations

import numpy as np
import pytest

from tag_bench.facs import prototype_aus
from tag_bench.schema import COMMON7, AUReference, AUState, Evidence, Generation, Parsed, Sample, ScoredSample
from tag_bench.scoring import METRICS, compute_metrics, metrics_for, score_sample
from tag_bench.scoring.features import SUM_FIELDS, named_sums
from tag_bench.scoring.metric_table import spec

CLASSES = list(COMMON7)
REF = "common@1"
AUS = tuple(f"AU{k}" for k in (1, 2, 4, 5, 6, 7, 9, 10, 12, 15, 16, 17, 20, 23, 24, 25, 26))
NAMES = [m.name for m in metrics_for(CLASSES)]


def _region(au: str) -> list[float]:
    k = AUS.index(au)
    return [float(5 * k), float(3 * k), float(5 * k + 20), float(3 * k + 15)]


def _reference(active: set[str], rng: np.random.Generator | None = None) -> AUReference:
    aus = {}
    for au in AUS:
        score = (0.9 if au in active else 0.1) if rng is None else float(rng.random())
        aus[au] = AUState(score=score, active=au in active if rng is None else score >= 0.5, box=_region(au))
    aus["AU45"] = AUState(box=[0, 0, 5, 5])  # a region without activation: unjudgeable
    return AUReference(reference_id=REF, detector="common", version="1", threshold=0.5, status="ok", aus=aus)


def _sample(i: int, gold: str) -> Sample:
    return Sample(id=f"s{i:04d}", dataset="x", split="t", image="x.jpg", label=gold, native_label=gold)


def random_run(seed: int, n: int = 200, *, with_reference: bool = True) -> list[ScoredSample]:
    """Mixed statuses, labels, cited AUs and boxes (some exact, some off, some without box)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        gold = str(rng.choice(CLASSES))
        s = _sample(i, gold)
        ref = _reference(set(), rng) if with_reference else None
        roll = rng.random()
        if roll < 0.05:
            out.append(score_sample(s, None, None, ref, CLASSES))
            continue
        g = Generation(sample_id=s.id, text="...")
        if roll < 0.1:
            out.append(
                score_sample(s, g.model_copy(update={"status": "error", "error": "x"}), None, ref, CLASSES)
            )
            continue
        cited = [str(a) for a in rng.choice([*AUS, "AU45"], size=int(rng.integers(0, 4)), replace=False)]
        evidence = []
        for au in cited:
            if rng.random() < 0.7:
                box = _region(au) if au != "AU45" and rng.random() < 0.5 else [60.0, 60.0, 80.0, 80.0]
                evidence.append(Evidence(au=au, box=box))
        status = "ok" if rng.random() < 0.85 else str(rng.choice(["no_answer", "refusal", "ambiguous"]))
        label = (gold if rng.random() < 0.5 else str(rng.choice(CLASSES))) if status == "ok" else None
        parsed = Parsed(label=label, status=status, aus=cited, evidence=evidence)
        out.append(score_sample(s, g, parsed, ref, CLASSES))
    return out


def oracle_run(n: int = 140) -> list[ScoredSample]:
    """Right label, citing exactly the reference-active AUs (the gold emotion's prototype), exact boxes."""
    out = []
    for i in range(n):
        gold = CLASSES[i % len(CLASSES)]
        active = set(prototype_aus(gold))
        ev = [Evidence(au=au, box=_region(au)) for au in sorted(active)]
        parsed = Parsed(label=gold, status="ok", aus=sorted(active), evidence=ev)
        s = _sample(i, gold)
        out.append(
            score_sample(s, Generation(sample_id=s.id, text="..."), parsed, _reference(active), CLASSES)
        )
    return out


def degenerate_runs() -> dict[str, tuple[list[ScoredSample], str | None]]:
    """Runs in which some denominators are empty."""
    one_class = [
        score_sample(_sample(i, "happiness"), None, None, _reference({"AU6"}), CLASSES) for i in range(3)
    ]
    silent = []
    for i in range(4):
        s = _sample(i, CLASSES[i])
        parsed = Parsed(label=CLASSES[i], status="ok")
        silent.append(
            score_sample(s, Generation(sample_id=s.id, text="x"), parsed, _reference(set()), CLASSES)
        )
    return {
        "empty": ([], REF),
        "all_missing_one_class": (one_class, REF),
        "no_evidence_nothing_active": (silent, REF),
        "no_reference": (random_run(7, 30, with_reference=False), None),
    }


def test_every_metric_is_classified_and_has_a_direction():
    groups = {"classification", "per_class", "grounding"}
    levels = {"sample", "claim", "au", "class"}
    for m in METRICS:
        assert isinstance(m.higher_is_better, bool), m.name
        assert m.group in groups and m.level in levels and m.ci_method in ("bootstrap", "wilson"), m.name
        assert m.title and m.description and m.empty_reason, m.name
        assert (m.numerator is None) != (m.value is None), f"{m.name}: a ratio or a function, not both"
        assert (m.group == "per_class") == ("{cls}" in m.name), m.name
    report = compute_metrics(random_run(0), CLASSES, au_reference_id=REF, n_resamples=0)
    assert list(report.metrics) == NAMES  # every reported number is in the table, in its order
    for name in report.metrics:
        assert spec(name).name == name


def test_every_named_sum_exists():
    sums = named_sums(np.zeros((1, len(CLASSES) * (len(CLASSES) + 1) + len(SUM_FIELDS))), CLASSES)
    for m in metrics_for(CLASSES):
        for key in (m.numerator, m.denominator, m.support):
            assert key is None or key in sums, (m.name, key)


@pytest.mark.parametrize("seed", [0, 1])
def test_values_are_rates_and_the_ci_brackets_the_value(seed):
    report = compute_metrics(random_run(seed), CLASSES, au_reference_id=REF, n_resamples=300, seed=seed)
    for name, v in report.metrics.items():
        if v.value is None:
            assert name in report.not_computed
            continue
        assert 0.0 <= v.value <= 1.0, name
        assert v.n > 0, name
        if v.ci_low is not None:
            assert v.ci_low <= v.value + 1e-12 and v.value <= v.ci_high + 1e-12, name
            assert 0.0 <= v.ci_low <= v.ci_high <= 1.0, name


def test_invariant_to_sample_order():
    run = random_run(3)
    a = compute_metrics(run, CLASSES, au_reference_id=REF, n_resamples=0)
    b = compute_metrics(run[::-1], CLASSES, au_reference_id=REF, n_resamples=0)
    for name in NAMES:
        va, vb = a.metrics[name], b.metrics[name]
        assert va.n == vb.n, name
        assert (va.value is None) == (vb.value is None), name
        if va.value is not None:
            assert va.value == pytest.approx(vb.value, abs=1e-12), name


def test_empty_denominator_is_not_computed_with_the_table_reason():
    seen_empty: set[str] = set()
    for case, (run, ref) in degenerate_runs().items():
        report = compute_metrics(run, CLASSES, au_reference_id=ref, n_resamples=50)
        for m in metrics_for(CLASSES):
            v = report.metrics[m.name]
            if v.n == 0 and m.support is None:
                assert v.value is None, (case, m.name)
            if v.value is None:
                reason = report.not_computed[m.name]
                no_reference = m.needs_reference and "AU reference" in reason
                assert reason == m.empty_reason or no_reference, (case, m.name, reason)
                seen_empty.add(m.name)
    assert seen_empty == set(NAMES), f"no degenerate case empties {sorted(set(NAMES) - seen_empty)}"


def test_the_oracle_run_is_best_in_every_declared_direction():
    oracle = compute_metrics(oracle_run(), CLASSES, au_reference_id=REF, n_resamples=0)
    for seed in (0, 1, 2):
        other = compute_metrics(random_run(seed), CLASSES, au_reference_id=REF, n_resamples=0)
        for m in metrics_for(CLASSES):
            a, b = oracle.metrics[m.name].value, other.metrics[m.name].value
            if a is None or b is None or m.name in ("unjudged_au_rate",):
                continue
            if m.higher_is_better:
                assert a >= b - 1e-12, (m.name, a, b)
            else:
                assert a <= b + 1e-12, (m.name, a, b)
    assert oracle.metrics["accuracy"].value == 1.0
    # neutral cites no AU, and grounded accuracy needs a box claim (docs/metrics.md)
    assert oracle.metrics["grounded_accuracy"].value == pytest.approx(6 / 7)
    assert oracle.metrics["hallucinated_au_rate"].value == 0.0 and oracle.metrics["au_box_iou"].value == 1.0
