"""A prompt that asks for no evidence gets no grounding number: never a 0.0 marked best.

Real runs through the command line: the majority baseline on the RAF-DB fixture with the label-only
prompt, and on the demo faces (real MediaPipe) with an AU reference named explicitly.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.au.base import DEFAULT_DETECTOR
from tag_bench.prompts import PROMPTS, asks_evidence
from tag_bench.report.leaderboard import leaderboard
from tag_bench.rundir import RunDir
from tag_bench.scoring.metric_table import METRICS

GROUNDING = [m.name for m in METRICS if m.group == "grounding"]
HEADLINE_GROUNDING = [m.name for m in METRICS if m.group == "grounding" and m.headline]


def _run(*args: str):
    r = CliRunner().invoke(main, ["run", "--no-progress", "--n-resamples", "200", *args])
    assert r.exit_code == 0, r.output
    return r.output


def test_each_prompt_declares_whether_it_asks_for_evidence():
    assert {p: t.asks_evidence for p, t in PROMPTS.items()} == {
        "tag_grounded": True,
        "cot": True,
        "direct": False,
    }
    assert asks_evidence("a-prompt-id-tag-bench-does-not-know")  # never denied grounding on a guess


def test_a_label_only_run_prints_no_grounding_number(dataset_fixtures, tmp_path):
    out = tmp_path / "direct"
    text = _run("--model", "majority", "--tasks", "rafdb_basic_test", "--data-root", str(dataset_fixtures["raf_basic"]),
                "--prompt", "direct", "--out", str(out))  # fmt: skip
    for name in HEADLINE_GROUNDING:
        line = next(x for x in text.splitlines() if x.strip().startswith(name + " "))
        assert line.split()[1] == "–" and "asks for no evidence" in line, line
    metrics = json.loads((out / "metrics.json").read_text())
    for name in GROUNDING:
        assert metrics["metrics"][name]["value"] is None, name
        assert metrics["not_computed"][name].startswith("the task's prompt (direct) asks for no evidence"), (
            name
        )
    assert metrics["metrics"]["accuracy"]["value"] is not None
    run = RunDir(out)
    assert run.read_manifest().au_reference is None and run.read_references() is None  # no detector ran
    # in a table beside a run that was asked for evidence, its grounding cells are "–" and never marked
    grounded = tmp_path / "grounded"
    _run("--model", "majority", "--tasks", "rafdb_basic_test", "--data-root", str(dataset_fixtures["raf_basic"]),
         "--au-reference", "none", "--out", str(grounded), "--name", "majority-grounded")  # fmt: skip
    table = leaderboard([out, grounded], spec="overview").table
    for row in table.rows:
        if row.name == "majority":
            cells = dict(zip([c.metric for c in table.groups[0].columns], row.cells[0], strict=True))
            for name in ("au_box_iou", "hallucinated_au_rate", "grounded_accuracy"):
                assert cells[name].value is None and cells[name].mark is None
                assert "asks for no evidence" in (cells[name].reason or "")


def test_a_reference_named_explicitly_scores_grounding_anyway(tmp_path):
    out = tmp_path / "explicit"
    text = _run("--model", "majority", "--tasks", "demo", "--prompt", "direct", "--au-reference",
                "mediapipe-geometric", "--no-cache", "--out", str(out))  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["au_reference"] and metrics["metrics"]["reference_coverage"]["value"] is not None
    assert "asks for no evidence" not in json.dumps(metrics["not_computed"])
    # majority cites nothing: box metrics are empty for that reason, never for the prompt's
    assert metrics["not_computed"]["au_box_iou"].startswith("no box claims")
    assert "reference_coverage" in text


@pytest.mark.parametrize("prompt", ["tag_grounded", "cot"])
def test_prompts_that_ask_for_evidence_keep_the_auto_reference(tmp_path, prompt):
    out = tmp_path / prompt
    _run("--model", "majority", "--tasks", "demo", "--prompt", prompt, "--no-cache", "--out", str(out))
    assert RunDir(out).read_manifest().au_reference == DEFAULT_DETECTOR
