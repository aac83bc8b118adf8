"""Invariants every entry of the metric table must satisfy (in the style of scikit-learn's
``metrics/tests/test_common.py``): a new metric is checked here without a test of its own."""

from __future__ import annotations

import numpy as np
import pytest

from tag_bench.facs import prototype_aus
from tag_bench.schema import (
    COMMON7,
    INTERVENTION_CONDITIONS,
    AUReference,
    AUState,
    ConditionAnswer,
    Evidence,
    Generation,
    InterventionOutcome,
    Parsed,
    Sample,
    ScoredSample,
)
from tag_bench.scoring import METRICS, RunFacts, compute_metrics, metrics_for, score_sample
from tag_bench.scoring.features import FIELD_INDEX, SUM_FIELDS, named_sums
from tag_bench.scoring.metric_table import spec
from tag_bench.scoring.units import UNITS, format_value, unit_of

CLASSES = list(COMMON7)
REF = "common@1"
AUS = tuple(f"AU{k}" for k in (1, 2, 4, 5, 6, 7, 9, 10, 12, 15, 16, 17, 20, 23, 24, 25, 26))
NAMES = [m.name for m in metrics_for(CLASSES)]
#: a timed generate stage: 40 model calls in 8 s
TIMED = RunFacts(values={"generate_seconds": 8.0, "model_calls": 40.0})


def _generation(sid: str, rng: np.random.Generator | None, scale: float = 1.0) -> Generation:
    """An ok generation with the usage an adapter records (latency, token counts), scaled by ``scale``."""
    if rng is None:
        return Generation(
            sample_id=sid, text="...", latency_s=0.5 * scale, input_tokens=300, output_tokens=40
        )
    timed = rng.random() < 0.9
    return Generation(
        sample_id=sid,
        text="x" * int(rng.integers(1, 400) * scale),
        latency_s=float(rng.exponential(2.0)) * scale if timed else None,
        input_tokens=int(rng.integers(200, 900) * scale) if timed else None,
        output_tokens=int(rng.integers(5, 300) * scale) if rng.random() < 0.8 else None,
    )


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


class Run(list):
    """Scored samples, and each sample's outcome in one fill's intervention set (the faithfulness metrics)."""

    interventions: dict[str, InterventionOutcome] | None = None


def compute(run: list[ScoredSample], *args, **kwargs):
    """compute_metrics with the run's intervention outcomes, when it has some."""
    return compute_metrics(run, *args, interventions=getattr(run, "interventions", None), **kwargs)


def random_interventions(run: list[ScoredSample], seed: int) -> dict[str, InterventionOutcome]:
    """Random flips of every kind and log-probability drops for the samples with a parsed label and a box."""
    rng = np.random.default_rng(seed + 2000)
    out = {}
    for s in run:
        tested = s.status == "ok" and any(c.box is not None for c in s.claims)
        answers = {}
        for c in INTERVENTION_CONDITIONS:
            roll = rng.random()
            kind = "label" if roll < 0.3 else "unparsed" if roll < 0.4 else None
            answers[c] = ConditionAnswer(
                status="ok" if kind != "unparsed" else "no_answer",
                pred=s.pred if kind is None else (str(rng.choice(CLASSES)) if kind == "label" else None),
                flip=kind is not None,
                kind=kind,
                logprob=float(-rng.exponential(3.0)) if c != "none" else None,
                answer_only_logprob=float(-rng.exponential(8.0)) if c != "none" else None,
            )
        out[s.sample_id] = InterventionOutcome(
            sample_id=s.sample_id, fill="blur", tested=tested, original=s.pred, correct=s.correct,
            logprob=float(-rng.exponential(1.0)), answer_only_logprob=float(-rng.exponential(4.0)),
            answers=answers if tested else {},
        )  # fmt: skip
    return out


def random_run(seed: int, n: int = 200, *, with_reference: bool = True, usage_scale: float = 1.0) -> Run:
    """Mixed statuses, labels, cited AUs and boxes (some exact, some off, some without box), usage, and
    intervention outcomes."""
    rng = np.random.default_rng(seed)
    usage = np.random.default_rng(seed + 1000)  # its own stream: scaling usage leaves the rest alike
    out = []
    for i in range(n):
        gold = str(rng.choice(CLASSES))
        s = _sample(i, gold)
        ref = _reference(set(), rng) if with_reference else None
        roll = rng.random()
        if roll < 0.05:
            out.append(score_sample(s, None, None, ref, CLASSES))
            continue
        g = _generation(s.id, usage, usage_scale)
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
    run = Run(out)
    run.interventions = random_interventions(out, seed)
    return run


def oracle_run(n: int = 140) -> list[ScoredSample]:
    """Right label, citing exactly the reference-active AUs (the gold emotion's prototype), exact boxes."""
    out = []
    for i in range(n):
        gold = CLASSES[i % len(CLASSES)]
        active = set(prototype_aus(gold))
        ev = [Evidence(au=au, box=_region(au)) for au in sorted(active)]
        parsed = Parsed(label=gold, status="ok", aus=sorted(active), evidence=ev)
        s = _sample(i, gold)
        out.append(score_sample(s, _generation(s.id, None), parsed, _reference(active), CLASSES))
    return out


def degenerate_runs() -> dict[str, tuple[list[ScoredSample], str | None]]:
    """Runs in which some denominators are empty."""
    one_class = [
        score_sample(_sample(i, "happiness"), None, None, _reference({"AU6"}), CLASSES) for i in range(3)
    ]
    silent = []
    for i in range(4):
        s = _sample(i, CLASSES[i])
        parsed = Parsed(label=CLASSES[i], status="ok")  # a generation that records no usage, no text
        silent.append(score_sample(s, Generation(sample_id=s.id), parsed, _reference(set()), CLASSES))
    return {
        "empty": ([], REF),
        "all_missing_one_class": (one_class, REF),
        "no_evidence_nothing_active": (silent, REF),
        "no_reference": (random_run(7, 30, with_reference=False), None),
    }


def test_every_metric_is_classified_and_has_a_direction():
    groups = {"classification", "per_class", "grounding", "usage", "faithfulness"}
    levels = {"sample", "claim", "au", "class", "run"}
    ci_of_kind = {"sums": {"bootstrap", "wilson"}, "quantile": {"order-statistic"}, "run": {"none"}}
    for m in METRICS:
        assert m.higher_is_better in (True, False, None), m.name
        assert m.higher_is_better is not None or m.informational, f"{m.name}: no direction, so informational"
        assert m.group in groups and m.level in levels and m.ci_method in ci_of_kind[m.kind], m.name
        assert m.unit in UNITS, m.name
        assert m.title and m.description and m.empty_reason, m.name
        assert (m.numerator is None) != (m.value is None), f"{m.name}: a ratio or a function, not both"
        assert (m.group == "per_class") == ("{cls}" in m.name), m.name
        assert (m.kind == "quantile") == (m.quantile is not None), m.name
        if m.kind == "quantile":  # a per-sample value column over the samples a 0/1 column selects
            assert m.numerator in FIELD_INDEX and m.denominator in FIELD_INDEX, m.name
        if m.ci_method == "wilson":  # a proportion of counts
            assert m.unit == "rate" and m.level != "run", m.name
        if m.hardware_dependent:
            assert m.informational, f"{m.name}: a figure of the machine is never ranked"
    report = compute(random_run(0), CLASSES, au_reference_id=REF, n_resamples=0, facts=TIMED)
    assert list(report.metrics) == NAMES  # every reported number is in the table, in its order
    for name in report.metrics:
        assert spec(name).name == name
    assert [m.name for m in METRICS if m.headline][:3] == ["accuracy", "balanced_accuracy", "macro_f1"]


def test_every_named_sum_exists():
    sums = named_sums(np.zeros((1, len(CLASSES) * (len(CLASSES) + 1) + len(SUM_FIELDS))), CLASSES)
    for m in metrics_for(CLASSES):
        if m.kind == "run":  # run-level figures of the manifest
            assert {m.numerator, m.denominator} <= set(TIMED.values), m.name
            continue
        for key in (m.numerator, m.denominator, m.support):
            assert key is None or key in sums, (m.name, key)


@pytest.mark.parametrize("seed", [0, 1])
def test_values_lie_in_their_unit_and_the_ci_brackets_the_value(seed):
    run = random_run(seed)
    report = compute(run, CLASSES, au_reference_id=REF, n_resamples=300, seed=seed, facts=TIMED)
    assert not report.not_computed  # this run has every kind of evidence, usage, timing and intervention
    for name, v in report.metrics.items():
        unit = unit_of(spec(name))
        assert v.value is not None, name
        assert unit.lower <= v.value and (unit.upper is None or v.value <= unit.upper), (name, v.value)
        assert v.n > 0, name
        if v.ci_low is not None:
            assert v.ci_high is not None and v.ci_method is not None, name
            assert v.ci_low <= v.value + 1e-12 and v.value <= v.ci_high + 1e-12, name
            assert unit.lower <= v.ci_low <= v.ci_high and (unit.upper is None or v.ci_high <= unit.upper), (
                name
            )
        elif spec(name).ci_method != "none":
            assert spec(name).kind == "quantile", f"{name}: 300 resamples give every other metric an interval"
        # every output shows a value through its unit: rates in percent, the rest as they are
        shown = format_value(spec(name), v.value)
        assert float(shown) == pytest.approx(unit.shown(v.value), abs=0.51 * 10 ** -unit.digits(1)), name


def test_a_quantity_scaled_scales_its_metrics_and_leaves_rates_alone():
    """Per unit: a rate is a share (unchanged when every latency, token count and response length doubles);
    a mean or quantile of seconds, tokens or characters doubles with them."""
    a = compute(random_run(5), CLASSES, au_reference_id=REF, n_resamples=0, facts=TIMED)
    b = compute(random_run(5, usage_scale=2.0), CLASSES, au_reference_id=REF, n_resamples=0, facts=TIMED)
    for name in NAMES:
        m, va, vb = spec(name), a.metrics[name].value, b.metrics[name].value
        assert va is not None and vb is not None, name
        if m.unit in ("seconds", "tokens", "chars"):
            assert vb == pytest.approx(2 * va, rel=0.02), name  # token counts and lengths round to integers
        else:
            assert vb == pytest.approx(va), name


def test_doubling_every_sample_changes_no_value():
    """Each metric is a mean, share, quantile or run-level figure: duplicating the samples is invisible."""
    run = random_run(6, 80)
    twice = Run(run + [s.model_copy(update={"sample_id": s.sample_id + "b"}) for s in run])
    assert run.interventions is not None
    twice.interventions = {**run.interventions, **{k + "b": v for k, v in run.interventions.items()}}
    a = compute(run, CLASSES, au_reference_id=REF, n_resamples=0, facts=TIMED)
    b = compute(twice, CLASSES, au_reference_id=REF, n_resamples=0, facts=TIMED)
    for name in NAMES:
        assert b.metrics[name].value == pytest.approx(a.metrics[name].value), name


def test_invariant_to_sample_order():
    run = random_run(3)
    a = compute(run, CLASSES, au_reference_id=REF, n_resamples=0)
    b = compute_metrics(
        run[::-1], CLASSES, au_reference_id=REF, n_resamples=0, interventions=run.interventions
    )
    for name in NAMES:
        va, vb = a.metrics[name], b.metrics[name]
        assert va.n == vb.n, name
        assert (va.value is None) == (vb.value is None), name
        if va.value is not None:
            assert va.value == pytest.approx(vb.value, abs=1e-12), name


def test_empty_denominator_is_not_computed_with_the_table_reason():
    seen_empty: set[str] = set()
    for case, (run, ref) in degenerate_runs().items():
        report = compute_metrics(run, CLASSES, au_reference_id=ref, n_resamples=200, facts=RunFacts())
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


def test_an_unmet_need_names_its_reason_for_every_metric_that_has_it():
    facts = RunFacts(unmet={"evidence": "no evidence asked", "timing": "not timed"})
    report = compute(random_run(2), CLASSES, au_reference_id=REF, n_resamples=0, facts=facts)
    for m in metrics_for(CLASSES):
        want = "no evidence asked" if "evidence" in m.needs else "not timed" if "timing" in m.needs else None
        assert report.not_computed.get(m.name) == want, m.name
        assert (report.metrics[m.name].value is None) == (want is not None), m.name
    assert {m.name for m in METRICS if "evidence" in m.needs} == {
        m.name for m in METRICS if m.group == "grounding"
    }


def test_the_oracle_run_is_best_in_every_declared_direction():
    oracle = compute_metrics(oracle_run(), CLASSES, au_reference_id=REF, n_resamples=0)
    for seed in (0, 1, 2):
        other = compute(random_run(seed), CLASSES, au_reference_id=REF, n_resamples=0)
        for m in metrics_for(CLASSES):
            a, b = oracle.metrics[m.name].value, other.metrics[m.name].value
            if a is None or b is None or m.name in ("unjudged_au_rate",) or m.informational:
                continue
            if m.higher_is_better:
                assert a >= b - 1e-12, (m.name, a, b)
            else:
                assert a <= b + 1e-12, (m.name, a, b)
    assert oracle.metrics["accuracy"].value == 1.0
    # neutral cites no AU, and grounded accuracy needs a box claim (docs/metrics.md)
    assert oracle.metrics["grounded_accuracy"].value == pytest.approx(6 / 7)
    assert oracle.metrics["hallucinated_au_rate"].value == 0.0 and oracle.metrics["au_box_iou"].value == 1.0
