"""tag-bench adapters offered to lmms-eval: the ``lmms_eval.models`` entry point's payload.

lmms-eval 0.7.3 resolves ``--model NAME`` only through its ``MODEL_REGISTRY_V2`` (``@register_model``
does not reach it for outside classes); it reads this entry point when ``lmms_eval.models`` is imported.
One entry point that fails to load drops every plug-in model, so this module imports nothing heavy.
Names carry the ``tag_`` prefix: entry points overwrite built-ins of the same name (``hf``, ``openai``).
"""

from __future__ import annotations

from typing import Any

#: lmms-eval model name -> class in :mod:`tag_bench.lmms.models`.
MODELS: dict[str, str] = {
    "tag_hf": "TagHF",
    "tag_openai": "TagOpenAI",
    "tag_replay": "TagReplay",
}


def manifests() -> list[Any]:
    """The ``ModelManifest`` of every tag-bench model (simple models: text context + images)."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return [
        ModelManifest(model_id=name, simple_class_path=f"tag_bench.lmms.models.{cls}")
        for name, cls in MODELS.items()
    ]
