"""The plan of the intervene stage: which samples are tested, and each one's placements per condition.

A sample is **tested** when its original answer parsed to a label of the task and it cites at least one
usable box (presented-image pixels), and every standard condition can be placed on it (a control and a
habitual placement exist). Every other sample is counted with its reason and stays in the coverage's
denominator. The plan is a pure function of the run's scores, its AU references and the sample ids
(seeded), so it is written once (``interventions/plan.jsonl``) and checked on every later invocation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from tag_bench._hashing import sha256_hex
from tag_bench.images import ImageLoadError, image_sha256, presented_size
from tag_bench.intervene.placement import SampleBoxes, place_all
from tag_bench.metrics.grounding import au_region, normalise_au, reference_states
from tag_bench.schema import AUReference, Generation, InterventionPlan, Sample, ScoredSample

#: Bump when placements change for the same inputs (part of the comparability key of every set).
INTERVENE_VERSION = 1


def _cited(s: ScoredSample) -> list[tuple[str | None, list[float]]]:
    if s.parsed is None:
        return []
    return [
        (normalise_au(ev.au) if ev.au else None, list(ev.box))
        for ev in s.parsed.evidence
        if ev.box is not None
    ]


def untested_reason(s: ScoredSample) -> str | None:
    """Why a scored sample cannot be tested at all (before any placement), or None."""
    if s.status in ("missing", "error"):
        return f"the original call gave no answer (status {s.status})"
    if s.status != "ok" or s.pred is None:
        return f"the original answer did not parse to a label of the task (status {s.status})"
    if not _cited(s):
        return "the original answer cites no usable box"
    return None


def _size(sample: Sample, generation: Generation | None) -> tuple[int, int]:
    if generation is not None and generation.image_size is not None:
        return (int(generation.image_size[0]), int(generation.image_size[1]))
    return presented_size(sample)


def _face(ref: AUReference | None, size: tuple[int, int]) -> tuple[list[float], str]:
    if ref is not None and ref.status == "ok" and ref.face_box is not None:
        x0, y0, x1, y1 = ref.face_box
        x0, y0 = max(0.0, x0), max(0.0, y0)
        x1, y1 = min(float(size[0]), x1), min(float(size[1]), y1)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            return [x0, y0, x1, y1], "reference"
    return [0.0, 0.0, float(size[0]), float(size[1])], "image"


def make_plan(
    samples: Sequence[Sample],
    scored: Mapping[str, ScoredSample],
    generations: Mapping[str, Generation],
    references: Mapping[str, AUReference] | None,
) -> list[InterventionPlan]:
    """One plan per indexed sample, in index order (see the module docstring)."""
    boxes: dict[str, SampleBoxes] = {}
    plans: dict[str, InterventionPlan] = {}
    for sample in samples:
        s = scored.get(sample.id)
        if s is None:
            plans[sample.id] = InterventionPlan(
                sample_id=sample.id, tested=False, reason="the sample was not scored"
            )
            continue
        reason = untested_reason(s)
        g = generations.get(sample.id)
        base = InterventionPlan(
            sample_id=sample.id, tested=False, reason=reason, original=s.pred, correct=s.correct
        )
        if reason is not None:
            plans[sample.id] = base
            continue
        try:
            size = _size(sample, g)
            sha = g.image_sha256 if g is not None and g.image_sha256 else image_sha256(sample)
        except (ImageLoadError, OSError) as e:
            plans[sample.id] = base.model_copy(update={"reason": f"the image cannot be read: {e}"})
            continue
        ref = references.get(sample.id) if references is not None else None
        face, face_source = _face(ref, size)
        regions = {au: r for au, st in reference_states(ref).items() if (r := au_region(st)) is not None}
        parsed_aus = {normalise_au(a) for a in (s.parsed.aus if s.parsed is not None else [])}
        cited = _cited(s)
        boxes[sample.id] = SampleBoxes(
            sample_id=sample.id,
            size=size,
            cited=cited,
            cited_aus=frozenset(parsed_aus | {au for au, _ in cited if au}),
            face=face,
            regions=regions,
        )
        plans[sample.id] = base.model_copy(
            update={"image_sha256": sha, "image_size": size, "face_box": face, "face_source": face_source}
        )
    donors = [boxes[sid] for sid in sorted(boxes)]
    for sid, sb in boxes.items():
        placements, reason = place_all(sb, donors, INTERVENE_VERSION)
        plans[sid] = plans[sid].model_copy(
            update={"tested": reason is None, "reason": reason, "placements": placements}
        )
    return [plans[s.id] for s in samples]


def plan_digest(plans: Sequence[InterventionPlan]) -> str:
    return sha256_hex("\n".join(p.model_dump_json() for p in plans), 16)


def coverage_reasons(plans: Sequence[InterventionPlan]) -> dict[str, int]:
    """Untested samples by reason (the reason's text up to its first colon), most frequent first."""
    counts = Counter((p.reason or "untested").split(":")[0] for p in plans if not p.tested)
    return dict(counts.most_common())
