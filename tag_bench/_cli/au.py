"""``tag-bench au``: compute, cache, inspect and draw AU references.

Light at import time: detectors, mediapipe and PIL load inside the commands.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from tag_bench._cli.au_topk import topk_cmd
from tag_bench._cli.common import (
    au_reference_option,
    cli_errors,
    data_root_option,
    loader_options,
    loader_overrides,
    tasks_dir_option,
    warn,
)
from tag_bench._hashing import file_sha256
from tag_bench.au.agreement import agreement_report
from tag_bench.au.base import DEFAULT_DETECTOR, detector_names
from tag_bench.au.cache import CachedDetector, detect_cached, open_au_cache
from tag_bench.au.overlay import draw_reference
from tag_bench.au.sources import (
    build_detector,
    parse_reference_specs,
    required_reference,
    resolve_reference_source,
)
from tag_bench.au.validation import LabelError, load_labels, validate
from tag_bench.facs import au_code
from tag_bench.schema import Sample
from tag_bench.tasks import load_task


def reference_json(ref: Any) -> dict[str, Any]:
    """The CLI's JSON view of an AUReference: status, face_box, landmarks, aus, then the rest."""
    aus = {
        au: {
            "score": s.score,
            "active": s.active,
            "box": s.box,
            "boxes": s.boxes,
            "source": s.source,
            "threshold": s.threshold,
        }
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
        "model_sha256": ref.model_sha256,
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
    for n in detector_names():
        click.echo(n)


@au_group.command("detect")
@click.option("--image", "image", type=click.Path(dir_okay=False), help="One image file.")
@click.option("--task", help="A task name (tag-bench tasks) whose samples to process.")
@data_root_option(help="Dataset root for --task (default: $TAG_BENCH_DATA).")
@tasks_dir_option
@loader_options
@au_reference_option(DEFAULT_DETECTOR, lead="AU detector to run.", none=False, detectors_only=True, old_name="--detector")  # fmt: skip
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
    au_reference: str,
    limit: int | None,
    cache_path: str | None,
    no_cache: bool,
    out: str | None,
    as_json: bool,
) -> None:
    """Compute AU references for one image (--image) or a task's samples (--task), filling the cache."""
    if (image is None) == (task is None):
        raise click.UsageError("give exactly one of --image or --task")
    det = build_detector(au_reference)
    if image is not None:
        _detect_image(det, image, cache_path if not no_cache else None, out, as_json)
    else:
        data = load_task(task or "", tasks_dirs).load(
            data_root, limit, **loader_overrides(class_order, options)
        )
        _detect_task(det, data, None if no_cache else cache_path, no_cache, out, as_json)


def _detect_image(det: Any, image: str, cache_path: str | None, out: str | None, as_json: bool) -> None:
    if not Path(image).exists():
        raise click.ClickException(f"image not found: {image}")
    sha = file_sha256(image)
    problems: list[str] = []
    cache = open_au_cache(cache_path, problems) if cache_path else None
    runner = CachedDetector(det, cache) if cache is not None else det
    ref = runner.detect(image, image_sha256=sha, sample_id=Path(image).name)
    warn([*problems, *(cache.problems if cache is not None else [])])
    if out:
        Path(out).write_text(ref.model_dump_json() + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(reference_json(ref)))
        return
    click.echo(f"{ref.reference_id}: {ref.status}" + (f" ({ref.message})" if ref.message else ""))
    if ref.model_sha256:
        click.echo(f"  model sha256 {ref.model_sha256}")
    click.echo(f"  {'AU':5s} {'score':>5s} {'thr':>4s} {'':6s} {'source':28s} box")
    for au, s in ref.aus.items():
        score = "  -  " if s.score is None else f"{s.score:5.2f}"
        th = s.threshold if s.threshold is not None else (ref.threshold if s.score is not None else None)
        thr = "  - " if th is None else f"{th:4.2f}"
        flag = "active" if s.active else ""
        source = s.source or ("unjudged" if s.score is None else "")
        box = "" if s.box is None else "[" + ", ".join(f"{v:.0f}" for v in s.box) + "]"
        click.echo(f"  {au:5s} {score} {thr} {flag:6s} {source:28s} {box}")


def _detect_task(
    det: Any,
    data: Any,
    cache_path: str | None,
    no_cache: bool,
    out: str | None,
    as_json: bool,
) -> None:
    from tqdm import tqdm

    problems: list[str] = []
    cache = None if no_cache else open_au_cache(cache_path, problems)
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
    warn([*problems, *(cache.problems if cache is not None else [])])
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
@au_reference_option(DEFAULT_DETECTOR, lead="AU detector to run.", none=False, detectors_only=True, old_name="--detector")  # fmt: skip
@click.option("--aus", help="Comma-separated AUs to draw (default: the active ones).")
@click.option("--merged", is_flag=True, help="Draw merged boxes instead of the per-side boxes.")
@click.option("--no-landmarks", is_flag=True, help="Do not draw the 68 landmarks.")
@cli_errors
def show_cmd(
    image: str, output: str, au_reference: str, aus: str | None, merged: bool, no_landmarks: bool
) -> None:
    """Draw landmarks and AU boxes (with labels and scores) on IMAGE."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(image) as im:
            im.load()
            img = im.convert("RGB")
    except (FileNotFoundError, UnidentifiedImageError, OSError) as e:
        raise click.ClickException(f"cannot read image {image}: {e}") from e
    det = build_detector(au_reference)
    ref = det.detect(img, sample_id=Path(image).name)
    selected = [a.strip() for a in aus.split(",") if a.strip()] if aus else None
    drawn = draw_reference(img, ref, selected, landmarks=not no_landmarks, per_side=not merged)
    try:
        drawn.save(output)
    except (OSError, ValueError) as e:
        raise click.ClickException(f"cannot write {output}: {e}") from e
    active = ", ".join(sorted(ref.active_aus(), key=lambda a: int(a[2:]))) or "none"
    click.echo(f"{ref.reference_id}: {ref.status}; active: {active}; wrote {output}")


def _check_overlap(source: Any, spec: str, task: str, ids: list[str]) -> None:
    """A file of references (JSONL) whose sample ids match none of the task's is an error, not a table of
    empty rows."""
    by_sample = getattr(source, "by_sample", None)
    if not isinstance(by_sample, Mapping) or not ids or any(i in by_sample for i in ids):
        return
    theirs = ", ".join(repr(k) for k in list(by_sample)[:2])
    ours = ", ".join(repr(i) for i in ids[:2])
    raise click.ClickException(
        f"no sample of {task} has a record in {spec}: its sample ids ({theirs}, ...) are not the task's "
        f"({ours}, ...); write references for this task's samples (tag-bench au detect --task {task} --out FILE)"
    )


def _fmt(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


@au_group.command("agree")
@click.option("--task", required=True, help="A task name (tag-bench tasks) whose samples to compare on.")
@data_root_option(help="Dataset root for --task (default: $TAG_BENCH_DATA).")
@tasks_dir_option
@loader_options
@au_reference_option(None, lead="Two or more AU references to compare, comma-separated (e.g. mediapipe-geometric,mediapipe-blendshapes).", none=False, several=True, required=True, old_name="--references")  # fmt: skip
@click.option("--aus", help="Comma-separated AUs to compare (default: every AU both references give).")
@click.option("--limit", type=int, help="Compare on at most N samples of the task.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), help="SQLite AU cache file.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON report to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the tables.")
@cli_errors
def agree_cmd(
    task: str,
    data_root: str | None,
    tasks_dirs: tuple[str, ...],
    class_order: str | None,
    options: tuple[str, ...],
    au_reference: str,
    aus: str | None,
    limit: int | None,
    cache_path: str | None,
    out: str | None,
    as_json: bool,
) -> None:
    """Per-AU agreement between AU references on a task's images: Cohen's kappa of the active flags,
    Spearman of the scores, mean IoU of the regions, with counts."""
    specs = parse_reference_specs(au_reference)
    sources = [required_reference(s) for s in specs]  # auto as the detector it stands for
    same = [f"{a.text!r} is {r.text}" for a, r in zip(specs, sources, strict=True) if a != r]
    if len(specs) < 2 or len({s.text for s in sources}) != len(sources):
        raise click.UsageError(
            "--au-reference needs two or more different sources, comma-separated"
            + (f" ({', '.join(same)})" if same else "")
        )
    wanted = None
    if aus:
        wanted = [au_code(a) for a in aus.split(",") if a.strip()]
        if any(a is None for a in wanted):
            raise click.UsageError(f"--aus: not an AU list: {aus!r} (e.g. AU1,AU12)")
    data = load_task(task, tasks_dirs).load(data_root, limit, **loader_overrides(class_order, options))
    ids = [s.id for s in data.samples]
    refs = {}
    for spec, resolved in zip(specs, sources, strict=True):
        source = resolve_reference_source(resolved, cache_path=cache_path)
        _check_overlap(source, spec.text, data.task.name, ids)
        refs[spec.text] = source.get_many(data.samples, progress=not as_json)
        warn(source.problems)
    report = {"task": data.task.name, **agreement_report(refs, ids, [a for a in wanted or [] if a] or None)}
    if out:
        Path(out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(f"AU reference agreement on {data.task.name}: {report['n_samples']} samples")
    for r in report["references"]:
        status = ", ".join(f"{k} {v}" for k, v in sorted(r["status"].items()))
        click.echo(f"  {r['spec']}: {r['reference_id']} ({status})")
    for pair in report["pairs"]:
        click.echo(f"\n{pair['a']}  vs  {pair['b']}")
        click.echo(
            f"  {'AU':5s} {'n':>5s} {'both':>5s} {'A':>5s} {'B':>5s} {'agree':>6s} {'kappa':>6s} "
            f"{'n_sc':>5s} {'rho':>6s} {'IoU':>5s}"
        )
        for au, r in pair["aus"].items():
            click.echo(
                f"  {au:5s} {r['n_judged']:5d} {r['both_active']:5d} {r['only_a']:5d} {r['only_b']:5d} "
                f"{_fmt(r['agreement']):>6s} {_fmt(r['kappa']):>6s} {r['n_scored']:5d} "
                f"{_fmt(r['spearman']):>6s} {_fmt(r['region_iou']):>5s}"
            )
        m = pair["mean"]
        click.echo(
            f"  {'mean':5s} {'':23s} {_fmt(m['agreement']):>6s} {_fmt(m['kappa']):>6s} {'':5s} "
            f"{_fmt(m['spearman']):>6s} {_fmt(m['region_iou']):>5s}   (over the AUs where computed)"
        )
    click.echo(
        "\nn: images both judge; both/A/B: active in both / only the first / only the second; "
        "'-': not computed (see --json for why)"
    )


@au_group.command("validate")
@click.option(
    "--labels", required=True, type=click.Path(exists=True), help="Human AU labels (file or folder)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "disfa", "bp4d"]),
    default="csv",
    show_default=True,
    help="csv: image,AU1,AU2,... 0/1; disfa: <subject>_au<N>.txt intensity files; bp4d: occurrence CSVs.",
)
@click.option(
    "--images", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of the images."
)
@au_reference_option(DEFAULT_DETECTOR, lead="The AU reference to check.", none=False, old_name="--reference")
@click.option(
    "--frame-offset",
    type=int,
    default=0,
    show_default=True,
    help="disfa/bp4d: added to the number in an image's file name to give its label frame.",
)
@click.option("--limit", type=int, help="Check at most N labelled images (in label order).")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False), help="SQLite AU cache file.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON report to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report instead of the table.")
@cli_errors
def validate_cmd(
    labels: str,
    fmt: str,
    images: str,
    au_reference: str,
    frame_offset: int,
    limit: int | None,
    cache_path: str | None,
    out: str | None,
    as_json: bool,
) -> None:
    """Check an AU reference against human AU labels: per-AU F1, precision, recall, ROC-AUC, base rate."""
    try:
        lab = load_labels(labels, fmt, images, frame_offset=frame_offset)
    except LabelError as e:
        raise click.ClickException(str(e)) from e
    keys = [k for k in lab.by_key if k in lab.images]
    if limit is not None:
        keys = keys[:limit]
    if not keys:
        raise click.ClickException(
            f"none of the {len(lab.by_key)} labelled images was found under {images} "
            f"(e.g. {next(iter(lab.by_key), '?')!r}); check --images and --frame-offset"
        )
    samples = [
        Sample(
            id=k, dataset="au-labels", split=fmt, image=str(lab.images[k]), label="neutral", native_label=""
        )
        for k in keys
    ]
    source = resolve_reference_source(au_reference, cache_path=cache_path)
    refs = source.get_many(samples, progress=not as_json)
    warn(source.problems)
    per_au = validate({k: lab.by_key[k] for k in keys}, refs)
    statuses: Counter[str] = Counter(r.status for r in refs.values())
    report: dict[str, Any] = {
        "reference": au_reference,
        "reference_id": source.reference_id,
        "labels": str(labels),
        "format": fmt,
        "labelled_images": len(lab.by_key),
        "checked_images": len(keys),
        "missing_images": len(lab.missing_images),
        "reference_status": dict(sorted(statuses.items())),
        "aus": per_au,
    }
    if out:
        Path(out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(report))
        return
    status = ", ".join(f"{k} {v}" for k, v in report["reference_status"].items())
    click.echo(
        f"{source.reference_id} against {fmt} labels: {len(keys)} images checked ({status}), "
        f"{report['missing_images']} labelled images not found"
    )
    click.echo(
        f"  {'AU':5s} {'judged':>6s} {'cover':>5s} {'base':>5s} {'prec':>5s} {'rec':>5s} {'F1':>5s} {'AUC':>5s}"
    )
    for au, r in per_au.items():
        click.echo(
            f"  {au:5s} {r['judged']:6d} {_fmt(r['coverage']):>5s} {_fmt(r['base_rate']):>5s} "
            f"{_fmt(r['precision']):>5s} {_fmt(r['recall']):>5s} {_fmt(r['f1']):>5s} {_fmt(r['roc_auc']):>5s}"
        )
    click.echo("judged: labelled images the reference decided; cover: judged / labelled; '-': not computed")


au_group.add_command(topk_cmd)
