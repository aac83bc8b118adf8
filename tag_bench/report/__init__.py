"""The report stage: scored runs as DataFrames, leaderboards, comparisons, plots and the HTML report."""

from tag_bench.report.frames import load_runs, load_samples

__all__ = ["load_runs", "load_samples"]
