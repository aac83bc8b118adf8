"""Reference sources for the scorer: one spec string -> AU references per sample.

=================================  ===============================================================
spec                               source
=================================  ===============================================================
``mediapipe-geometric`` (any       a detector (``tag_bench.au.detector_names()``) run on the sample's
detector name, ``-loose``,         presented image through the SQLite cache; an unreadable image
``@version``)                      gives status ``error``
``openface-static:DIR``            OpenFace's static AU models in the user's folder DIR, on tag-bench's
                                   landmarks (``tag_bench.au.openface``), through the cache
``PATH.jsonl``                     AUReference records keyed by ``sample_id``; a sample without one
                                   gets status ``error`` ("no reference for sample")
``openface:PATH``                  OpenFace 2.x CSV (file or folder), see ``precomputed``
``pyfeat-csv:PATH``                py-feat Fex CSV
``annotations``                    dataset landmarks in ``sample.meta["landmarks68"]``
=================================  ===============================================================

The precomputed, annotation and ``openface-static`` forms accept a region rule:
``openface-loose:PATH``, ``annotations-loose``, ``openface-static-loose:DIR``.

``cache=False`` (``--no-cache``) never opens the AU cache file. A cache file that cannot be read never
stops scoring: the source runs without it and says why in ``problems`` (one line each, for the user).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tag_bench.schema import AUReference, Sample

SPEC_FORMS = (
    "a detector name ({detectors})",
    "openface-static[-tight|-loose]:DIR (your OpenFace AU_predictors folder)",
    "a path to a .jsonl file of AUReference records",
    "openface[-tight|-loose]:PATH",
    "pyfeat-csv[-tight|-loose]:PATH",
    "annotations[-tight|-loose]",
)


@runtime_checkable
class ReferenceSource(Protocol):
    @property
    def reference_id(self) -> str: ...

    def get(self, sample: Sample) -> AUReference: ...

    def get_many(self, samples: Iterable[Sample], progress: bool = False) -> dict[str, AUReference]: ...

    @property
    def problems(self) -> list[str]:
        """What the user should know about this source (e.g. an unreadable cache), one line each."""
        ...


def _get_many(source: Any, samples: Iterable[Sample], progress: bool, desc: str) -> dict[str, AUReference]:
    items = list(samples)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc=desc, unit="img")
    return {s.id: source.get(s) for s in items}


class DetectorSource:
    """A detector applied to presented images, through the AU cache."""

    def __init__(self, detector: Any, cache: Any = None, problems: list[str] | None = None):
        self.detector = detector
        self.cache = cache
        self._problems = list(problems or [])

    @property
    def reference_id(self) -> str:
        return self.detector.reference_id

    @property
    def problems(self) -> list[str]:
        return [*self._problems, *(getattr(self.cache, "problems", None) or [])]

    def get(self, sample: Sample) -> AUReference:
        from tag_bench.au.cache import detect_cached

        return detect_cached(self.detector, sample, self.cache)

    def get_many(self, samples: Iterable[Sample], progress: bool = False) -> dict[str, AUReference]:
        from tag_bench.au.cache import detect_cached_many

        return detect_cached_many(self.detector, samples, self.cache, progress=progress)


class JsonlSource:
    """AUReference records from a JSONL file, keyed by ``sample_id``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"AU reference file not found: {self.path}")
        self.by_sample: dict[str, AUReference] = {}
        self.lines: dict[str, str] = {}  # sample id -> its line, kept to copy into run directories
        ids: set[str] = set()
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    ref = AUReference.model_validate_json(line)
                except Exception as e:
                    raise ValueError(f"{self.path}:{n}: not an AUReference record: {e}") from e
                if not ref.sample_id:
                    raise ValueError(f"{self.path}:{n}: record has no sample_id")
                if ref.sample_id in self.by_sample:
                    raise ValueError(f"{self.path}:{n}: second record for sample {ref.sample_id!r}")
                self.by_sample[ref.sample_id] = ref
                self.lines[ref.sample_id] = line.strip()
                ids.add(ref.reference_id)
        if not ids:
            raise ValueError(f"{self.path} holds no AUReference records")
        if len(ids) > 1:
            raise ValueError(f"{self.path} mixes AU references {sorted(ids)}; keep one source per file")
        self.reference_id = ids.pop()
        first = next(iter(self.by_sample.values()))
        self._detector, self._version = first.detector, first.version

    @property
    def problems(self) -> list[str]:
        return []

    def get(self, sample: Sample) -> AUReference:
        ref = self.by_sample.get(sample.id)
        if ref is not None:
            return ref
        return AUReference(
            reference_id=self.reference_id,
            detector=self._detector,
            version=self._version,
            status="error",
            message="no reference for sample",
            sample_id=sample.id,
        )

    def get_many(self, samples: Iterable[Sample], progress: bool = False) -> dict[str, AUReference]:
        return {s.id: self.get(s) for s in samples}


class _RowSource:
    """Adds ``get_many`` to the precomputed and annotation sources."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.reference_id = inner.reference_id

    @property
    def problems(self) -> list[str]:
        return []

    def get(self, sample: Sample) -> AUReference:
        return self.inner.get(sample)

    def get_many(self, samples: Iterable[Sample], progress: bool = False) -> dict[str, AUReference]:
        return _get_many(self.inner, samples, progress, f"AU reference {self.reference_id}")


def _prefixed(spec: str, prefix: str) -> tuple[str, str] | None:
    """``openface-loose:PATH`` -> ("loose", PATH) for prefix ``openface``."""
    from tag_bench.au.regions import REGION_RULES

    head, sep, rest = spec.partition(":")
    if not sep:
        return None
    for rule in REGION_RULES:
        if head == f"{prefix}-{rule}":
            return rule, rest
    return ("tight", rest) if head == prefix else None


def detector_from_spec(spec: str) -> Any | None:
    """The detector a spec names (a detector name, or ``openface-static[-rule]:DIR``), else None."""
    from tag_bench.au.base import get_detector, is_detector_name

    spec = spec.strip()
    hit = _prefixed(spec, "openface-static")
    if hit is not None:
        rule, folder = hit
        return get_detector(f"openface-static-{rule}", model_dir=folder)
    if is_detector_name(spec):
        return get_detector(spec)
    return None


def resolve_reference_source(
    spec: str, *, cache_path: str | Path | None = None, cache: bool = True
) -> ReferenceSource:
    """Turn a spec string into a ReferenceSource (see the module docstring).

    ``cache=False`` runs a detector without the AU cache (the file is never opened). Raises ValueError
    listing the valid forms for an unknown spec; detector construction errors (missing extra, missing
    weights) propagate with their own message.
    """
    from tag_bench.au.annotations import AnnotationSource
    from tag_bench.au.base import detector_names
    from tag_bench.au.cache import open_au_cache
    from tag_bench.au.precomputed import PrecomputedSource

    spec = spec.strip()
    for fmt in ("openface", "pyfeat-csv"):
        hit = _prefixed(spec, fmt)
        if hit is not None:
            rule, path = hit
            return _RowSource(PrecomputedSource(fmt, path, regions=rule))
    if spec in ("annotations", "annotations-tight", "annotations-loose"):
        rule = spec.partition("-")[2] or "tight"
        return _RowSource(AnnotationSource(regions=rule))
    p = Path(spec)
    if p.suffix.lower() in (".jsonl", ".json") or p.is_file():
        return JsonlSource(p)
    detector = detector_from_spec(spec)
    if detector is not None:
        problems: list[str] = []
        return DetectorSource(detector, open_au_cache(cache_path, problems) if cache else None, problems)
    forms = "; ".join(SPEC_FORMS).format(detectors=", ".join(detector_names()))
    raise ValueError(f"unknown AU reference spec {spec!r}; valid forms: {forms}")
