"""A leaderboard as data: column groups, rows, cells with their marks and notes.

Built from scored runs and a spec (:mod:`tag_bench.report.spec`); rendered by
:mod:`tag_bench.report.render` (Markdown, LaTeX, CSV, JSON, HTML). The rules live here, once:

- runs whose task version, protocol or AU reference differ are never mixed in one column group: the
  group is split and each part says what distinguishes it;
- the best value of a column is marked ``best`` and the runner-up ``second``, following the metric's
  direction, among rows that have a value and are not oracle rows (†); equal values at the printed
  precision are tied and marked alike; a column with fewer than two such rows gets no marks, and an
  informational metric (usage figures) never does;
- with ``mark_significant`` the best mark stays only when a paired test against the runner-up on the
  same samples says the difference is significant;
- published results (``published``: rows marked § and placed by :mod:`tag_bench.report.reference_rows`)
  come first, carry no marks unless ``mark_published``, and are then compared with the runs at the
  coarsest precision printed in the column.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tag_bench.comparability import PART_NAMES, ComparabilityKey, describe, differing
from tag_bench.errors import TagBenchError
from tag_bench.report.frames import ScoredRun
from tag_bench.report.intersect import on_shared_samples
from tag_bench.report.published import Source
from tag_bench.report.significance import paired_p_value
from tag_bench.report.spec import ColumnGroupSpec, LeaderboardSpec
from tag_bench.scoring.metric_table import spec as metric_spec
from tag_bench.scoring.units import shown_number

ORACLE_NOTE = "reads the AU reference it is scored against: its grounding is an upper bound by construction"


class TableError(TagBenchError):
    """The runs cannot be put in one table as asked (two runs with one name in one column group...)."""


@dataclass
class Column:
    metric: str
    title: str
    higher_is_better: bool | None  # the direction rows are sorted by (None: no better direction)
    unit: str = "rate"  # how its numbers are shown (tag_bench.scoring.units)
    ranked: bool = True  # best / second marks (False for informational metrics)
    hardware_dependent: bool = False

    @classmethod
    def of(cls, metric: str) -> Column:
        """The column of a metric, as the metric table describes it."""
        m = metric_spec(metric)
        return cls(metric, m.title, m.higher_is_better, m.unit, m.ranked, m.hardware_dependent)


@dataclass
class Group:
    title: str
    columns: list[Column]
    detail: str | None = None  # what sets this group apart from another with the same title
    reference: str | None = None  # the AU reference its grounding metrics are judged against
    differs_in: tuple[str, ...] = ()  # the comparability-key parts that split its spec group


@dataclass
class Cell:
    value: float | None  # in the column metric's unit (rates in [0, 1])
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    ci_method: str | None = None
    reason: str | None = None  # why there is no value
    mark: Literal["best", "second"] | None = None


@dataclass
class PublishedCell(Cell):
    """A published number: shown with the decimals its source printed; its interval (if any) is Wilson on
    the published n."""

    decimals: int = 1
    where: str = ""  # the place in the source
    protocol: str = "stated"  # stated or inferred (unknown ones are never placed)
    computed: str | None = None  # how it follows from the source's per-sample results, when not printed


@dataclass
class PublishedRow:
    """What makes a row a published one (§): its source and model."""

    key: str  # the citation key (LaTeX: \cite{key})
    model: str
    setting: str  # zero-shot, fine-tuned or supervised
    detail: str = ""
    url: str | None = None


#: Cites in row labels and notes: ``cite(key)`` is resolved by each format (LaTeX \cite{key}, else [key]).
CITE_MARK = "\x1f"


def cite(key: str) -> str:
    return f"{CITE_MARK}{key}{CITE_MARK}"


@dataclass
class Row:
    name: str
    cells: list[list[Cell]]  # per group, per column
    oracle: bool = False
    incomplete: bool = False
    failed: bool = False  # shown only with --allow-failed
    train_source: str | None = None
    runs: list[ScoredRun | None] = field(default_factory=list)  # per group: the run behind the cells
    published: PublishedRow | None = None  # a published result, not a run (§)


@dataclass
class Table:
    spec: str
    title: str
    caption: str
    groups: list[Group]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    significant_marks: bool = False  # best marks kept only where a paired test says so
    published_marks: bool = False  # published rows take part in the marks (--mark-published)
    cited: list[str] = field(default_factory=list)  # citation keys of the published rows and notes

    def n_columns(self) -> int:
        return sum(len(g.columns) for g in self.groups)


def build_table(
    runs: Sequence[ScoredRun],
    spec: LeaderboardSpec,
    *,
    decimals: int = 1,
    mark_significant: bool = False,
    alpha: float = 0.05,
    intersect: bool = False,
    published: Sequence[Source] = (),
    mark_published: bool = False,
) -> Table:
    """The leaderboard ``spec`` over ``runs`` (see the module docstring for the rules). ``intersect``: runs
    of one column that differ only in their sample set are scored on the samples they share (noted).
    ``published``: sources whose results are added as § rows where their protocol matches a column's."""
    runs = [r for r in runs if _row_wanted(r.name, spec)]
    if spec.kind == "transfer":
        # lazy: import cycle (report.table -> report.transfer -> report.table)
        from tag_bench.report.transfer import build_transfer

        return build_transfer(
            runs, spec, decimals=decimals, published=published, mark_published=mark_published
        )
    shared_notes: list[str] = []
    parts = _partition(runs, spec, intersect=intersect, notes=shared_notes)
    names = _row_names(parts)
    groups = [g for g, _ in parts]
    rows = [
        Row(
            name=name,
            cells=[[_cell(by_name.get(name), c.metric) for c in g.columns] for g, by_name in parts],
            runs=[by_name.get(name) for _, by_name in parts],
        )
        for name in names
    ]
    for row in rows:
        present = [r for r in row.runs if r is not None]
        row.oracle = any(r.manifest.model.oracle_reference for r in present)
        row.failed = any(r.failed for r in present)
        row.incomplete = any(not r.complete and not r.failed for r in present)
        row.train_source = next((r.manifest.train_source for r in present if r.manifest.train_source), None)
    rows.sort(key=_sort_key(groups))
    table = Table(spec.name, spec.title, spec.caption, groups, rows)
    published_notes: list[str] = []
    if published:
        from tag_bench.report.reference_rows import add_reference_rows  # lazy: it builds on this module

        published_notes = add_reference_rows(
            table, published, [list(by_name.values()) for _, by_name in parts], marks=mark_published
        )
    mark_best(table, decimals, published=mark_published)
    if mark_significant:
        _keep_significant_marks(table, alpha)
        table.significant_marks = True
    table.notes = shared_notes + _notes(table, runs, mark_significant) + published_notes
    return table


# --------------------------------------------------------------------------------------------------
# Groups and rows


def _row_wanted(name: str, spec: LeaderboardSpec) -> bool:
    inc, exc = spec.rows.include, spec.rows.exclude
    if inc and not any(fnmatch.fnmatch(name, p) for p in inc):
        return False
    return not any(fnmatch.fnmatch(name, p) for p in exc)


def _partition(
    runs: Sequence[ScoredRun],
    spec: LeaderboardSpec,
    *,
    intersect: bool = False,
    notes: list[str] | None = None,
) -> list[tuple[Group, dict[str, ScoredRun]]]:
    """Column groups with the run of each row name. One spec group splits wherever the runs' comparability
    keys differ (:mod:`tag_bench.comparability`), each part named by what sets it apart; ``intersect``
    puts runs that differ only in their sample set together, scored on the samples they share."""
    out: list[tuple[Group, dict[str, ScoredRun]]] = []
    for gspec in _expand(spec.columns, runs):
        grounding = any(metric_spec(m).needs_reference for m in gspec.metrics)
        chosen = _group_runs(runs, gspec, grounding)
        blank: tuple[str, ...] = () if grounding else ("au_reference",)
        if intersect:
            blank += ("samples", "labels", "images")
        keys: dict[ComparabilityKey, list[ScoredRun]] = {}
        for r in chosen:
            keys.setdefault(r.key.without(*blank), []).append(r)
        if intersect:
            keys = {k: _on_shared_samples(members, notes) for k, members in keys.items()}
        columns = [Column.of(m) for m in gspec.metrics]
        title = gspec.title or (gspec.tasks[0] if isinstance(gspec.tasks, list) and gspec.tasks else "")
        differs = differing(list(keys))
        for key, members in keys.items():
            by_name: dict[str, ScoredRun] = {}
            for r in members:
                if r.name in by_name:
                    raise TableError(
                        f"two runs named {r.name!r} for {key.task} in one column group ({by_name[r.name].run.path} "
                        f"and {r.run.path}); give them distinct names with --name (or `tag-bench score RUN --name`)"
                    )
                by_name[r.name] = r
            n_samples = members[0].report.n if members else None
            detail = ", ".join(describe(key, part, n_samples=n_samples) for part in differs) or None
            ref = key.au_reference if grounding else None
            out.append((Group(title, list(columns), detail, ref, tuple(differs)), by_name))
    return out


def _on_shared_samples(members: list[ScoredRun], notes: list[str] | None) -> list[ScoredRun]:
    """``--intersect``: the runs scored again on the samples they all have (same gold labels and images
    there, else refused naming the runs)."""
    if len({(m.key.samples, m.key.labels, m.key.images) for m in members}) <= 1:
        return members
    scored, note = on_shared_samples(members)
    if notes is not None:
        notes.append(note)
    return scored


def _group_runs(runs: Sequence[ScoredRun], gspec: ColumnGroupSpec, grounding: bool) -> list[ScoredRun]:
    """The runs of a group's tasks. A run read once per AU reference (``references: all``) appears once in a
    group without reference metrics: its numbers there do not depend on the reference."""
    chosen = [r for r in runs if r.manifest.task.name in gspec.tasks]
    if grounding:
        return chosen
    once: dict[object, ScoredRun] = {}
    for r in chosen:
        once.setdefault((r.run.path, r.name, r.fill), r)  # a judge run directory holds one row per candidate
    return list(once.values())


def unmatched(runs: Sequence[ScoredRun], spec: LeaderboardSpec) -> str | None:
    """Why ``spec`` shows no run at all (none of its tasks, or every row filtered out), or None."""
    tasks = [t for g in spec.columns for t in (g.tasks if isinstance(g.tasks, list) else [])]
    wildcard = any(g.tasks == "*" for g in spec.columns)
    found = list(dict.fromkeys(r.manifest.task.name for r in runs))
    of_tasks = [r for r in runs if wildcard or r.manifest.task.name in tasks]
    if not of_tasks:
        return (
            f"leaderboard spec {spec.name!r} shows tasks {', '.join(dict.fromkeys(tasks))}, but the runs found "
            f"are of {', '.join(found) or 'no task'}: pass runs of its tasks or another --spec (built in: overview "
            "shows every task found)"
        )
    if not any(_row_wanted(r.name, spec) for r in of_tasks):
        return (
            f"leaderboard spec {spec.name!r}: its rows filter (include {spec.rows.include}, exclude "
            f"{spec.rows.exclude}) leaves none of the runs of its tasks "
            f"({', '.join(dict.fromkeys(r.name for r in of_tasks))})"
        )
    return None


def _expand(groups: list[ColumnGroupSpec], runs: Sequence[ScoredRun]) -> list[ColumnGroupSpec]:
    """``tasks: "*"``: one group per task found, in first-seen order."""
    out: list[ColumnGroupSpec] = []
    for g in groups:
        if g.tasks == "*":
            seen = list(dict.fromkeys(r.manifest.task.name for r in runs))
            out += [g.model_copy(update={"tasks": [t], "title": t}) for t in seen]
        else:
            out.append(g)
    return out


def _row_names(parts: list[tuple[Group, dict[str, ScoredRun]]]) -> list[str]:
    return list(dict.fromkeys(name for _, by_name in parts for name in by_name))


def _cell(run: ScoredRun | None, metric: str) -> Cell:
    if run is None:
        return Cell(None, reason="not evaluated")
    v = run.report.metrics.get(metric)
    if v is None:
        return Cell(None, reason="not reported by this run")
    if v.value is None:
        return Cell(None, n=v.n, reason=run.report.not_computed.get(metric, "not computed"))
    return Cell(v.value, v.ci_low, v.ci_high, v.n, v.ci_method)


def _sort_key(groups: list[Group]):
    """Rows by the first column of the first group (its direction), rows without a value last."""
    if not groups or not groups[0].columns:
        return lambda row: row.name
    col = groups[0].columns[0]
    sign = -1.0 if col.higher_is_better is not False else 1.0

    def key(row: Row) -> tuple[int, float, str]:
        v = row.cells[0][0].value
        return (v is None, 0.0 if v is None else sign * v, row.name)

    return key


# --------------------------------------------------------------------------------------------------
# Marks


def mark_best(table: Table, decimals: int, *, published: bool = False) -> None:
    """Best and second per column, by direction, among non-oracle rows with a value, ties alike. Published
    rows take part only with ``published``; values are then compared at the coarsest precision printed in
    the column (a source's 92.1 ties a run's 92.14)."""
    for gi, group in enumerate(table.groups):
        for ci, col in enumerate(group.columns):
            if not col.ranked or col.higher_is_better is None:
                continue
            cells = [
                (r.cells[gi][ci], r)
                for r in table.rows
                if not r.oracle and (published or r.published is None)
            ]
            digits = min(
                [decimals]
                + [c.decimals for c, _ in cells if isinstance(c, PublishedCell) and c.value is not None]
            )
            scored = [(shown_number(col.unit, c.value, digits), c) for c, _ in cells if c.value is not None]
            if len(scored) < 2:
                continue
            ranked = sorted({v for v, _ in scored}, reverse=col.higher_is_better)
            for v, c in scored:
                if v == ranked[0]:
                    c.mark = "best"
                elif len(ranked) > 1 and v == ranked[1]:
                    c.mark = "second"


def _keep_significant_marks(table: Table, alpha: float) -> None:
    """Drop a best mark unless a paired test on the same samples separates it from every runner-up.

    Tied best values are never significantly better than each other: none of them stays bold."""
    for gi, group in enumerate(table.groups):
        for ci, col in enumerate(group.columns):
            best = [r for r in table.rows if r.cells[gi][ci].mark == "best"]
            second = [r for r in table.rows if r.cells[gi][ci].mark == "second"]
            if len(best) == 1 and second:
                run_a = best[0].runs[gi]
                others = [r.runs[gi] for r in second]
                ps = [paired_p_value(run_a, b, col.metric) if run_a and b else None for b in others]
                if all(p is not None and p < alpha for p in ps):
                    continue
            for r in best:
                r.cells[gi][ci].mark = None


# --------------------------------------------------------------------------------------------------
# Notes


def _flips(table: Table) -> list[str]:
    """Pairs of models whose order under a metric changes with the AU reference (same title, two references)."""
    out = []
    by_title: dict[str, list[int]] = {}
    for gi, g in enumerate(table.groups):
        if g.reference:
            by_title.setdefault(g.title, []).append(gi)
    for title, idx in by_title.items():
        for a_pos, a in enumerate(idx):
            for b in idx[a_pos + 1 :]:
                ga, gb = table.groups[a], table.groups[b]
                for ci, col in enumerate(ga.columns):
                    if ci >= len(gb.columns) or gb.columns[ci].metric != col.metric:
                        continue
                    flipped = _flipped_pairs(table.rows, a, b, ci)
                    if flipped:
                        pairs = "; ".join(f"{x} vs {y}" for x, y in flipped[:3])
                        out.append(
                            f"{title}, {col.title}: the order of {pairs} flips between the AU references "
                            f"{ga.reference} and {gb.reference}: the conclusion depends on the reference."
                        )
    return out


def _flipped_pairs(rows: Sequence[Row], a: int, b: int, ci: int) -> list[tuple[str, str]]:
    vals: list[tuple[str, float, float]] = []
    for r in rows:
        x, y = r.cells[a][ci].value, r.cells[b][ci].value
        if x is not None and y is not None:
            vals.append((r.name, x, y))
    flipped = []
    for i, (n1, x1, y1) in enumerate(vals):
        for n2, x2, y2 in vals[i + 1 :]:
            if (x1 - x2) * (y1 - y2) < 0:  # strictly ordered one way under a, the other way under b
                flipped.append((n1, n2))
    return flipped


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _notes(table: Table, runs: Sequence[ScoredRun], mark_significant: bool) -> list[str]:
    notes: list[str] = []
    if any(r.oracle for r in table.rows):
        notes.append(f"† {ORACLE_NOTE}.")
    if any(r.incomplete for r in table.rows):
        notes.append(
            "‡ incomplete run (generation did not finish): its samples without a generation count as wrong."
        )
    if any(r.failed for r in table.rows):
        notes.append(
            "✗ failed run (every call failed, or more than --max-error-rate did): its numbers are mostly its "
            "failures."
        )
    refs = sorted({g.reference for g in table.groups if g.reference})
    if len(refs) == 1:
        notes.append(f"Grounding metrics against the AU reference {refs[0]}.")
    elif len(refs) > 1:
        notes.append(
            "Grounding metrics against the AU references " + ", ".join(refs) + "; a column group names its "
            "reference, and groups with different references are not comparable."
        )
    split = sorted({g.title for g in table.groups if g.detail})
    if split:
        parts = [PART_NAMES[p] for p in PART_NAMES if any(p in g.differs_in for g in table.groups)]
        notes.append(
            f"{', '.join(split)}: runs differing in {_words(parts)} are shown as separate column groups, never "
            "mixed (tag-bench compares only runs with the same task, data, prompt, scoring version, AU "
            "reference and status)."
        )
    for r in runs:
        counts = r.report.reference_status_counts
        failed = {k: v for k, v in counts.items() if k != "ok" and v}
        if r.report.au_reference and failed and any(g.reference for g in table.groups):
            detail = ", ".join(f"{k} {v}" for k, v in sorted(failed.items()))
            notes.append(
                f"{r.name} on {r.manifest.task.name}: AU reference usable for {counts.get('ok', 0)} of "
                f"{r.report.n} samples ({detail}); its grounding metrics cover only those."
            )
    notes += _flips(table)
    notes += list(dict.fromkeys(note for r in runs for note in r.notes))
    if any(c.value is None for row in table.rows for g in row.cells for c in g):
        notes.append("– = not computed or not evaluated (the reason is in each run's metrics.json).")
    return notes
