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
from pathlib import Path
from typing import Any

from tag_bench import __version__
from tag_bench._hashing import sha256_hex
from tag_bench.au.base import DEFAULT_DETECTOR
from tag_bench.au.sources import parse_reference_spec
from tag_bench.generate.engine import PromptFn, dist_info, generate
from tag_bench.generate.sharded import check_no_other_writer, generate_shard
from tag_bench.generate.shards import Shard
from tag_bench.generate.stages import (
    RunPlan,
    RunResult,
    model_calls,
    open_generation_cache,
    prompt_renderer,
    references_for,
    score_finished_run,
    session_generation_info,
    too_many_errors,
)
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
from tag_bench.schema import ModelInfo, RunManifest, Sample
from tag_bench.scoring.run import (
    resolve_reference_spec,
)
from tag_bench.store import gc_paused
from tag_bench.tasks import Task, load_task

log = logging.getLogger("tag_bench")


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
    with gc_paused():  # a record per sample, no cycles (store.gc_paused): 200k samples 3.0 -> 2.0 s
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
            cwd=os.getcwd(),
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
    shard: Shard | str | None = None,
    **options: Any,
) -> RunResult:
    """Evaluate ``model`` on ``task`` end to end; resumes an interrupted run in the same directory.

    ``shard`` (``"I/N"``) generates only that shard's samples (:mod:`tag_bench.generate.sharded`); the
    shard that completes the run scores it. Under ``torchrun`` / ``accelerate launch`` rank I of N is
    shard I/N. A run directory where shards have written stays sharded: a later session without
    ``shard`` is shard 0/1, which finishes whatever is left.

    ``options`` are those of :func:`plan_run` (data_root, prompt, limit, gen_kwargs, au_reference,
    out, results_dir, train_source, box_frame, seed, tasks_dirs, loader_options, name).

    A run whose every sample failed (status ``error``), or more than ``max_error_rate`` of them, is
    still scored (the failures in every denominator) but its manifest says ``status: failed`` with the
    reason in ``status_reason`` (:func:`too_many_errors`); ``max_error_rate=1`` accepts any run.
    """
    check_n_resamples(n_resamples)  # before any model call: a run must not fail once generated
    dist = dist_info()
    if isinstance(shard, str):
        shard = Shard.parse(shard)
    if dist.shard is not None:
        if shard is not None:
            raise RunConfigError(
                f"--shard {shard} under a data-parallel launch (WORLD_SIZE={dist.world_size}): each rank is "
                "already a shard; give --shard to single processes, or launch without it"
            )
        shard = dist.shard  # rank I of N is shard I/N
        progress = progress and dist.local_rank == 0
        if "CUDA_VISIBLE_DEVICES" not in os.environ and "torch" not in sys.modules:
            os.environ["CUDA_VISIBLE_DEVICES"] = str(dist.local_rank)  # one GPU per rank
    if shard is not None and overwrite:
        raise RunConfigError(
            f"--overwrite with --shard {shard} would delete what the other shards wrote: clear the run once "
            "before the shards start (delete the folder), or choose another --out"
        )
    world_size = shard.count if shard is not None else 1
    plan = plan_run(task, model, model_args, batch_size=batch_size, world_size=world_size, **options)
    try:
        if overwrite and plan.run.is_sharded():
            check_no_other_writer(plan.run, None)  # then the run is cleared, its shards' files included
        elif shard is not None or plan.run.is_sharded():
            return generate_shard(
                plan, shard or Shard(0, 1), batch_size=batch_size, cache=cache, n_resamples=n_resamples,
                progress=progress, max_error_rate=max_error_rate,
            )  # fmt: skip
        with plan.run.lock():
            return _generate_and_score(
                plan, batch_size, cache, overwrite, n_resamples, progress, max_error_rate
            )
    finally:
        plan.adapter.close()


def _generate_and_score(
    plan: RunPlan,
    batch_size: int,
    cache: str | Path | bool | None,
    overwrite: bool,
    n_resamples: int,
    progress: bool,
    max_error_rate: float | None = None,
) -> RunResult:
    run, adapter, samples, manifest = plan.run, plan.adapter, plan.samples, plan.manifest
    manifest = run.start(manifest, samples, overwrite=overwrite)

    au_problems: list[str] = []  # an unreadable AU cache: the run goes on without it and says so
    au_cache = cache is not False and cache is not None  # --no-cache bypasses the AU cache too
    references = references_for(plan, samples, progress, au_cache, au_problems)
    cache_problems: list[str] = []
    cache_obj = open_generation_cache(cache, cache_problems)
    calls_before = model_calls(run.read_generations())
    t0 = time.perf_counter()
    try:
        stats = generate(
            samples,
            adapter,
            PromptFn(render=prompt_renderer(plan)),
            run,
            gen_kwargs=plan.gen_kwargs,
            batch_size=batch_size,
            cache=cache_obj,
            references=(lambda s: references.by_sample[s.id]) if references else None,
            progress=progress,
        )
    except (KeyboardInterrupt, FatalAdapterError) as e:
        manifest.status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        manifest.status_reason = (
            "generation was interrupted; run the same command again to resume it"
            if isinstance(e, KeyboardInterrupt)
            else f"generation stopped: {e}"
        )
        run.write_manifest(manifest)
        raise
    stage_seconds = time.perf_counter() - t0
    cache_problems += cache_obj.problems if cache_obj is not None else []
    result = RunResult(
        run_dir=run.path, manifest=manifest, stats=stats, warnings=[*manifest.warnings, *cache_problems]
    )
    merged = run.merge_generations([s.id for s in samples])
    done = run.read_manifest()
    done.generation, changed = session_generation_info(
        done.generation, adapter, batch_size, stage_seconds, model_calls(merged) - calls_before
    )
    done.generation.cached = sum(g.cached for g in merged.values())
    if changed:
        done.warnings.append(changed)
    # generation is done (scoring is a stage of its own); a run where (nearly) every call failed is not
    # complete, though it is scored like any other, its failures in every denominator
    errors = sum(1 for s in samples if (g := merged.get(s.id)) is not None and g.status == "error")
    done.status_reason = too_many_errors(errors, len(samples), max_error_rate)
    done.status = "failed" if done.status_reason else "complete"
    run.write_manifest(done)
    result.manifest = done
    if references is not None:
        # facs-rules already computed them with this spec: score against exactly those
        run.write_references(references.for_run_dir())
        score_spec = None
    else:
        score_spec = plan.reference_spec or "none"  # this run's choice, not what an earlier attempt saved
    result.report = score_finished_run(plan, score_spec, n_resamples, progress, au_cache, au_problems)
    result.warnings += au_problems
    result.manifest = run.read_manifest()
    return result


def _index_digest(samples: list[Sample]) -> str:
    blob = "".join(json.dumps([s.id, s.label, s.image, s.image_index, s.crop]) for s in samples)
    return sha256_hex(blob, 16)


def _version() -> str:
    return __version__
