"""One evaluation: task + model -> run directory with generations, scored samples and metrics.

The run directory is ``results/<task>/<model>/`` unless ``out`` is given; its files are described in
:mod:`tag_bench.rundir`. :func:`plan_run` works out what a run is (task, samples, adapter, manifest)
before anything is written; :func:`evaluate` then generates and scores, and
:mod:`tag_bench.generate.predictions` writes outputs produced elsewhere instead of generating.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench import __version__
from tag_bench._hashing import sha256_hex
from tag_bench.au.base import DEFAULT_DETECTOR
from tag_bench.au.sources import parse_reference_spec
from tag_bench.generate.cache import open_cache
from tag_bench.generate.engine import Barrier, DistInfo, GenerateStats, PromptFn, dist_info, generate
from tag_bench.metrics.stats import check_n_resamples
from tag_bench.models.args import redact, scrub_secrets
from tag_bench.models.base import (
    DEFAULT_GEN_KWARGS,
    AdapterContext,
    FatalAdapterError,
    ModelAdapter,
    fingerprint_of,
    get_model,
)
from tag_bench.models.requests import gen_settings
from tag_bench.options import parse_kv
from tag_bench.prompts import asks_evidence, render_prompt
from tag_bench.rundir import RunConfigError, RunDir
from tag_bench.runinfo import git_revision, package_versions, slug, utc_now
from tag_bench.schema import Generation, GenerationInfo, MetricsReport, ModelInfo, RunManifest, Sample
from tag_bench.scoring.run import (
    ReferenceSet,
    compute_references,
    resolve_reference_spec,
    score_run,
)
from tag_bench.tasks import Task, TaskData, load_task

log = logging.getLogger("tag_bench")


@dataclass
class RunResult:
    run_dir: Path
    manifest: RunManifest
    stats: GenerateStats
    report: MetricsReport | None = None  # on rank 0
    warnings: list[str] = field(default_factory=list)


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


def normalise_gen_kwargs(gen_kwargs: dict[str, Any] | str | None) -> dict[str, Any]:
    """The defaults plus the user's settings, checked before any model loads (RunConfigError names the
    bad setting)."""
    try:
        given = parse_kv(gen_kwargs) if isinstance(gen_kwargs, str) else dict(gen_kwargs or {})
        gen_settings(given)
    except ValueError as e:
        raise RunConfigError(f"--gen-kwargs: {e}") from None
    out = {**DEFAULT_GEN_KWARGS, **given}
    if float(out.get("temperature") or 0) > 0 and "do_sample" not in given:
        out["do_sample"] = True
    return dict(sorted(out.items()))


def model_slug(model: str, args: dict[str, Any]) -> str:
    main = args.get("pretrained") or args.get("model") or args.get("predictions")
    name = model if main is None else f"{model}__{Path(str(main)).name if model == 'replay' else main}"
    extra = {k: v for k, v in redact(args).items() if k not in ("pretrained", "model")}
    return slug(name.replace("/", "__")) + (f"__{fingerprint_of(extra)[:6]}" if extra else "")


def plan_run(
    task: str | Task,
    model: str,
    model_args: str | dict[str, Any] | None = None,
    *,
    data_root: str | Path | None = None,
    prompt: str | None = None,
    batch_size: int = 1,
    limit: int | None = None,
    gen_kwargs: str | dict[str, Any] | None = None,
    au_reference: str | None = "auto",
    out: str | Path | None = None,
    results_dir: str | Path = "results",
    train_source: str | None = None,
    box_frame: str | None = None,
    seed: int = 0,
    tasks_dirs: list[str] | None = None,
    loader_options: dict[str, Any] | None = None,
    world_size: int = 1,
    name: str | None = None,
) -> RunPlan:
    """Load the task, build the adapter and the manifest. The caller closes ``plan.adapter``."""
    task = task if isinstance(task, Task) else load_task(task, tasks_dirs)
    data = task.load(data_root, **(loader_options or {}))
    # The run's data identity is the whole split, so a larger --limit resumes instead of restarting.
    index_sha = _index_digest(data.samples)
    samples = data.samples[:limit] if limit is not None else data.samples
    if not samples:
        raise RunConfigError(f"task {task.name} has no samples under {data.root}")
    args = parse_kv(model_args) if isinstance(model_args, str) or model_args is None else dict(model_args)
    context = AdapterContext(
        classes=list(task.classes),
        seed=seed,
        box_frame=box_frame,
        task=task.name,
        label_counts=dict(Counter(s.label for s in samples)),
    )
    gk = normalise_gen_kwargs(gen_kwargs)
    run_dir = Path(out) if out else Path(results_dir) / task.name / model_slug(model, args)
    RunDir(run_dir).check_placement()  # before any model loads
    adapter = get_model(model, args, context)
    try:
        prompt_id = prompt or task.prompt
        template = render_prompt(prompt_id, task.classes, adapter.frame, None)
        spec = _reference_for_run(au_reference, prompt_id, adapter)
        if adapter.needs_reference and spec is None:
            raise RunConfigError(
                f"the {adapter.name} baseline reads an AU reference: pass --au-reference "
                f"(e.g. {DEFAULT_DETECTOR}, which needs tag-bench[landmarks])"
            )
        manifest = RunManifest(
            run_id=f"{task.name}__{model_slug(model, args)}",
            name=name,
            created=utc_now(),
            task=task.info(data),
            model=ModelInfo(
                adapter=model,
                args=redact(adapter.describe()),
                fingerprint=adapter.fingerprint(),
                frame=adapter.frame,
                oracle_reference=bool(adapter.oracle_reference),
            ),
            prompt_id=prompt_id,
            prompt_hash=template.template_hash,
            gen_kwargs=gk,
            batch_size=batch_size,
            limit=limit,
            au_reference=spec,
            train_source=train_source,
            data_root=str(data.root),
            seeds={"seed": seed},
            packages=package_versions(),
            git_revision=git_revision(),
            tag_bench_version=_version(),
            command=[scrub_secrets(a) for a in sys.argv],
            world_size=world_size,
            task_fingerprint=task.fingerprint(),
            index_sha256=index_sha,
            warnings=list(data.warnings) + list(adapter.warnings),
        )
    except BaseException:
        adapter.close()
        raise
    return RunPlan(task, data, samples, adapter, prompt_id, gk, spec, manifest, RunDir(run_dir))


def _reference_for_run(au_reference: str | None, prompt_id: str, adapter: ModelAdapter) -> str | None:
    """The AU reference spec a run is scored against. ``auto`` means none when the prompt asks for no
    evidence (there is nothing to ground, so the detector is not run) unless the adapter itself reads a
    reference; a reference named explicitly is always used."""
    if au_reference is None:
        return None
    spec = parse_reference_spec(au_reference)
    if spec.kind == "auto" and not asks_evidence(prompt_id) and not adapter.needs_reference:
        return None
    return resolve_reference_spec(spec)


def evaluate(
    task: str | Task,
    model: str,
    model_args: str | dict[str, Any] | None = None,
    *,
    batch_size: int = 1,
    cache: str | Path | bool | None = True,
    n_resamples: int = 1000,
    overwrite: bool = False,
    progress: bool = True,
    max_error_rate: float | None = None,
    **options: Any,
) -> RunResult:
    """Evaluate ``model`` on ``task`` end to end; resumes an interrupted run in the same directory.

    ``options`` are those of :func:`plan_run` (data_root, prompt, limit, gen_kwargs, au_reference,
    out, results_dir, train_source, box_frame, seed, tasks_dirs, loader_options, name).

    A run whose every sample failed (status ``error``), or more than ``max_error_rate`` of them, is
    still scored (the failures in every denominator) but its manifest says ``status: failed`` with the
    reason in ``status_reason`` (:func:`too_many_errors`); ``max_error_rate=1`` accepts any run.
    """
    check_n_resamples(n_resamples)  # before any model call: a run must not fail once generated
    dist = dist_info()
    if dist.world_size > 1 and "CUDA_VISIBLE_DEVICES" not in os.environ and "torch" not in sys.modules:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(dist.local_rank)  # one GPU per rank
    plan = plan_run(task, model, model_args, batch_size=batch_size, world_size=dist.world_size, **options)
    try:
        if not dist.is_main:
            return _generate_and_score(
                plan, dist, batch_size, cache, overwrite, n_resamples, progress, max_error_rate
            )
        with plan.run.lock():
            return _generate_and_score(
                plan, dist, batch_size, cache, overwrite, n_resamples, progress, max_error_rate
            )
    finally:
        plan.adapter.close()


def _generate_and_score(
    plan: RunPlan,
    dist: DistInfo,
    batch_size: int,
    cache: str | Path | bool | None,
    overwrite: bool,
    n_resamples: int,
    progress: bool,
    max_error_rate: float | None = None,
) -> RunResult:
    run, adapter, samples, manifest = plan.run, plan.adapter, plan.samples, plan.manifest
    barrier = Barrier(dist)
    if dist.is_main:
        manifest = run.start(manifest, samples, overwrite=overwrite)
    barrier.wait()

    references: ReferenceSet | None = None
    au_problems: list[str] = []  # an unreadable AU cache: the run goes on without it and says so
    au_cache = cache is not False and cache is not None  # --no-cache bypasses the AU cache too
    if adapter.needs_reference:
        assert plan.reference_spec is not None  # plan_run refuses a baseline without a reference
        references = compute_references(
            plan.reference_spec,
            samples[dist.rank :: dist.world_size],
            progress=progress,
            cache=au_cache,
            warnings=au_problems,
        )

    def prompt_for(size: tuple[int, int] | None):
        return render_prompt(plan.prompt_id, plan.task.classes, adapter.frame, size)

    cache_problems: list[str] = []
    cache_obj = (
        None
        if cache is False or cache is None
        else open_cache(None if cache is True else cache, cache_problems)
    )
    calls_before = _model_calls(run.read_generations()) if dist.is_main else 0
    t0 = time.perf_counter()
    try:
        stats = generate(
            samples,
            adapter,
            PromptFn(render=prompt_for),
            run,
            gen_kwargs=plan.gen_kwargs,
            batch_size=batch_size,
            cache=cache_obj,
            references=(lambda s: references.by_sample[s.id]) if references else None,
            progress=progress,
            dist=dist,
        )
    except (KeyboardInterrupt, FatalAdapterError) as e:
        if dist.is_main:
            manifest.status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
            manifest.status_reason = (
                "generation was interrupted; run the same command again to resume it"
                if isinstance(e, KeyboardInterrupt)
                else f"generation stopped: {e}"
            )
            run.write_manifest(manifest)
        raise
    barrier.wait()
    stage_seconds = time.perf_counter() - t0  # on the main process: until the last rank finished
    cache_problems += cache_obj.problems if cache_obj is not None else []
    result = RunResult(
        run_dir=run.path, manifest=manifest, stats=stats, warnings=[*manifest.warnings, *cache_problems]
    )
    if not dist.is_main:
        barrier.close()
        return result
    merged = run.merge_generations([s.id for s in samples])
    done = run.read_manifest()
    done.generation = _generation_info(
        done, adapter, batch_size, dist, stage_seconds, _model_calls(merged) - calls_before, merged
    )
    # generation is done (scoring is a stage of its own); a run where (nearly) every call failed is not
    # complete, though it is scored like any other, its failures in every denominator
    errors = sum(1 for s in samples if (g := merged.get(s.id)) is not None and g.status == "error")
    done.status_reason = too_many_errors(errors, len(samples), max_error_rate)
    done.status = "failed" if done.status_reason else "complete"
    run.write_manifest(done)
    result.manifest = done
    if references is not None and dist.world_size == 1:
        # facs-rules already computed them with this spec: score against exactly those
        run.write_references(references.for_run_dir())
        score_spec = None
    else:
        score_spec = plan.reference_spec or "none"  # this run's choice, not what an earlier attempt saved
    try:
        result.report = score_run(run, au_reference=score_spec, n_resamples=n_resamples, seed=manifest.seeds["seed"],
                                  progress=progress, cache=au_cache, warnings=au_problems)  # fmt: skip
    except KeyboardInterrupt:
        run.set_status("interrupted", "scoring was interrupted; run the same command again to finish it")
        raise
    result.warnings += au_problems
    result.manifest = run.read_manifest()
    barrier.close()
    return result


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


def _generation_info(
    manifest: RunManifest,
    adapter: ModelAdapter,
    batch_size: int,
    dist: DistInfo,
    seconds: float,
    calls: int,
    generations: dict[str, Generation],
) -> GenerationInfo:
    """The manifest's record of the generate stage after one more finished session (sums carried over).

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
        world_size=dist.world_size,
    )
    old = manifest.generation
    if old is not None:
        settings = ("timed", "batch_size", "concurrency", "device", "world_size")
        changed = [
            f"{k} {getattr(old, k)} -> {getattr(now, k)}"
            for k in settings
            if getattr(old, k) != getattr(now, k)
        ]
        if changed:
            manifest.warnings.append(
                "resumed with other generation settings (" + ", ".join(changed) + "): latency and throughput "
                "mix both"
            )
        now.seconds, now.sessions, now.model_calls = old.seconds, old.sessions, old.model_calls
    now.seconds += seconds
    now.sessions += 1
    now.model_calls += max(0, calls)
    now.cached = sum(g.cached for g in generations.values())
    return now


def _model_calls(generations: dict[str, Generation]) -> int:
    """Records that came from a model call: not from the cache, and past the image (which has a cache key)."""
    return sum(not g.cached and g.cache_key is not None for g in generations.values())


def _index_digest(samples: list[Sample]) -> str:
    blob = "".join(json.dumps([s.id, s.label, s.image, s.image_index, s.crop]) for s in samples)
    return sha256_hex(blob, 16)


def _version() -> str:
    return __version__
