"""A judge study's figures from its judgements: ``metrics.json`` of the judge run directory.

A pure function of the manifest and ``judgements.jsonl`` (the candidates' runs are not read again).
Per comparison (sample × pair) the two orders are combined, MT-Bench style: the response preferred in
both orders wins; a tie in both, or verdicts that disagree across the swap (``position_inconsistent``),
is a tie, i.e. half a win each. A comparison with an order that gave no verdict (``judge_failed``) is left
out of every fit (neither order is used) and counted in the judge failure rate shown beside every
rating; a comparison in which a candidate has no response is left out and counted in its no-response
rate. The figures and their definitions are the judge metrics of the metric table
(:data:`tag_bench.scoring.metric_table.JUDGE_METRICS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tag_bench.metrics.preference import DEFAULT_RIDGE, ELO, Comparisons, RatingFit, bradley_terry, components
from tag_bench.metrics.stats import bootstrap_p_value, wilson_interval
from tag_bench.schema import (
    CandidateRatings,
    JudgeManifest,
    Judgement,
    JudgeReport,
    MetricValue,
    PairwiseWinRate,
)
from tag_bench.scoring.metric_table import JUDGE_BY_NAME, JUDGE_CANDIDATE_METRICS, JUDGE_STUDY_METRICS

CI = 0.95
_RATINGS = ("bt_rating", "bt_rating_lc", "bt_rating_same_label")


@dataclass
class Outcome:
    """One comparison (a sample and a pair i < j in the manifest's order)."""

    sample: int
    i: int
    j: int
    kind: str  # "ok", "judge_failed", "no_response", "pending"
    y: float | None = None  # 1: i preferred in both orders, 0: j, 0.5: a tie or inconsistent
    consistent: bool | None = None
    z: float = 0.0  # (len_i - len_j) / (len_i + len_j)
    same_label: bool = False
    missing: tuple[int, ...] = ()  # candidates without a response


_SCORE = {"A": 1.0, "B": 0.0, "C": 0.5}


def outcomes(manifest: JudgeManifest, judgements: Sequence[Judgement]) -> list[Outcome]:
    """Every comparison of the study (the last record of each order wins), in sample and pair order."""
    names = [c.name for c in manifest.candidates]
    index = {n: k for k, n in enumerate(names)}
    samples = {s: k for k, s in enumerate(manifest.sample_ids)}
    latest: dict[tuple[str, str, str], Judgement] = {}
    for rec in judgements:
        if rec.a in index and rec.b in index and rec.sample_id in samples:
            latest[(rec.sample_id, rec.a, rec.b)] = rec
    baseline = index.get(manifest.baseline) if manifest.baseline else None
    if baseline is not None:
        pairs = [(min(baseline, k), max(baseline, k)) for k in range(len(names)) if k != baseline]
    else:
        pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    out = []
    for sid, s in samples.items():
        for i, j in pairs:
            first, second = latest.get((sid, names[i], names[j])), latest.get((sid, names[j], names[i]))
            nr = next((r for r in (first, second) if r is not None and r.status == "no_response"), None)
            if nr is not None:
                out.append(
                    Outcome(s, i, j, "no_response", missing=tuple(index[m] for m in nr.missing if m in index))
                )
                continue
            if first is None or second is None:
                out.append(Outcome(s, i, j, "pending"))
                continue
            if first.status != "ok" or second.status != "ok":
                out.append(Outcome(s, i, j, "judge_failed"))
                continue
            assert first.verdict is not None and second.verdict is not None
            y1 = _SCORE[first.verdict]  # i shown as A
            y2 = 1.0 - _SCORE[second.verdict]  # j shown as A
            la, lb = first.len_a or 0, first.len_b or 0
            z = (la - lb) / (la + lb) if la + lb else 0.0
            same = first.label_a is not None and first.label_a == first.label_b
            out.append(Outcome(s, i, j, "ok", y1 if y1 == y2 else 0.5, y1 == y2, z, same))
    return out


def _wilson(k: float, n: int) -> MetricValue:
    lo, hi = wilson_interval(k, n)  # type: ignore[arg-type]  # ties count half a success
    return MetricValue(value=k / n, ci_low=lo, ci_high=hi, n=n, ci_method="wilson")


def _comparisons(fit: list[Outcome], m: int, n_samples: int) -> Comparisons:
    return Comparisons(
        m,
        n_samples,
        np.array([o.i for o in fit], dtype=np.int64),
        np.array([o.j for o in fit], dtype=np.int64),
        np.array([o.y for o in fit], dtype=float),
        np.array([o.sample for o in fit], dtype=np.int64),
        np.array([o.z for o in fit], dtype=float),
    )


def _rating_values(fit: RatingFit, k: int, anchor: int | None, n: int) -> MetricValue | None:
    value = fit.rating[k]
    if math.isnan(value):
        return None
    if anchor == k or fit.distribution is None:
        return MetricValue(value=float(value), n=n)
    lo, hi = fit.interval(CI)
    low, high = float(lo[k]), float(hi[k])
    if math.isnan(low) or math.isnan(high):
        return MetricValue(value=float(value), n=n)
    return MetricValue(
        value=float(value), ci_low=min(low, value), ci_high=max(high, value), n=n, ci_method="bootstrap"
    )


def rating_fits(
    fit: Sequence[Outcome],
    m: int,
    n_samples: int,
    anchor: int | None,
    *,
    ridge: float = DEFAULT_RIDGE,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, RatingFit | None]:
    """The three Bradley-Terry fits of the comparisons used (None: no comparison for that fit). The
    bootstrap draws depend only on ``n_samples`` and ``seed``: two studies of the same samples get the same
    resamples, row by row (paired, as ``tag-bench compare`` uses them)."""
    comps = _comparisons(list(fit), m, n_samples)
    same = np.array([o.same_label for o in fit], dtype=bool)
    subsets = {"bt_rating": comps, "bt_rating_lc": comps, "bt_rating_same_label": comps.subset(same)}
    out: dict[str, RatingFit | None] = {}
    for name, data in subsets.items():
        out[name] = None if not len(data.y) else bradley_terry(
            data, anchor=anchor, covariate=name == "bt_rating_lc", ridge=ridge, n_resamples=n_resamples, seed=seed
        )  # fmt: skip
    return out


def study_report(
    manifest: JudgeManifest,
    judgements: Sequence[Judgement],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    max_failure_rate: float = 0.1,
    ridge: float = DEFAULT_RIDGE,
) -> JudgeReport:
    """The study's figures (see the module docstring)."""
    names = [c.name for c in manifest.candidates]
    m, n_samples = len(names), len(manifest.sample_ids)
    anchor = names.index(manifest.baseline) if manifest.baseline in names else None
    outs = outcomes(manifest, judgements)
    fit = [o for o in outs if o.kind == "ok"]
    last = {(r.sample_id, r.a, r.b): r for r in judgements}
    calls = [r for r in last.values() if r.status != "no_response"]
    failure_counts: dict[str, int] = {}
    for r in calls:
        if r.failure:
            failure_counts[r.failure] = failure_counts.get(r.failure, 0) + 1
    status_counts = {
        "consistent": sum(1 for o in fit if o.consistent),
        "position_inconsistent": sum(1 for o in fit if not o.consistent),
        "judge_failed": sum(o.kind == "judge_failed" for o in outs),
        "no_response": sum(o.kind == "no_response" for o in outs),
        "pending": sum(o.kind == "pending" for o in outs),
    }
    not_computed: dict[str, str] = {}

    # ratings ----------------------------------------------------------------------------------------
    comps = _comparisons(fit, m, n_samples)
    graph = components(comps.i, comps.j, m)
    connected = len(graph) == 1
    fits = rating_fits(fit, m, n_samples, anchor, ridge=ridge, n_resamples=n_resamples, seed=seed)

    # per candidate ------------------------------------------------------------------------------------
    cands: list[CandidateRatings] = []
    for k, name in enumerate(names):
        mine = [o for o in outs if k in (o.i, o.j)]
        used = [o for o in mine if o.kind == "ok"]
        sent = [o for o in mine if o.kind in ("ok", "judge_failed")]
        values: dict[str, MetricValue | None] = {}
        reasons: dict[str, str] = {}
        for rname in _RATINGS:
            f = fits[rname]
            n = sum(1 for o in used if rname != "bt_rating_same_label" or o.same_label)
            v = None if f is None or n == 0 else _rating_values(f, k, anchor, n)
            values[rname] = v
            if v is None:
                reasons[rname] = (
                    JUDGE_BY_NAME[rname].empty_reason
                    if n == 0
                    else f"not joined to the {'baseline' if anchor is not None else 'other candidates'} by the "
                    "comparisons of the fit: its rating is not identified"
                )
        if used:
            wins = sum(o.y if o.i == k else 1 - o.y for o in used if o.y is not None)
            values["win_rate"] = _wilson(wins, len(used))
            values["position_consistency"] = _wilson(sum(1 for o in used if o.consistent), len(used))
        if sent:
            values["judge_failure_rate"] = _wilson(sum(o.kind == "judge_failed" for o in sent), len(sent))
        if mine:
            values["no_response_rate"] = _wilson(sum(k in o.missing for o in mine), len(mine))
        metrics: dict[str, MetricValue] = {}
        for mname in JUDGE_CANDIDATE_METRICS:
            v = values.get(mname)
            if v is None:
                metrics[mname] = MetricValue(value=None, n=0)
                reasons.setdefault(mname, JUDGE_BY_NAME[mname].empty_reason)
            else:
                metrics[mname] = v
        flags = []
        fail = metrics["judge_failure_rate"].value
        if fail is not None and fail > max_failure_rate:
            flags.append(
                f"its ratings rest on a high judge failure rate ({fail:.1%} of its comparisons > {max_failure_rate:.0%}): "
                "the comparisons left out may not be like the others"
            )
        if used and all((o.y == 1.0) == (o.i == k) and o.y != 0.5 for o in used):
            flags.append(
                "it won every comparison used in the fit: its rating rests on the ridge and its interval "
                "understates the uncertainty"
            )
        elif used and all((o.y == 0.0) == (o.i == k) and o.y != 0.5 for o in used):
            flags.append(
                "it lost every comparison used in the fit: its rating rests on the ridge and its interval "
                "understates the uncertainty"
            )
        cands.append(CandidateRatings(name=name, metrics=metrics, not_computed=reasons, flags=flags))

    # the study --------------------------------------------------------------------------------------------
    study: dict[str, MetricValue] = {}
    sent_all = [o for o in outs if o.kind in ("ok", "judge_failed")]
    decisive = [r for r in calls if r.verdict in ("A", "B")]
    values_s: dict[str, MetricValue | None] = {
        "judge_failure_rate": _wilson(status_counts["judge_failed"], len(sent_all)) if sent_all else None,
        "position_consistency": _wilson(status_counts["consistent"], len(fit)) if fit else None,
        "first_position_rate": _wilson(sum(r.verdict == "A" for r in decisive), len(decisive))
        if decisive
        else None,
        "tie_rate": _wilson(sum(o.y == 0.5 for o in fit), len(fit)) if fit else None,
        "no_response_rate": _wilson(status_counts["no_response"], len(outs)) if outs else None,
        "length_coefficient": None,
    }
    lc = fits["bt_rating_lc"]
    if lc is not None and lc.coefficient is not None:
        g = MetricValue(value=lc.coefficient, n=len(fit))
        if lc.coefficient_distribution is not None:
            lo, hi = np.nanpercentile(lc.coefficient_distribution, [2.5, 97.5]) if np.isfinite(
                lc.coefficient_distribution
            ).any() else (math.nan, math.nan)  # fmt: skip
            if not (math.isnan(lo) or math.isnan(hi)):
                g = MetricValue(value=lc.coefficient, ci_low=min(float(lo), lc.coefficient),
                                ci_high=max(float(hi), lc.coefficient), n=len(fit), ci_method="bootstrap")  # fmt: skip
        values_s["length_coefficient"] = g
    for mname in JUDGE_STUDY_METRICS:
        v = values_s.get(mname)
        if v is None:
            study[mname] = MetricValue(value=None, n=0)
            not_computed[mname] = JUDGE_BY_NAME[mname].empty_reason
        else:
            study[mname] = v
    if not connected and fit:
        parts = "; ".join(", ".join(names[k] for k in g) for g in graph)
        not_computed["connected"] = (
            f"the comparisons of the fit do not join every candidate (groups: {parts}): ratings across groups are "
            "not identified"
        )

    # pairwise win rates and rating p-values ------------------------------------------------------------
    win_rates = []
    for i in range(m):
        for j in range(i + 1, m):
            pair = [o for o in fit if (o.i, o.j) == (i, j)]
            if not pair:
                continue
            w = sum(o.y == 1.0 for o in pair)
            t = sum(o.y == 0.5 for o in pair)
            rate = _wilson(w + t / 2, len(pair))
            win_rates.append(
                PairwiseWinRate(
                    a=names[i], b=names[j], wins=w, ties=t, losses=len(pair) - w - t, win_rate=rate
                )
            )
    p_values: dict[str, dict[str, float]] = {}
    for rname in _RATINGS:
        f = fits[rname]
        if f is None or f.distribution is None:
            continue
        ps = {}
        for i in range(m):
            for j in range(i + 1, m):
                d = f.distribution[:, i] - f.distribution[:, j]
                p = bootstrap_p_value(d)
                if not math.isnan(p):
                    ps[f"{names[i]}|{names[j]}"] = p
        p_values[rname] = ps
    return JudgeReport(
        n_samples=n_samples,
        n_comparisons=len(outs),
        status_counts=status_counts,
        failure_counts=failure_counts,
        candidates=cands,
        study=study,
        not_computed=not_computed,
        win_rates=win_rates,
        rating_p_values=p_values,
        anchor=manifest.baseline or "mean",
        connected=connected,
        components=[[names[k] for k in g] for g in graph],
        prior={"ridge": ridge, "elo_per_logit": ELO},
        bootstrap={"n_resamples": n_resamples, "ci": CI, "seed": seed, "unit": "sample"},
        max_failure_rate=max_failure_rate,
        run_status=manifest.status,
    )
