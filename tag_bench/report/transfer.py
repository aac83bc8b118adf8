"""The cross-dataset transfer table: rows = models (with their train source), columns = evaluation
datasets in the common7 label space, then in-domain, out-of-domain mean and transfer gap."""

from __future__ import annotations

from collections.abc import Sequence

from tag_bench.comparability import difference_text
from tag_bench.metrics.transfer import TransferEntry, TransferTable, normalise_dataset, transfer_matrix
from tag_bench.report.frames import ScoredRun
from tag_bench.report.published import Source
from tag_bench.report.spec import LeaderboardSpec
from tag_bench.report.table import Cell, Column, Group, Row, Table, TableError, mark_best
from tag_bench.scoring.metric_table import spec as metric_spec

#: (column, title, direction relative to the cell metric's: the gap is better small)
DERIVED = (
    ("in_domain", "In-domain", True),
    ("out_of_domain_mean", "Out-of-domain", True),
    ("transfer_gap", "Gap", False),
)


def _derived_columns(metric: str) -> list[Column]:
    """The derived columns, in the cell metric's unit, directed by its direction."""
    cell = Column.of(metric)
    out = []
    for name, title, same_way in DERIVED:
        way = (
            cell.higher_is_better if same_way or cell.higher_is_better is None else not cell.higher_is_better
        )
        out.append(Column(name, title, way, cell.unit, cell.ranked, cell.hardware_dependent))
    return out


def _check_comparable(cells: dict[tuple[str, int], ScoredRun]) -> None:
    """The runs of one column must be comparable (:mod:`tag_bench.comparability`; their status is flagged
    instead): a transfer row averages columns, so a column cannot be split the way a leaderboard's is."""
    first: dict[int, ScoredRun] = {}
    for (_, j), r in cells.items():
        other = first.setdefault(j, r)
        a, b = other.key.without("au_reference", "status"), r.key.without("au_reference", "status")
        if a != b:
            raise TableError(
                f"transfer: {other.name} ({other.run.path}) and {r.name} ({r.run.path}) are in one column but not "
                f"comparable ({difference_text(a, b)}); re-run or re-score one of them so that they match, or "
                "leave one out (rows: include/exclude in the spec)"
            )


def _partial_rows(table: Table, matrix: TransferTable, titles: dict[str, str], metric: str) -> list[str]:
    """A note per row whose out-of-domain mean is left out because a column is missing, naming the columns."""
    out = []
    for i, name in enumerate(matrix.rows):
        src = matrix.train_source[name]
        if src is None or matrix.out_of_domain_mean[name] is not None:
            continue
        cells = [(c, v) for c, v in zip(matrix.columns, matrix.matrix[i], strict=True) if c != src]
        missing = [titles.get(c, c) for c, v in cells if v is None]
        if missing and len(missing) < len(cells):
            out.append(
                f"{name}: out-of-domain mean and gap not computed: no {metric} on {', '.join(missing)}, so its "
                "mean would average other columns than the other rows'."
            )
    return out


def build_transfer(
    runs: Sequence[ScoredRun],
    spec: LeaderboardSpec,
    *,
    decimals: int = 1,
    published: Sequence[Source] = (),
    mark_published: bool = False,
) -> Table:
    """The transfer matrix of ``spec.metric`` (see ``docs/metrics.md``, "Cross-dataset transfer").
    ``published``: zero-shot published results as § rows, in the columns whose protocol they follow."""
    metric_spec(spec.metric)  # an unknown metric name fails here, before any work
    datasets = []
    for g in spec.columns:
        if g.tasks == "*" or not g.dataset:
            raise TableError(f"transfer spec {spec.name}: every column needs a dataset and a list of tasks")
        datasets.append(normalise_dataset(g.dataset))
    cells: dict[tuple[str, int], ScoredRun] = {}
    for r in runs:
        for j, g in enumerate(spec.columns):
            if r.manifest.task.name in g.tasks:
                if (r.name, j) in cells:
                    raise TableError(
                        f"two runs named {r.name!r} for {g.title or g.dataset} ({cells[r.name, j].run.path} and "
                        f"{r.run.path}); give them distinct names with --name"
                    )
                cells[r.name, j] = r
    _check_comparable(cells)
    names = list(dict.fromkeys(name for name, _ in cells))
    entries = []
    for (name, j), r in cells.items():
        v = r.report.metrics.get(spec.metric)
        if v is not None and v.value is not None:
            entries.append(TransferEntry(name, datasets[j], v.value, r.manifest.train_source))
    matrix = transfer_matrix(entries, columns=datasets)
    groups = [Group(g.title or g.dataset or "", [Column.of(spec.metric)]) for g in spec.columns]
    derived_columns = _derived_columns(spec.metric)
    groups.append(Group("Transfer", derived_columns))
    rows = []
    for name in names:
        row_cells: list[list[Cell]] = []
        for j in range(len(spec.columns)):
            run = cells.get((name, j))
            v = run.report.metrics.get(spec.metric) if run is not None else None
            if run is None or v is None:
                row_cells.append([Cell(None, reason="not evaluated")])
            elif v.value is None:
                row_cells.append([Cell(None, n=v.n, reason=run.report.not_computed.get(spec.metric))])
            else:
                row_cells.append([Cell(v.value, v.ci_low, v.ci_high, v.n, v.ci_method)])
        derived = []
        for col in derived_columns:
            value = getattr(matrix, col.metric).get(name) if name in matrix.rows else None
            reason = matrix.not_computed.get(f"{name}/{col.metric}", "no value")
            derived.append(Cell(value, reason=None if value is not None else reason))
        row_cells.append(derived)
        present = [cells[name, j] for j in range(len(spec.columns)) if (name, j) in cells]
        rows.append(
            Row(
                name=name,
                cells=row_cells,
                oracle=any(r.manifest.model.oracle_reference for r in present),
                incomplete=any(not r.complete for r in present),
                train_source=matrix.train_source.get(name) if name in matrix.rows else None,
                runs=[cells.get((name, j)) for j in range(len(spec.columns))] + [None],
            )
        )
    table = Table(spec.name, spec.title, spec.caption, groups, rows)
    published_notes: list[str] = []
    if published:
        from tag_bench.report.reference_rows import add_reference_rows  # lazy: it builds on report.table

        column_runs = [[r for (_, j), r in cells.items() if j == col] for col in range(len(spec.columns))]
        published_notes = add_reference_rows(
            table, published, column_runs, marks=mark_published, zero_shot_only=True
        )
    mark_best(table, decimals, published=mark_published)
    table.notes = [
        f"Cells: {spec.metric} in the common7 label space; train source in brackets after the model.",
        "In-domain: the column of the model's train source; out-of-domain: the mean of all the other columns "
        "(a row missing one of them gets none, so every mean averages the same datasets); gap = in-domain − "
        "out-of-domain. – = not evaluated there, or no train source given (--train-source).",
    ]
    titles = {d: g.title or g.dataset or d for d, g in zip(datasets, spec.columns, strict=True)}
    table.notes += _partial_rows(table, matrix, titles, spec.metric)
    if any(r.incomplete for r in rows):
        table.notes.append("‡ incomplete run: its samples without a generation count as wrong.")
    table.notes += published_notes
    return table
