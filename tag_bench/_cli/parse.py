"""``tag-bench parse``: parse one model response read from stdin and print JSON."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import click

from tag_bench._cli.common import cli_errors
from tag_bench.parsing import parse_response
from tag_bench.schema import BOX_FRAMES, CANONICAL_EMOTIONS


class SizeType(click.ParamType):
    """``WxH`` (also ``W×H`` or ``W,H``) with positive integers."""

    name = "WxH"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip().lower().replace("×", "x").replace(",", "x")
        parts = text.split("x")
        if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
            w, h = (int(p) for p in parts)
            if w > 0 and h > 0:
                return w, h
        self.fail(f"{value!r} is not a size like 512x384 (positive integers WIDTHxHEIGHT)", param, ctx)


class ClassesType(click.ParamType):
    """Comma-separated canonical emotion names."""

    name = "a,b,c"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[str]:
        if isinstance(value, list):
            return value
        names = [c.strip().lower() for c in str(value).split(",") if c.strip()]
        bad = [c for c in names if c not in CANONICAL_EMOTIONS]
        if not names or bad:
            self.fail(
                f"unknown class name(s) {bad or [value]}; use comma-separated names from: "
                f"{', '.join(CANONICAL_EMOTIONS)}",
                param,
                ctx,
            )
        if len(set(names)) != len(names):
            self.fail(f"duplicate class names in {value!r}", param, ctx)
        return names


def _finite_or_str(v: float) -> float | str:
    return v if math.isfinite(v) else str(v)


def parsed_to_json(parsed: Any) -> dict[str, Any]:
    """The CLI's JSON shape: label, status, aus, evidence first; details after."""
    return {
        "label": parsed.label,
        "status": parsed.status,
        "aus": list(parsed.aus),
        "evidence": [
            {
                "au": e.au,
                "box": e.box,
                "box_status": e.box_status,
                "raw_box": None if e.raw_box is None else [_finite_or_str(v) for v in e.raw_box],
                "step": e.step,
            }
            for e in parsed.evidence
        ],
        "raw_label": parsed.raw_label,
        "frame": parsed.frame,
        "notes": list(parsed.notes),
    }


@click.command("parse")
@click.option("--frame", required=True, type=click.Choice(BOX_FRAMES), help="The model's declared box frame.")
@click.option("--image-size", required=True, type=SizeType(), help="Presented image size, WIDTHxHEIGHT.")
@click.option("--input-size", type=SizeType(), default=None, help="Size the model saw (pixel-resized), WxH.")
@click.option("--finish-reason", default=None, help="The generation's finish reason (e.g. stop, length).")
@click.option("--classes", type=ClassesType(), default=None, help="The task's classes, comma-separated.")
@click.option("--indent", type=click.IntRange(min=0), default=None, help="Pretty-print the JSON.")
@cli_errors
def parse_cmd(
    frame: str,
    image_size: tuple[int, int],
    input_size: tuple[int, int] | None,
    finish_reason: str | None,
    classes: list[str] | None,
    indent: int | None,
) -> None:
    """Parse one model response read from stdin; print label, status, AUs and boxes as JSON.

    Boxes are printed in pixels of the presented image (the image as loaded, before any model-side
    resize). Example:

    \b
      echo '<answer>happy</answer>' | tag-bench parse --frame pixel --image-size 100x100
    """
    stream = sys.stdin
    data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    parsed = parse_response(text, frame, image_size, input_size, finish_reason, classes)
    click.echo(json.dumps(parsed_to_json(parsed), ensure_ascii=False, indent=indent))
