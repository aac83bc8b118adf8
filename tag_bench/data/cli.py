"""``tag-bench tasks``, ``tag-bench doctor`` and ``tag-bench inspect``: what data is there, and is it right.

Kept light at import time (click only); datasets and tasks are imported inside the commands.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
DEBUG_ENV = "TAG_BENCH_DEBUG"


def _clean_errors(fn: F) -> F:
    """Turn known failures into a one-line message and exit status 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from tag_bench._optional import MissingExtraError
        from tag_bench.data.base import DatasetError
        from tag_bench.tasks import TaskError

        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (DatasetError, TaskError, MissingExtraError) as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:
            raise click.ClickException(f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")) from None
        except Exception as e:
            if os.environ.get(DEBUG_ENV):
                raise
            raise click.ClickException(
                f"unexpected error ({type(e).__name__}: {e}); set {DEBUG_ENV}=1 to see the traceback"
            ) from None

    return wrapper  # type: ignore[return-value]


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    cells = [[str(c) for c in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for k, r in enumerate(cells):
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


# --------------------------------------------------------------------------------------------------
# tasks


@click.command("tasks")
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder holding the datasets (default: $TAG_BENCH_DATA). Without it, N is not counted.",
)
@click.option(
    "--tasks-dir",
    "tasks_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Extra folder of task YAML files (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_clean_errors
def tasks_cmd(data_root: str | None, tasks_dirs: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """List the benchmark tasks, with their sample counts when the data is found."""
    from tag_bench.data.base import DatasetError
    from tag_bench.tasks import discover_tasks

    tasks = discover_tasks(tasks_dirs)
    root = data_root or os.environ.get("TAG_BENCH_DATA")
    cache: dict[str, Any] = {}
    out = []
    for name in sorted(tasks):
        t = tasks[name]
        entry: dict[str, Any] = {
            "name": t.name,
            "dataset": t.dataset,
            "split": t.split,
            "protocol": t.protocol,
            "classes": list(t.classes),
            "n": None,
            "layout": None,
            "why_not": None,
            "source": t.source,
        }
        if root is None and t.dataset != "demo":
            entry["why_not"] = "no --data-root given (or TAG_BENCH_DATA set)"
        else:
            key = json.dumps([t.dataset, t.split, t.loader], sort_keys=True, default=str)
            if key not in cache:
                try:
                    from tag_bench.data import load_split

                    cache[key] = load_split(t.dataset, root, t.split, **t.loader)
                except DatasetError as e:
                    cache[key] = e
            got = cache[key]
            if isinstance(got, Exception):
                entry["why_not"] = str(got)
            else:
                entry["n"] = sum(1 for s in got.samples if s.label in t.classes)
                entry["layout"] = got.layout
        out.append(entry)
    if as_json:
        click.echo(json.dumps({"tasks": out}, indent=2))
        return
    notes: list[str] = []
    rows = []
    for item in out:
        n = _n(item["n"])
        if item["why_not"]:
            if item["why_not"] not in notes:
                notes.append(item["why_not"])
            n = f"- [{notes.index(item['why_not']) + 1}]"
        classes = item["classes"]
        rows.append(
            [item["name"], item["dataset"], item["split"], f"{len(classes)}: {', '.join(classes)}", n]
        )
    click.echo(_table(["TASK", "DATASET", "SPLIT", "CLASSES", "N"], rows, right=[4]))
    for i, note in enumerate(notes, start=1):
        click.echo(f"\n[{i}] {note}")


# --------------------------------------------------------------------------------------------------
# doctor


def diagnose(data_root: str | None) -> list[dict[str, Any]]:
    """Every dataset under ``data_root`` with per-split counts (default options), warnings and errors."""
    from tag_bench.data.base import DatasetError, get_spec
    from tag_bench.data.detect import detect_datasets

    report = []
    for d in detect_datasets(data_root):
        entry: dict[str, Any] = {
            "name": d.name,
            "layout": d.layout,
            "root": str(d.root),
            "splits": {},
            "warnings": list(d.warnings),
            "errors": list(d.errors),
            "description": d.description,
            "official": {},
        }
        if d.loader and not d.errors:
            for split in d.splits:
                try:
                    data = d.load(split)
                except DatasetError as e:
                    entry["errors"].append(f"{split}: {e}")
                    continue
                entry["splits"][split] = len(data.samples)
                entry["official"][split] = get_spec(d.loader).official(split, data)
                entry["warnings"] += [f"{split}: {w}" for w in data.warnings if w not in d.warnings]
        report.append(entry)
    return report


@click.command("doctor")
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    envvar="TAG_BENCH_DATA",
    required=True,
    help="Folder to check: one dataset, or a folder holding several (default: $TAG_BENCH_DATA).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"datasets": [{"name", "layout", "root", "splits", "warnings", "errors"}]}.',
)
@_clean_errors
def doctor_cmd(data_root: str, as_json: bool) -> None:  # fmt: skip
    """Find the datasets under a folder, count each split against the official numbers, explain problems.

    Exits with status 1 when nothing usable is found or a dataset has errors.
    """
    report = diagnose(data_root)
    bad = not report or any(e["errors"] for e in report)
    if as_json:
        keys = ("name", "layout", "root", "splits", "warnings", "errors")
        click.echo(json.dumps({"datasets": [{k: e[k] for k in keys} for e in report]}, indent=2))
        if bad:
            sys.exit(1)
        return
    from tag_bench.data.detect import MAX_DEPTH

    click.echo(f"Data root: {os.path.abspath(data_root)}")
    if not report:
        click.echo(
            f"No dataset found there or up to {MAX_DEPTH} levels below. tag-bench looks for RAF-DB "
            "(EmoLabel/list_patition_label.txt + Image/aligned/), FERPlus (fer2013new.csv or "
            "FER2013{Train,Valid,Test}/label.csv + the FER2013 images), AffectNet "
            "(Manually_Annotated_file_lists/*.csv, train_set/ + val_set/ with .npy annotations, or a YOLO "
            "data.yaml) and folder-per-class trees (<split>/<class>/<images>)."
        )
        sys.exit(1)
    click.echo(f"Found {len(report)} dataset(s).")
    for e in report:
        click.echo(f"\n{e['name']}  [{e['layout']}]  {e['root']}")
        click.echo(f"  {e['description']}")
        if e["splits"]:
            rows = [[s, _n(n), _n(e["official"].get(s))] for s, n in e["splits"].items()]
            table = _table(["split", "samples", "official"], rows, right=[1, 2])
            click.echo("\n".join("  " + line for line in table.splitlines()))
        for w in e["warnings"]:
            click.echo(f"  warning: {w}")
        for err in e["errors"]:
            click.echo(f"  problem: {err}")
    if bad:
        sys.exit(1)


# --------------------------------------------------------------------------------------------------
# inspect


def _parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for p in pairs:
        if "=" not in p:
            raise click.BadParameter(f"{p!r} is not key=value", param_hint="--option")
        k, v = p.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v) if v.strip() else ""
        except yaml.YAMLError:
            out[k.strip()] = v
    return out


@click.command("inspect")
@click.argument("task")
@click.option(
    "--data-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder holding the dataset (default: $TAG_BENCH_DATA).",
)
@click.option("--limit", type=click.IntRange(min=0), default=10, show_default=True, help="Samples to print.")
@click.option(
    "--tasks-dir",
    "tasks_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Extra folder of task YAML files (repeatable).",
)
@click.option(
    "--class-order",
    default=None,
    help="Class order for folder-per-class copies: rafdb, affectnet, fer2013, ferplus, alphabetical, "
    "names, or a comma-separated list of emotion names.",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Loader option, e.g. --option protocol=crossentropy (repeatable).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line: id, image, label, native_label."
)
@_clean_errors
def inspect_cmd(task: str, data_root: str | None, limit: int, tasks_dirs: tuple[str, ...], class_order: str | None,
                options: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """Print the first samples of TASK with their labels (a task name or a task YAML file)."""
    from tag_bench.tasks import load_task

    t = load_task(task, tasks_dirs)
    overrides = _parse_options(options)
    if class_order:
        overrides["class_order"] = class_order
    data = t.load(data_root, **overrides)
    shown = data.samples[:limit]
    for w in data.warnings:
        click.echo(f"warning: {w}", err=True)
    if as_json:
        for s in shown:
            click.echo(
                json.dumps({"id": s.id, "image": s.image, "label": s.label, "native_label": s.native_label})
            )
        return
    click.echo(f"Task {t.name}: {t.dataset} {t.split}, protocol {t.protocol}, classes {', '.join(t.classes)}")
    loader_protocol = data.info.get("protocol")
    if loader_protocol and loader_protocol != t.protocol:
        click.echo(f"Loader protocol {loader_protocol} (overrides the task's {t.protocol})")
    click.echo(f"Layout {data.layout} at {data.root}")
    excluded = data.info.get("excluded_by_class_list", 0)
    click.echo(
        f"{len(data.samples):,} samples" + (f" ({excluded:,} outside the class list left out)" if excluded else "")
        + f"; showing {len(shown)}"
    )  # fmt: skip
    if shown:
        rows = []
        for s in shown:
            image = s.image if s.image_index is None else f"{s.image} [row {s.image_index}]"
            rows.append([s.id, s.label, s.native_label, image])
        click.echo(_table(["ID", "LABEL", "NATIVE", "IMAGE"], rows))
