"""Scored runs as pandas DataFrames: the one way the report stage reads results.

``load_runs`` gives one row per run × metric (long format, ready for ``pivot_table``), ``load_samples``
one row per scored sample of a run. Tables, plots and the HTML report are built on these frames.
pandas is imported here only, when a frame is asked for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tag_bench.comparability import ComparabilityKey, key_of
from tag_bench.report.discover import discover_runs, display_name
from tag_bench.rundir import RunDir, RunDirError, is_judge_run
from tag_bench.schema import MetricsReport, RunManifest
from tag_bench.scoring.metric_table import spec as metric_spec
from tag_bench.store import gc_paused

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Columns of :func:`load_runs`, in order.
RUN_COLUMNS = (
    "run_dir", "name", "task", "task_version", "dataset", "split", "protocol", "model", "train_source",
    "au_reference", "status", "oracle", "n", "metric", "value", "ci_low", "ci_high", "metric_n", "ci_method",
    "group", "higher_is_better", "unit", "informational", "comparability",
)  # fmt: skip


class IncompleteRunError(RunDirError):
    """A run whose generation did not finish is left out of tables unless asked."""


class FailedRunError(RunDirError):
    """A failed run (every call failed, or more than --max-error-rate did) is left out unless asked."""


@dataclass
class ScoredRun:
    """One run directory's manifest and one set of its scores (the current ones, or one reference's)."""

    run: RunDir
    manifest: RunManifest
    report: MetricsReport
    reference_key: str | None = None  # None: the current scores
    name: str = ""
    notes: list[str] = field(default_factory=list)  # what a table showing it must say (e.g. a flagged rating)
    fill: str | None = None  # the scores with one intervention fill's metrics (interventions/<fill>/)

    @property
    def complete(self) -> bool:
        return self.manifest.status == "complete"

    @property
    def failed(self) -> bool:
        return self.manifest.status == "failed"

    @property
    def key(self) -> ComparabilityKey:
        """The comparability key of these scores (:mod:`tag_bench.comparability`)."""
        return key_of(self.manifest, self.report, self.fill)


@dataclass
class LoadedRuns:
    """What :func:`read_runs` found: the scored runs and the notes on what was skipped."""

    runs: list[ScoredRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_runs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    allow_incomplete: bool = False,
    allow_failed: bool = False,
    references: str = "current",
    judge_runs: bool = True,
    fills: str = "none",
) -> LoadedRuns:
    """Every scored run under ``paths``. ``references="all"``: one entry per AU reference a run was scored
    against (``references/<id>/``), else its current scores. ``fills="all"``: one entry per intervention
    fill a run has (``interventions/<fill>/``: its scores with that fill's faithfulness metrics), else its
    current scores. An incomplete run raises IncompleteRunError unless ``allow_incomplete``, a failed one
    FailedRunError unless ``allow_failed``.

    A judge run directory (``tag-bench judge``) gives one entry per candidate, with its ratings as metrics
    (:mod:`tag_bench.judge.rows`); ``judge_runs=False`` (readers of per-sample scores) skips it with a note."""
    found = discover_runs(list(paths))
    out = LoadedRuns(skipped=list(found.skipped))
    with gc_paused():  # thousands of records that form no cycles: collections would walk them all again
        for run in found.runs:
            _read_run(run, out, allow_incomplete, allow_failed, references, judge_runs, fills)
    return out


def _read_run(
    run: RunDir,
    out: LoadedRuns,
    allow_incomplete: bool,
    allow_failed: bool,
    references: str,
    judge_runs: bool,
    fills: str,
) -> None:
    """:func:`read_runs` of one run directory, added to ``out``."""
    try:
        manifest = run.read_manifest()
    except RunDirError:
        # a judge run's manifest is not a RunManifest (it has a kind): asked only then, so that a model run's
        # manifest is read once
        if not is_judge_run(run.path):
            raise
        _read_judge_run(run, out, allow_incomplete, allow_failed, judge_runs)
        return
    if manifest.status == "failed":
        if not allow_failed:
            raise FailedRunError(
                f"{run.path} is a failed run ({_why_failed(manifest)}): its numbers are mostly failures; "
                "fix the cause and run it again, or pass --allow-failed to show it flagged ✗"
            )
    elif manifest.status != "complete" and not allow_incomplete:
        report = run.read_metrics()
        done = report.n - report.status_counts.get("missing", 0)
        raise IncompleteRunError(
            f"{run.path} is an incomplete run ({manifest.status}: {done} of {report.n} samples generated); "
            "resume it with the command that started it, or pass --allow-incomplete to show it flagged"
        )
    if fills == "all" and (found_fills := run.intervention_fills()):
        for fill in found_fills:
            out.runs.append(
                ScoredRun(
                    run,
                    manifest,
                    run.read_intervention_metrics(fill),
                    None,
                    display_name(manifest),
                    fill=fill,
                )
            )
        return
    keys: list[str | None] = [None]
    if references == "all":
        keys = list(run.saved_reference_keys()) or [None]
    for key in keys:
        out.runs.append(ScoredRun(run, manifest, run.read_metrics(key), key, display_name(manifest)))


def _read_judge_run(
    run: RunDir, out: LoadedRuns, allow_incomplete: bool, allow_failed: bool, judge_runs: bool
) -> None:
    """A judge run directory: one entry per candidate (or a note, for readers of per-sample scores)."""
    if not judge_runs:
        out.skipped.append(
            f"{run.path}: a judge run (its ratings: `tag-bench leaderboard {run.path} --spec preference`)"
        )
        return
    from tag_bench.judge.rows import judged_candidates  # lazy: the judge package reads report.frames

    rows = judged_candidates(run)
    if rows and rows[0].manifest.status == "failed" and not allow_failed:
        raise FailedRunError(
            f"{run.path} is a failed judge run ({rows[0].manifest.status_reason}); pass --allow-failed to show it flagged ✗"
        )
    if rows and rows[0].manifest.status not in ("complete", "failed") and not allow_incomplete:
        raise IncompleteRunError(
            f"{run.path} is an incomplete judge run ({rows[0].manifest.status}); resume it with the command that "
            "started it, or pass --allow-incomplete to show it flagged"
        )
    out.runs.extend(rows)


def _why_failed(manifest: RunManifest) -> str:
    return manifest.status_reason or "its generate stage failed"


def runs_frame(runs: Sequence[ScoredRun]) -> pd.DataFrame:
    """The long frame of :func:`load_runs` for runs already read."""
    import pandas as pd  # a core dependency, imported when a frame is asked for

    records: list[tuple[Any, ...]] = []
    for r in runs:
        m, rep = r.manifest, r.report
        head = (str(r.run.path), r.name, m.task.name, m.task.version, m.task.dataset, m.task.split,
                m.task.protocol, m.model.adapter, m.train_source, rep.au_reference, m.status,
                m.model.oracle_reference, rep.n)  # fmt: skip
        key = r.key.digest
        for name, v in rep.metrics.items():
            s = metric_spec(name)
            group = "per_class" if "/" in name else s.group
            records.append(
                (
                    *head,
                    name,
                    v.value,
                    v.ci_low,
                    v.ci_high,
                    v.n,
                    v.ci_method,
                    group,
                    s.higher_is_better,
                    s.unit,
                    s.informational,
                    key,
                )
            )
    frame = pd.DataFrame.from_records(records, columns=list(RUN_COLUMNS))
    return frame.astype({"value": "float64", "ci_low": "float64", "ci_high": "float64"})


def load_runs(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    allow_incomplete: bool = False,
    allow_failed: bool = False,
    references: str = "current",
    fills: str = "none",
) -> pd.DataFrame:
    """One row per run × metric: where the run is, its display name, task, model, AU reference, status,
    and the metric's value, CI, n and CI method (rates in [0, 1]; not computed -> NaN).

    ``paths``: run directories or folders holding them (searched recursively). ``comparability`` is a short
    id of the run's comparability key (:mod:`tag_bench.comparability`): compare values only within one id.
    """
    many = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    loaded = read_runs(
        many, allow_incomplete=allow_incomplete, allow_failed=allow_failed, references=references, fills=fills
    )
    return runs_frame(loaded.runs)


#: Columns of :func:`load_samples`, in order.
SAMPLE_COLUMNS = (
    "sample_id", "gold", "pred", "status", "correct", "reference_status", "n_claims", "n_box_claims",
    "mean_iou", "max_iou", "box_hits", "cited_aus", "active_aus", "hallucinated_aus", "grounded",
    "evidence_consistent", "notes",
)  # fmt: skip


def load_samples(run: str | os.PathLike[str] | RunDir, *, reference: str | None = None) -> pd.DataFrame:
    """One row per scored sample of a run (its current scores, or those of ``references/<reference>/``):
    gold and predicted label, status, claim and IoU statistics, cited / active / hallucinated AUs."""
    import pandas as pd

    rd = run if isinstance(run, RunDir) else RunDir(run)
    path = rd.scores_file(rd.SAMPLES, reference)
    if not path.exists():
        raise RunDirError(f"{rd.path} has no scored samples ({path.name}); {rd.unscored_hint()}")
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(sample_record(json.loads(line)))
    return pd.DataFrame.from_records(rows, columns=list(SAMPLE_COLUMNS))


def sample_record(d: dict[str, Any]) -> tuple[Any, ...]:
    """One :data:`SAMPLE_COLUMNS` row from a ``samples.jsonl`` record."""
    claims = d.get("claims") or []
    ious = [c["iou"] for c in claims if c.get("box") is not None and c.get("iou") is not None]
    parsed = d.get("parsed") or {}
    return (
        d["sample_id"], d["label"], d.get("pred"), d["status"], d["correct"], d.get("reference_status"),
        len(claims), sum(c.get("box") is not None for c in claims),
        sum(ious) / len(ious) if ious else float("nan"), max(ious) if ious else float("nan"),
        sum(v >= 0.5 for v in ious), list(d.get("cited_aus") or []), list(d.get("active_aus") or []),
        list(d.get("hallucinated_aus") or []), d.get("grounded_correct"), d.get("evidence_consistent"),
        list(parsed.get("notes") or []),
    )  # fmt: skip


def manifest_of(run_dir: str | os.PathLike[str]) -> RunManifest:
    return RunDir(Path(run_dir)).read_manifest()
