"""Small trust fixes: each reproduces a case a user hit (footer, resume, doctor, FER+ votes, protocol)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.data.base import DatasetError
from tag_bench.tasks import load_task


def _cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_no_ci_tables_do_not_mention_intervals(dataset_fixtures, tmp_path):
    run = tmp_path / "run"
    _cli("run", "--model", "majority", "--tasks", "rafdb_basic_test", "--data-root", dataset_fixtures["raf_basic"],
         "--out", run, "--au-reference", "none", "--no-cache", "--no-progress")  # fmt: skip
    assert "confidence interval" in _cli("leaderboard", run).output
    out = _cli("leaderboard", run, "--no-ci").output
    assert "confidence interval" not in out and "bootstrap" not in out and "±" not in out


def test_resume_says_how_many_samples_were_done(dataset_fixtures, tmp_path):
    run = tmp_path / "run"
    args = ["run", "--model", "random", "--tasks", "rafdb_basic_test", "--data-root", dataset_fixtures["raf_basic"],
            "--out", run, "--au-reference", "none", "--no-cache", "--no-progress"]  # fmt: skip
    _cli(*args, "--limit", "3")
    r = _cli(*args)
    assert "resumed: 3 of 7 samples were already generated; 4 generated now" in r.output


def test_doctor_flags_zero_byte_images(dataset_fixtures, tmp_path):
    root = tmp_path / "raf"
    shutil.copytree(dataset_fixtures["raf_basic"], root)
    first = sorted((root / "basic" / "Image" / "aligned").glob("test_*.jpg"))[0]
    first.write_bytes(b"")
    r = _cli("doctor", "--data-root", root)
    assert "1 image file(s) are empty (0 bytes)" in r.output and first.name in r.output


def test_a_negative_ferplus_vote_is_an_error_not_a_dropped_sample(dataset_fixtures, tmp_path):
    root = tmp_path / "fer"
    shutil.copytree(dataset_fixtures["ferplus"], root)
    label = root / "FER2013Test" / "label.csv"
    lines = label.read_text().splitlines()
    name, box, *votes = (
        lines[0].split(",", 2)[0],
        *lines[0].split('"')[1:2],
        *lines[0].rsplit('"', 1)[1].split(",")[1:],
    )
    votes[1] = "-3"
    lines[0] = f'{name},"{box}",{",".join(votes)}'
    label.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"label.csv:1: a vote count is negative"):
        load_task("ferplus_test").load(root)


def test_plurality8_all_keeps_every_test_image_and_takes_the_first_argmax(dataset_fixtures, tmp_path):
    root = dataset_fixtures["ferplus"]
    task = load_task("ferplus_test_plurality8_all")
    data = task.load(root)
    listed = (Path(root) / "FER2013Test" / "label.csv").read_text().splitlines()
    assert len(data.samples) == len(listed) > len(load_task("ferplus_test").load(root).samples)
    order = task.classes
    for s in data.samples:
        votes = s.meta["votes"]
        assert s.label == order[int(np.argmax(votes[:8]))]  # numpy's first argmax over the 8 emotions
    assert data.info["protocol"] == task.protocol == "ferplus-plurality8-all"
    # the protocol is recorded in every run, and `score` accepts it as a loader option too
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": s.id, "response": f"<answer>{s.label}</answer>"}) + "\n"
                             for s in data.samples))  # fmt: skip
    r = _cli("score", "--task", "ferplus_test", "--option", "protocol=plurality8-all", "--data-root", root,
             "--predictions", preds, "--au-reference", "none", "--out", tmp_path / "run", "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == len(listed) and metrics["metrics"]["accuracy"]["value"] == 1.0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert (
        manifest["task"]["protocol"] == "ferplus-plurality8-all"
    )  # the protocol in force, not the task's default
