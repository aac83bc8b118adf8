"""AU references for the rewards: looked up once, before training, never inside a reward call.

Sources: a mapping or list of :class:`~tag_bench.schema.AUReference` records, a JSONL file of them
(``tag-bench au detect --task T --out refs.jsonl`` writes one), a detector name (or ``auto``) served
from the AU cache (``tag-bench au detect --task T`` fills it), or any other AU reference spec
(:func:`tag_bench.au.sources.parse_reference_spec`: precomputed OpenFace / py-feat CSVs, annotations).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tag_bench.au.cache import AUCache, detect_cached_many
from tag_bench.au.sources import JsonlSource, build_detector, required_reference, resolve_reference_source
from tag_bench.errors import TagBenchError
from tag_bench.images import image_sha256
from tag_bench.schema import AUReference, Sample

ReferencesLike = Mapping[str, AUReference] | Iterable[AUReference] | str | Path


class RewardReferenceError(TagBenchError):
    """The AU references the rewards need are missing or unusable; the message says how to get them."""


def load_references(
    references: ReferencesLike,
    samples: Iterable[Sample] | None = None,
    *,
    cache: str | Path | None = None,
    compute_missing: bool = False,
    progress: bool = False,
) -> dict[str, AUReference]:
    """The AU reference of each sample, keyed by sample id.

    A detector name (or ``auto``) reads the AU cache (``cache``: its file; default
    ``$TAG_BENCH_CACHE``) for ``samples``; a sample without a cached reference is an error unless
    ``compute_missing`` is set, in which case the detector runs now (and fills the cache).
    """
    if isinstance(references, Mapping):
        return {str(k): _record(v) for k, v in references.items()}
    if isinstance(references, (str, Path)):
        return _from_spec(str(references), samples, cache, compute_missing, progress)
    out: dict[str, AUReference] = {}
    for item in references:
        ref = _record(item)
        if not ref.sample_id:
            raise RewardReferenceError(
                "an AU reference record without sample_id cannot be matched to a sample"
            )
        out[ref.sample_id] = ref
    return out


def _record(value: Any) -> AUReference:
    if isinstance(value, AUReference):
        return value
    if isinstance(value, Mapping):
        return AUReference.model_validate(value)
    raise RewardReferenceError(f"expected AUReference records, got {type(value).__name__}")


def _from_spec(
    spec: str,
    samples: Iterable[Sample] | None,
    cache: str | Path | None,
    compute_missing: bool,
    progress: bool,
) -> dict[str, AUReference]:
    parsed = required_reference(spec)
    if parsed.kind == "file":
        return dict(JsonlSource(str(parsed.path)).by_sample)
    items = list(samples) if samples is not None else None
    if items is None:
        raise RewardReferenceError(
            f"AU reference {spec!r} is looked up per image: pass the samples (load_references(spec, samples))"
        )
    if parsed.kind == "detector":
        return _from_cache(build_detector(parsed), parsed.text, items, cache, compute_missing, progress)
    return dict(resolve_reference_source(parsed, cache_path=cache).get_many(items, progress=progress))


def _from_cache(
    detector: Any,
    spec: str,
    samples: list[Sample],
    cache: str | Path | None,
    compute_missing: bool,
    progress: bool,
) -> dict[str, AUReference]:
    store = AUCache(cache)
    if compute_missing:
        return detect_cached_many(detector, samples, store, progress=progress)
    shas = {s.id: image_sha256(s) for s in samples}
    known = store.get_many(shas.values(), detector)
    missing = [s.id for s in samples if shas[s.id] not in known]
    if missing:
        raise RewardReferenceError(
            f"{len(missing)} of {len(samples)} samples (first: {missing[0]}) have no cached "
            f"{detector.reference_id} reference in {store.path}: run `tag-bench au detect --task TASK "
            f"--au-reference {spec}` first, or pass compute_missing=True"
        )
    return {
        s.id: known[shas[s.id]].model_copy(update={"sample_id": s.id, "image_sha256": shas[s.id]})
        for s in samples
    }
