"""Versioned records: JSON round trips and the validation that keeps bad data out."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from tag_bench.schema import (
    SCHEMA_VERSION,
    AUReference,
    AUState,
    ClaimScore,
    Evidence,
    Generation,
    MetricValue,
    ModelInfo,
    Parsed,
    RunManifest,
    Sample,
    ScoredSample,
    TaskInfo,
)

SAMPLE = Sample(
    id="affectnet/val/637/c7fd", dataset="affectnet", split="val", image="/data/a.jpg", crop=[10.0, 12.0, 90.0, 99.5],
    label="contempt", native_label=7, width=80, height=87,
    meta={"valence": -0.25, "arousal": None, "landmarks68": [[1.5, 2.0]] * 68},
)  # fmt: skip
REFERENCE = AUReference(
    reference_id="mediapipe-geometric-tight@1", detector="mediapipe-geometric", version="1",
    params={"regions": "tight"}, threshold=0.5, status="ok", sample_id=SAMPLE.id, image_sha256="ab" * 32,
    image_size=(80, 87), face_box=[5.0, 6.0, 75.0, 80.0], landmarks=[(1.0, 2.0)] * 68,
    aus={"AU12": AUState(score=0.8, active=True, box=[20, 50, 60, 60], boxes=[[20, 50, 30, 60], [50, 50, 60, 60]]),
         "AU6": AUState(box=[10, 30, 70, 45])},
)  # fmt: skip
PARSED = Parsed(
    label="happiness", status="ok", raw_label=" happy ", aus=["AU6", "AU12"], frame="norm1000",
    evidence=[Evidence(au="AU12", box=[20.0, 50.0, 60.0, 60.0], raw_box=[250, 575, 750, 690], box_status="ok", step=0),
              Evidence(au="AU6", box_status="none", step=1),
              Evidence(au=None, raw_box=[1, 2, 3], box_status="malformed", step=2)],
    notes=["one malformed box"],
)  # fmt: skip
RECORDS = [
    SAMPLE,
    REFERENCE,
    Generation(
        sample_id=SAMPLE.id,
        text="<answer>happy</answer>",
        finish_reason="stop",
        input_tokens=300,
        output_tokens=9,
        latency_s=0.4,
        image_sha256="ab" * 32,
        image_size=(80, 87),
        input_size=(84, 84),
        frame="pixel-resized",
        cached=True,
        cache_key="k",
    ),
    Generation(sample_id="x", status="error", error="HTTP 500 after 6 retries"),
    PARSED,
    ScoredSample(
        sample_id=SAMPLE.id,
        label="contempt",
        pred="happiness",
        status="ok",
        correct=False,
        parsed=PARSED,
        au_reference_id=REFERENCE.reference_id,
        reference_status="ok",
        claims=[
            ClaimScore(
                au="AU12",
                box=[20.0, 50.0, 60.0, 60.0],
                iou=1.0,
                center_inside=True,
                reference_active=True,
                hallucinated=False,
            )
        ],
        cited_aus=["AU6", "AU12"],
        active_aus=["AU12"],
        hallucinated_aus=[],
        evidence_consistent=True,
        grounded_correct=False,
    ),
    RunManifest(
        run_id="r",
        created="2026-11-22T00:00:00+00:00",
        task=TaskInfo(
            name="affectnet8_val",
            version=1,
            dataset="affectnet",
            split="val",
            protocol="affectnet-8",
            classes=["neutral", "contempt"],
            prompt="tag_grounded",
            n_samples=1,
        ),
        model=ModelInfo(adapter="hf", args={"pretrained": "x"}, fingerprint="f", frame="pixel-resized"),
        prompt_id="tag_grounded",
        prompt_hash="h",
        gen_kwargs={"max_new_tokens": 512},
        seeds={"seed": 0},
        packages={"numpy": "2"},
        status="complete",
    ),
    MetricValue(value=0.5, ci_low=0.4, ci_high=0.6, n=10),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_json_round_trip(record):
    text = record.model_dump_json()
    again = type(record).model_validate_json(text)
    assert again == record
    assert json.loads(text).get("schema_version", SCHEMA_VERSION) == SCHEMA_VERSION


def test_sample_label_must_be_canonical():
    with pytest.raises(ValidationError, match="label must be one of"):
        Sample(id="a", dataset="d", split="s", image="x", label="happy", native_label=4)


def test_unknown_fields_are_rejected():
    with pytest.raises(ValidationError):
        Generation.model_validate({"sample_id": "a", "txt": "typo"})


@pytest.mark.parametrize(
    "box", [[1, 2, 3], [1, 2, 3, float("nan")], [0, 0, float("inf"), 1], [1, 2, 3, 4, 5]]
)
def test_evidence_boxes_are_four_finite_numbers(box):
    with pytest.raises(ValidationError):
        Evidence(au="AU1", box=box)


def test_reference_active_set():
    assert REFERENCE.active_aus() == {"AU12"}
