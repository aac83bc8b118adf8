"""Grounding primitives on hand-computed cases (the metrics are tested in test_metrics_aggregate)."""

from __future__ import annotations

import pytest

from tag_bench.metrics import grounding as gr
from tag_bench.schema import AUReference, AUState


def test_iou_and_pointing_primitives():
    assert gr.claim_iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7)
    assert gr.claim_iou([0, 0, 2, 2], [0, 0, 2, 2]) == 1.0
    assert gr.claim_iou([0, 0, 2, 2], [5, 5, 6, 6]) == 0.0
    assert gr.claim_iou([0, 0, 2, 2], None) == 0.0  # no reference region scores 0
    assert gr.claim_pointing([0, 0, 2, 2], [1, 1, 3, 3]) is True  # centre (1, 1) on the border
    assert gr.claim_pointing([0, 0, 1, 1], [1, 1, 3, 3]) is False
    assert gr.claim_pointing([0, 0, 2, 2], None) is False


def test_reference_states_normalise_codes_and_judge():
    ref = AUReference(
        reference_id="r@1",
        detector="r",
        version="1",
        status="ok",
        threshold=0.5,
        aus={"AU06": AUState(score=0.2), "au12": AUState(active=True), "AU4": AUState(box=[0, 0, 1, 1])},
    )
    states = gr.reference_states(ref)
    assert set(states) == {"AU6", "AU12", "AU4"}
    assert gr.au_active(states["AU6"], 0.5) is False  # score below threshold
    assert gr.au_active(states["AU6"], None) is None  # no threshold: cannot judge
    assert gr.au_active(states["AU12"], None) is True
    assert gr.au_active(states["AU4"], 0.5) is None
    assert gr.au_active(None, 0.5) is None
    assert gr.reference_states(ref.model_copy(update={"status": "no_face"})) == {}
    assert gr.au_region(AUState(boxes=[[0, 0, 1, 1], [4, 0, 5, 2]])) == [0, 0, 5, 2]
    assert gr.au_region(AUState()) is None


def test_au_set_f1():
    assert gr.au_set_f1({"AU6", "AU12"}, {"AU6", "AU12"}) == 1.0
    assert gr.au_set_f1({"AU6", "AU4"}, {"AU6", "AU12", "AU25"}) == pytest.approx(2 * 1 / (2 + 3))
    assert gr.au_set_f1(set(), {"AU6"}) == 0.0
    assert gr.au_set_f1({"AU6"}, set()) == 0.0
    assert gr.au_set_f1(set(), set()) is None
