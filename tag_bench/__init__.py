"""tag-bench: evaluation and faithfulness benchmark for VLMs on facial expression recognition.

``import tag_bench`` is light: heavy parts (torch, transformers, vllm, mediapipe, py-feat) load only
when an adapter or detector that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use)
_LAZY: dict[str, str] = {
    # stages
    "evaluate": "tag_bench.generate.evaluate",
    "load_task": "tag_bench.tasks",
    "discover_tasks": "tag_bench.tasks",
    "Task": "tag_bench.tasks",
    "get_model": "tag_bench.models.base",
    "render_prompt": "tag_bench.prompts",
    "parse_response": "tag_bench.parsing",
    "score_run": "tag_bench.scoring.run",
    "score_sample": "tag_bench.scoring",
    "compute_metrics": "tag_bench.scoring",
    "compare_metrics": "tag_bench.scoring",
    "get_detector": "tag_bench.au",
    "resolve_reference_source": "tag_bench.au.sources",
    # records
    "Sample": "tag_bench.schema",
    "AUReference": "tag_bench.schema",
    "AUState": "tag_bench.schema",
    "Generation": "tag_bench.schema",
    "Parsed": "tag_bench.schema",
    "Evidence": "tag_bench.schema",
    "ScoredSample": "tag_bench.schema",
    "RunManifest": "tag_bench.schema",
    "MetricValue": "tag_bench.schema",
    "CANONICAL_EMOTIONS": "tag_bench.schema",
    "COMMON7": "tag_bench.schema",
    # FACS
    "AU_CATALOGUE": "tag_bench.facs",
    "EMFACS_PROTOTYPES": "tag_bench.facs",
    "canonical_emotion": "tag_bench.facs",
    "au_code": "tag_bench.facs",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tag_bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
