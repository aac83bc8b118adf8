"""The TAG rewards, each a function of one completion scored by the evaluation path.

A completion is turned into a :class:`~tag_bench.schema.ScoredSample` exactly as ``tag-bench score``
does it (``scoring.run.parse_generation`` then ``scoring.score.score_sample``); every reward is then a
function of that record (plus, for the format reward, the parser's answer cue). So
``answer_reward == correct`` for any completion, and the grounding reward is a function of the claim
scores written to ``samples.jsonl``. Exact definitions: ``docs/rewards.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tag_bench._construct import constructor
from tag_bench.facs import canonical_emotion
from tag_bench.metrics.grounding import au_active, reference_states
from tag_bench.parsing.answer import extract_answer_tag
from tag_bench.parsing.parser import parse_with_cue
from tag_bench.parsing.text import cap, resolve_classes, split_think
from tag_bench.schema import (
    BOX_FRAMES,
    CANONICAL_EMOTIONS,
    AUReference,
    Generation,
    Parsed,
    Sample,
    SampleStatus,
    ScoredSample,
)
from tag_bench.scoring.score import parsed_status, score_sample

#: The reward components, in the order ``tag_reward`` adds them.
REWARD_NAMES: tuple[str, ...] = ("format", "answer", "grounding", "hallucination")

#: Names of the format checks, in the order they are reported.
FORMAT_CHECKS: tuple[str, ...] = ("answer_tag", "label", "steps", "one_au_one_box", "au_without_box")

GroundingMode = Literal["mean_iou", "hit_rate", "vlm_r1"]


class GroundingConfig(BaseModel):
    """How the AU grounding reward aggregates the claim scores of one completion."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: GroundingMode = "mean_iou"
    #: hit_rate: a claim hits at IoU >= this; vlm_r1: the matching threshold.
    iou_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    #: vlm_r1 weights of position (mean matched IoU), label and completeness (VLM-R1's defaults).
    alpha: float = Field(default=0.7, ge=0.0)
    beta: float = Field(default=0.0, ge=0.0)
    gamma: float = Field(default=0.3, ge=0.0)
    #: The reward of a completion with no box claim (the reference being usable).
    no_box: float = 0.0

    @model_validator(mode="after")
    def _some_weight(self) -> GroundingConfig:
        if self.alpha + self.beta + self.gamma <= 0:
            raise ValueError("grounding weights alpha + beta + gamma must add up to more than 0")
        return self


class RewardWeights(BaseModel):
    """Weights of ``tag_reward``; a component with weight 0 is not computed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: float = 1.0
    answer: float = 1.0
    grounding: float = 1.0
    hallucination: float = 0.0

    @model_validator(mode="after")
    def _finite(self) -> RewardWeights:
        bad = [
            f"{name}={getattr(self, name)}" for name in REWARD_NAMES if not math.isfinite(getattr(self, name))
        ]
        if bad:
            raise ValueError(f"reward weights must be finite numbers; got {', '.join(bad)}")
        return self

    def nonzero(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in REWARD_NAMES if getattr(self, name) != 0.0}


def as_weights(weights: RewardWeights | Mapping[str, float] | None) -> RewardWeights:
    """None: the defaults (format, answer and grounding, 1 each); a mapping: the rewards it names, the
    others weigh 0 (an unknown name is an error naming the valid ones)."""
    if weights is None:
        return RewardWeights()
    if isinstance(weights, RewardWeights):
        return weights
    unknown = sorted(set(weights) - set(REWARD_NAMES))
    if unknown:
        raise ValueError(f"unknown reward name(s) {unknown}; valid: {', '.join(REWARD_NAMES)}")
    values = {name: float(weights.get(name, 0.0)) for name in REWARD_NAMES}
    bad = [f"{name}={v}" for name, v in values.items() if not math.isfinite(v)]
    if bad:  # a NaN weight would make every total NaN
        raise ValueError(f"reward weights must be finite numbers; got {', '.join(bad)}")
    return RewardWeights(**values)


@dataclass(frozen=True)
class RewardBreakdown:
    """Every reward of one completion (None: not computed, see docs/rewards.md), and its scoring."""

    format: float | None
    answer: float | None
    grounding: float | None
    hallucination: float | None
    total: float
    format_failures: tuple[str, ...]
    #: Makes the completion's ScoredSample: the format and answer rewards do not need the record, so
    #: it is built only when read (or when the grounding or hallucination reward needs it).
    make_scored: Callable[[], ScoredSample] = field(repr=False, compare=False)

    @cached_property
    def scored(self) -> ScoredSample:
        """The completion scored as ``tag-bench score`` scores it (:func:`score_completion`)."""
        return self.make_scored()

    def get(self, name: str) -> float | None:
        if name not in REWARD_NAMES:
            raise ValueError(f"unknown reward {name!r}; valid: {', '.join(REWARD_NAMES)}")
        value: float | None = getattr(self, name)
        return value


# --------------------------------------------------------------------------------------------------
# One completion through the evaluation path


@lru_cache(maxsize=4096)
def _sample(sample_id: str, label: str) -> Sample:
    gold = label if label in CANONICAL_EMOTIONS else canonical_emotion(label)
    if gold is None:
        raise ValueError(
            f"gold label {label!r} is not an emotion; use one of {', '.join(CANONICAL_EMOTIONS)}"
        )
    return Sample(id=sample_id, dataset="rewards", split="train", image="", label=gold, native_label=label)


def _size(value: Sequence[int] | None) -> tuple[int, int] | None:
    if value is None:
        return None
    w, h = value
    return int(w), int(h)


def score_completion(
    text: str,
    label: str,
    reference: AUReference | None,
    frame: str,
    image_size: Sequence[int] | None,
    *,
    input_size: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    finish_reason: str | None = None,
    sample_id: str = "completion",
) -> ScoredSample:
    """Score one completion exactly as ``tag-bench score`` scores a saved generation.

    ``label``: the gold label (a canonical name or a synonym); ``frame``: the box frame the prompt asked
    for; ``image_size``/``input_size``: (w, h) of the presented image / of what the model saw (needed by
    ``pixel-resized``); ``classes``: the task's classes (None: all eight canonical emotions).
    """
    read = _read(text, label, frame, image_size, input_size, classes, finish_reason, sample_id)
    return read.score(reference)


_generation = constructor(Generation)


class _Read:
    """One completion parsed the way :func:`score_completion` parses it, before scoring."""

    __slots__ = ("answer_tag", "classes", "parsed", "pred", "sample", "status", "values")

    def __init__(self, sample: Sample, values: dict[str, Any], parsed: Parsed, classes: list[str],
                 answer_tag: bool, status: SampleStatus, pred: str | None) -> None:  # fmt: skip
        self.sample, self.values, self.parsed, self.classes = sample, values, parsed, classes
        self.answer_tag = answer_tag  # the text after any reasoning block holds a readable <answer> tag
        self.status, self.pred = status, pred

    @property
    def correct(self) -> bool:
        return self.status == "ok" and self.pred == self.sample.label

    def score(self, reference: AUReference | None) -> ScoredSample:
        """The sample's ScoredSample (its Generation is only needed here)."""
        generation = _generation(**self.values)
        return score_sample(self.sample, generation, self.parsed, reference, self.classes)


def _read(
    text: str,
    label: str,
    frame: str,
    image_size: Sequence[int] | None,
    input_size: Sequence[int] | None,
    classes: Sequence[str] | None,
    finish_reason: str | None,
    sample_id: str,
) -> _Read:
    """One completion read as ``tag-bench score`` reads a saved generation, with the parser's answer cue:
    everything before ``score_sample``."""
    if frame not in BOX_FRAMES:  # the parser would score every box unconvertible: a silent 0.0
        raise ValueError(f"unknown box frame {frame!r}; valid: {', '.join(BOX_FRAMES)}")
    sample = _sample(sample_id, label)
    values: dict[str, Any] = {  # the sample's Generation, built only when it is scored
        "sample_id": sample_id,
        "text": text,
        "frame": frame,
        "image_size": _size(image_size),
        "input_size": _size(input_size),
        "finish_reason": finish_reason if finish_reason is None else str(finish_reason),
    }
    if type(text) is not str or type(sample_id) is not str:
        # not the record's types: pydantic says what is wrong (or converts as score_completion does)
        values = Generation(**values).model_dump(include=set(values))
    class_list = list(classes) if classes is not None else list(CANONICAL_EMOTIONS)
    parsed, cue = parse_with_cue(values["text"], frame, values["image_size"], values["input_size"],
                                 values["finish_reason"], class_list)  # fmt: skip
    status, pred = parsed_status(parsed, class_list)
    return _Read(sample, values, parsed, class_list, cue == "answer_tag", status, pred)


# --------------------------------------------------------------------------------------------------
# The rewards as functions of a scored completion


def answer_score(scored: ScoredSample) -> float:
    """1.0 when the scorer counts the completion correct, else 0.0."""
    return 1.0 if scored.correct else 0.0


def format_failures(text: str, scored: ScoredSample, classes: Sequence[str] | None = None) -> tuple[str, ...]:
    """The :data:`FORMAT_CHECKS` the completion fails (empty: it follows the ``tag_grounded`` shape)."""
    allowed, _ = resolve_classes(tuple(classes) if classes is not None else None)
    capped, _ = cap(text)
    has_tag = extract_answer_tag(split_think(capped).answer, allowed) is not None
    return _format_failures(has_tag, scored.status, scored.parsed)


def _format_failures(answer_tag: bool, status: str, parsed: Parsed | None) -> tuple[str, ...]:
    failed: list[str] = []
    if not answer_tag:
        failed.append("answer_tag")
    if status != "ok":
        failed.append("label")
    steps: dict[int | None, list[bool]] = {}  # step -> per boxed item: one AU with a usable box
    unboxed = False
    for ev in parsed.evidence if parsed is not None else []:
        if ev.box_status == "none":  # an AU cited without a box
            unboxed = True
        else:
            steps.setdefault(ev.step, []).append(ev.au is not None and ev.box_status == "ok")
    if not steps:
        failed.append("steps")
    elif any(len(items) != 1 or not items[0] for items in steps.values()):
        failed.append("one_au_one_box")
    if unboxed:
        failed.append("au_without_box")
    return tuple(failed)


def format_score(text: str, scored: ScoredSample, classes: Sequence[str] | None = None) -> float:
    """1.0 when the completion passes every format check, else 0.0."""
    return 0.0 if format_failures(text, scored, classes) else 1.0


def _usable(scored: ScoredSample) -> bool:
    return scored.reference_status == "ok"


def _judges_activity(reference: AUReference | None) -> bool:
    """Whether the reference says, for at least one AU, whether it is active."""
    if reference is None:
        return False
    return any(au_active(st, reference.threshold) is not None for st in reference_states(reference).values())


def grounding_score(
    scored: ScoredSample, config: GroundingConfig | None = None, reference: AUReference | None = None
) -> float | None:
    """The AU grounding reward of a scored completion (None when the reference is not usable).

    Uses the claims, ``active_aus`` and ``reference_status`` of the record (what ``samples.jsonl``
    holds); ``reference`` only tells ``vlm_r1`` whether the source gives activations at all.
    """
    config = config or GroundingConfig()
    if not _usable(scored):
        return None
    box_claims = [c for c in scored.claims if c.box is not None]
    if config.mode == "vlm_r1" and reference is not None and not _judges_activity(reference):
        return None  # no activations: the set of AUs to find is unknown
    if not box_claims:
        return float(config.no_box)
    # One-to-one matching gated by the AU code: each AU's region takes at most one claim, its best
    # one; a claim of an AU the reference marks inactive matches nothing.
    best: dict[str, float] = {}
    for c in box_claims:
        if c.hallucinated or c.au is None:
            continue
        value = c.iou if c.iou is not None else 0.0
        if value > best.get(c.au, -1.0):
            best[c.au] = value
    n = len(box_claims)
    if config.mode == "mean_iou":
        return sum(best.values()) / n
    if config.mode == "hit_rate":
        return sum(v >= config.iou_threshold for v in best.values()) / n
    active = set(scored.active_aus)
    matched = {au: v for au, v in best.items() if au in active and v >= config.iou_threshold}
    if not active:
        return 0.0  # every box claim is a false alarm
    position = sum(matched.values()) / len(active)
    label = len(matched) / len(active)
    miss_rate = (len(active) - len(matched)) / len(active)
    false_alarm_rate = (n - len(matched)) / n
    completeness = 1.0 - (miss_rate + false_alarm_rate) / 2.0
    total = config.alpha + config.beta + config.gamma
    return (config.alpha * position + config.beta * label + config.gamma * completeness) / total


def hallucination_score(scored: ScoredSample) -> float | None:
    """Minus the share of the judged cited AUs that the reference marks inactive, in [-1, 0].

    None when the reference is not usable or judges none of the cited AUs.
    """
    if not _usable(scored):
        return None
    cited = set(scored.cited_aus)
    hallucinated = set(scored.hallucinated_aus) & cited
    judged = (cited & set(scored.active_aus)) | hallucinated
    if not judged:
        return None
    return -len(hallucinated) / len(judged)


def breakdown(
    text: str,
    scored: ScoredSample,
    *,
    reference: AUReference | None = None,
    classes: Sequence[str] | None = None,
    grounding: GroundingConfig | None = None,
    weights: RewardWeights | Mapping[str, float] | None = None,
) -> RewardBreakdown:
    """Every reward with a nonzero weight (the others are None) and their weighted sum."""
    w = as_weights(weights)
    failures = format_failures(text, scored, classes) if w.format else ()
    return _combine(w, failures, scored.correct, scored, grounding, reference, lambda: scored)


def _combine(
    w: RewardWeights,
    failures: tuple[str, ...],
    correct: bool,
    scored: ScoredSample | None,
    grounding: GroundingConfig | None,
    reference: AUReference | None,
    make_scored: Callable[[], ScoredSample],
) -> RewardBreakdown:
    """The weighted rewards from what they read: the format failures, whether the answer is correct and
    (grounding, hallucination) the scored record; a reward with weight 0 is None."""
    fmt = (0.0 if failures else 1.0) if w.format else None
    answer = (1.0 if correct else 0.0) if w.answer else None
    ground = grounding_score(scored, grounding, reference) if w.grounding and scored is not None else None
    halluc = hallucination_score(scored) if w.hallucination and scored is not None else None
    total = 0.0
    for weight, value in (
        (w.format, fmt),
        (w.answer, answer),
        (w.grounding, ground),
        (w.hallucination, halluc),
    ):
        if value is not None:
            total += weight * value
    return RewardBreakdown(
        format=fmt,
        answer=answer,
        grounding=ground,
        hallucination=halluc,
        total=total,
        format_failures=failures,
        make_scored=make_scored,
    )


def fast_breakdown(
    text: str,
    label: str,
    reference: AUReference | None,
    frame: str,
    image_size: Sequence[int] | None,
    *,
    input_size: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    finish_reason: str | None = None,
    grounding: GroundingConfig | None = None,
    weights: RewardWeights,
    sample_id: str = "completion",
) -> RewardBreakdown:
    """:func:`breakdown` of :func:`score_completion`, equal to it, without building the scored record
    unless the grounding or hallucination reward needs it: format and answer come from the parse, the
    scorer's status and the parser's answer cue (``tests/test_rewards.py`` checks the equality)."""
    read = _read(text, label, frame, image_size, input_size, classes, finish_reason, sample_id)
    w = weights
    scored = read.score(reference) if (w.grounding or w.hallucination) else None
    failures = _format_failures(read.answer_tag, read.status, read.parsed) if w.format else ()
    if scored is not None:
        make_scored: Callable[[], ScoredSample] = lambda: scored  # noqa: E731
    else:  # made again on demand: the batch then keeps only strings, where holding each parse would
        # leave thousands of objects per batch for the cyclic collector to walk
        make_scored = partial(score_completion, text, label, None, frame, image_size, input_size=input_size,
                              classes=classes, finish_reason=finish_reason, sample_id=sample_id)  # fmt: skip
    return _combine(w, failures, read.correct, scored, grounding, reference, make_scored)


# --------------------------------------------------------------------------------------------------
# The public pure functions: (completion, gold label, AU reference, frame, image size) -> reward


def reward_breakdown(
    text: str,
    label: str,
    reference: AUReference | None,
    frame: str,
    image_size: Sequence[int] | None,
    *,
    input_size: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    finish_reason: str | None = None,
    grounding: GroundingConfig | None = None,
    weights: RewardWeights | Mapping[str, float] | None = None,
) -> RewardBreakdown:
    """Score the completion once and compute every weighted reward (see :func:`score_completion`)."""
    return fast_breakdown(text, label, reference, frame, image_size, input_size=input_size, classes=classes,
                          finish_reason=finish_reason, grounding=grounding, weights=as_weights(weights))  # fmt: skip


def format_reward(
    text: str,
    label: str,
    reference: AUReference | None,
    frame: str,
    image_size: Sequence[int] | None,
    *,
    input_size: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    finish_reason: str | None = None,
) -> float:
    """1.0 when the completion has the ``tag_grounded`` shape as tag-bench's parser reads it, else 0.0."""
    read = _read(text, label, frame, image_size, input_size, classes, finish_reason, "completion")
    return 0.0 if _format_failures(read.answer_tag, read.status, read.parsed) else 1.0


def answer_reward(
    text: str,
    label: str,
    reference: AUReference | None,
    frame: str,
    image_size: Sequence[int] | None,
    *,
    input_size: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    finish_reason: str | None = None,
) -> float:
    """1.0 when the parsed answer is the gold label (synonyms included), else 0.0: the scorer's ``correct``."""
    read = _read(text, label, frame, image_size, input_size, classes, finish_reason, "completion")
    return 1.0 if read.correct else 0.0


def au_grounding_reward(
    text: str,
    label: str,
    reference: AUReference | None,
    frame: str,
    image_size: Sequence[int] | None,
    *,
    input_size: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    finish_reason: str | None = None,
    grounding: GroundingConfig | None = None,
) -> float | None:
    """The AU grounding reward (:func:`grounding_score`); None when the reference is missing or not ok."""
    scored = score_completion(
        text,
        label,
        reference,
        frame,
        image_size,
        input_size=input_size,
        classes=classes,
        finish_reason=finish_reason,
    )
    return grounding_score(scored, grounding, reference)


def hallucination_penalty(
    text: str,
    label: str,
    reference: AUReference | None,
    frame: str,
    image_size: Sequence[int] | None,
    *,
    input_size: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    finish_reason: str | None = None,
) -> float | None:
    """Minus the hallucinated share of the judged cited AUs (:func:`hallucination_score`)."""
    scored = score_completion(
        text,
        label,
        reference,
        frame,
        image_size,
        input_size=input_size,
        classes=classes,
        finish_reason=finish_reason,
    )
    return hallucination_score(scored)


def tag_reward(
    text: str,
    label: str,
    reference: AUReference | None,
    frame: str,
    image_size: Sequence[int] | None,
    *,
    input_size: Sequence[int] | None = None,
    classes: Sequence[str] | None = None,
    finish_reason: str | None = None,
    grounding: GroundingConfig | None = None,
    weights: RewardWeights | Mapping[str, float] | None = None,
) -> float:
    """Σ weight × reward over the rewards that are computed (None ones add nothing, as in TRL)."""
    return reward_breakdown(
        text,
        label,
        reference,
        frame,
        image_size,
        input_size=input_size,
        classes=classes,
        finish_reason=finish_reason,
        grounding=grounding,
        weights=weights,
    ).total
