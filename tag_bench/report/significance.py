"""Is one run's metric really better than another's? A paired test on the same samples."""

from __future__ import annotations

from tag_bench.errors import TagBenchError
from tag_bench.metrics.stats import check_n_resamples
from tag_bench.report.frames import ScoredRun
from tag_bench.schema import JudgeReport, ScoredSample
from tag_bench.scoring.aggregate import compare_metrics
from tag_bench.store import gc_paused


class SignificanceError(TagBenchError):
    """Two runs of one column cannot be tested against each other; the message names both."""


def scored_samples(run: ScoredRun) -> list[ScoredSample]:
    """The scored records behind a run's scores (current, or of its reference)."""
    with gc_paused():
        return run.run.read_scored(run.reference_key)


def paired_p_value(a: ScoredRun, b: ScoredRun, metric: str, *, n_resamples: int = 1000) -> float | None:
    """Two-sided p-value of "``metric`` is equal in ``a`` and ``b``" on their common samples, from the test
    the paired comparison uses for it (exact McNemar for a share of all samples, paired bootstrap otherwise).
    None when the two runs do not cover the same samples or the metric has no test; a SignificanceError
    naming both runs when they disagree on the samples' gold labels."""

    check_n_resamples(n_resamples, allow_zero=False)
    study = getattr(a, "judge_report", None)
    if isinstance(
        study, JudgeReport
    ):  # two candidates of one judge study: the bootstrap of their rating difference
        if id(getattr(b, "judge_report", None)) != id(study):  # another study: nothing to test
            return None
        ps = study.rating_p_values.get(metric, {})
        return ps.get(f"{a.name}|{b.name}", ps.get(f"{b.name}|{a.name}"))
    sa, sb = scored_samples(a), scored_samples(b)
    if {s.sample_id for s in sa} != {s.sample_id for s in sb}:
        return None
    try:
        cmp = compare_metrics(
            sa,
            sb,
            list(a.manifest.task.classes),
            au_reference_id=a.report.au_reference,
            n_resamples=n_resamples,
        )
    except ValueError as e:
        raise SignificanceError(
            f"--mark-significant cannot test {metric} of {a.name!r} ({a.run.path}) against {b.name!r} "
            f"({b.run.path}) on {a.manifest.task.name}: {e}; these runs are not comparable (re-run one of them "
            "on the other's data), or leave out --mark-significant"
        ) from None
    diff = cmp.differences.get(metric)
    return None if diff is None else diff.p_value
