"""The box frame each VLM family speaks, keyed by transformers' ``config.model_type``.

Shared by the ``hf`` and ``vllm`` adapters. Sources are in ``specs/tag-format.md`` §8; the choices for
families without a documented grounding convention are explained next to their entries. A user's
``--box-frame`` (``AdapterContext.box_frame``) always wins: a fine-tuned checkpoint may speak another
frame than its family (VLM-R1 says its Qwen2.5-VL boxes are in original pixels, for instance).
"""

from __future__ import annotations

from dataclasses import dataclass

from tag_bench.schema import BOX_FRAMES

#: model_type -> (frame, why). Keep in step with specs/tag-format.md §8.
FAMILY_FRAMES: dict[str, tuple[str, str]] = {
    "qwen2_vl": ("norm1000", "Qwen2-VL boxes are 0-1000 relative (Qwen2-VL paper; QwenLM/Qwen3-VL#866)"),
    "qwen2_5_vl": (
        "pixel-resized",
        "Qwen2.5-VL boxes are absolute pixels of the processor-resized input (QwenLM/Qwen3-VL#676, #866)",
    ),
    "qwen3_vl": ("norm1000", "Qwen3-VL boxes are 0-1000 relative (QwenLM/Qwen3-VL README, #1486)"),
    "qwen3_vl_moe": ("norm1000", "Qwen3-VL boxes are 0-1000 relative (QwenLM/Qwen3-VL README, #1486)"),
    "internvl": (
        "norm1000",
        "InternVL boxes are 0-1000 of the original image (InternVL chat data format docs)",
    ),
    "internvl_chat": (
        "norm1000",
        "InternVL boxes are 0-1000 of the original image (InternVL chat data format docs)",
    ),
    "llava": ("norm1", "LLaVA-1.5 boxes are 0-1 floats (lmms-eval refcoco prompt; haotian-liu/LLaVA#606)"),
    "llava_next": ("norm1", "LLaVA-NeXT keeps LLaVA-1.5's 0-1 float boxes (lmms-eval refcoco prompt)"),
    "paligemma": (
        "loc1024-yxyx",
        "PaliGemma <locYYYY> tokens, y-x order, 1024 bins (big_vision PaliGemma README)",
    ),
    # No grounding convention is documented for the next three: they were not trained for detection
    # (Gemma 3 has no location tokens and was "not previously trained for object detection", HF's
    # ariG23498/gemma3-object-detection#6; nothing for Idefics3/SmolVLM in their papers or model cards).
    # Such a model can only follow the prompt, which states the presented image size and asks for
    # pixels of that image, so the frame it is asked to speak is "pixel".
    "gemma3": (
        "pixel",
        "no documented grounding convention (no location tokens); the prompt asks for pixels",
    ),
    "idefics3": ("pixel", "no documented grounding convention; the prompt asks for pixels"),
    "smolvlm": ("pixel", "no documented grounding convention; the prompt asks for pixels"),
}

#: Frame of a family missing from the table: the prompt's own convention, with a warning.
FALLBACK_FRAME = "pixel"


@dataclass(frozen=True)
class FrameChoice:
    """The frame an adapter declares, where it came from, and a warning when it is a guess."""

    frame: str
    source: str  # "override", "family", "fallback"
    reason: str
    warning: str | None = None


def check_frame(frame: str) -> str:
    """Validate a frame name against schema.BOX_FRAMES."""
    if frame not in BOX_FRAMES:
        raise ValueError(f"unknown box frame {frame!r}; known: {', '.join(BOX_FRAMES)}")
    return frame


def frame_for(model_type: str | None, override: str | None = None) -> FrameChoice:
    """The frame for a model family, or the user's override (validated)."""
    if override:
        return FrameChoice(check_frame(override), "override", "set by the user (box_frame)")
    if model_type in FAMILY_FRAMES:
        frame, why = FAMILY_FRAMES[model_type]
        return FrameChoice(frame, "family", why)
    warning = (
        f"model family {model_type!r} has no known box convention; declaring {FALLBACK_FRAME!r} "
        "(boxes in presented-image pixels, as the prompt asks). Set --box-frame if the checkpoint "
        "was trained with another frame."
    )
    return FrameChoice(FALLBACK_FRAME, "fallback", "unknown family", warning)


def frame_details(override: str | None, family: FrameChoice) -> dict[str, str]:
    """The manifest's frame fields: the user's override, else the family's frame and why."""
    choice = frame_for(None, override) if override else family
    return {"frame": choice.frame, "frame_source": choice.source, "frame_reason": choice.reason}


def family_frames_help() -> str:
    """The family table in one line, for ``tag-bench models``."""
    family = ", ".join(f"{k}={v[0]}" for k, v in sorted(FAMILY_FRAMES.items()))
    return (
        f"per model family ({family}), other families: {FALLBACK_FRAME} with a warning; --box-frame overrides"
    )


def check_pixel_limits(min_pixels: int | None, max_pixels: int | None) -> None:
    """A pixel budget's floor must not exceed its ceiling."""
    if min_pixels and max_pixels and min_pixels > max_pixels:
        raise ValueError(f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels})")
