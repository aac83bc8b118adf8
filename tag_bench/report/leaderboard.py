"""Leaderboards: scored runs + a spec -> a table in one format (the ``tag-bench leaderboard`` command)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from tag_bench.report.frames import read_runs
from tag_bench.report.render import RenderOptions, render
from tag_bench.report.spec import LeaderboardSpec, load_spec
from tag_bench.report.table import Table, TableError, build_table, unmatched


@dataclass
class Leaderboard:
    table: Table
    text: str
    skipped: list[str] = field(default_factory=list)  # folders met that held no scored run


def leaderboard(
    paths: Sequence[str | os.PathLike[str]],
    *,
    spec: str | LeaderboardSpec = "overview",
    fmt: str = "md",
    options: RenderOptions | None = None,
    allow_incomplete: bool = False,
    allow_failed: bool = False,
    mark_significant: bool = False,
    intersect: bool = False,
) -> Leaderboard:
    """Find the scored runs under ``paths`` and render the table ``spec`` describes in ``fmt``.

    Runs whose comparability keys differ never share a column (:mod:`tag_bench.comparability`);
    ``intersect`` scores runs that differ only in their sample set on the samples they share. A spec that
    matches none of the runs is a TableError naming its tasks and those found."""
    options = options or RenderOptions()
    spec = spec if isinstance(spec, LeaderboardSpec) else load_spec(spec)
    loaded = read_runs(
        paths,
        allow_incomplete=allow_incomplete,
        allow_failed=allow_failed,
        references=spec.references,
        fills=spec.fills,
    )
    empty = unmatched(loaded.runs, spec)
    if empty is not None:
        raise TableError(empty)
    table = build_table(
        loaded.runs, spec, decimals=options.decimals, mark_significant=mark_significant, intersect=intersect
    )
    return Leaderboard(table, render(table, fmt, options), loaded.skipped)
