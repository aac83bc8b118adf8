"""Aggregate scored samples into the metrics of the metric table, with bootstrap CIs.

:func:`build_arrays` turns the records into arrays once: gold and predicted class indices (-1 for
failures), statuses, and one feature row per sample (:mod:`tag_bench.scoring.features`). Every
metric of :data:`tag_bench.scoring.metric_table.METRICS` is a function of column sums of
``[confusion cell | feature row]``, so the point estimate uses weights 1 and each bootstrap resample
its multiplicities: the resampling unit is the **sample**, which makes the claim-level metrics a
cluster bootstrap (the claims of one image move together).

Conventions (the definitions are in ``docs/metrics.md``):

- N counts every sample; failures (any status but ok) are wrong and are a separate ``failed``
  column of the confusion matrix, whose K x K part equals scikit-learn's.
- A metric whose denominator is empty has value None and a reason in ``not_computed``; without an
  AU reference every reference-dependent metric is None with that reason, never 0.
- Samples without an AU reference record (``reference_status == "missing"``) in a run that has a
  reference are left out of the reference-dependent metrics (their ``n`` shows it) and counted in
  ``reference_status_counts``.
- Confidence intervals: seeded percentile bootstrap over samples (at least
  :data:`~tag_bench.metrics.stats.MIN_BOOTSTRAP_RESAMPLES` resamples, or 0 for none). Resamples in
  which a metric is undefined (e.g. no sample of a class drawn) are left out of that metric's
  percentiles. A rate whose estimate is exactly 0 or 1 has a degenerate bootstrap distribution (every
  resample gives the same value): it gets the Wilson interval of 0 or n successes in n contributing
  samples instead (``ci_method`` ``wilson-boundary``). Every reported interval contains its estimate.
- ``n`` of each metric is its denominator (per-class F1: the gold support).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np

from tag_bench.metrics.stats import (
    PairedResult,
    bootstrap_distribution,
    bootstrap_p_value,
    check_n_resamples,
    holm,
    mcnemar_exact,
    newcombe_paired_interval,
    paired_bootstrap,
    percentile_interval,
    quantile_interval,
    wilson_interval,
)
from tag_bench.metrics.strata import METHOD as STRATA_METHOD
from tag_bench.metrics.strata import PER_SAMPLE_METHOD, strata_distribution
from tag_bench.parsing.notes import note_code
from tag_bench.schema import (
    InterventionOutcome,
    MetricDifference,
    MetricsReport,
    MetricValue,
    PairedComparison,
    SampleStatus,
    ScoredSample,
)
from tag_bench.scoring.features import (
    FIELD_INDEX,
    SUM_FIELDS,
    confusion_cells,
    named_sums,
    sample_row,
)
from tag_bench.scoring.metric_table import METRICS, MetricSpec, evaluate, metrics_for
from tag_bench.scoring.version import SCORING_VERSION

SAMPLE_STATUSES: tuple[str, ...] = get_args(SampleStatus)
#: Above this many samples the bootstrap draws counts per stratum (:mod:`tag_bench.metrics.strata`)
#: instead of each sample's multiplicity; ``metrics.json`` records which (``bootstrap.resampling``).
STRATA_MIN_SAMPLES = 50_000


# --------------------------------------------------------------------------------------------------
# Arrays


@dataclass
class RunFacts:
    """What a run's manifest says that some metrics depend on (see ``MetricSpec.needs``)."""

    unmet: dict[str, str] = field(default_factory=dict)  # need ("evidence", "timing") -> why it is not met
    values: dict[str, float] = field(default_factory=dict)  # run-level figures ("generate_seconds", ...)
    not_run: dict[str, str] = field(default_factory=dict)  # need of a stage not run yet -> its command


@dataclass
class ScoreArrays:
    """The scored samples as arrays: labels and statuses per sample, plus the feature rows."""

    classes: tuple[str, ...]
    au_reference: str | None
    sample_ids: list[str]
    gold: np.ndarray  # int64 class index
    pred: np.ndarray  # int64 class index, -1 for every failure status
    status: np.ndarray  # int8 index into SAMPLE_STATUSES
    rows: np.ndarray  # (n, len(SUM_FIELDS)) float: :func:`tag_bench.scoring.features.sample_row`
    reference_status_counts: dict[str, int] = field(default_factory=dict)
    note_counts: dict[str, int] = field(default_factory=dict)  # samples with a parser note of each kind
    facts: RunFacts = field(default_factory=RunFacts)

    @property
    def n(self) -> int:
        return int(self.gold.size)

    def subset(self, index: Sequence[int]) -> ScoreArrays:
        """The samples at ``index`` (in that order); breakdown counts are those of the whole run."""
        idx = np.asarray(index, dtype=np.int64)
        return ScoreArrays(
            classes=self.classes,
            au_reference=self.au_reference,
            sample_ids=[self.sample_ids[i] for i in idx],
            gold=self.gold[idx],
            pred=self.pred[idx],
            status=self.status[idx],
            rows=self.rows[idx],
            reference_status_counts=self.reference_status_counts,
            note_counts=self.note_counts,
            facts=self.facts,
        )

    def column(self, name: str) -> np.ndarray:
        """One field of the feature rows, by name."""
        return self.rows[:, FIELD_INDEX[name]]

    @property
    def covered(self) -> np.ndarray:
        """Samples with a usable (status ok) record of the run's AU reference."""
        return self.column("covered") > 0

    def features(self) -> np.ndarray:
        """(n, F): the one-hot confusion cell of each sample, then its feature row."""
        return np.hstack([confusion_cells(self.gold, self.pred, len(self.classes)), self.rows])

    def compact(self) -> np.ndarray:
        """(n, 1 + fields): the confusion cell index of each sample, then its feature row (the rows of
        :meth:`features` without the one-hot block; :func:`_expand` restores it)."""
        return compact_side_by_side(self)


def compact_side_by_side(*runs: ScoreArrays) -> np.ndarray:
    """The :meth:`ScoreArrays.compact` rows of ``runs`` (same samples, same order) side by side, in one
    column-major matrix: the bootstrap reads it column by column, so no second copy is made (at a
    million samples each copy is half a gigabyte)."""
    width = 1 + len(SUM_FIELDS)
    out = np.empty((runs[0].n, width * len(runs)), order="F")
    for i, r in enumerate(runs):
        k = len(r.classes)
        out[:, i * width] = r.gold * (k + 1) + r.pred + 1
        out[:, i * width + 1 : (i + 1) * width] = r.rows
    return out


def _expand(compact: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows of :meth:`ScoreArrays.compact` -> rows of :meth:`ScoreArrays.features`."""
    cells = np.zeros((compact.shape[0], n_classes * (n_classes + 1)))
    cells[np.arange(compact.shape[0]), compact[:, 0].astype(np.int64)] = 1.0
    return np.hstack([cells, compact[:, 1:]])


def _origin(n_classes: int) -> np.ndarray:
    """The compact column of each feature column."""
    return np.concatenate(
        [np.zeros(n_classes * (n_classes + 1), dtype=np.int64), np.arange(1, 1 + len(SUM_FIELDS))]
    )


def build_arrays(
    scored: Iterable[ScoredSample],
    classes: Sequence[str],
    *,
    au_reference_id: str | None,
    interventions: Mapping[str, InterventionOutcome] | None = None,
) -> ScoreArrays:
    """Turn scored records into :class:`ScoreArrays`. ``interventions``: each sample's outcome in one
    fill's intervention set (:mod:`tag_bench.intervene`), for the faithfulness metrics.

    Raises ValueError for records that cannot be aggregated together: a gold label or prediction
    outside ``classes``, a sample scored twice, or a sample scored against a different AU reference
    than ``au_reference_id``.
    """
    builder = ArraysBuilder(classes, au_reference_id)
    for s in scored:
        referenced = builder.add(s.sample_id, s.label, s.status, s.pred, s.reference_status,
                                 s.parsed.notes if s.parsed is not None else None, s.au_reference_id)  # fmt: skip
        builder.rows.append(
            sample_row(s, referenced, interventions.get(s.sample_id) if interventions else None)
        )
    return builder.result()


class ArraysBuilder:
    """Collects :class:`ScoreArrays` sample by sample: :meth:`add` checks and records a sample's labels
    and status, the caller appends its feature row to :attr:`rows`."""

    def __init__(self, classes: Sequence[str], au_reference_id: str | None) -> None:
        self.classes = tuple(classes)
        self.index = {c: i for i, c in enumerate(self.classes)}
        if len(self.index) != len(self.classes):
            raise ValueError(f"classes contain duplicates: {list(self.classes)}")
        self.au_reference_id = au_reference_id
        self.status_index = {s: i for i, s in enumerate(SAMPLE_STATUSES)}
        self.ids: list[str] = []
        self.gold: list[int] = []
        self.pred: list[int] = []
        self.status: list[int] = []
        self.rows: list[list[float]] = []
        self.ref_counts: dict[str, int] = {}
        self.note_counts: Counter[str] = Counter()

    def add(self, sample_id: str, label: str, status: str, pred: str | None, reference_status: str | None,
            notes: list[str] | None, au_reference_id: str | None) -> bool:  # fmt: skip
        """Record one sample; returns whether it is ``referenced`` (a record of the run's reference).

        Raises ValueError for a gold label or prediction outside the classes, or a sample scored
        against another AU reference than the run's."""
        g = self.index.get(label)
        if g is None:
            raise ValueError(
                f"sample {sample_id!r}: gold label {label!r} is not one of the task's classes {list(self.classes)}"
            )
        p = -1
        if status == "ok":
            p = self.index.get(pred, -1) if pred is not None else -1
            if p < 0:
                raise ValueError(
                    f"sample {sample_id!r}: status ok but prediction {pred!r} is not one of {list(self.classes)}"
                    " (scored with another class list?)"
                )
        self.ids.append(sample_id)
        self.gold.append(g)
        self.pred.append(p)
        self.status.append(self.status_index[status])
        key = reference_status or "missing"
        self.ref_counts[key] = self.ref_counts.get(key, 0) + 1
        if notes:
            self.note_counts.update({note_code(n) for n in notes})
        referenced = self.au_reference_id is not None and au_reference_id is not None
        if referenced and au_reference_id != self.au_reference_id:
            raise ValueError(
                f"sample {sample_id!r} was scored against AU reference {au_reference_id!r}, not "
                f"{self.au_reference_id!r}; runs scored against different references are not comparable"
            )
        return referenced

    def result(self) -> ScoreArrays:
        ids = self.ids
        if len(set(ids)) != len(ids):
            dup = sorted(x for x, c in Counter(ids).items() if c > 1)
            raise ValueError(f"{len(dup)} sample ids scored more than once, e.g. {dup[:5]}")
        return ScoreArrays(
            classes=self.classes,
            au_reference=self.au_reference_id,
            sample_ids=ids,
            gold=np.asarray(self.gold, dtype=np.int64),
            pred=np.asarray(self.pred, dtype=np.int64),
            status=np.asarray(self.status, dtype=np.int8),
            rows=np.asarray(self.rows, dtype=float).reshape(len(ids), len(SUM_FIELDS)),
            reference_status_counts=dict(sorted(self.ref_counts.items())),
            note_counts=dict(sorted(self.note_counts.items())),
        )


def _no_reference_reason(arrays: ScoreArrays, samples_refs: set[str]) -> str | None:
    """Why the metrics that need an AU reference cannot be computed at all, or None."""
    if arrays.au_reference is None:
        if samples_refs:
            return (
                f"no AU reference selected (au_reference_id=None) although samples were scored against "
                f"{sorted(samples_refs)}; pass au_reference_id to report grounding"
            )
        return "no AU reference: the run was scored without one, so cited AUs and boxes cannot be checked"
    return None


def _no_coverage_reason(arrays: ScoreArrays) -> str | None:
    """Why the metrics over covered samples cannot be computed although the run has a reference, or None."""
    if arrays.au_reference is None or arrays.covered.any():
        return None
    counts = ", ".join(f"{k} {v}" for k, v in arrays.reference_status_counts.items())
    return (
        f"no sample has a usable record of AU reference {arrays.au_reference!r} (reference status: {counts})"
    )


def _unmet(arrays: ScoreArrays, no_reference_reason: str | None) -> dict[str, str]:
    """Each need of the metric table the run does not meet, with the reason a reader is given."""
    out = dict(arrays.facts.unmet)
    reference = no_reference_reason or _no_reference_reason(arrays, set())
    if reference is not None:
        out.setdefault("reference", reference)
    coverage = _no_coverage_reason(arrays)
    if coverage is not None:
        out.setdefault("coverage", coverage)
    return out


def _first_unmet(m: MetricSpec, unmet: dict[str, str]) -> str | None:
    return next((need for need in m.needs if need in unmet), None)


def _reason(m: MetricSpec, unmet: dict[str, str]) -> str | None:
    """Why ``m`` cannot be computed for the run at all (its first unmet need), or None."""
    need = _first_unmet(m, unmet)
    return None if need is None else unmet[need]


def _metric_matrix(sums: np.ndarray, classes: Sequence[str], table: Sequence[MetricSpec]):
    """(b, F) column sums -> (values, counts), each (b, M) in ``table`` order."""
    return evaluate(table, named_sums(sums, classes))


def _quantile(m: MetricSpec, arrays: ScoreArrays, ci: float) -> tuple[float, float | None, float | None, int]:
    """(value, low, high, n) of a quantile metric; value NaN without values."""
    values = arrays.column(m.numerator or "")[arrays.column(m.denominator) > 0]
    if not values.size:
        return math.nan, None, None, 0
    assert m.quantile is not None, m.name
    value, lo, hi = quantile_interval(values, m.quantile, ci)
    return value, lo, hi, int(values.size)


def _run_level(m: MetricSpec, arrays: ScoreArrays) -> tuple[float, int]:
    """(value, n) of a run-level metric; value NaN when the manifest lacks the figures."""
    v = arrays.facts.values
    num, den = v.get(m.numerator or ""), v.get(m.denominator)
    count = int(v.get(m.support or m.denominator, 0))
    if num is None or den is None or den <= 0 or count <= 0:
        return math.nan, count
    return num / den, count


# --------------------------------------------------------------------------------------------------
# Public entry points


def compute_metrics(
    scored: Sequence[ScoredSample],
    classes: Sequence[str],
    *,
    au_reference_id: str | None,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    facts: RunFacts | None = None,
    interventions: Mapping[str, InterventionOutcome] | None = None,
) -> MetricsReport:
    """Every metric of the metric table with seeded percentile bootstrap CIs over samples.

    ``n_resamples=0`` skips the bootstrap (CI bounds None); 1 to 199 is a ResamplesError (a ValueError). ``facts``: what the run's manifest says
    (:func:`tag_bench.scoring.run.run_facts`); without them, run-level metrics are not computed.
    ``interventions``: one fill's outcome per sample id (the faithfulness metrics).
    """
    check_n_resamples(n_resamples)
    scored = list(scored)
    arrays = build_arrays(scored, classes, au_reference_id=au_reference_id, interventions=interventions)
    if facts is not None:
        arrays.facts = facts
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
    check_n_resamples(n_resamples)
    classes = list(arrays.classes)
    k = len(classes)
    n = arrays.n
    unmet = _unmet(arrays, no_reference_reason)
    table = metrics_for(classes)
    summed = [m for m in table if m.kind == "sums"]
    large = n > STRATA_MIN_SAMPLES
    # a large run never holds the (n, F) one-hot matrix: its sums come from the cells and the rows
    v = None if large else arrays.features()
    point_sums = _point_sums(arrays) if v is None else v.sum(axis=0, keepdims=True)
    named = named_sums(point_sums, classes)
    point, counts = evaluate(summed, named)
    # a metric the run cannot compute (an unmet need: no reference, a stage not run) is not resampled
    boot = [j for j, m in enumerate(summed) if m.ci_method == "bootstrap" and _reason(m, unmet) is None]
    boot_table = [summed[j] for j in boot]
    low = high = None
    if n and n_resamples > 0 and boot_table:
        if v is None:
            dist = strata_distribution(
                arrays.compact(),
                lambda rows: _expand(rows, k),
                _origin(k),
                lambda sums, outputs: _metric_matrix(sums, classes, [boot_table[j] for j in outputs])[0],
                len(boot_table),
                n_resamples=n_resamples,
                fill=point_sums[0],
                seed=seed,
                categorical=[0],
            )
        else:
            dist = bootstrap_distribution(
                v,
                lambda data, w: _metric_matrix(w @ data, classes, boot_table)[0],
                n_resamples=n_resamples,
                seed=seed,
            )
        low, high = percentile_interval(dist, ci)
    boot_column = {j: c for c, j in enumerate(boot)}
    column = {m.name: j for j, m in enumerate(summed)}
    per_sample = _PerSample(arrays)

    metrics: dict[str, MetricValue] = {}
    not_computed: dict[str, str] = {}
    not_run: dict[str, str] = {}
    for m in table:
        reason = _reason(m, unmet)
        if reason is not None:
            not_computed[m.name] = reason
            metrics[m.name] = MetricValue(value=None, n=0)
            need = _first_unmet(m, unmet)
            if need in arrays.facts.not_run:  # a later stage not run yet, rather than impossible
                not_run[m.name] = arrays.facts.not_run[need]
            continue
        if m.kind == "quantile":
            value, q_lo, q_hi, count = _quantile(m, arrays, ci)
            if math.isnan(value):
                not_computed[m.name] = m.empty_reason
                metrics[m.name] = MetricValue(value=None, n=count)
            elif q_lo is None or q_hi is None or n_resamples == 0:
                metrics[m.name] = MetricValue(value=value, n=count)
            else:
                metrics[m.name] = MetricValue(
                    value=value, ci_low=q_lo, ci_high=q_hi, n=count, ci_method="order-statistic"
                )
            continue
        if m.kind == "run":
            value, count = _run_level(m, arrays)
            if math.isnan(value):
                not_computed[m.name] = m.empty_reason
                metrics[m.name] = MetricValue(value=None, n=count)
            else:
                metrics[m.name] = MetricValue(value=value, n=count)
            continue
        j = column[m.name]
        value = float(point[0, j])
        count = int(round(float(counts[0, j])))
        if np.isnan(value):
            not_computed[m.name] = m.empty_reason
            metrics[m.name] = MetricValue(value=None, n=count)
        elif m.ci_method == "wilson":
            assert m.numerator is not None, m.name
            k_hits = int(round(float(named[m.numerator][0])))
            n_trials = int(round(float(named[m.denominator][0])))
            lo, hi = _containing(value, *wilson_interval(k_hits, n_trials, ci))
            metrics[m.name] = MetricValue(value=value, ci_low=lo, ci_high=hi, n=count, ci_method="wilson")
        elif low is None or high is None or j not in boot_column or np.isnan(low[boot_column[j]]):
            metrics[m.name] = MetricValue(value=value, n=count)
        elif m.difference is not None and (paired := _paired_degenerate(m, arrays, ci)) is not None:
            metrics[m.name] = MetricValue(
                value=value, ci_low=paired[0], ci_high=paired[1], n=count, ci_method="newcombe-paired"
            )
        elif at_boundary(m, value) and (edge := boundary_interval(m, value, per_sample.contributing(m), ci)):
            metrics[m.name] = MetricValue(
                value=value, ci_low=edge[0], ci_high=edge[1], n=count, ci_method="wilson-boundary"
            )
        else:
            c = boot_column[j]
            lo, hi = _containing(value, float(low[c]), float(high[c]))
            metrics[m.name] = MetricValue(value=value, ci_low=lo, ci_high=hi, n=count, ci_method="bootstrap")

    cells = np.bincount(arrays.gold * (k + 1) + arrays.pred + 1, minlength=k * (k + 1)).reshape(k, k + 1)
    status_counts = dict(
        zip(
            SAMPLE_STATUSES,
            np.bincount(arrays.status.astype(np.int64), minlength=len(SAMPLE_STATUSES)).tolist(),
            strict=True,
        )
    )
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
        parse_notes=arrays.note_counts,
        not_computed=not_computed,
        bootstrap=_bootstrap_info(n_resamples, ci, seed, large),
        scoring_version=SCORING_VERSION,
        not_run=not_run,
    )


#: How close to 0 or 1 a rate's estimate must be to count as on the boundary of [0, 1].
_EDGE = 1e-12


def _containing(value: float, low: float, high: float) -> tuple[float, float]:
    """The interval widened, where needed, to contain its estimate (a percentile interval from a skewed or
    short bootstrap distribution can miss it)."""
    return min(low, value), max(high, value)


def at_boundary(m: MetricSpec, value: float) -> bool:
    """A rate estimated at exactly 0 or 1: its bootstrap distribution is one point (every per-sample
    numerator is 0, or equals its denominator, in every resample)."""
    return m.unit == "rate" and (value <= _EDGE or value >= 1.0 - _EDGE)


class _PerSample:
    """How many samples have a share in a metric's denominator, from the per-sample rows."""

    def __init__(self, arrays: ScoreArrays) -> None:
        self._arrays = arrays
        self._coefficients: Mapping[str, np.ndarray] | None = None

    def contributing(self, m: MetricSpec) -> int:
        """Samples with a share in ``m``'s denominator (every sample for UAR and macro-F1, samples with a
        box claim for claim-level metrics, ...): the n of its interval at the boundary."""
        a = self._arrays
        k = len(a.classes)
        if self._coefficients is None:  # every named sum is linear in the feature row: its coefficients
            self._coefficients = named_sums(np.eye(k * (k + 1) + len(SUM_FIELDS)), a.classes)
        coef = np.asarray(self._coefficients[m.denominator])
        if coef.ndim > 1:  # a per-class sum (b, K): a sample shares in it through any class
            coef = np.abs(coef).sum(axis=1)
        per_sample = coef[a.gold * (k + 1) + a.pred + 1] + a.rows @ coef[k * (k + 1) :]
        return int(np.count_nonzero(per_sample > 0))


def boundary_interval(m: MetricSpec, value: float, n: int, ci: float) -> tuple[float, float] | None:
    """The Wilson interval of 0 or n successes in the ``n`` contributing samples of a bootstrap rate at 0
    or 1 (whose percentile interval has zero width); None for any other value or without samples."""
    if not at_boundary(m, value) or n <= 0:
        return None
    return wilson_interval(0 if value <= _EDGE else n, n, ci)


def _boundary_difference(
    m: MetricSpec, a: float, b: float, per_a: _PerSample, per_b: _PerSample, ci: float
) -> tuple[float, float] | None:
    """The interval of ``a - b`` when both rates sit at 0 or 1, where every paired resample gives the same
    difference: Newcombe's square-and-add of the two runs' boundary Wilson intervals, within [-1, 1]."""
    wa = boundary_interval(m, a, per_a.contributing(m), ci)
    wb = boundary_interval(m, b, per_b.contributing(m), ci)
    if wa is None or wb is None:
        return None
    d = a - b
    low = d - math.hypot(a - wa[0], wb[1] - b)
    high = d + math.hypot(wa[1] - a, b - wb[0])
    return max(-1.0, low), min(1.0, high)


def _paired_degenerate(m: MetricSpec, arrays: ScoreArrays, ci: float) -> tuple[float, float] | None:
    """Newcombe's paired interval of a difference metric (``MetricSpec.difference``) when every contributing
    sample has the same difference (none discordant, or all discordant the same way), so that every
    bootstrap resample gives the same difference; else None."""
    assert m.difference is not None, m.name
    keep = arrays.column(m.denominator) > 0
    a = arrays.column(m.difference[0])[keep] > 0
    b = arrays.column(m.difference[1])[keep] > 0
    diff = a.astype(np.int8) - b.astype(np.int8)
    if not a.size or np.any(diff != diff[0]):
        return None
    both, only_a, only_b = (int(np.count_nonzero(x)) for x in (a & b, a & ~b, ~a & b))
    return newcombe_paired_interval(both, only_a, only_b, int(a.size) - both - only_a - only_b, ci)


def _bootstrap_info(n_resamples: int, ci: float, seed: int, large: bool) -> dict[str, Any]:
    """What ``metrics.json`` records of the bootstrap; ``resampling`` is the versioned way resamples were
    drawn (per sample, or counts per stratum for a large run: :mod:`tag_bench.metrics.strata`)."""
    return {
        "n_resamples": n_resamples,
        "ci": ci,
        "seed": seed,
        "unit": "sample",
        "method": "percentile",
        "resampling": STRATA_METHOD if large else PER_SAMPLE_METHOD,
    }


def _point_sums(arrays: ScoreArrays) -> np.ndarray:
    """(1, F) column sums of :meth:`ScoreArrays.features` without making it (the same numbers: the
    one-hot block sums to counts, and the rows are summed in the same order)."""
    k = len(arrays.classes)
    cells = np.bincount(arrays.gold * (k + 1) + arrays.pred + 1, minlength=k * (k + 1)).astype(float)
    return np.concatenate([cells, arrays.rows.sum(axis=0)])[None, :]


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
    :func:`tag_bench.metrics.stats.bootstrap_p_value`, and Holm-adjusted over every metric compared
    (``p_value_holm``). A metric undefined in either run has diff None.
    """
    check_n_resamples(n_resamples)
    a = build_arrays(scored_a, classes, au_reference_id=au_reference_id)
    b = build_arrays(scored_b, classes, au_reference_id=au_reference_id)
    return compare_arrays(a, b, n_resamples=n_resamples, ci=ci, seed=seed, intersect=intersect)


def compare_arrays(
    a: ScoreArrays,
    b: ScoreArrays,
    *,
    n_resamples: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    intersect: bool = False,
) -> PairedComparison:
    """:func:`compare_metrics` on prepared arrays (:func:`build_arrays`), paired by sample id."""
    check_n_resamples(n_resamples)
    if a.classes != b.classes or a.au_reference != b.au_reference:
        raise ValueError("the runs were scored with different class lists or AU references")
    if a.sample_ids == b.sample_ids:  # the same samples in the same order: nothing to line up
        return _compare_aligned(a, b, n_resamples=n_resamples, ci=ci, seed=seed)
    pos_b = {sid: i for i, sid in enumerate(b.sample_ids)}
    only_a = sum(1 for sid in a.sample_ids if sid not in pos_b)
    only_b = len(b.sample_ids) - (len(a.sample_ids) - only_a)
    if (only_a or only_b) and not intersect:
        raise ValueError(
            f"runs cover different samples ({only_a} only in A, {only_b} only in B); "
            "a paired comparison needs the same sample ids (pass intersect=True to compare the overlap)"
        )
    keep_a = [i for i, sid in enumerate(a.sample_ids) if sid in pos_b]
    if not keep_a:
        raise ValueError("the two runs share no sample ids")
    arr_a = a.subset(keep_a)
    arr_b = b.subset([pos_b[sid] for sid in arr_a.sample_ids])
    return _compare_aligned(arr_a, arr_b, n_resamples=n_resamples, ci=ci, seed=seed)


def _compare_aligned(
    arr_a: ScoreArrays, arr_b: ScoreArrays, *, n_resamples: int, ci: float, seed: int
) -> PairedComparison:
    """:func:`compare_arrays` of two runs whose arrays hold the same samples in the same order."""
    a, b = arr_a, arr_b
    mismatch = np.flatnonzero(arr_a.gold != arr_b.gold)
    if mismatch.size:
        i = int(mismatch[0])
        raise ValueError(
            f"sample {arr_a.sample_ids[i]!r} has gold {a.classes[arr_a.gold[i]]!r} in A but "
            f"{b.classes[arr_b.gold[i]]!r} in B"
        )
    ids = arr_a.sample_ids
    classes = list(a.classes)
    table = metrics_for(classes)
    summed = [m for m in table if m.kind == "sums"]
    column = {m.name: j for j, m in enumerate(summed)}
    va, vb = arr_a.features(), arr_b.features()

    def statistic(data: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return _metric_matrix(weights @ data, classes, summed)[0]

    ones = np.ones((1, len(ids)))
    pa, pb = statistic(va, ones)[0], statistic(vb, ones)[0]
    per_a, per_b = _PerSample(arr_a), _PerSample(arr_b)
    paired = None
    large = len(ids) > STRATA_MIN_SAMPLES
    if n_resamples > 0 and large:
        fill = np.concatenate([(ones @ va)[0], (ones @ vb)[0]])
        paired = _paired_strata(
            arr_a, arr_b, summed, pa - pb, fill, n_resamples=n_resamples, ci=ci, seed=seed
        )
    elif n_resamples > 0:
        paired = paired_bootstrap(va, vb, statistic, n_resamples=n_resamples, ci=ci, seed=seed)

    unmet_a, unmet_b = _unmet(arr_a, None), _unmet(arr_b, None)
    out: dict[str, MetricDifference] = {}
    not_computed: dict[str, str] = {}
    for m in table:
        reason_a, reason_b = _reason(m, unmet_a), _reason(m, unmet_b)
        j = column.get(m.name)
        if j is None:  # a quantile or run-level figure: compared by its difference alone, with no test
            a_val, b_val = _untested_value(m, arr_a, ci), _untested_value(m, arr_b, ci)
        else:
            a_val = None if np.isnan(pa[j]) else float(pa[j])
            b_val = None if np.isnan(pb[j]) else float(pb[j])
        if reason_a is not None or reason_b is not None:  # a run fact one side lacks (reference, stage...)
            a_val = None if reason_a is not None else a_val
            b_val = None if reason_b is not None else b_val
            reasons = dict.fromkeys(r for r in (reason_a, reason_b) if r is not None)
            not_computed[m.name] = (
                "; ".join(reasons)
                if len(reasons) == 1 or reason_a is None or reason_b is None
                else (f"run A: {reason_a}; run B: {reason_b}")
            )
            out[m.name] = MetricDifference(value_a=a_val, value_b=b_val, diff=None)
            continue
        if a_val is None or b_val is None:
            where = (
                "runs A and B" if a_val is None and b_val is None else f"run {'A' if a_val is None else 'B'}"
            )
            not_computed[m.name] = f"undefined in {where}: {m.empty_reason}"
            out[m.name] = MetricDifference(value_a=a_val, value_b=b_val, diff=None)
            continue
        diff = MetricDifference(value_a=a_val, value_b=b_val, diff=a_val - b_val)
        if j is None:
            out[m.name] = diff
            continue
        if paired is not None and not np.isnan(paired.ci_low[j]):
            both_edges = at_boundary(m, a_val) and at_boundary(m, b_val)
            edge = _boundary_difference(m, a_val, b_val, per_a, per_b, ci) if both_edges else None
            low_high = edge or (float(paired.ci_low[j]), float(paired.ci_high[j]))
            diff.ci_low, diff.ci_high = _containing(a_val - b_val, *low_high)
        hits = _per_sample_hits(m, arr_a, arr_b)
        if hits is not None:  # a share of all samples: the exact test of paired yes/no outcomes
            diff.p_value, diff.test = mcnemar_exact(*hits).p_value, "mcnemar"
        elif paired is not None and not np.isnan(paired.p_value[j]):
            diff.p_value, diff.test = float(paired.p_value[j]), "paired-bootstrap"
        out[m.name] = diff
    tested = {name: d.p_value for name, d in out.items() if d.p_value is not None}
    if tested:
        for name, adjusted in zip(tested, holm(list(tested.values())), strict=True):
            out[name].p_value_holm = float(adjusted)
    mc = mcnemar_exact(arr_a.pred == arr_a.gold, arr_b.pred == arr_b.gold)
    return PairedComparison(
        n=len(ids),
        differences=out,
        mcnemar={"b": mc.b, "c": mc.c, "p_value": mc.p_value},
        not_computed=not_computed,
        bootstrap=_bootstrap_info(n_resamples, ci, seed, large),
    )


def _paired_strata(
    a: ScoreArrays,
    b: ScoreArrays,
    table: Sequence[MetricSpec],
    diff: np.ndarray,
    fill: np.ndarray,
    *,
    n_resamples: int,
    ci: float,
    seed: int,
) -> PairedResult:
    """:func:`~tag_bench.metrics.stats.paired_bootstrap` of every metric of ``table`` for a large run: the
    strata are the distinct pairs of rows (A's and B's row of one sample), so the pairing is kept."""
    k = len(a.classes)
    width = 1 + len(SUM_FIELDS)
    full = k * (k + 1) + len(SUM_FIELDS)

    def statistic(sums: np.ndarray, outputs: Sequence[int]) -> np.ndarray:
        chosen = [table[j] for j in outputs]
        return (
            _metric_matrix(sums[:, :full], a.classes, chosen)[0]
            - _metric_matrix(sums[:, full:], a.classes, chosen)[0]
        )

    dist = strata_distribution(
        compact_side_by_side(a, b),
        lambda rows: np.hstack([_expand(rows[:, :width], k), _expand(rows[:, width:], k)]),
        np.concatenate([_origin(k), _origin(k) + width]),
        statistic,
        len(table),
        n_resamples=n_resamples,
        fill=fill,
        seed=seed,
        categorical=[0, width],
    )
    lo, hi = percentile_interval(dist, ci)
    p = np.array([bootstrap_p_value(dist[:, j]) for j in range(dist.shape[1])])
    undefined = np.isnan(diff)
    return PairedResult(
        diff, np.where(undefined, np.nan, lo), np.where(undefined, np.nan, hi), np.where(undefined, np.nan, p)
    )


def _untested_value(m: MetricSpec, arrays: ScoreArrays, ci: float) -> float | None:
    value = _quantile(m, arrays, ci)[0] if m.kind == "quantile" else _run_level(m, arrays)[0]
    return None if math.isnan(value) else value


def tested_by_mcnemar(m: MetricSpec) -> bool:
    """Whether ``compare`` tests ``m`` with the exact McNemar test: a share of all samples (each sample a
    yes or a no), rather than with the paired bootstrap."""
    return (
        m.denominator == "samples"
        and m.numerator is not None
        and (m.numerator == "correct" or m.numerator in FIELD_INDEX)
    )


def mcnemar_metric_names() -> list[str]:
    """The metrics of the table that ``compare`` tests with McNemar (:func:`tested_by_mcnemar`), in order."""
    return [m.name for m in METRICS if m.group != "per_class" and tested_by_mcnemar(m)]


def _per_sample_hits(m: MetricSpec, a: ScoreArrays, b: ScoreArrays) -> tuple[np.ndarray, np.ndarray] | None:
    """The 0/1 outcome per sample of both runs, for a metric that is a share of all samples; else None.

    With few discordant samples the paired bootstrap's p-value is far too small (about 2e^-k for k
    samples that all changed one way, against the exact 2^(1-k)), so these metrics use McNemar.
    """
    if not tested_by_mcnemar(m):
        return None
    if m.numerator == "correct":
        return a.pred == a.gold, b.pred == b.gold
    return a.column(m.numerator or "") > 0, b.column(m.numerator or "") > 0


class ArraysJoiner:
    """Joins the arrays of consecutive chunks of one run of ``n`` samples as they arrive: each chunk's
    feature rows are copied into one preallocated matrix, so the chunks and the joined rows are never
    all held at once."""

    def __init__(self, n: int) -> None:
        self.rows = np.empty((n, len(SUM_FIELDS)))
        self.filled = 0
        self.first: ScoreArrays | None = None
        self.ids: list[str] = []
        self.gold: list[np.ndarray] = []
        self.pred: list[np.ndarray] = []
        self.status: list[np.ndarray] = []
        self.counts: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()

    def add(self, part: ScoreArrays) -> None:
        if self.first is None:
            self.first = part
        first = self.first
        if part.classes != first.classes or part.au_reference != first.au_reference:
            raise ValueError("chunks were scored with different class lists or AU references")
        if self.filled + part.n > self.rows.shape[0]:
            raise ValueError(f"more than the {self.rows.shape[0]} samples announced")
        self.rows[self.filled : self.filled + part.n] = part.rows
        self.filled += part.n
        self.ids += part.sample_ids
        self.gold.append(part.gold)
        self.pred.append(part.pred)
        self.status.append(part.status)
        self.counts.update(part.reference_status_counts)
        self.notes.update(part.note_counts)

    def result(self) -> ScoreArrays:
        first = self.first
        if first is None:
            raise ValueError("nothing to join")
        if self.filled != self.rows.shape[0]:
            raise ValueError(f"{self.filled} of the {self.rows.shape[0]} samples announced were joined")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("a sample appears in more than one chunk")
        return ScoreArrays(
            classes=first.classes,
            au_reference=first.au_reference,
            sample_ids=self.ids,
            gold=np.concatenate(self.gold),
            pred=np.concatenate(self.pred),
            status=np.concatenate(self.status),
            rows=self.rows,
            reference_status_counts=dict(sorted(self.counts.items())),
            note_counts=dict(sorted(self.notes.items())),
            facts=first.facts,
        )
