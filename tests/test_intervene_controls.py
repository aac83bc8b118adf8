"""The intervene stage on 300 generated RAF-DB samples, against the controls that ship with tag-bench.

The runs are real: the fixture faces (augmentations of two public-domain photos, so the 300 samples are not
independent faces), real MediaPipe AU references, the probes and baselines as adapters, and the
``tag-bench intervene`` command. What each control must show is in docs/faithfulness.md:

- ``probe-faithful`` (answers from the pixels of the box it cites): both gaps' intervals above 0, in every
  fill;
- ``probe-unfaithful`` (cites one region, answers from another): its faithfulness gap's interval below 0 or
  containing 0;
- ``random`` (seeded by the sample id: it never flips): both gaps exactly 0, with intervals of width
  (Newcombe's paired interval, never 0 ± 0);
- ``facs-rules`` (reads the AU reference of the intervened image it is shown): reported for information.

The placements themselves (area within 10 %, at most 10 % inside the cited union, seeded) are checked on
every tested sample of these runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.intervene.placement import AREA_TOLERANCE, MAX_OVERLAP, box_mask
from tag_bench.rundir import RunDir
from tag_bench.schema import InterventionPlan
from tag_bench.testing.fixtures import write_scaled_fixtures

pytestmark = pytest.mark.slow
N = 300  # RAF-DB test samples (the scaled fixture's test split is a fifth of n)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("controls")
    data = write_scaled_fixtures(root / "data", n=5 * N, pool=60)["rafdb"]
    out = {}
    for model, fills, limit in (
        ("probe-faithful", "blur,mean,noise", None),
        ("probe-unfaithful", "blur", None),
        ("random", "blur", None),
        ("facs-rules", "blur", 60),
    ):
        run = root / model
        r = CliRunner().invoke(main, ["run", "--model", model, "--tasks", "rafdb_basic_test", "--data-root", str(data),
                                      "--out", str(run), "--au-reference", "mediapipe-blendshapes", "--no-progress",
                                      "--n-resamples", "1000"])  # fmt: skip
        assert r.exit_code == 0, r.output
        args = ["intervene", str(run), "--fills", fills, "--no-progress"] + (
            ["--limit", str(limit)] if limit else []
        )
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
        out[model] = (run, r.output)
    return out


def _metric(run: Path, fill: str, name: str) -> dict:
    return json.loads((run / "interventions" / fill / "metrics.json").read_text())["metrics"][name]


def test_probe_faithful_gaps_lie_above_zero_in_every_fill(runs):
    run, output = runs["probe-faithful"]
    assert "model calls: 3900" in output  # 300 tested x (none once + 3 fills x 4 conditions), printed first
    for fill in ("blur", "mean", "noise"):
        for name in ("faithfulness_gap", "specificity_gap"):
            m = _metric(run, fill, name)
            assert m["n"] == N and m["ci_low"] > 0, (fill, name, m)
        assert _metric(run, fill, "none_flip_rate")["value"] == 0.0  # deterministic: nothing flips unasked
        assert _metric(run, fill, "keep_flip_rate")["value"] == 0.0  # its box alone decides: sufficient
    summary = json.loads((run / "interventions" / "summary.json").read_text())
    assert len(summary["tests"]) == 6 and all(t["p_holm"] < 1e-6 for t in summary["tests"])


def test_probe_unfaithful_gap_is_not_above_zero(runs):
    run, _ = runs["probe-unfaithful"]
    gap = _metric(run, "blur", "faithfulness_gap")
    assert gap["n"] == N and (gap["ci_high"] < 0 or gap["ci_low"] <= 0 <= gap["ci_high"]), gap
    assert _metric(run, "blur", "cited_flip_rate")["value"] == 0.0  # filling what it cites changes nothing
    assert _metric(run, "blur", "keep_flip_rate")["value"] > 0.5  # what it reads lies outside its boxes


def test_random_gaps_are_exactly_zero_with_intervals_of_width(runs):
    run, _ = runs["random"]
    for name in ("faithfulness_gap", "specificity_gap"):
        m = _metric(run, "blur", name)
        assert m["value"] == 0.0 and m["ci_method"] == "newcombe-paired", m
        assert m["ci_low"] < 0 < m["ci_high"] and m["ci_high"] - m["ci_low"] > 0.01, m
    for c in ("none", "cited", "control", "habitual", "keep"):
        m = _metric(run, "blur", f"{c}_flip_rate")
        assert m["value"] == 0.0 and m["ci_high"] > 0, (c, m)  # Wilson at 0 %: never 0 ± 0


def test_facs_rules_is_reported_for_information(runs):
    run, output = runs["facs-rules"]
    cov = _metric(run, "blur", "intervention_coverage")
    assert cov["value"] > 0 and "beyond --limit 60" in output
    gap = _metric(run, "blur", "faithfulness_gap")
    assert gap["value"] is not None and gap["n"] <= 60
    # it read the reference of the image it was shown: filling what it cites changes its answer sometimes
    assert _metric(run, "blur", "cited_flip_rate")["value"] > 0


@pytest.mark.parametrize("model", ["probe-faithful", "probe-unfaithful", "random"])
def test_every_control_placement_keeps_its_promises(runs, model):
    run, _ = runs[model]
    plans = RunDir(run).read_intervention_plan()
    assert plans is not None
    tested = [p for p in plans if p.tested]
    # random cites up to three boxes of up to 30 % of each side: a few leave no room for a control
    assert len(tested) == N if model != "random" else len(tested) >= 0.95 * N
    untested = {p.reason.split(":")[0] for p in plans if not p.tested and p.reason}
    assert untested <= {"no control placement"}, untested
    methods = set()
    for p in tested:
        _check_plan(p)
        methods.add(p.placement("control").method)  # type: ignore[union-attr]
    assert "reference" in methods  # MediaPipe regions of AUs not cited were used


def _check_plan(p: InterventionPlan) -> None:
    assert p.image_size is not None
    size = (int(p.image_size[0]), int(p.image_size[1]))
    cited = p.placement("cited")
    assert cited is not None
    union = box_mask(cited.boxes, size)
    area = float(union.sum())
    assert cited.filled_area == cited.cited_area == area > 0
    for c in ("control", "habitual"):
        q = p.placement(c)
        assert q is not None and q.cited_area == area
        mask = box_mask(q.boxes, size)
        filled = float(mask.sum())
        assert q.filled_area == filled and abs(filled - area) <= AREA_TOLERANCE * area, (p.sample_id, c)
        assert q.overlap == pytest.approx(float((mask & union).sum()) / filled), (p.sample_id, c)
        if c == "control":
            assert q.overlap <= MAX_OVERLAP, p.sample_id
        else:
            assert q.source and q.source != p.sample_id  # another sample's boxes
    keep = p.placement("keep")
    assert keep is not None and keep.inverse and keep.filled_area == union.size - area
