"""One shard of a run (``tag-bench run --shard I/N``): generation across processes and machines without
collectives.

A shard talks to no other process: no barrier, no process group, no lock file (``flock`` is unreliable
on the NFS and Lustre file systems Slurm arrays run on). It creates the manifest exclusively or checks
its configuration against it (:meth:`RunDir.join`), skips every sample any shard already wrote, appends
its own outputs to its own file and keeps its own state file. When it finishes and every sample of the
run is covered (:mod:`tag_bench.generate.progress`), it writes the run's status and scores the union; a
shard that finishes earlier leaves that to whichever finishes last. Two shards finishing at the same
moment may both score: they write the same scores, each file replaced atomically.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from tag_bench.generate.engine import GenerateStats, PromptFn, generate
from tag_bench.generate.progress import STALE_AFTER_S, is_live, now_iso, run_progress
from tag_bench.generate.shards import SHARDING_METHOD, Shard
from tag_bench.generate.stages import (
    RunPlan,
    RunResult,
    open_generation_cache,
    prompt_renderer,
    references_for,
    score_finished_run,
    session_generation_info,
    summed_generation_info,
    too_many_errors,
)
from tag_bench.models.args import scrub_secrets
from tag_bench.models.base import FatalAdapterError
from tag_bench.rundir import RunConfigError, RunDir, RunLockedError
from tag_bench.schema import ShardState

#: Seconds between heartbeats of a running shard's state file (at most one per batch).
HEARTBEAT_S = 5.0


def generate_shard(
    plan: RunPlan,
    shard: Shard,
    *,
    batch_size: int,
    cache: str | Path | bool | None,
    n_resamples: int,
    progress: bool,
    max_error_rate: float | None,
) -> RunResult:
    """Generate ``shard``'s samples of ``plan`` that no shard wrote yet; score the run if this shard
    completes it (``RunResult.report``), else say what it waits for (``RunResult.pending``)."""
    run, adapter = plan.run, plan.adapter
    check_no_other_writer(run, shard)
    manifest = run.join(plan.manifest, plan.samples, shard=str(shard))
    states = run.read_shard_states()
    other = [st for st in states if st.method != SHARDING_METHOD]
    if other:
        raise RunConfigError(
            f"{run.path} was sharded with method {other[0].method} (shard {other[0].index}/{other[0].count}) and "
            f"this tag-bench shards with {SHARDING_METHOD}: the shards would not split the samples the same way. "
            "Finish the run with the tag-bench version that started it, or choose another --out"
        )
    old = run.read_shard_state(shard.index, shard.count)
    if manifest.status != "running":
        manifest = run.set_status("running")

    au_problems: list[str] = []
    au_cache = cache is not False and cache is not None
    mine = shard.select(plan.samples)
    references = references_for(plan, mine, progress, au_cache, au_problems)
    cache_problems: list[str] = []
    cache_obj = open_generation_cache(cache, cache_problems)
    started = now_iso()
    state = ShardState(
        method=SHARDING_METHOD, index=shard.index, count=shard.count, n_samples=len(plan.samples),
        assigned=len(mine), started=started, updated=started, host=socket.gethostname(), pid=os.getpid(),
        command=[scrub_secrets(a) for a in sys.argv], generation=old.generation if old is not None else None,
    )  # fmt: skip
    run.write_shard_state(state)
    last_beat = time.monotonic()

    def heartbeat(stats: GenerateStats) -> None:
        nonlocal last_beat
        _count(state, stats)
        if time.monotonic() - last_beat >= HEARTBEAT_S:
            state.updated = now_iso()
            run.write_shard_state(state)
            last_beat = time.monotonic()

    t0 = time.perf_counter()
    try:
        stats = generate(
            plan.samples,
            adapter,
            PromptFn(render=prompt_renderer(plan)),
            run,
            gen_kwargs=plan.gen_kwargs,
            batch_size=batch_size,
            cache=cache_obj,
            references=(lambda s: references.by_sample[s.id]) if references else None,
            progress=progress,
            shard=shard,
            heartbeat=heartbeat,
        )
    except (KeyboardInterrupt, FatalAdapterError) as e:
        interrupted = isinstance(e, KeyboardInterrupt)
        state.status = "interrupted" if interrupted else "failed"
        state.status_reason = (
            "interrupted; run the same command again to resume it"
            if interrupted
            else f"generation stopped: {e}"
        )
        state.updated = now_iso()
        run.write_shard_state(state)
        run.set_status(
            state.status,
            f"shard {shard}: {state.status_reason} (`tag-bench status {run.path}` shows every shard)",
        )
        raise
    _count(state, stats)
    state.generation, changed = session_generation_info(
        state.generation, adapter, batch_size, time.perf_counter() - t0, stats.model_calls, shard.count
    )
    state.status, state.status_reason, state.updated = "complete", None, now_iso()
    run.write_shard_state(state)
    cache_problems += cache_obj.problems if cache_obj is not None else []
    result = RunResult(run_dir=run.path, manifest=manifest, stats=stats,
                       warnings=[*manifest.warnings, *cache_problems, *([changed] if changed else [])])  # fmt: skip

    where = run_progress(run)
    own = next((r for r in where.shards if r.shard == str(shard)), None)
    own_failure = too_many_errors(own.errors, own.assigned, max_error_rate) if own is not None else None
    if own_failure is not None:  # its state, and its exit status (a Slurm array task shows failed), say so
        result.shard_failed = f"shard {shard}: {own_failure}"
        state.status, state.status_reason = "failed", f"{own_failure}; run the shard again to retry them"
        run.write_shard_state(state)
        if not where.covered:  # once it is, the run's status comes from the union (_finish)
            run.set_status(
                "failed", f"{result.shard_failed} (`tag-bench status {run.path}` shows every shard)"
            )
        where = run_progress(run)
    if not where.covered:
        result.pending = (
            f"shard {shard} is done; {where.remaining:,} of {where.total:,} samples of the run are left to other "
            f"shards, and the shard that finishes last scores it (`tag-bench status {run.path}` shows where it stands)"
        )
        return result
    _finish(run, where.errors, where.total, max_error_rate)
    result.report = score_finished_run(
        plan, plan.reference_spec or "none", n_resamples, progress, au_cache, au_problems
    )
    result.warnings += au_problems
    result.manifest = run.read_manifest()
    return result


def check_no_other_writer(run: RunDir, shard: Shard | None) -> None:
    """Raise RunLockedError when another process writes ``run`` and this one would generate some of the
    same samples: a session without ``--shard`` (it holds the run's lock), the same shard, or a shard of
    another count (``shard`` None: any live shard, as before ``--overwrite``)."""
    holder = run.writer()
    if holder is not None:
        raise RunLockedError(
            f"{run.path} is being written by a tag-bench process without --shard ({holder}); it generates "
            "every sample, so no shard may run beside it: wait for it to finish, or write to another --out"
        )
    for st in run.read_shard_states():
        if not is_live(st) or (st.pid == os.getpid() and st.host == socket.gethostname()):
            continue
        where = f"pid {st.pid} on {st.host}, last heartbeat {st.updated}"
        if socket.gethostname() != st.host:
            where += (
                f"; taken for dead {STALE_AFTER_S / 60:.0f} minutes after its last heartbeat, or at once if "
                f"you delete {run.shard_state_path(st.index, st.count)} once you know it stopped"
            )
        if shard is None:
            raise RunLockedError(
                f"shard {st.index}/{st.count} of {run.path} is still running ({where}): --overwrite would "
                "delete what it writes; stop it first, or choose another --out"
            )
        if (st.index, st.count) == (shard.index, shard.count):
            raise RunLockedError(
                f"shard {shard} of {run.path} is being generated by another process, {where}; a shard runs "
                "in one process at a time: wait for it, or run another shard"
            )
        if st.count != shard.count:
            raise RunLockedError(
                f"shard {st.index}/{st.count} of {run.path} is still running ({where}), and shard {shard} would "
                f"generate some of its samples again: shards that run at the same time share their count "
                f"(--shard I/{st.count}); run this one when it has finished, or choose another --out"
            )


def _count(state: ShardState, stats: GenerateStats) -> None:
    state.skipped_done, state.generated = stats.skipped_done, stats.generated
    state.errors, state.model_calls = stats.errors, stats.model_calls


def _finish(run: RunDir, errors: int, total: int, max_error_rate: float | None) -> None:
    """The run's manifest once every sample is covered: status from the union, the shards' time summed."""
    done = run.read_manifest()
    states = run.read_shard_states()
    done.generation = summed_generation_info([st.generation for st in states if st.generation is not None])
    if done.generation is not None:
        done.generation.cached = sum(g.cached for g in run.read_generations().values())
    done.world_size = max((st.count for st in states), default=1)
    done.status_reason = too_many_errors(errors, total, max_error_rate)
    done.status = "failed" if done.status_reason else "complete"
    run.write_manifest(done)
