"""``compare``: is a new run better or worse than a baseline, metric by metric, with honest statistics?

Runs are matched by task. For every reported metric the difference NEW - BASE over the same sample
ids comes from :func:`tag_bench.scoring.aggregate.compare_metrics` (a paired bootstrap); accuracy is
tested with the exact McNemar test on per-sample correctness. The raw p-values of every comparison of
the call (all tasks x metrics together) are Holm-adjusted, and each metric gets a verdict from the
metric table's direction, ``alpha`` and a tolerance. The text outputs (terminal table, Markdown,
JUnit XML) are in :mod:`tag_bench.report.compare_format`.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from tag_bench._forkmap import usable_cpus
from tag_bench.comparability import ComparabilityKey, difference_text, key_of
from tag_bench.errors import TagBenchError
from tag_bench.intervene.outcomes import fill_facts
from tag_bench.metrics.stats import ResamplesError, check_n_resamples, holm
from tag_bench.report.discover import discover_runs, display_name
from tag_bench.rundir import RunDir
from tag_bench.schema import MetricsReport, PairedComparison, RunManifest
from tag_bench.scoring.aggregate import ScoreArrays, build_arrays, compare_arrays
from tag_bench.scoring.columnar import read_sidecar
from tag_bench.scoring.metric_table import METRICS, metric_names, spec
from tag_bench.scoring.run import run_facts
from tag_bench.scoring.version import SCORING_VERSION
from tag_bench.store import gc_paused

Verdict = Literal[
    "improved",
    "regressed",
    "within tolerance",
    "no significant change",
    "not computed",
    "informational",
    "vanished",  # BASE computed it, NEW cannot: the gate fails closed
    "not run",  # BASE has it, NEW has not run the stage that computes it yet
]
#: Verdicts that make ``tag-bench compare`` exit 1.
FAILING: frozenset[str] = frozenset({"regressed", "vanished", "not run"})
#: Of those, what ``--allow-missing`` lets pass.
MISSING: frozenset[str] = frozenset({"vanished", "not run"})
#: ``metrics="all"``: every metric of the table, per-class ones included.
ALL = "all"
#: The default bootstrap is at least this long (the metric table's CIs use the same).
MIN_RESAMPLES = 1000
_EPS = 1e-12  # a drop equal to its tolerance is within it, whatever the float rounding
#: The metric group compared per intervention fill (the intervene stage), not with the run's own scores.
FAITHFULNESS = "faithfulness"


class CompareError(TagBenchError):
    """Two sets of runs cannot be compared as asked; the message says why and what to do."""


class MetricComparison(BaseModel):
    """One metric of one task: BASE and NEW values, NEW - BASE with its CI, p-values and the verdict."""

    task: str
    metric: str
    title: str
    higher_is_better: bool | None  # None: no better direction
    unit: str = "rate"  # of the values, the difference and the tolerance (tag_bench.scoring.units)
    gated: bool = True  # has a verdict: a ranked metric, or an informational one a tolerance names
    value_base: float | None
    value_new: float | None
    diff: float | None = None  # NEW - BASE, in the metric's unit (rates in [0, 1])
    ci_low: float | None = None  # percentile CI of NEW - BASE from the paired bootstrap
    ci_high: float | None = None
    test: Literal["mcnemar", "paired-bootstrap"] | None = None  # which test gave p_value
    p_value: float | None = None  # raw two-sided p-value of that test
    p_holm: float | None = None  # Holm-adjusted over every comparison of the call that has a p-value
    significant: bool = False  # p_holm <= alpha
    tolerance: float = 0.0  # how much the metric may worsen (its direction; either way without one)
    verdict: Verdict
    reason: str | None = None  # why the metric was not computed
    fill: str | None = None  # an intervention fill's metric (the intervene stage), else None

    @property
    def label(self) -> str:
        """The task, and the fill of an intervention metric."""
        return self.task if self.fill is None else f"{self.task} (fill {self.fill})"


class McNemar(BaseModel):
    """Exact McNemar test on per-sample correctness of the shared samples."""

    new_only_correct: int  # samples NEW gets right and BASE wrong
    base_only_correct: int
    p_value: float


class TaskComparison(BaseModel):
    """The two runs of one task and every reported metric."""

    task: str
    version: int
    protocol: str
    au_reference: str | None
    base_run: str
    new_run: str
    base_name: str
    new_name: str
    base_status: str
    new_status: str
    n: int  # samples compared (shared sample ids)
    n_base: int
    n_new: int
    intersected: bool  # the runs cover different samples and only the shared ones were compared
    mcnemar: McNemar
    metrics: list[MetricComparison]
    fill: str | None = None  # the faithfulness metrics of one intervention fill (interventions/<fill>/)

    @property
    def label(self) -> str:
        return self.task if self.fill is None else f"{self.task} (fill {self.fill})"


class Comparison(BaseModel):
    """The result of :func:`compare_runs` (what ``tag-bench compare --json`` prints)."""

    base: list[str]
    new: list[str]
    alpha: float
    ci: float
    n_resamples: int
    seed: int
    correction: Literal["holm"] = "holm"
    n_comparisons: int  # the Holm family: every task x metric comparison with a p-value
    max_drop: dict[str, float]
    tasks: list[TaskComparison]
    only_in_base: list[str] = Field(default_factory=list)  # tasks BASE has and NEW lacks: vanished
    only_in_new: list[str] = Field(default_factory=list)  # new tasks (nothing to compare them with)
    allow_missing: bool = False  # vanished metrics and tasks are reported but do not fail
    warnings: list[str] = Field(default_factory=list)  # everything else a reader should know

    def rows(self) -> list[MetricComparison]:
        return [m for t in self.tasks for m in t.metrics]

    @property
    def regressions(self) -> list[MetricComparison]:
        """Rows that fail the gate: regressed, and (unless ``allow_missing``) vanished or not run."""
        failing = FAILING - MISSING if self.allow_missing else FAILING
        return [m for m in self.rows() if m.verdict in failing]

    @property
    def missing(self) -> list[MetricComparison]:
        """Rows BASE has and NEW cannot give (vanished, not run), allowed or not."""
        return [m for m in self.rows() if m.verdict in MISSING]

    @property
    def vanished_tasks(self) -> list[str]:
        """Tasks that fail the gate because NEW has no run of them (unless ``allow_missing``)."""
        return [] if self.allow_missing else self.only_in_base

    @property
    def exit_code(self) -> int:
        """0 when nothing regressed beyond its tolerance and nothing vanished, 1 otherwise."""
        return 1 if self.regressions or self.vanished_tasks else 0


# --------------------------------------------------------------------------------------------------
# Entry point


def compare_runs(
    base: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    new: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    metrics: Sequence[str] | str | None = None,
    max_drop: Mapping[str, float] | None = None,
    alpha: float = 0.05,
    n_resamples: int | None = None,
    ci: float = 0.95,
    seed: int = 0,
    intersect: bool = False,
    allow_incomplete: bool = False,
    allow_failed: bool = False,
    allow_missing: bool = False,
) -> Comparison:
    """Compare the runs under ``new`` with those under ``base``, task by task (see ``docs/compare.md``).

    The gate fails closed: a gated metric (one with a direction, or named in ``max_drop``) that BASE
    computed and NEW cannot is ``vanished``, one whose stage NEW has not run is ``not run``, and a task
    BASE has and NEW lacks fails too; ``allow_missing`` reports them without failing.

    ``metrics``: names of the metric table (per-class names such as ``recall/anger`` allowed), ``"all"``,
    or None for every metric that is not per-class. ``max_drop``: metric -> how much it may worsen (absolute,
    rate units) before a significant worsening is a regression. ``n_resamples`` None: at least 1000, and
    enough that the smallest bootstrap p-value survives Holm over every comparison; given, at least 200.
    Raises CompareError (a usage or data error) when the runs cannot be compared as asked.
    """
    if not 0.0 < alpha < 1.0:
        raise CompareError(f"alpha must be between 0 and 1, got {alpha}")
    if not 0.0 < ci < 1.0:
        raise CompareError(f"ci must be between 0 and 1, got {ci}")
    if n_resamples is not None:
        try:
            check_n_resamples(n_resamples, allow_zero=False)
        except ResamplesError as e:
            raise CompareError(str(e)) from None
    base_paths, new_paths = _paths(base), _paths(new)
    warnings: list[str] = []
    base_runs = _runs_by_task(base_paths, "BASE", warnings)
    new_runs = _runs_by_task(new_paths, "NEW", warnings)
    shared = [t for t in base_runs if t in new_runs]
    only_base = sorted(t for t in base_runs if t not in new_runs)
    only_new = sorted(t for t in new_runs if t not in base_runs)
    if not shared:
        raise CompareError(
            f"BASE and NEW have no task in common (BASE: {', '.join(sorted(base_runs))}; NEW: "
            f"{', '.join(sorted(new_runs))}); compare runs of the same task"
        )

    pairs = [
        _Pair.load(base_runs[t], new_runs[t], allow_incomplete, warnings, allow_failed)
        for t in sorted(shared)
    ]
    selected = {p.task: _select(metrics, p.classes) for p in pairs}
    _check_names(metrics, max_drop, pairs)
    tolerances = _tolerances(max_drop)
    # an upper bound of the Holm family: informational metrics have no verdict unless a tolerance names them
    fills = {p.task: max(1, len(p.base.intervention_fills())) for p in pairs}  # faithfulness: once per fill
    family = sum(
        fills[t] if spec(n).group == FAITHFULNESS else 1
        for t, names in selected.items()
        for n in names
        if _gated(n, tolerances)
    )
    if n_resamples is None:
        n_resamples = max(MIN_RESAMPLES, resamples_needed(family, alpha))

    tasks = []
    for p in pairs:
        names = selected[p.task]
        own = [n for n in names if spec(n).group != FAITHFULNESS]
        tasks.append(_compare_pair(p, own, tolerances, n_resamples, ci, seed, intersect, warnings))
        faithful = [n for n in names if spec(n).group == FAITHFULNESS]
        if faithful:
            tasks += _compare_fills(p, faithful, tolerances, n_resamples, ci, seed, intersect, warnings)
    rows = [m for t in tasks for m in t.metrics]
    n_tests = _apply_holm(rows)
    for m in rows:
        _judge(m, alpha)
    # Holm multiplies a bootstrap p-value by at least the number of bootstrap-tested comparisons
    n_boot = sum(m.test == "paired-bootstrap" for m in rows)
    floor = 2 / (n_resamples + 1)
    if n_boot and n_boot * floor > alpha:
        warnings.append(
            f"with {n_resamples} resamples the smallest bootstrap p-value is {floor:.2g}; after Holm over "
            f"{n_tests} comparisons no metric tested by the bootstrap can come out significant at {alpha:g}: "
            f"use --n-resamples {resamples_needed(n_tests, alpha)} or more (leave it out to get enough)"
        )
    return Comparison(
        base=[str(p) for p in base_paths],
        new=[str(p) for p in new_paths],
        alpha=alpha,
        ci=ci,
        n_resamples=n_resamples,
        seed=seed,
        n_comparisons=n_tests,
        max_drop=tolerances,
        tasks=tasks,
        only_in_base=only_base,
        only_in_new=only_new,
        allow_missing=allow_missing,
        warnings=warnings,
    )


def resamples_needed(n_comparisons: int, alpha: float) -> int:
    """Resamples B for which the smallest bootstrap p-value, 2 / (B + 1), is at most half of what Holm
    asks of the first of ``n_comparisons`` tests at ``alpha`` (alpha / n): a clear effect can pass."""
    return max(1, math.ceil(4 * max(1, n_comparisons) / alpha) - 1)


def default_metrics() -> list[str]:
    """The metrics compared by default: every metric of the table that is not per-class."""
    return [m.name for m in METRICS if m.group != "per_class"]


# --------------------------------------------------------------------------------------------------
# Finding and pairing runs


def _paths(p: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    return [p] if isinstance(p, (str, os.PathLike)) else list(p)


def _runs_by_task(paths: list[str | os.PathLike[str]], side: str, warnings: list[str]) -> dict[str, RunDir]:
    found = discover_runs(paths, require=False)
    warnings.extend(f"{side}: skipped {note}" for note in found.skipped)
    if not found.runs:
        why = f" ({'; '.join(found.skipped)})" if found.skipped else ""
        raise CompareError(f"{side}: no scored run directory in {', '.join(map(str, paths))}{why}")
    by_task: dict[str, list[RunDir]] = {}
    for run in found.runs:
        by_task.setdefault(run.read_manifest().task.name, []).append(run)
    for task, runs in by_task.items():
        if len(runs) > 1:
            raise CompareError(
                f"{side} holds {len(runs)} runs of task {task} ({', '.join(map(str, runs))}); point {side} at "
                "one run directory per task"
            )
    return {task: runs[0] for task, runs in by_task.items()}


class _Pair:
    """The BASE and NEW runs of one task, checked to be comparable."""

    def __init__(self, base: RunDir, new: RunDir, manifests: tuple[RunManifest, RunManifest],
                 reports: tuple[MetricsReport, MetricsReport]) -> None:  # fmt: skip
        self.base, self.new = base, new
        self.base_manifest, self.new_manifest = manifests
        self.base_report, self.new_report = reports
        self.task = self.base_manifest.task.name
        self.classes = list(self.base_manifest.task.classes)
        self.reference = self.base_report.au_reference

    @classmethod
    def load(cls, base: RunDir, new: RunDir, allow_incomplete: bool, warnings: list[str],
             allow_failed: bool = False) -> _Pair:  # fmt: skip
        mb, mn = base.read_manifest(), new.read_manifest()
        rb, rn = base.read_metrics(), new.read_metrics()
        task = mb.task.name
        for what, a, b in (
            ("task version", mb.task.version, mn.task.version),
            ("protocol", mb.task.protocol, mn.task.protocol),
            ("class list", mb.task.classes, mn.task.classes),
        ):
            if a != b:
                raise CompareError(
                    f"task {task}: BASE ({base}) has {what} {a!r} but NEW ({new}) has {b!r}; runs of different "
                    f"{what}s are not comparable: re-run one of them with the other's task definition"
                )
        if rb.au_reference != rn.au_reference:
            raise CompareError(
                f"task {task}: BASE ({base}) was scored against AU reference {_ref(rb.au_reference)} but NEW "
                f"({new}) against {_ref(rn.au_reference)}; {_rescore_hint(base, new, rb.au_reference, rn.au_reference)}"
            )
        _check_comparable(task, base, new, key_of(mb, rb), key_of(mn, rn))
        for side, run, m in (("BASE", base, mb), ("NEW", new, mn)):
            if m.status == "complete":
                continue
            if m.status == "failed":
                if not allow_failed:
                    raise CompareError(
                        f"task {task}: the {side} run {run} failed (every call failed, or more than "
                        "--max-error-rate did): fix the cause and run it again, or pass --allow-failed to compare "
                        "it anyway"
                    )
                warnings.append(f"task {task}: the {side} run {run} failed; its numbers are mostly failures")
                continue
            if not allow_incomplete:
                raise CompareError(
                    f"task {task}: the {side} run {run} is incomplete ({m.status}); its samples without a "
                    "generation would count as wrong: finish it with the command that started it, or pass "
                    "--allow-incomplete to compare it anyway"
                )
            warnings.append(
                f"task {task}: the {side} run {run} is incomplete ({m.status}); its samples without a "
                "generation count as wrong"
            )
        return cls(base, new, (mb, mn), (rb, rn))


#: Key parts compare checks itself: the sample set (--intersect), the reference (with a re-score hint) and
#: the status (--allow-incomplete / --allow-failed).
_OWN_CHECKS = ("samples", "au_reference", "status")


def _check_comparable(
    task: str, base: RunDir, new: RunDir, kb: ComparabilityKey, kn: ComparabilityKey
) -> None:
    """Refuse runs whose comparability keys differ (labels, images, prompt, scoring version...), naming both.
    With different sample sets, labels and images are checked on the shared samples instead."""
    data = ("labels", "images") if kb.samples != kn.samples else ()
    if kb.without(*_OWN_CHECKS, *data) == kn.without(*_OWN_CHECKS, *data):
        return
    old = min(kb.scoring_version, kn.scoring_version) < SCORING_VERSION or None in (kb.labels, kn.labels)
    hint = (
        "one was scored by an older tag-bench: re-score it with `tag-bench score RUN`"
        if old
        else "compare runs of one task definition, on the same data, with the same prompt"
    )
    raise CompareError(
        f"task {task}: BASE ({base}) and NEW ({new}) are not comparable ({difference_text(kb, kn)}); {hint}"
    )


def _ref(reference: str | None) -> str:
    return repr(reference) if reference else "none (scored without one)"


def _rescore_hint(base: RunDir, new: RunDir, ref_base: str | None, ref_new: str | None) -> str:
    """How to make both runs' current scores use one reference: reuse a set a run was scored against before."""
    for run, ref in ((new, ref_base), (base, ref_new)):
        if RunDir.reference_key(ref) in run.saved_reference_keys():
            return f"{run} has scores against it too: `tag-bench score {run} --au-reference {RunDir.reference_key(ref)}`"
    return (
        "re-score one of them against the other's source: `tag-bench score RUN --au-reference <detector, "
        "references JSONL or none>`"
    )


# --------------------------------------------------------------------------------------------------
# Metric names and tolerances


def _select(metrics: Sequence[str] | str | None, classes: list[str]) -> list[str]:
    if metrics is None:
        return default_metrics()
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if ALL in names:
        return metric_names(classes)
    return list(dict.fromkeys(names))


def _known_names(pairs: list[_Pair]) -> list[str]:
    names: dict[str, None] = {}
    for p in pairs:
        names.update(dict.fromkeys(metric_names(p.classes)))
    return list(names)


def _check_names(metrics: Sequence[str] | str | None, max_drop: Mapping[str, float] | None,
                 pairs: list[_Pair]) -> None:  # fmt: skip
    known = _known_names(pairs)
    asked = [] if metrics is None else ([metrics] if isinstance(metrics, str) else list(metrics))
    for what, names in (
        ("metric", [n for n in asked if n != ALL]),
        ("--max-drop metric", list(max_drop or {})),
    ):
        for name in names:
            if name not in known:
                raise CompareError(f"unknown {what} {name!r}{_did_you_mean(name, known)}")


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        return f"; did you mean {' or '.join(close)}?"
    return f"; known metrics: {', '.join(default_metrics())} and per class recall/<class>, precision/<class>, f1/<class>"


def _tolerances(max_drop: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in (max_drop or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CompareError(f"--max-drop {name}={value!r}: give a number, e.g. {name}=0.01 (one point)")
        unit = spec(name).unit
        if value < 0.0:  # before the range check: -0.01 is a sign slip, not a percentage
            raise CompareError(
                f"--max-drop {name}={value}: a tolerance is how much the metric may worsen, so it is never "
                f"negative (the direction comes from the metric table); did you mean {name}={abs(value):g}?"
            )
        if unit == "rate" and not value < 1.0:
            raise CompareError(
                f"--max-drop {name}={value}: tolerances are absolute in the metric's own units, from 0 to below 1 "
                f"(rates in [0, 1]: 0.01 is one point); did you mean {name}={value / 100:g}?"
            )
        out[name] = float(value)
    return out


# --------------------------------------------------------------------------------------------------
# Comparing one task


def read_arrays(
    run: RunDir,
    classes: list[str],
    reference: str | None,
    fill: str | None = None,
    *,
    copy: ScoreArrays | None = None,
) -> ScoreArrays:
    """A run's scored samples straight into metric arrays (the records are not kept); ``fill``: joined with
    that intervention fill's outcomes, for its faithfulness metrics. ``copy``: the run's columnar copy
    (:func:`_read_both` looks for it), else the JSONL is read."""
    manifest = run.read_manifest()
    facts = run_facts(manifest, has_reference=reference is not None)
    outcomes = None
    if fill is not None:
        found = run.read_intervention_outcomes(fill)
        outcomes = {o.sample_id: o for o in found}
        s = manifest.interventions.set_of(fill) if manifest.interventions else None
        facts = fill_facts(facts, fill, s.conditions if s else [], found,
                           manifest.interventions.scoring if manifest.interventions else None)  # fmt: skip
    with gc_paused():
        try:
            # the columnar copy holds the scored samples alone: joined with a fill's outcomes, read the JSONL
            arrays = (
                copy
                if copy is not None and outcomes is None
                else build_arrays(
                    run.iter_scored(), classes, au_reference_id=reference, interventions=outcomes
                )
            )
        except ValueError as e:
            raise CompareError(f"{run}: {e}") from None
    arrays.facts = facts
    return arrays


def _read_both(pair: _Pair, fill: str | None = None) -> tuple[ScoreArrays, ScoreArrays]:
    """Both runs' arrays. Columnar copies are read in this process, the sha256 checks of the two files
    in two threads (hashing and file reads release the GIL); a run read from its JSONL is CPU-bound
    Python, so two of them are read in two forked processes at once (on Linux)."""
    runs = (pair.base, pair.new)
    copies: list[ScoreArrays | None] = [None, None]
    if fill is None:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as threads:
            copies = list(
                threads.map(lambda r: read_sidecar(r.samples_path, pair.classes, pair.reference), runs)
            )
    if copies[0] is None and copies[1] is None and sys.platform.startswith("linux") and usable_cpus() >= 2:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
            jobs = [pool.submit(read_arrays, run, pair.classes, pair.reference, fill) for run in runs]
            return jobs[0].result(), jobs[1].result()
    base, new = (
        read_arrays(run, pair.classes, pair.reference, fill, copy=copy)
        for run, copy in zip(runs, copies, strict=True)
    )
    return base, new


def _compare_pair(pair: _Pair, names: list[str], tolerances: dict[str, float], n_resamples: int, ci: float,
                  seed: int, intersect: bool, warnings: list[str], fill: str | None = None) -> TaskComparison:  # fmt: skip
    with gc_paused():  # 2 x 100k records: collections walking them would cost more than the comparison
        return _compare_loaded(pair, names, tolerances, n_resamples, ci, seed, intersect, warnings, fill)


def _compare_loaded(pair: _Pair, names: list[str], tolerances: dict[str, float], n_resamples: int, ci: float,
                    seed: int, intersect: bool, warnings: list[str], fill: str | None = None) -> TaskComparison:  # fmt: skip
    arr_base, arr_new = _read_both(pair, fill)
    ids_base, ids_new = set(arr_base.sample_ids), set(arr_new.sample_ids)
    shared = len(ids_base & ids_new)
    different = ids_base != ids_new
    if different:
        counts = (
            f"BASE has {len(ids_base):,} samples, NEW {len(ids_new):,}: {shared:,} shared, "
            f"{len(ids_base - ids_new):,} only in BASE, {len(ids_new - ids_base):,} only in NEW"
        )
        if not intersect:
            raise CompareError(
                f"task {pair.task}: the runs cover different samples ({counts}); a paired comparison needs the "
                f"same samples: pass --intersect to compare the {shared:,} shared ones"
            )
        if not shared:
            raise CompareError(f"task {pair.task}: the runs share no sample ({counts})")
        warnings.append(f"task {pair.task}: compared the {shared:,} shared samples only ({counts})")
    try:
        # A = BASE, B = NEW: the differences are negated below so that they read NEW - BASE
        paired = compare_arrays(
            arr_base, arr_new, n_resamples=n_resamples, ci=ci, seed=seed, intersect=intersect
        )
    except ValueError as e:
        raise CompareError(f"task {pair.task}: {pair.base} vs {pair.new}: {e}") from None
    task_names = set(metric_names(pair.classes))
    rows = [_metric_row(pair, name, paired, tolerances, name in task_names) for name in names]
    mb, mn = pair.base_manifest, pair.new_manifest
    return TaskComparison(
        task=pair.task,
        version=mb.task.version,
        protocol=mb.task.protocol,
        au_reference=pair.reference,
        base_run=str(pair.base),
        new_run=str(pair.new),
        base_name=display_name(mb),
        new_name=display_name(mn),
        base_status=mb.status,
        new_status=mn.status,
        n=paired.n,
        n_base=len(ids_base),
        n_new=len(ids_new),
        intersected=different,
        mcnemar=McNemar(
            new_only_correct=int(paired.mcnemar["c"]),
            base_only_correct=int(paired.mcnemar["b"]),
            p_value=float(paired.mcnemar["p_value"]),
        ),
        metrics=rows,
    )


def _compare_fills(pair: _Pair, names: list[str], tolerances: dict[str, float], n_resamples: int, ci: float,
                   seed: int, intersect: bool, warnings: list[str]) -> list[TaskComparison]:  # fmt: skip
    """The faithfulness metrics of every intervention fill BASE has, against NEW's set of the same fill (one
    TaskComparison per fill). A fill NEW lacks makes its gated metrics ``not run``, with the command."""
    out = []
    new_fills = pair.new.intervention_fills()
    for fill in pair.base.intervention_fills():
        rb = pair.base.read_intervention_metrics(fill)
        if fill in new_fills:
            rn = pair.new.read_intervention_metrics(fill)
            kb, kn = key_of(pair.base_manifest, rb, fill), key_of(pair.new_manifest, rn, fill)
            if kb.stages != kn.stages and _settings(kb) != _settings(kn):
                raise CompareError(
                    f"task {pair.task}, fill {fill}: the intervention sets of BASE ({pair.base}) and NEW "
                    f"({pair.new}) were made differently ({difference_text(kb, kn)}): run the stage alike on both"
                )
            sub = _Pair(pair.base, pair.new, (pair.base_manifest, pair.new_manifest), (rb, rn))
            t = _compare_pair(sub, names, tolerances, n_resamples, ci, seed, intersect, warnings, fill=fill)
        else:
            t = _not_run_fill(pair, fill, rb, names, tolerances)
        t.fill = fill
        for m in t.metrics:
            m.fill = fill
        out.append(t)
    return out


def _settings(key: ComparabilityKey) -> tuple[str, ...]:
    """An intervention set's settings but its conditions (a condition NEW lacks is "not run", not a refusal)."""
    value = dict(key.stages).get("intervene", "")
    parts = value.split("|")
    return tuple(p for i, p in enumerate(parts) if i != 1)


def _not_run_fill(pair: _Pair, fill: str, rb: MetricsReport, names: list[str],
                  tolerances: Mapping[str, float]) -> TaskComparison:  # fmt: skip
    rows = []
    command = f"tag-bench intervene {pair.new} --fills {fill}"
    for name in names:
        m = spec(name)
        v = rb.metrics.get(name)
        base_value = v.value if v is not None else None
        gated = _gated(name, tolerances)
        missing = gated and base_value is not None
        rows.append(
            MetricComparison(
                task=pair.task, metric=name, title=m.title, higher_is_better=m.higher_is_better, unit=m.unit,
                gated=gated, value_base=base_value, value_new=None, tolerance=tolerances.get(name, 0.0),
                verdict="not run" if missing else "not computed",
                reason=f"not run on NEW: run `{command}`",
            )
        )  # fmt: skip
    mb = pair.base_manifest
    return TaskComparison(
        task=pair.task, version=mb.task.version, protocol=mb.task.protocol, au_reference=pair.reference,
        base_run=str(pair.base), new_run=str(pair.new), base_name=display_name(mb),
        new_name=display_name(pair.new_manifest), base_status=mb.status, new_status=pair.new_manifest.status,
        n=0, n_base=rb.n, n_new=0, intersected=False,
        mcnemar=McNemar(new_only_correct=0, base_only_correct=0, p_value=1.0), metrics=rows,
    )  # fmt: skip


def _gated(name: str, tolerances: Mapping[str, float]) -> bool:
    """Whether a metric gets a verdict: a ranked one always, an informational one when a tolerance names it."""
    try:
        return spec(name).ranked or name in tolerances
    except KeyError:
        return True


def _metric_row(pair: _Pair, name: str, paired: PairedComparison, tolerances: Mapping[str, float],
                in_task: bool) -> MetricComparison:  # fmt: skip
    m = spec(name)
    tolerance = tolerances.get(name, 0.0)
    row = MetricComparison(
        task=pair.task,
        metric=name,
        title=m.title,
        higher_is_better=m.higher_is_better,
        unit=m.unit,
        gated=_gated(name, tolerances),
        value_base=None,
        value_new=None,
        tolerance=tolerance,
        verdict="not computed",
    )
    if not in_task:
        row.reason = f"not a metric of task {pair.task} (classes: {', '.join(pair.classes)})"
        return row
    d = paired.differences[name]
    row.value_base, row.value_new = d.value_a, d.value_b
    if d.diff is None:
        row.reason = _not_computed_reason(pair, name, d.value_a, d.value_b, paired.not_computed.get(name))
        if row.gated and d.value_a is not None and d.value_b is None:
            stage = pair.new_report.not_run.get(name)
            row.verdict = "not run" if stage else "vanished"
            if stage:
                row.reason = f"not run on NEW: run `{stage.replace('RUN', str(pair.new))}`"
        return row
    row.diff = -d.diff + 0.0  # + 0.0: no negative zero
    if d.ci_low is not None and d.ci_high is not None:
        row.ci_low, row.ci_high = -d.ci_high + 0.0, -d.ci_low + 0.0
    if d.p_value is not None and d.test is not None:
        row.test, row.p_value = d.test, d.p_value
    elif m.kind == "sums":
        row.reason = "no bootstrap resample defines the difference"
    return row


def _not_computed_reason(pair: _Pair, name: str, base: float | None, new: float | None,
                         fallback: str | None) -> str:  # fmt: skip
    """Which side lacks the metric, and why (as that run's metrics.json says, else the metric table)."""
    why = {}
    for side, value, report in (("BASE", base, pair.base_report), ("NEW", new, pair.new_report)):
        if value is None:
            why[side] = report.not_computed.get(name) or fallback or spec(name).empty_reason
    if len(why) == 2 and len(set(why.values())) == 1:
        return f"not computed in BASE and NEW: {why['BASE']}"
    return "; ".join(f"not computed in {side}: {reason}" for side, reason in why.items())


def _apply_holm(rows: list[MetricComparison]) -> int:
    tested = [(r, r.p_value) for r in rows if r.p_value is not None and r.gated]
    if tested:
        for (r, _), adjusted in zip(tested, holm([p for _, p in tested]), strict=True):
            r.p_holm = float(adjusted)
    return len(tested)


def _judge(row: MetricComparison, alpha: float) -> None:
    """The verdict of one row. A figure without a test (a quantile, a run-level figure) is judged by its
    difference alone; a metric without a direction regresses when it moves either way beyond its tolerance."""
    if row.verdict in MISSING:  # decided when the row was made: BASE has it, NEW does not
        return
    untested = spec(row.metric).kind != "sums"
    if row.diff is None or (row.p_holm is None and not (untested and row.gated)):
        row.verdict = "informational" if row.diff is not None and not row.gated else "not computed"
        return
    if not row.gated:
        row.verdict = "informational"
        return
    row.significant = untested or (row.p_holm is not None and row.p_holm <= alpha)
    if row.higher_is_better is None:
        better = False
    else:
        better = row.diff > 0 if row.higher_is_better else row.diff < 0
    if not row.significant or row.diff == 0:
        row.verdict = "no significant change"
    elif better:
        row.verdict = "improved"
    elif abs(row.diff) <= row.tolerance + _EPS:
        row.verdict = "within tolerance"
    else:
        row.verdict = "regressed"
