"""Grounding primitives and array metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
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


def test_array_metrics_hand_computed():
    ious = [1.0, 0.5, 0.0, 0.3, 0.49]
    assert gr.au_box_iou(ious) == pytest.approx(2.29 / 5)
    assert gr.grounding_precision(ious, 0.5) == pytest.approx(2 / 5)  # >= 0.5
    assert gr.grounding_precision(ious, 0.3) == pytest.approx(4 / 5)
    assert gr.pointing_accuracy([True, False, True, True]) == pytest.approx(0.75)
    # per sample: (hallucinated, judged) distinct AUs
    h, j = [1, 0, 2, 0], [3, 2, 2, 0]
    assert gr.hallucinated_au_rate(h, j) == pytest.approx(3 / 7)
    assert gr.hallucinated_sample_rate(h, j) == pytest.approx(2 / 3)  # the sample with nothing judged is out
    assert gr.au_recall([1, 2, 0], [2, 2, 1]) == pytest.approx(3 / 5)
    assert gr.au_f1([1.0, None, 0.5, float("nan"), 0.0]) == pytest.approx(0.5)


def test_empty_denominators_are_nan_not_zero():
    assert math.isnan(gr.au_box_iou([]))
    assert math.isnan(gr.grounding_precision([]))
    assert math.isnan(gr.pointing_accuracy([]))
    assert math.isnan(gr.hallucinated_au_rate([0], [0]))
    assert math.isnan(gr.hallucinated_sample_rate([0], [0]))
    assert math.isnan(gr.au_recall([0], [0]))
    assert math.isnan(gr.au_f1([None]))


def test_grounding_from_sums_is_batched():
    sums = {name: np.array([4.0, 0.0]) for name in gr.SUM_FIELDS}
    sums["iou_sum"] = np.array([2.0, 0.0])
    out = gr.grounding_from_sums(sums)
    assert out["au_box_iou"][0] == pytest.approx(0.5) and np.isnan(out["au_box_iou"][1])
    assert set(out) == set(gr.GROUNDING_DENOMINATORS)
