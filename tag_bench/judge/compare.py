"""``tag-bench compare BASE NEW`` on two judge runs of the same study.

Two judge runs are of the same study when they judged the same candidates (by name) on the same samples
(ids and data hashes) with the same anchor; the judge, the rubric and the candidate runs behind a name
may differ (a new judge, or a new checkpoint under the same name). Anything else is refused with exit
status 2, naming the difference: ratings of other candidate sets or other samples are on other scales.

Per candidate and rating (``bt_rating``, ``bt_rating_lc``, ``bt_rating_same_label``): Δ = NEW − BASE with
its percentile CI from a **paired** bootstrap (both studies refitted on the same resamples of the shared
samples, row by row), the bootstrap p-value, Holm-adjusted over every candidate × rating of the call, and
a verdict by the metric table's direction; ``--max-drop bt_rating=50`` tolerates that many Elo points. The
study-level judge failure rate and position consistency of both are shown beside (informational).
"""

from __future__ import annotations

import math
import os
from typing import Literal

import numpy as np
from pydantic import BaseModel

from tag_bench.errors import TagBenchError
from tag_bench.judge.report import outcomes, rating_fits
from tag_bench.metrics.preference import DEFAULT_RIDGE
from tag_bench.metrics.stats import bootstrap_p_value, check_n_resamples, holm, percentile_interval
from tag_bench.rundir import JudgeRunDir
from tag_bench.scoring.metric_table import spec as metric_spec
from tag_bench.scoring.units import format_value

RATINGS = ("bt_rating", "bt_rating_lc", "bt_rating_same_label")
_EPS = 1e-9


class JudgeCompareError(TagBenchError):
    """Two judge runs cannot be compared; the message says why."""


class RatingComparison(BaseModel):
    candidate: str
    metric: str
    value_base: float | None
    value_new: float | None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    significant: bool = False
    tolerance: float = 0.0
    verdict: Literal["improved", "regressed", "within tolerance", "no significant change", "not computed"]


class JudgeComparison(BaseModel):
    """What ``tag-bench compare`` reports for two judge runs (``--json``)."""

    base: str
    new: str
    judge_base: str
    judge_new: str
    differs_in: list[str]  # what is not the same in the two studies (judge, rubric, candidate runs)
    n_samples: int
    alpha: float
    n_resamples: int
    seed: int
    study: dict[str, dict[str, float | None]]  # judge_failure_rate / position_consistency: base, new
    ratings: list[RatingComparison]
    exit_code: int


def compare_judge_runs(
    base: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    alpha: float = 0.05,
    n_resamples: int = 1000,
    seed: int = 0,
    max_drop: dict[str, float] | None = None,
) -> JudgeComparison:
    """Compare two judge runs of one study (see the module docstring)."""
    check_n_resamples(n_resamples, allow_zero=False)
    rb, rn = JudgeRunDir(base), JudgeRunDir(new)
    mb, mn = rb.read_manifest(), rn.read_manifest()
    names_b, names_n = [c.name for c in mb.candidates], [c.name for c in mn.candidates]
    problems = []
    if sorted(names_b) != sorted(names_n):
        problems.append(f"candidates {', '.join(names_b)} vs {', '.join(names_n)}")
    if mb.sample_ids != mn.sample_ids or mb.data_identity != mn.data_identity:
        problems.append(f"samples ({len(mb.sample_ids)} vs {len(mn.sample_ids)}, or other images or labels)")
    if mb.baseline != mn.baseline:
        problems.append(f"anchor {mb.baseline or 'mean'} vs {mn.baseline or 'mean'}")
    if problems:
        raise JudgeCompareError(
            f"{base} and {new} are not judge runs of the same study: they differ in {'; '.join(problems)}. Their "
            "ratings are on different scales: judge the same runs on the same samples (same --samples and --seed)"
        )
    unknown = sorted(set(max_drop or {}) - set(RATINGS))
    if unknown:
        raise JudgeCompareError(
            f"--max-drop names {', '.join(unknown)}; for judge runs: {', '.join(RATINGS)}"
        )
    differs = [
        what
        for what, a, b in (
            ("judge", mb.judge.fingerprint, mn.judge.fingerprint),
            ("rubric", mb.template_hash, mn.template_hash),
            ("generation settings", mb.gen_kwargs, mn.gen_kwargs),
            ("candidate runs", [c.run_id for c in mb.candidates], [c.run_id for c in mn.candidates]),
        )
        if a != b
    ]
    fits = {}
    reports = {}
    for side, run, m in (("base", rb, mb), ("new", rn, mn)):
        fit = [o for o in outcomes(m, run.read_judgements()) if o.kind == "ok"]
        names = [c.name for c in m.candidates]
        anchor = names.index(m.baseline) if m.baseline in names else None
        fits[side] = (names, rating_fits(fit, len(names), len(m.sample_ids), anchor, ridge=DEFAULT_RIDGE,
                                         n_resamples=n_resamples, seed=seed))  # fmt: skip
        reports[side] = run.read_metrics()
    rows: list[RatingComparison] = []
    pending: list[tuple[int, float]] = []
    for name in names_b:
        for metric in RATINGS:
            (nb, fb), (nn, fn) = fits["base"], fits["new"]
            a, b = fb[metric], fn[metric]
            ib, in_ = nb.index(name), nn.index(name)
            vb = None if a is None or math.isnan(a.rating[ib]) else float(a.rating[ib])
            vn = None if b is None or math.isnan(b.rating[in_]) else float(b.rating[in_])
            tol = float((max_drop or {}).get(metric, 0.0))
            if (
                vb is None
                or vn is None
                or a is None
                or b is None
                or a.distribution is None
                or b.distribution is None
            ):
                rows.append(RatingComparison(candidate=name, metric=metric, value_base=vb, value_new=vn,
                                             tolerance=tol, verdict="not computed"))  # fmt: skip
                continue
            d = b.distribution[:, in_] - a.distribution[:, ib]
            diff = vn - vb
            lo, hi = percentile_interval(d[:, None])
            p = bootstrap_p_value(d)
            low = None if np.isnan(lo[0]) else min(float(lo[0]), diff)
            high = None if np.isnan(hi[0]) else max(float(hi[0]), diff)
            rows.append(RatingComparison(candidate=name, metric=metric, value_base=vb, value_new=vn, diff=diff,
                                         ci_low=low, ci_high=high, p_value=None if math.isnan(p) else p,
                                         tolerance=tol, verdict="no significant change"))  # fmt: skip
            if not math.isnan(p):
                pending.append((len(rows) - 1, p))
    if pending:
        adjusted = holm([p for _, p in pending])
        for (k, _), q in zip(pending, adjusted, strict=True):
            rows[k].p_holm = float(q)
    for r in rows:
        if r.diff is None or r.p_holm is None:
            continue
        r.significant = r.p_holm <= alpha
        better = metric_spec(r.metric).higher_is_better is not False
        worse_by = -r.diff if better else r.diff
        if not r.significant:
            r.verdict = "no significant change"
        elif worse_by <= 0:
            r.verdict = "improved"
        elif worse_by <= r.tolerance + _EPS:
            r.verdict = "within tolerance"
        else:
            r.verdict = "regressed"
    study = {
        name: {"base": reports["base"].study[name].value, "new": reports["new"].study[name].value}
        for name in ("judge_failure_rate", "position_consistency")
    }

    def who(m: object) -> str:
        j = m.judge  # type: ignore[attr-defined]
        return str(j.args.get("model") or j.args.get("pretrained") or j.adapter)

    return JudgeComparison(
        base=str(base), new=str(new), judge_base=who(mb), judge_new=who(mn), differs_in=differs,
        n_samples=len(mb.sample_ids), alpha=alpha, n_resamples=n_resamples, seed=seed, study=study, ratings=rows,
        exit_code=1 if any(r.verdict == "regressed" for r in rows) else 0,
    )  # fmt: skip


def render_judge_comparison(c: JudgeComparison) -> str:
    """The terminal table of a judge-run comparison."""
    lines = [
        f"judge runs: BASE {c.base} (judge {c.judge_base}) vs NEW {c.new} (judge {c.judge_new}); {c.n_samples} samples"
        + (f"; they differ in {', '.join(c.differs_in)}" if c.differs_in else "")
    ]
    head = ("candidate", "metric", "BASE", "NEW", "Δ [95% CI]", "p (Holm)", "verdict")
    rows = []
    for r in c.ratings:

        def f(x: float | None, signed: bool = False) -> str:
            return format_value("elo", x, 0, signed=signed)

        ci = (
            f" [{f(r.ci_low, True)}, {f(r.ci_high, True)}]"
            if r.ci_low is not None and r.ci_high is not None
            else ""
        )
        p = "–" if r.p_holm is None else f"{r.p_holm:.3g}"
        rows.append(
            (r.candidate, r.metric, f(r.value_base), f(r.value_new), f(r.diff, True) + ci, p, r.verdict)
        )
    widths = [max(len(str(x[k])) for x in [head, *rows]) for k in range(len(head))]
    lines += [
        "  " + "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
        for row in [head, *rows]
    ]
    for name, v in c.study.items():
        vals = ", ".join(f"{side} {'–' if x is None else f'{100 * x:.1f}%'}" for side, x in v.items())
        lines.append(f"  {name}: {vals}")
    lines.append("  regressed" if c.exit_code else "  no regression")
    return "\n".join(lines) + "\n"
