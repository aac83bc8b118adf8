"""``tag-bench tasks``, ``tag-bench doctor`` and ``tag-bench inspect``: what data is there, and is it right.

Kept light at import time (click only); datasets and tasks are imported inside the commands.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from tag_bench._cli.common import (
    cli_errors,
    count,
    data_root_option,
    loader_options,
    loader_overrides,
    tasks_dir_option,
    warn,
)
from tag_bench._text import table
from tag_bench.data import load_split
from tag_bench.data.base import DatasetError
from tag_bench.tasks import discover_tasks, load_task

# --------------------------------------------------------------------------------------------------
# tasks


@click.command("tasks")
@data_root_option(
    help="Folder holding the datasets (default: $TAG_BENCH_DATA). Without it, N is not counted."
)
@tasks_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@cli_errors
def tasks_cmd(data_root: str | None, tasks_dirs: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """List the benchmark tasks, with their sample counts when the data is found."""
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
        n = count(item["n"])
        if item["why_not"]:
            if item["why_not"] not in notes:
                notes.append(item["why_not"])
            n = f"- [{notes.index(item['why_not']) + 1}]"
        classes = item["classes"]
        rows.append(
            [item["name"], item["dataset"], item["split"], f"{len(classes)}: {', '.join(classes)}", n]
        )
    click.echo(table(["TASK", "DATASET", "SPLIT", "CLASSES", "N"], rows, right=[4]))
    for i, note in enumerate(notes, start=1):
        click.echo(f"\n[{i}] {note}")


# --------------------------------------------------------------------------------------------------
# doctor


@click.command("doctor")
@data_root_option(
    required=True,
    help="Folder to check: one dataset, or a folder holding several (default: $TAG_BENCH_DATA).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"datasets": [{"name", "layout", "root", "splits", "warnings", "errors"}]}.',
)
@cli_errors
def doctor_cmd(data_root: str, as_json: bool) -> None:  # fmt: skip
    """Find the datasets under a folder, count each split against the official numbers, explain problems.

    Exits with status 1 when nothing usable is found or a dataset has errors.
    """
    from tag_bench.data.doctor import diagnose

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
            rows = [[s, count(n), count(e["official"].get(s))] for s, n in e["splits"].items()]
            text = table(["split", "samples", "official"], rows, right=[1, 2])
            click.echo("\n".join("  " + line for line in text.splitlines()))
        for w in e["warnings"]:
            click.echo(f"  warning: {w}")
        for err in e["errors"]:
            click.echo(f"  problem: {err}")
    if bad:
        sys.exit(1)


# --------------------------------------------------------------------------------------------------
# inspect


@click.command("inspect")
@click.argument("task")
@data_root_option()
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="Samples to print (default: 10 in the table, every sample with --json).")  # fmt: skip
@tasks_dir_option
@loader_options
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per line: id, image, label, native_label."
)
@cli_errors
def inspect_cmd(task: str, data_root: str | None, limit: int | None, tasks_dirs: tuple[str, ...],
                class_order: str | None, options: tuple[str, ...], as_json: bool) -> None:  # fmt: skip
    """Print the samples of TASK with their labels (a task name or a task YAML file)."""
    t = load_task(task, tasks_dirs)
    overrides = loader_overrides(class_order, options)
    data = t.load(data_root, **overrides)
    if limit is None:
        limit = len(data.samples) if as_json else 10
    shown = data.samples[:limit]
    warn(data.warnings)
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
        click.echo(table(["ID", "LABEL", "NATIVE", "IMAGE"], rows))
