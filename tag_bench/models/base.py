"""The model adapter contract: a batch of requests in, one output per request back.

The engine owns batching limits, caching, resume and progress; an adapter owns only its model.
An adapter never raises for one bad request: it returns an output with ``error`` set (the sample is
then recorded with status ``error`` and stays in the denominator). Raising is for failures that
affect every request (model cannot load, server unreachable after all retries at start-up).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

    from tag_bench.schema import AUReference, Sample

ENTRY_POINT_GROUP = "tag_bench.models"

#: Generation settings applied when the user gives none: greedy decoding, room for a TAG trace.
DEFAULT_GEN_KWARGS: dict[str, Any] = {"max_new_tokens": 512, "temperature": 0.0, "do_sample": False}


@dataclass
class GenerationRequest:
    sample_id: str
    image: PILImage.Image  # the presented image, RGB
    prompt: str  # user text: the task prompt with classes and the frame's coordinate instruction
    system: str | None = None
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    sample: Sample | None = None
    reference: AUReference | None = None  # filled only for adapters with needs_reference = True


@dataclass
class GenerationOutput:
    text: str | None
    finish_reason: str | None = None  # "stop", "length", ...
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_size: tuple[int, int] | None = None  # (w, h) the model saw after its own resize
    latency_s: float | None = None
    error: str | None = None  # this request failed; text is then None
    frame: str | None = None  # per-output frame, when it differs from the adapter's (replay files)


@runtime_checkable
class ModelAdapter(Protocol):
    """What the engine needs from a model."""

    name: str  # adapter name, e.g. "hf"
    frame: str  # box frame the model speaks (see schema.BOX_FRAMES)
    needs_reference: bool  # the engine passes the AU reference in each request (baselines)
    oracle_reference: bool  # reads the AU reference: its grounding is an upper bound by construction

    def fingerprint(self) -> str:
        """Stable identity of the model and everything that changes its outputs (cache key part)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Arguments for the manifest, secrets redacted."""
        ...

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]: ...

    def close(self) -> None: ...


def fingerprint_of(*parts: Any) -> str:
    """A short stable hash of JSON-able parts."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


# --------------------------------------------------------------------------------------------------
# Model arguments: "k=v,k2=v2" as in lmms-eval, with typed values.

SECRET_KEYS = ("api_key", "key", "token", "secret", "password", "authorization", "auth")


def parse_kv(text: str | None) -> dict[str, Any]:
    """Parse ``pretrained=Qwen/Qwen2.5-VL-7B-Instruct,dtype=bfloat16,batch=4`` into typed values."""
    out: dict[str, Any] = {}
    if not text:
        return out
    for part in _split_top_level(text):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"expected key=value in {text!r}, got {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = _typed(v.strip())
    return out


def _split_top_level(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _typed(v: str) -> Any:
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    if v[:1] in "[{":
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            pass
    return v


def is_secret_name(name: str) -> bool:
    """``api_key``, ``hf_token``, ``client_secret``, ``password`` ... but not ``max_new_tokens``."""
    n = name.lower().replace("-", "_")
    if n.endswith("_env"):  # names an environment variable; the value is not the secret
        return False
    return any(n == s or n.endswith("_" + s) for s in SECRET_KEYS)


def redact(args: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``args`` with secret-looking values replaced."""
    return {k: ("<redacted>" if is_secret_name(k) else v) for k, v in args.items()}


# --------------------------------------------------------------------------------------------------
# Registry

_ADAPTERS: dict[str, str] = {
    "hf": "tag_bench.models.hf:HFAdapter",
    "vllm": "tag_bench.models.vllm:VLLMAdapter",
    "openai": "tag_bench.models.openai_api:OpenAIAdapter",
    "replay": "tag_bench.models.replay:ReplayAdapter",
    "facs-rules": "tag_bench.models.baselines:FacsRulesBaseline",
    "random": "tag_bench.models.baselines:RandomBaseline",
    "majority": "tag_bench.models.baselines:MajorityBaseline",
}


def adapter_names() -> list[str]:
    names = set(_ADAPTERS)
    names.update(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def _resolve(name: str) -> Callable[..., ModelAdapter]:
    target = _ADAPTERS.get(name)
    if target is not None:
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()
    raise ValueError(f"unknown model adapter {name!r}; known: {', '.join(adapter_names())}")


@dataclass
class AdapterContext:
    """Run-level facts an adapter may use; passed as ``context=`` next to the user's model args."""

    classes: list[str] = field(default_factory=list)  # the task's class list
    seed: int = 0
    box_frame: str | None = None  # user override of the adapter's declared frame (--box-frame)
    task: str | None = None
    label_counts: dict[str, int] = field(default_factory=dict)  # gold label counts of the split


def get_model(
    name: str, model_args: str | dict[str, Any] | None = None, context: AdapterContext | None = None
) -> ModelAdapter:
    """Build an adapter by name: ``Adapter(**model_args, context=context)``.

    Unknown model args are an error naming the ones the adapter accepts.
    """
    import inspect

    args = parse_kv(model_args) if isinstance(model_args, str) or model_args is None else dict(model_args)
    factory = _resolve(name)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # builtins / C callables
        params = {}
    if params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(args) - set(params))
        if unknown:
            accepted = ", ".join(p for p in params if p != "context")
            raise ValueError(f"unknown model arg(s) {unknown} for adapter {name!r}; accepted: {accepted}")
    return factory(**args, context=context or AdapterContext())
