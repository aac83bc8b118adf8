"""Grounding metrics: do the cited AUs and boxes match the AU reference?

Conventions (``specs/metrics.md``):

- A **claim** is a parsed evidence item naming an AU; a **box claim** also has a usable box.
- A box claim is compared with the reference region of its AU. A claim whose AU has no reference
  region (AU not in the reference, reference status ``no_face``/``error``) scores IoU 0 and misses
  the pointing test; it is counted, never skipped.
- An AU is **judged** when the reference gives it an active flag (or a score and a threshold). A
  cited AU the reference marks inactive is **hallucinated**. A cited AU the reference cannot judge
  is **unjudged**: it is left out of the numerators *and* denominators of the hallucination rates,
  ``au_f1`` and ``grounded_accuracy``'s "no hallucinated AU" test, and is reported as
  ``unjudged_au_rate`` so that nothing is hidden.
- ``evidence_consistency`` uses only the EMFACS prototypes, never the reference.

Array functions return NaN on an empty denominator.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from tag_bench.facs import NON_EXPRESSIVE_AUS, au_code, best_matching_emotions, prototype_similarity
from tag_bench.geometry import center, contains_point, iou, union_box
from tag_bench.schema import AUReference, AUState, Box

#: IoU at which a box claim counts as grounded (``grounding_precision@0.5``, ``grounded_accuracy``).
GROUNDED_IOU = 0.5
#: Thresholds reported as ``grounding_precision@<t>``.
IOU_THRESHOLDS: tuple[float, ...] = (0.5, 0.3)


# --------------------------------------------------------------------------------------------------
# Per-claim / per-sample primitives (used by the scorer)


def normalise_au(au: str) -> str:
    """``AU04`` / ``au 4`` -> ``AU4``; text that is not an AU code is kept stripped."""
    return au_code(au) or au.strip()


def reference_states(reference: AUReference | None) -> dict[str, AUState]:
    """The reference's AU states keyed by normalised code; empty unless the reference status is ok."""
    if reference is None or reference.status != "ok":
        return {}
    return {normalise_au(k): v for k, v in reference.aus.items()}


def au_region(state: AUState | None) -> Box | None:
    """The AU's region box (the merged box, else the union of its per-side boxes)."""
    if state is None:
        return None
    return state.box if state.box is not None else union_box(state.boxes)


def au_active(state: AUState | None, threshold: float | None) -> bool | None:
    """Active flag of an AU: the reference's flag, else score >= threshold, else None (unjudgeable)."""
    if state is None:
        return None
    if state.active is not None:
        return state.active
    if state.score is not None and threshold is not None:
        return state.score >= threshold
    return None


def claim_iou(box: Sequence[float], region: Sequence[float] | None) -> float:
    """IoU of a claimed box with the AU's reference region; 0.0 when there is no region."""
    return 0.0 if region is None else iou(box, region)


def claim_pointing(box: Sequence[float], region: Sequence[float] | None) -> bool:
    """Whether the claimed box's centre falls inside the reference region (False without one)."""
    return False if region is None else contains_point(region, *center(box))


def au_set_f1(cited: Collection[str], active: Collection[str]) -> float | None:
    """F1 between a cited AU set and the reference-active set; None when both are empty."""
    c, a = set(cited), set(active)
    if not c and not a:
        return None
    return 2 * len(c & a) / (len(c) + len(a))


def evidence_consistency(pred: str | None, cited: Collection[str], classes: Sequence[str]) -> bool | None:
    """Whether the cited AUs support ``pred`` best among the EMFACS prototypes of ``classes``.

    None (not applicable) without a predicted label or without a cited AU. ``neutral`` is consistent
    only when no expressive AU is cited. Another emotion is consistent when its prototype overlap
    (Jaccard, best variant) is the highest among the classes, ties allowed, and above zero: cited
    AUs that match no prototype at all support nothing.
    """
    cited_set = set(cited)
    if pred is None or not cited_set:
        return None
    if pred == "neutral":
        return not (cited_set - NON_EXPRESSIVE_AUS)
    if prototype_similarity(cited_set, pred) <= 0.0:
        return False
    return pred in best_matching_emotions(cited_set, list(classes))


# --------------------------------------------------------------------------------------------------
# Array metrics (scikit-learn style)


def _ratio(num: ArrayLike, den: ArrayLike) -> np.ndarray:
    num_a, den_a = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den_a > 0, num_a / den_a, np.nan)


def au_box_iou(ious: ArrayLike) -> float:
    """Mean IoU over box claims."""
    x = np.asarray(ious, dtype=float)
    return float(_ratio(x.sum(), x.size))


def grounding_precision(ious: ArrayLike, threshold: float = GROUNDED_IOU) -> float:
    """Share of box claims with IoU >= ``threshold``."""
    x = np.asarray(ious, dtype=float)
    return float(_ratio((x >= threshold).sum(), x.size))


def pointing_accuracy(hits: ArrayLike) -> float:
    """Share of box claims whose centre lies in the reference region."""
    x = np.asarray(hits, dtype=bool)
    return float(_ratio(x.sum(), x.size))


def hallucinated_au_rate(n_hallucinated: ArrayLike, n_judged: ArrayLike) -> float:
    """CHAIR-i: hallucinated distinct AUs / judged distinct claimed AUs, summed over samples."""
    return float(_ratio(np.sum(n_hallucinated), np.sum(n_judged)))


def hallucinated_sample_rate(n_hallucinated: ArrayLike, n_judged: ArrayLike) -> float:
    """CHAIR-s: samples with >= 1 hallucinated AU / samples with >= 1 judged claimed AU."""
    h, j = np.asarray(n_hallucinated), np.asarray(n_judged)
    return float(_ratio((h > 0).sum(), (j > 0).sum()))


def au_recall(n_active_cited: ArrayLike, n_active: ArrayLike) -> float:
    """Reference-active AUs the model cites / reference-active AUs (micro over samples)."""
    return float(_ratio(np.sum(n_active_cited), np.sum(n_active)))


def au_f1(per_sample_f1: Sequence[float | None] | ArrayLike) -> float:
    """Mean per-sample AU-set F1 over the samples where it is defined (None/NaN entries skipped)."""
    x = np.array([np.nan if v is None else v for v in np.asarray(per_sample_f1, dtype=object)], dtype=float)
    ok = ~np.isnan(x)
    return float(_ratio(x[ok].sum(), ok.sum()))


# --------------------------------------------------------------------------------------------------
# From per-sample sums (one formula for the point estimate and every bootstrap resample)

#: Names of the per-sample quantities whose (weighted) sums define the grounding metrics.
SUM_FIELDS: tuple[str, ...] = (
    "samples",  # every sample
    "has_box",  # sample has >= 1 parsed box
    "box_claims",  # box claims on samples with a reference
    "iou_sum",
    "iou_ge_0.5",
    "iou_ge_0.3",
    "center_inside",
    "judged_aus",  # distinct cited AUs the reference can judge
    "hallucinated_aus",
    "unjudged_aus",
    "cited_aus_referenced",  # distinct cited AUs on samples with a reference (judged + unjudged)
    "samples_judged",  # samples with >= 1 judged cited AU
    "samples_hallucinated",
    "active_aus",
    "active_cited",
    "f1_sum",
    "f1_samples",
    "consistent",
    "consistency_samples",
    "grounded_correct",
    "referenced",  # samples with an AU reference record
)


def grounding_from_sums(s: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Grounding metrics (NaN where undefined) from the sums named in :data:`SUM_FIELDS`."""
    return {
        "box_rate": _ratio(s["has_box"], s["samples"]),
        "au_box_iou": _ratio(s["iou_sum"], s["box_claims"]),
        "grounding_precision@0.5": _ratio(s["iou_ge_0.5"], s["box_claims"]),
        "grounding_precision@0.3": _ratio(s["iou_ge_0.3"], s["box_claims"]),
        "pointing_accuracy": _ratio(s["center_inside"], s["box_claims"]),
        "hallucinated_au_rate": _ratio(s["hallucinated_aus"], s["judged_aus"]),
        "hallucinated_sample_rate": _ratio(s["samples_hallucinated"], s["samples_judged"]),
        "unjudged_au_rate": _ratio(s["unjudged_aus"], s["cited_aus_referenced"]),
        "au_recall": _ratio(s["active_cited"], s["active_aus"]),
        "au_f1": _ratio(s["f1_sum"], s["f1_samples"]),
        "evidence_consistency": _ratio(s["consistent"], s["consistency_samples"]),
        "grounded_accuracy": _ratio(s["grounded_correct"], s["referenced"]),
    }


#: For each grounding metric: the sum that is its denominator (reported as the metric's ``n``).
GROUNDING_DENOMINATORS: dict[str, str] = {
    "box_rate": "samples",
    "au_box_iou": "box_claims",
    "grounding_precision@0.5": "box_claims",
    "grounding_precision@0.3": "box_claims",
    "pointing_accuracy": "box_claims",
    "hallucinated_au_rate": "judged_aus",
    "hallucinated_sample_rate": "samples_judged",
    "unjudged_au_rate": "cited_aus_referenced",
    "au_recall": "active_aus",
    "au_f1": "f1_samples",
    "evidence_consistency": "consistency_samples",
    "grounded_accuracy": "referenced",
}

#: Grounding metrics that need no AU reference (they read only the parsed answer).
REFERENCE_FREE: frozenset[str] = frozenset({"box_rate", "evidence_consistency"})
