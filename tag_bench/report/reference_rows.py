"""Published results as reference rows (§) of a leaderboard, placed only where their protocol belongs.

A column group's runs share one comparability key (:mod:`tag_bench.comparability`); a published result
goes under it when the parts that apply to a number from a paper agree: the task and its version, or a
task defining the same samples and labels (:class:`tag_bench.report.published.Placement`), and the
sample count where the source gives one. Never placed, and listed in a note with the reason: results
whose protocol is unknown, results over part of the protocol's samples only (``subset``), results beside
runs of a ``--limit`` subset or of a dataset copy that is not the official split (the loader's warning,
kept in the run's manifest), results whose n differs from the runs', and, in a transfer table, results
of models that are not zero-shot (a transfer row is one model across datasets; a supervised or
fine-tuned paper trains one per dataset). A metric that depends on an AU reference never takes one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tag_bench.data.base import NOT_COMPARABLE_WITH_PUBLISHED
from tag_bench.report.frames import ScoredRun
from tag_bench.report.published import Placement, Published, Result, Source, entries
from tag_bench.report.table import (
    CITE_MARK,
    Cell,
    Column,
    PublishedCell,
    PublishedRow,
    Row,
    Table,
    _sort_key,
    cite,
)
from tag_bench.scoring.metric_table import spec as metric_spec

NOT_PUBLISHED = "not published for this protocol"


@dataclass(frozen=True)
class ColumnRuns:
    """What the runs of one column group share, for placing published numbers beside them."""

    task: str
    version: int
    dataset: str
    n: int
    limited: bool  # the runs cover a --limit subset
    unofficial: bool  # the runs' dataset copy is not the official split (their manifests' warnings say so)

    @classmethod
    def of(cls, runs: Sequence[ScoredRun]) -> ColumnRuns | None:
        """The runs' shared task, version and sample count (None: no run, or runs that disagree)."""
        if not runs:
            return None
        first = runs[0]
        shared = {(r.manifest.task.name, r.manifest.task.version, r.report.n) for r in runs}
        if len(shared) > 1:
            return None
        return cls(
            first.manifest.task.name,
            first.manifest.task.version,
            first.manifest.task.dataset,
            first.report.n,
            any(r.manifest.limit is not None for r in runs),
            any(NOT_COMPARABLE_WITH_PUBLISHED in w for r in runs for w in r.manifest.warnings),
        )


def add_reference_rows(
    table: Table,
    sources: Sequence[Source],
    group_runs: Sequence[Sequence[ScoredRun]],
    *,
    marks: bool = False,
    zero_shot_only: bool = False,
) -> list[str]:
    """Put the published rows of ``sources`` at the top of ``table`` (``group_runs``: the runs of each of its
    column groups, in order); return the notes on them. ``marks``: they take part in best / second."""
    placer = Placement()
    columns = [ColumnRuns.of(runs) for runs in group_runs] + [None] * (len(table.groups) - len(group_runs))
    placed: set[int] = set()
    rows: list[Row] = []
    for source in sources:
        for model in source.models:
            usable = not zero_shot_only or model.setting == "zero-shot"
            cells: list[list[Cell]] = []
            for group, where in zip(table.groups, columns, strict=True):
                cells.append(
                    [
                        _cell(model.results, col, where, placer, placed, model.where)
                        if usable
                        else Cell(None, reason=NOT_PUBLISHED)
                        for col in group.columns
                    ]
                )
            if any(c.value is not None for g in cells for c in g):
                info = PublishedRow(source.key, model.model, model.setting, model.detail, source.url)
                rows.append(
                    Row(name=model.model, cells=cells, runs=[None] * len(table.groups), published=info)
                )
    rows.sort(key=_sort_key(table.groups))
    table.rows = rows + table.rows
    table.published_marks = marks
    notes = _notes(table, sources, columns, placer, placed, zero_shot_only)
    table.cited = list(dict.fromkeys([r.published.key for r in rows if r.published] + _cited(notes)))
    return notes


def _cell(
    results: Sequence[Result],
    col: Column,
    where: ColumnRuns | None,
    placer: Placement,
    placed: set[int],
    model_where: str,
) -> Cell:
    if where is None or metric_spec(col.metric).needs_reference:
        return Cell(None, reason=NOT_PUBLISHED)
    hits = [r for r in results if r.metric == col.metric and _refusal(r, where, placer) is None]
    if not hits:
        return Cell(None, reason=NOT_PUBLISHED)
    r = min(hits, key=lambda x: (x.task, x.version) != (where.task, where.version))  # its own task first
    placed.add(id(r))
    low, high = r.interval() or (None, None)
    return PublishedCell(
        r.rate,
        low,
        high,
        r.n,
        "wilson-published" if low is not None else None,
        decimals=r.decimals,
        where=r.where or model_where,
        protocol=r.protocol,
        computed=r.computed,
    )


def _refusal(r: Result, where: ColumnRuns, placer: Placement) -> str | None:
    """Why ``r`` may not stand beside these runs (None: it may)."""
    if r.protocol == "unknown":
        return "protocol unknown"
    if not placer.same_protocol(r, where.task, where.version):
        return "protocol"
    if r.subset:
        return f"over a subset, {r.subset}"
    if where.limited:
        return "the runs beside it cover a --limit subset"
    if where.unofficial:
        return (
            "the runs beside it are of a dataset copy that is not the official split (their manifests say so)"
        )
    if r.n is not None and r.over_all_samples and r.n != where.n:
        return f"over {r.n:,} samples, the runs beside it over {where.n:,}"
    return None


# --------------------------------------------------------------------------------------------------
# Notes


def _value(r: Result) -> str:
    return f"{Column.of(r.metric).title} {r.value}"


def _notes(
    table: Table,
    sources: Sequence[Source],
    columns: Sequence[ColumnRuns | None],
    placer: Placement,
    placed: set[int],
    zero_shot_only: bool,
) -> list[str]:
    rows = [r for r in table.rows if r.published]
    notes: list[str] = []
    if rows:
        marks = (
            "they take part in best and second, compared with the runs at the coarsest precision printed in the column"
            if table.published_marks
            else "they take no best or second mark"
        )
        notes.append(
            "§ published, not re-run: the number as the cited source printed it, under a column whose task and "
            "version follow the source's protocol (or a task with the same dataset, split, protocol, loader "
            f"options and classes), – where it gives none; {marks}."
        )
    published = entries(sources)
    computed = [p for p in published if id(p.result) in placed and p.result.computed]
    if computed:
        notes.append(
            "Computed from the source's per-sample results, not printed in it: "
            + "; ".join(
                f"{p.model.model} {_value(p.result)} on {p.result.task}, from {p.where} {cite(p.source.key)}"
                for p in computed
            )
            + "."
        )
    inferred = [p for p in published if id(p.result) in placed and p.result.protocol == "inferred"]
    if inferred:
        notes.append(
            "Protocol inferred, not stated by the source: "
            + "; ".join(
                f"{p.model.model} {_value(p.result)} on {p.result.task} {cite(p.source.key)}: {p.result.note}"
                for p in inferred
            )
            + "."
        )
    datasets = {c.dataset for c in columns if c is not None}
    metrics = {c.metric for g in table.groups for c in g.columns}
    # reason -> source -> model -> values
    unknown: dict[str, dict[str, dict[str, list[str]]]] = {}
    other: dict[str, dict[str, dict[str, list[str]]]] = {}
    for p in published:
        r = p.result
        if id(r) in placed or r.metric not in metrics or placer.dataset(r) not in datasets:
            continue
        if r.protocol == "unknown":
            why = r.note
            bucket = unknown
        else:  # a result of another protocol is simply not this table's; one of its own is explained
            same = [c for c in columns if c is not None and placer.same_protocol(r, c.task, c.version)]
            if not same:
                continue
            why = _why_not(p, same, placer, zero_shot_only)
            bucket = other
        bucket.setdefault(why, {}).setdefault(p.source.key, {}).setdefault(p.model.model, []).append(
            _value(r)
        )
    for title, bucket in (("Not placed, protocol unknown, ", unknown), ("Not placed, ", other)):
        for why, by_source in bucket.items():
            listed = "; ".join(
                ", ".join(f"{model} {' / '.join(values)}" for model, values in models.items())
                + f" {cite(key)}"
                for key, models in by_source.items()
            )
            notes.append(f"{title}{why}: {listed}.")
    return notes


def _why_not(p: Published, same: Sequence[ColumnRuns], placer: Placement, zero_shot_only: bool) -> str:
    """Why a result of the protocol of the columns ``same`` stands in none of them."""
    if zero_shot_only and p.model.setting != "zero-shot":
        return f"{p.model.setting}, while a transfer row is one model evaluated on every dataset"
    return next((why for c in same if (why := _refusal(p.result, c, placer)) is not None), "not placed")


def _cited(notes: Sequence[str]) -> list[str]:
    keys: list[str] = []
    for n in notes:
        keys += n.split(CITE_MARK)[1::2]
    return keys
