"""Helpers for writing a model adapter: generation settings, request checks, chat messages, grouping.

Public: built-in and plug-in adapters import from here. Typical ``generate``::

    outputs, groups = group_requests(requests, self.context.seed)   # bad requests already answered
    for settings, idxs in groups.values():                          # one group per equal settings
        ...                                                         # run idxs, fill outputs[i]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from tag_bench.models.base import DEFAULT_GEN_KWARGS, GenerationOutput, GenerationRequest

__all__ = [
    "GEN_KWARGS",
    "GenSettings",
    "chat_messages",
    "check_request",
    "error_text",
    "gen_settings",
    "group_requests",
    "rgb",
    "truncate_at_stop",
]

#: Generation settings the adapters understand (anything else is that request's error).
GEN_KWARGS = (
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "do_sample",
    "repetition_penalty",
    "seed",
    "stop",
)


@dataclass(frozen=True)
class GenSettings:
    """Generation settings of one request, validated and normalised."""

    max_new_tokens: int
    do_sample: bool
    temperature: float | None
    top_p: float | None
    top_k: int | None
    repetition_penalty: float | None
    seed: int | None
    stop: tuple[str, ...]

    def key(self) -> str:
        """Requests with equal keys can share one batch."""
        return json.dumps(self.__dict__, sort_keys=True, default=list)


def gen_settings(gen_kwargs: dict[str, Any] | None, default_seed: int | None = None) -> GenSettings:
    """Normalise a request's gen kwargs; raises ValueError naming the bad setting.

    Missing settings take :data:`DEFAULT_GEN_KWARGS`. Temperature 0 (or none) means greedy decoding.
    A temperature above 0 samples unless ``do_sample=False`` is given too; ``do_sample=True`` without
    a temperature samples at the model's own default temperature. ``seed`` (default: the run seed)
    seeds sampled decoding; greedy decoding ignores it.
    """
    user = dict(gen_kwargs or {})
    unknown = sorted(set(user) - set(GEN_KWARGS))
    if unknown:
        raise ValueError(f"unsupported generation setting(s) {unknown}; supported: {', '.join(GEN_KWARGS)}")
    max_new = user.get("max_new_tokens", DEFAULT_GEN_KWARGS["max_new_tokens"])
    if not isinstance(max_new, int) or isinstance(max_new, bool) or max_new < 1:
        raise ValueError(f"max_new_tokens must be a positive integer, got {max_new!r}")
    temperature = _opt_float(user, "temperature", minimum=0.0)
    if "do_sample" in user:
        do_sample = bool(user["do_sample"]) and temperature != 0.0
    else:
        do_sample = temperature is not None and temperature > 0.0
    top_p = _opt_float(user, "top_p", minimum=0.0, maximum=1.0)
    top_k = user.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0):
        raise ValueError(f"top_k must be a non-negative integer, got {top_k!r}")
    rep = _opt_float(user, "repetition_penalty", minimum=0.0)
    seed = user.get("seed", default_seed)
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    stop = user.get("stop") or ()
    if isinstance(stop, str):
        stop = (stop,)
    if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) and s for s in stop):
        raise ValueError(f"stop must be a string or a list of non-empty strings, got {stop!r}")
    return GenSettings(
        max_new_tokens=max_new,
        do_sample=do_sample,
        temperature=temperature if do_sample else None,
        top_p=top_p if do_sample else None,
        top_k=top_k if do_sample else None,
        repetition_penalty=rep,
        seed=seed if do_sample else None,
        stop=tuple(stop),
    )


def _opt_float(d: dict[str, Any], key: str, minimum: float, maximum: float | None = None) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < minimum:
        raise ValueError(f"{key} must be a number >= {minimum}, got {v!r}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{key} must be <= {maximum}, got {v!r}")
    return float(v)


def truncate_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Cut ``text`` before the first stop string (as OpenAI servers do); returns (text, hit)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def check_request(req: GenerationRequest) -> str | None:
    """Why a request cannot be sent to a model at all, or None."""
    from PIL import Image

    img = req.image
    if not isinstance(img, Image.Image):
        return f"request image is not a PIL image (got {type(img).__name__})"
    w, h = img.size
    if w < 1 or h < 1:
        return f"request image is empty ({w}x{h})"
    if not isinstance(req.prompt, str):
        return f"request prompt is not text (got {type(req.prompt).__name__})"
    return None


def rgb(img: Any) -> Any:
    """The image in RGB (the contract says RGB; a stray RGBA or L image is converted, not refused)."""
    return img if img.mode == "RGB" else img.convert("RGB")


def chat_messages(req: GenerationRequest, image_part: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A chat with an optional system message and one user turn: the image (unless the request is asked
    without it, or ``image_part`` is None), then the prompt."""
    messages: list[dict[str, Any]] = []
    if req.system:
        messages.append({"role": "system", "content": [{"type": "text", "text": req.system}]})
    parts = [image_part] if image_part is not None and req.show_image else []
    messages.append({"role": "user", "content": [*parts, {"type": "text", "text": req.prompt}]})
    return messages


def error_text(exc: BaseException) -> str:
    """One-line description of a failure for a GenerationOutput."""
    msg = " ".join(str(exc).split())
    if len(msg) > 500:
        msg = msg[:497] + "..."
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def group_requests(
    requests: list[GenerationRequest], default_seed: int | None
) -> tuple[list[GenerationOutput | None], dict[str, tuple[GenSettings, list[int]]]]:
    """Validate requests; bad ones get their error output, good ones are grouped by settings."""
    outputs: list[GenerationOutput | None] = [None] * len(requests)
    groups: dict[str, tuple[GenSettings, list[int]]] = {}
    for i, req in enumerate(requests):
        problem = check_request(req)
        if problem is None:
            try:
                settings = gen_settings(req.gen_kwargs, default_seed)
            except ValueError as e:
                problem = str(e)
        if problem is not None:
            outputs[i] = GenerationOutput(text=None, error=problem)
            continue
        groups.setdefault(settings.key(), (settings, []))[1].append(i)
    return outputs, groups
