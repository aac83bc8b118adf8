"""The score stage: per-sample scoring and aggregation into metrics (numpy only, no model code)."""

from tag_bench.schema import MetricDifference, MetricsReport, PairedComparison
from tag_bench.scoring.aggregate import (
    RunFacts,
    ScoreArrays,
    build_arrays,
    compare_metrics,
    compute_metrics,
    metrics_from_arrays,
)
from tag_bench.scoring.metric_table import (
    METRICS,
    MetricSpec,
    metric_names,
    metrics_for,
    register_metric,
    unregister_metric,
)
from tag_bench.scoring.score import score_sample
from tag_bench.scoring.units import UNITS, Unit, format_value

__all__ = [
    "METRICS",
    "UNITS",
    "MetricDifference",
    "MetricSpec",
    "MetricsReport",
    "PairedComparison",
    "RunFacts",
    "ScoreArrays",
    "Unit",
    "build_arrays",
    "compare_metrics",
    "compute_metrics",
    "format_value",
    "metric_names",
    "metrics_for",
    "metrics_from_arrays",
    "register_metric",
    "score_sample",
    "unregister_metric",
]
