"""load_runs / load_samples DataFrames, and significance-aware marks, on runs scored for real."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from PIL import Image

from tag_bench.generate.predictions import score_predictions
from tag_bench.report import load_runs, load_samples
from tag_bench.report.leaderboard import leaderboard

CLASSES = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"]
TASK = """
name: faces_small
version: 1
dataset: folder
split: test
protocol: folder-names
classes: [neutral, happiness, sadness, surprise, fear, disgust, anger]
prompt: tag_grounded
loader: {class_order: names}
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """A folder-per-class test split of 280 small faces, and a task for it."""
    root = tmp_path_factory.mktemp("faces")
    src = root / "face.png"
    Image.new("RGB", (64, 64), (150, 120, 100)).save(src)
    for c in CLASSES:
        folder = root / "test" / c
        folder.mkdir(parents=True)
        for i in range(40):
            (folder / f"{c}_{i:03d}.png").write_bytes(src.read_bytes())
    for c in CLASSES:
        (root / "train" / c).mkdir(parents=True)
        (root / "train" / c / "x.png").write_bytes(src.read_bytes())
    tasks = tmp_path_factory.mktemp("tasks")
    (tasks / "faces_small.yaml").write_text(TASK)
    from tag_bench.tasks import load_task

    samples = load_task("faces_small", [str(tasks)]).load(root).samples
    return root, tasks, [f"{s.id}\t{s.label}" for s in samples]


def _run(dataset, tmp_path: Path, name: str, accuracy: float, seed: int) -> Path:
    root, tasks, samples = dataset
    rng = random.Random(seed)
    lines = []
    for entry in samples:
        sid, gold = entry.split("\t")
        label = gold if rng.random() < accuracy else rng.choice([c for c in CLASSES if c != gold])
        text = f"Inspect the mouth → AU12 → <bbox>[10, 30, 50, 50]</bbox>\n<answer>{label}</answer>"
        lines.append(json.dumps({"id": sid, "response": text}))
    tmp_path.mkdir(parents=True, exist_ok=True)
    preds = tmp_path / f"{name}.jsonl"
    preds.write_text("\n".join(lines) + "\n")
    out = tmp_path / "runs" / name
    score_predictions("faces_small", preds, frame="pixel", data_root=root, out=out, au_reference="none",
                      tasks_dirs=[str(tasks)], n_resamples=200, progress=False, name=name)  # fmt: skip
    return out


def test_load_runs_is_one_row_per_run_and_metric(dataset, tmp_path):
    a = _run(dataset, tmp_path, "model-a", 0.8, 1)
    _run(dataset, tmp_path, "model-b", 0.5, 2)
    frame = load_runs(tmp_path / "runs")
    assert set(frame["name"]) == {"model-a", "model-b"}
    acc = frame[frame.metric == "accuracy"].set_index("name")
    metrics = json.loads((a / "metrics.json").read_text())["metrics"]
    assert acc.loc["model-a", "value"] == pytest.approx(metrics["accuracy"]["value"])
    assert acc.loc["model-a", "ci_method"] == "wilson" and acc.loc["model-a", "metric_n"] == 280
    per_run = frame.groupby("run_dir").size()
    assert (per_run == len(metrics)).all()
    # a metric that was not computed is NaN, never 0
    iou = frame[frame.metric == "au_box_iou"]
    assert iou["value"].isna().all()


def test_load_samples_matches_samples_jsonl(dataset, tmp_path):
    run = _run(dataset, tmp_path, "model-a", 0.8, 1)
    frame = load_samples(run)
    lines = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    assert len(frame) == len(lines) == 280
    assert list(frame["sample_id"]) == [x["sample_id"] for x in lines]
    assert frame["correct"].sum() == sum(x["correct"] for x in lines)
    assert (frame["n_box_claims"] == 1).all() and frame["mean_iou"].isna().all()  # no reference: no IoU


def test_marks_only_where_significant(dataset, tmp_path):
    _run(dataset, tmp_path, "strong", 0.85, 3)
    _run(dataset, tmp_path, "weak", 0.45, 4)
    board = leaderboard([tmp_path / "runs"], spec="overview", mark_significant=True)
    row = {r.name: r for r in board.table.rows}
    assert row["strong"].cells[0][0].mark == "best"  # 85 % vs 45 % on 280 faces: McNemar p << 0.05
    close = tmp_path / "close"
    _run(dataset, close, "a", 0.60, 5)
    _run(dataset, close, "b", 0.60, 6)
    board = leaderboard([close / "runs"], spec="overview", mark_significant=True)
    acc = [r.cells[0][0] for r in board.table.rows]
    assert acc[0].value != acc[1].value  # one is ahead, but not significantly: no bold
    assert all(c.mark != "best" for c in acc) and not math.isnan(acc[0].value or math.nan)


def test_mark_significant_never_bolds_tied_values(dataset, tmp_path):
    """Issue 18: two rows at 0.0 / 0.0 (parse failures: every answer parsed) were both bold although the
    note says bold means "significantly better than the runner-up"."""
    _run(dataset, tmp_path, "a", 0.85, 3)
    _run(dataset, tmp_path, "b", 0.45, 4)
    board = leaderboard([tmp_path / "runs"], spec="overview", mark_significant=True)
    metrics = [c.metric for c in board.table.groups[0].columns]
    parse = metrics.index("parse_failure_rate")
    cells = [r.cells[0][parse] for r in board.table.rows]
    assert [c.value for c in cells] == [0.0, 0.0]
    assert all(c.mark != "best" for c in cells)
    assert "**0.0" not in board.text
    plain = leaderboard([tmp_path / "runs"], spec="overview")  # without the test, ties are marked alike
    assert [r.cells[0][parse].mark for r in plain.table.rows] == ["best", "best"]


def test_mark_significant_over_runs_with_different_gold_labels_names_the_runs(dataset, tmp_path):
    """Issue 18: the message named a sample id but not the runs."""
    from click.testing import CliRunner

    from tag_bench._cli.main import main

    _run(dataset, tmp_path, "strong", 0.85, 3)
    weak = _run(dataset, tmp_path, "weak", 0.45, 4)
    records = [json.loads(x) for x in (weak / "samples.jsonl").read_text().splitlines()]
    first = next(x for x in records if not x["correct"])  # the same sample with another (wrong) gold label
    first["label"] = next(c for c in CLASSES if c not in (first["label"], first["pred"]))
    (weak / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in records))
    r = CliRunner().invoke(main, ["leaderboard", str(tmp_path / "runs"), "--mark-significant"])
    assert r.exit_code == 1
    assert "'strong'" in r.output and "'weak'" in r.output, r.output
    assert str(weak) in r.output and str(tmp_path / "runs" / "strong") in r.output, r.output
    assert first["sample_id"] in r.output and "Traceback" not in r.output
