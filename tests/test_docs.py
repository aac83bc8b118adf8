"""Documents generated from the code are in step with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tag_bench._docs import GENERATED, expected
from tag_bench.report.browse import FLAGS
from tag_bench.report.plots import figure_kinds
from tag_bench.scoring.metric_table import METRICS

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("target", list(GENERATED))
def test_generated_documents_are_in_step(target):
    current, text = expected(ROOT, target)
    assert current == text, f"{target} is out of date: run `make docs`"


def test_every_metric_is_documented_and_listed_in_the_readme():
    doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for m in METRICS:
        name = f"`{m.name.replace('{cls}', '<class>')}`"
        assert name in doc and name in readme, m.name


def test_report_doc_tables_list_every_figure_kind_and_filter():
    text = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    for k in figure_kinds():
        assert f"| `{k.name}` | {k.caption}" in text
    for f in FLAGS.values():
        assert f"| {f.label} | {f.definition} |" in text
