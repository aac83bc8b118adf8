"""Sound or refused: runs whose numbers do not mean the same thing never share a table column, a CI gate
or a figure (tag_bench.comparability). Real runs of the built-in baselines on the generated RAF-DB copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench import store
from tag_bench._cli.main import main
from tag_bench.comparability import SCORING_VERSION, key_of
from tag_bench.report.compare import CompareError, compare_runs
from tag_bench.report.frames import read_runs
from tag_bench.report.leaderboard import leaderboard
from tag_bench.report.plots import FIGURES, figures
from tag_bench.rundir import RunDir
from tag_bench.scoring import MetricSpec, register_metric, unregister_metric
from tag_bench.scoring.stages import Stage, register_stage, unregister_stage

TASK = "rafdb_basic_test"


def _run(out: Path, model: str, root: Path, *extra: str, name: str | None = None) -> Path:
    args = ["run", "--model", model, "--tasks", TASK, "--data-root", str(root), "--au-reference", "none",
            "--no-cache", "--no-progress", "--n-resamples", "0", "--out", str(out), *extra]  # fmt: skip
    if name:
        args += ["--name", name]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory, dataset_fixtures):
    root = tmp_path_factory.mktemp("comparability")
    raf = dataset_fixtures["raf_basic"]
    relabelled = root / "raf_relabelled"
    shutil.copytree(raf, relabelled)
    labels = relabelled / "basic" / "EmoLabel" / "list_patition_label.txt"
    lines = labels.read_text().splitlines()
    flipped = [
        f"{ln.split()[0]} {1 + int(ln.split()[1]) % 7}" if ln.startswith("test") else ln for ln in lines
    ]
    labels.write_text("\n".join(flipped) + "\n")
    runs = {
        "full": _run(root / "full", "majority", raf, name="majority"),
        "random": _run(root / "random", "random", raf, name="random"),
        "limited": _run(root / "limited", "random", raf, "--limit", "4", name="random-50"),
        "relabelled": _run(root / "relabelled", "random", relabelled, name="random-relabelled"),
        "original": _run(
            root / "original", "random", raf, "--option", "variant=original", name="random-original"
        ),
        "direct": _run(root / "direct", "random", raf, "--prompt", "direct", name="random-direct"),
    }
    return root, runs


def _group_of(table, name: str) -> list[str | None]:
    """The detail of each column group that holds a value for ``name``."""
    row = next(r for r in table.rows if r.name == name)
    return [g.detail for g, cells in zip(table.groups, row.cells, strict=True) if cells[0].value is not None]


def test_the_key_is_recorded_with_the_scores(world):
    _, runs = world
    run = RunDir(runs["full"])
    manifest, report = run.read_manifest(), run.read_metrics()
    assert report.scoring_version == SCORING_VERSION
    data = manifest.data_identity
    assert data is not None and data.n == 7 and data.unreadable_images == 0
    key = key_of(manifest, report)
    assert key.task == TASK and key.samples == data.samples and key.prompt.startswith("tag_grounded@")


def test_different_sample_sets_and_labels_never_share_a_column(world):
    """Issue 18, 3: runs on all samples, on a --limit subset and on a copy with other gold labels shared one
    leaderboard column and got best / second marks."""
    _, runs = world
    paths = [runs["full"], runs["random"], runs["limited"], runs["relabelled"]]
    table = leaderboard(paths, spec="main").table
    raf = [g for g in table.groups if g.title == "RAF-DB"]
    assert len(raf) == 3  # all 7 samples; the 4-sample subset; the relabelled copy
    assert _group_of(table, "majority") == _group_of(table, "random")
    assert _group_of(table, "random-50") != _group_of(table, "random")
    assert _group_of(table, "random-relabelled") != _group_of(table, "random")
    details = " | ".join(str(g.detail) for g in raf)
    assert "samples" in details and "labels" in details
    note = next(n for n in table.notes if "separate column groups" in n)
    assert "sample set" in note and "gold labels" in note
    for g_index in range(len(table.groups)):  # a group of one run gets no marks
        members = [r for r in table.rows if r.cells[g_index][0].value is not None]
        if len(members) < 2:
            assert all(r.cells[g_index][0].mark is None for r in table.rows)
    # compare refuses the same pairs, naming both runs
    with pytest.raises(CompareError, match="different samples"):
        compare_runs(runs["random"], runs["limited"])
    with pytest.raises(CompareError, match=r"not comparable \(gold labels"):
        compare_runs(runs["random"], runs["relabelled"])


def test_intersect_scores_runs_on_the_samples_they_share(world):
    _, runs = world
    table = leaderboard([runs["full"], runs["random"], runs["limited"]], spec="main", intersect=True).table
    raf = [g for g in table.groups if g.title == "RAF-DB"]
    assert len(raf) == 1 and raf[0].detail is None
    for row in table.rows:
        assert row.cells[0][0].n == 4  # accuracy over the 4 shared samples
    assert any("--intersect" in n and "4 samples" in n for n in table.notes)
    limited = RunDir(runs["limited"]).read_metrics().metrics["accuracy"].value
    assert next(r for r in table.rows if r.name == "random-50").cells[0][0].value == pytest.approx(limited)
    # shared samples with other gold labels are refused, naming the runs
    with pytest.raises(Exception, match="different gold labels"):
        leaderboard([runs["random"], runs["relabelled"]], spec="main", intersect=True)


def test_aligned_and_original_images_are_never_mixed(world):
    _, runs = world
    a, b = RunDir(runs["random"]), RunDir(runs["original"])
    ka, kb = key_of(a.read_manifest(), a.read_metrics()), key_of(b.read_manifest(), b.read_metrics())
    assert ka.samples == kb.samples and ka.labels == kb.labels and ka.images != kb.images
    table = leaderboard([runs["random"], runs["original"]], spec="main").table
    assert len([g for g in table.groups if g.title == "RAF-DB"]) == 2
    with pytest.raises(CompareError, match=r"images .* vs "):
        compare_runs(runs["random"], runs["original"])


def test_another_prompt_is_split_and_refused(world):
    _, runs = world
    table = leaderboard([runs["random"], runs["direct"]], spec="main").table
    details = [g.detail for g in table.groups if g.title == "RAF-DB"]
    assert sorted(details) == ["prompt direct", "prompt tag_grounded"]
    with pytest.raises(CompareError, match="prompt tag_grounded vs prompt direct"):
        compare_runs(runs["random"], runs["direct"])


def test_scores_of_an_older_scoring_version_are_split_until_re_scored(world, tmp_path):
    _, runs = world
    old = tmp_path / "old"
    shutil.copytree(runs["random"], old)
    metrics = json.loads((old / "metrics.json").read_text())
    del metrics["scoring_version"]  # as tag-bench wrote it before the version was recorded
    store.write_json(old / "metrics.json", metrics)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["name"] = "random-old"
    store.write_json(old / "manifest.json", manifest)
    table = leaderboard([runs["full"], old], spec="main").table
    details = sorted(str(g.detail) for g in table.groups if g.title == "RAF-DB")
    assert details == ["scoring v0 (re-score it)", f"scoring v{SCORING_VERSION}"]
    with pytest.raises(CompareError, match="re-score it with `tag-bench score RUN`"):
        compare_runs(runs["random"], old)
    assert CliRunner().invoke(main, ["score", str(old), "--n-resamples", "0"]).exit_code == 0
    compare_runs(runs["random"], old, n_resamples=1000)  # comparable again
    table = leaderboard([runs["full"], old], spec="main").table
    assert len([g for g in table.groups if g.title == "RAF-DB"]) == 1


def test_a_failed_run_is_refused_unless_allowed_then_flagged(world, tmp_path):
    _, runs = world
    failed = tmp_path / "failed"
    shutil.copytree(runs["random"], failed)
    RunDir(failed).set_status("failed")
    r = CliRunner().invoke(main, ["leaderboard", str(failed), str(runs["full"]), "--spec", "main"])
    assert r.exit_code == 1 and "failed run" in r.output and "--allow-failed" in r.output
    r = CliRunner().invoke(
        main, ["leaderboard", str(failed), str(runs["full"]), "--spec", "main", "--allow-failed"]
    )
    assert r.exit_code == 0 and "random ✗" in r.output and "✗ failed run" in r.output
    with pytest.raises(CompareError, match="--allow-failed"):
        compare_runs(runs["random"], failed)
    with pytest.raises(Exception, match="failed run"):
        read_runs([failed])


def test_figures_draw_only_comparable_runs_together(world):
    _, runs = world
    loaded = read_runs([runs["full"], runs["random"], runs["relabelled"]]).runs
    jobs = [stem for kind, stem, _ in figures(loaded, ["recall"])]
    assert len(jobs) == 2  # majority and random together; the relabelled copy on its own
    assert FIGURES.get("iou-hist").reference and not FIGURES.get("recall").reference


def test_a_stage_not_run_on_new_is_told_apart_from_a_vanished_metric(world, tmp_path):
    """A metric that needs a later stage: BASE ran the stage, NEW did not -> "not run", with the command."""
    _, runs = world
    base, new = tmp_path / "base", tmp_path / "new"
    shutil.copytree(runs["random"], base)
    shutil.copytree(runs["random"], new)
    for d in (base, new):  # the same run twice; only BASE ran the stage
        m = json.loads((d / "manifest.json").read_text())
        m["extra"]["scratch_stage"] = d == base
        store.write_json(d / "manifest.json", m)
    register_stage(
        Stage("scratch", "scratch", lambda m: bool(m.extra.get("scratch_stage")), "tag-bench scratch RUN")
    )
    register_metric(MetricSpec("scratch_rate", "Scratch", "classification", "A scratch rate.", True, "sample",
                               "samples", numerator="correct", ci_method="wilson", requires=("scratch",)))  # fmt: skip
    try:
        for d in (base, new):
            assert CliRunner().invoke(main, ["score", str(d), "--n-resamples", "0"]).exit_code == 0
        report = RunDir(new).read_metrics()
        assert report.not_run["scratch_rate"] == "tag-bench scratch RUN"
        # every other metric not run is one of the built-in intervene stage's (the run has not been intervened)
        assert {v for k, v in report.not_run.items() if k != "scratch_rate"} == {"tag-bench intervene RUN"}
        result = compare_runs(base, new, metrics=["accuracy", "scratch_rate"], n_resamples=1000)
        row = next(m for m in result.rows() if m.metric == "scratch_rate")
        assert row.verdict == "not run" and f"tag-bench scratch {new}" in (row.reason or "")
        assert result.exit_code == 1
        assert compare_runs(base, new, metrics=["accuracy", "scratch_rate"], n_resamples=1000,
                            allow_missing=True).exit_code == 0  # fmt: skip
    finally:
        unregister_metric("scratch_rate")
        unregister_stage("scratch")
