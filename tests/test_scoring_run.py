"""The score stage over many samples: streaming, worker processes, identical results either way."""

from __future__ import annotations

import json
import random

from tag_bench.schema import CANONICAL_EMOTIONS, AUReference, AUState, Generation, Sample
from tag_bench.scoring import compute_metrics
from tag_bench.scoring.aggregate import metrics_from_arrays
from tag_bench.scoring.run import ReferenceSet, _scored, score_arrays
from tag_bench.testing.corpus import mixed_corpus

CLASSES = list(CANONICAL_EMOTIONS)


def _synthetic(n: int):
    rng = random.Random(5)
    samples, gens, refs = [], {}, {}
    for i, r in enumerate(mixed_corpus(n, seed=5)):
        sid = f"s{i}"
        samples.append(Sample(id=sid, dataset="x", split="t", image="/dev/null", native_label=0,
                              label=r.label if r.label in CLASSES and rng.random() < 0.5 else rng.choice(CLASSES)))  # fmt: skip
        if i % 17 == 3:
            continue  # missing generation
        gens[sid] = Generation(sample_id=sid, text=r.text, frame=r.frame, image_size=r.image_size,
                               input_size=r.input_size, finish_reason=r.finish_reason)  # fmt: skip
        w, h = r.image_size
        if i % 13 == 0:
            continue  # no reference for this one: scored against an error record
        refs[sid] = AUReference(
            reference_id="syn@1", detector="syn", version="1", status="ok" if i % 11 else "no_face", threshold=0.5,
            aus={au: AUState(score=rng.random(), box=[0.1 * w, 0.2 * h, 0.6 * w, 0.7 * h])
                 for au in ("AU1", "AU4", "AU6", "AU12", "AU25")},
        )  # fmt: skip
    return samples, gens, ReferenceSet("syn@1", refs)


def test_streamed_arrays_equal_compute_metrics_on_records():
    samples, gens, refs = _synthetic(400)
    scored = list(_scored(samples, gens, CLASSES, refs))
    expected = compute_metrics(scored, CLASSES, au_reference_id="syn@1", n_resamples=200, seed=3)
    lines: list[str] = []
    arrays = score_arrays(samples, gens, CLASSES, refs, sink=lines.append, workers=1)
    got = metrics_from_arrays(arrays, n_resamples=200, seed=3)
    assert got.metrics == expected.metrics
    assert [json.loads(x)["sample_id"] for x in lines] == [s.id for s in samples]
    statuses = {json.loads(x)["status"] for x in lines}
    assert {"missing", "ok", "refusal"} <= statuses


def test_worker_processes_give_identical_records_and_metrics():
    samples, gens, refs = _synthetic(300)
    one: list[str] = []
    two: list[str] = []
    a = score_arrays(samples, gens, CLASSES, refs, sink=one.append, workers=1)
    b = score_arrays(samples, gens, CLASSES, refs, sink=two.append, workers=2)
    assert one == two
    assert b.sample_ids == a.sample_ids
    ma = metrics_from_arrays(a, n_resamples=200, seed=0)
    mb = metrics_from_arrays(b, n_resamples=200, seed=0)
    assert ma.metrics == mb.metrics and ma.reference_status_counts == mb.reference_status_counts
