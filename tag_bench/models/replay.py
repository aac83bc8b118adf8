"""Replay outputs produced elsewhere (another harness, an API batch job, a colleague's run).

Predictions file: JSON lines ``{"id": sample id, "response": text}`` with optional ``frame``,
``finish_reason`` and ``input_size`` ([w, h] or "WxH"). Samples without a line are scored
``missing``; they are never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from tag_bench._hashing import file_sha256
from tag_bench.errors import TagBenchError
from tag_bench.models.base import (
    AdapterArgs,
    AdapterContext,
    GenerationOutput,
    GenerationRequest,
    ModelAdapter,
    fingerprint_of,
)
from tag_bench.parsing import parse_response
from tag_bench.schema import BOX_FRAMES
from tag_bench.store import gc_paused


@dataclass
class Prediction:
    id: str
    response: str | None
    frame: str | None = None
    finish_reason: str | None = None
    input_size: tuple[int, int] | None = None
    line: int = 0  # line number in the file, for messages


class PredictionsError(TagBenchError, ValueError):
    """The predictions file cannot be used; the message says which line and why."""


def _size(value: Any, where: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, str) and "x" in value.lower():
        value = value.lower().split("x", 1)
    try:
        w, h = (int(float(v)) for v in value)
    except (TypeError, ValueError) as e:
        raise PredictionsError(f"{where}: input_size must be [w, h] or 'WxH', got {value!r}") from e
    if w <= 0 or h <= 0:
        raise PredictionsError(f"{where}: input_size must be positive, got {value!r}")
    return (w, h)


def read_predictions(path: str | Path) -> tuple[dict[str, Prediction], list[str]]:
    """Predictions by sample id, plus warnings (duplicates: the last line wins).

    UTF-8 (a byte-order mark is accepted); a line that is not UTF-8 or not JSON is an error naming it.
    """
    import jsonlines

    path = Path(path)
    if not path.exists():
        raise PredictionsError(f"predictions file not found: {path}")
    if not path.is_file():
        # a pipe (/dev/stdin, <(...)) can be read only once, and the run's identity is the file's sha256
        raise PredictionsError(
            f"{path} is not a regular file (a folder, pipe or device); predictions must be a regular file "
            "(read twice: once for the run's identity, once for the responses): save them to a .jsonl file first"
        )
    if _first_char(path) == b"[":
        raise PredictionsError(
            f"{path} holds a JSON array; predictions must be JSON Lines, one object per line "
            f'({{"id": ..., "response": ...}}), e.g. convert it with: jq -c \'.[]\' {path} > predictions.jsonl'
        )
    preds: dict[str, Prediction] = {}
    dupes: list[str] = []
    with open(path, "rb") as f, gc_paused():  # a record per line, no cycles (store.gc_paused)
        at = [0]  # the reader pulls one line at a time: this is the line of the object it yields

        def numbered() -> Iterator[bytes]:
            for at[0], raw in enumerate(f, 1):
                yield raw

        try:
            for d in jsonlines.Reader(numbered()).iter(skip_empty=True):
                _add(preds, dupes, d, f"{path}:{at[0]}", at[0])
        except jsonlines.InvalidLineError as e:
            why = str(e).rsplit(" (line", 1)[0]
            hint = "; save the file as UTF-8" if "utf-8" in why else ""
            raise PredictionsError(f"{path}:{e.lineno}: {why}{hint}") from None
    if not preds:
        raise PredictionsError(
            f'{path} holds no predictions (one JSON object per line: {{"id", "response"}})'
        )
    warnings = []
    if dupes:
        warnings.append(
            f"{len(dupes)} sample id(s) appear more than once in {path}; the last line wins "
            f"(first: {', '.join(dupes[:3])})"
        )
    return preds, warnings


def _first_char(path: Path) -> bytes:
    """The first byte of the file that is not white space (a byte-order mark skipped), or b""."""
    with open(path, "rb") as f:
        while chunk := f.read(4096):
            text = chunk.removeprefix(b"\xef\xbb\xbf").lstrip()
            if text:
                return text[:1]
    return b""


def _add(preds: dict[str, Prediction], dupes: list[str], d: Any, where: str, line: int) -> None:
    if not isinstance(d, dict) or "id" not in d:
        raise PredictionsError(f"{where}: each line needs an 'id' and a 'response'")
    if "response" not in d:
        raise PredictionsError(f"{where}: no 'response' for id {d['id']!r}")
    frame = d.get("frame")
    if frame is not None and frame not in BOX_FRAMES:
        raise PredictionsError(f"{where}: unknown frame {frame!r}; valid: {', '.join(BOX_FRAMES)}")
    resp = d["response"]
    if resp is not None and not isinstance(resp, str):
        resp = json.dumps(resp)
    sid = str(d["id"])
    if sid in preds:
        dupes.append(sid)
    preds[sid] = Prediction(
        id=sid,
        response=resp,
        frame=frame,
        finish_reason=d.get("finish_reason"),
        input_size=_size(d.get("input_size"), where),
        line=line,
    )


def first_unframed_box(path: Path, predictions: dict[str, Prediction]) -> str | None:
    """Where the first box is whose coordinate frame nobody gave (a line without ``frame``), or None."""
    for p in sorted(predictions.values(), key=lambda p: p.line):
        if p.frame is not None or p.response is None:
            continue
        if any(ev.raw_box is not None for ev in parse_response(p.response, None, None).evidence):
            return f"{path}:{p.line} (id {p.id!r})"
    return None


class ReplayAdapter(ModelAdapter):
    """Responses produced elsewhere, read from a JSON-lines file (no model is called)."""

    sees_images = False  # the same answer whatever the image: intervene --export / --predictions instead
    name = "replay"

    class Args(AdapterArgs):
        predictions: str = Field(description='JSON lines {"id": sample id, "response": text}')
        frame: str | None = Field(None, description="box frame of the lines that do not name one")

        @field_validator("frame")
        @classmethod
        def _known_frame(cls, v: str | None) -> str | None:
            if v is not None and v not in BOX_FRAMES:
                raise ValueError(f"unknown frame {v!r}; valid: {', '.join(BOX_FRAMES)}")
            return v

    args: Args

    @classmethod
    def describe_frame(cls) -> str:
        return "given by frame= (--frame) or by each line; --box-frame overrides"

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        self.path = Path(self.args.predictions)
        self.predictions, warnings = read_predictions(self.path)
        self.warnings.extend(warnings)
        if self.frame_override is None and self.args.frame is None:
            # a frame is needed only to convert a box; tag-bench never guesses one
            where = first_unframed_box(self.path, self.predictions)
            if where is not None:
                raise PredictionsError(
                    f"{where} cites a box, but neither that line nor --frame says which coordinate frame it "
                    f"is in (tag-bench never guesses one); pass --frame (frame=) as one of: {', '.join(BOX_FRAMES)}"
                )
        self._digest = file_sha256(self.path, 16)

    def declared_frame(self) -> str:
        return self.args.frame or "pixel"  # without frame=, every line names its own: never used

    def has(self, sample_id: str) -> bool:
        return sample_id in self.predictions

    def fingerprint(self) -> str:
        return fingerprint_of(self.name, self._digest, self.frame)

    def describe(self) -> dict[str, Any]:
        return {"predictions": str(self.path), "sha256": self._digest, "frame": self.frame}

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        out = []
        for r in requests:
            p = self.predictions.get(r.sample_id)
            if p is None or p.response is None:
                out.append(GenerationOutput(text=None, error=f"no response for sample {r.sample_id}"))
                continue
            out.append(
                GenerationOutput(
                    text=p.response,
                    finish_reason=p.finish_reason,
                    input_size=p.input_size,
                    frame=p.frame or self.frame,
                )
            )
        return out
