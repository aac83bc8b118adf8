"""The pieces of a run that the one-process path (:mod:`tag_bench.generate.evaluate`) and the sharded
path (:mod:`tag_bench.generate.sharded`) share: the plan, the result, references, prompt, cache, scoring."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench.generate.cache import open_cache
from tag_bench.generate.engine import GenerateStats
from tag_bench.models.base import ModelAdapter
from tag_bench.prompts import render_prompt
from tag_bench.rundir import RunDir
from tag_bench.schema import Generation, GenerationInfo, MetricsReport, RunManifest, Sample
from tag_bench.scoring.run import ReferenceSet, compute_references, score_run
from tag_bench.tasks import Task, TaskData


@dataclass
class RunResult:
    run_dir: Path
    manifest: RunManifest
    stats: GenerateStats
    report: MetricsReport | None = None  # None: a shard whose run other shards have yet to finish
    warnings: list[str] = field(default_factory=list)
    pending: str | None = None  # a shard that did its part: what the run still waits for
    #: a shard too many of whose own samples failed (``too_many_errors``), whatever the run's status
    shard_failed: str | None = None


@dataclass
class RunPlan:
    """A run worked out before anything is written: what to evaluate, with what, and where."""

    task: Task
    data: TaskData
    samples: list[Sample]
    adapter: ModelAdapter
    prompt_id: str
    gen_kwargs: dict[str, Any]
    reference_spec: str | None
    manifest: RunManifest
    run: RunDir


def references_for(
    plan: RunPlan, samples: list[Sample], progress: bool, au_cache: bool, problems: list[str]
) -> ReferenceSet | None:
    """The AU references of ``samples`` for an adapter that reads them (a baseline), else None."""
    if not plan.adapter.needs_reference:
        return None
    assert plan.reference_spec is not None  # plan_run refuses a baseline without a reference
    return compute_references(
        plan.reference_spec, samples, progress=progress, cache=au_cache, warnings=problems
    )


def prompt_renderer(plan: RunPlan) -> Any:
    def prompt_for(size: tuple[int, int] | None) -> Any:
        return render_prompt(plan.prompt_id, plan.task.classes, plan.adapter.frame, size)

    return prompt_for


def open_generation_cache(cache: str | Path | bool | None, problems: list[str]) -> Any:
    """The generation cache asked for (None: none), its problems reported into ``problems``."""
    if cache is False or cache is None:
        return None
    return open_cache(None if cache is True else cache, problems)


def score_finished_run(
    plan: RunPlan,
    score_spec: str | None,
    n_resamples: int,
    progress: bool,
    au_cache: bool,
    problems: list[str],
) -> MetricsReport:
    """Score a run whose generation is finished (interrupted scoring marks the run so)."""
    try:
        return score_run(plan.run, au_reference=score_spec, n_resamples=n_resamples,
                         seed=plan.manifest.seeds["seed"], progress=progress, cache=au_cache,
                         warnings=problems)  # fmt: skip
    except KeyboardInterrupt:
        plan.run.set_status("interrupted", "scoring was interrupted; run the same command again to finish it")
        raise


def too_many_errors(errors: int, n: int, max_error_rate: float | None) -> str | None:
    """Why a run of ``n`` samples, ``errors`` of which failed (status error), counts as failed, or None.

    ``max_error_rate`` None: only when every sample failed; else when more than that share failed."""
    if not n or not errors:
        return None
    if max_error_rate is None and errors == n:
        return (
            f"every one of the {n} samples failed (status error); pass --max-error-rate 1 "
            "(max_error_rate=1) to accept such a run"
        )
    if max_error_rate is not None and errors / n > max_error_rate:
        return f"{errors} of {n} samples failed ({errors / n:.1%} > --max-error-rate {max_error_rate:g})"
    return None


def model_calls(generations: dict[str, Generation]) -> int:
    """Records that came from a model call: not from the cache, and past the image (which has a cache key)."""
    return sum(not g.cached and g.cache_key is not None for g in generations.values())


def session_generation_info(
    old: GenerationInfo | None,
    adapter: ModelAdapter,
    batch_size: int,
    seconds: float,
    calls: int,
    world_size: int = 1,
) -> tuple[GenerationInfo, str | None]:
    """The record of the generate stage after one more finished session (sums carried over from
    ``old``), and a warning when this session ran with other settings.

    Only finished sessions count, calls and seconds alike: a session killed before it could record its
    time leaves its generations out of the throughput's numerator too."""
    step = max(
        1, batch_size, adapter.requests_in_flight
    )  # samples per adapter call, as the engine sends them
    now = GenerationInfo(
        timed=adapter.timed,
        batch_size=step,
        concurrency=adapter.requests_in_flight,
        device=adapter.device,
        world_size=world_size,
    )
    warning = None
    if old is not None:
        settings = ("timed", "batch_size", "concurrency", "device", "world_size")
        changed = [
            f"{k} {getattr(old, k)} -> {getattr(now, k)}"
            for k in settings
            if getattr(old, k) != getattr(now, k)
        ]
        if changed:
            warning = (
                "resumed with other generation settings ("
                + ", ".join(changed)
                + "): latency and throughput mix both"
            )
        now.seconds, now.sessions, now.model_calls, now.cached = (
            old.seconds,
            old.sessions,
            old.model_calls,
            old.cached,
        )
    now.seconds += seconds
    now.sessions += 1
    now.model_calls += max(0, calls)
    return now, warning


def summed_generation_info(infos: list[GenerationInfo]) -> GenerationInfo | None:
    """The generate stage of a sharded run: every shard's finished sessions summed (seconds are
    process-seconds, so throughput is per process, as in a one-process run); settings from the first
    shard, world_size the most shards that ran at once."""
    if not infos:
        return None
    out = infos[0].model_copy()
    for g in infos[1:]:
        out.seconds += g.seconds
        out.sessions += g.sessions
        out.model_calls += g.model_calls
    out.world_size = max(g.world_size for g in infos)
    return out
