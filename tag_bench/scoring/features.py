"""The per-sample feature row: the one place where a scored sample becomes additive quantities.

Every metric of the metric table is a function of column sums of these rows (plus the confusion
cell of each sample), so the point estimate sums with weight 1 and each bootstrap resample sums with
its multiplicities; the resampling unit is the sample, so claim-level metrics are a cluster bootstrap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from tag_bench.metrics.grounding import GROUNDED_IOU, au_set_f1
from tag_bench.schema import INTERVENTION_CONDITIONS, InterventionOutcome, Parsed, ScoredSample

#: Conditions whose answer log-probability drop is reported (``none`` shows the same image: no drop).
LOGPROB_CONDITIONS: tuple[str, ...] = ("cited", "control", "habitual", "keep")

#: Statuses of a reply that could not be read as one answer.
PARSE_FAILURES = frozenset({"no_answer", "ambiguous", "refusal", "truncated"})

#: Names of the per-sample quantities, in column order of the feature matrix.
SUM_FIELDS: tuple[str, ...] = (
    "samples",  # every sample
    "parse_failed",  # status in PARSE_FAILURES
    "invalid_label",  # an answer outside the task's classes
    "errored",  # the call or the image failed
    "missing",  # no generation
    "has_box",  # >= 1 parsed box
    "cited_boxes",  # boxes the reply wrote, usable or not
    "unusable_boxes",  # of those, boxes that could not be used (non-finite, malformed, outside, ...)
    "consistent",
    "consistency_samples",  # a parsed label and >= 1 cited AU
    "referenced",  # a record of the run's AU reference (any status)
    "covered",  # a usable (status ok) record of the run's AU reference
    # counted only on covered samples
    "correct_covered",
    "box_claims",
    "iou_sum",
    "iou_ge_0.5",
    "iou_ge_0.3",
    "center_inside",
    "judged_aus",  # distinct cited AUs the reference can judge
    "hallucinated_aus",
    "unjudged_aus",
    "cited_aus_covered",  # distinct cited AUs (judged + unjudged)
    "samples_judged",  # samples with >= 1 judged cited AU
    "samples_hallucinated",
    "active_aus",
    "active_cited",
    "f1_sum",
    "f1_samples",
    "grounded_correct",
    # usage: a value and a 0/1 column saying whether the sample has one
    "timed",
    "latency_s",
    "input_counted",
    "input_tokens",
    "output_counted",
    "output_tokens",
    "responses",
    "response_chars",
    # the intervene stage, on the samples it tested (tag_bench.intervene; zero without it)
    "iv_tested",
    *(f"iv_flip_{c}" for c in INTERVENTION_CONDITIONS),  # the answer is not the original label
    *(f"iv_label_{c}" for c in INTERVENTION_CONDITIONS),  # ... because it parsed to another label
    "iv_correct",  # tested and originally correct
    "iv_correct_cited_flip",  # ... and no longer the (correct) original label under cited
    # the original answer's log-probability scored on the original and the intervened image (the
    # reasoning kept as prefix: lp; the answer right after the prompt: lpa): 1 per scored sample, and
    # the drop (original - intervened)
    *(f"iv_{v}n_{c}" for v in ("lp", "lpa") for c in LOGPROB_CONDITIONS),
    *(f"iv_{v}_{c}" for v in ("lp", "lpa") for c in LOGPROB_CONDITIONS),
)
#: Column of each field in the feature rows.
FIELD_INDEX: dict[str, int] = {name: j for j, name in enumerate(SUM_FIELDS)}
_ZERO_ROW: list[float] = [0.0] * len(SUM_FIELDS)


def sample_row(
    s: ScoredSample, referenced: bool, intervention: InterventionOutcome | None = None
) -> list[float]:
    """The per-sample quantities of one scored sample (``referenced``: it has a record of the run's
    reference; ``intervention``: its outcome in one fill's intervention set), in :data:`SUM_FIELDS` order."""
    u = s.usage
    return feature_row(
        s.status,
        s.parsed,
        [(c.box, c.iou, c.center_inside) for c in s.claims],
        s.evidence_consistent,
        referenced,
        referenced and s.reference_status == "ok",
        s.correct,
        s.cited_aus,
        s.active_aus,
        s.hallucinated_aus,
        s.grounded_correct,
        None if u is None else (u.latency_s, u.input_tokens, u.output_tokens, u.response_chars),
        intervention,
    )


#: (latency_s, input_tokens, output_tokens, response_chars) of an answered call.
Usage = tuple[float | None, int | None, int | None, int | None]


def feature_row(
    status: str,
    parsed: Parsed | None,
    claims: Sequence[tuple[Sequence[float] | None, float | None, bool | None]],
    consistent: bool | None,
    referenced: bool,
    covered: bool,
    correct: bool,
    cited_aus: Sequence[str],
    active_aus: Sequence[str],
    hallucinated_aus: Sequence[str],
    grounded: bool | None,
    usage: Usage | None,
    intervention: InterventionOutcome | None = None,
) -> list[float]:
    """:func:`sample_row` from the scored values themselves (``claims``: (box, iou, centre inside) of each
    claim; ``covered``: referenced by a usable record): scoring fills the rows from these without
    building the records. Every value is written by field name (a misspelt field is a KeyError, never
    a value in the wrong column); fields not written are 0."""
    row = _ZERO_ROW.copy()
    at = FIELD_INDEX
    if intervention is not None and intervention.tested:
        _intervention_fields(row, intervention)
    n_unusable = 0
    if parsed is not None:
        has_box = False
        n_cited = 0
        for ev in parsed.evidence:
            if ev.box is not None:
                has_box = True
                n_cited += 1
            elif ev.box_status not in ("ok", "none"):  # written, then dropped by the parser
                n_cited += 1
                n_unusable += 1
    else:
        n_cited = sum(box is not None for box, _, _ in claims)
        has_box = n_cited > 0
    row[at["samples"]] = 1.0
    row[at["parse_failed"]] = float(status in PARSE_FAILURES)
    row[at["invalid_label"]] = float(status == "invalid_label")
    row[at["errored"]] = float(status == "error")
    row[at["missing"]] = float(status == "missing")
    row[at["has_box"]] = float(has_box)
    row[at["cited_boxes"]] = float(n_cited)
    row[at["unusable_boxes"]] = float(n_unusable)
    row[at["consistent"]] = float(bool(consistent))
    row[at["consistency_samples"]] = float(consistent is not None)
    row[at["referenced"]] = float(referenced)
    row[at["covered"]] = float(covered)
    if usage is not None:
        latency, input_tokens, output_tokens, chars = usage
        if latency is not None:
            row[at["timed"]], row[at["latency_s"]] = 1.0, latency
        if input_tokens is not None:
            row[at["input_counted"]], row[at["input_tokens"]] = 1.0, float(input_tokens)
        if output_tokens is not None:
            row[at["output_counted"]], row[at["output_tokens"]] = 1.0, float(output_tokens)
        if chars is not None:
            row[at["responses"]], row[at["response_chars"]] = 1.0, float(chars)
    if not covered:
        return row
    n_box = iou_sum = ge5 = ge3 = inside = 0.0
    for box, iou_value, center_inside in claims:
        if box is None:
            continue
        iou = iou_value if iou_value is not None else 0.0  # a claim whose AU has no region scores 0
        n_box += 1.0
        iou_sum += iou
        ge5 += iou >= GROUNDED_IOU
        ge3 += iou >= 0.3
        inside += bool(center_inside)
    cited = set(cited_aus)
    active = set(active_aus)
    halluc = set(hallucinated_aus) & cited
    judged = (cited & active) | halluc
    f1 = au_set_f1(judged, active)
    row[at["correct_covered"]] = float(correct)
    row[at["box_claims"]] = n_box
    row[at["iou_sum"]] = iou_sum
    row[at["iou_ge_0.5"]] = ge5
    row[at["iou_ge_0.3"]] = ge3
    row[at["center_inside"]] = inside
    row[at["judged_aus"]] = float(len(judged))
    row[at["hallucinated_aus"]] = float(len(halluc))
    row[at["unjudged_aus"]] = float(len(cited) - len(judged))
    row[at["cited_aus_covered"]] = float(len(cited))
    row[at["samples_judged"]] = float(bool(judged))
    row[at["samples_hallucinated"]] = float(bool(halluc))
    row[at["active_aus"]] = float(len(active))
    row[at["active_cited"]] = float(len(cited & active))
    row[at["f1_sum"]] = 0.0 if f1 is None else f1
    row[at["f1_samples"]] = float(f1 is not None)
    row[at["grounded_correct"]] = float(bool(grounded))
    return row


def _intervention_fields(row: list[float], iv: InterventionOutcome) -> None:
    at = FIELD_INDEX
    row[at["iv_tested"]] = 1.0
    for c in INTERVENTION_CONDITIONS:
        a = iv.answers.get(c)
        if a is not None:
            row[at[f"iv_flip_{c}"]] = float(a.flip)
            row[at[f"iv_label_{c}"]] = float(a.kind == "label")
    cited = iv.answers.get("cited")
    if iv.correct:
        row[at["iv_correct"]] = 1.0
        row[at["iv_correct_cited_flip"]] = float(cited is not None and cited.flip)
    for v, base, attr in (
        ("lp", iv.logprob, "logprob"),
        ("lpa", iv.answer_only_logprob, "answer_only_logprob"),
    ):
        if base is None:
            continue
        for c in LOGPROB_CONDITIONS:
            a = iv.answers.get(c)
            value = getattr(a, attr) if a is not None else None
            if value is not None:
                row[at[f"iv_{v}n_{c}"]] = 1.0
                row[at[f"iv_{v}_{c}"]] = base - value


def confusion_cells(gold: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot (n, K * (K + 1)) of each sample's cell (gold, pred + 1); column 0 of a row = failed."""
    cells = np.zeros((gold.size, n_classes * (n_classes + 1)))
    cells[np.arange(gold.size), gold * (n_classes + 1) + pred + 1] = 1.0
    return cells


def named_sums(sums: np.ndarray, classes: Sequence[str]) -> Mapping[str, np.ndarray]:
    """(b, F) column sums of ``[confusion_cells | rows]`` -> named (b,) sums the metric table reads.

    Besides :data:`SUM_FIELDS`: ``correct``, ``parsed`` (answers in the class list), ``failed``, and per
    class ``tp/<c>``, ``support/<c>`` (gold samples, failures included), ``predicted/<c>``,
    ``f1_num/<c>`` (2 tp) and ``f1_den/<c>`` (support + predicted).
    """
    k = len(classes)
    n_cells = k * (k + 1)
    cells = sums[:, :n_cells].reshape(-1, k, k + 1)
    matrix, failed = cells[:, :, 1:], cells[:, :, 0]
    tp = np.diagonal(matrix, axis1=-2, axis2=-1)
    support = matrix.sum(axis=-1) + failed
    predicted = matrix.sum(axis=-2)
    out: dict[str, np.ndarray] = {name: sums[:, n_cells + j] for j, name in enumerate(SUM_FIELDS)}
    out["correct"] = tp.sum(axis=-1)
    out["parsed"] = predicted.sum(axis=-1)
    out["failed"] = failed.sum(axis=-1)
    out["support"] = support  # (b, K): for the class-averaged metrics
    out["tp"] = tp
    out["predicted"] = predicted
    for j, c in enumerate(classes):
        out[f"tp/{c}"] = tp[:, j]
        out[f"support/{c}"] = support[:, j]
        out[f"predicted/{c}"] = predicted[:, j]
        out[f"f1_num/{c}"] = 2 * tp[:, j]
        out[f"f1_den/{c}"] = support[:, j] + predicted[:, j]
    return out
