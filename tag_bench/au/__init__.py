"""AU reference: where each Action Unit lives in a face image and how active it is.

Sources are named and versioned (``reference_id`` such as ``mediapipe-geometric-tight@1``):

- detectors that look at pixels (``get_detector``): ``mediapipe-geometric`` (offline default:
  MediaPipe 0.10.21 landmarks + geometric heuristics) and ``pyfeat-v2`` (py-feat with local weights);
- precomputed OpenFace / py-feat CSVs, dataset landmark annotations and JSONL files of records
  (``resolve_reference_source``).

Region boxes follow JAA-Net (``tight``) or AU R-CNN (``loose``) rules (``regions``). References are
cached in SQLite (``AUCache``). Heavy dependencies (mediapipe, py-feat, torch) load only when a
detector is built.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "AUDetector": "tag_bench.au.base",
    "AUDetectorError": "tag_bench.au.base",
    "BaseAUDetector": "tag_bench.au.base",
    "get_detector": "tag_bench.au.base",
    "detector_names": "tag_bench.au.base",
    "register_detector": "tag_bench.au.base",
    "is_detector_name": "tag_bench.au.base",
    "split_detector_name": "tag_bench.au.base",
    "AUCache": "tag_bench.au.cache",
    "CachedDetector": "tag_bench.au.cache",
    "detect_cached": "tag_bench.au.cache",
    "detect_cached_many": "tag_bench.au.cache",
    "ReferenceSource": "tag_bench.au.sources",
    "resolve_reference_source": "tag_bench.au.sources",
    "au_regions": "tag_bench.au.regions",
    "REGION_RULES": "tag_bench.au.regions",
    "draw_reference": "tag_bench.au.overlay",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tag_bench.au' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
