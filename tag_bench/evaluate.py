"""One evaluation: task + model -> run directory with generations, scored samples and metrics.

Run directory (``results/<task>/<model>/`` unless ``out`` is given)::

    manifest.json        what ran: task, model (secrets redacted), prompt id + hash, gen kwargs, seeds,
                         AU reference, package versions, git revision, status
    index.jsonl          the indexed samples (so the run re-scores without the dataset)
    generations.jsonl    one raw model output per sample (append-only while running)
    au_references.jsonl  the AU reference of each sample, as used for scoring
    samples.jsonl        one scored record per sample, failures included
    metrics.json         every metric with its bootstrap CI
"""

from __future__ import annotations

import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench import store
from tag_bench.engine import (
    Barrier,
    GenerateStats,
    PromptFn,
    dist_info,
    generate,
    merge_generations,
)
from tag_bench.gencache import GenerationCache
from tag_bench.models.base import DEFAULT_GEN_KWARGS, AdapterContext, get_model, parse_kv, redact
from tag_bench.runinfo import git_revision, package_versions, slug, utc_now
from tag_bench.schema import ModelInfo, RunManifest
from tag_bench.scoring.run import (
    AU_REFERENCES,
    INDEX,
    ReferenceSet,
    compute_references,
    parse_generation,
    resolve_reference_spec,
    score_run,
)
from tag_bench.tasks import Task, load_task

log = logging.getLogger("tag_bench")

#: Manifest fields that must match for a run to be resumed.
_IDENTITY_FIELDS = (
    "task",
    "model_fingerprint",
    "frame",
    "prompt_id",
    "prompt_hash",
    "gen_kwargs",
    "seed",
    "data",
)


class RunConfigError(Exception):
    """The run cannot start as asked (e.g. resuming with a changed configuration)."""


@dataclass
class RunResult:
    run_dir: Path
    manifest: RunManifest
    stats: GenerateStats
    report: Any | None = None  # MetricsReport on rank 0
    warnings: list[str] = field(default_factory=list)


def normalise_gen_kwargs(gen_kwargs: dict[str, Any] | str | None) -> dict[str, Any]:
    given = parse_kv(gen_kwargs) if isinstance(gen_kwargs, str) else dict(gen_kwargs or {})
    out = {**DEFAULT_GEN_KWARGS, **given}
    if float(out.get("temperature") or 0) > 0 and "do_sample" not in given:
        out["do_sample"] = True
    return dict(sorted(out.items()))


def model_slug(model: str, args: dict[str, Any]) -> str:
    main = args.get("pretrained") or args.get("model") or args.get("predictions")
    name = model if main is None else f"{model}__{Path(str(main)).name if model == 'replay' else main}"
    from tag_bench.models.base import fingerprint_of

    extra = {k: v for k, v in redact(args).items() if k not in ("pretrained", "model")}
    return slug(name.replace("/", "__")) + (f"__{fingerprint_of(extra)[:6]}" if extra else "")


def _identity(m: RunManifest) -> dict[str, Any]:
    return {
        "task": (m.task.name, m.task.version, m.extra.get("task_fingerprint")),
        "model_fingerprint": m.model.fingerprint,
        "frame": m.model.frame,
        "prompt_id": m.prompt_id,
        "prompt_hash": m.prompt_hash,
        "gen_kwargs": m.gen_kwargs,
        "seed": m.seeds.get("seed"),
        "data": m.extra.get("index_sha256"),
    }


def _check_resumable(run_dir: Path, new: RunManifest) -> RunManifest | None:
    path = run_dir / store.MANIFEST
    if not path.exists():
        return None
    old = RunManifest.model_validate(store.read_json(path))
    a, b = _identity(old), _identity(new)
    changed = [k for k in _IDENTITY_FIELDS if a[k] != b[k]]
    if changed:
        lines = "\n".join(f"  {k}: {a[k]!r} -> {b[k]!r}" for k in changed)
        raise RunConfigError(
            f"{run_dir} holds a run with a different configuration:\n{lines}\n"
            "Resuming would mix outputs. Start fresh with --overwrite, or choose another --out."
        )
    return old


def _clear_run(run_dir: Path) -> None:
    for name in (store.MANIFEST, store.GENERATIONS, store.SAMPLES, store.METRICS, INDEX, AU_REFERENCES):
        (run_dir / name).unlink(missing_ok=True)
    for p in run_dir.glob("generations.rank*.jsonl"):
        p.unlink()


def evaluate(
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
    cache: str | Path | bool | None = True,
    tasks_dirs: list[str] | None = None,
    loader_options: dict[str, Any] | None = None,
    n_resamples: int = 1000,
    overwrite: bool = False,
    progress: bool = True,
) -> RunResult:
    """Evaluate ``model`` on ``task`` end to end; resumes an interrupted run in the same directory."""
    from tag_bench.prompts import render_prompt

    dist = dist_info()
    if dist.world_size > 1 and "CUDA_VISIBLE_DEVICES" not in os.environ and "torch" not in sys.modules:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(dist.local_rank)  # one GPU per rank

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
    adapter = get_model(model, args, context)
    warnings = list(data.warnings) + list(getattr(adapter, "warnings", []))
    try:
        gk = normalise_gen_kwargs(gen_kwargs)
        prompt_id = prompt or task.prompt
        template = render_prompt(prompt_id, task.classes, adapter.frame, None)
        spec = resolve_reference_spec(au_reference)
        if adapter.needs_reference and spec is None:
            raise RunConfigError(
                f"the {adapter.name} baseline reads an AU reference: pass --au-reference "
                "(e.g. mediapipe-geometric, which needs tag-bench[landmarks])"
            )
        run_dir = Path(out) if out else Path(results_dir) / task.name / model_slug(model, args)
        manifest = RunManifest(
            run_id=f"{task.name}__{model_slug(model, args)}",
            created=utc_now(),
            task=task.info(data),
            model=ModelInfo(
                adapter=model,
                args=redact(adapter.describe() | args) if hasattr(adapter, "describe") else redact(args),
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
            command=list(sys.argv),
            world_size=dist.world_size,
            extra={"task_fingerprint": task.fingerprint(), "index_sha256": index_sha, "warnings": warnings},
        )
        run_dir.mkdir(parents=True, exist_ok=True)
        barrier = Barrier(dist)
        if dist.is_main:
            if overwrite:
                _clear_run(run_dir)
            old = _check_resumable(run_dir, manifest)
            if old is not None:
                manifest.created = old.created
                manifest.extra["resumed_at"] = [*old.extra.get("resumed_at", []), utc_now()]
            store.write_json(run_dir / store.MANIFEST, manifest)
            store.write_jsonl(run_dir / INDEX, samples)
        barrier.wait()

        references: ReferenceSet | None = None
        if adapter.needs_reference:
            references = compute_references(spec, samples[dist.rank :: dist.world_size], progress=progress)

        def prompt_for(size: tuple[int, int] | None):
            return render_prompt(prompt_id, task.classes, adapter.frame, size)

        def parse_failed(g) -> bool:
            parsed = parse_generation(g, list(task.classes))
            return parsed is None or parsed.status != "ok"

        cache_obj = None
        if cache not in (False, None):
            cache_obj = GenerationCache(None if cache is True else cache)
        try:
            stats = generate(
                samples,
                adapter,
                PromptFn(render=prompt_for),
                run_dir,
                gen_kwargs=gk,
                batch_size=batch_size,
                cache=cache_obj,
                references=(lambda s: references.by_sample[s.id]) if references else None,
                progress=progress,
                count_parse_failure=parse_failed,
                dist=dist,
            )
        except KeyboardInterrupt:
            if dist.is_main:
                manifest.status = "interrupted"
                store.write_json(run_dir / store.MANIFEST, manifest)
            raise
        barrier.wait()
        result = RunResult(run_dir=run_dir, manifest=manifest, stats=stats, warnings=warnings)
        if not dist.is_main:
            barrier.close()
            return result
        merge_generations(run_dir, [s.id for s in samples])
        if references is not None and dist.world_size == 1:
            # facs-rules already computed them with this spec: score against exactly those
            store.write_jsonl(run_dir / AU_REFERENCES, references.by_sample.values())
            score_spec = None
        else:
            score_spec = spec or "none"  # this run's choice, not whatever a previous attempt saved
        result.report = score_run(
            run_dir, au_reference=score_spec, n_resamples=n_resamples, seed=seed, progress=progress
        )
        manifest = result.manifest = _mark_complete(run_dir)
        barrier.close()
        return result
    finally:
        adapter.close()


def _mark_complete(run_dir: Path) -> RunManifest:
    m = RunManifest.model_validate(store.read_json(run_dir / store.MANIFEST))
    m.status = "complete"
    store.write_json(run_dir / store.MANIFEST, m)
    return m


def _index_digest(samples) -> str:
    import hashlib
    import json

    h = hashlib.sha256()
    for s in samples:
        h.update(json.dumps([s.id, s.label, s.image, s.image_index, s.crop]).encode())
    return h.hexdigest()[:16]


def _version() -> str:
    from tag_bench import __version__

    return __version__
