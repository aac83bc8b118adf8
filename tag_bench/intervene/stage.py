"""The intervene stage: re-ask a finished run's model on images whose cited (or control) regions are filled.

:func:`prepare` works out everything before a model loads: the run's tested samples and their plan
(:mod:`tag_bench.intervene.plan`), the sets to answer and the number of model calls. :func:`intervene`
then re-creates the run's adapter from its manifest (secrets from the environment, never stored; a model
whose fingerprint differs is refused unless told), answers every set through the generate engine
(batched, cached, resumable and interruptible like ``run``: a set's answers are appended to its own
``generations.jsonl`` as they arrive), scores the original answer's log-probability where the adapter can
score text, and writes each fill's outcomes and metrics and the run's intervention summary. Sets made
earlier (other fills or conditions) are kept and re-joined, never deleted.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tag_bench import store
from tag_bench.au.sources import ReferenceSpecError, build_detector
from tag_bench.errors import TagBenchError
from tag_bench.generate.cache import GenerationCache, open_cache
from tag_bench.generate.engine import GenerateStats, PromptFn, generate
from tag_bench.images import ImageLoadError, open_image
from tag_bench.intervene.fills import FILL_VERSION, FillCache, fill_key, fill_names
from tag_bench.intervene.outcomes import fill_facts, fill_report, outcomes, summary
from tag_bench.intervene.plan import INTERVENE_VERSION, coverage_reasons, make_plan, plan_digest
from tag_bench.metrics.stats import check_n_resamples
from tag_bench.models.base import AdapterContext, ModelAdapter, ScoreRequest, adapter_class, get_model
from tag_bench.prompts import render_prompt
from tag_bench.rundir import RunDir
from tag_bench.runinfo import utc_now
from tag_bench.schema import (
    INTERVENTION_CONDITIONS,
    AnswerScore,
    AUReference,
    Generation,
    InterventionOutcome,
    InterventionPlan,
    InterventionSet,
    InterventionsInfo,
    InterventionSummary,
    MetricsReport,
    RunManifest,
    Sample,
    ScoredSample,
)
from tag_bench.scoring.run import load_saved_references, run_facts
from tag_bench.store import gc_paused


class InterveneError(TagBenchError):
    """The intervene stage cannot run as asked; the message says why and what to do."""


@dataclass
class SetWork:
    """One intervention set to answer: its fill (any for ``none``), condition and what is left to do."""

    fill: str
    condition: str
    todo: int  # tested samples without an answer yet (model calls, or cache hits)
    done: int  # tested samples answered in an earlier session
    score_todo: int = 0  # tested samples whose answer log-probabilities are not scored yet


@dataclass
class StagePlan:
    """What an invocation will do, worked out before any model loads (printed first)."""

    run: RunDir
    manifest: RunManifest
    samples: list[Sample]
    scored: dict[str, ScoredSample]
    plans: list[InterventionPlan]
    tested: list[str]  # tested sample ids within --limit, in index order
    fills: list[str]
    conditions: dict[str, list[str]]  # fill -> conditions answered after this invocation (report order)
    work: list[SetWork]
    limit: int | None
    fresh: bool  # the run has no intervention set yet (or --fresh discards them)
    info: InterventionsInfo | None

    @property
    def calls(self) -> int:
        """Answers to generate (each a model call unless the generation cache has it)."""
        return sum(w.todo for w in self.work)

    @property
    def already(self) -> int:
        return sum(w.done for w in self.work)

    @property
    def scoring_passes(self) -> int:
        """Teacher-forced scoring requests (each two forward passes: with and without the reasoning)."""
        return sum(w.score_todo for w in self.work)

    def describe(self) -> str:
        n = len(self.plans)
        untested = coverage_reasons(self.plans)
        why = "; ".join(f"{k} {v}" for k, v in untested.items())
        beyond = sum(p.tested for p in self.plans) - len(self.tested)
        lines = [
            f"intervene {self.run.path}: {len(self.tested)} of {n} samples tested"
            + (f" ({n - len(self.tested) - beyond} untested: {why})" if untested else "")
            + (f"; {beyond} more beyond --limit {self.limit}" if beyond else ""),
            f"  fills: {', '.join(self.fills)}; sets: {len(self.work)} ("
            + ", ".join(
                f"{w.condition}" if w.condition == "none" else f"{w.fill}/{w.condition}" for w in self.work
            )
            + ")",
            f"  model calls: {self.calls}"
            + (f" ({self.already} answered in earlier sessions)" if self.already else ""),
        ]
        if self.scoring_passes:
            lines.append(f"  answer scoring requests: {self.scoring_passes} (two forward passes each)")
        return "\n".join(lines)


@dataclass
class InterveneResult:
    run_dir: Path
    plan: StagePlan
    reports: dict[str, MetricsReport]  # fill -> its metrics
    summary: InterventionSummary
    model_calls: int = 0
    from_cache: int = 0
    seconds: float = 0.0  # answering the sets (model calls, fills, the engine), not planning or scoring
    fill_seconds: float = 0.0  # of which making the filled images (or reading them from the fill cache)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Planning


def _check_names(fills: Sequence[str], conditions: Sequence[str]) -> None:
    known = fill_names()
    for f in fills:
        if f not in known:
            raise InterveneError(f"unknown fill {f!r}; use {', '.join(known)}")
    for c in conditions:
        if c not in INTERVENTION_CONDITIONS:
            raise InterveneError(f"unknown condition {c!r}; use {', '.join(INTERVENTION_CONDITIONS)}")
    if not fills or not conditions:
        raise InterveneError("give at least one fill and one condition")


def _read_run(
    run: RunDir,
) -> tuple[RunManifest, list[Sample], dict[str, ScoredSample], dict[str, Generation]]:
    if not run.is_run():
        raise InterveneError(f"{run.path} is not a run directory (no {run.MANIFEST})")
    manifest = run.read_manifest()
    if manifest.status != "complete":
        why = f" ({manifest.status_reason})" if manifest.status_reason else ""
        raise InterveneError(
            f"{run.path} is a {manifest.status} run{why}: the intervene stage needs a finished run; "
            f"{run.unscored_hint()}"
        )
    samples = run.read_index()
    scored = {s.sample_id: s for s in run.read_scored()}
    return manifest, samples, scored, run.read_generations()


def _answered(run: RunDir, fill: str, condition: str) -> set[str]:
    return {
        sid for sid, g in run.intervention_set(fill, condition).read_generations().items() if g.status == "ok"
    }


def _scored_ids(run: RunDir, fill: str, condition: str) -> set[str]:
    path = run.intervention_set(fill, condition).path / run.INTERVENTION_SCORES
    return {r.sample_id for r in store.read_records(path, AnswerScore)} if path.exists() else set()


def prepare(
    run_dir: str | Path | RunDir,
    *,
    fills: Sequence[str] = ("blur", "mean", "noise"),
    conditions: Sequence[str] = INTERVENTION_CONDITIONS,
    per_au: bool = False,
    limit: int | None = None,
    fresh: bool = False,
    scoring: bool = False,
    extend: bool = True,
) -> StagePlan:
    """Everything an invocation will do, before any model loads (``scoring``: count the scoring requests).

    ``extend``: a fill's conditions answered earlier are answered for the samples this invocation adds too
    (so that every condition of a set covers the same samples); False for an export of what was asked."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    fills, conditions = list(dict.fromkeys(fills)), list(dict.fromkeys(conditions))
    _check_names(fills, conditions)
    if limit is not None and limit < 1:
        raise InterveneError(f"--limit must be at least 1, got {limit}")
    with gc_paused():
        manifest, samples, scored, generations = _read_run(run)
        refs = load_saved_references(run)
        plans = make_plan(samples, scored, generations, refs.by_sample if refs else None)
    info = manifest.interventions
    digest = plan_digest(plans)
    if info is not None and not fresh and (info.version != INTERVENE_VERSION or info.plan_sha256 != digest):
        raise InterveneError(
            f"{run.path}: the run's intervention sets were planned on other scores (the run was scored "
            f"again, e.g. against another AU reference: sets on reference {info.au_reference_id}, scores "
            f"now on {refs.reference_id if refs else 'none'}); re-score it as before, or pass --fresh to "
            "discard its intervention sets and start again"
        )
    if fresh:
        info = None
    tested_all = [p.sample_id for p in plans if p.tested]
    tested = tested_all[:limit] if limit is not None else tested_all
    by_id = {p.sample_id: p for p in plans}
    sets_before = {s.fill: s for s in (info.sets if info else [])}
    order = [*INTERVENTION_CONDITIONS]
    per_fill: dict[str, list[str]] = {}
    for f in fills:
        old = sets_before[f].conditions if f in sets_before and extend else []
        wanted = set(conditions) | {c for c in old if c in INTERVENTION_CONDITIONS}
        drops = sorted({c for c in old if c.startswith("drop:")})
        if per_au:
            drops = sorted(
                set(drops)
                | {
                    p.condition
                    for sid in tested
                    for p in by_id[sid].placements
                    if p.condition.startswith("drop:")
                }
            )
        per_fill[f] = [c for c in order if c in wanted] + drops
    work: list[SetWork] = []
    none_done = False
    for f in fills:
        for c in per_fill[f]:
            if c == "none":
                if none_done:
                    continue
                none_done = True
            ids = [sid for sid in tested if by_id[sid].placement(c) is not None]
            done = _answered(run, f, c) if not fresh else set()
            todo = [sid for sid in ids if sid not in done]
            scored_before = _scored_ids(run, f, c) if scoring and not fresh else set()
            score_todo = sum(sid not in scored_before for sid in ids) if scoring else 0
            work.append(SetWork(f, c, len(todo), len(ids) - len(todo), score_todo))
    if scoring and not none_done and tested:  # the original image's scores live with the none set
        done = _scored_ids(run, fills[0], "none") if not fresh else set()
        work.append(SetWork(fills[0], "none", 0, 0, sum(sid not in done for sid in tested)))
    return StagePlan(run, manifest, samples, scored, plans, tested, fills, per_fill, work, limit,
                     fresh or info is None, info)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# The adapter


def recreate_adapter(
    manifest: RunManifest,
    samples: Sequence[Sample],
    *,
    model_args: Mapping[str, Any] | None = None,
    allow_model_change: bool = False,
) -> ModelAdapter:
    """The run's adapter, built again from its manifest; ``model_args`` add or replace arguments (secrets,
    which the manifest never stores). A fingerprint other than the run's is an InterveneError unless
    ``allow_model_change``."""
    name = manifest.model.adapter
    cls = adapter_class(name)
    if not cls.sees_images:
        raise InterveneError(
            f"the run's answers were replayed from a file ({name} adapter): they cannot be asked again on "
            f"intervened images; export the images with `tag-bench intervene RUN --export DIR`, answer them "
            "where the run's answers came from, and bring the answers back with `--predictions FILE`"
        )
    fields = cls.Args.model_fields
    aliases = {f.validation_alias for f in fields.values() if isinstance(f.validation_alias, str)}
    args = {k: v for k, v in manifest.model.args.items() if k in fields or k in aliases}
    given = dict(model_args or {})
    secret = sorted(k for k, v in args.items() if v == "<redacted>" and k not in given)
    if secret:
        raise InterveneError(
            f"the run's model argument(s) {', '.join(secret)} were secrets, redacted in its manifest: pass them "
            "again with --model-args (or name an environment variable, e.g. api_key_env=NAME)"
        )
    args.update(given)
    context = AdapterContext(
        classes=list(manifest.task.classes),
        seed=manifest.seeds.get("seed", 0),
        task=manifest.task.name,
        label_counts=dict(Counter(s.label for s in samples)),  # the index holds the samples the run evaluated
    )
    adapter = get_model(name, args, context)
    if manifest.model.frame and adapter.frame != manifest.model.frame:
        adapter.close()
        context.box_frame = manifest.model.frame
        adapter = get_model(name, args, context)
    if adapter.fingerprint() != manifest.model.fingerprint and not allow_model_change:
        adapter.close()
        raise InterveneError(
            f"the {name} adapter built from the run's manifest has fingerprint {adapter.fingerprint()}, but the "
            f"run was made by {manifest.model.fingerprint}: another checkpoint, library version or setting "
            "would answer the intervened images; restore the run's model, or pass --allow-model-change to "
            "re-ask this one"
        )
    return adapter


# --------------------------------------------------------------------------------------------------
# Images


class _Originals:
    """The presented images as arrays, a few kept (each set reads every tested sample once)."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size

    def get(self, sample: Sample) -> np.ndarray:
        hit = self._items.get(sample.id)
        if hit is not None:
            self._items.move_to_end(sample.id)
            return hit
        arr = np.asarray(open_image(sample))
        self._items[sample.id] = arr
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return arr


class Intervened:
    """The image of one sample under one condition and fill, and its content id (the cache's image key)."""

    def __init__(self, plans: Mapping[str, InterventionPlan], cache: FillCache | None = None) -> None:
        self.plans = plans
        self.cache = cache or FillCache()
        self.originals = _Originals()
        self.fill_seconds = 0.0  # time spent making (or reading back) filled images

    def array(self, sample: Sample, fill: str, condition: str) -> tuple[np.ndarray, str]:
        plan = self.plans[sample.id]
        sha = plan.image_sha256 or ""
        rgb = self.originals.get(sample)
        if plan.image_size is not None and (rgb.shape[1], rgb.shape[0]) != tuple(plan.image_size):
            raise ImageLoadError(
                f"the image of {sample.id} is {rgb.shape[1]}x{rgb.shape[0]} now, {plan.image_size[0]}x"
                f"{plan.image_size[1]} when the run was made: the file changed"
            )
        p = plan.placement(condition)
        if condition == "none" or p is None:
            return rgb, sha
        size = (rgb.shape[1], rgb.shape[0])
        t0 = time.perf_counter()
        filled = self.cache.filled(rgb, sha, p, fill)
        self.fill_seconds += time.perf_counter() - t0
        return filled, fill_key(sha, p, size, fill)


# --------------------------------------------------------------------------------------------------
# Running


def _reference_source(
    manifest: RunManifest, cache: bool, warnings: list[str]
) -> Callable[[np.ndarray, str, str], AUReference]:
    """The AU reference of an intervened image, for adapters that read one (facs-rules): the run's detector
    run on the pixels shown."""
    from tag_bench.au.cache import open_au_cache

    spec = manifest.au_reference
    try:
        detector = build_detector(spec) if spec else None
    except ReferenceSpecError:
        detector = None
    if detector is None:
        raise InterveneError(
            f"the {manifest.model.adapter} adapter reads the AU reference of the image it is shown, and the run's "
            f"reference ({spec or 'none'}) is not a detector that can look at intervened images; make the run "
            "with a detector (--au-reference mediapipe-blendshapes, ...)"
        )
    au_cache = open_au_cache(None, warnings) if cache else None

    def reference(rgb: np.ndarray, sha: str, sample_id: str) -> AUReference:
        if au_cache is not None:
            hit = au_cache.get(sha, detector, sample_id)
            if hit is not None:
                return hit
        ref = detector.detect(rgb, image_sha256=sha, sample_id=sample_id)
        if au_cache is not None:
            au_cache.put(sha, detector, ref)
        return ref

    return reference


def answer_span(text: str | None, raw_label: str | None) -> tuple[str, str] | None:
    """(prefix, target): the reply up to the original answer's label text, and that text (its last
    occurrence); None when the label cannot be found in the reply."""
    if not text or not raw_label:
        return None
    at = text.rfind(raw_label)
    if at < 0:
        at = text.lower().rfind(raw_label.lower())
    if at < 0:
        return None
    return text[:at], text[at : at + len(raw_label)]


def _score_set(
    adapter: ModelAdapter, ids: list[str], samples: Mapping[str, Sample], scored: Mapping[str, ScoredSample],
    generations: Mapping[str, Generation], image: Callable[[Sample], Any], prompt: Callable[[tuple[int, int]], Any],
    out: Path, batch: int,
) -> None:  # fmt: skip
    """Append each sample's original-answer log-probabilities on this set's image to ``out``."""
    done = {r.sample_id for r in store.read_records(out, AnswerScore)} if out.exists() else set()
    todo = [sid for sid in ids if sid not in done]
    for start in range(0, len(todo), max(1, batch)):
        chunk = todo[start : start + max(1, batch)]
        records: list[AnswerScore] = []
        requests: list[ScoreRequest] = []
        owners: list[str] = []
        for sid in chunk:
            s = scored[sid]
            g = generations.get(sid)
            span = answer_span(g.text if g else None, s.parsed.raw_label if s.parsed else None)
            if span is None:
                records.append(
                    AnswerScore(sample_id=sid, error="the answer's label text is not in the reply")
                )
                continue
            img = image(samples[sid])
            rendered = prompt(img.size)
            for prefix in (span[0], ""):
                requests.append(ScoreRequest(sample_id=sid, image=img, prompt=rendered.user, system=rendered.system,
                                             prefix=prefix, target=span[1]))  # fmt: skip
            owners.append(sid)
        results = adapter.score(requests) if requests else []
        for k, sid in enumerate(owners):
            with_reasoning, answer_only = results[2 * k], results[2 * k + 1]
            error = with_reasoning.error or answer_only.error
            records.append(AnswerScore(sample_id=sid, logprob=with_reasoning.logprob,
                                       answer_only_logprob=answer_only.logprob, error=error))  # fmt: skip
        store.append_jsonl(out, records, sync=False)


def _read_scores(run: RunDir, fill: str, condition: str) -> dict[str, AnswerScore]:
    path = run.intervention_set(fill, condition).path / run.INTERVENTION_SCORES
    return {r.sample_id: r for r in store.read_records(path, AnswerScore)} if path.exists() else {}


def _record(plan: StagePlan, fingerprint: str, scoring: str | None) -> InterventionsInfo:
    refs = load_saved_references(plan.run)
    info = plan.info or InterventionsInfo(
        version=INTERVENE_VERSION,
        au_reference_id=refs.reference_id if refs else None,
        plan_sha256=plan_digest(plan.plans),
        model_fingerprint=fingerprint,
    )
    info.scoring = scoring
    return info


def _set_status(run: RunDir, fill: str, status: str) -> None:
    m = run.read_manifest()
    if m.interventions is not None:
        s = m.interventions.set_of(fill)
        if s is not None:
            s.status = status  # type: ignore[assignment]
            run.write_manifest(m)


def intervene(
    run_dir: str | Path | RunDir,
    *,
    fills: Sequence[str] = ("blur", "mean", "noise"),
    conditions: Sequence[str] = INTERVENTION_CONDITIONS,
    per_au: bool = False,
    limit: int | None = None,
    max_calls: int | None = None,
    model_args: Mapping[str, Any] | None = None,
    allow_model_change: bool = False,
    batch_size: int | None = None,
    cache: bool | str | Path = True,
    n_resamples: int = 1000,
    seed: int | None = None,
    fresh: bool = False,
    progress: bool = True,
    on_plan: Callable[[StagePlan], None] | None = None,
) -> InterveneResult:
    """Run the intervene stage on a finished run (see the module docstring); returns each fill's metrics.

    ``on_plan`` is called with the plan (the number of calls) before any model call; ``max_calls``: refuse
    to start when more calls are needed. ``seed``: of the bootstrap (default: the run's seed). Raises
    KeyboardInterrupt after saving what was answered (the set is marked interrupted; run again to resume).
    """
    check_n_resamples(n_resamples)
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    with run.lock():
        manifest = _read_run(run)[0]
        adapter = None
        try:
            samples_list = run.read_index()
            adapter = recreate_adapter(manifest, samples_list, model_args=model_args,
                                       allow_model_change=allow_model_change)  # fmt: skip
            scoring = adapter.scoring_unavailable()
            plan = prepare(run, fills=fills, conditions=conditions, per_au=per_au, limit=limit, fresh=fresh,
                           scoring=scoring is None)  # fmt: skip
            if plan.info is not None and plan.info.model_fingerprint != adapter.fingerprint():
                raise InterveneError(
                    f"{run.path}: its intervention sets were answered by a model with fingerprint "
                    f"{plan.info.model_fingerprint}, not {adapter.fingerprint()}: answers would mix; pass --fresh "
                    "to discard them and start again"
                )
            if on_plan is not None:
                on_plan(plan)
            if max_calls is not None and plan.calls > max_calls:
                raise InterveneError(
                    f"{plan.calls} model calls are needed, more than --max-calls {max_calls}: raise it, or ask "
                    "less (--fills, --conditions, --limit)"
                )
            return _run(plan, adapter, manifest, scoring, batch_size, cache, n_resamples,
                        manifest.seeds.get("seed", 0) if seed is None else seed, progress)  # fmt: skip
        finally:
            if adapter is not None:
                adapter.close()


def _run(plan: StagePlan, adapter: ModelAdapter, manifest: RunManifest, scoring: str | None,
         batch_size: int | None, cache: bool | str | Path, n_resamples: int, seed: int,
         progress: bool) -> InterveneResult:  # fmt: skip
    run = plan.run
    warnings: list[str] = []
    if plan.fresh and run.interventions_dir.exists():
        shutil.rmtree(run.interventions_dir)  # sets of an earlier plan (--fresh), or of a discarded run
    if plan.fresh or not run.intervention_plan_path.exists():
        run.write_intervention_plan(plan.plans)
    info = _record(plan, adapter.fingerprint(), scoring)
    for f in plan.fills:
        s = info.set_of(f)
        if s is None:
            info.sets.append(InterventionSet(fill=f, conditions=[], status="interrupted", limit=plan.limit,
                                             fill_version=FILL_VERSION))  # fmt: skip
        else:
            s.status, s.limit = "interrupted", plan.limit
    m = run.read_manifest()
    m.interventions = info
    run.write_manifest(m)

    samples = {s.id: s for s in plan.samples}
    by_id = {p.sample_id: p for p in plan.plans}
    images = Intervened(by_id)
    gen_cache: GenerationCache | None = None
    if cache is not False:
        gen_cache = open_cache(None if cache is True else cache, warnings)
    reference = _reference_source(manifest, cache is not False, warnings) if adapter.needs_reference else None
    classes = list(manifest.task.classes)

    def prompt_for(size: tuple[int, int] | None) -> Any:
        return render_prompt(manifest.prompt_id, classes, adapter.frame, size)

    template = render_prompt(manifest.prompt_id, classes, adapter.frame, None)
    if template.template_hash != manifest.prompt_hash:
        raise InterveneError(
            f"the prompt {manifest.prompt_id} has changed since the run was made (template {template.template_hash}, "
            f"run {manifest.prompt_hash}): the intervened images would be asked another question"
        )
    batch = (
        batch_size or (manifest.generation.batch_size if manifest.generation else manifest.batch_size) or 1
    )
    gen_kwargs = dict(manifest.gen_kwargs)
    generations = run.read_generations()
    result_calls = result_cache = 0
    calls_by_fill: Counter[str] = Counter()
    t0 = time.perf_counter()
    for w in plan.work:
        ids = [sid for sid in plan.tested if by_id[sid].placement(w.condition) is not None]
        target = run.intervention_set(w.fill, w.condition)
        last: dict[str, tuple[np.ndarray, str]] = {}

        def shown(
            s: Sample, fill: str = w.fill, condition: str = w.condition, last: dict = last
        ) -> tuple[Any, str]:
            from PIL import Image

            arr, sha = images.array(s, fill, condition)
            last[s.id] = (arr, sha)
            return Image.fromarray(arr), sha

        def ref_of(s: Sample, last: dict = last) -> AUReference:
            assert reference is not None
            arr, sha = last[s.id]
            return reference(arr, sha, s.id)

        if w.todo:
            try:
                stats: GenerateStats = generate(
                    [samples[sid] for sid in ids], adapter, PromptFn(render=prompt_for), target,
                    gen_kwargs=gen_kwargs, batch_size=batch,
                    cache=None if w.condition == "none" else gen_cache,  # none: the model asked again
                    references=ref_of if reference is not None else None, progress=progress,
                    images=shown, desc=f"intervene {w.condition if w.condition == 'none' else w.fill + '/' + w.condition}",
                )  # fmt: skip
            except KeyboardInterrupt:
                for f in plan.fills:
                    _set_status(run, f, "interrupted")
                raise
            result_calls += stats.generated - stats.from_cache
            result_cache += stats.from_cache
            calls_by_fill[w.fill] += stats.generated - stats.from_cache
        if w.score_todo:

            def image_of(s: Sample, fill: str = w.fill, condition: str = w.condition) -> Any:
                return shown(s, fill, condition)[0]

            _score_set(adapter, ids, samples, plan.scored, generations, image_of, prompt_for,
                       target.path / run.INTERVENTION_SCORES, batch)  # fmt: skip
    seconds = time.perf_counter() - t0
    if gen_cache is not None:
        warnings += gen_cache.problems
    result = finish(plan, n_resamples=n_resamples, seed=seed, scoring=scoring, source="model",
                    model_calls=dict(calls_by_fill))  # fmt: skip
    result.model_calls, result.from_cache, result.seconds = result_calls, result_cache, seconds
    result.fill_seconds = images.fill_seconds
    result.warnings = warnings
    return result


def finish(plan: StagePlan, *, n_resamples: int, seed: int, scoring: str | None, source: str,
           model_calls: Mapping[str, int] | None = None) -> InterveneResult:  # fmt: skip
    """Outcomes and metrics of every fill the run has (those of this invocation complete), the summary, and
    the manifest's record of the sets."""
    run = plan.run
    manifest = run.read_manifest()
    info = manifest.interventions
    assert info is not None, "finish() after the stage recorded its sets"
    samples = {s.id: s for s in plan.samples}
    classes = list(manifest.task.classes)
    scored = [plan.scored[s.id] for s in plan.samples if s.id in plan.scored]
    base = run_facts(manifest, has_reference=manifest.au_reference_id is not None)
    reports: dict[str, MetricsReport] = {}
    per_fill: dict[str, tuple[Sequence[InterventionPlan], Sequence[InterventionOutcome]]] = {}
    tested_all = [p.sample_id for p in plan.plans if p.tested]
    for s in info.sets:
        fill = s.fill
        if fill in plan.fills:
            s.conditions = plan.conditions[fill]
            s.status, s.source, s.updated = "complete", source, utc_now()  # type: ignore[assignment]
            s.model_calls += (model_calls or {}).get(fill, 0)
        elif s.status != "complete":
            continue
        limit = s.limit
        tested = set(tested_all[:limit] if limit is not None else tested_all)
        s.tested = len(tested)
        answers = {c: run.intervention_set(fill, c).read_generations() for c in s.conditions}
        scores = {c: _read_scores(run, fill, c) for c in s.conditions} if scoring is None else {}
        if scoring is None and "none" not in scores:
            scores["none"] = _read_scores(run, fill, "none")
        found = outcomes(fill, plan.plans, samples, answers, classes, tested_ids=tested,
                         limit_reason=f"beyond --limit {limit}", scores=scores)  # fmt: skip
        s.tested = sum(o.tested for o in found)
        run.write_intervention_outcomes(fill, found)
        facts = fill_facts(base, fill, s.conditions, found, scoring)
        report = fill_report(
            scored, found, classes, manifest.au_reference_id, facts, n_resamples=n_resamples, seed=seed
        )
        report.run_status = manifest.status
        run.write_intervention_metrics(fill, report)
        reports[fill] = report
        per_fill[fill] = (plan.plans, found)
    summ = summary(per_fill)
    run.write_intervention_summary(summ)
    manifest.interventions = info
    run.write_manifest(manifest)
    return InterveneResult(run_dir=run.path, plan=plan, reports=reports, summary=summ)


def parse_list(text: str | Iterable[str]) -> list[str]:
    items = text.split(",") if isinstance(text, str) else list(text)
    return [t.strip() for t in items if t and t.strip()]


__all__ = [
    "InterveneError",
    "InterveneResult",
    "Intervened",
    "StagePlan",
    "answer_span",
    "finish",
    "intervene",
    "prepare",
    "recreate_adapter",
]
