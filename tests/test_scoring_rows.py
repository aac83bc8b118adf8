"""Scoring without a sink fills the metric arrays from the scored values, without building records:
the arrays must be exactly those ``build_arrays`` makes of the records ``score_sample`` writes."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tag_bench.schema import CANONICAL_EMOTIONS, COMMON7, AUReference, AUState, Generation, Sample
from tag_bench.scoring.aggregate import build_arrays
from tag_bench.scoring.run import ReferenceSet, _score_rows, _scored, score_arrays
from tag_bench.testing.corpus import mixed_corpus

AUS = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26")


def _state(rng: random.Random, box: list[float]) -> AUState:
    """An AU state of every kind the scorer meets: flagged, scored only, unjudgeable, per-side boxes."""
    kind = rng.random()
    score = rng.random()
    if kind < 0.6:
        return AUState(score=score, active=score >= 0.5, box=box)
    if kind < 0.75:
        return AUState(score=score, box=box)  # judged by the threshold
    if kind < 0.85:
        return AUState(box=box)  # a region without an activation: unjudged
    half = (box[0] + box[2]) / 2
    return AUState(
        score=score,
        active=score >= 0.5,
        boxes=[[box[0], box[1], half, box[3]], [half, box[1], box[2], box[3]]],
    )


def _inputs(n: int, seed: int, classes: list[str]):
    rng = random.Random(seed)
    samples, gens, refs = [], {}, {}
    for i, r in enumerate(mixed_corpus(n, seed=seed)):
        sid = f"s{i:05d}"
        gold = r.label if r.label in classes and rng.random() < 0.6 else rng.choice(classes)
        samples.append(Sample(id=sid, dataset="d", split="test", image="", label=gold, native_label=gold))
        u = rng.random()
        if u < 0.03:
            continue  # no generation
        if u < 0.06:
            gens[sid] = Generation(sample_id=sid, status="error", error="connection reset")
        else:
            gens[sid] = Generation(
                sample_id=sid, text=r.text, frame=r.frame, image_size=r.image_size, input_size=r.input_size,
                finish_reason=r.finish_reason, latency_s=rng.choice([None, rng.random()]),
                input_tokens=rng.choice([None, rng.randrange(50, 500)]), output_tokens=rng.choice([None, 40]),
            )  # fmt: skip
        v = rng.random()
        if v < 0.05:
            continue  # no record in the reference
        w, h = r.image_size
        if v < 0.1:
            refs[sid] = AUReference(reference_id="synthetic@1", detector="synthetic", version="1",
                                    status="no_face", sample_id=sid)  # fmt: skip
            continue
        aus = {}
        for au, (x1, y1, x2, y2) in r.evidence:
            d = rng.uniform(-0.3, 0.3) * (x2 - x1)
            aus[au] = _state(rng, [x1 + d, y1 + d, x2 + d, y2 + d])
        for au in AUS:
            if au not in aus and rng.random() < 0.7:
                x, y = rng.uniform(0, 0.7 * w), rng.uniform(0, 0.7 * h)
                aus[au] = _state(rng, [x, y, x + 0.2 * w, y + 0.2 * h])
        refs[sid] = AUReference(reference_id="synthetic@1", detector="synthetic", version="1", status="ok",
                                threshold=rng.choice([0.5, None]), sample_id=sid, aus=aus)  # fmt: skip
    return samples, gens, ReferenceSet("synthetic@1", refs)


def _assert_same(got, want) -> None:
    assert got.sample_ids == want.sample_ids and got.classes == want.classes
    assert got.au_reference == want.au_reference
    for name in ("gold", "pred", "status", "rows"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name
    assert got.reference_status_counts == want.reference_status_counts
    assert got.note_counts == want.note_counts


@pytest.mark.parametrize("classes", [list(COMMON7), list(CANONICAL_EMOTIONS)])
def test_rows_from_the_scored_values_equal_the_rows_of_the_records(classes):
    samples, gens, refs = _inputs(3000, seed=5, classes=classes)
    for references in (None, refs):
        got = _score_rows(samples, gens, classes, references)
        ref_id = references.reference_id if references is not None else None
        want = build_arrays(_scored(samples, gens, classes, references), classes, au_reference_id=ref_id)
        _assert_same(got, want)
    statuses = set(want.status.tolist())
    assert len(statuses) >= 5, statuses  # ok, error, missing, parse failures, invalid labels all met
    covered = want.column("covered").sum()
    assert 0 < covered < len(samples) and want.column("box_claims").sum() > 1000
    assert want.column("hallucinated_aus").sum() > 0 and want.column("unjudged_aus").sum() > 0


def test_score_arrays_without_a_sink_equals_the_records_path_in_workers_too():
    classes = list(COMMON7)
    samples, gens, refs = _inputs(1200, seed=9, classes=classes)
    lines: list[str] = []
    with_records = score_arrays(samples, gens, classes, refs, sink=lines.append, workers=2)
    assert len(lines) == len(samples)
    _assert_same(score_arrays(samples, gens, classes, refs, workers=2), with_records)
