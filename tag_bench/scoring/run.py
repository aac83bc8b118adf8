"""The score stage: a pure function of (generations, samples, AU reference, scorer config).

Reads a run directory and writes ``samples.jsonl`` (one ScoredSample per indexed sample, failures
included) and ``metrics.json``. Re-scoring never calls the model. The AU references used are saved in
``au_references.jsonl`` so a run re-scores identically even where the detector is not installed.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tag_bench._forkmap import chunk_ranges, pool_size
from tag_bench.au.reference_file import ReferenceFile
from tag_bench.au.sources import ReferenceSpec, parse_reference_spec, resolve_reference_source
from tag_bench.comparability import data_identity
from tag_bench.errors import TagBenchError
from tag_bench.metrics.stats import check_n_resamples
from tag_bench.parsing import parse_response
from tag_bench.prompts import asks_evidence
from tag_bench.rundir import RunDir
from tag_bench.schema import (
    AUReference,
    Generation,
    MetricsReport,
    Parsed,
    RunManifest,
    Sample,
    ScoredSample,
    ScoringInfo,
)
from tag_bench.scoring.aggregate import (
    ArraysBuilder,
    ArraysJoiner,
    RunFacts,
    ScoreArrays,
    build_arrays,
    metrics_from_arrays,
)
from tag_bench.scoring.columnar import update_sidecar
from tag_bench.scoring.features import feature_row
from tag_bench.scoring.score import score_parts, score_sample, usage_values
from tag_bench.scoring.stages import STAGES
from tag_bench.store import gc_paused

log = logging.getLogger("tag_bench")


class ScoringError(TagBenchError):
    """A run directory cannot be scored; the message says what is missing."""


@dataclass
class ReferenceSet:
    """AU references by sample id, with the id of the source that produced them.

    ``by_sample`` is a dict, or a mapping whose records are read when asked for (a JSONL file's
    :class:`~tag_bench.au.reference_file.ReferenceView`, the AU cache's
    :class:`~tag_bench.au.cache.CachedReferences`): scoring then asks for a few hundred at a time
    (:meth:`fetch`), so a large run's references are never all held at once.
    """

    reference_id: str
    by_sample: Mapping[str, AUReference]

    def fetch(self, sample_ids: Iterable[str]) -> Mapping[str, AUReference]:
        """The references of some samples (a lazy mapping reads them now; a dict is itself)."""
        get_many = getattr(self.by_sample, "get_many", None)
        return self.by_sample if get_many is None else get_many(sample_ids)

    @property
    def streams_lines(self) -> bool:
        """Whether scoring writes the run directory's ``au_references.jsonl`` from the records it reads
        (:meth:`fetch_with_lines`): the AU cache's set, whose lines are encoded from records decoded
        from the cache, so each is decoded once. A JSONL file's lines are copied apart instead
        (:meth:`for_run_dir`): a copy decodes nothing."""
        return hasattr(self.by_sample, "get_many_with_lines")

    def fetch_with_lines(self, sample_ids: Iterable[str]) -> tuple[Mapping[str, AUReference], list[str]]:
        """:meth:`fetch`, and the ``au_references.jsonl`` lines of those samples, in their order (for a
        set that :attr:`streams_lines`)."""
        return self.by_sample.get_many_with_lines(sample_ids)  # type: ignore[attr-defined]

    def for_run_dir(self) -> Iterator[AUReference | str]:
        """Each record for ``au_references.jsonl``, in sample order; a line of the file the records were
        read from is copied, not re-encoded."""
        records = getattr(self.by_sample, "records", None)
        yield from (self.by_sample.values() if records is None else records())


def resolve_reference_spec(spec: str | ReferenceSpec | None) -> str | None:
    """The canonical text of ``spec`` (:func:`~tag_bench.au.sources.parse_reference_spec`), with ``auto``
    resolved (the offline default when available); ``none`` / None -> None."""
    if spec is None:
        return None
    s = parse_reference_spec(spec).resolved()
    return None if s.kind == "none" else s.text


def compute_references(
    spec: str | ReferenceSpec,
    samples: list[Sample],
    *,
    progress: bool = True,
    cache: bool = True,
    warnings: list[str] | None = None,
) -> ReferenceSet:
    """The references of ``spec`` for ``samples``; ``cache=False`` bypasses the AU cache. What the user
    should know (an unreadable cache) is appended to ``warnings``."""
    source = resolve_reference_source(spec, cache=cache)
    refs = source.get_many(samples, progress=progress)
    if warnings is not None:
        warnings.extend(source.problems)
    return ReferenceSet(reference_id=source.reference_id, by_sample=refs)


def load_saved_references(run: RunDir, key: str | None = None) -> ReferenceSet | None:
    """The run's current references, or the set saved under ``references/<key>/`` (read when asked
    for, see :class:`ReferenceSet`)."""
    path = run.scores_file(run.AU_REFERENCES, key)
    if not path.exists():
        return None
    refs = ReferenceFile(path, strict=False)
    ids = refs.reference_ids
    if not ids:
        return None
    if len(ids) > 1:
        raise ScoringError(
            f"{run.references_path} mixes AU references {sorted(ids)}; re-score with --au-reference"
        )
    return ReferenceSet(reference_id=next(iter(ids)), by_sample=refs)


def run_facts(manifest: RunManifest, *, has_reference: bool) -> RunFacts:
    """What the manifest says that metrics depend on: whether the prompt asked for evidence, whether the
    generate stage was timed, and its run-level figures (``MetricSpec.needs`` names the needs)."""
    unmet: dict[str, str] = {}
    if not has_reference and not asks_evidence(manifest.prompt_id):
        unmet["evidence"] = (
            f"the task's prompt ({manifest.prompt_id}) asks for no evidence; pass --au-reference to score "
            "cited AUs and boxes anyway"
        )
    gen = manifest.generation
    adapter = manifest.model.adapter
    values: dict[str, float] = {}
    if gen is None:
        unmet["timing"] = (
            f"no generate stage was recorded for this run (adapter {adapter}): nothing was timed"
        )
    elif not gen.timed:
        unmet["timing"] = (
            f"the {adapter} adapter is not timed: replayed answers and built-in baselines say nothing about a "
            "model's speed"
        )
    else:
        values = {"generate_seconds": gen.seconds, "model_calls": float(gen.model_calls)}
    not_run: dict[str, str] = {}
    for need, stage in STAGES.items():
        if not stage.done(manifest):
            not_run[need] = stage.command
            unmet[need] = f"the {stage.name} stage has not been run on this run: `{stage.command}`"
        elif stage.elsewhere is not None:
            unmet[need] = stage.elsewhere
    return RunFacts(unmet=unmet, values=values, not_run=not_run)


def parse_generation(g: Generation, classes: list[str]) -> Parsed | None:
    if g.status != "ok" or g.text is None:
        return None
    return parse_response(
        g.text,
        frame=g.frame or "pixel",
        image_size=g.image_size,
        input_size=g.input_size,
        finish_reason=g.finish_reason,
        classes=classes,
    )


#: samples scored per fetch of their references (references read from a file are held this many at a time)
REFERENCE_BLOCK = 512


def _with_references(
    samples: list[Sample],
    references: ReferenceSet | None,
    reference_sink: Callable[[str], None] | None = None,
) -> Iterator[tuple[Sample, AUReference | None]]:
    """Each sample with its record of the run's reference (None without a reference), fetched a block
    of samples at a time; ``reference_sink`` receives the ``au_references.jsonl`` lines of each block
    (a set that :attr:`ReferenceSet.streams_lines`)."""
    if references is None:
        for s in samples:
            yield s, None
        return
    for k in range(0, len(samples), REFERENCE_BLOCK):
        block = samples[k : k + REFERENCE_BLOCK]
        ids = [s.id for s in block]
        if reference_sink is None:
            by = references.fetch(ids)
        else:
            by, lines = references.fetch_with_lines(ids)
            for line in lines:
                reference_sink(line)
        for s in block:
            yield s, _reference_of(s, by.get(s.id), references)


def _reference_of(s: Sample, ref: AUReference | None, references: ReferenceSet) -> AUReference:
    """The sample's record of the run's reference; a sample the source has none for gets an error one."""
    if ref is None:
        ref = AUReference(
            reference_id=references.reference_id,
            detector=references.reference_id.split("@")[0],
            version=references.reference_id.split("@")[-1],
            status="error",
            message="no AU reference for this sample",
            sample_id=s.id,
        )
    return ref


def _scored(
    samples: list[Sample],
    generations: dict[str, Generation],
    classes: list[str],
    references: ReferenceSet | None,
    reference_sink: Callable[[str], None] | None = None,
) -> Iterator[ScoredSample]:
    for s, ref in _with_references(samples, references, reference_sink):
        g = generations.get(s.id)
        parsed = parse_generation(g, classes) if g is not None else None
        yield score_sample(s, g, parsed, ref, classes)


def _score_chunk(
    samples: list[Sample],
    generations: dict[str, Generation],
    classes: list[str],
    references: ReferenceSet | None,
    sink: Callable[[str], None] | None,
    reference_sink: Callable[[str], None] | None = None,
):
    """ScoreArrays of some samples; each scored record goes to ``sink`` as a JSON line, then is dropped
    (and the references' lines to ``reference_sink``)."""
    ref_id = references.reference_id if references is not None else None
    if sink is None:
        return _score_rows(samples, generations, classes, references)

    def tee() -> Iterator[ScoredSample]:
        for sc in _scored(samples, generations, classes, references, reference_sink):
            sink(sc.model_dump_json())
            yield sc

    return build_arrays(tee(), classes, au_reference_id=ref_id)


def _score_rows(
    samples: list[Sample],
    generations: dict[str, Generation],
    classes: list[str],
    references: ReferenceSet | None,
) -> ScoreArrays:
    """What ``build_arrays`` makes of the scored records, from the scored values themselves: with no
    record to write, none is built (``tests/test_scoring_rows.py`` checks that both are the same)."""
    builder = ArraysBuilder(classes, references.reference_id if references is not None else None)
    rows = builder.rows
    for s, ref in _with_references(samples, references):
        g = generations.get(s.id)
        parsed = parse_generation(g, classes) if g is not None else None
        p = score_parts(s, g, parsed, ref, classes)
        ref_status = ref.status if ref is not None else "missing"
        referenced = builder.add(s.id, s.label, p.status, p.pred, ref_status,
                                 parsed.notes if parsed is not None else None,
                                 ref.reference_id if ref is not None else None)  # fmt: skip
        claims = [(box, iou, hit) for _, box, iou, hit, _, _ in p.claims]
        rows.append(feature_row(p.status, parsed, claims, p.consistent, referenced, referenced and ref_status == "ok",
                                p.correct, p.cited, p.active_aus, p.hallucinated, p.grounded,
                                usage_values(g)))  # fmt: skip
    return builder.result()


def _score_chunk_in_worker(
    samples, generations, classes, references, want_lines: bool, want_reference_lines: bool = False
) -> tuple[list[str], list[str], Any]:
    lines: list[str] = []
    reference_lines: list[str] = []
    arrays = _score_chunk(samples, generations, classes, references, lines.append if want_lines else None,
                          reference_lines.append if want_reference_lines else None)  # fmt: skip
    return lines, reference_lines, arrays


_FORK_INPUTS: tuple[Any, ...] | None = None  # (samples, generations, classes, references) for forked workers


def _score_range_in_fork(
    start: int, stop: int, want_lines: bool, want_reference_lines: bool
) -> tuple[list[str], list[str], Any]:
    assert _FORK_INPUTS is not None, "forked scoring worker without inputs"
    samples, generations, classes, references = _FORK_INPUTS
    return _score_chunk_in_worker(
        samples[start:stop], generations, classes, references, want_lines, want_reference_lines
    )


#: most samples of a chunk whose records come back as JSON lines: each is some 1.5 KB (4 KB with its
#: reference's line), and the parent holds up to two chunks per worker in flight
LINES_CHUNK = 5_000


def default_workers(n_samples: int) -> int:
    """Processes for scoring: one below 50k samples (start-up would cost more than it saves)."""
    if n_samples < 50_000:
        return 1
    return pool_size()


def score_arrays(
    samples: list[Sample],
    generations: dict[str, Generation],
    classes: list[str],
    references: ReferenceSet | None,
    *,
    sink: Callable[[str], None] | None = None,
    reference_sink: Callable[[str], None] | None = None,
    workers: int | None = None,
):
    """Parse and score every sample straight into metric arrays (records are not kept in memory).

    ``sink`` receives each scored record as a JSON line, in sample order. ``reference_sink`` (with
    ``sink``, for references that :attr:`~ReferenceSet.streams_lines`) receives the lines of the run
    directory's ``au_references.jsonl``, in sample order, made from the records scoring reads.
    ``workers`` > 1 scores chunks in that many processes (default: :func:`default_workers`).
    """
    if reference_sink is not None and (sink is None or references is None or not references.streams_lines):
        raise ValueError("reference_sink needs a sink and references whose lines follow the samples")
    # The records made here form no cycles: a cyclic collection every few thousand of them would walk
    # the whole heap (the inputs included) and doubled the cost of scoring (see store.gc_paused).
    with gc_paused():
        return _score_arrays(samples, generations, classes, references, sink, reference_sink, workers)


def _score_arrays(
    samples: list[Sample],
    generations: dict[str, Generation],
    classes: list[str],
    references: ReferenceSet | None,
    sink: Callable[[str], None] | None,
    reference_sink: Callable[[str], None] | None,
    workers: int | None,
):
    workers = default_workers(len(samples)) if workers is None else max(1, workers)
    if workers == 1 or len(samples) < 2 * workers:
        return _score_chunk(samples, generations, classes, references, sink, reference_sink)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    want_lines = sink is not None
    ranges = chunk_ranges(len(samples), workers, LINES_CHUNK if want_lines else None)
    # On Linux, forked workers read the inputs from the parent's memory (copy-on-write) and only
    # chunk bounds cross the process boundary; elsewhere each chunk is pickled to a spawned worker.
    # Scoring touches neither torch nor MediaPipe, the libraries that do not survive a fork.
    use_fork = sys.platform.startswith("linux")
    global _FORK_INPUTS
    _FORK_INPUTS = (samples, generations, classes, references)

    def submit(pool, bounds: tuple[int, int]) -> tuple[Any, list[str]]:
        """The chunk's future, and the reference lines the parent read for it (spawned workers)."""
        if use_fork:
            return pool.submit(_score_range_in_fork, *bounds, want_lines, reference_sink is not None), []
        chunk = samples[bounds[0] : bounds[1]]
        gens = {s.id: generations[s.id] for s in chunk if s.id in generations}
        subset, lines = _subset(references, chunk, reference_sink is not None)
        return pool.submit(_score_chunk_in_worker, chunk, gens, classes, subset, want_lines), lines

    joined = ArraysJoiner(len(samples))
    try:
        # at most two chunks in flight per worker: the parent never holds every pickled chunk. Nor does
        # it touch the inputs while the workers run: a reference count written here turns a page the
        # workers share into copies (reusing the samples' ids for the joined chunks cost 440 MB at 1M).
        ctx = mp.get_context("fork" if use_fork else "spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            pending = deque(submit(pool, r) for r in ranges[: 2 * workers])
            for nxt in ranges[2 * workers :] + [None] * len(pending):
                future, read_here = pending.popleft()
                lines, reference_lines, arrays = future.result()  # in order: the sinks see sample order
                if reference_sink is not None:
                    for line in read_here or reference_lines:
                        reference_sink(line)
                if sink is not None:
                    for line in lines:
                        sink(line)
                joined.add(arrays)
                del arrays, lines, reference_lines
                if nxt is not None:
                    pending.append(submit(pool, nxt))
    finally:
        _FORK_INPUTS = None
    return joined.result()


def _subset(
    references: ReferenceSet | None, chunk: list[Sample], with_lines: bool
) -> tuple[ReferenceSet | None, list[str]]:
    """The references of ``chunk`` held in a dict (to pickle), and their run-directory lines when asked."""
    if references is None:
        return None, []
    ids = [s.id for s in chunk]
    by, lines = references.fetch_with_lines(ids) if with_lines else (references.fetch(ids), [])
    return ReferenceSet(references.reference_id, {s.id: by[s.id] for s in chunk if s.id in by}), lines


def score_run(
    run_dir: str | Path | RunDir,
    *,
    au_reference: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    progress: bool = True,
    workers: int | None = None,
    loaded: tuple[list[Sample], dict[str, Generation]] | None = None,
    cache: bool = True,
    warnings: list[str] | None = None,
) -> MetricsReport:
    """(Re-)score a run directory; returns the MetricsReport written to ``metrics.json``.

    ``au_reference`` None re-scores against the current references (or computes the manifest's spec if
    the run has none yet). A spec (``tag_bench.au.sources.parse_reference_spec``: a detector name, a
    JSONL path, ``auto``, ``none``, ...) scores against that source; the id of a reference the run was
    scored against before (a folder under ``references/``) reuses the set saved there, which needs
    neither the dataset nor the detector. Every reference's scores are kept under
    ``references/<id>/`` and the last one scored becomes the current ``samples.jsonl`` / ``metrics.json``.
    ``loaded`` hands over the index and generations a caller has just written, so they are not read back.
    ``cache=False`` computes references without the AU cache; ``warnings`` receives what the user should
    be told (an unreadable AU cache).
    """
    check_n_resamples(n_resamples)
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not run.is_run():
        raise ScoringError(f"{run.path} is not a run directory (no {run.MANIFEST})")
    with gc_paused():
        manifest = run.read_manifest()
        if loaded is None:
            if not run.index_path.exists():
                raise ScoringError(f"{run.path} has no {run.INDEX}; the run was never started properly")
            samples, generations = run.read_index(), run.read_generations()
        else:
            samples, generations = loaded
        classes = list(manifest.task.classes)
        run.keep_current_scores()

        references: ReferenceSet | None
        wanted = (
            parse_reference_spec(au_reference, saved=run.saved_reference_keys()) if au_reference else None
        )
        if wanted is not None and wanted.kind == "saved":
            references = load_saved_references(run, wanted.key)
        elif au_reference is not None:
            spec = resolve_reference_spec(wanted)
            references = (
                compute_references(spec, samples, progress=progress, cache=cache, warnings=warnings)
                if spec
                else None
            )
            manifest.au_reference = spec
        else:
            references = load_saved_references(run)
            if references is None and manifest.au_reference:
                references = compute_references(
                    manifest.au_reference, samples, progress=progress, cache=cache, warnings=warnings
                )

        key = RunDir.reference_key(references.reference_id if references else None)
        streamed = references is not None and references.streams_lines
        if references is not None and not streamed:
            run.write_references(references.for_run_dir(), key)
        with run.scored_samples_writer(key) as out, ExitStack() as stack:
            reference_sink = stack.enter_context(run.references_writer(key)).write if streamed else None
            arrays = score_arrays(samples, generations, classes, references, sink=out.write,
                                  reference_sink=reference_sink, workers=workers)  # fmt: skip
        arrays.facts = run_facts(manifest, has_reference=references is not None)
        report = metrics_from_arrays(arrays, n_resamples=n_resamples, seed=seed)
        manifest.data_identity = data_identity(samples, generations)
        report.run_status = manifest.status
        run.write_metrics(report, key)
        run.publish_scores(key)
        update_sidecar(run.samples_path, arrays)  # what readers of a large run read instead of the JSONL
        manifest.scoring = ScoringInfo(n_resamples=n_resamples, seed=seed)
        manifest.au_reference_id = references.reference_id if references else None
        run.write_manifest(manifest)
    return report
