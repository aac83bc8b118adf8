"""Grounding metrics: do the cited AUs and boxes match the AU reference?

Conventions (``docs/metrics.md``):

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

The metrics built on these primitives are declared in :mod:`tag_bench.scoring.metric_table`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from tag_bench.facs import NON_EXPRESSIVE_AUS, au_code, best_matching_emotions, prototype_similarity
from tag_bench.geometry import center, contains_point, iou, union_box
from tag_bench.schema import AUReference, AUState, Box

#: IoU at which a box claim counts as grounded (``grounding_precision@0.5``, ``grounded_accuracy``).
GROUNDED_IOU = 0.5


# --------------------------------------------------------------------------------------------------
# Per-claim / per-sample primitives (used by the scorer)


_NORMALISED: dict[str, str] = {}  # scoring normalises a few dozen spellings, millions of times


def normalise_au(au: str) -> str:
    """``AU04`` / ``au 4`` -> ``AU4``; text that is not an AU code is kept stripped."""
    code = _NORMALISED.get(au)
    if code is None:
        code = au_code(au) or au.strip()
        if len(_NORMALISED) < 4096:
            _NORMALISED[au] = code
    return code


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
