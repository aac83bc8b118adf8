"""Versioned, typed records that flow between the stages.

Every record carries ``schema_version``. Boxes are ``[x1, y1, x2, y2]`` floats in pixels of the
*presented* image: the image as the harness loads it for the model (after a dataset crop such as
AffectNet's face box, before any model-side resize). Images are referenced by path and sha256, never
embedded.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, field_validator, model_validator

SCHEMA_VERSION = 2

#: The eight canonical emotion names every sample maps to.
CANONICAL_EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happiness",
    "sadness",
    "surprise",
    "fear",
    "disgust",
    "anger",
    "contempt",
)
#: The label space shared by RAF-DB, FERPlus and AffectNet for cross-dataset work.
COMMON7: tuple[str, ...] = CANONICAL_EMOTIONS[:7]

Box = list[float]  # [x1, y1, x2, y2]
Size = tuple[int, int]  # (width, height)

#: Parse statuses (parser output) plus the statuses the scorer adds.
ParseStatus = Literal["ok", "no_answer", "invalid_label", "ambiguous", "refusal", "truncated"]
SampleStatus = Literal[
    "ok", "no_answer", "invalid_label", "ambiguous", "refusal", "truncated", "error", "missing"
]
FAILURE_STATUSES: tuple[str, ...] = (
    "no_answer",
    "invalid_label",
    "ambiguous",
    "refusal",
    "truncated",
    "error",
    "missing",
)

#: Coordinate frames a model may speak; the parser converts each to presented-image pixels.
BoxFrame = Literal["pixel", "pixel-resized", "norm1000", "norm1000-yxyx", "norm1", "loc1024-yxyx"]
BOX_FRAMES: tuple[str, ...] = ("pixel", "pixel-resized", "norm1000", "norm1000-yxyx", "norm1", "loc1024-yxyx")


class Record(BaseModel):
    """Base of every persisted record: strict fields and a schema version."""

    model_config = ConfigDict(extra="forbid", frozen=False)
    schema_version: int = SCHEMA_VERSION


# --------------------------------------------------------------------------------------------------
# Data


class Sample(Record):
    """One evaluation item of a dataset split.

    ``image`` is a file path. For container files (the FER2013 CSV, a parquet shard) ``image_index``
    is the row inside that file. ``crop`` (presented = original[crop]) is applied on load.
    """

    id: str
    dataset: str
    split: str
    image: str
    image_index: int | None = None
    crop: Box | None = None
    label: str  # canonical emotion name
    native_label: str | int
    width: int | None = None  # presented size, when known without decoding
    height: int | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @field_validator("label")
    @classmethod
    def _canonical(cls, v: str) -> str:
        if v not in CANONICAL_EMOTIONS:
            raise ValueError(f"label must be one of {CANONICAL_EMOTIONS}, got {v!r}")
        return v


# --------------------------------------------------------------------------------------------------
# AU reference


class AUState(BaseModel):
    """One AU of one face: activation, decision and where it is."""

    model_config = ConfigDict(extra="forbid")
    score: float | None = None  # activation in [0, 1]; None when the source gives regions only
    active: bool | None = None  # score >= threshold
    box: Box | None = None  # merged region (union of the per-side boxes)
    boxes: list[Box] = Field(default_factory=list)  # per-side regions (left, right)
    source: str | None = None  # where the score came from, e.g. "blendshape:mouthSmile", "geometric"
    threshold: float | None = None  # the threshold this AU's score was judged with


class AUReference(Record):
    """What a named, versioned AU source says about one image."""

    reference_id: str  # e.g. "mediapipe-geometric-tight@1"; names the source in every metric
    detector: str
    version: str
    params: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = None  # one threshold for every AU; None when it differs per AU (aus[*])
    model_sha256: str | None = None  # sha256 of the model file the scores came from, where there is one
    status: Literal["ok", "no_face", "error"]
    message: str | None = None
    sample_id: str | None = None
    image_sha256: str | None = None
    image_size: Size | None = None
    face_box: Box | None = None
    landmarks: list[tuple[float, float]] | None = None  # 68 points, iBUG order
    aus: dict[str, AUState] = Field(default_factory=dict)  # keyed "AU12"

    def active_aus(self) -> set[str]:
        return {au for au, s in self.aus.items() if s.active}


# --------------------------------------------------------------------------------------------------
# Generation


class Generation(Record):
    """One model call for one sample, exactly as it came back (nothing parsed)."""

    sample_id: str
    status: Literal["ok", "error"] = "ok"
    error: str | None = None  # why the call or the image failed; the sample stays counted
    text: str | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    image_sha256: str | None = None
    image_size: Size | None = None  # presented image (w, h)
    input_size: Size | None = None  # what the model saw after its own resize (w, h)
    frame: str | None = None  # the adapter's declared box frame
    cached: bool = False
    cache_key: str | None = None


# --------------------------------------------------------------------------------------------------
# Parsing


#: A usable box: exactly four finite numbers (validated in pydantic-core, not in Python).
FiniteBox = Annotated[list[FiniteFloat], Field(min_length=4, max_length=4)]


class Evidence(BaseModel):
    """One piece of cited evidence: an AU, a box, or both."""

    model_config = ConfigDict(extra="forbid")
    au: str | None = None
    box: FiniteBox | None = None  # presented-image pixels, clipped; None when absent or unusable
    raw_box: list[float] | None = None  # as written by the model, in its own frame/order
    # none: no box cited; unconvertible: a box was written but its frame cannot be mapped (e.g.
    # pixel-resized without the model's input size); malformed: not four numbers
    box_status: Literal["ok", "none", "degenerate", "non_finite", "outside", "unconvertible", "malformed"] = (
        "none"
    )
    step: int | None = None  # index of the reasoning step the evidence came from


class Parsed(Record):
    """What the parser extracted from one response."""

    label: str | None = None  # canonical emotion name, or None
    status: ParseStatus = "no_answer"
    raw_label: str | None = None  # the text the label came from
    aus: list[str] = Field(default_factory=list)  # distinct cited AUs, first-mention order
    evidence: list[Evidence] = Field(default_factory=list)
    frame: str | None = None
    notes: list[str] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Scoring


class ClaimScore(BaseModel):
    """Grounding of one (AU, box) claim against the AU reference."""

    model_config = ConfigDict(extra="forbid")
    au: str | None
    box: Box | None
    iou: float | None = None  # None when the claim has no box
    center_inside: bool | None = None
    reference_active: bool | None = None
    hallucinated: bool | None = None


class SampleUsage(BaseModel):
    """What producing one answer cost, as recorded by the generate stage (None where not recorded)."""

    model_config = ConfigDict(extra="forbid")
    latency_s: float | None = None  # amortised seconds of the model call (docs/metrics.md)
    input_tokens: int | None = None
    output_tokens: int | None = None
    response_chars: int | None = None


class ScoredSample(Record):
    """A sample after scoring: label, status, grounding details. Never dropped."""

    sample_id: str
    label: str  # gold canonical name
    pred: str | None = None
    status: SampleStatus
    correct: bool
    error: str | None = None
    parsed: Parsed | None = None
    au_reference_id: str | None = None
    reference_status: str | None = None  # ok / no_face / error / missing
    claims: list[ClaimScore] = Field(default_factory=list)
    cited_aus: list[str] = Field(default_factory=list)
    active_aus: list[str] = Field(default_factory=list)
    hallucinated_aus: list[str] = Field(default_factory=list)
    evidence_consistent: bool | None = None
    grounded_correct: bool | None = None
    usage: SampleUsage | None = None  # of an ok generation

    @model_validator(mode="after")
    def _correct_is_derived(self) -> ScoredSample:
        if self.correct != (self.status == "ok" and self.pred == self.label):
            raise ValueError(
                f"sample {self.sample_id!r}: correct={self.correct} contradicts status/pred/label"
            )
        return self


# --------------------------------------------------------------------------------------------------
# Runs


class TaskInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: int
    dataset: str
    split: str
    protocol: str
    classes: list[str]
    prompt: str
    layout: str | None = None
    labels_source: str | None = None
    n_samples: int | None = None


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    adapter: str
    args: dict[str, Any] = Field(default_factory=dict)  # secrets redacted
    fingerprint: str
    frame: str | None = None
    oracle_reference: bool = False  # reads the AU reference itself (facs-rules): an upper bound


class ScoringInfo(BaseModel):
    """How the run's current scores were computed."""

    model_config = ConfigDict(extra="forbid")
    n_resamples: int
    seed: int


class GenerationInfo(BaseModel):
    """How the generate stage ran: the conditions the usage metrics (latency, throughput) were measured
    under, and what it did, summed over the sessions of a resumed run."""

    model_config = ConfigDict(extra="forbid")
    timed: bool  # the engine timed the adapter's calls (each generation's latency_s)
    batch_size: int  # samples per adapter call
    concurrency: int  # requests the adapter serves at once (an API adapter's requests in flight)
    device: str | None = None  # where the model ran, as the adapter says
    world_size: int = 1  # data-parallel processes
    seconds: float = 0.0  # wall-clock time of the stage, summed over sessions
    sessions: int = 0
    model_calls: int = 0  # current generations produced by a model call (not served from the cache)
    cached: int = 0  # current generations served from the generation cache


class ShardState(Record):
    """One shard of a sharded run (``tag-bench run --shard I/N``), written only by that shard: what it
    covers, how far it got and how long it took (summed over its sessions)."""

    method: str  # tag_bench.generate.shards.SHARDING_METHOD
    index: int
    count: int
    status: Literal["running", "interrupted", "failed", "complete"] = "running"
    status_reason: str | None = None
    n_samples: int  # the run's samples (a prefix of the split) this shard chose its own from
    assigned: int  # of them, this shard's
    skipped_done: int = 0  # already written when this session started (by any shard, any N)
    generated: int = 0  # records this session wrote
    errors: int = 0  # of them, status error
    model_calls: int = 0  # of them, from a model call (not the cache)
    started: str  # this session, ISO 8601 UTC
    updated: str  # the last record written (a heartbeat while running)
    host: str | None = None
    pid: int | None = None
    command: list[str] | None = None
    generation: GenerationInfo | None = None  # finished sessions of this shard, summed


class DataIdentity(BaseModel):
    """What a run was scored on, as hashes (tag_bench.comparability): runs that differ here never share a
    column."""

    model_config = ConfigDict(extra="forbid")
    n: int  # samples of the index
    samples: str  # hash of the sample-id set
    labels: str  # hash of (sample id, gold label)
    images: str  # hash of (sample id, sha256 of the presented image)
    unreadable_images: int = 0  # images that could not be read (hashed as unreadable)


# --------------------------------------------------------------------------------------------------
# Interventions (the intervene stage: tag_bench.intervene)

#: The standard conditions of the intervene stage, in report order (docs/faithfulness.md).
INTERVENTION_CONDITIONS: tuple[str, ...] = ("none", "cited", "control", "habitual", "keep")


class Placement(BaseModel):
    """What one condition fills on one sample's image (presented-image pixels)."""

    model_config = ConfigDict(extra="forbid")
    condition: str  # none, cited, control, habitual, keep, or drop:AU12 (leave one cited AU out)
    boxes: list[Box] = Field(default_factory=list)  # the filled boxes (keep: the boxes kept)
    inverse: bool = False  # keep: everything outside ``boxes`` is filled
    filled_area: float = 0.0  # pixels filled
    cited_area: float = 0.0  # pixels of the cited boxes' union
    overlap: float = 0.0  # share of the filled pixels that lie inside the cited union
    method: str | None = None  # control: "reference" (un-cited AUs' regions) or "random"; habitual: "mapped"
    source: str | None = None  # control: the AUs whose regions were used; habitual: the other sample's id


class InterventionPlan(Record):
    """One sample's deterministic interventions (``interventions/plan.jsonl``), seeded by its id."""

    sample_id: str
    tested: bool
    reason: str | None = None  # why the sample is not tested
    original: str | None = None  # the original parsed label
    correct: bool = False  # the original answer was right
    image_sha256: str | None = None
    image_size: Size | None = None
    face_box: Box | None = None
    face_source: Literal["reference", "image"] | None = None
    placements: list[Placement] = Field(default_factory=list)

    def placement(self, condition: str) -> Placement | None:
        return next((p for p in self.placements if p.condition == condition), None)


class ConditionAnswer(BaseModel):
    """The re-asked model's answer under one condition, against the original."""

    model_config = ConfigDict(extra="forbid")
    status: SampleStatus
    pred: str | None = None
    flip: bool  # the answer is not the original label: another label, no answer that parses, or none
    kind: Literal["label", "unparsed"] | None = None  # label: parsed to another label; unparsed: no label
    logprob: float | None = None  # of the original answer span, the original reasoning kept as prefix
    answer_only_logprob: float | None = None  # of the original answer span right after the prompt
    error: str | None = None


class AnswerScore(Record):
    """The original answer's teacher-forced log-probabilities on one set's image (``scores.jsonl``)."""

    sample_id: str
    logprob: float | None = None  # the original reasoning kept as prefix
    answer_only_logprob: float | None = None  # the answer right after the prompt
    error: str | None = None


class InterventionOutcome(Record):
    """One sample under every condition of one fill (``interventions/<fill>/outcomes.jsonl``)."""

    sample_id: str
    fill: str
    tested: bool
    reason: str | None = None
    original: str | None = None
    correct: bool = False
    logprob: float | None = None  # the original answer span on the original image (reasoning kept)
    answer_only_logprob: float | None = None
    answers: dict[str, ConditionAnswer] = Field(default_factory=dict)  # by condition


class GapTest(BaseModel):
    """The exact McNemar test of one gap of one fill on the paired flips, Holm-adjusted over the run's fills
    and both gaps."""

    model_config = ConfigDict(extra="forbid")
    fill: str
    metric: str  # faithfulness_gap or specificity_gap
    other: str  # the condition cited is compared with (control, habitual)
    n: int  # tested samples
    cited_only: int  # samples that flip under cited and not under the other condition
    other_only: int
    p_value: float
    p_holm: float | None = None


class FlipBin(BaseModel):
    """Flips of one condition among the tested samples whose filled area (share of the image) is in a bin."""

    model_config = ConfigDict(extra="forbid")
    condition: str
    low: float
    high: float
    n: int
    flips: int
    rate: float | None = None
    ci_low: float | None = None  # Wilson
    ci_high: float | None = None


class AUFlips(BaseModel):
    """``--per-au``: flips when only the boxes cited for one AU are filled, among the samples citing it."""

    model_config = ConfigDict(extra="forbid")
    au: str
    n: int
    flips: int
    rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


class FillSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fill: str
    n: int  # samples of the run
    tested: int
    untested: dict[str, int] = Field(default_factory=dict)  # reason -> samples
    failed_calls: dict[str, int] = Field(default_factory=dict)  # condition -> answers that are errors
    area_bins: list[FlipBin] = Field(default_factory=list)
    per_au: list[AUFlips] = Field(default_factory=list)


class InterventionSummary(Record):
    """``interventions/summary.json``: what the metric table cannot hold, for every fill of the run."""

    fills: list[FillSummary] = Field(default_factory=list)
    tests: list[GapTest] = Field(default_factory=list)
    correction: Literal["holm"] = "holm"


class InterventionSet(BaseModel):
    """One fill's intervention set as recorded in the manifest."""

    model_config = ConfigDict(extra="forbid")
    fill: str
    conditions: list[str]  # every condition answered for this fill (none included), report order
    limit: int | None = None  # only the first N tested samples (--limit)
    fill_version: int | None = None  # tag_bench.intervene.fills.FILL_VERSION when the set was made
    status: Literal["complete", "interrupted"] = "complete"
    source: Literal["model", "predictions"] = "model"  # re-asked by tag-bench, or answers brought back
    tested: int = 0
    model_calls: int = 0
    updated: str | None = None


class InterventionsInfo(BaseModel):
    """The intervene stage of a run: how it was planned and the sets it made (never deleted)."""

    model_config = ConfigDict(extra="forbid")
    version: int  # tag_bench.intervene.INTERVENE_VERSION at planning
    au_reference_id: str | None  # the reference whose face boxes and regions placed the controls
    plan_sha256: str  # hash of interventions/plan.jsonl
    model_fingerprint: str  # of the adapter that answered
    scoring: str | None = None  # why answer log-probabilities are not computed (None: computed)
    sets: list[InterventionSet] = Field(default_factory=list)

    def set_of(self, fill: str) -> InterventionSet | None:
        return next((s for s in self.sets if s.fill == fill), None)


#: Keys that manifests written before these fields were typed kept in ``extra``.
_LEGACY_EXTRA = (
    "task_fingerprint",
    "index_sha256",
    "warnings",
    "resumed_at",
    "au_reference_id",
    "scored_with",
)


class RunManifest(Record):
    """Everything needed to reproduce or re-score a run."""

    run_id: str
    name: str | None = None  # display name given with --name (tables show it instead of the model)
    created: str  # ISO 8601 UTC
    task: TaskInfo
    model: ModelInfo
    prompt_id: str
    prompt_hash: str
    gen_kwargs: dict[str, Any] = Field(default_factory=dict)
    batch_size: int | None = None
    limit: int | None = None
    au_reference: str | None = None  # source spec used for scoring
    train_source: str | None = None
    data_root: str | None = None
    seeds: dict[str, int] = Field(default_factory=dict)
    packages: dict[str, str] = Field(default_factory=dict)
    git_revision: str | None = None
    tag_bench_version: str | None = None
    command: list[str] | None = None
    cwd: str | None = None  # the folder ``command`` ran in: its relative paths are relative to it
    status: Literal["running", "interrupted", "failed", "complete"] = "running"
    status_reason: str | None = None  # why the run is failed or interrupted, and what to do about it
    world_size: int = 1
    task_fingerprint: str | None = None  # the task definition's hash (resume check)
    index_sha256: str | None = None  # the whole split's sample list (resume check)
    warnings: list[str] = Field(default_factory=list)  # dataset and adapter warnings at start
    resumed_at: list[str] = Field(default_factory=list)
    au_reference_id: str | None = None  # reference id of the current scores (None: scored without)
    scoring: ScoringInfo | None = None
    generation: GenerationInfo | None = None  # None: no generate stage recorded (replayed predictions)
    data_identity: DataIdentity | None = None  # what the run was scored on (None: scored before it was kept)
    interventions: InterventionsInfo | None = None  # the intervene stage (None: not run)
    extra: dict[str, Any] = Field(default_factory=dict)  # free-form provenance; never run identity

    @model_validator(mode="before")
    @classmethod
    def _typed_legacy_extra(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("extra"), dict):
            extra = dict(data["extra"])
            data = {**data, "extra": extra}
            for key in _LEGACY_EXTRA:
                if key in extra and key not in data:
                    value = extra.pop(key)
                    data["scoring" if key == "scored_with" else key] = value
        return data


class MetricValue(BaseModel):
    """One number with its confidence interval, in the metric's unit (rates in [0, 1])."""

    model_config = ConfigDict(extra="forbid")
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    #: how ci_low / ci_high were computed; wilson-boundary: a bootstrap rate at exactly 0 or 1, whose
    #: bootstrap distribution is one point, gets the Wilson interval on its contributing samples
    #: newcombe-paired: a paired difference of two rates with no discordant sample, whose bootstrap
    #: distribution is one point, gets Newcombe's interval for paired proportions
    ci_method: (
        Literal["bootstrap", "wilson", "wilson-boundary", "order-statistic", "newcombe-paired"] | None
    ) = None


class MetricsReport(Record):
    """``metrics.json``: every metric of the metric table with its CI, plus the breakdowns."""

    classes: list[str]
    n: int
    metrics: dict[str, MetricValue]
    confusion_matrix: dict[str, Any]  # classes, matrix (rows gold, cols predicted), failed (per gold)
    status_counts: dict[str, int]
    status_rates: dict[str, float]
    au_reference: str | None = None
    reference_status_counts: dict[str, int]
    parse_notes: dict[str, int] = Field(default_factory=dict)  # samples with a parser note of each kind
    not_computed: dict[str, str]  # metric -> why its value is None
    bootstrap: dict[str, Any]  # n_resamples, ci, seed, unit
    run_status: Literal["running", "interrupted", "failed", "complete"] | None = (
        None  # the run's, when scored
    )
    scoring_version: int | None = None  # tag_bench.comparability.SCORING_VERSION (None: scored before it)
    not_run: dict[str, str] = Field(default_factory=dict)  # metric -> command of the stage not run yet


class MetricDifference(Record):
    """One metric of run A and run B on the same samples, and the paired difference ``a - b``."""

    value_a: float | None
    value_b: float | None
    diff: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    test: Literal["mcnemar", "paired-bootstrap"] | None = None  # what gave p_value
    p_value_holm: float | None = None  # Holm-adjusted over every metric of the comparison


class PairedComparison(Record):
    """Paired bootstrap of every metric difference, plus exact McNemar on per-sample correctness."""

    n: int
    differences: dict[str, MetricDifference]
    mcnemar: dict[str, float]  # b (A right, B wrong), c (A wrong, B right), p_value
    not_computed: dict[str, str]
    bootstrap: dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Judged preference (``tag-bench judge``): a judge model compares the traces of several runs pairwise

#: Why a judge call gave no usable verdict: no ``[[A]]``/``[[B]]``/``[[C]]`` in the reply, several that
#: disagree, the call failed, or the image could not be read.
JudgeFailure = Literal["no_verdict", "conflicting_verdicts", "call_error", "image_error"]


class Judgement(Record):
    """One comparison of two candidates' responses to one sample, in one order (``a`` shown as Response
    A), and the verdict read from the judge's reply (``judgements.jsonl``, append-only).

    ``status``: ``ok`` (a verdict was read), ``judge_failed`` (``failure`` says why; the comparison stays
    counted) or ``no_response`` (one candidate has no response for the sample: nothing to judge, no call
    made; recorded once per comparison, in the candidates' order)."""

    sample_id: str
    a: str  # candidate name shown as Response A
    b: str  # candidate name shown as Response B
    status: Literal["ok", "judge_failed", "no_response"]
    verdict: Literal["A", "B", "C"] | None = None  # as the judge wrote it (C: tie)
    failure: JudgeFailure | None = None
    error: str | None = None
    missing: list[str] = Field(default_factory=list)  # no_response: the candidates without a response
    text: str | None = None  # the judge's raw reply
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    label_a: str | None = None  # each candidate's parsed label (the same-label ratings use them)
    label_b: str | None = None
    len_a: int | None = None  # characters of each canonical trace shown (the length-controlled rating)
    len_b: int | None = None
    prompt_hash: str | None = None  # of the rendered judge prompt
    image_key: str | None = None  # what the judge saw: image sha256 + the boxes drawn (None: no image)
    cached: bool = False
    cache_key: str | None = None


class JudgeCandidate(BaseModel):
    """One judged run: where it is, what it is, and its comparability key when it was judged."""

    model_config = ConfigDict(extra="forbid")
    name: str  # unique within the study; names the candidate in judgements and tables
    run_dir: str
    run_id: str
    task: str
    model: ModelInfo
    prompt_id: str
    prompt_hash: str
    key: dict[str, Any] = Field(default_factory=dict)  # tag_bench.comparability key parts


class JudgeManifest(Record):
    """``manifest.json`` of a judge run directory: the judge, the rubric, the candidates, the samples."""

    kind: Literal["judge"] = "judge"
    run_id: str
    created: str
    judge: ModelInfo  # adapter, args (secrets redacted), fingerprint
    template_id: str
    template_hash: str
    template_source: str  # "built-in" or the --template file
    gen_kwargs: dict[str, Any] = Field(default_factory=dict)  # temperature 0 unless asked
    candidates: list[JudgeCandidate]
    baseline: str | None = None  # --baseline: only pairs with it, ratings anchored at it
    task: TaskInfo  # of the candidates (their shared classes and data); name: the study's task name
    sample_ids: list[str]  # the judged samples (sorted)
    samples_requested: int | None = None  # --samples N
    data_identity: DataIdentity  # of the judged samples
    show_image: bool = True
    show_gold: bool = False
    image_min_side: int | None = None  # the judge image is enlarged to at least this longer side
    blind_salt: str  # salts the blinded item ids of `judge export`
    seeds: dict[str, int] = Field(default_factory=dict)
    packages: dict[str, str] = Field(default_factory=dict)
    git_revision: str | None = None
    tag_bench_version: str | None = None
    command: list[str] | None = None
    status: Literal["running", "interrupted", "failed", "complete"] = "running"
    status_reason: str | None = None
    warnings: list[str] = Field(default_factory=list)
    resumed_at: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class PairwiseWinRate(BaseModel):
    """How often ``a`` beat ``b`` over their comparisons used in the fit (ties as half wins)."""

    model_config = ConfigDict(extra="forbid")
    a: str
    b: str
    wins: int  # a preferred in both orders
    ties: int  # a tie in both orders, or the orders disagree
    losses: int
    win_rate: MetricValue  # (wins + ties / 2) / n, Wilson interval


class CandidateRatings(BaseModel):
    """One candidate's figures: every per-candidate judge metric of the metric table."""

    model_config = ConfigDict(extra="forbid")
    name: str
    metrics: dict[str, MetricValue]
    not_computed: dict[str, str] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)  # e.g. a rating resting on a high judge failure rate


class JudgeReport(Record):
    """``metrics.json`` of a judge run directory."""

    kind: Literal["judge"] = "judge"
    n_samples: int
    n_comparisons: int  # sample x pair
    status_counts: dict[
        str, int
    ]  # comparisons by outcome: ok, position_inconsistent, judge_failed, no_response
    failure_counts: dict[str, int]  # judge calls by JudgeFailure
    candidates: list[CandidateRatings]  # in the manifest's order
    study: dict[str, MetricValue]  # study-level judge metrics
    not_computed: dict[str, str] = Field(default_factory=dict)
    win_rates: list[PairwiseWinRate] = Field(default_factory=list)
    rating_p_values: dict[str, dict[str, float]] = Field(default_factory=dict)  # bt_rating: "a|b" -> p
    anchor: str  # "mean" (ratings sum to 0) or the baseline's name (rated 0)
    connected: bool  # the comparison graph of the fit joins every candidate
    components: list[list[str]] = Field(default_factory=list)
    prior: dict[str, float] = Field(default_factory=dict)  # the ridge of the Bradley-Terry fits
    bootstrap: dict[str, Any] = Field(default_factory=dict)
    max_failure_rate: float  # above it a rating is flagged
    run_status: Literal["running", "interrupted", "failed", "complete"] | None = None


class AgreementReport(Record):
    """``tag-bench judge agree``: how often a judge agrees with people or with another judge."""

    source: str  # "human" or "judge"
    judge_run: str
    other: str  # the human CSV, or the other judge run
    labels: list[str]  # the confusion matrix's order
    n_items: int  # items compared (both sides gave a verdict)
    n_left_out: dict[str, int] = Field(default_factory=dict)  # items without a verdict on one side, why
    metrics: dict[str, MetricValue]  # agreement, cohen_kappa, krippendorff_alpha (several raters)
    not_computed: dict[str, str] = Field(default_factory=dict)
    confusion: list[list[int]]  # rows: the judge, columns: the other side
    raters: list[str] = Field(default_factory=list)
    bootstrap: dict[str, Any] = Field(default_factory=dict)
