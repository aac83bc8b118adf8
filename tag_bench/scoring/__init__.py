"""The score stage: per-sample scoring and aggregation into metrics (numpy only, no model code)."""

from tag_bench.scoring.aggregate import (
    MetricDifference,
    MetricsReport,
    PairedComparison,
    ScoreArrays,
    build_arrays,
    compare_metrics,
    compute_metrics,
    metric_names,
    metrics_from_arrays,
)
from tag_bench.scoring.score import score_sample

__all__ = [
    "MetricDifference",
    "MetricsReport",
    "PairedComparison",
    "ScoreArrays",
    "build_arrays",
    "compare_metrics",
    "compute_metrics",
    "metric_names",
    "metrics_from_arrays",
    "score_sample",
]
