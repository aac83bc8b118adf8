"""AU reference: where each Action Unit lives in a face image and how active it is.

Sources are named and versioned (``reference_id`` such as ``mediapipe-geometric-tight@1``):

- detectors that look at pixels (``get_detector``): ``mediapipe-blendshapes`` (offline default),
  ``mediapipe-geometric`` (landmark heuristics), ``pyfeat-v2`` (py-feat with local weights) and
  ``openface-static`` (OpenFace's static AU models from the user's folder);
- precomputed OpenFace / py-feat CSVs, dataset landmark annotations and JSONL files of records
  (``resolve_reference_source``).

Every reference is named by one spec grammar (``parse_reference_spec``, docs/au-reference.md).

Region boxes follow JAA-Net (``tight``) or AU R-CNN (``loose``) rules (``regions``). References are
cached in SQLite (``AUCache``). Heavy dependencies (mediapipe, py-feat, torch) load only when a
detector is built.
"""

from __future__ import annotations

from tag_bench.au.base import (
    AUDetector,
    AUDetectorError,
    BaseAUDetector,
    detector_names,
    get_detector,
    is_detector_name,
    register_detector,
    split_detector_name,
)
from tag_bench.au.cache import AUCache, CachedDetector, detect_cached, detect_cached_many
from tag_bench.au.overlay import draw_reference
from tag_bench.au.regions import REGION_RULES, au_regions
from tag_bench.au.sources import (
    ReferenceSource,
    ReferenceSpec,
    ReferenceSpecError,
    parse_reference_spec,
    parse_reference_specs,
    resolve_reference_source,
)

__all__ = [
    "REGION_RULES",
    "AUCache",
    "AUDetector",
    "AUDetectorError",
    "BaseAUDetector",
    "CachedDetector",
    "ReferenceSource",
    "ReferenceSpec",
    "ReferenceSpecError",
    "au_regions",
    "detect_cached",
    "detect_cached_many",
    "detector_names",
    "draw_reference",
    "get_detector",
    "is_detector_name",
    "parse_reference_spec",
    "parse_reference_specs",
    "register_detector",
    "resolve_reference_source",
    "split_detector_name",
]
