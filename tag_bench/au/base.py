"""The AU detector contract, shared record building, and the detector registry.

An ``AUDetector`` turns one image into an :class:`~tag_bench.schema.AUReference`: status
(``ok`` / ``no_face`` / ``error`` with a message), face box, 68 landmarks, and per AU a score in
[0, 1], ``active`` (score >= the detector's documented threshold), a merged region box and the
per-side boxes (image-left, image-right), all in pixels of the input image. ``detect`` never raises
for a bad image: unreadable or non-image input gives status ``error``.

Detectors are found by name (``get_detector``) in one registry: the built-ins, ``register_detector``
calls and the entry-point group ``tag_bench.au_detectors`` (an entry point names a class or factory
called with the parameters); a name registered twice is an error naming both. A name may carry the
region rule (``mediapipe-geometric-loose``) and a version pin (``...@1``), split by
:func:`split_detector_name`: the name part of the AU reference grammar (:mod:`tag_bench.au.sources`).
"""

from __future__ import annotations

import contextlib
import difflib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tag_bench._hashing import stable_hash
from tag_bench._registry import Registry, RegistryError
from tag_bench.au.regions import REGION_RULES, merged
from tag_bench.errors import TagBenchError
from tag_bench.facs import au_sort_key
from tag_bench.schema import AUReference, AUState

ENTRY_POINT_GROUP = "tag_bench.au_detectors"

#: The offline default AU reference (``--au-reference auto``, ``tag-bench au detect``, the demo):
#: MediaPipe's learned blendshapes on the bundle shipped with tag-bench (needs tag-bench[landmarks]).
DEFAULT_DETECTOR = "mediapipe-blendshapes"


class AUDetectorError(TagBenchError, ValueError):
    """A detector cannot be built or found; the message says what to fix."""


@runtime_checkable
class AUDetector(Protocol):
    """What the harness needs from an AU source that looks at pixels."""

    name: str  # e.g. "mediapipe-geometric"
    version: str
    region_rule: str  # "tight" / "loose"
    threshold: float | None

    @property
    def reference_id(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...

    def detect(
        self, image: Any, *, image_sha256: str | None = None, sample_id: str | None = None
    ) -> AUReference: ...


def params_hash(params: Mapping[str, Any]) -> str:
    """Stable short hash of JSON-able parameters (part of the cache key)."""
    return stable_hash(dict(params), 16)


def as_rgb_array(image: Any) -> np.ndarray:
    """An H x W x 3 uint8 RGB array from a PIL image, an array (grey, RGB, RGBA; uint8 or float) or a
    file path. Raises ValueError / OSError with a readable message for anything else."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as im:
                im.load()
                image = im.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
            raise ValueError(f"cannot decode image {image}: {e}") from e
    if isinstance(image, Image.Image):
        if image.mode != "RGB":
            image = image.convert("RGB")
        arr = np.asarray(image, dtype=np.uint8)
    elif isinstance(image, np.ndarray):
        arr = image
    else:
        raise ValueError(f"expected a PIL image, a numpy array or a path, got {type(image).__name__}")
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"expected an H x W (x 1/3/4) image array, got shape {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"unsupported image array dtype {arr.dtype}")
        a = arr.astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError("image array has non-finite values")
        if np.issubdtype(arr.dtype, np.floating) and a.max(initial=0.0) <= 1.0:
            a = a * 255.0
        arr = np.clip(np.round(a), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


#: Record precision: coordinates to 0.01 px, scores to 1e-4 (halves record size; far below any
#: landmark's accuracy).
COORD_DECIMALS = 2
SCORE_DECIMALS = 4


def box_list(box: Any) -> list[float]:
    """A box as 4 rounded floats."""
    return [round(float(v), COORD_DECIMALS) for v in box]


def point_list(points: Any) -> list[tuple[float, float]]:
    """(x, y) points as rounded float pairs."""
    return [(round(float(x), COORD_DECIMALS), round(float(y), COORD_DECIMALS)) for x, y in points]


def build_states(
    regions: Mapping[str, tuple[list[float], list[float]]] | None,
    scores: Mapping[str, float | None] | None,
    threshold: float | Mapping[str, float] | None,
    sources: str | Mapping[str, str] | None = None,
) -> dict[str, AUState]:
    """AU states from per-side region boxes and scores; AUs sorted by number.

    ``threshold`` and ``sources`` are one value for every AU or one per AU; a scored AU records both
    (where its number came from, what it was judged with). An AU present in only one of the two
    inputs gets ``box=None`` or ``score=None`` (and no source or threshold).
    """
    regions = regions or {}
    scores = scores or {}
    out: dict[str, AUState] = {}
    for au in sorted(set(regions) | set(scores), key=au_sort_key):
        score = scores.get(au)
        th = source = None
        active = None
        if score is not None:
            score = round(float(min(max(score, 0.0), 1.0)), SCORE_DECIMALS)
            th = threshold.get(au) if isinstance(threshold, Mapping) else threshold
            source = sources.get(au) if isinstance(sources, Mapping) else sources
            active = None if th is None else bool(score >= th)
        sides = regions.get(au)
        boxes = [box_list(b) for b in sides] if sides else []
        out[au] = AUState(
            score=score,
            active=active,
            box=merged(boxes) if boxes else None,
            boxes=boxes,
            source=source,
            threshold=th,
        )
    return out


class BaseAUDetector(ABC):
    """Shared behaviour: input coercion, error capture and record assembly.

    Subclasses set ``name``, ``version``, ``threshold`` and ``region_rule`` and implement
    ``_detect(rgb) -> dict`` returning the record fields (status, face_box, landmarks, aus, message).
    """

    name: str = ""
    version: str = ""
    threshold: float | None = None
    region_rule: str = "tight"
    model_sha256: str | None = None

    @property
    def reference_id(self) -> str:
        return f"{self.name}-{self.region_rule}@{self.version}"

    @property
    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Every setting that changes the output (JSON-able); part of the cache key."""

    @abstractmethod
    def _detect(self, rgb: np.ndarray) -> dict[str, Any]: ...

    def reference(self, **fields: Any) -> AUReference:
        """An AUReference stamped with this detector's identity."""
        return AUReference(
            reference_id=self.reference_id,
            detector=self.name,
            version=self.version,
            params=self.params,
            threshold=self.threshold,
            model_sha256=self.model_sha256,
            **fields,
        )

    def detect(
        self, image: Any, *, image_sha256: str | None = None, sample_id: str | None = None
    ) -> AUReference:
        try:
            rgb = as_rgb_array(image)
        except Exception as e:  # any undecodable input is a recorded error, never a crash
            return self.reference(
                status="error",
                message=f"unreadable image: {e}",
                sample_id=sample_id,
                image_sha256=image_sha256,
            )
        size = (int(rgb.shape[1]), int(rgb.shape[0]))
        try:
            fields = self._detect(rgb)
        except Exception as e:
            return self.reference(
                status="error",
                message=f"{type(e).__name__}: {e}",
                sample_id=sample_id,
                image_sha256=image_sha256,
                image_size=size,
            )
        return self.reference(sample_id=sample_id, image_sha256=image_sha256, image_size=size, **fields)


# --------------------------------------------------------------------------------------------------
# Registry

#: base name -> class or factory called with the detector's parameters; every one accepts
#: ``regions=`` ("tight" / "loose").
_DETECTORS: Registry[Callable[..., AUDetector]] = Registry("AU detector", ENTRY_POINT_GROUP)
for _name, _target in {
    "mediapipe-blendshapes": "tag_bench.au.blendshapes:MediaPipeBlendshapesDetector",
    "mediapipe-geometric": "tag_bench.au.geometric:MediaPipeGeometricDetector",
    "openface-static": "tag_bench.au.openface.detector:OpenFaceStaticDetector",
    "pyfeat-v2": "tag_bench.au.pyfeat:PyFeatV2Detector",
}.items():
    _DETECTORS.register(_name, _target, source=f"built-in {_target}")


@contextlib.contextmanager
def _detector_errors() -> Iterator[None]:
    try:
        yield
    except RegistryError as e:
        raise AUDetectorError(str(e)) from e


def split_detector_name(name: str) -> tuple[str, str | None, str | None]:
    """``"pyfeat-v2-loose@2.1.5"`` -> ("pyfeat-v2", "loose", "2.1.5")."""
    head, _, version = name.partition("@")
    base, rule = split_region_rule(head)
    return base, rule, (version or None)


def split_region_rule(head: str) -> tuple[str, str | None]:
    """``openface-loose`` -> ("openface", "loose"); no rule -> (head, None)."""
    for r in REGION_RULES:
        if head.endswith(f"-{r}"):
            return head[: -len(r) - 1], r
    return head, None


def register_detector(name: str, factory: Callable[..., Any] | str) -> None:
    """Register a detector factory (a callable, or ``"module:attr"``) under a base name."""
    if split_detector_name(name) != (name, None, None) or "@" in name:
        raise AUDetectorError(f"detector name {name!r} must not end in a region rule or carry a version")
    with _detector_errors():
        _DETECTORS.register(name, factory)


def detector_names() -> list[str]:
    """Every detector name ``get_detector`` accepts (``-tight`` is also accepted, as the default)."""
    with _detector_errors():
        bases = _DETECTORS.names()
    return sorted(n for base in bases for n in (base, f"{base}-loose"))


def is_detector_name(name: str) -> bool:
    with _detector_errors():
        return split_detector_name(name)[0] in _DETECTORS


def get_detector(name: str, **params: Any) -> AUDetector:
    """Build a detector by name, e.g. ``get_detector("mediapipe-geometric-loose", face_policy="center")``.

    Raises AUDetectorError naming the known detectors, or when a version pin does not match.
    """
    base, rule, version = split_detector_name(name)
    if rule is not None:
        if "regions" in params and params["regions"] != rule:
            raise AUDetectorError(
                f"{name!r} names regions {rule!r} but regions={params['regions']!r} was given"
            )
        params["regions"] = rule
    with _detector_errors():
        if base not in _DETECTORS:
            known = detector_names()
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            raise AUDetectorError(f"unknown AU detector {name!r}{hint}; known: {', '.join(known)}")
        factory = _DETECTORS.get(base)
    det = factory(**params)
    if version is not None and det.version != version:
        raise AUDetectorError(
            f"{name!r} asks for version {version}, but the installed {base} detector is version {det.version}"
        )
    return det
