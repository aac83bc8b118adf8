"""Prompt templates, each with a fixed id and a content hash recorded in every run.

Three templates:

- ``tag_grounded``: the TAG trace (``Global analysis:`` / ``Verification loop:`` with one AU and one
  box per step / ``Final conclusion:`` / ``<answer>label</answer>``).
- ``cot``: free step-by-step reasoning in ``<think>``, optional boxes, then ``<answer>``.
- ``direct``: the label only, in ``<answer>``; no coordinate instruction.

The task's class list is injected verbatim, in the task's order. The coordinate instruction matches the
adapter's declared box frame (``schema.BOX_FRAMES``), so a model is asked for boxes in the frame the
parser will read them in. ``template_hash`` is the sha256 of a template's source text (including the
frame instructions it can use); ``RenderedPrompt.hash`` is the sha256 of the rendered text. Both change
whenever a single character of the prompt does (prompt drift shows up in every record).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from string import Template

from tag_bench._hashing import sha256_hex
from tag_bench.schema import BOX_FRAMES, CANONICAL_EMOTIONS

HASH_CHARS = 16

SYSTEM_EXPERT = (
    "You are an expert in facial expression recognition and the Facial Action Coding System (FACS)."
)

_CORNERS = "(x1,y1) is the top-left corner and (x2,y2) the bottom-right corner of the box."

#: frame -> (box syntax shown in the step template, coordinate instruction). ``$size`` is filled with
#: "W×H " when the presented image size is known (pixel frame only).
FRAME_INSTRUCTIONS: dict[str, tuple[str, str]] = {
    "pixel": (
        "[x1,y1,x2,y2]",
        "integer pixel coordinates of this ${size}image, origin top-left (x grows to the right, y grows "
        "downward); " + _CORNERS,
    ),
    "pixel-resized": (
        "[x1,y1,x2,y2]",
        "integer pixel coordinates of the image as you receive it (after any resizing on your side), "
        "origin top-left (x grows to the right, y grows downward); " + _CORNERS,
    ),
    "norm1000": (
        "[x1,y1,x2,y2]",
        "integers from 0 to 1000 relative to the image width (x) and height (y): 0 is the left or top "
        "edge, 1000 the right or bottom edge, origin top-left; " + _CORNERS,
    ),
    "norm1000-yxyx": (
        "[ymin,xmin,ymax,xmax]",
        "[ymin,xmin,ymax,xmax] with y first: integers from 0 to 1000 relative to the image height (y) and "
        "width (x): 0 is the top or left edge, 1000 the bottom or right edge, origin top-left.",
    ),
    "norm1": (
        "[x1,y1,x2,y2]",
        "decimal numbers from 0 to 1 (for example 0.25) relative to the image width (x) and height (y), "
        "origin top-left; " + _CORNERS,
    ),
    "loc1024-yxyx": (
        "<locY1><locX1><locY2><locX2>",
        "four location tokens <locNNNN> (NNNN from 0000 to 1023) in the order ymin, xmin, ymax, xmax; "
        "each is the coordinate divided by the image height (y) or width (x) and multiplied by 1024, "
        "origin top-left.",
    ),
}
assert set(FRAME_INSTRUCTIONS) == set(BOX_FRAMES)


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt template. ``user`` uses ``$classes``, ``$box`` and ``$coordinates`` placeholders."""

    id: str
    description: str
    system: str
    user: str
    uses_frame: bool  # the user text has the box syntax and coordinate instruction of a frame
    asks_evidence: bool  # the model is asked to cite AUs / boxes (else no grounding metric is computed)

    def source_text(self) -> str:
        """Everything that can end up in a rendered prompt, in a canonical serialisation."""
        parts: dict[str, object] = {"id": self.id, "system": self.system, "user": self.user}
        if self.uses_frame:
            parts["frames"] = {f: list(v) for f, v in sorted(FRAME_INSTRUCTIONS.items())}
        return json.dumps(parts, sort_keys=True, ensure_ascii=False)

    @cached_property
    def hash(self) -> str:
        """Short sha256 hex of :meth:`source_text`."""
        return _sha(self.source_text())


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt ready for a model, with the ids and hashes a run records."""

    system: str
    user: str
    prompt_id: str
    template_hash: str
    hash: str  # sha256 (short hex) of the rendered system + user text
    frame: str | None
    classes: tuple[str, ...]

    def messages(self) -> list[dict[str, str]]:
        """OpenAI-style text messages (the adapter adds the image to the user turn)."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


_TAG_GROUNDED_USER = """\
Classify the facial expression of the person in this image as exactly one of: $classes.

Ground your reasoning in facial Action Units (AUs) and show where each one is. Answer in exactly this format:

Global analysis: <one or two sentences about the whole face>
Verification loop:
Inspect <region> → <observation> (AU<n>) → <bbox>$box</bbox>
Inspect <region> → <observation> (AU<n>) → <bbox>$box</bbox>
(one line per inspected region; each step cites exactly ONE AU code, written like AU4 or AU12, and the box of that AU's region)
Final conclusion: <which AUs support which emotion>
<answer>label</answer>

Box coordinates: $coordinates
The label inside <answer></answer> must be exactly one of: $classes."""

_COT_USER = """\
Which facial expression does the person in this image show? Choose exactly one of: $classes.

First think step by step inside <think></think>: describe the facial muscle movements you see and name them as Action Units (for example AU6, AU12). When you refer to a facial region, you may give its box as <bbox>$box</bbox>.
Box coordinates: $coordinates
Then give your final answer as <answer>label</answer>, where label is exactly one of: $classes."""

_DIRECT_USER = """\
Which facial expression does the person in this image show? Choose exactly one of: $classes.
Reply with the label only, inside answer tags: <answer>label</answer>"""

PROMPTS: dict[str, PromptTemplate] = {
    t.id: t
    for t in (
        PromptTemplate(
            id="tag_grounded",
            description="TAG trace: global analysis, one AU and one box per verification step, conclusion, answer",
            system=SYSTEM_EXPERT,
            user=_TAG_GROUNDED_USER,
            uses_frame=True,
            asks_evidence=True,
        ),
        PromptTemplate(
            id="cot",
            description="free step-by-step reasoning in <think> naming AUs (boxes optional), then <answer>",
            system=SYSTEM_EXPERT,
            user=_COT_USER,
            uses_frame=True,
            asks_evidence=True,
        ),
        PromptTemplate(
            id="direct",
            description="the label only, inside <answer>",
            system=SYSTEM_EXPERT,
            user=_DIRECT_USER,
            uses_frame=False,
            asks_evidence=False,
        ),
    )
}


def list_prompts() -> list[str]:
    """Ids of the built-in prompt templates."""
    return list(PROMPTS)


def asks_evidence(prompt_id: str) -> bool:
    """Whether the prompt asks the model for evidence (AUs, boxes). An unknown id is taken to: a run is
    never denied grounding metrics on a guess."""
    template = PROMPTS.get(prompt_id)
    return True if template is None else template.asks_evidence


def get_template(prompt_id: str) -> PromptTemplate:
    """The template for ``prompt_id``; ValueError naming the valid ids otherwise."""
    try:
        return PROMPTS[prompt_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown prompt id {prompt_id!r}; valid: {', '.join(PROMPTS)}") from None


def coordinate_instruction(frame: str, image_size: tuple[int, int] | None = None) -> tuple[str, str]:
    """(box syntax, coordinate instruction) for ``frame``; ValueError naming the valid frames otherwise."""
    if frame not in FRAME_INSTRUCTIONS:
        raise ValueError(f"unknown box frame {frame!r}; valid: {', '.join(BOX_FRAMES)}")
    box, text = FRAME_INSTRUCTIONS[frame]
    size = ""
    if image_size is not None:
        w, h = _check_size(image_size)
        size = f"{w}×{h} "
    return box, Template(text).substitute(size=size)


def render_prompt(
    prompt_id: str,
    classes: list[str] | tuple[str, ...],
    frame: str | None,
    image_size: tuple[int, int] | None = None,
) -> RenderedPrompt:
    """Render a template for one task (class list, in order) and one adapter frame.

    ``image_size`` is the presented image (w, h); only the ``pixel`` frame states it. ``frame`` may be
    None only for templates without boxes (``direct``).
    """
    template = get_template(prompt_id)
    classes = _check_classes(classes)
    box, coordinates = "", ""
    if template.uses_frame:
        if frame is None:
            raise ValueError(f"prompt {prompt_id!r} asks for boxes: a frame is required; valid: {BOX_FRAMES}")
        box, coordinates = coordinate_instruction(frame, image_size)
    elif frame is not None and frame not in FRAME_INSTRUCTIONS:
        raise ValueError(f"unknown box frame {frame!r}; valid: {', '.join(BOX_FRAMES)}")
    user = Template(template.user).substitute(classes=", ".join(classes), box=box, coordinates=coordinates)
    return RenderedPrompt(
        system=template.system,
        user=user,
        prompt_id=template.id,
        template_hash=template.hash,
        hash=_sha(template.system + "\n\x00\n" + user),
        frame=frame,
        classes=tuple(classes),
    )


def _check_classes(classes: list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(classes, str) or not classes:
        raise ValueError(f"classes must be a non-empty list of canonical emotion names {CANONICAL_EMOTIONS}")
    out = list(classes)
    bad = [c for c in out if c not in CANONICAL_EMOTIONS]
    if bad:
        raise ValueError(f"classes must be canonical emotion names {CANONICAL_EMOTIONS}; got {bad}")
    if len(set(out)) != len(out):
        raise ValueError(f"classes contain duplicates: {out}")
    return out


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        w, h = size
        ok = int(w) == w and int(h) == h and w > 0 and h > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"image_size must be (width, height) positive integers, got {size!r}")
    return int(w), int(h)


def _sha(text: str) -> str:
    return sha256_hex(text, HASH_CHARS)
