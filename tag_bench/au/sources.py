"""AU reference specs and the sources they name: one spec string -> AU references per sample.

Every ``--au-reference`` value (and every reference spec passed in Python) goes through
:func:`parse_reference_spec`, the one grammar; its forms are :data:`REFERENCE_FORMS` (the option help
and the error for an unknown spec are generated from them; docs/au-reference.md describes them for
users). :func:`resolve_reference_source` turns a spec into a :class:`ReferenceSource`.

``cache=False`` (``--no-cache``) never opens the AU cache file. A cache file that cannot be read never
stops scoring: the source runs without it and says why in ``problems`` (one line each, for the user).
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from tag_bench.au.annotations import AnnotationSource
from tag_bench.au.base import (
    DEFAULT_DETECTOR,
    detector_names,
    get_detector,
    is_detector_name,
    split_detector_name,
    split_region_rule,
)
from tag_bench.au.cache import cached_references, detect_cached, detect_cached_many, open_au_cache
from tag_bench.au.precomputed import PrecomputedSource
from tag_bench.au.reference_file import ReferenceFile, ReferenceView
from tag_bench.au.regions import REGION_RULES
from tag_bench.errors import TagBenchError
from tag_bench.schema import AUReference, Sample

# --------------------------------------------------------------------------------------------------
# The grammar

ReferenceKind = Literal[
    "auto", "none", "detector", "openface-static", "file", "openface", "pyfeat-csv", "annotations", "saved"
]
#: Kinds written ``KIND[-rule]:PATH`` (the kind is the prefix).
PREFIXED_KINDS: tuple[ReferenceKind, ...] = ("openface-static", "openface", "pyfeat-csv")
#: Kinds that run a detector on each image (through the AU cache).
DETECTOR_KINDS: tuple[ReferenceKind, ...] = ("detector", "openface-static")
#: Spellings of ``none`` (any case; also the empty string).
NONE_WORDS = ("none", "off", "")

_RULE = "[" + "|".join(f"-{r}" for r in REGION_RULES) + "]"


@dataclass(frozen=True)
class SpecForm:
    """One form of the grammar, as the help and the errors show it."""

    kind: ReferenceKind
    syntax: str
    meaning: str  # may name {default} (the offline default detector) and {detectors} (every base name)


#: Every form of an AU reference spec, as help and errors list them. The parser tries a run's saved ids
#: first, then auto / none, the ``KIND[-rule]:PATH`` forms, annotations, files and detector names.
REFERENCE_FORMS: tuple[SpecForm, ...] = (
    SpecForm("auto", "auto", "{default}; none without the tag-bench[landmarks] extra"),
    SpecForm("none", "none", "no reference: grounding metrics are not computed; also: off"),
    SpecForm(
        "detector",
        f"DETECTOR{_RULE}[@VERSION]",
        "a detector run on each image, through the AU cache: {detectors}",
    ),
    SpecForm(
        "openface-static",
        f"openface-static{_RULE}:DIR",
        "OpenFace 2.x's static AU models in your AU_predictors folder DIR",
    ),
    SpecForm("file", "PATH.jsonl", "AUReference records keyed by sample_id; also .json or any existing file"),
    SpecForm("openface", f"openface{_RULE}:PATH", "OpenFace 2.x CSV output, a file or a folder"),
    SpecForm("pyfeat-csv", f"pyfeat-csv{_RULE}:PATH", "a py-feat Fex CSV"),
    SpecForm("annotations", f"annotations{_RULE}", "the dataset's own 68 landmarks, regions only"),
    SpecForm(
        "saved",
        "SAVED-ID",
        "a reference the run was scored against before: a folder under RUN_DIR/references/",
    ),
)


class ReferenceSpecError(TagBenchError, ValueError):
    """An AU reference spec that is not one of the forms, or that cannot be used where it was given."""


@dataclass(frozen=True)
class ReferenceSpec:
    """One parsed AU reference spec (:func:`parse_reference_spec`); ``text`` is its canonical string."""

    kind: ReferenceKind
    name: str | None = None  # detector base name (kind ``detector``)
    rule: str | None = None  # region rule as written; None: the default, ``tight``
    version: str | None = None  # version pin (kind ``detector``)
    path: str | None = None  # file or folder as written (``file`` and the ``KIND:PATH`` kinds)
    key: str | None = None  # folder name under the run's ``references/`` (kind ``saved``)

    @property
    def region_rule(self) -> str:
        return self.rule or REGION_RULES[0]

    @property
    def text(self) -> str:
        rule = f"-{self.rule}" if self.rule else ""
        if self.kind == "detector":
            return f"{self.name}{rule}" + (f"@{self.version}" if self.version else "")
        if self.kind in PREFIXED_KINDS:
            return f"{self.kind}{rule}:{self.path}"
        if self.kind == "annotations":
            return f"annotations{rule}"
        if self.kind == "file":
            return str(self.path)
        if self.kind == "saved":
            return str(self.key)
        return self.kind

    def __str__(self) -> str:
        return self.text

    def resolved(self) -> ReferenceSpec:
        """``auto`` as what it stands for here: the offline default detector when MediaPipe is installed,
        else ``none``. Any other spec is returned unchanged."""
        if self.kind != "auto":
            return self
        if importlib.util.find_spec("mediapipe") is None:
            return ReferenceSpec("none")
        return ReferenceSpec("detector", name=DEFAULT_DETECTOR)


def parse_reference_spec(text: str | ReferenceSpec, *, saved: Collection[str] = ()) -> ReferenceSpec:
    """The AU reference ``text`` names, in any form of :data:`REFERENCE_FORMS`.

    ``saved``: the keys of a run's saved references (``RunDir.saved_reference_keys()``); a spec equal to
    one of them is that saved set, before any other form. Raises ReferenceSpecError listing the valid
    forms, with the closest ones, for anything else. ``auto`` stays ``auto`` (see
    :meth:`ReferenceSpec.resolved`).
    """
    if isinstance(text, ReferenceSpec):
        return text
    spec = text.strip()
    if spec in saved:
        return ReferenceSpec("saved", key=spec)
    if spec.lower() == "auto":
        return ReferenceSpec("auto")
    if spec.lower() in NONE_WORDS:
        return ReferenceSpec("none")
    head, sep, rest = spec.partition(":")
    stem, rule = split_region_rule(head)
    if sep and stem in PREFIXED_KINDS:
        if not rest:
            syntax = next(f.syntax for f in REFERENCE_FORMS if f.kind == stem)
            raise ReferenceSpecError(f"AU reference {spec!r}: give the path after ':' ({syntax})")
        return ReferenceSpec(stem, rule=rule, path=rest)
    if not sep and stem == "annotations":
        return ReferenceSpec("annotations", rule=rule)
    p = Path(spec)
    if p.suffix.lower() in (".jsonl", ".json") or p.is_file():
        return ReferenceSpec("file", path=spec)
    if spec.endswith("@"):
        raise ReferenceSpecError(
            f"AU reference {spec!r}: the version after '@' is empty; drop the '@' or name one"
        )
    if is_detector_name(spec):
        base, rule, version = split_detector_name(spec)
        return ReferenceSpec("detector", name=base, rule=rule, version=version)
    raise ReferenceSpecError(_unknown(spec, saved))


def split_reference_list(text: str) -> list[str]:
    """The items of a comma-separated list of specs, stripped; empty items skipped."""
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_reference_specs(text: str, *, saved: Collection[str] = ()) -> list[ReferenceSpec]:
    """A comma-separated list of specs (:func:`split_reference_list`), each parsed by
    :func:`parse_reference_spec`."""
    return [parse_reference_spec(t, saved=saved) for t in split_reference_list(text)]


def reference_kinds(
    *, none: bool = True, saved: bool = False, detectors_only: bool = False
) -> tuple[ReferenceKind, ...]:
    """The kinds one use accepts: ``none`` where no reference is a valid choice, ``saved`` where a run
    directory is at hand, ``detectors_only`` where images go through a detector (and ``auto``)."""
    kinds = [f.kind for f in REFERENCE_FORMS]
    if detectors_only:
        kinds = [k for k in kinds if k in ("auto", *DETECTOR_KINDS)]
    return tuple(k for k in kinds if (none or k != "none") and (saved or k != "saved"))


def describe_forms(kinds: Collection[str] | None = None, *, meanings: bool = True) -> str:
    """The forms of ``kinds`` (default: :func:`reference_kinds`), ``; ``-separated, naming the registered
    detectors and the offline default."""
    kinds = reference_kinds() if kinds is None else kinds
    wanted = [f for f in REFERENCE_FORMS if f.kind in kinds]
    parts = []
    for f in wanted:
        meaning = f.meaning.format(default=DEFAULT_DETECTOR, detectors=", ".join(_detector_bases()))
        parts.append(f"{f.syntax} ({meaning})" if meanings else f.syntax)
    return "; ".join(parts)


def _detector_bases() -> list[str]:
    return sorted({split_detector_name(n)[0] for n in detector_names()})


def _unknown(spec: str, saved: Collection[str]) -> str:
    """The message for a spec that is no form: the closest spellings, then every form."""
    head, sep, rest = spec.partition(":")
    if sep:
        heads = [f"{k}{r}" for k in PREFIXED_KINDS for r in ("", *(f"-{x}" for x in REGION_RULES))]
        close = [f"{c}:{rest}" for c in difflib.get_close_matches(head, heads, n=2, cutoff=0.6)]
    else:
        words = [*detector_names(), "auto", "none", "annotations"]
        close = difflib.get_close_matches(spec, list(saved), n=2, cutoff=0.6) or difflib.get_close_matches(
            spec.partition("@")[0], words, n=2, cutoff=0.6
        )
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    what = "AU reference" if sep or "/" in spec else "AU detector or reference"
    forms = describe_forms(meanings=False)
    where = f"; or a saved reference of this run: {', '.join(saved)}" if saved else ""
    return f"unknown {what} {spec!r}{hint}; valid forms: {forms} (DETECTOR: {', '.join(_detector_bases())}){where}"


def required_reference(spec: str | ReferenceSpec) -> ReferenceSpec:
    """The spec, with ``auto`` resolved, where a reference is needed: ``none`` (or ``auto`` without
    MediaPipe) is a ReferenceSpecError saying what to give instead."""
    given = parse_reference_spec(spec)
    s = given.resolved()
    if s.kind != "none":
        return s
    if given.kind == "auto":
        raise ReferenceSpecError(
            f"AU reference 'auto': no AU detector is available (the default, {DEFAULT_DETECTOR}, needs "
            "MediaPipe): pip install 'tag-bench[landmarks]', or name another reference (a JSONL file, "
            "openface:PATH, ...)"
        )
    raise ReferenceSpecError(
        f"an AU reference is needed here, and {given.text!r} gives none: name one, e.g. {DEFAULT_DETECTOR} "
        "(see docs/au-reference.md)"
    )


def build_detector(spec: str | ReferenceSpec) -> Any:
    """The detector a spec names: a detector name, ``openface-static[-rule]:DIR`` or ``auto``."""
    s = required_reference(spec)
    if s.kind == "openface-static":
        return get_detector(f"openface-static-{s.region_rule}", model_dir=s.path)
    if s.kind == "detector":
        return get_detector(s.text)
    raise ReferenceSpecError(
        f"{s.text!r} is a {s.kind} reference, not a detector: give one of "
        + describe_forms(reference_kinds(detectors_only=True), meanings=False)
        + f" (DETECTOR: {', '.join(_detector_bases())})"
    )


# --------------------------------------------------------------------------------------------------
# Sources


@runtime_checkable
class ReferenceSource(Protocol):
    @property
    def reference_id(self) -> str: ...

    def get(self, sample: Sample) -> AUReference: ...

    def get_many(self, samples: Iterable[Sample], progress: bool = False) -> Mapping[str, AUReference]: ...

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
        return detect_cached(self.detector, sample, self.cache)

    def get_many(self, samples: Iterable[Sample], progress: bool = False) -> Mapping[str, AUReference]:
        """With the AU cache, the records stay in it and are read when asked for (``CachedReferences``)."""
        if self.cache is None:
            return detect_cached_many(self.detector, samples, None, progress=progress)
        return cached_references(self.detector, samples, self.cache, progress=progress)


class JsonlSource:
    """AUReference records from a JSONL file, keyed by ``sample_id``; a sample without one gets status
    ``error`` ("no reference for sample"). Records are read when asked for
    (:class:`~tag_bench.au.reference_file.ReferenceFile`), not held."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"AU reference file not found: {self.path}")
        self.by_sample = ReferenceFile(self.path)
        ids = self.by_sample.reference_ids
        if not ids:
            raise ValueError(f"{self.path} holds no AUReference records")
        if len(ids) > 1:
            raise ValueError(f"{self.path} mixes AU references {sorted(ids)}; keep one source per file")
        self.reference_id = next(iter(ids))
        first = self.by_sample[next(iter(self.by_sample))]
        self._detector, self._version = first.detector, first.version

    @property
    def problems(self) -> list[str]:
        return []

    def get(self, sample: Sample) -> AUReference:
        ref = self.by_sample.get(sample.id)
        if ref is not None:
            return ref
        return self._missing(sample.id)

    def _missing(self, sample_id: str) -> AUReference:
        return AUReference(
            reference_id=self.reference_id,
            detector=self._detector,
            version=self._version,
            status="error",
            message="no reference for sample",
            sample_id=sample_id,
        )

    def get_many(self, samples: Iterable[Sample], progress: bool = False) -> ReferenceView:
        """The references of ``samples`` in their order, read from the file when asked for."""
        return ReferenceView(self.by_sample, [s.id for s in samples], self._missing)


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


def resolve_reference_source(
    spec: str | ReferenceSpec, *, cache_path: str | Path | None = None, cache: bool = True
) -> ReferenceSource:
    """Turn a spec (:func:`parse_reference_spec`; ``auto`` resolved, ``none`` refused) into a ReferenceSource.

    ``cache=False`` runs a detector without the AU cache (the file is never opened). Raises
    ReferenceSpecError for an unknown spec; detector construction errors (missing extra, missing
    weights) propagate with their own message.
    """
    s = required_reference(spec)
    if s.kind in ("openface", "pyfeat-csv"):
        return _RowSource(PrecomputedSource(s.kind, str(s.path), regions=s.region_rule))
    if s.kind == "annotations":
        return _RowSource(AnnotationSource(regions=s.region_rule))
    if s.kind == "file":
        return JsonlSource(str(s.path))
    if s.kind == "saved":
        raise ReferenceSpecError(
            f"{s.text!r} is a reference saved in a run directory: use it there (tag-bench score RUN_DIR "
            f"--au-reference {s.text})"
        )
    problems: list[str] = []
    detector = build_detector(s)
    return DetectorSource(detector, open_au_cache(cache_path, problems) if cache else None, problems)
