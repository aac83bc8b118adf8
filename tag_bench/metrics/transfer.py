"""Cross-dataset transfer matrix (``docs/metrics.md``, "Cross-dataset transfer").

Rows are models (or train sources), columns are evaluation datasets, cells are ``accuracy`` in the
``common7`` label space; the caller supplies those accuracies (one entry per row x dataset). Derived
per row: ``in_domain`` (the cell whose dataset is the row's train source), ``out_of_domain_mean``
(mean of the row's cells in every other column of the table) and ``transfer_gap = in_domain -
out_of_domain_mean``. The mean needs **every** out-of-domain column: a row missing one would average
other datasets than the rows beside it, so its mean and gap are None instead. A value that cannot be
derived is None with a reason in ``not_computed`` (keyed ``<row>/<quantity>``).

Dataset names are compared after normalisation (:func:`normalise_dataset`): ``RAF-DB``, ``raf_db``
and ``rafdb`` are one dataset, ``FER+`` / ``FERPlus`` are ``ferplus``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tag_bench.schema import Record

#: Extra spellings (after normalisation) of the built-in datasets.
DATASET_ALIASES: dict[str, str] = {
    "raf": "rafdb",
    "rafbasic": "rafdb",
    "rafdbbasic": "rafdb",
    "fer2013plus": "ferplus",
    "ferp": "ferplus",
}


def normalise_dataset(name: str, aliases: Mapping[str, str] | None = None) -> str:
    """Lower case, ``+`` -> ``plus``, drop everything but letters and digits, then apply aliases."""
    key = re.sub(r"[^a-z0-9]", "", name.lower().replace("+", "plus"))
    if not key:
        raise ValueError(f"dataset name {name!r} has no letters or digits")
    table = {**DATASET_ALIASES, **{normalise_dataset(k, {}): v for k, v in (aliases or {}).items()}}
    return table.get(key, key)


@dataclass(frozen=True)
class TransferEntry:
    """One cell: ``row`` (a model or a train source) evaluated on ``dataset``.

    ``train_source`` is the dataset the row was tuned on; when rows *are* train sources leave it None
    and call :func:`transfer_matrix` with ``rows_are_train_sources=True``.
    """

    row: str
    dataset: str
    accuracy: float  # common7 accuracy in [0, 1]
    train_source: str | None = None


class TransferTable(Record):
    """The matrix and the per-row derived quantities."""

    rows: list[str]
    columns: list[str]  # normalised dataset names
    matrix: list[list[float | None]]  # rows x columns; None = not evaluated
    train_source: dict[str, str | None]  # row -> normalised train source
    in_domain: dict[str, float | None]
    out_of_domain_mean: dict[str, float | None]
    n_out_of_domain: dict[str, int]  # cells averaged in out_of_domain_mean (0 when it is None)
    transfer_gap: dict[str, float | None]
    not_computed: dict[str, str]


def transfer_matrix(
    entries: Iterable[TransferEntry | Mapping[str, object]],
    *,
    rows_are_train_sources: bool = False,
    aliases: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
) -> TransferTable:
    """Build the transfer table. Rows and columns keep first-seen order.

    ``columns``: the evaluation datasets of the table (in order), when it has columns no entry fills
    (a leaderboard spec's datasets); default the datasets of the entries. Every row's out-of-domain mean
    averages all of them but its train source.

    Raises ValueError on a duplicate (row, dataset) cell, an accuracy outside [0, 1], or one row
    given two different train sources.
    """
    cells: dict[tuple[str, str], float] = {}
    rows: list[str] = []
    table_columns: list[str] = [normalise_dataset(c, aliases) for c in columns or ()]
    sources: dict[str, str | None] = {}
    for raw in entries:
        e = raw if isinstance(raw, TransferEntry) else TransferEntry(**raw)  # type: ignore[arg-type]
        col = normalise_dataset(e.dataset, aliases)
        acc = float(e.accuracy)
        if not 0.0 <= acc <= 1.0:  # also rejects NaN
            raise ValueError(f"{e.row} on {e.dataset}: accuracy must be a rate in [0, 1], got {e.accuracy}")
        if (e.row, col) in cells:
            raise ValueError(f"two accuracies for {e.row!r} on {col!r}")
        cells[e.row, col] = acc
        src_name = e.row if rows_are_train_sources else e.train_source
        src = normalise_dataset(src_name, aliases) if src_name else None
        if e.row not in sources:
            rows.append(e.row)
            sources[e.row] = src
        elif src is not None and sources[e.row] not in (None, src):
            raise ValueError(f"row {e.row!r} has two train sources: {sources[e.row]!r} and {src!r}")
        elif src is not None:
            sources[e.row] = src
        if col not in table_columns:
            table_columns.append(col)

    in_domain: dict[str, float | None] = {}
    ood_mean: dict[str, float | None] = {}
    n_ood: dict[str, int] = {}
    gap: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    for row in rows:
        src = sources[row]
        own = cells.get((row, src)) if src is not None else None
        ood_columns = [c for c in table_columns if c != src]
        others = [cells[row, c] for c in ood_columns if (row, c) in cells]
        missing = [c for c in ood_columns if (row, c) not in cells]  # any: no mean, never a partial one
        in_domain[row] = own
        n_ood[row] = len(others) if src is not None and not missing else 0
        complete = src is not None and bool(others) and not missing
        ood_mean[row] = sum(others) / len(others) if complete else None
        if src is None:
            why = f"no train_source for {row!r}, so in- and out-of-domain cannot be told apart"
            reasons[f"{row}/in_domain"] = reasons[f"{row}/out_of_domain_mean"] = why
        else:
            if own is None:
                reasons[f"{row}/in_domain"] = f"{row!r} was not evaluated on its train source {src!r}"
            if not others:
                reasons[f"{row}/out_of_domain_mean"] = (
                    f"{row!r} was evaluated on no dataset other than {src!r}"
                )
            elif missing:
                reasons[f"{row}/out_of_domain_mean"] = (
                    f"{row!r} was not evaluated on {', '.join(repr(c) for c in missing)}: its out-of-domain "
                    f"mean would average {len(others)} of the {len(ood_columns)} out-of-domain columns "
                    "the other rows average"
                )
        if in_domain[row] is not None and ood_mean[row] is not None:
            gap[row] = in_domain[row] - ood_mean[row]  # type: ignore[operator]
        else:
            gap[row] = None
            need = "in_domain" if in_domain[row] is None else "out_of_domain_mean"
            reasons[f"{row}/transfer_gap"] = f"needs {need}: {reasons[f'{row}/{need}']}"

    return TransferTable(
        rows=rows,
        columns=table_columns,
        matrix=[[cells.get((r, c)) for c in table_columns] for r in rows],
        train_source=sources,
        in_domain=in_domain,
        out_of_domain_mean=ood_mean,
        n_out_of_domain=n_ood,
        transfer_gap=gap,
        not_computed=reasons,
    )
