"""Per-sample scoring: a pure function of (sample, generation, parsed answer, AU reference).

Status: ``missing`` (no generation), ``error`` (the call or the image failed), else the parser's
status; an ``ok`` parse whose label is not a class of the task becomes ``invalid_label``. Every
sample is scored and kept; only ``ok`` samples carry a prediction.

Grounding uses whatever evidence was parsed, whether or not the label parsed. Without a usable AU
reference (none given, or its status ``no_face`` / ``error``) the reference-dependent fields stay None /
empty and the record keeps the reference status; ``evidence_consistent`` needs no reference and is
always filled where applicable. See :mod:`tag_bench.metrics.grounding` for
how unjudgeable AUs are treated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tag_bench._construct import constructor
from tag_bench.facs import au_sort_key
from tag_bench.metrics.grounding import (
    GROUNDED_IOU,
    au_active,
    au_region,
    claim_iou,
    claim_pointing,
    evidence_consistency,
    normalise_au,
    reference_states,
)
from tag_bench.schema import (
    AUReference,
    AUState,
    ClaimScore,
    Generation,
    Parsed,
    Sample,
    SampleStatus,
    SampleUsage,
    ScoredSample,
)

_claim = constructor(ClaimScore)
_scored = constructor(ScoredSample)
_usage_record = constructor(SampleUsage)


class ScoreParts(NamedTuple):
    """Every value :func:`score_sample` computes, before any record is built."""

    status: SampleStatus
    pred: str | None
    error: str | None
    cited: list[str]
    active_aus: list[str]
    #: (au, box, iou, centre inside, reference active, hallucinated) of each claim
    claims: list[tuple[str, list[float] | None, float | None, bool | None, bool | None, bool | None]]
    hallucinated: list[str]
    correct: bool
    grounded: bool | None
    consistent: bool | None


def score_parts(
    sample: Sample,
    generation: Generation | None,
    parsed: Parsed | None,
    reference: AUReference | None,
    classes: Sequence[str],
) -> ScoreParts:
    """The values of :func:`score_sample` (its one computation; records are built from them)."""
    if generation is not None and generation.sample_id != sample.id:
        raise ValueError(f"generation for sample {generation.sample_id!r} passed with sample {sample.id!r}")
    status, pred, error = _status(generation, parsed, classes, sample.id)
    used = parsed if status not in ("missing", "error") else None

    cited = _cited_aus(used)
    # Only an ok reference can judge: without one (no face found, detector failed, no record) the
    # sample's claims stay unjudged, and the sample is left out of every reference-dependent metric.
    usable = reference if reference is not None and reference.status == "ok" else None
    states, active_aus = _reference_view(usable)
    threshold = usable.threshold if usable is not None else None
    judgement = {au: au_active(states.get(au), threshold) for au in cited} if usable is not None else {}

    claims = []
    box_hit = False
    for ev in used.evidence if used is not None else []:
        if ev.au is None:
            continue
        au = normalise_au(ev.au)
        iou_value = hit = None
        if usable is not None and ev.box is not None:
            region = au_region(states.get(au))
            iou_value, hit = claim_iou(ev.box, region), claim_pointing(ev.box, region)
            box_hit = box_hit or iou_value >= GROUNDED_IOU
        active = judgement.get(au)
        claims.append((au, ev.box, iou_value, hit, active, None if active is None else not active))

    correct = status == "ok" and pred == sample.label
    hallucinated = [au for au in cited if judgement.get(au) is False]
    grounded = None
    if usable is not None:
        grounded = correct and box_hit and not hallucinated
    consistent = evidence_consistency(pred, cited, classes)
    return ScoreParts(
        status, pred, error, cited, active_aus, claims, hallucinated, correct, grounded, consistent
    )


def score_sample(
    sample: Sample,
    generation: Generation | None,
    parsed: Parsed | None,
    reference: AUReference | None,
    classes: Sequence[str],
) -> ScoredSample:
    """Score one sample. ``parsed`` must be given for a generation with status ok.

    Raises ValueError when the records do not belong together (generation of another sample, an ok
    generation without a parse): these are caller bugs, not model failures.
    """
    p = score_parts(sample, generation, parsed, reference, classes)
    claims = [  # built from checked values: no second validation on the hot path
        _claim(au=au, box=box, iou=iou, center_inside=hit, reference_active=active, hallucinated=halluc)
        for au, box, iou, hit, active, halluc in p.claims
    ]
    return _scored(  # every field computed here, `correct` included
        sample_id=sample.id,
        label=sample.label,
        pred=p.pred,
        status=p.status,
        correct=p.correct,
        error=p.error,
        parsed=parsed,
        au_reference_id=reference.reference_id if reference is not None else None,
        reference_status=reference.status if reference is not None else "missing",
        claims=claims,
        cited_aus=p.cited,
        active_aus=p.active_aus,
        hallucinated_aus=p.hallucinated,
        evidence_consistent=p.consistent,
        grounded_correct=p.grounded,
        usage=_usage(generation),
    )


def usage_values(g: Generation | None) -> tuple[float | None, int | None, int | None, int | None] | None:
    """(latency_s, input_tokens, output_tokens, response_chars) of an ok generation, else None."""
    if g is None or g.status != "ok":
        return None
    return g.latency_s, g.input_tokens, g.output_tokens, None if g.text is None else len(g.text)


def _usage(g: Generation | None) -> SampleUsage | None:
    """The recorded cost of an ok generation (a failed call has no answer to cost)."""
    values = usage_values(g)
    if values is None:
        return None
    latency, input_tokens, output_tokens, chars = values
    return _usage_record(
        latency_s=latency, input_tokens=input_tokens, output_tokens=output_tokens, response_chars=chars
    )


# Many samples share one reference object (a run scores each image once, an image may repeat): its
# normalised states and active set are computed once per object. Entries hold the object itself, so
# an id is never reused while cached.
_VIEWS: dict[int, tuple[AUReference, dict[str, AUState], list[str]]] = {}


def _reference_view(reference: AUReference | None) -> tuple[dict[str, AUState], list[str]]:
    if reference is None:
        return {}, []
    hit = _VIEWS.get(id(reference))
    if hit is not None and hit[0] is reference:
        return hit[1], hit[2]
    states = reference_states(reference)
    threshold = reference.threshold
    active = sorted((au for au, st in states.items() if au_active(st, threshold)), key=_order)
    if len(_VIEWS) > 4096:
        _VIEWS.clear()
    _VIEWS[id(reference)] = (reference, states, active)
    return states, active


def _status(
    generation: Generation | None, parsed: Parsed | None, classes: Sequence[str], sample_id: str
) -> tuple[SampleStatus, str | None, str | None]:
    """(status, prediction, error message)."""
    if generation is None:
        return "missing", None, "no generation for this sample"
    if generation.status == "error":
        return "error", None, generation.error or "generation failed (no message)"
    if parsed is None:
        raise ValueError(f"sample {sample_id!r}: an ok generation must be parsed before scoring")
    status, pred = parsed_status(parsed, classes)
    error = None
    if parsed.status == "ok" and status != "ok":  # the parser's ok, overruled here: say why
        error = (
            "parser returned status ok without a label"
            if parsed.label is None
            else f"label {parsed.label!r} is not one of the task's classes"
        )
    return status, pred, error


def parsed_status(parsed: Parsed, classes: Sequence[str]) -> tuple[SampleStatus, str | None]:
    """(status, prediction) of the parse of an ok generation: an ok parse whose label is missing or
    not a class of the task is ``no_answer`` / ``invalid_label``."""
    if parsed.status != "ok":
        return parsed.status, None
    if parsed.label is None:
        return "no_answer", None
    if parsed.label not in classes:
        return "invalid_label", None
    return "ok", parsed.label


def _cited_aus(parsed: Parsed | None) -> list[str]:
    """Distinct cited AUs in first-mention order: the parser's list, then AUs only in evidence."""
    if parsed is None:
        return []
    seen: dict[str, None] = {}
    for au in parsed.aus:
        seen[normalise_au(au)] = None
    for ev in parsed.evidence:
        if ev.au is not None:
            seen[normalise_au(ev.au)] = None
    return list(seen)


def _order(au: str) -> tuple[int, str]:
    return (au_sort_key(au), au)
