"""The generate stage: batches of samples to a model adapter, appended to ``generations.jsonl``.

Resumable (samples already written are skipped), cached (a generation is never paid for twice),
crash-tolerant (records are flushed per batch; a torn last line is repaired), and sharded
(``--shard I/N``; under ``accelerate launch`` / ``torchrun`` rank I of N is shard I/N): a shard writes
its own file and needs no other process. Nothing is parsed or scored here: answers are read once, by
the score stage.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tag_bench import store
from tag_bench.generate.cache import GenerationCache, generation_key, is_deterministic
from tag_bench.generate.shards import Shard
from tag_bench.images import ImageLoadError, image_sha256, open_image
from tag_bench.models.base import FatalAdapterError, GenerationOutput, GenerationRequest, ModelAdapter
from tag_bench.rundir import RunDir
from tag_bench.schema import AUReference, Generation, Sample

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> Shard | None:
        """The shard of this process: rank I of N is shard I/N (None: one process)."""
        return Shard(self.rank, self.world_size) if self.world_size > 1 else None


def dist_info() -> DistInfo:
    """Rank and world size as set by ``accelerate launch`` or ``torchrun`` (no process group is made)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    rank = int(os.environ.get("RANK", "0") or 0)
    local = int(os.environ.get("LOCAL_RANK", str(rank)) or 0)
    return DistInfo(rank=rank, world_size=world, local_rank=local)


#: The image shown for a sample and its content sha256 (the generation cache's image key).
ImageSource = Callable[[Sample], "tuple[PILImage.Image, str]"]


@dataclass
class PromptFn:
    """Renders the user/system prompt for one sample (the image size matters for pixel frames)."""

    render: Callable[[tuple[int, int] | None], Any]  # -> object with .system, .user, .hash


@dataclass
class GenerateStats:
    total: int = 0
    skipped_done: int = 0
    generated: int = 0
    from_cache: int = 0
    errors: int = 0
    missing: int = 0
    model_calls: int = 0  # records from a model call (not the cache, past the image)
    seconds: float = 0.0
    interrupted: bool = False
    error_messages: list[str] = field(default_factory=list)


def generate(
    samples: list[Sample],
    adapter: ModelAdapter,
    prompt: PromptFn,
    run: RunDir,
    *,
    gen_kwargs: dict[str, Any],
    batch_size: int = 1,
    cache: GenerationCache | None = None,
    references: Callable[[Sample], AUReference] | None = None,
    progress: bool = True,
    shard: Shard | None = None,
    heartbeat: Callable[[GenerateStats], None] | None = None,
    images: ImageSource | None = None,
    desc: str | None = None,
) -> GenerateStats:
    """Generate for every sample (of ``shard``, when given) not yet written in ``run``; returns counts.
    ``heartbeat`` is called after every batch written.

    ``images``: the image (and its content sha256) shown for a sample instead of its presented image
    (the intervene stage shows filled images); it raises ImageLoadError for an image it cannot make.
    ``desc``: the progress bar's label (default: the adapter's name).
    Raises KeyboardInterrupt after flushing on Ctrl-C (the caller marks the run interrupted).
    """
    run.path.mkdir(parents=True, exist_ok=True)
    out_path = run.generations_path if shard is None else run.shard_path(shard.index, shard.count)
    run.repair_generations(None if shard is None else out_path)
    done = {sid for sid, g in run.read_generations().items() if g.status == "ok"}
    mine = samples if shard is None else shard.select(samples)
    todo = [s for s in mine if s.id not in done]
    stats = GenerateStats(total=len(mine), skipped_done=len(mine) - len(todo))
    answerable = [s for s in todo if adapter.has(s.id)]  # replay: no prediction -> no record -> "missing"
    stats.missing = len(todo) - len(answerable)
    todo = answerable

    frame = adapter.frame
    fingerprint = adapter.fingerprint()
    cacheable = cache is not None and adapter.cacheable and is_deterministic(gen_kwargs)
    bar = _progress_bar(len(todo), progress, (desc or adapter.name) + (f" {shard}" if shard else ""))
    t0 = time.perf_counter()
    try:
        step = max(1, batch_size, adapter.requests_in_flight)
        for start in range(0, len(todo), step):
            batch = todo[start : start + step]
            records = _run_batch(
                batch,
                adapter,
                prompt,
                gen_kwargs,
                frame,
                fingerprint,
                cache if cacheable else None,
                references,
                images,
            )
            store.append_jsonl(out_path, records, sync=False)
            for g in records:
                stats.generated += 1
                stats.from_cache += g.cached
                stats.model_calls += not g.cached and g.cache_key is not None
                if g.status == "error":
                    stats.errors += 1
                    if len(stats.error_messages) < 5:
                        stats.error_messages.append(f"{g.sample_id}: {g.error}")
            if bar is not None:
                bar.update(len(batch))
                bar.set_postfix(errors=stats.errors, cached=stats.from_cache)
            if heartbeat is not None:
                heartbeat(stats)
    except KeyboardInterrupt:
        stats.interrupted = True
        raise
    finally:
        if bar is not None:
            bar.close()
        store.fsync_path(out_path)
        stats.seconds = time.perf_counter() - t0
    return stats


def _progress_bar(total: int, enabled: bool, desc: str):
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"generate [{desc}]", unit="sample", dynamic_ncols=True)


def _run_batch(
    batch: list[Sample],
    adapter: ModelAdapter,
    prompt: PromptFn,
    gen_kwargs: dict[str, Any],
    frame: str,
    fingerprint: str,
    cache: GenerationCache | None,
    references: Callable[[Sample], AUReference] | None,
    images: ImageSource | None = None,
) -> list[Generation]:
    records: dict[str, Generation] = {}
    pending: list[tuple[Sample, GenerationRequest, str, str, tuple[int, int]]] = []
    for s in batch:
        try:
            if images is not None:
                img, sha = images(s)
            else:
                img = open_image(s)
                sha = image_sha256(s)
        except ImageLoadError as e:
            records[s.id] = Generation(sample_id=s.id, status="error", error=str(e), frame=frame)
            continue
        rendered = prompt.render(img.size)
        key = generation_key(
            model_fingerprint=fingerprint,
            prompt_hash=rendered.hash,
            image_sha256=sha,
            gen_kwargs=gen_kwargs,
            frame=frame,
        )
        req = GenerationRequest(
            sample_id=s.id,
            image=img,
            prompt=rendered.user,
            system=rendered.system,
            gen_kwargs=dict(gen_kwargs),
            sample=s,
            reference=references(s) if (references is not None and adapter.needs_reference) else None,
        )
        pending.append((s, req, key, sha, img.size))

    hits = cache.get_many([p[2] for p in pending]) if cache is not None and pending else {}
    misses = [p for p in pending if p[2] not in hits]
    for s, _req, key, sha, _size in pending:
        if key in hits:
            records[s.id] = Generation.model_validate(
                {**hits[key], "sample_id": s.id, "cached": True, "cache_key": key, "image_sha256": sha}
            )
    if misses:
        outputs, latency = _call_adapter(adapter, [p[1] for p in misses])
        to_cache = []
        for (s, _req, key, sha, size), out in zip(misses, outputs, strict=True):
            g = _to_generation(s.id, out, sha, size, frame, key, latency)
            records[s.id] = g
            if cache is not None and g.status == "ok":
                to_cache.append(
                    (key, fingerprint, g.model_dump(exclude={"sample_id", "cached", "cache_key"}))
                )
        if cache is not None:
            cache.put_many(to_cache)
    return [records[s.id] for s in batch]


def _call_adapter(
    adapter: ModelAdapter, requests: list[GenerationRequest]
) -> tuple[list[GenerationOutput], float | None]:
    """The outputs of one call, and the latency of each for a timed adapter: the call's wall-clock time
    over the requests it served (amortised seconds per sample; one-off loading is not counted)."""
    try:
        adapter.load()
        t0 = time.perf_counter()
        outputs = adapter.generate(requests)
        latency = (time.perf_counter() - t0) / len(requests) if adapter.timed else None
    except (KeyboardInterrupt, FatalAdapterError):
        raise
    except Exception as e:  # the adapter broke its contract for the whole batch: record, keep going
        msg = f"{type(e).__name__}: {e}"
        return [GenerationOutput(text=None, error=f"model call failed: {msg}") for _ in requests], None
    if len(outputs) != len(requests):
        msg = f"adapter {adapter.name} returned {len(outputs)} outputs for {len(requests)} requests"
        return [GenerationOutput(text=None, error=msg) for _ in requests], None
    return outputs, latency


def _to_generation(
    sample_id: str,
    out: GenerationOutput,
    sha: str,
    size: tuple[int, int],
    frame: str,
    key: str,
    latency: float | None,
) -> Generation:
    failed = out.error is not None or out.text is None
    return Generation(
        sample_id=sample_id,
        status="error" if failed else "ok",
        error=(out.error or "model returned no text") if failed else None,
        text=out.text,
        finish_reason=out.finish_reason,
        input_tokens=out.input_tokens,
        output_tokens=out.output_tokens,
        latency_s=latency,
        image_sha256=sha,
        image_size=size,
        input_size=out.input_size,
        frame=out.frame or frame,
        cached=False,
        cache_key=key,
    )
