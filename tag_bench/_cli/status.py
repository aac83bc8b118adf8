"""``tag-bench status``: where a run, or a sweep of runs, stands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from tag_bench._cli.common import cli_errors
from tag_bench.generate.progress import RunProgress, run_progress
from tag_bench.rundir import RunDir, RunDirError, is_judge_run


@click.command("status")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run (every shard's figures).")
@cli_errors
def status_cmd(paths: tuple[str, ...], as_json: bool) -> None:
    """Where runs stand: done / remaining per shard, errors, throughput and an ETA.

    \b
    PATHS are run directories, or folders searched for them (a sweep: one line per run, then per shard
    of each run that is not finished). Read from the files alone, while shards run, on any machine
    that sees the folder. The run's status is derived from the union of its shards.
    """
    runs = [r for p in paths for r in _runs_at(Path(p))]
    if not runs:
        raise click.ClickException(
            f"no run directory in {', '.join(paths)} (a run directory holds manifest.json)"
        )
    progress = []
    unreadable = []
    for run in runs:
        try:
            progress.append(run_progress(run))
        except RunDirError as e:
            click.echo(f"{run.path}: cannot be read ({e})", err=True)
            unreadable.append(str(run.path))
    for p in progress:
        if as_json:
            click.echo(json.dumps(p.model_dump(mode="json")))
        else:
            click.echo(format_progress(p, detail=len(runs) == 1 or p.status != "complete"))
    if len(progress) > 1 and not as_json:
        total = sum(p.total for p in progress)
        done = sum(p.done for p in progress)
        by_status: dict[str, int] = {}
        for p in progress:
            by_status[p.status] = by_status.get(p.status, 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items()))
        click.echo(
            f"{len(progress)} runs ({states}): {done:,} of {total:,} samples generated, {total - done:,} remaining"
        )
    if unreadable:  # a sweep's script must not read a damaged run as a finished one
        raise click.ClickException(
            f"{len(unreadable)} run director{'y' if len(unreadable) == 1 else 'ies'} could not be read: "
            f"{', '.join(unreadable[:5])}{' ...' if len(unreadable) > 5 else ''}"
        )


def _runs_at(path: Path) -> list[RunDir]:
    """``path`` if it is a run, else the runs below it (not inside a run's own folders; no judge runs)."""
    if RunDir(path).is_run():
        return [] if is_judge_run(path) else [RunDir(path)]
    out = []
    for root, dirs, files in os.walk(path):
        if RunDir.MANIFEST in files:
            dirs[:] = []
            if not is_judge_run(root):
                out.append(RunDir(root))
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return sorted(out, key=lambda r: str(r.path))


def format_progress(p: RunProgress, *, detail: bool = True) -> str:
    """A run's standing as text: one summary line, then a table of its shards."""
    errors = f" ({p.errors:,} errors)" if p.errors else ""
    speed = f"; {p.throughput:.3g} samples/s" if p.throughput else ""
    eta = f"; ETA {_duration(p.eta_s)}" if p.eta_s is not None else ""
    scored = "" if p.scored or p.status not in ("complete", "failed") else " (not scored yet)"
    missing = f", {p.missing:,} with no answer (scored as missing)" if p.missing else ""
    head = (
        f"{p.run_dir}: {p.status}{scored}: {p.done:,} of {p.total:,} samples generated{errors}, "
        f"{p.remaining:,} remaining{missing}{speed}{eta}"
    )
    lines = [head]
    if not detail:
        return head
    if p.status_reason:
        lines.append(f"  {p.status_reason}")
    if p.throughput_basis:
        lines.append(f"  throughput: {p.throughput_basis}")
    header = ("shard", "status", "assigned", "done", "errors", "remaining", "rate/s", "ETA", "where")
    rows = [header]
    for r in p.shards:
        where = f"{r.host} pid {r.pid}, {r.updated}" if r.host else ""
        rows.append((r.shard, r.status, f"{r.assigned:,}", f"{r.done:,}", f"{r.errors:,}", f"{r.remaining:,}",
                     f"{r.rate:.3g}" if r.rate else "", _duration(r.eta_s) if r.eta_s is not None else "", where))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
