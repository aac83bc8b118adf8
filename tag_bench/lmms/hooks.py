"""The ``!function`` targets of exported task YAMLs: image, prompt and scoring of one lmms-eval doc.

lmms-eval imports these by module path (``!function tag_bench.lmms.hooks.doc_to_text``), so the YAMLs
work wherever tag-bench is installed. The prompt is tag-bench's own (:func:`tag_bench.prompts.render_prompt`,
same id and hash as ``tag-bench run``); the answer is read by tag-bench's parser.

``process_results`` runs in lmms-eval's thread pool and lmms-eval silently retries it when it raises,
so it is pure (no shared mutable state) and never raises: a doc it cannot read is reported with
``tag_status = "scorer_error"`` and the reason in ``tag_error``. Its accuracy is lmms-eval's running
view; ``tag-bench lmms-eval import`` re-scores the logged responses with the full scorer (confidence
intervals, grounding against an AU reference).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tag_bench.images import open_image
from tag_bench.lmms.rows import TaskRow
from tag_bench.parsing import parse_response
from tag_bench.prompts import RenderedPrompt, render_prompt

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

#: The per-sample metric (mean over docs = tag-bench's ``accuracy``: failures count as wrong).
ACCURACY_KEY = "tag_accuracy"
#: Logged with every sample (not metrics): the import keys on the sample id.
SAMPLE_ID_KEY = "tag_sample_id"


def _row(doc: Any) -> TaskRow:
    return doc if isinstance(doc, TaskRow) else TaskRow.model_validate(dict(doc))


@lru_cache(maxsize=4096)
def _rendered(prompt_id: str, classes: tuple[str, ...], frame: str, size: tuple[int, int]) -> RenderedPrompt:
    return render_prompt(prompt_id, classes, frame, size)


def prompt_of(row: TaskRow) -> tuple[str | None, str]:
    """(system, user) text of a row: the row's own, else tag-bench's rendering."""
    if row.prompt is not None:
        return row.system, row.prompt
    rendered = _rendered(row.prompt_id, tuple(row.classes), row.frame, row.size)
    return rendered.system, rendered.user


def doc_to_visual(doc: Any, lmms_eval_specific_kwargs: Any = None) -> list[PILImage.Image]:
    """The presented image (decoded, cropped where the dataset says so), as a one-item list."""
    return [open_image(_row(doc).sample())]


def doc_to_text(doc: Any, lmms_eval_specific_kwargs: Any = None) -> str:
    """The user prompt (simple lmms-eval models; chat models get :func:`doc_to_messages`)."""
    return prompt_of(_row(doc))[1]


def doc_to_messages(doc: Any, lmms_eval_specific_kwargs: Any = None) -> list[dict[str, Any]]:
    """The chat tag-bench sends: the system prompt, then one user turn with the image and the prompt."""
    row = _row(doc)
    system, user = prompt_of(row)
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    image = doc_to_visual(row)[0]
    messages.append(
        {"role": "user", "content": [{"type": "image", "url": image}, {"type": "text", "text": user}]}
    )
    return messages


def score_response(row: TaskRow, text: str | None) -> dict[str, Any]:
    """Parse one response: accuracy plus the parsed label, status, AUs and evidence (pixels)."""
    parsed = parse_response(text, row.frame, row.size, None, None, row.classes)
    return {
        ACCURACY_KEY: 1.0 if parsed.label is not None and parsed.label == row.label else 0.0,
        SAMPLE_ID_KEY: row.sample_id,
        "tag_label": parsed.label,
        "tag_status": parsed.status,
        "tag_aus": list(parsed.aus),
        "tag_evidence": [e.model_dump(mode="json", exclude={"raw_box", "step"}) for e in parsed.evidence],
        "tag_frame": row.frame,
    }


def process_results(doc: Any, results: list[Any]) -> dict[str, Any]:
    """lmms-eval's per-doc scorer: never raises (see the module docstring)."""
    try:
        row = _row(doc)
    except Exception as e:
        sid = doc.get("sample_id") if isinstance(doc, dict) else None
        return _failed(sid, f"not a tag-bench doc ({type(e).__name__}: {e})")
    try:
        text = results[0] if results else None
        while isinstance(text, list):  # [[text]] before lmms-eval 0.7, [text] after
            text = text[0] if text else None
        return score_response(row, text)
    except Exception as e:  # a scorer bug must not make lmms-eval retry and then abort the run
        return _failed(row.sample_id, f"{type(e).__name__}: {e}")


def _failed(sample_id: Any, reason: str) -> dict[str, Any]:
    return {
        ACCURACY_KEY: 0.0,
        SAMPLE_ID_KEY: sample_id,
        "tag_label": None,
        "tag_status": "scorer_error",
        "tag_error": reason,
        "tag_aus": [],
        "tag_evidence": [],
    }
