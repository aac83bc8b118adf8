"""The judge stage: a judge model compares the canonical traces of several runs, pair by pair.

For each judged sample and each pair of candidates, the judge sees the face (its image enlarged, the
boxes of both responses drawn and numbered, unless ``show_image`` is off), the question and the two
canonical traces (:mod:`tag_bench.judge.canonical`), in both orders. Each call is one
:class:`~tag_bench.schema.Judgement` appended to ``judgements.jsonl`` as it arrives: the stage resumes
after a crash by skipping what is written (a failed call is tried again), and every reply is cached by
the judge's fingerprint, the rendered prompt, what the image shows and the generation settings, in the
generation cache (:mod:`tag_bench.generate.cache`), through the engine's adapter call. A comparison in
which a candidate has no response is recorded ``no_response`` without a call. Then
:mod:`tag_bench.judge.report` fits the ratings.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tag_bench import __version__
from tag_bench.comparability import data_identity
from tag_bench.errors import TagBenchError
from tag_bench.generate.cache import GenerationCache, generation_key, is_deterministic, open_cache
from tag_bench.generate.engine import _call_adapter
from tag_bench.generate.evaluate import normalise_gen_kwargs
from tag_bench.images import ImageLoadError, open_image
from tag_bench.judge.candidates import Candidate, load_candidates, load_outputs, self_preference_warnings
from tag_bench.judge.canonical import (
    IMAGE_MIN_SIDE,
    Canonical,
    canonical_trace,
    draw_judge_image,
    image_key,
    judge_scale,
    judge_size,
)
from tag_bench.judge.report import study_report
from tag_bench.judge.templates import JudgeTemplate, load_template
from tag_bench.judge.verdict import read_verdict
from tag_bench.metrics.stats import check_n_resamples
from tag_bench.models.args import redact, scrub_secrets
from tag_bench.models.base import (
    AdapterContext,
    FatalAdapterError,
    GenerationOutput,
    GenerationRequest,
    ModelAdapter,
    fingerprint_of,
    get_model,
)
from tag_bench.options import parse_kv
from tag_bench.rundir import JudgeRunDir, RunConfigError
from tag_bench.runinfo import git_revision, package_versions, utc_now
from tag_bench.schema import JudgeManifest, Judgement, JudgeReport, ModelInfo, Sample, TaskInfo

#: The judge's generation settings unless asked otherwise: greedy (temperature 0, recorded), room for a
#: short comparison before the verdict.
DEFAULT_JUDGE_GEN_KWARGS: dict[str, Any] = {"max_new_tokens": 1024, "temperature": 0.0, "do_sample": False}
#: Above this judge failure rate a candidate's rating is flagged.
DEFAULT_MAX_FAILURE_RATE = 0.1
#: Judge calls that failed this way are tried again when the study resumes; other records are final.
RETRIED = frozenset({"call_error", "image_error"})


class JudgeError(TagBenchError):
    """A judge study cannot run as asked; the message says what to do."""


@dataclass(frozen=True)
class Call:
    """One judge call to make: a sample, the candidate shown first (A) and second (B)."""

    sample_id: str
    a: int
    b: int


@dataclass
class StudyPlan:
    """A study worked out before any judge call."""

    candidates: list[Candidate]
    adapter: ModelAdapter
    template: JudgeTemplate
    gen_kwargs: dict[str, Any]
    sample_ids: list[str]
    pairs: list[tuple[int, int]]
    manifest: JudgeManifest
    run: JudgeRunDir
    anchor: int | None  # the baseline's index
    warnings: list[str] = field(default_factory=list)


@dataclass
class StudyResult:
    run_dir: Path
    manifest: JudgeManifest
    report: JudgeReport
    planned_calls: int
    calls: int  # made now
    from_cache: int
    warnings: list[str] = field(default_factory=list)


def plan_study(
    runs: Sequence[str | os.PathLike[str]],
    judge: str,
    judge_args: str | dict[str, Any] | None = None,
    *,
    out: str | os.PathLike[str],
    baseline: str | os.PathLike[str] | None = None,
    samples: int | None = None,
    seed: int = 0,
    template: str | os.PathLike[str] | None = None,
    show_gold: bool = False,
    show_image: bool = True,
    gen_kwargs: str | dict[str, Any] | None = None,
) -> StudyPlan:
    """Read and check the candidate runs, build the judge, work out the samples and pairs."""
    paths = [Path(p) for p in runs]
    if baseline is not None:
        b = Path(baseline)
        if b.resolve() not in {p.resolve() for p in paths}:
            paths.insert(0, b)
    run = JudgeRunDir(out)
    run.check_placement()
    candidates = load_candidates(paths)
    for c in candidates:
        if run.path.resolve() == c.run.path.resolve():
            raise JudgeError(
                f"--out {out} is the candidate run {c.run.path}: give the judge run its own folder"
            )
    anchor = None
    if baseline is not None:
        real = Path(baseline).resolve()
        anchor = next(k for k, c in enumerate(candidates) if c.run.path.resolve() == real)
    tmpl = load_template(None if template is None else str(template))
    tmpl.check(show_gold=show_gold)
    given = parse_kv(gen_kwargs) if isinstance(gen_kwargs, str) else dict(gen_kwargs or {})
    gk = normalise_gen_kwargs({**DEFAULT_JUDGE_GEN_KWARGS, **given})
    for c in candidates:
        load_outputs(c)
    shared = sorted(set.intersection(*(set(c.samples) for c in candidates)))
    if not shared:
        raise JudgeError("the runs share no sample")
    chosen = shared
    if samples is not None:
        if samples < 1:
            raise JudgeError(f"--samples must be at least 1, got {samples}")
        if samples < len(shared):
            rng = np.random.default_rng(seed)
            chosen = sorted(
                str(s) for s in rng.choice(np.array(shared, dtype=object), size=samples, replace=False)
            )
    pairs = [(anchor, k) for k in range(len(candidates)) if k != anchor] if anchor is not None else [
        (i, j) for i in range(len(candidates)) for j in range(i + 1, len(candidates))
    ]  # fmt: skip
    first = candidates[0]
    classes = list(first.manifest.task.classes)
    args = parse_kv(judge_args) if isinstance(judge_args, str) or judge_args is None else dict(judge_args)
    adapter = get_model(judge, args, AdapterContext(classes=classes, seed=seed, task="judge"))
    try:
        if not show_image and not adapter.text_only:
            raise JudgeError(
                f"--no-image: the {adapter.name} adapter cannot be asked without an image; use the openai adapter "
                "(any OpenAI-compatible server, vLLM's included) for a text-only judge"
            )
        warnings = self_preference_warnings(judge, args, candidates) + list(adapter.warnings)
        if not adapter.cacheable:
            warnings.append(
                f"the {adapter.name} adapter's outputs are not cached (it is not declared cacheable)"
            )
        index = {s.id: s for s in first.samples.values() if s.id in set(chosen)}
        tasks = list(dict.fromkeys(c.manifest.task.name for c in candidates))
        task = first.manifest.task.model_copy(
            update={"name": "+".join(tasks), "prompt": tmpl.id, "n_samples": len(chosen)}
        )
        manifest = JudgeManifest(
            run_id=f"judge__{fingerprint_of(judge, redact(adapter.describe()), tmpl.hash, [c.manifest.run_id for c in candidates])}",
            created=utc_now(),
            judge=ModelInfo(
                adapter=judge, args=redact(adapter.describe()), fingerprint=adapter.fingerprint(), frame=None
            ),
            template_id=tmpl.id,
            template_hash=tmpl.hash,
            template_source=tmpl.source,
            gen_kwargs=gk,
            candidates=[c.record() for c in candidates],
            baseline=None if anchor is None else candidates[anchor].name,
            task=TaskInfo.model_validate(task.model_dump()),
            sample_ids=chosen,
            samples_requested=samples,
            data_identity=data_identity([index[s] for s in chosen], first.generations),
            show_image=show_image,
            show_gold=show_gold,
            image_min_side=IMAGE_MIN_SIDE if show_image else None,
            blind_salt=secrets.token_hex(8),
            seeds={"seed": seed},
            packages=package_versions(),
            git_revision=git_revision(),
            tag_bench_version=__version__,
            command=[scrub_secrets(a) for a in sys.argv],
            warnings=warnings,
        )
    except BaseException:
        adapter.close()
        raise
    return StudyPlan(candidates, adapter, tmpl, gk, chosen, pairs, manifest, run, anchor, warnings)


#: Manifest facts that must match for a judge run to be resumed.
def _identity(m: JudgeManifest) -> dict[str, Any]:
    return {
        "judge": m.judge.fingerprint,
        "template": (m.template_id, m.template_hash),
        "gen_kwargs": m.gen_kwargs,
        "candidates": [(c.name, c.run_id, c.model.fingerprint, c.prompt_hash, c.key) for c in m.candidates],
        "baseline": m.baseline,
        "samples": m.sample_ids,
        "image": (m.show_image, m.image_min_side),
        "gold": m.show_gold,
    }


def _start(run: JudgeRunDir, manifest: JudgeManifest, overwrite: bool) -> JudgeManifest:
    run.path.mkdir(parents=True, exist_ok=True)
    if overwrite:
        run.clear()
    if run.manifest_path.exists():
        old = run.read_manifest()
        a, b = _identity(old), _identity(manifest)
        changed = [k for k in a if a[k] != b[k]]
        if changed:
            lines = "; ".join(
                f"{k}: {a[k]!r} -> {b[k]!r}" if k != "samples" else "samples: another selection"
                for k in changed
            )
            raise RunConfigError(
                f"{run.path} holds a judge run with another configuration ({lines}); resuming would mix "
                "judgements: start fresh with --overwrite, or choose another --out"
            )
        manifest.created, manifest.blind_salt, manifest.run_id = old.created, old.blind_salt, old.run_id
        manifest.resumed_at = [*old.resumed_at, utc_now()]
    manifest.status, manifest.status_reason = "running", None
    run.write_manifest(manifest)
    return manifest


@dataclass
class _Prepared:
    """One call, rendered: the prompt, what the image shows, the cache key."""

    call: Call
    system: str | None
    user: str
    prompt_hash: str
    image_key: str | None
    cache_key: str
    len_a: int
    len_b: int
    scale: float
    problem: str | None = None  # why it cannot be made (an image that cannot be read)


class _Study:
    """The calls of one study, rendered on demand."""

    def __init__(self, plan: StudyPlan) -> None:
        self.plan = plan
        self.traces: dict[tuple[int, str], Canonical | None] = {}
        self.fingerprint = plan.adapter.fingerprint()

    def trace(self, k: int, sample_id: str) -> Canonical | None:
        key = (k, sample_id)
        if key not in self.traces:
            c = self.plan.candidates[k]
            g = c.generations.get(sample_id)
            self.traces[key] = None if g is None else canonical_trace(g, c.manifest.model.frame)
        return self.traces[key]

    def size(self, sample_id: str) -> tuple[int, int] | None:
        for c in self.plan.candidates:
            g = c.generations.get(sample_id)
            if g is not None and g.image_size is not None:
                return (int(g.image_size[0]), int(g.image_size[1]))
        for c in self.plan.candidates:
            s = c.samples.get(sample_id)
            if s is not None and s.width and s.height:
                return (s.width, s.height)
        return None

    def image_sha(self, sample_id: str) -> str | None:
        for c in self.plan.candidates:
            g = c.generations.get(sample_id)
            if g is not None and g.image_sha256:
                return g.image_sha256
        return None

    def prepare(self, call: Call) -> _Prepared:
        plan = self.plan
        ta, tb = self.trace(call.a, call.sample_id), self.trace(call.b, call.sample_id)
        assert ta is not None and tb is not None
        size = self.size(call.sample_id)
        problem = None
        if size is None:
            size, problem = (1, 1), "the presented image size of this sample is recorded by no candidate"
        show = plan.manifest.show_image
        scale = judge_scale(size) if show else 1.0
        shown = judge_size(size) if show else size
        sample = plan.candidates[0].samples[call.sample_id]
        gold = sample.label if plan.manifest.show_gold else None
        text_a, text_b = ta.render("A", scale), tb.render("B", scale)
        rendered = plan.template.render(
            classes=plan.manifest.task.classes, response_a=text_a, response_b=text_b, size=shown,
            show_image=show, gold=gold,
        )  # fmt: skip
        ikey = None
        if show:
            ikey = image_key(
                self.image_sha(call.sample_id) or f"unknown:{call.sample_id}", shown, ta, tb, scale
            )
        cache_key = generation_key(
            model_fingerprint=self.fingerprint, prompt_hash=rendered.hash, image_sha256=ikey or "no-image",
            gen_kwargs=plan.gen_kwargs, frame="judge",
        )  # fmt: skip
        return _Prepared(
            call, rendered.system, rendered.user, rendered.hash, ikey, cache_key,
            len(ta.render("A")), len(tb.render("B")), scale, problem,
        )  # fmt: skip

    def labels(self, call: Call) -> tuple[str | None, str | None]:
        cands = self.plan.candidates
        return cands[call.a].labels.get(call.sample_id), cands[call.b].labels.get(call.sample_id)

    def request(self, p: _Prepared) -> GenerationRequest:
        """The adapter request of a prepared call (the judge's image drawn now); ImageLoadError when the
        image cannot be read."""
        plan = self.plan
        if not plan.manifest.show_image:
            from PIL import Image

            image = Image.new("RGB", (1, 1))
        else:
            image = self._open(p.call.sample_id)
            ta, tb = self.trace(p.call.a, p.call.sample_id), self.trace(p.call.b, p.call.sample_id)
            assert ta is not None and tb is not None
            image = draw_judge_image(image, ta, tb, p.scale)
        return GenerationRequest(
            sample_id=p.call.sample_id, image=image, prompt=p.user, system=p.system,
            gen_kwargs=dict(plan.gen_kwargs), show_image=plan.manifest.show_image,
        )  # fmt: skip

    def _open(self, sample_id: str) -> Any:
        """The presented image, from the first candidate whose copy of the sample can be read."""
        last: Exception | None = None
        for c in self.plan.candidates:
            s: Sample | None = c.samples.get(sample_id)
            if s is None:
                continue
            try:
                return open_image(s)
            except (ImageLoadError, OSError) as e:
                last = e
        raise ImageLoadError(str(last) if last else f"no candidate has sample {sample_id}")


def _record(p: _Prepared, study: _Study, out: GenerationOutput | None, *, latency: float | None,
            cached: bool, error: str | None = None, failure: str | None = None) -> Judgement:  # fmt: skip
    cands = study.plan.candidates
    la, lb = study.labels(p.call)
    base: dict[str, Any] = {
        "sample_id": p.call.sample_id, "a": cands[p.call.a].name, "b": cands[p.call.b].name,
        "label_a": la, "label_b": lb, "len_a": p.len_a, "len_b": p.len_b, "prompt_hash": p.prompt_hash,
        "image_key": p.image_key, "cached": cached, "cache_key": p.cache_key,
    }  # fmt: skip
    if out is None or out.error is not None or out.text is None:
        why = error or (out.error if out is not None else None) or "the judge returned no text"
        return Judgement(**base, status="judge_failed", failure=failure or "call_error", error=why)  # type: ignore[arg-type]
    v = read_verdict(out.text)
    return Judgement(
        **base,
        status="ok" if v.verdict else "judge_failed",
        verdict=v.verdict,
        failure=v.failure,
        text=out.text,
        finish_reason=out.finish_reason,
        input_tokens=out.input_tokens,
        output_tokens=out.output_tokens,
        latency_s=latency,
    )


def _no_response(study: _Study, sample_id: str, i: int, j: int) -> Judgement:
    cands = study.plan.candidates
    missing = [cands[k].name for k in (i, j) if study.trace(k, sample_id) is None]
    return Judgement(
        sample_id=sample_id, a=cands[i].name, b=cands[j].name, status="no_response", missing=missing,
        label_a=cands[i].labels.get(sample_id), label_b=cands[j].labels.get(sample_id),
        error=f"no response from {' and '.join(missing)}: nothing to judge",
    )  # fmt: skip


def judge_runs(
    runs: Sequence[str | os.PathLike[str]],
    judge: str,
    judge_args: str | dict[str, Any] | None = None,
    *,
    out: str | os.PathLike[str],
    baseline: str | os.PathLike[str] | None = None,
    samples: int | None = None,
    seed: int = 0,
    template: str | os.PathLike[str] | None = None,
    show_gold: bool = False,
    show_image: bool = True,
    gen_kwargs: str | dict[str, Any] | None = None,
    batch_size: int = 1,
    max_calls: int | None = None,
    n_resamples: int = 1000,
    max_failure_rate: float = DEFAULT_MAX_FAILURE_RATE,
    cache: str | os.PathLike[str] | bool = True,
    overwrite: bool = False,
    progress: bool = True,
    announce: Callable[[str], None] | None = None,
) -> StudyResult:
    """Run (or resume) a judge study of ``runs`` with the ``judge`` adapter into ``out``; see the module
    docstring and docs/judge.md. ``announce`` receives the plan (the number of judge calls) before the
    first call; ``max_calls`` refuses a study that would make more calls than that."""
    check_n_resamples(n_resamples)
    plan = plan_study(
        runs, judge, judge_args, out=out, baseline=baseline, samples=samples, seed=seed, template=template,
        show_gold=show_gold, show_image=show_image, gen_kwargs=gen_kwargs,
    )  # fmt: skip
    try:
        with plan.run.lock():
            return _run_study(plan, batch_size, max_calls, n_resamples, max_failure_rate, cache, overwrite,
                              progress, announce)  # fmt: skip
    finally:
        plan.adapter.close()


def _run_study(plan: StudyPlan, batch_size: int, max_calls: int | None, n_resamples: int,
               max_failure_rate: float, cache: Any, overwrite: bool, progress: bool,
               announce: Callable[[str], None] | None) -> StudyResult:  # fmt: skip
    run, adapter = plan.run, plan.adapter
    manifest = _start(run, plan.manifest, overwrite)
    run.repair_judgements()
    done: dict[tuple[str, str, str], Judgement] = {}
    for rec in run.read_judgements():
        done[(rec.sample_id, rec.a, rec.b)] = rec
    final = {k for k, r in done.items() if not (r.status == "judge_failed" and r.failure in RETRIED)}
    study = _Study(plan)
    names = [c.name for c in plan.candidates]
    calls: list[Call] = []
    new_no_response: list[Judgement] = []
    n_no_response = 0
    for sid in plan.sample_ids:
        for i, j in plan.pairs:
            if study.trace(i, sid) is None or study.trace(j, sid) is None:
                n_no_response += 1
                if (sid, names[i], names[j]) not in final:
                    new_no_response.append(_no_response(study, sid, i, j))
                continue
            for a, b in ((i, j), (j, i)):
                if (sid, names[a], names[b]) not in final:
                    calls.append(Call(sid, a, b))
    planned = 2 * len(plan.pairs) * len(plan.sample_ids)
    judged = planned - 2 * n_no_response
    warnings = list(manifest.warnings)
    cache_obj: GenerationCache | None = None
    if cache is not False and adapter.cacheable and is_deterministic(plan.gen_kwargs):
        cache_obj = open_cache(None if cache is True else cache, warnings)
    prepared = [study.prepare(c) for c in calls]
    hits = cache_obj.get_many([p.cache_key for p in prepared]) if cache_obj is not None and prepared else {}
    to_call = sum(p.cache_key not in hits for p in prepared)
    text = (
        f"judge: {len(plan.candidates)} runs, {len(plan.pairs)} pair(s) × {len(plan.sample_ids)} sample(s) × 2 orders "
        f"= {planned} judge calls"
        + (
            f" ({2 * n_no_response} not needed: {n_no_response} comparison(s) lack a response)"
            if n_no_response
            else ""
        )
        + f"; {judged - len(calls)} already judged, {len(prepared) - to_call} from the cache, {to_call} to call"
    )
    if announce is not None:
        announce(text)
    if max_calls is not None and to_call > max_calls:
        raise JudgeError(
            f"this study needs {to_call} judge calls, more than --max-calls {max_calls}: lower --samples, compare "
            "against one --baseline, or raise --max-calls"
        )
    run.append_judgements(new_no_response)
    made = from_cache = 0
    bar = _progress_bar(len(prepared), progress, adapter.name)
    step = max(1, batch_size, adapter.requests_in_flight)
    batches = [prepared[k : k + step] for k in range(0, len(prepared), step)]

    def build(
        batch: list[_Prepared],
    ) -> tuple[dict[int, Judgement], list[tuple[int, _Prepared, GenerationRequest]]]:
        """The records a batch needs no call for (cache hits, unreadable images) and the requests of the
        others, their images drawn."""
        records: dict[int, Judgement] = {}
        pending: list[tuple[int, _Prepared, GenerationRequest]] = []
        for k, p in enumerate(batch):
            hit = hits.get(p.cache_key)
            if hit is not None:
                out = GenerationOutput(
                    text=hit.get("text"), finish_reason=hit.get("finish_reason"),
                    input_tokens=hit.get("input_tokens"), output_tokens=hit.get("output_tokens"),
                )  # fmt: skip
                records[k] = _record(p, study, out, latency=hit.get("latency_s"), cached=True)
                continue
            if p.problem is not None:
                records[k] = _record(
                    p, study, None, latency=None, cached=False, error=p.problem, failure="image_error"
                )
                continue
            try:
                pending.append((k, p, study.request(p)))
            except (ImageLoadError, OSError) as e:
                records[k] = _record(
                    p, study, None, latency=None, cached=False, error=str(e), failure="image_error"
                )
        return records, pending

    # the next batch's images are drawn while the judge answers this one
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judge-prepare")
    try:
        upcoming = ahead.submit(build, batches[0]) if batches else None
        for n, batch in enumerate(batches):
            assert upcoming is not None
            records, pending = upcoming.result()
            upcoming = ahead.submit(build, batches[n + 1]) if n + 1 < len(batches) else None
            from_cache += sum(r.cached for r in records.values())
            if pending:
                outputs, latency = _call_adapter(adapter, [r for _, _, r in pending])
                to_cache = []
                for (k, p, _req), o in zip(pending, outputs, strict=True):
                    records[k] = rec = _record(p, study, o, latency=latency, cached=False)
                    made += 1
                    if cache_obj is not None and o.error is None and o.text is not None:
                        fields = rec.model_dump(
                            include={"text", "finish_reason", "input_tokens", "output_tokens", "latency_s"}
                        )
                        to_cache.append((p.cache_key, study.fingerprint, fields))
                if cache_obj is not None:
                    cache_obj.put_many(to_cache)
            run.append_judgements(records[k] for k in range(len(batch)))
            if bar is not None:
                bar.update(len(batch))
    except (KeyboardInterrupt, FatalAdapterError) as e:
        manifest.status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        manifest.status_reason = (
            "judging was interrupted; run the same command again to resume it"
            if isinstance(e, KeyboardInterrupt)
            else f"judging stopped: {e}"
        )
        run.write_manifest(manifest)
        raise
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
        run.sync()
    judgements = run.read_judgements()
    latest = {(r.sample_id, r.a, r.b): r for r in judgements}
    errors = sum(r.status == "judge_failed" and r.failure in RETRIED for r in latest.values())
    if errors:
        warnings.append(
            f"{errors} judge call(s) failed (counted as judge failures); run the same command again to retry them"
        )
    if cache_obj is not None:
        warnings += cache_obj.problems
    calls_total = sum(r.status != "no_response" for r in latest.values())
    manifest.status = "failed" if calls_total and errors == calls_total else "complete"
    manifest.status_reason = "every judge call failed" if manifest.status == "failed" else None
    run.write_manifest(manifest)
    report = study_report(
        manifest, judgements, n_resamples=n_resamples, seed=manifest.seeds.get("seed", 0),
        max_failure_rate=max_failure_rate,
    )  # fmt: skip
    run.write_metrics(report)
    return StudyResult(run.path, manifest, report, planned, made, from_cache, warnings)


def _progress_bar(total: int, enabled: bool, desc: str) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"judge [{desc}]", unit="call", dynamic_ncols=True)
