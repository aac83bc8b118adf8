"""Parser notes that point at a likely mistake, and their per-run counts (never a silent guess)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.parsing import parse_response
from tag_bench.parsing.notes import NOTE_CODES, note_code
from tag_bench.tasks import load_task


def _codes(parsed) -> set[str]:
    return {note_code(n) for n in parsed.notes}


def test_conflicting_explicit_answers_are_noted():
    p = parse_response("<answer>happiness</answer> hmm, no: <answer>sadness</answer>", "pixel", (100, 100))
    assert p.label == "sadness" and "answer-conflict" in _codes(p)
    assert any("(happiness, sadness)" in n for n in p.notes)
    p = parse_response("\\boxed{anger} ... final: \\boxed{fear}", "pixel", (100, 100))
    assert p.label == "fear" and "answer-conflict" in _codes(p)
    agree = parse_response("<answer>joy</answer> so <answer>happiness</answer>", "pixel", (100, 100))
    assert "answer-conflict" not in _codes(agree)


def test_boxes_that_look_like_another_frame_get_a_hint_and_keep_their_frame():
    p = parse_response(
        "AU12 <bbox>[0.1, 0.6, 0.5, 0.8]</bbox> <answer>happy</answer>", "norm1000", (100, 100)
    )
    assert "frame-hint" in _codes(p) and "norm1" in " ".join(p.notes)
    assert p.evidence[0].box == pytest.approx([0.01, 0.06, 0.05, 0.08])  # read as declared, never re-framed
    p = parse_response("AU12 <bbox>[30, 60, 150, 80]</bbox> <answer>happy</answer>", "pixel", (100, 100))
    assert {"frame-hint", "box-clipped"} <= _codes(p)
    fine = parse_response("AU12 <bbox>[30, 60, 70, 80]</bbox> <answer>happy</answer>", "pixel", (100, 100))
    assert "frame-hint" not in _codes(fine)


def test_an_absurd_coordinate_is_outside_not_a_clipped_box():
    p = parse_response("AU12 <bbox>[10, 20, 1e24, 50]</bbox> <answer>happy</answer>", "pixel", (100, 100))
    assert p.evidence[0].box is None and p.evidence[0].box_status == "outside"
    assert "box-far-outside" in _codes(p)


def test_every_note_has_a_documented_code():
    texts = ["<answer>", "", "<think>x", "\\boxed{happy} \\boxed{sad}", "AU99 <bbox>[1,2,3]</bbox>",
             "AU12 AU6 <bbox>[1,2,30,40]</bbox>", "AU12 <bbox>[nan, 1, 2, 3]</bbox>"]  # fmt: skip
    for t in texts:
        for n in parse_response(t, "norm1000", (100, 100), finish_reason="length").notes:
            assert note_code(n) in NOTE_CODES, n


def test_a_run_counts_its_notes(dataset_fixtures, tmp_path):
    raf = dataset_fixtures["raf_basic"]
    samples = load_task("rafdb_basic_test").load(raf).samples
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(
        json.dumps({"id": s.id, "response": f"AU12 <bbox>[0.2, 0.5, 0.6, 0.8]</bbox> <answer>{s.label}</answer>"}) + "\n"
        for s in samples[:4]
    ))  # fmt: skip
    r = CliRunner().invoke(main, ["score", "--task", "rafdb_basic_test", "--data-root", str(raf), "--predictions",
                                  str(preds), "--frame", "norm1000", "--au-reference", "none", "--out",
                                  str(tmp_path / "run"), "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["parse_notes"]["frame-hint"] == 4
    assert "parser notes: frame-hint on 4 samples" in r.output
