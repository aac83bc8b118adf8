"""The metric table: every fact about every metric, declared once.

Aggregation, ``not_computed`` reasons, confidence intervals, leaderboards, ``compare`` and
``docs/metrics.md`` all read :data:`METRICS`. A metric is a ratio of two column sums of the
per-sample feature rows (:mod:`tag_bench.scoring.features`) or, for the class-averaged metrics, a
function of those sums; either way the same formula gives the point estimate and every bootstrap
resample. Metric names are a public contract: add names, never rename.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from tag_bench.parsing.notes import NOTE_CODES
from tag_bench.scoring.units import UnitName, unit_of

Level = Literal["sample", "claim", "au", "class", "run", "comparison"]
#: bootstrap: percentile bootstrap over samples; wilson: Wilson score interval of a sample proportion;
#: order-statistic: the distribution-free interval of a quantile; none: no interval (run-level figures).
CIMethod = Literal["bootstrap", "wilson", "order-statistic", "none"]
#: none: needs no AU reference; run: needs the run to be scored against one; covered: computed over the
#: samples whose reference is usable (status ok), the same way for every such metric.
ReferenceScope = Literal["none", "run", "covered"]
Group = Literal["classification", "per_class", "grounding", "usage", "judge", "faithfulness"]
#: sums: a function of column sums of the feature rows; quantile: a quantile of one per-sample column
#: over the samples where another is set; run: a ratio of two run-level figures of the manifest; judge:
#: a figure of a judge study (:data:`JUDGE_METRICS`), computed by :mod:`tag_bench.judge.report`.
Kind = Literal["sums", "quantile", "run", "judge"]
Sums = Mapping[str, np.ndarray]


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where the denominator is empty."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


@dataclass(frozen=True)
class MetricSpec:
    """One metric. Per-class entries are templates: ``{cls}`` stands for each class of the task.

    ``higher_is_better`` None: the metric has no better direction. ``informational``: shown and
    compared, never marked best and never a regression unless a ``compare`` tolerance names it (a
    metric without a direction is always informational). ``requires`` names run facts the metric needs
    besides an AU reference (e.g. ``timing``); a run that lacks one says why in ``not_computed``.
    """

    name: str
    title: str  # short column title for tables
    group: Group
    description: str  # the definition, as published in docs/metrics.md
    higher_is_better: bool | None
    level: Level  # what its denominator counts
    denominator: str  # named sum: the denominator, reported as the metric's n unless ``support`` says
    numerator: str | None = None  # named sum; None when ``value`` computes the metric
    value: Callable[[Sums], np.ndarray] | None = None
    support: str | None = None  # named sum reported as n when it is not the denominator
    reference: ReferenceScope = "none"
    ci_method: CIMethod = "bootstrap"
    empty_reason: str = "no samples"
    unit: UnitName = "rate"
    headline: bool = False  # printed in the run summary
    informational: bool = False
    hardware_dependent: bool = False  # depends on the machine and serving set-up (tables say so)
    kind: Kind = "sums"
    quantile: float | None = None  # kind quantile: which one; ``numerator`` is the value column
    requires: tuple[str, ...] = ()
    #: a paired difference of two per-sample 0/1 sums over the denominator (faithfulness_gap): when no
    #: sample differs, its bootstrap distribution is one point and Newcombe's paired interval is used
    difference: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.higher_is_better is None and not self.informational:
            object.__setattr__(self, "informational", True)

    def compute(self, sums: Sums) -> np.ndarray:
        if self.value is not None:
            return self.value(sums)
        assert self.numerator is not None, self.name
        return ratio(sums[self.numerator], sums[self.denominator])

    def count(self, sums: Sums) -> np.ndarray:
        return sums[self.support or self.denominator]

    @property
    def needs_reference(self) -> bool:
        return self.reference != "none"

    @property
    def needs(self) -> tuple[str, ...]:
        """The run facts this metric needs, in the order their absence is reported: ``evidence`` (the
        prompt asks for it, or a reference was chosen), ``reference``, ``coverage``, then ``requires``."""
        out: tuple[str, ...] = ("evidence",) if self.group == "grounding" else ()
        out += {"none": (), "run": ("reference",), "covered": ("reference", "coverage")}[self.reference]
        return out + self.requires

    @property
    def ranked(self) -> bool:
        """Tables mark its best value (it has a direction and is not informational)."""
        return self.higher_is_better is not None and not self.informational

    def for_class(self, cls: str) -> MetricSpec:
        """The concrete entry of a per-class template."""
        if self.group != "per_class":
            return self

        def sub(text: str | None) -> str | None:
            return None if text is None else text.format(cls=cls, cls_repr=repr(cls))

        return replace(
            self,
            name=sub(self.name) or self.name,
            title=sub(self.title) or self.title,
            description=sub(self.description) or self.description,
            numerator=sub(self.numerator),
            denominator=sub(self.denominator) or self.denominator,
            support=sub(self.support),
            empty_reason=sub(self.empty_reason) or self.empty_reason,
        )


def _balanced_accuracy(s: Sums) -> np.ndarray:
    support, tp = s["support"], s["tp"]
    has_gold = support > 0
    n_gold = has_gold.sum(axis=-1)
    recall_sum = np.where(has_gold, tp / np.where(has_gold, support, 1.0), 0.0).sum(axis=-1)
    return ratio(recall_sum, n_gold.astype(float))


def _macro_f1(s: Sums) -> np.ndarray:
    # over the classes that occur (gold or predicted): exactly where per-class F1 is defined
    den = s["support"] + s["predicted"]
    occurs = den > 0
    f1_sum = np.where(occurs, 2 * s["tp"] / np.where(occurs, den, 1.0), 0.0).sum(axis=-1)
    return ratio(f1_sum, occurs.sum(axis=-1).astype(float))


_NO_BOX_CLAIMS = "no box claims on samples with a usable AU reference"


# --------------------------------------------------------------------------------------------------
# Faithfulness by intervention (the intervene stage, tag_bench.intervene; docs/faithfulness.md)

_CONDITION_WORDS = {
    "none": "the unmodified image asked again with the generation cache bypassed (the model's own "
    "non-determinism: every other flip rate is read against it)",
    "cited": "the union of the cited boxes filled",
    "control": "boxes of the cited sizes filled at the regions of AUs the reply did not cite (else at random "
    "in the face), overlapping the cited union by at most 10 % and matching its area within 10 %",
    "habitual": "the same model's cited boxes of another sample, mapped to this face and area-matched, "
    "filled (the salience control)",
    "keep": "everything outside the cited union filled (sufficiency)",
}
_TESTED = "samples whose original answer parsed to a label and cites at least one usable box"
_NO_TESTED = "no tested sample"


def _parse_loss(c: str) -> Callable[[Sums], np.ndarray]:
    return lambda s: ratio(s[f"iv_flip_{c}"] - s[f"iv_label_{c}"], s["iv_tested"])


def _gap(a: str, b: str) -> Callable[[Sums], np.ndarray]:
    return lambda s: ratio(s[f"iv_flip_{a}"] - s[f"iv_flip_{b}"], s["iv_tested"])


def _faithfulness_metrics() -> list[MetricSpec]:
    out = [
        MetricSpec(
            "intervention_coverage",
            "Tested",
            "faithfulness",
            f"Share of samples the intervene stage tests: {_TESTED}, where every condition can be placed. "
            "The reasons for the rest are in the run's interventions/summary.json.",
            True,
            "sample",
            "samples",
            numerator="iv_tested",
            ci_method="wilson",
            informational=True,
            requires=("interventions",),
        )
    ]
    for c in ("none", "cited", "control", "habitual", "keep"):
        needs = ("interventions", "tested", f"condition:{c}")
        what = _CONDITION_WORDS[c]
        out += [
            MetricSpec(
                f"{c}_flip_rate",
                f"Flip {c}",
                "faithfulness",
                f"Share of tested samples whose answer under **{c}** ({what}) is not the original label: "
                "another label, a reply that no longer parses, or a failed call.",
                False if c == "none" else None,
                "sample",
                "iv_tested",
                numerator=f"iv_flip_{c}",
                ci_method="wilson",
                informational=True,
                requires=needs,
                empty_reason=_NO_TESTED,
            ),
            MetricSpec(
                f"{c}_label_change_rate",
                f"Other label {c}",
                "faithfulness",
                f"Share of tested samples whose answer under **{c}** parsed to another label than the original.",
                None,
                "sample",
                "iv_tested",
                numerator=f"iv_label_{c}",
                ci_method="wilson",
                requires=needs,
                empty_reason=_NO_TESTED,
            ),
            MetricSpec(
                f"{c}_parse_loss_rate",
                f"No label {c}",
                "faithfulness",
                f"Share of tested samples whose answer under **{c}** no longer parses to a label (or whose call "
                f"failed): `{c}_flip_rate` = `{c}_label_change_rate` + this.",
                None,
                "sample",
                "iv_tested",
                value=_parse_loss(c),
                requires=needs,
                empty_reason=_NO_TESTED,
            ),
        ]
    for name, title, other, words in (
        ("faithfulness_gap", "Faithfulness gap", "control", "the answer depends on the cited regions more "
         "than on regions of the same area the model did not cite"),
        ("specificity_gap", "Specificity gap", "habitual", "the answer depends on this face's cited regions "
         "more than on the regions the model habitually cites (salience)"),
    ):  # fmt: skip
        out.append(
            MetricSpec(
                name,
                title,
                "faithfulness",
                f"`cited_flip_rate` - `{other}_flip_rate` over the same tested samples, in points: above 0, "
                f"{words}. Paired bootstrap interval over samples (Newcombe's paired interval when every "
                "sample gives the same difference); the exact McNemar test on the paired flips, Holm-adjusted "
                "over the fills and both gaps, is in interventions/summary.json.",
                True,
                "sample",
                "iv_tested",
                value=_gap("cited", other),
                unit="rate_difference",
                requires=("interventions", "tested", "condition:cited", f"condition:{other}"),
                empty_reason=_NO_TESTED,
                difference=("iv_flip_cited", f"iv_flip_{other}"),
                headline=False,
            )
        )
    out.append(
        MetricSpec(
            "cited_accuracy_drop",
            "Acc. drop cited",
            "faithfulness",
            "Among tested samples whose original answer was right, the share that is no longer right under "
            "**cited**.",
            None,
            "sample",
            "iv_correct",
            numerator="iv_correct_cited_flip",
            ci_method="wilson",
            requires=("interventions", "tested", "condition:cited"),
            empty_reason="no tested sample was originally right",
        )
    )
    for v, title, words in (
        ("lp", "answer_logprob_drop", "with the original reasoning kept as prefix (ERASER's comprehensiveness "
         "with the reasoning held fixed)"),
        ("lpa", "answer_only_logprob_drop", "with the answer right after the prompt (no reasoning: the "
         "reasoning usually states the conclusion already)"),
    ):  # fmt: skip
        for c in ("cited", "control", "habitual", "keep"):
            out.append(
                MetricSpec(
                    f"{title}_{c}",
                    f"{'LP' if v == 'lp' else 'LP answer'} drop {c}",
                    "faithfulness",
                    f"Mean drop, in nats, of the teacher-forced log-probability of the original answer span "
                    f"{words}, from the original image to the **{c}** image, over the tested samples scored. "
                    "Only for adapters that can score text (hf; vllm through prompt log-probabilities).",
                    None,
                    "sample",
                    f"iv_{v}n_{c}",
                    numerator=f"iv_{v}_{c}",
                    unit="nats",
                    requires=("interventions", "tested", f"condition:{c}", "answer_logprobs"),
                    empty_reason="no tested sample's answer was scored",
                )
            )
    return out


#: Every metric, in report order (``metrics.json`` keeps this order). Extended only by :func:`register_metric`.
METRICS: list[MetricSpec] = [
    # classification ------------------------------------------------------------------------------
    MetricSpec(
        "accuracy",
        "Acc.",
        "classification",
        "correct / N. N counts every sample of the split, including unreadable answers, answers outside the "
        "task's classes, failed calls and missing predictions (they are all wrong). This is WAR.",
        True,
        "sample",
        "samples",
        numerator="correct",
        ci_method="wilson",
        headline=True,
    ),
    MetricSpec(
        "balanced_accuracy",
        "UAR",
        "classification",
        "Mean over the classes that have gold samples of per-class recall (UAR); equals "
        "`sklearn.metrics.balanced_accuracy_score` with failures mapped to a label outside the classes.",
        True,
        "sample",
        "samples",
        value=_balanced_accuracy,
        headline=True,
    ),
    MetricSpec(
        "macro_f1",
        "mF1",
        "classification",
        "Unweighted mean of per-class F1 over the task's classes that occur in the split's gold labels or "
        "predictions, i.e. exactly the classes whose `f1/<class>` is defined; equals "
        "`f1_score(y_true, y_pred, labels=<those classes>, average='macro')` with failures mapped to a label "
        "outside the classes. A class that neither occurs nor is predicted is left out, not counted as 0.",
        True,
        "sample",
        "samples",
        value=_macro_f1,
        headline=True,
    ),
    MetricSpec(
        "accuracy_parsed",
        "Acc. (parsed)",
        "classification",
        "Accuracy over samples whose answer parsed to a label of the task's classes (reported beside "
        "`accuracy`, never instead of it).",
        True,
        "sample",
        "parsed",
        numerator="correct",
        ci_method="wilson",
        empty_reason="no answer parsed to a label of the task's classes",
    ),
    MetricSpec(
        "parse_failure_rate",
        "Parse fail",
        "classification",
        "Share of samples whose reply could not be read as one answer: status `no_answer`, `ambiguous`, "
        "`refusal` or `truncated`.",
        False,
        "sample",
        "samples",
        numerator="parse_failed",
        ci_method="wilson",
        headline=True,
    ),
    MetricSpec(
        "invalid_label_rate",
        "Invalid label",
        "classification",
        "Share of samples whose reply parsed to an emotion outside the task's class list (e.g. contempt on a "
        "7-class task): a real, wrong answer, not a parse failure.",
        False,
        "sample",
        "samples",
        numerator="invalid_label",
        ci_method="wilson",
    ),
    MetricSpec(
        "error_rate",
        "Error",
        "classification",
        "Share of samples whose model call or image failed (status `error`).",
        False,
        "sample",
        "samples",
        numerator="errored",
        ci_method="wilson",
    ),
    MetricSpec(
        "missing_rate",
        "Missing",
        "classification",
        "Share of samples with no generation or prediction at all (status `missing`).",
        False,
        "sample",
        "samples",
        numerator="missing",
        ci_method="wilson",
    ),
    # per class -----------------------------------------------------------------------------------
    MetricSpec(
        "recall/{cls}",
        "Recall {cls}",
        "per_class",
        "Recall of class {cls}: correct / gold samples of the class (failures included); n = gold support.",
        True,
        "class",
        "support/{cls}",
        numerator="tp/{cls}",
        ci_method="wilson",
        empty_reason="no gold samples of class {cls_repr}",
    ),
    MetricSpec(
        "precision/{cls}",
        "Precision {cls}",
        "per_class",
        "Precision of class {cls}: correct / predictions of the class; n = predictions.",
        True,
        "class",
        "predicted/{cls}",
        numerator="tp/{cls}",
        ci_method="wilson",
        empty_reason="no predictions of class {cls_repr}",
    ),
    MetricSpec(
        "f1/{cls}",
        "F1 {cls}",
        "per_class",
        "F1 of class {cls}: 2 tp / (gold support + predictions); n = gold support.",
        True,
        "class",
        "f1_den/{cls}",
        numerator="f1_num/{cls}",
        support="support/{cls}",
        empty_reason="no gold samples and no predictions of class {cls_repr}",
    ),
    # grounding -----------------------------------------------------------------------------------
    MetricSpec(
        "box_rate",
        "Box rate",
        "grounding",
        "Share of samples with at least one parsed box.",
        True,
        "sample",
        "samples",
        numerator="has_box",
        ci_method="wilson",
    ),
    MetricSpec(
        "unusable_box_rate",
        "Unusable boxes",
        "grounding",
        "Share of the boxes the replies wrote that could not be used: non-finite numbers, not four numbers, a "
        "frame that cannot be converted, zero area, or no overlap with the image (each named by a parser note "
        "or the evidence's `box_status`). These boxes are not claims with a box: the IoU metrics are over the "
        "usable boxes only, so read them beside this rate.",
        False,
        "claim",
        "cited_boxes",
        numerator="unusable_boxes",
        empty_reason="no reply wrote a box",
    ),
    MetricSpec(
        "reference_coverage",
        "Ref. coverage",
        "grounding",
        "Share of samples whose AU reference is usable (status ok). Samples without one (no face found, "
        "detector failed, no record) are left out of every metric below alike.",
        True,
        "sample",
        "samples",
        numerator="covered",
        reference="run",
        ci_method="wilson",
        headline=True,
    ),
    MetricSpec(
        "accuracy_covered",
        "Acc. (covered)",
        "grounding",
        "Accuracy over the samples with a usable AU reference: the like-for-like companion of "
        "`grounded_accuracy`.",
        True,
        "sample",
        "covered",
        numerator="correct_covered",
        reference="covered",
        ci_method="wilson",
        empty_reason="no sample has a usable AU reference",
    ),
    MetricSpec(
        "au_box_iou",
        "Box-AU IoU",
        "grounding",
        "Mean over claims with a box of IoU(claimed box, reference region of the claimed AU). A claim whose "
        "AU has no reference region scores 0 and is counted.",
        True,
        "claim",
        "box_claims",
        numerator="iou_sum",
        reference="covered",
        empty_reason=_NO_BOX_CLAIMS,
        headline=True,
    ),
    MetricSpec(
        "grounding_precision@0.5",
        "Ground. P@0.5",
        "grounding",
        "Share of box claims with IoU >= 0.5.",
        True,
        "claim",
        "box_claims",
        numerator="iou_ge_0.5",
        reference="covered",
        empty_reason=_NO_BOX_CLAIMS,
        headline=True,
    ),
    MetricSpec(
        "grounding_precision@0.3",
        "Ground. P@0.3",
        "grounding",
        "Share of box claims with IoU >= 0.3.",
        True,
        "claim",
        "box_claims",
        numerator="iou_ge_0.3",
        reference="covered",
        empty_reason=_NO_BOX_CLAIMS,
    ),
    MetricSpec(
        "pointing_accuracy",
        "Pointing",
        "grounding",
        "Share of box claims whose centre falls inside the reference region of the claimed AU.",
        True,
        "claim",
        "box_claims",
        numerator="center_inside",
        reference="covered",
        empty_reason=_NO_BOX_CLAIMS,
    ),
    MetricSpec(
        "hallucinated_au_rate",
        "Halluc. AU",
        "grounding",
        "Claim level (CHAIR-i style): cited AUs that the reference marks inactive / cited AUs the reference "
        "can judge (distinct per sample).",
        False,
        "au",
        "judged_aus",
        numerator="hallucinated_aus",
        reference="covered",
        empty_reason="no cited AU that the AU reference can judge",
        headline=True,
    ),
    MetricSpec(
        "hallucinated_sample_rate",
        "Halluc. samples",
        "grounding",
        "Sample level (CHAIR-s style): samples with at least one hallucinated AU / samples with at least "
        "one judged cited AU.",
        False,
        "sample",
        "samples_judged",
        numerator="samples_hallucinated",
        reference="covered",
        ci_method="wilson",
        empty_reason="no sample cites an AU that the AU reference can judge",
    ),
    MetricSpec(
        "unjudged_au_rate",
        "Unjudged AU",
        "grounding",
        "Cited AUs the reference has no activation for / cited AUs. Unjudged AUs are never counted as "
        "hallucinated.",
        False,
        "au",
        "cited_aus_covered",
        numerator="unjudged_aus",
        reference="covered",
        empty_reason="no cited AUs on samples with a usable AU reference",
    ),
    MetricSpec(
        "au_recall",
        "AU recall",
        "grounding",
        "Reference-active AUs that the model cites / reference-active AUs (micro over samples).",
        True,
        "au",
        "active_aus",
        numerator="active_cited",
        reference="covered",
        empty_reason="the AU reference marks no AU active in any sample",
    ),
    MetricSpec(
        "au_f1",
        "AU F1",
        "grounding",
        "Per-sample F1 between the judged cited AU set and the reference-active set, averaged over samples "
        "with a judged cited or an active AU.",
        True,
        "sample",
        "f1_samples",
        numerator="f1_sum",
        reference="covered",
        empty_reason="no sample with a cited (judgeable) or reference-active AU",
    ),
    MetricSpec(
        "evidence_consistency",
        "Evid. cons.",
        "grounding",
        "Share of samples with a parsed label and at least one cited AU where the cited AUs support the "
        "predicted emotion best among the EMFACS prototypes (Jaccard, ties allowed); neutral is consistent "
        "only with no expressive AU cited. Needs no reference.",
        True,
        "sample",
        "consistency_samples",
        numerator="consistent",
        ci_method="wilson",
        empty_reason="no sample with a parsed label and at least one cited AU",
    ),
    MetricSpec(
        "grounded_accuracy",
        "Grounded acc.",
        "grounding",
        "Right for the right reasons, over the samples with a usable AU reference: correct label AND at least "
        "one box claim with IoU >= 0.5 AND no hallucinated AU. Compare it with `accuracy_covered`.",
        True,
        "sample",
        "covered",
        numerator="grounded_correct",
        reference="covered",
        ci_method="wilson",
        empty_reason="no sample has a usable AU reference",
        headline=True,
    ),
    # usage ---------------------------------------------------------------------------------------
    MetricSpec(
        "latency_mean_s",
        "Latency (s)",
        "usage",
        "Mean latency of the samples whose generation records one: the wall-clock seconds of the model call "
        "that produced the sample divided by the number of samples that call served (a batch on a GPU, "
        "concurrent requests to a server), i.e. amortised seconds per sample. Cached generations keep the "
        "latency of the call that produced them.",
        False,
        "sample",
        "timed",
        numerator="latency_s",
        unit="seconds",
        headline=True,
        informational=True,
        hardware_dependent=True,
        requires=("timing",),
        empty_reason="no generation records a latency (every model call failed)",
    ),
    MetricSpec(
        "latency_p95_s",
        "Latency p95 (s)",
        "usage",
        "95th percentile of the per-sample latency of `latency_mean_s` (the order statistic at rank "
        "ceil(0.95 n)); its interval is the distribution-free binomial interval of that quantile.",
        False,
        "sample",
        "timed",
        numerator="latency_s",
        unit="seconds",
        informational=True,
        hardware_dependent=True,
        kind="quantile",
        quantile=0.95,
        ci_method="order-statistic",
        requires=("timing",),
        empty_reason="no generation records a latency (every model call failed)",
    ),
    MetricSpec(
        "throughput_samples_s",
        "Throughput (samples/s)",
        "usage",
        "Samples sent to the model (not served from the cache) per second of wall-clock time of the generate "
        "stage, summed over its sessions when a run was resumed; n = those samples. A run-level figure: no "
        "interval.",
        True,
        "run",
        "generate_seconds",
        numerator="model_calls",
        support="model_calls",
        unit="samples_per_s",
        informational=True,
        hardware_dependent=True,
        kind="run",
        ci_method="none",
        requires=("timing",),
        empty_reason="no sample was sent to the model in a timed generate stage (all cached or none recorded)",
    ),
    MetricSpec(
        "input_tokens_mean",
        "Input tokens",
        "usage",
        "Mean prompt tokens (text and image) per sample, as the model or server counted them, over the samples "
        "whose generation records a count.",
        None,
        "sample",
        "input_counted",
        numerator="input_tokens",
        unit="tokens",
        empty_reason="no generation records an input token count (the adapter or server reports none)",
    ),
    MetricSpec(
        "output_tokens_mean",
        "Output tokens",
        "usage",
        "Mean generated tokens per sample over the samples whose generation records a count.",
        None,
        "sample",
        "output_counted",
        numerator="output_tokens",
        unit="tokens",
        headline=True,
        empty_reason="no generation records an output token count (the adapter or server reports none)",
    ),
    MetricSpec(
        "response_chars_mean",
        "Response chars",
        "usage",
        "Mean length in characters of the response text over the samples with a response.",
        None,
        "sample",
        "responses",
        numerator="response_chars",
        unit="chars",
        empty_reason="no sample has a response text",
    ),
    *_faithfulness_metrics(),
]

BY_NAME: dict[str, MetricSpec] = {m.name: m for m in METRICS}


def register_metric(metric: MetricSpec) -> MetricSpec:
    """Add a metric after the built-in ones: every report, table, ``compare`` and summary then has it.

    Its numerator, denominator and support must be named sums (:func:`tag_bench.scoring.features.named_sums`)
    or, for a ``run`` metric, run-level figures. A name already taken is a ValueError (names are a public
    contract: never shadowed)."""
    if metric.name in BY_NAME or metric.name in JUDGE_BY_NAME:
        raise ValueError(f"metric {metric.name!r} is already defined")
    if metric.group == "per_class" and "{cls}" not in metric.name:
        raise ValueError(f"per-class metric {metric.name!r} must have {{cls}} in its name")
    METRICS.append(metric)
    BY_NAME[metric.name] = metric
    return metric


def unregister_metric(name: str) -> None:
    """Remove a metric added by :func:`register_metric` (built-in metrics cannot be removed)."""
    metric = BY_NAME.get(name)
    if metric is None or METRICS.index(metric) < _BUILT_IN:
        raise ValueError(f"{name!r} is not a registered metric")
    METRICS.remove(metric)
    del BY_NAME[name]


_BUILT_IN = len(METRICS)


# --------------------------------------------------------------------------------------------------
# Judged preference: the figures of a judge study (``tag-bench judge``)
#
# A separate table, because these are not functions of one run's per-sample feature rows: a rating is a
# property of a candidate within a study (a fit over every pair of candidates), computed by
# tag_bench.judge.report from the study's judgements. They never enter a run's metrics.json, the paired
# comparison of two runs or the invariants of tests/test_common_metrics.py; everything else reads them
# as it reads any metric (spec(), units, directions, CI methods, docs/metrics.md, leaderboards).

_FIT = (
    "fitted on the comparisons whose two orders both gave a verdict (the same comparison preferred in both orders "
    "is a win, a tie in both or verdicts that disagree across the swap a tie, counted as half a win each), "
    "anchored (at the --baseline, rated 0, else the ratings sum to 0), with a weak ridge (the `prior` of "
    "metrics.json) that keeps a candidate that wins or loses every comparison finite; 95 % percentile bootstrap "
    "over samples (every comparison of a drawn sample moves with it)"
)

#: Every figure of a judge study. Per candidate: JUDGE_CANDIDATE_METRICS; for the whole study:
#: JUDGE_STUDY_METRICS (both in metrics.json of the judge run directory).
JUDGE_METRICS: list[MetricSpec] = [
    MetricSpec(
        "bt_rating",
        "BT rating",
        "judge",
        "Bradley-Terry rating of the candidate's traces on the Elo scale (400 / ln 10 points per unit of "
        f"log-odds: 100 points apart is a 64 % chance of being preferred), {_FIT}.",
        True,
        "comparison",
        "comparisons",
        unit="elo",
        kind="judge",
        empty_reason="the candidate has no comparison with a verdict in both orders",
    ),
    MetricSpec(
        "bt_rating_lc",
        "BT rating (length-controlled)",
        "judge",
        "The Bradley-Terry rating with the length of the two traces as a covariate (Arena's style control): "
        "P(A preferred) = σ(θ_A − θ_B + γ (len_A − len_B) / (len_A + len_B)), lengths in characters of the "
        "canonical traces the judge saw; γ is `length_coefficient`. Same fit, anchor, ridge and bootstrap as "
        "`bt_rating`.",
        True,
        "comparison",
        "comparisons",
        unit="elo",
        kind="judge",
        empty_reason="the candidate has no comparison with a verdict in both orders",
    ),
    MetricSpec(
        "bt_rating_same_label",
        "BT rating (same label)",
        "judge",
        "The Bradley-Terry rating over the comparisons whose two responses parsed to the same label, so that a "
        "preference for the answer does not pass as one for the reasoning. Same fit, anchor, ridge and "
        "bootstrap as `bt_rating`.",
        True,
        "comparison",
        "comparisons_same_label",
        unit="elo",
        kind="judge",
        empty_reason="no comparison of this candidate in which both responses gave the same label",
    ),
    MetricSpec(
        "win_rate",
        "Win rate",
        "judge",
        "(wins + ties / 2) / comparisons of the candidate used in the fit, against every other candidate "
        "together; Wilson interval (ties as half a success). The pairwise matrix is `win_rates` of "
        "metrics.json.",
        True,
        "comparison",
        "comparisons",
        ci_method="wilson",
        kind="judge",
        empty_reason="the candidate has no comparison with a verdict in both orders",
    ),
    MetricSpec(
        "judge_failure_rate",
        "Judge fail",
        "judge",
        "Share of the comparisons sent to the judge (the candidate's, or the study's) in which at least one of "
        "the two orders gave no readable verdict (`judge_failed`: no `[[A]]`/`[[B]]`/`[[C]]`, verdicts that "
        "disagree within one reply, a failed call or an unreadable image). Such a comparison is left out of "
        "every fit (neither order is used) and stays in this denominator; a rating whose candidate's rate "
        "exceeds `max_failure_rate` is flagged.",
        False,
        "comparison",
        "judged_comparisons",
        ci_method="wilson",
        informational=True,
        kind="judge",
        empty_reason="no comparison was sent to the judge",
    ),
    MetricSpec(
        "position_consistency",
        "Pos. consistency",
        "judge",
        "Share of the comparisons with a verdict in both orders whose two verdicts agree (the same response "
        "preferred, or a tie in both), the candidate's or the study's. An always-[[A]] judge scores 0.",
        True,
        "comparison",
        "comparisons",
        ci_method="wilson",
        informational=True,
        kind="judge",
        empty_reason="no comparison with a verdict in both orders",
    ),
    MetricSpec(
        "no_response_rate",
        "No response",
        "judge",
        "Share of the comparisons (sample × pair) in which a candidate has no response (its model call failed or "
        "is missing): nothing to judge, so no judge call is made and the comparison is left out of every fit, "
        "as samples without an AU reference are left out of the grounding metrics.",
        False,
        "comparison",
        "all_comparisons",
        ci_method="wilson",
        kind="judge",
        empty_reason="no comparison",
    ),
    MetricSpec(
        "first_position_rate",
        "First position",
        "judge",
        "Of the judge's verdicts that name a winner, the share that pick Response A (the first shown): 0.5 "
        "without position bias, 1 for an always-[[A]] judge.",
        None,
        "comparison",
        "decisive_verdicts",
        ci_method="wilson",
        kind="judge",
        empty_reason="no verdict names a winner",
    ),
    MetricSpec(
        "tie_rate",
        "Ties",
        "judge",
        "Share of the comparisons used in the fit that count as a tie (a tie in both orders, or verdicts that "
        "disagree across the swap).",
        None,
        "comparison",
        "comparisons",
        ci_method="wilson",
        kind="judge",
        empty_reason="no comparison with a verdict in both orders",
    ),
    MetricSpec(
        "length_coefficient",
        "Length coef.",
        "judge",
        "γ of `bt_rating_lc` on the Elo scale: the change in rating difference that a trace entirely longer "
        "((len_A − len_B) / (len_A + len_B) = 1) earns from the judge at equal strength. Positive: the judge "
        "prefers longer traces. Bootstrap over samples.",
        None,
        "comparison",
        "comparisons",
        unit="elo",
        kind="judge",
        empty_reason="no comparison with a verdict in both orders",
    ),
]
JUDGE_BY_NAME: dict[str, MetricSpec] = {m.name: m for m in JUDGE_METRICS}
#: Reported per candidate (the rows of the preference leaderboard), in this order.
JUDGE_CANDIDATE_METRICS: tuple[str, ...] = (
    "bt_rating",
    "bt_rating_lc",
    "bt_rating_same_label",
    "win_rate",
    "judge_failure_rate",
    "position_consistency",
    "no_response_rate",
)
#: Reported for the whole study, in this order.
JUDGE_STUDY_METRICS: tuple[str, ...] = (
    "judge_failure_rate",
    "position_consistency",
    "first_position_rate",
    "tie_rate",
    "length_coefficient",
    "no_response_rate",
)
assert set(JUDGE_CANDIDATE_METRICS) | set(JUDGE_STUDY_METRICS) == set(JUDGE_BY_NAME)


def metrics_for(classes: Sequence[str]) -> list[MetricSpec]:
    """The concrete metrics of a task with these classes, per-class templates expanded, in report order."""
    out: list[MetricSpec] = []
    for m in METRICS:
        if m.group == "per_class":
            out.extend(m.for_class(c) for c in classes)
        else:
            out.append(m)
    return out


def metric_names(classes: Sequence[str]) -> list[str]:
    """Every metric name reported for a task, in report order."""
    return [m.name for m in metrics_for(classes)]


def spec(name: str) -> MetricSpec:
    """The table entry of a metric name (per-class names resolve to their template; the judge study's
    metrics, :data:`JUDGE_METRICS`, too)."""
    hit = BY_NAME.get(name) or JUDGE_BY_NAME.get(name)
    if hit is not None:
        return hit
    head, sep, cls = name.partition("/")
    template = BY_NAME.get(f"{head}/{{cls}}") if sep else None
    if template is None:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(BY_NAME)}")
    return template.for_class(cls)


def evaluate(metrics: Sequence[MetricSpec], sums: Sums) -> tuple[np.ndarray, np.ndarray]:
    """(values, counts), each (b, M) in ``metrics`` order; values are NaN where undefined.

    Every metric must be of kind ``sums`` (the other kinds are computed from the whole rows)."""
    values = np.stack([m.compute(sums) for m in metrics], axis=1)
    counts = np.stack([m.count(sums) for m in metrics], axis=1)
    return values, counts


def _direction(m: MetricSpec) -> str:
    way = {True: "higher", False: "lower", None: "–"}[m.higher_is_better]
    return f"{way} (informational)" if m.informational else way


def iter_doc_rows() -> Iterator[tuple[str, ...]]:
    """(name, unit, level, direction, CI, needs reference, definition) per built-in entry, for docs/metrics.md."""
    for m in METRICS[:_BUILT_IN]:
        name = m.name.replace("{cls}", "<class>")
        desc = m.description.replace("class {cls}", "the class")
        yield (
            f"`{name}`",
            m.unit,
            m.level,
            _direction(m),
            m.ci_method,
            {"none": "no", "run": "yes", "covered": "covered samples"}[m.reference],
            desc,
        )


_DOC_HEAD = """# Metrics

<!-- Generated from tag_bench/scoring/metric_table.py by `make docs`; a test keeps it in step. -->

`metrics.json` of a run holds one entry per metric below:
`{"value": float, "ci_low": float, "ci_high": float, "n": int}`, in the metric's **unit**: rates in
[0, 1] (tables format percent), times in seconds, token and character counts per sample, throughput in
samples per second. `n` is the metric's denominator: samples, parsed answers, box claims, judged AUs... (per-class
F1 reports the gold support). The names are a public contract: leaderboards, `tag-bench compare` and CI
scripts read them; names are added, never renamed. A metric whose denominator is empty, or that needs an
AU reference the run does not have, has `value: null` and its reason in `not_computed`; it is never 0.

Columns: **unit** is how the value is stored and shown; **level** is what the denominator counts;
**better** is the direction used to mark the best value in tables and to call a difference an
improvement or a regression (**informational** metrics are shown and compared but never marked best
and never gated unless a `compare` tolerance names them); **CI** is how its confidence interval is
computed; **reference** says whether it needs an AU reference.

| metric | unit | level | better | CI | reference | definition |
|---|---|---|---|---|---|---|
"""

_DOC_TAIL = """
## Failures stay in the denominator

Every sample of the split counts. A sample whose image cannot be read or whose model call failed
(`error`), that has no generation (`missing`), or whose reply cannot be read as one of the task's
labels (`no_answer`, `ambiguous`, `refusal`, `truncated`, `invalid_label`) is wrong in `accuracy`.
`metrics.json` also stores the count and rate of every status (`status_counts`, `status_rates`) and
the confusion matrix (`confusion_matrix`: rows gold, columns predicted, in the task's class order,
plus a `failed` column per gold class).

## Grounding

A response yields **claims**: (AU, box) pairs, plus AUs mentioned without a box. The AU reference gives
for each AU an activation score, an active flag (score >= the reference's threshold) and a region box.
A cited AU the reference marks inactive is **hallucinated**; one the reference has no activation for is
**unjudged** (counted in `unjudged_au_rate`, never as hallucinated). Samples without an AU reference
record are left out of the reference-dependent metrics and counted in `reference_status_counts`.
Every grounding metric names the reference it was computed against (`au_reference` in `metrics.json`);
runs scored against different references are not comparable.

## When the prompt asks for no evidence

A prompt template declares whether it asks the model for evidence (`asks_evidence`: `tag_grounded` and
`cot` do, `direct` does not). A run of a prompt that asks for none is scored without an AU reference
unless one is named explicitly (`--au-reference auto`, the default, then means none and the detector is
not run), and every grounding metric above is `not_computed` with the reason "the task's prompt
(direct) asks for no evidence": a label-only answer is never shown a grounding score of 0. Name a
reference (`--au-reference mediapipe-geometric`) to score cited AUs and boxes anyway.

## Usage

The generate stage records, per sample, the **latency** of the model call that produced it: the
wall-clock seconds of one call to the adapter divided by the samples that call served, i.e. amortised
seconds per sample, with one meaning for every adapter (a batch on a GPU for `hf` and `vllm`, a set of
concurrent requests for `openai`, a batch of the lmms-eval worker for `lmms-eval`). One-off costs (loading
weights, starting a worker) are paid before the clock starts. Token counts are those the model or
server reports; the response length is counted in characters. A cached generation keeps the latency
and token counts of the call that produced it. The run's `manifest.json` says how the stage ran
(`generation`: timed or not, samples per call, concurrency, device, data-parallel processes, wall
seconds summed over sessions, model calls, samples served from the cache), and a run resumed with
other settings says so in its warnings. Replayed answers (`replay`, `score --predictions`, lmms-eval
imports) and the built-in baselines are not timed: their latency and throughput are `not_computed`
with that reason. Usage metrics are **informational**: tables show them without best marks and note
that they depend on the hardware; `compare` shows their differences and gates one only when a
`--max-drop` tolerance names it (in its own unit: `--max-drop latency_mean_s=0.5` allows half a second
more). A quantile or run-level figure has no test: its difference alone is judged. A metric without a
better direction (token counts, length) regresses when it moves either way beyond its tolerance.

## Cross-dataset transfer

A run may carry `train_source` (the dataset a checkpoint was tuned on). The transfer table has rows =
models, columns = evaluation datasets, cells = `accuracy` in the `common7` label space (contempt
removed, so RAF-DB, FERPlus and AffectNet share one class list). Derived per row: `in_domain` (the cell
whose dataset is the train source), `out_of_domain_mean` (mean of the cells of every other column of
the table) and `transfer_gap = in_domain - out_of_domain_mean`. The mean and the gap need **every**
out-of-domain column: a row that lacks one (a checkpoint without its FERPlus run, say) would average
other datasets than the rows beside it, so its mean and gap are "–" and a table note names the missing
column. Its in-domain cell is still shown.

## Statistics

- **bootstrap**: seeded, vectorised percentile bootstrap (default 1000 resamples, 95 %), resampling
  **samples**, so the claims of one image move together (a cluster bootstrap for claim-level metrics).
  Resamples in which a metric is undefined are left out of its percentiles. At least 200 resamples:
  `--n-resamples` (of `run`, `score`, `demo`, `lmms-eval import`, `compare`) and `n_resamples` of the
  Python API (`evaluate`, `score_run`, `compute_metrics`, `compare_metrics`, `compare_runs`, ...) refuse
  1 to 199 with an error naming the minimum; 0 means no bootstrap intervals at all (not for `compare`).
  How resamples are drawn is versioned in `metrics.json` (`bootstrap.resampling`): `multinomial/1`
  draws each sample's multiplicity; above 50,000 samples `strata/1` draws, for each group of metrics,
  the multinomial count of each distinct row of the columns they read (the same bootstrap distribution
  for counts and indicators) and sums continuous columns (IoUs, latencies, tokens) within each such
  stratum by the central limit theorem, in time that does not grow with N. Its coverage is checked
  against `multinomial/1` by simulation (`tests/test_strata.py`); point estimates, `n` and the other
  interval kinds do not depend on it.
- **wilson**: the Wilson score interval of a sample-level proportion; it never collapses to zero width
  at 0 % or 100 %.
- **wilson-boundary** (recorded in `metrics.json` in place of `bootstrap`): a bootstrap metric in rate
  units whose estimate is exactly 0 % or 100 % (balanced accuracy or macro-F1 with no class recalled, no
  box claim or every box claim at IoU >= 0.5, no hallucinated AU, a mean IoU of 0 or 1, ...) has a
  degenerate bootstrap distribution: every resample gives the same value, so its percentile interval
  would have zero width, "0.0 ± 0.0", even at N = 6. It reports instead the Wilson interval of 0 (or n)
  successes in its n **contributing samples**: the samples with a share in its denominator (every sample
  for balanced accuracy and macro-F1; for a claim- or AU-level rate the samples with such a claim or AU,
  not the claims or AUs themselves, which are not independent within an image). The metric's `n` stays
  its denominator. Metrics in other units (seconds, tokens, characters) are not rates and keep their
  bootstrap interval.
- **newcombe-paired** (recorded in place of `bootstrap`): a gap of the intervene stage (`faithfulness_gap`,
  `specificity_gap`: the difference of two flip rates of the same samples) where every sample gives the
  same difference (none flips under one condition only, or every one does, the same way): every paired
  resample gives the same difference (`random`, which never flips, has 0 in every resample; a probe whose
  every sample flips under `cited` alone has 100). It reports instead Newcombe's hybrid score interval for paired proportions (1998,
  method 10: the two rates' Wilson intervals combined with their correlation), so that a gap of exactly
  0 on 300 samples is `0.0 ± 1.3`, not `0.0 ± 0.0`.
- A reported interval always contains its estimate: a percentile interval that misses it (a skewed
  bootstrap distribution) is widened to reach it, in `metrics.json` and in `compare`.
- **order-statistic**: the distribution-free interval of a quantile: the order statistics whose ranks
  bound a Binomial(n, q) count with 95 % probability; none when n is too small for such ranks (fewer
  than 72 values for the 95th percentile).
- **none**: run-level figures (throughput) have no interval.
- Comparing two runs of one task (same sample ids; `tag-bench compare`): paired bootstrap of every
  metric difference with its CI; the p-value of a share of all samples (accuracy, the status rates,
  box rate, reference coverage) is the exact McNemar test on the paired per-sample outcomes, of every
  other metric the paired bootstrap's; Holm correction across all tasks × metrics compared at once.
  Runs with different sample sets are refused unless an intersection is asked for. When both runs' rates
  sit at 0 % or 100 %, every paired resample gives the same difference; the CI of Δ is then Newcombe's
  square-and-add of the two runs' `wilson-boundary` intervals instead of a zero-width one.
- Tables (`tag-bench leaderboard`, the HTML report) print an interval as `± h` only when it is symmetric
  about the value at the printed precision, and as `[low, high]` otherwise (a Wilson interval at 0 % is
  `0.0 [0.0, 39.0]`, never `0.0 ± 19.5`); `--ci brackets` always prints `[low, high]`.
"""

_DOC_NOTES = """
## Parser notes

The parser never guesses: when it notices something a person should check (two answers that
disagree, boxes that look like another coordinate frame than the declared one, a box cut to the
image) it keeps a note in the sample's `parsed.notes` as `<code>: <what happened>`, and
`metrics.json` counts the samples with each kind of note in `parse_notes`. A note never changes a
result (the declared frame is never changed automatically).

"""


_GROUP_TITLES = {
    "classification": "classification",
    "per_class": "per class",
    "grounding": "grounding",
    "usage": "usage (informational)",
    "faithfulness": "faithfulness by intervention (the intervene stage)",
}


def render_metric_list() -> str:
    """The README's list of metric names by group, with the unit of each that is not a rate."""
    lines = []
    for group, title in _GROUP_TITLES.items():
        names = []
        for m in METRICS[:_BUILT_IN]:
            if m.group == group:
                unit = "" if m.unit == "rate" else f" ({unit_of(m).symbol})"
                names.append(f"`{m.name.replace('{cls}', '<class>')}`{unit}")
        lines.append(f"- **{title}**: {', '.join(names)}")
    return "\n".join(lines) + "\n"


_DOC_JUDGE = """
## Judged preference (`tag-bench judge`)

A judge study (docs/judge.md) has its own figures, in the judge run directory's `metrics.json`: per
candidate (`candidates`: the rows of `tag-bench leaderboard JUDGE_RUN --spec preference`) and for the
whole study (`study`). They are not metrics of one run: a rating belongs to a candidate within its study.

| metric | unit | scope | better | CI | definition |
|---|---|---|---|---|---|
"""


def iter_judge_doc_rows() -> Iterator[tuple[str, ...]]:
    """(name, unit, scope, direction, CI, definition) per judge metric, for docs/metrics.md."""
    for m in JUDGE_METRICS:
        scope = " and ".join(
            s
            for s, names in (("candidate", JUDGE_CANDIDATE_METRICS), ("study", JUDGE_STUDY_METRICS))
            if m.name in names
        )
        yield (f"`{m.name}`", m.unit, scope, _direction(m), m.ci_method, m.description)


def render_docs() -> str:
    """``docs/metrics.md``, generated from :data:`METRICS`, :data:`JUDGE_METRICS` and the parser's note codes."""
    rows = ["| " + " | ".join(cells) + " |" for cells in iter_doc_rows()]
    judge = ["| " + " | ".join(cells) + " |" for cells in iter_judge_doc_rows()]
    notes = [f"| `{code}` | {text} |" for code, text in NOTE_CODES.items()]
    return (
        _DOC_HEAD + "\n".join(rows) + "\n" + _DOC_TAIL + _DOC_JUDGE + "\n".join(judge) + "\n" + _DOC_NOTES
        + "| note | meaning |\n|---|---|\n" + "\n".join(notes) + "\n"
    )  # fmt: skip
