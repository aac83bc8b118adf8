"""Dropped boxes do not hide (issue 18): the share of unusable boxes, every dropped-box note in the run
summary, and the box rate and unusable boxes beside the IoU in the grounding tables."""

from __future__ import annotations

import pytest

from tag_bench._cli.summary import format_summary
from tag_bench.parsing import parse_response
from tag_bench.parsing.notes import DROPPED_BOX_NOTES, NOTE_CODES
from tag_bench.report.spec import load_spec
from tag_bench.schema import AUReference, AUState, Generation, Sample
from tag_bench.scoring import compute_metrics, score_sample

CLASSES = ["happiness", "sadness"]
REF = "test-ref@1"
GOOD = "AU12 <bbox>[10, 30, 50, 50]</bbox> <answer>happiness</answer>"
NON_FINITE = "AU12 <bbox>[1e999, 30, 50, 50]</bbox> <answer>happiness</answer>"
FAR_OUTSIDE = "AU12 <bbox>[10, 30, 1e30, 50]</bbox> <answer>happiness</answer>"


def _run(responses: list[str]):
    ref = AUReference(reference_id=REF, detector="t", version="1", threshold=0.5, status="ok",
                      aus={"AU12": AUState(score=0.9, active=True, box=[10, 30, 50, 50])})  # fmt: skip
    out = []
    for i, text in enumerate(responses):
        s = Sample(id=f"s{i}", dataset="demo", split="test", image="x.jpg", label="happiness",
                   native_label="happiness")  # fmt: skip
        parsed = parse_response(text, "pixel", (64, 64), None, "stop", CLASSES)
        out.append(score_sample(s, Generation(sample_id=s.id, text=text), parsed, ref, CLASSES))
    return compute_metrics(out, CLASSES, au_reference_id=REF, n_resamples=1000)


def test_60_percent_dropped_boxes_show_in_the_unusable_box_rate_and_every_note_in_the_summary():
    """The issue's case: 60 % of boxes non-finite or far outside the image gave the clean run's
    au_box_iou (it is over usable boxes only), and the summary named box-far-outside, not box-non-finite."""
    clean = _run([GOOD] * 10)
    broken = _run([NON_FINITE] * 3 + [FAR_OUTSIDE] * 3 + [GOOD] * 4)
    # the IoU is over the usable boxes by definition: it does not move ...
    assert broken.metrics["au_box_iou"].value == clean.metrics["au_box_iou"].value == pytest.approx(1.0)
    # ... so the share of the cited boxes that were dropped stands beside it
    assert clean.metrics["unusable_box_rate"].value == 0.0
    v = broken.metrics["unusable_box_rate"]
    assert v.value == pytest.approx(0.6) and v.n == 10 and v.ci_low < 0.6 < v.ci_high
    assert broken.metrics["box_rate"].value == pytest.approx(0.4)
    text = format_summary("demo", "m", "out", broken)
    line = next(x for x in text.splitlines() if x.startswith("  dropped boxes:"))
    assert "60.0 [" in line and "of 10 cited boxes unusable" in line
    assert "box-non-finite on 3 samples" in line and "box-far-outside on 3 samples" in line
    assert "dropped boxes" not in format_summary("demo", "m", "out", clean)


def test_the_summary_names_every_dropped_box_note():
    assert set(DROPPED_BOX_NOTES) <= set(NOTE_CODES)
    report = _run([GOOD] * 4)
    report.parse_notes = {code: i + 1 for i, code in enumerate(DROPPED_BOX_NOTES)}
    text = format_summary("demo", "m", "out", report)
    for i, code in enumerate(DROPPED_BOX_NOTES):
        assert f"{code} on {i + 1} samples" in text, code


def test_grounding_tables_show_box_rate_and_unusable_boxes_beside_the_iou():
    for group in load_spec("grounding").columns:
        i = group.metrics.index("au_box_iou")
        assert group.metrics[i + 1 : i + 3] == ["box_rate", "unusable_box_rate"], group.title
    overview = load_spec("overview").columns[0].metrics
    assert overview[overview.index("au_box_iou") + 1] == "unusable_box_rate"
