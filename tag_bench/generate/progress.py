"""Where a run stands, read from its files alone: done / remaining per shard, errors, throughput, ETA,
and the run's status derived from the union of its shards (``tag-bench status``).

A sample is *done* when any generation file holds a record of it (ok or error: a failed call counts in
every denominator, as scoring counts it). It is *covered* when it is done, or when a shard that owns it
finished (a ``replay`` adapter has no answer for some samples: they are missing, not pending). A sharded
run is complete when every sample of its index is covered, whichever shards and counts did the work.
"""

from __future__ import annotations

import datetime as _dt
import os
import socket

from pydantic import BaseModel

from tag_bench.generate.shards import Shard
from tag_bench.rundir import RunDir, rerun_command, without_option
from tag_bench.schema import RunManifest, ShardState

#: A running shard whose last heartbeat is older than this is taken for dead (killed, node lost).
STALE_AFTER_S = 600.0


class ShardProgress(BaseModel):
    """One shard (``all`` for a run generated without shards)."""

    shard: str
    status: str  # running, complete, interrupted, failed, stale (running, no heartbeat), not started
    assigned: int
    done: int
    errors: int
    remaining: int
    #: samples of a shard that finished without a record of them (``replay`` had no answer): missing
    missing: int = 0
    rate: float | None = None  # samples per second of this session, while running
    eta_s: float | None = None
    host: str | None = None
    pid: int | None = None
    updated: str | None = None
    reason: str | None = None


class RunProgress(BaseModel):
    run_dir: str
    sharded: bool
    status: str  # the run's status: running, complete, interrupted, failed
    status_reason: str | None = None
    covered: bool  # every sample generated (or known missing): the run can be scored
    scored: bool  # metrics.json is there
    total: int
    done: int
    errors: int
    remaining: int  # samples still to generate
    missing: int = 0  # samples a finished shard or session had no answer for (scored as missing)
    throughput: float | None = None  # samples/s of the running shards together (else of finished sessions)
    throughput_basis: str | None = None
    eta_s: float | None = None
    shards: list[ShardProgress]


def now_iso() -> str:
    """The time shard states are stamped with (milliseconds, so rates of short sessions can be read)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def seconds_between(a: str, b: str) -> float:
    return (_dt.datetime.fromisoformat(b) - _dt.datetime.fromisoformat(a)).total_seconds()


def is_live(state: ShardState, now: str | None = None) -> bool:
    """Whether a shard that says it is running still is: on this host, its process exists; elsewhere,
    its heartbeat is younger than :data:`STALE_AFTER_S`."""
    if state.status != "running":
        return False
    if state.host == socket.gethostname() and state.pid is not None:
        return _pid_alive(state.pid)
    return seconds_between(state.updated, now or now_iso()) < STALE_AFTER_S


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_progress(run: RunDir, *, now: str | None = None) -> RunProgress:
    """Where ``run`` stands (reads the manifest, index, every generation file and shard state)."""
    now = now or now_iso()
    manifest = run.read_manifest()
    index = [s.id for s in run.read_index()]
    gens = run.read_generations()
    states = run.read_shard_states()
    sharded = run.is_sharded()
    status_of: dict[str, str] = {sid: g.status for sid, g in gens.items()}
    done = sum(sid in status_of for sid in index)
    errors = sum(status_of.get(sid) == "error" for sid in index)
    finished = [(Shard(st.index, st.count), st.n_samples) for st in states if st.status == "complete"]
    covered = all(
        sid in status_of or any(pos < n and sh.owns(sid) for sh, n in finished)
        for pos, sid in enumerate(index)
    )
    rows = (
        _shard_rows(index, status_of, states, now)
        if sharded
        else [_unsharded_row(run, manifest, index, status_of)]
    )
    live = [r for r in rows if r.status == "running"]
    throughput, basis = _throughput(live, manifest, states, sharded, now, done, index)
    missing = sum(r.missing for r in rows)
    remaining = len(index) - done - missing
    status, reason = _status(run, manifest, sharded, covered, rows)
    eta = remaining / throughput if throughput and status == "running" and remaining else None
    return RunProgress(
        run_dir=str(run.path), sharded=sharded, status=status, status_reason=reason, covered=covered,
        scored=run.metrics_path.exists(), total=len(index), done=done, errors=errors, remaining=remaining,
        missing=missing, throughput=throughput, throughput_basis=basis, eta_s=eta, shards=rows,
    )  # fmt: skip


def _shard_rows(
    index: list[str], status_of: dict[str, str], states: list[ShardState], now: str
) -> list[ShardProgress]:
    rows = []
    counts = sorted({st.count for st in states})
    by_shard = {(st.index, st.count): st for st in states}
    # the samples left are listed once, as shards of the count the run goes on with (the latest started)
    latest = max(states, key=lambda st: st.started).count if states else None
    for count in counts:
        for i in range(count):
            sh = Shard(i, count)
            st = by_shard.get((i, count))
            limit = st.n_samples if st is not None else len(index)
            owned = [sid for sid in index[:limit] if sh.owns(sid)]
            done = sum(sid in status_of for sid in owned)
            errors = sum(status_of.get(sid) == "error" for sid in owned)
            remaining = len(owned) - done
            if st is None:
                if remaining and count == latest:  # a shard never started, with work left
                    rows.append(ShardProgress(shard=str(sh), status="not started", assigned=len(owned), done=done,
                                              errors=errors, remaining=remaining))  # fmt: skip
                continue
            status = st.status if st.status != "running" or is_live(st, now) else "stale"
            missing = 0
            if status == "complete":  # it found no answer for the rest (replay): missing, not pending
                missing, remaining = remaining, 0
            rate = eta = None
            if status == "running":
                elapsed = seconds_between(st.started, st.updated)
                rate = st.generated / elapsed if elapsed > 0 and st.generated else None
                eta = remaining / rate if rate else None
            rows.append(ShardProgress(shard=str(sh), status=status, assigned=len(owned), done=done, errors=errors,
                                      remaining=remaining, missing=missing, rate=rate, eta_s=eta, host=st.host, pid=st.pid,
                                      updated=st.updated, reason=st.status_reason))  # fmt: skip
    return rows


def _unsharded_row(
    run: RunDir, manifest: RunManifest, index: list[str], status_of: dict[str, str]
) -> ShardProgress:
    done = sum(sid in status_of for sid in index)
    errors = sum(status_of.get(sid) == "error" for sid in index)
    status: str = manifest.status
    reason = manifest.status_reason
    if status == "running" and run.writer() is None:  # its writer holds the run's lock while it lives
        status, reason = "stale", STALE_UNSHARDED
    left = len(index) - done
    finished = status == "complete"  # no answer for the rest (replay): missing, not pending
    return ShardProgress(shard="all", status=status, assigned=len(index), done=done, errors=errors,
                         remaining=0 if finished else left, missing=left if finished else 0,
                         reason=reason)  # fmt: skip


STALE_UNSHARDED = (
    "no process is writing it (killed, or its machine was lost, before it could mark the run): run the same "
    "command again to resume it"
)


def _throughput(
    live: list[ShardProgress], manifest: RunManifest, states: list[ShardState], sharded: bool, now: str, done: int,
    index: list[str],
) -> tuple[float | None, str | None]:  # fmt: skip
    rates = [r.rate for r in live if r.rate]
    if rates:
        return sum(rates), f"{len(rates)} running shard(s), this session's records per second, added up"
    if not sharded and manifest.status == "running" and not manifest.resumed_at and done:
        elapsed = seconds_between(manifest.created, now)
        if elapsed > 0:
            return done / elapsed, "records since the run was created"
    gens = [st.generation for st in states if st.generation is not None] if sharded else [manifest.generation]
    seconds = sum(g.seconds for g in gens if g is not None)
    calls = sum(g.model_calls for g in gens if g is not None)
    if seconds > 0 and calls:
        return calls / seconds, "model calls per second of finished sessions (per process)"
    return None, None


def _status(
    run: RunDir, manifest: RunManifest, sharded: bool, covered: bool, rows: list[ShardProgress]
) -> tuple[str, str | None]:
    if not sharded:
        stale = rows[0].status == "stale"
        status = "interrupted" if stale else manifest.status
        reason = STALE_UNSHARDED if stale else manifest.status_reason
        if status == "interrupted" and manifest.command:
            reason = f"{reason or 'interrupted'} ({rerun_command(manifest.command, run.path, manifest.cwd)})"
        return status, reason
    if covered:
        if manifest.status in ("complete", "failed"):
            return manifest.status, manifest.status_reason
        return (
            "complete",
            f"every sample is generated and no shard scored it yet: run `tag-bench score {run.path}`",
        )
    if any(r.status == "running" for r in rows):
        return "running", None
    unfinished = [r for r in rows if r.remaining and r.status != "running"]
    failed = [r for r in rows if r.status == "failed"]  # stopped, or too many of its samples failed
    listed = ", ".join(f"{r.shard} ({r.status}, {r.remaining} left)" for r in unfinished[:8])
    more = f" and {len(unfinished) - 8} more" if len(unfinished) > 8 else ""
    rerun = (
        rerun_command(without_option(manifest.command, "--shard"), run.path, manifest.cwd).rstrip("`")
        + " --shard I/N`"
        if manifest.command
        else "the command that started them, with --shard I/N"
    )
    if failed:
        return "failed", f"shard {failed[0].shard} failed: {failed[0].reason}; unfinished: {listed}{more}"
    return "interrupted", (
        f"unfinished shards: {listed}{more}; run them again ({rerun}), or finish what is left with any other "
        "number of shards, or in one process without --shard"
    )
