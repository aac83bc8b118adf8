"""Judge rubrics: the built-in ``tag_trace`` and user templates, each with an id and a content hash.

Versioned and hashed as the prompts of :mod:`tag_bench.prompts` are: ``JudgeTemplate.hash`` is the
sha256 of the template's source text (system and user text, the notes it may insert, its version), and
the hash of each rendered prompt keys the judge cache. A template is text with placeholders:

``{question}``    the question the candidates answered, with the classes, and how to read the boxes
``{response_a}``  the first response shown (its canonical trace)
``{response_b}``  the second one
``{classes}``     the task's classes, comma-separated, in the task's order
``{gold}``        the gold label: only with ``--show-gold`` (a template using it without is refused)

``{{`` and ``}}`` are literal braces; any other ``{name}`` is an error naming the placeholders, so a typo
never reaches the judge. The verdict follows MT-Bench: the judge ends with ``[[A]]``, ``[[B]]`` or
``[[C]]`` (a tie), read by :mod:`tag_bench.judge.verdict`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tag_bench._hashing import sha256_hex
from tag_bench.errors import TagBenchError
from tag_bench.prompts import HASH_CHARS

PLACEHOLDERS = ("question", "response_a", "response_b", "classes", "gold")
REQUIRED = ("response_a", "response_b")
_FIELD_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class TemplateError(TagBenchError):
    """A judge template cannot be used; the message says what to fix."""


#: How {question} reads (the same for every candidate: prompts may differ between them).
QUESTION = (
    "Which facial expression does the person in this image show? Choose exactly one of: {classes}. "
    "Support the answer with the facial Action Units (AUs) that are visible, and where each one is."
)
#: Appended to the question: how the judge reads the boxes of the canonical traces.
BOXES_SHOWN = (
    "Boxes are written [Xn: x1, y1, x2, y2] in pixels of the {size} image you see (origin top-left, x to the "
    "right, y down) and drawn on it with their label: Response A's in red (A1, A2, ...), Response B's in "
    "blue (B1, B2, ...)."
)
BOXES_TEXT_ONLY = (
    "Boxes are written [Xn: x1, y1, x2, y2] in pixels of the {size} image (origin top-left, x to the right, "
    "y down); you are not shown the image."
)
GOLD_NOTE = "\nThe correct label of this face is: {gold}.\n"

_TAG_TRACE_SYSTEM = (
    "You are an expert in facial expression analysis and the Facial Action Coding System (FACS), acting as "
    "an impartial judge of the reasoning of two AI assistants."
)
_TAG_TRACE_USER = """\
Two AI assistants answered the same question about the face in the image.

[Question]
{question}

[The Start of Response A]
{response_a}
[The End of Response A]

[The Start of Response B]
{response_b}
[The End of Response B]
{gold_note}
Judge which response gives the better grounded reasoning. For each response check:
1. Are the Action Units it cites visible on this face?
2. Is each box it cites on the region of this face where its Action Unit acts?
3. Do the cited Action Units support the answer it gives?
Prefer the response whose cited evidence is visible on this face, placed correctly and consistent with its answer. Do not let the length of the responses, their order or the names of the assistants influence you.

First compare the two responses briefly, then give your final verdict in exactly this format: "[[A]]" if Response A is better, "[[B]]" if Response B is better, and "[[C]]" for a tie."""


@dataclass(frozen=True)
class JudgeTemplate:
    """A judge rubric (see the module docstring)."""

    id: str
    version: int
    system: str | None
    user: str
    source: str  # "built-in" or the file it was read from
    builtin: bool = False  # the built-in rubric places {gold} itself (with --show-gold)

    def source_text(self) -> str:
        parts = {
            "id": self.id,
            "version": self.version,
            "system": self.system,
            "user": self.user,
            "question": QUESTION,
            "boxes": [BOXES_SHOWN, BOXES_TEXT_ONLY],
            "gold": GOLD_NOTE if self.builtin else None,
        }
        return json.dumps(parts, sort_keys=True, ensure_ascii=False)

    @cached_property
    def hash(self) -> str:
        return sha256_hex(self.source_text(), HASH_CHARS)

    @cached_property
    def fields(self) -> set[str]:
        return {m.group(1) for m in _FIELD_RE.finditer(self.user) if m.group(1) is not None}

    def check(self, *, show_gold: bool) -> None:
        """TemplateError naming what is wrong: a required placeholder missing, an unknown one, ``{gold}``
        without ``--show-gold``."""
        allowed = set(PLACEHOLDERS) | ({"gold_note"} if self.builtin else set())
        unknown = sorted(self.fields - allowed)
        if unknown:
            raise TemplateError(
                f"judge template {self.source}: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)} (write {{{{ and }}}} for literal braces)"
            )
        missing = [p for p in REQUIRED if p not in self.fields]
        if missing:
            raise TemplateError(
                f"judge template {self.source}: it never shows {', '.join('{' + p + '}' for p in missing)}; a judge "
                "template must place both responses"
            )
        if "gold" in self.fields and not show_gold:
            raise TemplateError(
                f"judge template {self.source} uses {{gold}}: pass --show-gold to show the judge the gold label"
            )

    def render(
        self,
        *,
        classes: list[str] | tuple[str, ...],
        response_a: str,
        response_b: str,
        size: tuple[int, int],
        show_image: bool,
        gold: str | None = None,
    ) -> RenderedJudgePrompt:
        """The judge prompt of one comparison in one order."""
        names = ", ".join(classes)
        boxes = (BOXES_SHOWN if show_image else BOXES_TEXT_ONLY).format(size=f"{size[0]}×{size[1]}")
        values = {
            "question": QUESTION.format(classes=names) + "\n" + boxes,
            "response_a": response_a,
            "response_b": response_b,
            "classes": names,
            "gold": gold or "",
            "gold_note": GOLD_NOTE.format(gold=gold) if (self.builtin and gold) else "",
        }

        def fill(m: re.Match[str]) -> str:
            if m.group(1) is None:
                return m.group(0)[0]  # {{ -> {, }} -> }
            return values[m.group(1)]

        user = _FIELD_RE.sub(fill, self.user)
        return RenderedJudgePrompt(
            system=self.system,
            user=user,
            hash=sha256_hex((self.system or "") + "\n\x00\n" + user, HASH_CHARS),
        )


@dataclass(frozen=True)
class RenderedJudgePrompt:
    system: str | None
    user: str
    hash: str  # of the rendered system + user text


TAG_TRACE = JudgeTemplate(
    id="tag_trace", version=1, system=_TAG_TRACE_SYSTEM, user=_TAG_TRACE_USER, source="built-in", builtin=True
)
TEMPLATES: dict[str, JudgeTemplate] = {TAG_TRACE.id: TAG_TRACE}


def load_template(path: str | Path | None) -> JudgeTemplate:
    """The built-in ``tag_trace`` (``None``, or its id), or the user rubric in a text file (the whole
    file is the user message; no system message)."""
    if path is None or str(path) in TEMPLATES:
        return TEMPLATES[str(path or TAG_TRACE.id)]
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TemplateError(f"cannot read the judge template {p}: {e}") from None
    if not text.strip():
        raise TemplateError(f"the judge template {p} is empty")
    return JudgeTemplate(id=f"file:{p.name}", version=1, system=None, user=text, source=str(p))
