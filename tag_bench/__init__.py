"""tag-bench: evaluation and faithfulness benchmark for VLMs on facial expression recognition.

``import tag_bench`` is light: torch, transformers, vllm, mediapipe, py-feat, lmms-eval, pandas and
matplotlib load only when an adapter, detector or report that needs them is used.
"""

from __future__ import annotations

__version__ = "0.1.0"

from tag_bench.au.base import get_detector
from tag_bench.au.sources import resolve_reference_source
from tag_bench.facs import AU_CATALOGUE, EMFACS_PROTOTYPES, au_code, canonical_emotion
from tag_bench.generate.evaluate import evaluate
from tag_bench.generate.predictions import score_predictions
from tag_bench.models.base import ModelAdapter, get_model
from tag_bench.parsing import parse_response
from tag_bench.prompts import render_prompt
from tag_bench.report.compare import CompareError, Comparison, compare_runs
from tag_bench.report.frames import load_runs, load_samples
from tag_bench.report.html import write_report
from tag_bench.report.leaderboard import leaderboard
from tag_bench.report.plots import plot_runs
from tag_bench.rundir import RunDir
from tag_bench.schema import (
    CANONICAL_EMOTIONS,
    COMMON7,
    AUReference,
    AUState,
    Evidence,
    Generation,
    MetricsReport,
    MetricValue,
    Parsed,
    RunManifest,
    Sample,
    ScoredSample,
)
from tag_bench.scoring import METRICS, MetricSpec, compare_metrics, compute_metrics, score_sample
from tag_bench.scoring.run import score_run
from tag_bench.tasks import Task, discover_tasks, load_task

__all__ = [
    "AU_CATALOGUE",
    "CANONICAL_EMOTIONS",
    "COMMON7",
    "EMFACS_PROTOTYPES",
    "METRICS",
    "AUReference",
    "AUState",
    "CompareError",
    "Comparison",
    "Evidence",
    "Generation",
    "MetricSpec",
    "MetricValue",
    "MetricsReport",
    "ModelAdapter",
    "Parsed",
    "RunDir",
    "RunManifest",
    "Sample",
    "ScoredSample",
    "Task",
    "__version__",
    "au_code",
    "canonical_emotion",
    "compare_metrics",
    "compare_runs",
    "compute_metrics",
    "discover_tasks",
    "evaluate",
    "get_detector",
    "get_model",
    "leaderboard",
    "load_runs",
    "load_samples",
    "load_task",
    "parse_response",
    "plot_runs",
    "render_prompt",
    "resolve_reference_source",
    "score_predictions",
    "score_run",
    "score_sample",
    "write_report",
]
