"""A scored run's samples joined with what a person needs to look at them: the sample (its image),
the raw response, the scored record and the AU reference. Shared by the overlays and the HTML report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import BaseModel

from tag_bench.metrics.grounding import GROUNDED_IOU, au_region, reference_states
from tag_bench.rundir import RunDir
from tag_bench.schema import (
    FAILURE_STATUSES,
    AUReference,
    AUState,
    Box,
    ClaimScore,
    Generation,
    Sample,
    ScoredSample,
)

Outcome = Literal["hit", "miss", "hallucinated", "unscored"]
R = TypeVar("R", bound=BaseModel)
#: Sample filters of ``--only`` (and of the HTML report's browser, which adds more).
ONLY = ("failures", "hallucinated", "wrong")
#: Statuses of a reply that could not be read as one answer (``parse_failure_rate``).
UNPARSED = ("no_answer", "ambiguous", "refusal", "truncated")


def claim_outcome(claim: ClaimScore) -> Outcome:
    """How a claimed box is drawn: its AU hallucinated (the reference marks it inactive), else a hit
    (IoU >= 0.5 with the reference region of its AU) or a miss; unscored without a usable reference."""
    if claim.hallucinated:
        return "hallucinated"
    if claim.iou is None:
        return "unscored"
    return "hit" if claim.iou >= GROUNDED_IOU else "miss"


@dataclass
class SampleView:
    """One scored sample with its sample record, raw response and AU reference (when there are)."""

    scored: ScoredSample
    sample: Sample | None
    generation: Generation | None
    reference: AUReference | None

    @property
    def id(self) -> str:
        return self.scored.sample_id

    @property
    def text(self) -> str | None:
        return self.generation.text if self.generation is not None else None

    def box_claims(self) -> list[ClaimScore]:
        return [c for c in self.scored.claims if c.box is not None]

    def mean_iou(self) -> float:
        ious = [c.iou for c in self.scored.claims if c.box is not None and c.iou is not None]
        return sum(ious) / len(ious) if ious else math.nan

    def reference_state(self, au: str | None) -> AUState | None:
        if au is None:
            return None
        return reference_states(self.reference).get(au)

    def reference_region(self, au: str | None) -> Box | None:
        """The reference region of ``au`` (the box its claims are scored against), if any."""
        return au_region(self.reference_state(au))

    def image_sha256(self) -> str | None:
        """The presented image's content id as recorded at generation (or by the reference)."""
        if self.generation is not None and self.generation.image_sha256:
            return self.generation.image_sha256
        if self.reference is not None and self.reference.image_sha256:
            return self.reference.image_sha256
        return None

    def image_size(self) -> tuple[int, int] | None:
        """(width, height) of the presented image as recorded, else None (read it from the file)."""
        for rec in (self.generation, self.reference):
            if rec is not None and rec.image_size:
                w, h = rec.image_size
                return int(w), int(h)
        return None

    def matches(self, only: str | None) -> bool:
        """Whether the sample passes ``--only`` (see :data:`ONLY`)."""
        s = self.scored
        if only is None:
            return True
        if only == "failures":
            return s.status in FAILURE_STATUSES
        if only == "hallucinated":
            return bool(s.hallucinated_aus)
        if only == "wrong":
            return not s.correct
        raise ValueError(f"--only must be one of {', '.join(ONLY)}, got {only!r}")


def read_views(run: RunDir | str, *, reference_key: str | None = None) -> list[SampleView]:
    """Every scored sample of ``run`` in ``samples.jsonl`` order, joined with its sample record,
    generation and AU reference (``reference_key``: the scores of ``references/<key>/``)."""
    rd = run if isinstance(run, RunDir) else RunDir(run)
    scored = rd.read_scored(reference_key)
    samples = {s.id: s for s in rd.read_index()} if rd.index_path.exists() else {}
    generations = rd.read_generations()
    references = {r.sample_id: r for r in rd.read_references(reference_key) or [] if r.sample_id}
    return [
        SampleView(s, samples.get(s.sample_id), generations.get(s.sample_id), references.get(s.sample_id))
        for s in scored
    ]


def worst_first(views: Iterable[SampleView]) -> list[SampleView]:
    """Samples from the worst: wrong before right, then more hallucinated AUs, then a lower mean IoU of
    the box claims (a sample without a scored box counts as IoU 0), then file order."""

    def key(v: SampleView) -> tuple[bool, int, float]:
        iou = v.mean_iou()
        return (v.scored.correct, -len(v.scored.hallucinated_aus), 0.0 if math.isnan(iou) else iou)

    return sorted(views, key=key)


@dataclass(frozen=True)
class Flag:
    """A status filter of the HTML report's sample browser."""

    label: str  # the filter's name on the page
    definition: str  # what it selects, shown on the page (one definition)
    selects: Callable[[ScoredSample], bool]


#: The sample browser's status filters, in the page's order: name -> :class:`Flag` (the page reads them).
FLAGS: dict[str, Flag] = {
    "wrong": Flag("wrong", "not correct (failures included)", lambda s: not s.correct),
    "unparsed": Flag(
        "unparsed",
        "the reply could not be read as one answer (no answer, ambiguous, refusal, truncated)",
        lambda s: s.status in UNPARSED,
    ),
    "invalid_label": Flag(
        "invalid label",
        "the answer is an emotion outside the task's classes",
        lambda s: s.status == "invalid_label",
    ),
    "hallucinated": Flag(
        "hallucinated AU", "cites an AU the reference marks inactive", lambda s: bool(s.hallucinated_aus)
    ),
    "low_iou": Flag(
        "low IoU",
        f"a box claim with IoU < {GROUNDED_IOU:g} against the reference region of its AU",
        lambda s: any(c.box is not None and c.iou is not None and c.iou < GROUNDED_IOU for c in s.claims),
    ),
    "no_face": Flag("no face", "the AU reference found no face", lambda s: s.reference_status == "no_face"),
    "no_reference": Flag(
        "no AU reference",
        "no usable AU reference for another reason (detector error, no record, none given)",
        lambda s: s.reference_status not in ("ok", "no_face"),
    ),
    "error": Flag(
        "error / missing",
        "the model call or the image failed, or there is no generation (status error / missing)",
        lambda s: s.status in ("error", "missing"),
    ),
}


def sample_flags(view: SampleView) -> list[str]:
    """The :data:`FLAGS` a sample has."""
    return [name for name, flag in FLAGS.items() if flag.selects(view.scored)]
