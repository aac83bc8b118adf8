"""A metric that is not a rate, added in one place, reaches every output formatted by its unit.

The metric is registered at run time (as a plugin would), then real runs through the command line
(facs-rules and random on the demo faces, real MediaPipe reference) show it in the run summary, in
every table format, and in ``compare``.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.report.render import FORMATS
from tag_bench.scoring import MetricSpec, register_metric, unregister_metric
from tag_bench.scoring.units import format_value

NAME = "box_claims_per_sample"
SCRATCH = MetricSpec(
    NAME,
    "Boxes / sample",
    "grounding",
    "Box claims per sample with a usable AU reference.",
    True,
    "sample",
    "covered",
    numerator="box_claims",
    reference="covered",
    unit="count",
    headline=True,
    empty_reason="no sample has a usable AU reference",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    register_metric(SCRATCH)
    root = tmp_path_factory.mktemp("scratch")
    summaries = {}
    try:
        for model in ("facs-rules", "random", "majority"):
            r = CliRunner().invoke(main, ["run", "--model", model, "--tasks", "demo", "--au-reference",
                                          "mediapipe-geometric", "--no-cache", "--no-progress", "--n-resamples",
                                          "300", "--out", str(root / model)])  # fmt: skip
            assert r.exit_code == 0, r.output
            summaries[model] = r.output
        yield root, summaries
    finally:
        unregister_metric(NAME)


def _value(root, model) -> float:
    value = json.loads((root / model / "metrics.json").read_text())["metrics"][NAME]["value"]
    assert value is not None and value > 1.0  # more than one box per sample: clearly not a rate
    return value


def test_registering_twice_or_a_built_in_name_is_refused(runs):
    with pytest.raises(ValueError, match="already defined"):
        register_metric(SCRATCH)
    with pytest.raises(ValueError, match="not a registered metric"):
        unregister_metric("accuracy")


def test_the_run_summary_shows_it_in_its_unit(runs):
    root, summaries = runs
    line = next(x for x in summaries["facs-rules"].splitlines() if x.strip().startswith(NAME))
    assert format_value(SCRATCH, _value(root, "facs-rules")) in line and line.rstrip().endswith("per sample")


@pytest.mark.parametrize("fmt", list(FORMATS.names()))
def test_every_table_format_shows_it_in_its_unit(runs, tmp_path, fmt):
    root, _ = runs
    spec = tmp_path / "scratch.yaml"
    spec.write_text(
        f"name: scratch\ntitle: Scratch\ncolumns:\n  - {{tasks: [demo], metrics: [accuracy, {NAME}]}}\n"
    )
    r = CliRunner().invoke(
        main, ["leaderboard", str(root), "--spec", str(spec), "--format", fmt, "--ci", "brackets"]
    )
    assert r.exit_code == 0, r.output
    best, other = _value(root, "facs-rules"), _value(root, "random")
    if fmt == "json":
        doc = json.loads(r.output)
        cells = {row["name"]: row["cells"][0][1] for row in doc["rows"]}
        assert cells["facs-rules"]["value"] == pytest.approx(best)
        assert cells["random"]["value"] == pytest.approx(other)
        assert "Counts per sample" in " ".join(doc["notes"]) or "counts per sample" in " ".join(doc["notes"])
        return
    for v in (best, other):
        assert format_value(SCRATCH, v) in r.output  # 2 decimals, not x100
        assert format_value("rate", v) not in r.output or v == 0
    if fmt != "csv":  # CSV carries no notes
        assert "counts per sample" in r.output  # the table's note names the unit
    if fmt == "md":  # a ranked metric: the better non-oracle row is marked, whatever its unit
        assert "**" + format_value(SCRATCH, other) in r.output  # random's boxes beat majority's none


def test_compare_shows_it_in_its_unit(runs):
    root, _ = runs
    r = CliRunner().invoke(main, ["compare", str(root / "facs-rules"), str(root / "random"), "--metrics",
                                  f"accuracy,{NAME}", "--json"])  # fmt: skip
    doc = json.loads(r.output)
    row = next(m for t in doc["tasks"] for m in t["metrics"] if m["metric"] == NAME)
    assert row["unit"] == "count" and row["gated"] and row["test"] == "paired-bootstrap"
    text = CliRunner().invoke(main, ["compare", str(root / "facs-rules"), str(root / "random"), "--metrics",
                                     f"accuracy,{NAME}"]).output  # fmt: skip
    line = next(x for x in text.splitlines() if x.startswith(NAME))
    assert (
        format_value(SCRATCH, row["value_base"]) in line
        and format_value(SCRATCH, row["diff"], signed=True) in line
    )
    assert "counts per sample" in text
