"""The few lines printed after a run or a scoring: headline metrics with CIs, failures, reference."""

from __future__ import annotations

from pathlib import Path

from tag_bench.parsing.notes import DROPPED_BOX_NOTES
from tag_bench.schema import MetricsReport
from tag_bench.scoring.metric_table import BY_NAME, METRICS, MetricSpec
from tag_bench.scoring.units import UNITS, format_value


def headline_metrics() -> list[MetricSpec]:
    """The metrics printed after a run: those the metric table marks ``headline``, in its order."""
    return [m for m in METRICS if m.headline]


def format_summary(task: str, model: str, run_dir: Path | str, report: MetricsReport) -> str:
    """Headline metrics with CIs (an informational one only when it has a value), failures, reference."""
    m = report.metrics
    lines = [f"{task} × {model}  (N={report.n}) -> {run_dir}"]
    for spec in headline_metrics():
        name = spec.name
        v = m.get(name)
        if v is None or v.value is None:
            if spec.informational:
                continue
            reason = report.not_computed.get(name, "not computed")
            lines.append(f"  {name:<26} –   ({reason})")
            continue
        symbol = "" if spec.unit == "rate" else f" {UNITS[spec.unit].symbol}"
        ci = (
            ""
            if v.ci_low is None or v.ci_high is None
            else f"  [{format_value(spec, v.ci_low):>5}, {format_value(spec, v.ci_high):>5}]"
        )
        lines.append(f"  {name:<26} {format_value(spec, v.value):>5}{ci}{symbol}")
    failures = {k: c for k, c in report.status_counts.items() if k != "ok" and c}
    if failures:
        lines.append("  failures: " + ", ".join(f"{k}={c}" for k, c in sorted(failures.items())))
    lines += reference_lines(report)
    lines += dropped_box_lines(report)
    hints = {k: v for k, v in report.parse_notes.items() if k in ("frame-hint", "answer-conflict")}
    if hints:
        lines.append("  parser notes: " + ", ".join(f"{k} on {v} samples" for k, v in hints.items())
                     + " (see samples.jsonl: parsed.notes)")  # fmt: skip
    missing = report.status_counts.get("missing", 0)
    if report.run_status == "failed" and not missing:  # every sample has its record: too many failed
        lines.append(
            f"  FAILED run: {report.status_counts.get('error', 0)} of {report.n} samples failed (status error); "
            "the manifest's status_reason says why"
        )
    elif report.run_status not in (None, "complete"):
        done = report.n - missing
        lines.append(
            f"  INCOMPLETE run ({report.run_status}): {done} of {report.n} samples have a generation, the rest "
            "are scored missing; run the same command again to resume"
        )
    return "\n".join(lines)


def dropped_box_lines(report: MetricsReport) -> list[str]:
    """How many cited boxes were dropped (left out of the IoU metrics) and every parser note that says why."""
    notes = {k: report.parse_notes[k] for k in DROPPED_BOX_NOTES if report.parse_notes.get(k)}
    rate = report.metrics.get("unusable_box_rate")
    dropped = rate is not None and rate.value is not None and rate.value > 0
    if not notes and not dropped:
        return []
    head = "  dropped boxes: "
    if rate is not None and rate.value is not None:
        spec = BY_NAME["unusable_box_rate"]
        ci = (
            ""
            if rate.ci_low is None or rate.ci_high is None
            else f" [{format_value(spec, rate.ci_low)}, {format_value(spec, rate.ci_high)}]"
        )
        head += (
            f"{format_value(spec, rate.value)}{ci} % of {rate.n} cited boxes unusable (unusable_box_rate), "
            "left out of the IoU metrics"
        )
    else:
        head += "boxes left out of the IoU metrics"
    if notes:
        head += "; " + ", ".join(f"{k} on {v} samples" for k, v in notes.items())
    return [head + " (see samples.jsonl: parsed.notes)"]


def reference_lines(report: MetricsReport) -> list[str]:
    """Which AU reference judged the grounding, on how many samples, and a warning when most failed."""
    if not report.au_reference:
        return []
    counts = report.reference_status_counts
    ok = counts.get("ok", 0)
    others = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "ok" and v)
    lines = [
        f"  AU reference: {report.au_reference}; usable for {ok} of {report.n} samples"
        + (f" ({others})" if others else "")
    ]
    if report.n and ok < report.n / 2:
        lines.append(
            f"  warning: the AU reference is unusable for {report.n - ok} of {report.n} samples; grounding "
            "metrics cover only the rest (see reference_coverage)"
        )
    return lines
