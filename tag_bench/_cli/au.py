"""``tag-bench au``: compute, cache, inspect and draw AU references.

Light at import time: detectors, mediapipe and PIL load inside the commands.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from tag_bench._cli.common import (
    cli_errors,
    data_root_option,
    loader_options,
    loader_overrides,
    tasks_dir_option,
)

DEFAULT_DETECTOR = "mediapipe-geometric"


def _detector(name: str) -> Any:
    from tag_bench.au.base import get_detector

    return get_detector(name)


def reference_json(ref: Any) -> dict[str, Any]:
    """The CLI's JSON view of an AUReference: status, face_box, landmarks, aus, then the rest."""
    aus = {
        au: {"score": s.score, "active": s.active, "box": s.box, "boxes": s.boxes}
        for au, s in ref.aus.items()
    }
    return {
        "status": ref.status,
        "face_box": ref.face_box,
        "landmarks": [list(p) for p in ref.landmarks] if ref.landmarks else None,
        "aus": aus,
        "message": ref.message,
        "reference_id": ref.reference_id,
        "threshold": ref.threshold,
        "image_size": list(ref.image_size) if ref.image_size else None,
        "image_sha256": ref.image_sha256,
    }


@click.group("au")
def au_group() -> None:
    """AU reference: where each Action Unit is and how active it is, per image (cached)."""


@au_group.command("detectors")
@cli_errors
def detectors_cmd() -> None:
    """List the AU detector names."""
    from tag_bench.au.base import detector_names

    for n in detector_names():
        click.echo(n)


@au_group.command("detect")
@click.option("--image", "image", type=click.Path(dir_okay=False), help="One image file.")
@click.option("--task", help="A task name (tag-bench tasks) whose samples to process.")
@data_root_option(help="Dataset root for --task (default: $TAG_BENCH_DATA).")
@tasks_dir_option
@loader_options
@click.option("--detector", default=DEFAULT_DETECTOR, show_default=True, help="AU detector name.")
@click.option("--limit", type=int, help="Process at most N samples of the task.")
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False),
    help="SQLite cache file. --task uses $TAG_BENCH_CACHE/au_cache.sqlite (else ~/.cache/tag-bench/) "
    "by default; --image is cached only when this is given.",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the references to this JSONL file.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (the reference for --image, else the summary)."
)
@cli_errors
def detect_cmd(
    image: str | None,
    task: str | None,
    data_root: str | None,
    tasks_dirs: tuple[str, ...],
    class_order: str | None,
    options: tuple[str, ...],
    detector: str,
    limit: int | None,
    cache_path: str | None,
    no_cache: bool,
    out: str | None,
    as_json: bool,
) -> None:
    """Compute AU references for one image (--image) or a task's samples (--task), filling the cache."""
    if (image is None) == (task is None):
        raise click.UsageError("give exactly one of --image or --task")
    det = _detector(detector)
    if image is not None:
        _detect_image(det, image, cache_path if not no_cache else None, out, as_json)
    else:
        from tag_bench.tasks import load_task

        data = load_task(task or "", tasks_dirs).load(
            data_root, limit, **loader_overrides(class_order, options)
        )
        _detect_task(det, data, None if no_cache else cache_path, no_cache, out, as_json)


def _detect_image(det: Any, image: str, cache_path: str | None, out: str | None, as_json: bool) -> None:
    from tag_bench.au.cache import AUCache, CachedDetector

    if not Path(image).exists():
        raise click.ClickException(f"image not found: {image}")
    from tag_bench._hashing import file_sha256

    sha = file_sha256(image)
    runner = CachedDetector(det, AUCache(cache_path)) if cache_path else det
    ref = runner.detect(image, image_sha256=sha, sample_id=Path(image).name)
    if out:
        Path(out).write_text(ref.model_dump_json() + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(reference_json(ref)))
        return
    click.echo(f"{ref.reference_id}: {ref.status}" + (f" ({ref.message})" if ref.message else ""))
    for au, s in ref.aus.items():
        score = "  -  " if s.score is None else f"{s.score:.2f}"
        flag = "active" if s.active else ""
        box = "" if s.box is None else "[" + ", ".join(f"{v:.0f}" for v in s.box) + "]"
        click.echo(f"  {au:5s} {score} {flag:6s} {box}")


def _detect_task(
    det: Any,
    data: Any,
    cache_path: str | None,
    no_cache: bool,
    out: str | None,
    as_json: bool,
) -> None:
    from tqdm import tqdm

    from tag_bench.au.cache import AUCache, detect_cached

    cache = None if no_cache else AUCache(cache_path)
    counts: Counter[str] = Counter()
    errors: list[str] = []
    t0 = time.perf_counter()
    hits0 = cache.hits if cache else 0
    sink = open(out, "w", encoding="utf-8") if out else None  # noqa: SIM115
    try:
        for s in tqdm(data.samples, desc=f"{det.reference_id}", unit="img", file=sys.stderr):
            ref = detect_cached(det, s, cache)
            counts[ref.status] += 1
            if ref.status == "error" and len(errors) < 5:
                errors.append(f"{s.id}: {ref.message}")
            if sink:
                sink.write(ref.model_dump_json() + "\n")
    finally:
        if sink:
            sink.close()
    summary = {
        "task": data.task.name,
        "reference_id": det.reference_id,
        "samples": len(data.samples),
        "ok": counts["ok"],
        "no_face": counts["no_face"],
        "error": counts["error"],
        "cached": (cache.hits - hits0) if cache else 0,
        "seconds": round(time.perf_counter() - t0, 3),
        "cache": str(cache.path) if cache else None,
    }
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(
        f"{summary['reference_id']} on {data.task.name}: {summary['samples']} samples, ok {summary['ok']}, "
        f"no_face {summary['no_face']}, error {summary['error']}, served from cache {summary['cached']} "
        f"({summary['seconds']:.1f}s)"
    )
    if cache:
        click.echo(f"cache: {cache.path}")
    for e in errors:
        click.echo(f"  error: {e}")


@au_group.command("show")
@click.argument("image", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Overlay image to write."
)
@click.option("--detector", default=DEFAULT_DETECTOR, show_default=True, help="AU detector name.")
@click.option("--aus", help="Comma-separated AUs to draw (default: the active ones).")
@click.option("--merged", is_flag=True, help="Draw merged boxes instead of the per-side boxes.")
@click.option("--no-landmarks", is_flag=True, help="Do not draw the 68 landmarks.")
@cli_errors
def show_cmd(
    image: str, output: str, detector: str, aus: str | None, merged: bool, no_landmarks: bool
) -> None:
    """Draw landmarks and AU boxes (with labels and scores) on IMAGE."""
    from PIL import Image, UnidentifiedImageError

    from tag_bench.au.overlay import draw_reference

    try:
        with Image.open(image) as im:
            im.load()
            img = im.convert("RGB")
    except (FileNotFoundError, UnidentifiedImageError, OSError) as e:
        raise click.ClickException(f"cannot read image {image}: {e}") from e
    det = _detector(detector)
    ref = det.detect(img, sample_id=Path(image).name)
    selected = [a.strip() for a in aus.split(",") if a.strip()] if aus else None
    drawn = draw_reference(img, ref, selected, landmarks=not no_landmarks, per_side=not merged)
    try:
        drawn.save(output)
    except (OSError, ValueError) as e:
        raise click.ClickException(f"cannot write {output}: {e}") from e
    active = ", ".join(sorted(ref.active_aus(), key=lambda a: int(a[2:]))) or "none"
    click.echo(f"{ref.reference_id}: {ref.status}; active: {active}; wrote {output}")


au_group.add_command(__import__("tag_bench._cli.au_topk", fromlist=["topk_cmd"]).topk_cmd)
