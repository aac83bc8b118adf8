"""Aggregate scored samples into the metrics of ``specs/metrics.md`` with bootstrap CIs.

Pipeline: :func:`build_arrays` turns the records into numpy arrays once (gold / predicted class
indices with -1 for failures, per-claim arrays with a sample index, per-sample AU counts);
:meth:`ScoreArrays.features` reduces them to one row of additive quantities per sample (confusion
cell one-hot, IoU sums, AU counts, ...). Every metric is a function of the column sums, so the point
estimate uses weights 1 and each bootstrap resample uses its multiplicities: the resampling unit is
the **sample**, which makes the claim-level metrics a cluster bootstrap (the claims of one image
move together).

Conventions (also in the docstrings of :mod:`tag_bench.metrics.classification` and
:mod:`tag_bench.metrics.grounding`):

- N counts every sample; failures (any status but ok) are wrong and are a separate ``failed``
  column of the confusion matrix, whose K x K part equals scikit-learn's.
- A metric whose denominator is empty has value None and a reason in ``not_computed``; without an
  AU reference every reference-dependent grounding metric is None with that reason, never 0.
  ``box_rate`` and ``evidence_consistency`` need no reference and are always computed.
- Samples without an AU reference record (``reference_status == "missing"``) in a run that has a
  reference are left out of the reference-dependent metrics (their ``n`` shows it) and counted in
  ``reference_status_counts``.
- ``unjudged_au_rate`` (extra): cited AUs the reference cannot judge / cited AUs, over samples with a
  reference. Unjudged AUs are excluded from the hallucination rates and ``au_f1``.
- Failed samples stay in the reference metrics that count per sample: their reference-active AUs
  count for ``au_recall`` / ``au_f1`` (nothing cited) and they are not ``grounded_accuracy`` hits.
- Confidence intervals: seeded percentile bootstrap over samples. Resamples in which a metric is
  undefined (e.g. no sample of a class drawn) are left out of that metric's percentiles.
- ``n`` of each metric is its denominator: samples, parsed samples, gold support (per-class recall
  and F1), predictions (per-class precision), box claims, judged AUs, ...
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np

from tag_bench.metrics.classification import scores_from_confusion
from tag_bench.metrics.grounding import (
    GROUNDED_IOU,
    GROUNDING_DENOMINATORS,
    REFERENCE_FREE,
    SUM_FIELDS,
    grounding_from_sums,
)
from tag_bench.metrics.stats import (
    bootstrap_distribution,
    bootstrap_p_value,
    mcnemar_exact,
    percentile_interval,
)
from tag_bench.schema import MetricValue, Record, SampleStatus, ScoredSample

SAMPLE_STATUSES: tuple[str, ...] = get_args(SampleStatus)

#: Grounding metrics in the order of ``specs/metrics.md`` (plus the extra ``unjudged_au_rate``).
GROUNDING_METRICS: tuple[str, ...] = (
    "box_rate",
    "au_box_iou",
    "grounding_precision@0.5",
    "grounding_precision@0.3",
    "pointing_accuracy",
    "hallucinated_au_rate",
    "hallucinated_sample_rate",
    "unjudged_au_rate",
    "au_recall",
    "au_f1",
    "evidence_consistency",
    "grounded_accuracy",
)
HEADLINE_CLASSIFICATION: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "accuracy_parsed",
    "parse_failure_rate",
)

_EMPTY_REASONS: dict[str, str] = {
    "accuracy": "no samples",
    "balanced_accuracy": "no samples",
    "macro_f1": "no samples",
    "parse_failure_rate": "no samples",
    "accuracy_parsed": "no answer parsed to a label of the task's classes",
    "box_rate": "no samples",
    "au_box_iou": "no box claims on samples with an AU reference",
    "grounding_precision@0.5": "no box claims on samples with an AU reference",
    "grounding_precision@0.3": "no box claims on samples with an AU reference",
    "pointing_accuracy": "no box claims on samples with an AU reference",
    "hallucinated_au_rate": "no cited AU that the AU reference can judge",
    "hallucinated_sample_rate": "no sample cites an AU that the AU reference can judge",
    "unjudged_au_rate": "no cited AUs on samples with an AU reference",
    "au_recall": "the AU reference marks no AU active in any sample",
    "au_f1": "no sample with a cited (judgeable) or reference-active AU",
    "evidence_consistency": "no sample with a parsed label and at least one cited AU",
    "grounded_accuracy": "no sample has an AU reference record",
}


class MetricsReport(Record):
    """``metrics.json``: every metric of ``specs/metrics.md`` with its CI, plus the breakdowns."""

    classes: list[str]
    n: int
    metrics: dict[str, MetricValue]
    confusion_matrix: dict[str, Any]  # classes, matrix (rows gold, cols predicted), failed (per gold)
    status_counts: dict[str, int]
    status_rates: dict[str, float]
    au_reference: str | None = None
    reference_status_counts: dict[str, int]
    not_computed: dict[str, str]  # metric -> why its value is None
    bootstrap: dict[str, Any]  # n_resamples, ci, seed, unit


# --------------------------------------------------------------------------------------------------
# Arrays


@dataclass
class ScoreArrays:
    """The scored samples as arrays (one entry per sample unless noted)."""

    classes: tuple[str, ...]
    au_reference: str | None
    sample_ids: list[str]
    gold: np.ndarray  # int64 class index
    pred: np.ndarray  # int64 class index, -1 for every failure status
    status: np.ndarray  # int8 index into SAMPLE_STATUSES
    referenced: np.ndarray  # bool: the sample has a record of the run's AU reference
    has_box: np.ndarray  # bool: >= 1 parsed box (any evidence)
    claim_sample: np.ndarray  # int64 per box claim on a referenced sample: its sample index
    claim_iou: np.ndarray  # float per box claim
    claim_center: np.ndarray  # bool per box claim
    cited_aus: np.ndarray  # int64 distinct cited AUs (referenced samples only, else 0)
    judged_aus: np.ndarray
    hallucinated_aus: np.ndarray
    active_aus: np.ndarray
    active_cited: np.ndarray
    au_f1: np.ndarray  # float, NaN where undefined (no judged cited and no active AU)
    consistent: np.ndarray  # float 1/0, NaN where not applicable
    grounded: np.ndarray  # float 1/0 on referenced samples, NaN elsewhere
    reference_status_counts: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.gold.size)

    def features(self) -> tuple[np.ndarray, list[str]]:
        """Per-sample additive quantities (n x F) and their column names.

        The first K*(K+1) columns one-hot the confusion cell (gold, pred+1); the rest are
        :data:`tag_bench.metrics.grounding.SUM_FIELDS`.
        """
        k = len(self.classes)
        n = self.n
        n_cells = k * (k + 1)
        cols: dict[str, np.ndarray] = {}
        cs = self.claim_sample

        def per_sample(weights: np.ndarray | None) -> np.ndarray:
            return np.bincount(cs, weights=weights, minlength=n).astype(float)

        has_f1 = ~np.isnan(self.au_f1)
        applicable = ~np.isnan(self.consistent)
        cols["samples"] = np.ones(n)
        cols["has_box"] = self.has_box.astype(float)
        cols["box_claims"] = per_sample(None)
        cols["iou_sum"] = per_sample(self.claim_iou)
        cols["iou_ge_0.5"] = per_sample((self.claim_iou >= 0.5).astype(float))
        cols["iou_ge_0.3"] = per_sample((self.claim_iou >= 0.3).astype(float))
        cols["center_inside"] = per_sample(self.claim_center.astype(float))
        cols["judged_aus"] = self.judged_aus.astype(float)
        cols["hallucinated_aus"] = self.hallucinated_aus.astype(float)
        cols["unjudged_aus"] = (self.cited_aus - self.judged_aus).astype(float)
        cols["cited_aus_referenced"] = self.cited_aus.astype(float)
        cols["samples_judged"] = (self.judged_aus > 0).astype(float)
        cols["samples_hallucinated"] = (self.hallucinated_aus > 0).astype(float)
        cols["active_aus"] = self.active_aus.astype(float)
        cols["active_cited"] = self.active_cited.astype(float)
        cols["f1_sum"] = np.where(has_f1, self.au_f1, 0.0)
        cols["f1_samples"] = has_f1.astype(float)
        cols["consistent"] = np.where(applicable, self.consistent, 0.0)
        cols["consistency_samples"] = applicable.astype(float)
        cols["grounded_correct"] = np.where(self.referenced, np.nan_to_num(self.grounded), 0.0)
        cols["referenced"] = self.referenced.astype(float)
        assert tuple(cols) == SUM_FIELDS

        v = np.zeros((n, n_cells + len(SUM_FIELDS)))
        v[np.arange(n), self.gold * (k + 1) + self.pred + 1] = 1.0
        for j, name in enumerate(SUM_FIELDS):
            v[:, n_cells + j] = cols[name]
        names = [f"cell/{g}/{p}" for g in range(k) for p in range(-1, k)] + list(SUM_FIELDS)
        return v, names


def build_arrays(
    scored: Iterable[ScoredSample], classes: Sequence[str], *, au_reference_id: str | None
) -> ScoreArrays:
    """Validate the scored records and turn them into :class:`ScoreArrays`.

    Raises ValueError for records that cannot be aggregated together: a gold label or prediction
    outside ``classes``, a ``correct`` flag that contradicts status/pred/label, a sample scored
    twice, or a sample scored against a different AU reference than ``au_reference_id``.
    """
    classes = tuple(classes)
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError(f"classes contain duplicates: {list(classes)}")
    status_index = {s: i for i, s in enumerate(SAMPLE_STATUSES)}

    ids: list[str] = []
    gold: list[int] = []
    pred: list[int] = []
    status: list[int] = []
    referenced: list[bool] = []
    has_box: list[bool] = []
    c_sample: list[int] = []
    c_iou: list[float] = []
    c_center: list[bool] = []
    n_cited: list[int] = []
    n_judged: list[int] = []
    n_halluc: list[int] = []
    n_active: list[int] = []
    n_active_cited: list[int] = []
    f1: list[float] = []
    consistent: list[float] = []
    grounded: list[float] = []
    ref_counts: dict[str, int] = {}

    for i, s in enumerate(scored):
        ids.append(s.sample_id)
        g = index.get(s.label)
        if g is None:
            raise ValueError(
                f"sample {s.sample_id!r}: gold label {s.label!r} is not one of the task's classes {list(classes)}"
            )
        p = -1
        if s.status == "ok":
            p = index.get(s.pred, -1) if s.pred is not None else -1
            if p < 0:
                raise ValueError(
                    f"sample {s.sample_id!r}: status ok but prediction {s.pred!r} is not one of {list(classes)}"
                    " (scored with another class list?)"
                )
        if s.correct != (p == g):
            raise ValueError(f"sample {s.sample_id!r}: correct={s.correct} contradicts status/pred/label")
        gold.append(g)
        pred.append(p)
        status.append(status_index[s.status])
        rs = s.reference_status or "missing"
        ref_counts[rs] = ref_counts.get(rs, 0) + 1

        if s.parsed is not None:
            has_box.append(any(ev.box is not None for ev in s.parsed.evidence))
        else:
            has_box.append(any(c.box is not None for c in s.claims))
        ev_ok = s.evidence_consistent
        consistent.append(np.nan if ev_ok is None else float(ev_ok))

        ref = au_reference_id is not None and s.au_reference_id is not None
        if ref and s.au_reference_id != au_reference_id:
            raise ValueError(
                f"sample {s.sample_id!r} was scored against AU reference {s.au_reference_id!r}, not "
                f"{au_reference_id!r}; runs scored against different references are not comparable"
            )
        referenced.append(ref)
        if not ref:
            n_cited.append(0)
            n_judged.append(0)
            n_halluc.append(0)
            n_active.append(0)
            n_active_cited.append(0)
            f1.append(np.nan)
            grounded.append(np.nan)
            continue

        box_hit = False
        for c in s.claims:
            if c.box is None:
                continue
            iou_value = c.iou if c.iou is not None else 0.0  # no region scores 0 (metrics.md)
            c_sample.append(i)
            c_iou.append(iou_value)
            c_center.append(bool(c.center_inside))
            box_hit = box_hit or iou_value >= GROUNDED_IOU
        cited = set(s.cited_aus)
        active = set(s.active_aus)
        halluc = set(s.hallucinated_aus) & cited
        judged = (cited & active) | halluc
        n_cited.append(len(cited))
        n_judged.append(len(judged))
        n_halluc.append(len(halluc))
        n_active.append(len(active))
        n_active_cited.append(len(cited & active))
        f1.append(2 * len(cited & active) / (len(judged) + len(active)) if judged or active else np.nan)
        grounded.append(float(s.correct and box_hit and not halluc))

    if len(set(ids)) != len(ids):
        dup = sorted(x for x, c in Counter(ids).items() if c > 1)
        raise ValueError(f"{len(dup)} sample ids scored more than once, e.g. {dup[:5]}")

    def ints(x: list) -> np.ndarray:
        return np.asarray(x, dtype=np.int64)

    return ScoreArrays(
        classes=classes,
        au_reference=au_reference_id,
        sample_ids=ids,
        gold=ints(gold),
        pred=ints(pred),
        status=np.asarray(status, dtype=np.int8),
        referenced=np.asarray(referenced, dtype=bool),
        has_box=np.asarray(has_box, dtype=bool),
        claim_sample=ints(c_sample),
        claim_iou=np.asarray(c_iou, dtype=float),
        claim_center=np.asarray(c_center, dtype=bool),
        cited_aus=ints(n_cited),
        judged_aus=ints(n_judged),
        hallucinated_aus=ints(n_halluc),
        active_aus=ints(n_active),
        active_cited=ints(n_active_cited),
        au_f1=np.asarray(f1, dtype=float),
        consistent=np.asarray(consistent, dtype=float),
        grounded=np.asarray(grounded, dtype=float),
        reference_status_counts=dict(sorted(ref_counts.items())),
    )


# --------------------------------------------------------------------------------------------------
# Metrics from sums


def metric_names(classes: Sequence[str]) -> list[str]:
    """Every metric name reported for a task, in report order."""
    per_class = [f"{m}/{c}" for m in ("recall", "precision", "f1") for c in classes]
    return [*HEADLINE_CLASSIFICATION, *per_class, *GROUNDING_METRICS]


def metrics_from_sums(sums: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """All metrics (NaN where undefined) from column sums of :meth:`ScoreArrays.features`.

    ``sums`` is (b, F); every value returned has shape (b,). Also returns the denominators under
    ``n/<metric>``.
    """
    k = n_classes
    n_cells = k * (k + 1)
    cells = sums[:, :n_cells].reshape(-1, k, k + 1)
    cls = scores_from_confusion(cells[:, :, 1:], cells[:, :, 0])
    s = {name: sums[:, n_cells + j] for j, name in enumerate(SUM_FIELDS)}
    out: dict[str, np.ndarray] = {name: cls[name] for name in HEADLINE_CLASSIFICATION}
    for j in range(k):
        out[f"recall/{j}"] = cls["recall"][:, j]
        out[f"precision/{j}"] = cls["precision"][:, j]
        out[f"f1/{j}"] = cls["f1"][:, j]
    out.update(grounding_from_sums(s))
    n_all = s["samples"]
    out["n/accuracy_parsed"] = cls["predicted"].sum(axis=1)
    for name in ("accuracy", "balanced_accuracy", "macro_f1", "parse_failure_rate"):
        out[f"n/{name}"] = n_all
    for j in range(k):
        out[f"n/recall/{j}"] = cls["support"][:, j]
        out[f"n/precision/{j}"] = cls["predicted"][:, j]
        out[f"n/f1/{j}"] = cls["support"][:, j]
    for name, den in GROUNDING_DENOMINATORS.items():
        out[f"n/{name}"] = s[den]
    return out


def _keyed(classes: Sequence[str], raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename ``recall/<index>`` to ``recall/<class>``."""
    out = {}
    for key, val in raw.items():
        head, _, tail = key.rpartition("/")
        if tail.isdigit() and head.split("/")[-1] in ("recall", "precision", "f1"):
            key = f"{head}/{classes[int(tail)]}"
        out[key] = val
    return out


def _reasons(classes: Sequence[str], name: str) -> str:
    if name in _EMPTY_REASONS:
        return _EMPTY_REASONS[name]
    kind, _, cls = name.partition("/")
    return {
        "recall": f"no gold samples of class {cls!r}",
        "precision": f"no predictions of class {cls!r}",
        "f1": f"no gold samples and no predictions of class {cls!r}",
    }[kind]


def _no_reference_reason(arrays: ScoreArrays, samples_refs: set[str]) -> str | None:
    if arrays.au_reference is None:
        if samples_refs:
            return (
                f"no AU reference selected (au_reference_id=None) although samples were scored against "
                f"{sorted(samples_refs)}; pass au_reference_id to report grounding"
            )
        return "no AU reference: the run was scored without one, so cited AUs and boxes cannot be checked"
    if not arrays.referenced.any():
        return f"no sample has a record of AU reference {arrays.au_reference!r}"
    return None


# --------------------------------------------------------------------------------------------------
# Public entry points


def _metric_matrix(sums: np.ndarray, classes: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """(b, F) sums -> (b, M) metric values in ``names`` order."""
    raw = _keyed(classes, metrics_from_sums(sums, len(classes)))
    return np.stack([raw[name] for name in names], axis=1)


def _needs_reference(name: str) -> bool:
    return name in GROUNDING_METRICS and name not in REFERENCE_FREE


def compute_metrics(
    scored: Sequence[ScoredSample],
    classes: Sequence[str],
    *,
    au_reference_id: str | None,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> MetricsReport:
    """Every metric of ``specs/metrics.md`` with seeded percentile bootstrap CIs over samples.

    ``n_resamples=0`` skips the bootstrap (CI bounds None).
    """
    scored = list(scored)
    arrays = build_arrays(scored, classes, au_reference_id=au_reference_id)
    refs = {s.au_reference_id for s in scored if s.au_reference_id is not None}
    return metrics_from_arrays(
        arrays,
        n_resamples=n_resamples,
        ci=ci,
        seed=seed,
        no_reference_reason=_no_reference_reason(arrays, refs),
    )


def metrics_from_arrays(
    arrays: ScoreArrays,
    *,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    no_reference_reason: str | None = None,
) -> MetricsReport:
    """The report from prepared arrays (:func:`build_arrays`); see :func:`compute_metrics`."""
    classes = list(arrays.classes)
    k = len(classes)
    n = arrays.n
    if no_reference_reason is None:
        no_reference_reason = _no_reference_reason(arrays, set())
    names = metric_names(classes)
    v, _ = arrays.features()
    point_sums = v.sum(axis=0, keepdims=True)
    point = _metric_matrix(point_sums, classes, names)[0]
    raw_point = _keyed(classes, metrics_from_sums(point_sums, k))

    low = high = None
    if n and n_resamples > 0:
        dist = bootstrap_distribution(
            v, lambda data, w: _metric_matrix(w @ data, classes, names), n_resamples=n_resamples, seed=seed
        )
        low, high = percentile_interval(dist, ci)

    metrics: dict[str, MetricValue] = {}
    not_computed: dict[str, str] = {}
    for j, name in enumerate(names):
        value = float(point[j])
        count = int(round(float(raw_point[f"n/{name}"][0])))
        if _needs_reference(name) and no_reference_reason is not None:
            not_computed[name] = no_reference_reason
            metrics[name] = MetricValue(value=None, n=0)
        elif np.isnan(value):
            not_computed[name] = _reasons(classes, name)
            metrics[name] = MetricValue(value=None, n=count)
        elif low is None or np.isnan(low[j]):
            metrics[name] = MetricValue(value=value, n=count)
        else:
            metrics[name] = MetricValue(value=value, ci_low=float(low[j]), ci_high=float(high[j]), n=count)

    cells = np.bincount(arrays.gold * (k + 1) + arrays.pred + 1, minlength=k * (k + 1)).reshape(k, k + 1)
    counts = np.bincount(arrays.status.astype(np.int64), minlength=len(SAMPLE_STATUSES))
    status_counts = {s: int(c) for s, c in zip(SAMPLE_STATUSES, counts, strict=True)}
    return MetricsReport(
        classes=classes,
        n=n,
        metrics=metrics,
        confusion_matrix={
            "classes": classes,
            "rows": "gold",
            "columns": "predicted",
            "matrix": cells[:, 1:].tolist(),
            "failed": cells[:, 0].tolist(),
        },
        status_counts=status_counts,
        status_rates={s: (c / n if n else 0.0) for s, c in status_counts.items()},
        au_reference=arrays.au_reference,
        reference_status_counts=arrays.reference_status_counts,
        not_computed=not_computed,
        bootstrap=_bootstrap_info(n_resamples, ci, seed),
    )


def _bootstrap_info(n_resamples: int, ci: float, seed: int) -> dict[str, Any]:
    return {"n_resamples": n_resamples, "ci": ci, "seed": seed, "unit": "sample", "method": "percentile"}


class MetricDifference(Record):
    """One metric of run A and run B on the same samples, and the paired difference ``a - b``."""

    value_a: float | None
    value_b: float | None
    diff: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None


class PairedComparison(Record):
    """Paired bootstrap of every metric difference, plus exact McNemar on per-sample correctness."""

    n: int
    differences: dict[str, MetricDifference]
    mcnemar: dict[str, float]  # b (A right, B wrong), c (A wrong, B right), p_value
    not_computed: dict[str, str]
    bootstrap: dict[str, Any]


def compare_metrics(
    scored_a: Sequence[ScoredSample],
    scored_b: Sequence[ScoredSample],
    classes: Sequence[str],
    *,
    au_reference_id: str | None,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    intersect: bool = False,
) -> PairedComparison:
    """Paired comparison of two runs of one task; refuses different sample sets unless ``intersect``.

    One weight matrix drives both runs, so every difference is a paired bootstrap; p-values as in
    :func:`tag_bench.metrics.stats.bootstrap_p_value`. A metric undefined in either run has diff None.
    """
    by_a = {s.sample_id: s for s in scored_a}
    by_b = {s.sample_id: s for s in scored_b}
    only_a, only_b = by_a.keys() - by_b.keys(), by_b.keys() - by_a.keys()
    if (only_a or only_b) and not intersect:
        raise ValueError(
            f"runs cover different samples ({len(only_a)} only in A, {len(only_b)} only in B); "
            "a paired comparison needs the same sample ids (pass intersect=True to compare the overlap)"
        )
    ids = [i for i in by_a if i in by_b]
    if not ids:
        raise ValueError("the two runs share no sample ids")
    for i in ids:
        if by_a[i].label != by_b[i].label:
            raise ValueError(f"sample {i!r} has gold {by_a[i].label!r} in A but {by_b[i].label!r} in B")
    arr_a = build_arrays([by_a[i] for i in ids], classes, au_reference_id=au_reference_id)
    arr_b = build_arrays([by_b[i] for i in ids], classes, au_reference_id=au_reference_id)
    names = metric_names(classes)
    va, _ = arr_a.features()
    width = va.shape[1]
    both = np.hstack([va, arr_b.features()[0]])

    def difference(data: np.ndarray, weights: np.ndarray) -> np.ndarray:
        sums = weights @ data
        return _metric_matrix(sums[:, :width], classes, names) - _metric_matrix(
            sums[:, width:], classes, names
        )

    ones = both.sum(axis=0, keepdims=True)
    pa = _metric_matrix(ones[:, :width], classes, names)[0]
    pb = _metric_matrix(ones[:, width:], classes, names)[0]
    low = high = dist = None
    if n_resamples > 0:
        dist = bootstrap_distribution(both, difference, n_resamples=n_resamples, seed=seed)
        low, high = percentile_interval(dist, ci)

    reason = _no_reference_reason(arr_a, set()) or _no_reference_reason(arr_b, set())
    out: dict[str, MetricDifference] = {}
    not_computed: dict[str, str] = {}
    for j, name in enumerate(names):
        if _needs_reference(name) and reason is not None:
            not_computed[name] = reason
            out[name] = MetricDifference(value_a=None, value_b=None, diff=None)
            continue
        a_val = None if np.isnan(pa[j]) else float(pa[j])
        b_val = None if np.isnan(pb[j]) else float(pb[j])
        if a_val is None or b_val is None:
            not_computed[name] = (
                f"undefined in run {'A' if a_val is None else 'B'}: {_reasons(classes, name)}"
            )
            out[name] = MetricDifference(value_a=a_val, value_b=b_val, diff=None)
            continue
        ci_ok = low is not None and not np.isnan(low[j])
        p = bootstrap_p_value(dist[:, j]) if dist is not None else float("nan")
        out[name] = MetricDifference(
            value_a=a_val,
            value_b=b_val,
            diff=a_val - b_val,
            ci_low=float(low[j]) if ci_ok else None,
            ci_high=float(high[j]) if ci_ok else None,
            p_value=None if np.isnan(p) else p,
        )
    mc = mcnemar_exact(arr_a.pred == arr_a.gold, arr_b.pred == arr_b.gold)
    return PairedComparison(
        n=len(ids),
        differences=out,
        mcnemar={"b": mc.b, "c": mc.c, "p_value": mc.p_value},
        not_computed=not_computed,
        bootstrap=_bootstrap_info(n_resamples, ci, seed),
    )


def concat_arrays(parts: Sequence[ScoreArrays]) -> ScoreArrays:
    """Join the arrays of consecutive chunks of one run (claim sample indices are shifted)."""
    if not parts:
        raise ValueError("nothing to join")
    first = parts[0]
    if any(p.classes != first.classes or p.au_reference != first.au_reference for p in parts):
        raise ValueError("chunks were scored with different class lists or AU references")
    offsets = np.cumsum([0] + [p.n for p in parts[:-1]])
    counts: Counter[str] = Counter()
    for p in parts:
        counts.update(p.reference_status_counts)

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])

    ids = [i for p in parts for i in p.sample_ids]
    if len(set(ids)) != len(ids):
        raise ValueError("a sample appears in more than one chunk")
    return ScoreArrays(
        classes=first.classes,
        au_reference=first.au_reference,
        sample_ids=ids,
        gold=cat("gold"),
        pred=cat("pred"),
        status=cat("status"),
        referenced=cat("referenced"),
        has_box=cat("has_box"),
        claim_sample=np.concatenate([p.claim_sample + off for p, off in zip(parts, offsets, strict=True)]),
        claim_iou=cat("claim_iou"),
        claim_center=cat("claim_center"),
        cited_aus=cat("cited_aus"),
        judged_aus=cat("judged_aus"),
        hallucinated_aus=cat("hallucinated_aus"),
        active_aus=cat("active_aus"),
        active_cited=cat("active_cited"),
        au_f1=cat("au_f1"),
        consistent=cat("consistent"),
        grounded=cat("grounded"),
        reference_status_counts=dict(sorted(counts.items())),
    )
