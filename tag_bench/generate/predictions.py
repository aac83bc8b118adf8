"""Outputs produced elsewhere -> a run directory, without calling a model or decoding an image.

``tag-bench score --predictions FILE`` writes one generation record per prediction straight into the
run directory (the ``replay`` adapter validates the file and gives the run its identity), then the
score stage runs as for any run. Samples without a prediction get no record and are scored
``missing``; they stay in every denominator. The presented image size, which the parser needs to map
boxes into pixels, comes from the index or the image file's header.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tag_bench.generate.engine import GenerateStats
from tag_bench.generate.evaluate import RunResult, plan_run
from tag_bench.images import ImageLoadError, presented_sizes_and_ids
from tag_bench.metrics.stats import check_n_resamples
from tag_bench.models.replay import PredictionsError, ReplayAdapter
from tag_bench.schema import Generation, Sample
from tag_bench.scoring.run import score_run
from tag_bench.store import gc_paused


def score_predictions(
    task: str,
    predictions: str | Path,
    *,
    frame: str | None = None,
    provenance: dict[str, Any] | None = None,
    n_resamples: int = 1000,
    overwrite: bool = False,
    progress: bool = True,
    cache: bool = True,
    **options: Any,
) -> RunResult:
    """Write the predictions of ``task`` into a run directory and score it (``cache=False``: without the
    AU cache).

    ``options`` are those of :func:`tag_bench.generate.evaluate.plan_run` (data_root, out, limit,
    au_reference, seed, tasks_dirs, loader_options, ...). ``provenance`` (e.g. the other harness's config
    and version) is kept in the manifest's ``extra``.
    """
    check_n_resamples(n_resamples)
    args: dict[str, Any] = {"predictions": str(predictions), **({"frame": frame} if frame else {})}
    plan = plan_run(task, "replay", args, **options)
    plan.manifest.extra.update(provenance or {})
    adapter = plan.adapter
    assert isinstance(adapter, ReplayAdapter)
    au_problems: list[str] = []  # an unreadable AU cache: scoring goes on without it and says so
    try:
        plan.manifest.warnings += check_ids(
            adapter.predictions, plan.data.samples, Path(predictions), plan.task.name
        )
        with plan.run.lock(), gc_paused():
            manifest = plan.run.start(plan.manifest, plan.samples, overwrite=overwrite)
            try:
                stats = GenerateStats(total=len(plan.samples))
                generations = {g.sample_id: g for g in _generations(plan.samples, adapter, stats)}
                adapter.predictions.clear()  # each is in a generation now: not held twice while scoring
                plan.run.write_generations(generations.values())
                plan.run.remove_shards()
                plan.run.set_status("complete")
                report = score_run(
                    plan.run,
                    au_reference=plan.reference_spec or "none",
                    n_resamples=n_resamples,
                    seed=manifest.seeds["seed"],
                    progress=progress,
                    loaded=(plan.samples, generations),
                    cache=cache,
                    warnings=au_problems,
                )
            except KeyboardInterrupt:
                # not `tag-bench score DIR`: the predictions may not all be in the run yet
                plan.run.set_status("interrupted", INTERRUPTED_SCORING)
                raise
            manifest = plan.run.read_manifest()
    finally:
        adapter.close()
    return RunResult(plan.run.path, manifest, stats, report, [*manifest.warnings, *au_problems])


INTERRUPTED_SCORING = "scoring the predictions was interrupted; run the same command again to finish it"


def check_ids(predictions: dict[str, Any], samples: list[Sample], path: Path, task: str) -> list[str]:
    """Warnings about prediction ids that are not samples of the task; an error when none is."""
    known = {s.id for s in samples}
    unknown = [pid for pid in predictions if pid not in known]
    if not unknown:
        return []
    example = f"e.g. {unknown[0]!r}{_did_you_mean(unknown[0], samples)}"
    if len(unknown) == len(predictions):
        raise PredictionsError(
            f"none of the {len(predictions):,} ids in {path} is a sample of {task} ({example}); "
            f"sample ids are listed by `tag-bench inspect {task} --json`"
        )
    return [
        f"{len(unknown):,} of {len(predictions):,} prediction ids in {path} are not samples of {task} and are "
        f"ignored ({example})"
    ]


def _did_you_mean(pid: str, samples: list[Sample]) -> str:
    tail = pid.rsplit("/", 1)[-1]
    for s in samples:  # the usual slip: the dataset prefix left out (test_0002 for rafdb/test_0002)
        if s.id.rsplit("/", 1)[-1] == tail:
            return f"; did you mean {s.id!r}?"
    close = difflib.get_close_matches(pid, [s.id for s in samples[:5000]], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _generations(samples: list[Sample], adapter: Any, stats: GenerateStats) -> Iterator[Generation]:
    answered = [(s, adapter.predictions[s.id]) for s in samples if s.id in adapter.predictions]
    stats.missing = len(samples) - len(answered)
    # the image is read once for its size (to convert boxes) and its id (the AU cache, the data identity)
    images = iter(presented_sizes_and_ids([s for s, p in answered if p.response is not None]))
    for s, p in answered:
        stats.generated += 1
        frame = p.frame or adapter.frame
        image = next(images) if p.response is not None else ImageLoadError(f"no response for sample {s.id}")
        if isinstance(image, ImageLoadError):
            stats.errors += 1
            yield Generation(sample_id=s.id, status="error", error=str(image), frame=frame)
            continue
        yield Generation(
            sample_id=s.id,
            text=p.response,
            finish_reason=p.finish_reason,
            image_sha256=image[1],
            image_size=image[0],
            input_size=p.input_size,
            frame=frame,
        )
