"""Leaderboards: scored runs + a spec -> a table in one format (the ``tag-bench leaderboard`` command)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from tag_bench.report.frames import read_runs
from tag_bench.report.published import bibtex, load_sources, select
from tag_bench.report.render import RenderOptions, render
from tag_bench.report.spec import LeaderboardSpec, load_spec
from tag_bench.report.table import Table, TableError, build_table, unmatched
from tag_bench.scoring.metric_table import spec as metric_spec
from tag_bench.store import gc_paused


@dataclass
class Leaderboard:
    table: Table
    text: str
    skipped: list[str] = field(default_factory=list)  # folders met that held no scored run
    bibtex: str = ""  # the BibTeX entries of the published sources the table cites


@gc_paused()  # thousands of reports read: collections would walk them again for each cell made
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
    published: str | Sequence[str] | None = None,
    mark_published: bool = False,
    published_dirs: Sequence[str | os.PathLike[str]] = (),
) -> Leaderboard:
    """Find the scored runs under ``paths`` and render the table ``spec`` describes in ``fmt``.

    Runs whose comparability keys differ never share a column (:mod:`tag_bench.comparability`);
    ``intersect`` scores runs that differ only in their sample set on the samples they share. A spec that
    matches none of the runs is a TableError naming its tasks and those found.

    ``published``: ``"all"`` or citation keys (``"KEY,KEY"`` or a list) of the published results to add as
    § rows where their protocol matches a column's (:mod:`tag_bench.report.reference_rows`), read from
    ``results/published/`` and ``published_dirs``; ``mark_published``: they take part in best / second."""
    options = options or RenderOptions()
    spec = spec if isinstance(spec, LeaderboardSpec) else load_spec(spec)
    sources = select(load_sources(published_dirs), published) if published is not None else []
    # judge run directories give rows only to a spec that shows judge metrics (the preference spec)
    judged = any(metric_spec(m).group == "judge" for g in spec.columns for m in g.metrics)
    loaded = read_runs(
        paths,
        allow_incomplete=allow_incomplete,
        allow_failed=allow_failed,
        references=spec.references,
        judge_runs=judged,
        fills=spec.fills,
    )
    if not loaded.runs and any("a judge run" in note for note in loaded.skipped):
        raise TableError(
            f"only judge runs found, and leaderboard spec {spec.name!r} shows no judge metric: use --spec preference"
        )
    empty = unmatched(loaded.runs, spec)
    if empty is not None:
        raise TableError(empty)
    table = build_table(
        loaded.runs,
        spec,
        decimals=options.decimals,
        mark_significant=mark_significant,
        intersect=intersect,
        published=sources,
        mark_published=mark_published,
    )
    return Leaderboard(table, render(table, fmt, options), loaded.skipped, bibtex(sources, table.cited))
