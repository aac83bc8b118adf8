"""A judge run directory as rows of the leaderboard: one row per candidate.

``tag-bench leaderboard JUDGE_RUN --spec preference`` reads judge run directories through
:func:`tag_bench.report.frames.read_runs` like any run: each candidate becomes a :class:`JudgedCandidate`
whose manifest is the candidate run's model under the study's task (its candidates' task name) and whose
metrics are the candidate's judge metrics (:data:`tag_bench.scoring.metric_table.JUDGE_CANDIDATE_METRICS`).
Its comparability key is the study's: the judged samples' data hashes, the judge's template as the
prompt, the judge run's status, and the judge (adapter, fingerprint) and anchor as stage settings, so two
studies with other judges, rubrics or samples never share a column group (and say what sets them
apart). A rating flagged in metrics.json becomes a table note.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tag_bench.comparability import ComparabilityKey
from tag_bench.report.frames import ScoredRun
from tag_bench.rundir import JudgeRunDir, RunDir
from tag_bench.schema import JudgeManifest, JudgeReport, MetricsReport, RunManifest
from tag_bench.scoring.version import SCORING_VERSION


@dataclass
class JudgedCandidate(ScoredRun):
    """One candidate of a judge study, as a leaderboard row."""

    stages: tuple[tuple[str, str], ...] = ()
    judge_report: JudgeReport | None = None

    @property
    def key(self) -> ComparabilityKey:
        return replace(super().key, stages=self.stages)


def judge_stages(manifest: JudgeManifest, report: JudgeReport) -> tuple[tuple[str, str], ...]:
    judge = manifest.judge
    who = str(judge.args.get("model") or judge.args.get("pretrained") or judge.adapter)
    return (("judge", f"{who} ({judge.fingerprint[:8]})"), ("anchor", report.anchor))


def judged_candidates(path: RunDir) -> list[JudgedCandidate]:
    """The rows of one judge run directory."""
    run = JudgeRunDir(path.path)
    manifest, report = run.read_manifest(), run.read_metrics()
    by_name = {c.name: c for c in report.candidates}
    stages = judge_stages(manifest, report)
    rows = []
    for cand in manifest.candidates:
        ratings = by_name.get(cand.name)
        if ratings is None:
            continue
        m = RunManifest(
            run_id=f"{manifest.run_id}/{cand.name}",
            name=cand.name,
            created=manifest.created,
            task=manifest.task,
            model=cand.model,
            prompt_id=manifest.template_id,
            prompt_hash=manifest.template_hash,
            status=manifest.status,
            status_reason=manifest.status_reason,
            data_identity=manifest.data_identity,
            extra={"judge_run": str(run.path), "candidate_run": cand.run_dir},
        )
        metrics = MetricsReport(
            classes=list(manifest.task.classes),
            n=report.n_samples,
            metrics=ratings.metrics,
            confusion_matrix={},
            status_counts=dict(report.status_counts),
            status_rates={},
            reference_status_counts={},
            not_computed=dict(ratings.not_computed),
            bootstrap=dict(report.bootstrap),
            run_status=report.run_status,
            scoring_version=SCORING_VERSION,
        )
        notes = [
            f"{cand.name} ({manifest.task.name}, judged by {stages[0][1]}): {flag}." for flag in ratings.flags
        ]
        rows.append(
            JudgedCandidate(
                path, m, metrics, None, cand.name, notes=notes, stages=stages, judge_report=report
            )
        )
    return rows
