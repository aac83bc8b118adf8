"""Numbers users can trust (scoring side): no silent zeros, failures kept apart, nothing lost on re-scoring.

Each test reproduces a case where an earlier version printed a number that looked valid but was not.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from tag_bench._cli.main import main
from tag_bench.rundir import RunDir
from tag_bench.tasks import load_task

pytest.importorskip("mediapipe")


def _cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _trace(label: str, box: list[int]) -> str:
    return (
        f"Inspect the mouth corners → lip corners pulled up (AU12) → <bbox>{box}</bbox>\n"
        f"Inspect the cheeks → cheeks raised (AU6) → <bbox>[20, 30, 45, 50]</bbox>\n<answer>{label}</answer>"
    )


def _predictions(tmp_path: Path, root: Path, task: str = "rafdb_basic_test", **special: str) -> Path:
    samples = load_task(task).load(root).samples
    lines = []
    for s in samples:
        text = special.get(s.id, _trace(s.label, [30, 60, 70, 80]))
        if text == "<missing>":
            continue
        lines.append(json.dumps({"id": s.id, "response": text}))
    path = tmp_path / f"{task}.predictions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_grounding_is_not_computed_not_zero_when_every_reference_failed(raf_root, tmp_path):
    preds = _predictions(tmp_path, raf_root)
    run = tmp_path / "run"
    r = _cli("score", "--task", "rafdb_basic_test", "--data-root", raf_root, "--predictions", preds,
             "--frame", "pixel", "--au-reference", "none", "--out", run, "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    shutil.rmtree(raf_root)  # the dataset is gone: the detector cannot read a single image
    r = _cli("score", run, "--au-reference", "mediapipe-geometric", "--no-progress")
    assert r.exit_code == 0, r.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["reference_status_counts"] == {"error": 7}
    assert metrics["metrics"]["reference_coverage"]["value"] == 0.0
    for name in ("au_box_iou", "grounding_precision@0.5", "pointing_accuracy", "grounded_accuracy",
                 "hallucinated_au_rate", "au_recall", "accuracy_covered"):  # fmt: skip
        assert metrics["metrics"][name]["value"] is None, name
        assert "no sample has a usable record of AU reference" in metrics["not_computed"][name]
    assert "usable for 0 of 7 samples (error 7)" in r.output
    assert "warning: the AU reference is unusable for 7 of 7 samples" in r.output


def test_a_face_without_a_usable_reference_is_left_out_of_every_reference_metric_alike(raf_root, tmp_path):
    samples = load_task("rafdb_basic_test").load(raf_root).samples
    blank = samples[2]
    Image.new("RGB", (100, 100), (128, 128, 128)).save(blank.image)  # no face for MediaPipe to find
    preds = _predictions(tmp_path, raf_root)
    run = tmp_path / "run"
    r = _cli("score", "--task", "rafdb_basic_test", "--data-root", raf_root, "--predictions", preds,
             "--frame", "pixel", "--au-reference", "mediapipe-geometric", "--out", run, "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["reference_status_counts"].get("no_face") == 1
    m = metrics["metrics"]
    assert m["reference_coverage"]["value"] == pytest.approx(6 / 7)
    scored = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    by_id = {s["sample_id"]: s for s in scored}
    assert all(c["iou"] is None and c["hallucinated"] is None for c in by_id[blank.id]["claims"])
    covered = [s for s in scored if s["reference_status"] == "ok"]
    ious = [c["iou"] for s in covered for c in s["claims"] if c["box"] is not None]
    assert m["au_box_iou"]["n"] == len(ious) == 2 * 6
    assert m["au_box_iou"]["value"] == pytest.approx(sum(ious) / len(ious))
    assert m["grounded_accuracy"]["n"] == m["accuracy_covered"]["n"] == 6
    assert m["accuracy_covered"]["value"] == pytest.approx(sum(s["correct"] for s in covered) / 6)
    assert "usable for 6 of 7 samples (no_face 1)" in r.output
    lb = _cli("leaderboard", run)
    assert "AU reference usable for 6 of 7 samples (no_face 1)" in lb.output


def test_failures_are_kept_apart_by_kind(dataset_fixtures, tmp_path):
    root = dataset_fixtures["affectnet_csv"]  # one listed image file is missing: an error
    samples = load_task("affectnet7_val").load(root).samples
    special = {samples[0].id: "I cannot tell from this picture.", samples[1].id: "<answer>contempt</answer>",
               samples[3].id: "<missing>"}  # fmt: skip
    preds = _predictions(tmp_path, root, "affectnet7_val", **special)
    run = tmp_path / "run"
    r = _cli("score", "--task", "affectnet7_val", "--data-root", root, "--predictions", preds, "--frame", "pixel",
             "--au-reference", "none", "--out", run, "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    metrics = json.loads((run / "metrics.json").read_text())
    n = metrics["n"]
    counts = metrics["status_counts"]
    assert counts["invalid_label"] == 1 and counts["missing"] == 1 and counts["error"] == 1
    assert counts["refusal"] == 1
    m = metrics["metrics"]
    assert m["parse_failure_rate"]["value"] == pytest.approx(1 / n)  # only the unreadable reply
    assert m["invalid_label_rate"]["value"] == pytest.approx(1 / n)
    assert m["error_rate"]["value"] == pytest.approx(1 / n)
    assert m["missing_rate"]["value"] == pytest.approx(1 / n)
    correct = sum(json.loads(x)["correct"] for x in (run / "samples.jsonl").read_text().splitlines())
    assert m["accuracy"]["value"] == pytest.approx(correct / n) and correct == n - 4  # all four stay wrong


def test_an_interrupted_run_is_marked_and_kept_out_of_tables_unless_asked(raf_root, tmp_path):
    run = tmp_path / "run"
    r = _cli("run", "--model", "random", "--tasks", "rafdb_basic_test", "--data-root", raf_root, "--out", run,
             "--au-reference", "none", "--no-cache", "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    rd = RunDir(run)
    gens = rd.generations_path.read_text().splitlines()
    rd.generations_path.write_text("\n".join(gens[:3]) + "\n")  # stopped after 3 of 7
    rd.set_status("interrupted")
    r = _cli("score", run, "--no-progress")
    assert "INCOMPLETE run (interrupted): 3 of 7 samples have a generation" in r.output
    assert json.loads(rd.metrics_path.read_text())["run_status"] == "interrupted"
    refused = _cli("leaderboard", run)
    assert (
        refused.exit_code == 1
        and "incomplete run" in refused.output
        and "--allow-incomplete" in refused.output
    )
    shown = _cli("leaderboard", run, "--allow-incomplete")
    assert shown.exit_code == 0 and "random ‡" in shown.output and "incomplete run" in shown.output


def test_rescoring_never_deletes_a_reference_set(raf_root, tmp_path):
    preds = _predictions(tmp_path, raf_root)
    run = tmp_path / "run"
    _cli("score", "--task", "rafdb_basic_test", "--data-root", raf_root, "--predictions", preds, "--frame",
         "pixel", "--au-reference", "mediapipe-geometric", "--out", run, "--no-progress")  # fmt: skip
    first = json.loads((run / "metrics.json").read_text())
    ref_id = first["au_reference"]
    r = _cli("score", run, "--au-reference", "none", "--no-progress")
    assert r.exit_code == 0 and json.loads((run / "metrics.json").read_text())["au_reference"] is None
    saved = run / "references" / ref_id / "au_references.jsonl"
    assert saved.exists() and len(saved.read_text().splitlines()) == 7  # kept, not deleted
    shutil.rmtree(raf_root)  # without the dataset the saved set still brings the grounding back
    r = _cli("score", run, "--au-reference", ref_id, "--no-progress")
    assert r.exit_code == 0, r.output
    back = json.loads((run / "metrics.json").read_text())
    assert back["au_reference"] == ref_id and back["metrics"] == first["metrics"]
    assert sorted(p.name for p in (run / "references").iterdir()) == sorted([ref_id, "none"])


def test_run_files_are_readable_by_others(raf_root, tmp_path):
    run = tmp_path / "run"
    _cli("run", "--model", "majority", "--tasks", "rafdb_basic_test", "--data-root", raf_root, "--out", run,
         "--au-reference", "none", "--no-cache", "--no-progress")  # fmt: skip
    for name in ("manifest.json", "index.jsonl", "generations.jsonl", "samples.jsonl", "metrics.json"):
        assert (run / name).stat().st_mode & 0o044 == 0o044, name  # was 0600
