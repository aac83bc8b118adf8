"""From an intervention set's answers to outcomes, metrics and the run's intervention summary.

:func:`outcomes` compares every condition's answer with the original label (a flip: another label, a
reply that no longer parses, or a failed call); :func:`fill_report` is the run's scores with one fill's
intervention metrics (the metric table's faithfulness group); :func:`summary` adds what the table cannot
hold: the exact McNemar test of each gap on the paired flips, Holm-adjusted over every fill and both gaps,
flips against the filled area, and the per-AU flips of ``--per-au``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from tag_bench.intervene.plan import coverage_reasons
from tag_bench.metrics.stats import holm, mcnemar_exact, wilson_interval
from tag_bench.schema import (
    INTERVENTION_CONDITIONS,
    AnswerScore,
    AUFlips,
    ConditionAnswer,
    FillSummary,
    FlipBin,
    GapTest,
    Generation,
    InterventionOutcome,
    InterventionPlan,
    InterventionSummary,
    MetricsReport,
    Sample,
    ScoredSample,
)
from tag_bench.scoring.aggregate import RunFacts, build_arrays, metrics_from_arrays
from tag_bench.scoring.run import parse_generation
from tag_bench.scoring.score import score_sample

#: The gaps of the metric table: (metric, the condition cited is compared with).
GAPS: tuple[tuple[str, str], ...] = (("faithfulness_gap", "control"), ("specificity_gap", "habitual"))
#: Edges of the filled-area bins (share of the image) of the flips-against-area breakdown.
AREA_EDGES: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 1.0)


def answer_of(
    sample: Sample, generation: Generation | None, original: str | None, classes: Sequence[str]
) -> ConditionAnswer:
    """One condition's answer against the original label."""
    parsed = parse_generation(generation, list(classes)) if generation is not None else None
    s = score_sample(sample, generation, parsed, None, classes)
    if s.status == "ok":
        flip = s.pred != original
        return ConditionAnswer(status=s.status, pred=s.pred, flip=flip, kind="label" if flip else None)
    if s.status == "invalid_label":  # another label, outside the task's classes
        pred = parsed.label if parsed is not None else None
        return ConditionAnswer(status=s.status, pred=pred, flip=True, kind="label", error=s.error)
    return ConditionAnswer(status=s.status, flip=True, kind="unparsed", error=s.error)


def outcomes(
    fill: str,
    plans: Sequence[InterventionPlan],
    samples: Mapping[str, Sample],
    answers: Mapping[str, Mapping[str, Generation]],
    classes: Sequence[str],
    *,
    tested_ids: set[str],
    limit_reason: str | None = None,
    scores: Mapping[str, Mapping[str, AnswerScore]] | None = None,
) -> list[InterventionOutcome]:
    """Each sample's outcome under ``fill``. ``answers``: condition -> sample id -> generation (``none``
    included); a tested sample lacking one (predictions brought back without it) is untested, with the
    reason. ``tested_ids``: the tested samples within ``--limit`` (the others get ``limit_reason``);
    ``scores``: condition (``none`` for the original image) -> sample id -> answer log-probabilities."""
    out = []
    scores = scores or {}
    for plan in plans:
        base = InterventionOutcome(
            sample_id=plan.sample_id, fill=fill, tested=False, reason=plan.reason, original=plan.original,
            correct=plan.correct,
        )  # fmt: skip
        if not plan.tested:
            out.append(base)
            continue
        if plan.sample_id not in tested_ids:
            out.append(base.model_copy(update={"reason": limit_reason}))
            continue
        got: dict[str, ConditionAnswer] = {}
        placed = {c: by for c, by in answers.items() if plan.placement(c) is not None}
        lacking = [c for c, by in placed.items() if plan.sample_id not in by]
        if lacking:
            out.append(base.model_copy(update={"reason": f"no answer under {', '.join(lacking)}"}))
            continue
        for c, by in placed.items():
            a = answer_of(samples[plan.sample_id], by[plan.sample_id], plan.original, classes)
            sc = scores.get(c, {}).get(plan.sample_id)
            if sc is not None and c != "none":
                a.logprob, a.answer_only_logprob = sc.logprob, sc.answer_only_logprob
            got[c] = a
        original = scores.get("none", {}).get(plan.sample_id)
        out.append(
            base.model_copy(
                update={
                    "tested": True,
                    "reason": None,
                    "answers": got,
                    "logprob": original.logprob if original else None,
                    "answer_only_logprob": original.answer_only_logprob if original else None,
                }
            )
        )
    return out


def fill_facts(
    base: RunFacts, fill: str, conditions: Sequence[str], found: Sequence[InterventionOutcome],
    scoring_unavailable: str | None,
) -> RunFacts:  # fmt: skip
    """The run's facts for one fill's metrics: the stage has run; a condition not asked is not run (with
    its command); no tested sample is the reason of every metric but the coverage; answer log-probabilities
    need an adapter that scores text."""
    unmet = {k: v for k, v in base.unmet.items() if k != "interventions"}
    not_run = {k: v for k, v in base.not_run.items() if k != "interventions"}
    for c in INTERVENTION_CONDITIONS:
        if c not in conditions:
            command = f"tag-bench intervene RUN --fills {fill} --conditions {c}"
            unmet[f"condition:{c}"] = f"the condition {c} was not asked with the fill {fill}: `{command}`"
            not_run[f"condition:{c}"] = command
    n_tested = sum(o.tested for o in found)
    if not n_tested:
        why = Counter((o.reason or "untested").split(":")[0] for o in found)
        detail = "; ".join(f"{n} {r}" for r, n in why.most_common())
        unmet["tested"] = f"no tested sample ({len(found)} untested: {detail})" if found else "no sample"
    if scoring_unavailable is not None:
        unmet["answer_logprobs"] = scoring_unavailable
    return RunFacts(unmet=unmet, values=dict(base.values), not_run=not_run)


def fill_report(
    scored: Sequence[ScoredSample],
    found: Sequence[InterventionOutcome],
    classes: Sequence[str],
    au_reference_id: str | None,
    facts: RunFacts,
    *,
    n_resamples: int,
    seed: int,
) -> MetricsReport:
    """The run's scores with one fill's intervention metrics."""
    arrays = build_arrays(
        scored, classes, au_reference_id=au_reference_id, interventions={o.sample_id: o for o in found}
    )
    arrays.facts = facts
    return metrics_from_arrays(arrays, n_resamples=n_resamples, seed=seed)


def _rate(k: int, n: int) -> tuple[float | None, float | None, float | None]:
    if n <= 0:
        return None, None, None
    lo, hi = wilson_interval(k, n)
    return k / n, lo, hi


def fill_summary(
    fill: str, plans: Sequence[InterventionPlan], found: Sequence[InterventionOutcome]
) -> FillSummary:
    tested = [o for o in found if o.tested]
    by_plan = {p.sample_id: p for p in plans}
    failed: Counter[str] = Counter()
    for o in tested:
        for c, a in o.answers.items():
            if a.status in ("error", "missing"):
                failed[c] += 1
    bins = []
    for c in ("cited", "control", "habitual", "keep"):
        rows = []
        for o in tested:
            answer, plan = o.answers.get(c), by_plan[o.sample_id]
            p = plan.placement(c)
            if answer is None or p is None or plan.image_size is None:
                continue
            rows.append((p.filled_area / float(plan.image_size[0] * plan.image_size[1]), answer.flip))
        for low, high in itertools.pairwise(AREA_EDGES):
            inside = [f for share, f in rows if low <= share < high or (high == 1.0 and share == 1.0)]
            if inside:
                k = int(sum(inside))
                rate, lo, hi = _rate(k, len(inside))
                bins.append(FlipBin(condition=c, low=low, high=high, n=len(inside), flips=k, rate=rate,
                                    ci_low=lo, ci_high=hi))  # fmt: skip
    per_au: dict[str, list[bool]] = {}
    for o in tested:
        for c, a in o.answers.items():
            if c.startswith("drop:"):
                per_au.setdefault(c.split(":", 1)[1], []).append(a.flip)
    aus = []
    for au, flips in sorted(per_au.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rate, lo, hi = _rate(int(sum(flips)), len(flips))
        aus.append(AUFlips(au=au, n=len(flips), flips=int(sum(flips)), rate=rate, ci_low=lo, ci_high=hi))
    untested = Counter((o.reason or "untested").split(":")[0] for o in found if not o.tested)
    return FillSummary(
        fill=fill, n=len(found), tested=len(tested), untested=dict(untested.most_common()),
        failed_calls=dict(sorted(failed.items())), area_bins=bins, per_au=aus,
    )  # fmt: skip


def gap_tests(fill: str, found: Sequence[InterventionOutcome]) -> list[GapTest]:
    tested = [o for o in found if o.tested]
    out = []
    for metric, other in GAPS:
        pairs = [
            (o.answers["cited"].flip, o.answers[other].flip)
            for o in tested
            if "cited" in o.answers and other in o.answers
        ]
        if not pairs:
            continue
        a = np.array([x for x, _ in pairs])
        b = np.array([y for _, y in pairs])
        mc = mcnemar_exact(a, b)
        out.append(GapTest(fill=fill, metric=metric, other=other, n=len(pairs), cited_only=mc.b,
                           other_only=mc.c, p_value=mc.p_value))  # fmt: skip
    return out


def summary(
    per_fill: Mapping[str, tuple[Sequence[InterventionPlan], Sequence[InterventionOutcome]]],
) -> InterventionSummary:
    """The run's intervention summary over every fill (Holm over all fills' gap tests together)."""
    fills = [fill_summary(f, plans, found) for f, (plans, found) in per_fill.items()]
    tests = [t for f, (_, found) in per_fill.items() for t in gap_tests(f, found)]
    if tests:
        for t, adjusted in zip(tests, holm([t.p_value for t in tests]), strict=True):
            t.p_holm = float(adjusted)
    return InterventionSummary(fills=fills, tests=tests)


__all__ = [
    "AREA_EDGES",
    "GAPS",
    "answer_of",
    "coverage_reasons",
    "fill_facts",
    "fill_report",
    "outcomes",
    "summary",
]
