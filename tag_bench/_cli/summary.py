"""The few lines printed after a run or a scoring: headline metrics with CIs, failures, reference."""

from __future__ import annotations

from pathlib import Path

from tag_bench.schema import MetricsReport

#: Headline metrics printed after a run.
SUMMARY = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "parse_failure_rate",
    "au_box_iou",
    "grounding_precision@0.5",
    "hallucinated_au_rate",
    "grounded_accuracy",
)


def format_summary(task: str, model: str, run_dir: Path | str, report: MetricsReport) -> str:
    m = report.metrics
    lines = [f"{task} × {model}  (N={report.n}) -> {run_dir}"]
    for name in SUMMARY:
        v = m.get(name)
        if v is None or v.value is None:
            reason = report.not_computed.get(name, "not computed")
            lines.append(f"  {name:<26} –   ({reason})")
        else:
            ci = (
                ""
                if v.ci_low is None or v.ci_high is None
                else f"  [{100 * v.ci_low:5.1f}, {100 * v.ci_high:5.1f}]"
            )
            lines.append(f"  {name:<26} {100 * v.value:5.1f}{ci}")
    failures = {k: c for k, c in report.status_counts.items() if k != "ok" and c}
    if failures:
        lines.append("  failures: " + ", ".join(f"{k}={c}" for k, c in sorted(failures.items())))
    if report.au_reference:
        lines.append(f"  AU reference: {report.au_reference}")
    return "\n".join(lines)
