"""score_sample: statuses, claims against the AU reference, hallucination, consistency, grounding."""

from __future__ import annotations

import pytest

from tag_bench.schema import COMMON7, AUReference, AUState, Evidence, Generation, Parsed, Sample
from tag_bench.scoring.score import score_sample

CLASSES = list(COMMON7)


def sample(label: str = "happiness", sid: str = "s1") -> Sample:
    return Sample(id=sid, dataset="demo", split="test", image=f"{sid}.jpg", label=label, native_label=label)


def gen(sid: str = "s1", **kw) -> Generation:
    return Generation(sample_id=sid, text="...", **kw)


def reference(status: str = "ok") -> AUReference:
    aus = {
        "AU6": AUState(score=0.9, active=True, box=[10, 10, 30, 30]),
        "AU12": AUState(score=0.8, active=True, box=[20, 40, 60, 60]),
        "AU4": AUState(score=0.1, active=False, box=[10, 0, 50, 10]),
        # no flag: judged from score >= threshold; region only as per-side boxes
        "AU15": AUState(score=0.7, boxes=[[0, 40, 10, 50], [70, 40, 80, 50]]),
        # a region but no activation at all: cannot be judged
        "AU01": AUState(box=[0, 0, 100, 20]),
    }
    return AUReference(
        reference_id="test-ref@1",
        detector="test-ref",
        version="1",
        threshold=0.5,
        status=status,
        aus=aus if status == "ok" else {},
    )


def parsed(label="happiness", status="ok", aus=(), evidence=()) -> Parsed:
    return Parsed(label=label, status=status, aus=list(aus), evidence=list(evidence))


def test_claims_are_scored_against_the_claimed_aus_region():
    p = parsed(
        aus=["AU06", "AU12", "AU4", "AU9", "AU15"],
        evidence=[
            Evidence(au="AU06", box=[10, 10, 30, 30]),  # exact: IoU 1
            Evidence(au="AU12", box=[20, 40, 40, 60]),  # half of the region: IoU 400/800
            Evidence(au="AU4"),  # no box; reference says inactive
            Evidence(au="AU9", box=[0, 0, 10, 10]),  # AU without a reference region: IoU 0, counted
            Evidence(au="AU15", box=[0, 40, 40, 50]),  # region = union of per-side boxes [0,40,80,50]
            Evidence(box=[1, 1, 2, 2]),  # a box without an AU is not a claim
        ],
    )
    s = score_sample(sample(), gen(), p, reference(), CLASSES)
    assert s.status == "ok" and s.pred == "happiness" and s.correct
    assert [c.au for c in s.claims] == ["AU6", "AU12", "AU4", "AU9", "AU15"]
    assert [c.iou for c in s.claims] == pytest.approx([1.0, 0.5, None, 0.0, 0.5])
    assert [c.center_inside for c in s.claims] == [True, True, None, False, True]
    assert [c.reference_active for c in s.claims] == [True, True, False, None, True]
    assert [c.hallucinated for c in s.claims] == [False, False, True, None, False]
    assert s.cited_aus == ["AU6", "AU12", "AU4", "AU9", "AU15"]
    assert s.active_aus == ["AU6", "AU12", "AU15"]
    assert s.hallucinated_aus == ["AU4"]
    assert s.au_reference_id == "test-ref@1" and s.reference_status == "ok"
    assert s.grounded_correct is False  # right label and a box with IoU >= 0.5, but AU4 is hallucinated


def test_grounded_correct_needs_label_box_and_no_hallucination():
    good = parsed(aus=["AU6", "AU12"], evidence=[Evidence(au="AU12", box=[20, 40, 40, 60])])  # IoU 0.5
    assert score_sample(sample(), gen(), good, reference(), CLASSES).grounded_correct is True
    # an unjudgeable AU (no activation in the reference) is not a hallucination
    with_unjudged = parsed(aus=["AU12", "AU1"], evidence=[Evidence(au="AU12", box=[20, 40, 40, 60])])
    s = score_sample(sample(), gen(), with_unjudged, reference(), CLASSES)
    assert s.grounded_correct is True and s.hallucinated_aus == []
    assert s.claims[0].hallucinated is False
    # wrong label
    wrong = parsed(label="sadness", aus=["AU12"], evidence=[Evidence(au="AU12", box=[20, 40, 40, 60])])
    assert score_sample(sample(), gen(), wrong, reference(), CLASSES).grounded_correct is False
    # box below 0.5: [20,40,39,60] has IoU 380/800
    loose = parsed(aus=["AU12"], evidence=[Evidence(au="AU12", box=[20, 40, 39, 60])])
    s = score_sample(sample(), gen(), loose, reference(), CLASSES)
    assert s.claims[0].iou == pytest.approx(0.475) and s.grounded_correct is False
    # no box at all
    nobox = parsed(aus=["AU6", "AU12"], evidence=[Evidence(au="AU6")])
    assert score_sample(sample(), gen(), nobox, reference(), CLASSES).grounded_correct is False


@pytest.mark.parametrize("status", ["no_face", "error"])
def test_an_unusable_reference_judges_nothing(status):
    # no face found or the detector failed: the claims stay unjudged (not IoU 0), the status is kept
    p = parsed(aus=["AU12"], evidence=[Evidence(au="AU12", box=[20, 40, 60, 60])])
    s = score_sample(sample(), gen(), p, reference(status), CLASSES)
    c = s.claims[0]
    assert (c.iou, c.center_inside, c.reference_active, c.hallucinated) == (None, None, None, None)
    assert s.active_aus == [] and s.hallucinated_aus == []
    assert s.reference_status == status and s.grounded_correct is None
    assert s.au_reference_id == reference(status).reference_id


def test_without_reference_grounding_fields_are_none():
    p = parsed(aus=["AU6", "AU12"], evidence=[Evidence(au="AU12", box=[20, 40, 60, 60])])
    s = score_sample(sample(), gen(), p, None, CLASSES)
    assert s.au_reference_id is None and s.reference_status == "missing"
    c = s.claims[0]
    assert (c.iou, c.center_inside, c.reference_active, c.hallucinated) == (None, None, None, None)
    assert s.active_aus == [] and s.hallucinated_aus == [] and s.grounded_correct is None
    assert s.cited_aus == ["AU6", "AU12"]
    assert s.evidence_consistent is True  # needs only the EMFACS prototypes


def test_missing_and_error_generations_are_failures_not_dropped():
    s = score_sample(sample(), None, None, reference(), CLASSES)
    assert s.status == "missing" and s.pred is None and s.correct is False
    assert s.claims == [] and s.evidence_consistent is None and s.grounded_correct is False
    assert s.active_aus == ["AU6", "AU12", "AU15"]  # the reference still counts for au_recall

    g = Generation(sample_id="s1", status="error", error="image unreadable: truncated JPEG")
    p = parsed(aus=["AU12"], evidence=[Evidence(au="AU12", box=[20, 40, 60, 60])])
    s = score_sample(sample(), g, p, reference(), CLASSES)
    assert s.status == "error" and s.error == "image unreadable: truncated JPEG"
    assert s.pred is None and not s.correct and s.claims == [] and s.cited_aus == []


@pytest.mark.parametrize("status", ["no_answer", "invalid_label", "ambiguous", "refusal", "truncated"])
def test_parse_failures_keep_their_status_and_evidence(status):
    p = parsed(label=None, status=status, aus=["AU12"], evidence=[Evidence(au="AU12", box=[20, 40, 60, 60])])
    s = score_sample(sample(), gen(), p, reference(), CLASSES)
    assert s.status == status and s.pred is None and s.correct is False
    assert s.claims[0].iou == pytest.approx(1.0)  # evidence is still graded
    assert s.evidence_consistent is None  # no label to be consistent with
    assert s.grounded_correct is False


def test_ok_parse_outside_the_task_classes_is_invalid_label():
    s = score_sample(sample(), gen(), parsed(label="contempt"), None, CLASSES)
    assert s.status == "invalid_label" and s.pred is None and "contempt" in s.error
    s = score_sample(sample(), gen(), parsed(label=None, status="ok"), None, CLASSES)
    assert s.status == "no_answer"


def test_caller_errors_are_clear():
    with pytest.raises(ValueError, match="generation for sample 'other'"):
        score_sample(sample(), gen("other"), parsed(), None, CLASSES)
    with pytest.raises(ValueError, match="must be parsed"):
        score_sample(sample(), gen(), None, None, CLASSES)


@pytest.mark.parametrize(
    "pred,aus,classes,expected",
    [
        ("happiness", ["AU6", "AU12"], CLASSES, True),
        ("sadness", ["AU6", "AU12"], CLASSES, False),
        ("sadness", ["AU1", "AU4", "AU15"], CLASSES, True),
        ("neutral", ["AU25"], CLASSES, True),  # a non-expressive AU only
        ("neutral", ["AU12"], CLASSES, False),
        ("happiness", ["AU25"], CLASSES, False),  # neutral fits AU25-only better
        ("happiness", ["AU27"], CLASSES, False),  # an AU in no prototype supports nothing
        ("happiness", ["AU12"], [*CLASSES, "contempt"], True),  # tie with contempt: both consistent
        ("contempt", ["AU12"], [*CLASSES, "contempt"], True),
        ("happiness", [], CLASSES, None),  # no cited AU: not applicable
    ],
)
def test_evidence_consistency(pred, aus, classes, expected):
    s = score_sample(sample(pred), gen(), parsed(label=pred, aus=aus), None, classes)
    assert s.evidence_consistent is expected


@pytest.mark.parametrize("status", ["ok", "no_face", "error"])
def test_the_scorers_reference_view_is_the_grounding_definition(status):
    """The scorer's memoised view of a reference equals ``reference_states`` and the active set that
    ``au_active`` defines, spelling variants, unjudgeable and threshold-decided AUs included."""
    from tag_bench.facs import au_sort_key
    from tag_bench.metrics.grounding import au_active, reference_states
    from tag_bench.scoring.score import _reference_view

    aus = {"AU04": AUState(active=True), "au 12": AUState(score=0.7), "AU6": AUState(score=0.2),
           "AU25": AUState(), "AU1": AUState(active=False, score=0.9), "Action Unit 2": AUState(active=True),
           "lip corner": AUState(active=True)}  # fmt: skip
    ref = AUReference(reference_id="r@1", detector="r", version="1", status=status, threshold=0.5, aus=aus)
    states, active = _reference_view(ref)
    assert states == reference_states(ref)
    want = [a for a, st in reference_states(ref).items() if au_active(st, 0.5)]
    assert active == sorted(want, key=lambda a: (au_sort_key(a), a))
    assert (active == ["AU2", "AU4", "AU12", "lip corner"]) == (status == "ok")
