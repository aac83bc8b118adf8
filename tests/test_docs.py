"""Documents generated from the code are in step with it."""

from __future__ import annotations

from pathlib import Path

from tag_bench.report.browse import FLAGS
from tag_bench.report.docs import update
from tag_bench.report.plots import figure_kinds
from tag_bench.scoring.metric_table import METRICS, render_docs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_metrics_doc_is_generated_from_the_metric_table():
    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    assert text == render_docs(), "docs/metrics.md is out of date: run `make docs`"
    for m in METRICS:
        assert f"`{m.name.replace('{cls}', '<class>')}`" in text


def test_report_doc_tables_are_generated_from_the_registries():
    text = (DOCS / "report.md").read_text(encoding="utf-8")
    assert text == update(text), "the tables of docs/report.md are out of date: run `make docs`"
    for k in figure_kinds():
        assert f"| `{k.name}` | {k.caption}" in text
    for f in FLAGS.values():
        assert f"| {f.label} | {f.definition} |" in text
