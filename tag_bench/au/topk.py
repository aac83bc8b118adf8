"""The TAG paper's "AU-Prob-Bbox" list: the top-K activated AUs of one image, with score and box.

TAG feeds its trace generator the detector's activated AUs as lines ``AU6 0.78 [156, 208, 285, 314]``
(bare AU code, activation with two decimals, integer box with a space after each comma;
``specs/tag-format.md`` §2.1). Here an AU is listed when the reference marks it active; the list is
sorted by score (highest first; an active AU without a score after those with one; ties by AU
number) and cut at K. Boxes are the AU's merged region in pixels of the presented image, rounded.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tag_bench.facs import au_sort_key
from tag_bench.metrics.grounding import au_active, au_region, reference_states
from tag_bench.schema import AUReference, Sample


class ActivatedAU(BaseModel):
    model_config = ConfigDict(extra="forbid")
    au: str
    score: float | None
    box: list[int] | None  # [x1, y1, x2, y2], presented-image pixels


class AUTopK(BaseModel):
    """One sample's AU-Prob-Bbox list, ready to put into a prompt (``text``)."""

    model_config = ConfigDict(extra="forbid")
    sample_id: str
    image: str
    label: str
    reference_id: str
    status: str  # the reference's: ok / no_face / error (the list is empty unless ok)
    message: str | None = None
    k: int
    aus: list[ActivatedAU] = Field(default_factory=list)
    text: str = ""


def top_k_activated(reference: AUReference, k: int) -> list[ActivatedAU]:
    """The reference's active AUs, best first, at most ``k`` (none unless its status is ok)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    states = reference_states(reference)
    active = [au for au, st in states.items() if au_active(st, reference.threshold)]
    active.sort(key=lambda au: (states[au].score is None, -(states[au].score or 0.0), au_sort_key(au), au))
    out = []
    for au in active[:k]:
        region = au_region(states[au])
        out.append(
            ActivatedAU(
                au=au,
                score=states[au].score,
                box=[round(v) for v in region] if region is not None else None,
            )
        )
    return out


def format_line(item: ActivatedAU) -> str:
    """``AU6 0.78 [156, 208, 285, 314]`` (``-`` for a missing score or box)."""
    score = "-" if item.score is None else f"{item.score:.2f}"
    box = "-" if item.box is None else "[" + ", ".join(str(v) for v in item.box) + "]"
    return f"{item.au} {score} {box}"


def topk_record(sample: Sample, reference: AUReference, k: int) -> AUTopK:
    """The AU-Prob-Bbox record of one sample (kept, with the reference's status, when not ok)."""
    items = top_k_activated(reference, k)
    return AUTopK(
        sample_id=sample.id,
        image=sample.image,
        label=sample.label,
        reference_id=reference.reference_id,
        status=reference.status,
        message=reference.message,
        k=k,
        aus=items,
        text="\n".join(format_line(i) for i in items),
    )
