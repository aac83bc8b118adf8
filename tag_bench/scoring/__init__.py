"""The score stage: per-sample scoring and aggregation into metrics (numpy only, no model code)."""

from tag_bench.schema import MetricDifference, MetricsReport, PairedComparison
from tag_bench.scoring.aggregate import (
    ScoreArrays,
    build_arrays,
    compare_metrics,
    compute_metrics,
    metrics_from_arrays,
)
from tag_bench.scoring.metric_table import METRICS, MetricSpec, metric_names, metrics_for
from tag_bench.scoring.score import score_sample

__all__ = [
    "METRICS",
    "MetricDifference",
    "MetricSpec",
    "MetricsReport",
    "PairedComparison",
    "ScoreArrays",
    "build_arrays",
    "compare_metrics",
    "compute_metrics",
    "metric_names",
    "metrics_for",
    "metrics_from_arrays",
    "score_sample",
]
