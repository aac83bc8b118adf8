"""``--intersect``: runs of one table column that cover different samples, scored on the ones they share.

The explicit escape for dataset copies that miss a few files (the same one ``compare`` has). The shared
samples must carry the same gold labels and the same images in every run, else the runs are refused
by name; each run's metrics are then computed anew from its scored samples on the shared ones, with
the bootstrap settings it was scored with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tag_bench.comparability import image_shas
from tag_bench.errors import TagBenchError
from tag_bench.report.frames import ScoredRun
from tag_bench.scoring.aggregate import ScoreArrays, build_arrays, metrics_from_arrays
from tag_bench.scoring.run import run_facts
from tag_bench.store import gc_paused


class IntersectError(TagBenchError):
    """Runs cannot be scored on their shared samples (none shared, or the shared ones differ)."""


def on_shared_samples(runs: Sequence[ScoredRun]) -> tuple[list[ScoredRun], str]:
    """The runs with metrics on the samples all of them have, and the note a table prints about it."""
    arrays = {r.run.path: _arrays(r) for r in runs}
    shared = set.intersection(*(set(a.sample_ids) for a in arrays.values()))
    if not shared:
        raise IntersectError(f"--intersect: {_names(runs)} share no sample of {runs[0].manifest.task.name}")
    first, first_arrays = runs[0], arrays[runs[0].run.path]
    order = [sid for sid in first_arrays.sample_ids if sid in shared]
    gold = _gold(first_arrays, order)
    images = _images(first, order)
    out = []
    for r in runs:
        a = arrays[r.run.path]
        if _gold(a, order) != gold:
            raise IntersectError(
                f"--intersect: {r.name} ({r.run.path}) and {first.name} ({first.run.path}) give the shared "
                "samples different gold labels: they were scored on different label files, not comparable"
            )
        if _images(r, order) != images:
            raise IntersectError(
                f"--intersect: {r.name} ({r.run.path}) and {first.name} ({first.run.path}) show different images "
                "for the same sample ids (another release or alignment of the dataset): not comparable"
            )
        pos = {sid: i for i, sid in enumerate(a.sample_ids)}
        sub = a.subset([pos[sid] for sid in order])
        scoring = r.manifest.scoring
        report = metrics_from_arrays(
            sub,
            n_resamples=scoring.n_resamples if scoring else 1000,
            seed=scoring.seed if scoring else 0,
        )
        report.run_status = r.report.run_status
        out.append(replace(r, report=report))
    sizes = ", ".join(f"{r.name} {len(arrays[r.run.path].sample_ids):,}" for r in runs)
    note = (
        f"--intersect: {runs[0].manifest.task.name} is compared on the {len(order):,} samples every run has "
        f"({sizes}); metrics recomputed on those."
    )
    return out, note


def _arrays(run: ScoredRun) -> ScoreArrays:
    with gc_paused():
        arrays = build_arrays(
            run.run.iter_scored(run.reference_key),
            run.manifest.task.classes,
            au_reference_id=run.report.au_reference,
        )
    arrays.facts = run_facts(run.manifest, has_reference=run.report.au_reference is not None)
    return arrays


def _gold(arrays: ScoreArrays, order: list[str]) -> list[int]:
    pos = {sid: i for i, sid in enumerate(arrays.sample_ids)}
    return [int(arrays.gold[pos[sid]]) for sid in order]


def _images(run: ScoredRun, order: list[str]) -> list[str | None]:
    shas = image_shas(run.run.read_index(), run.run.read_generations())
    return [shas.get(sid) for sid in order]


def _names(runs: Sequence[ScoredRun]) -> str:
    return ", ".join(f"{r.name} ({r.run.path})" for r in runs)
