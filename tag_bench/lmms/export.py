"""tag-bench tasks -> lmms-eval tasks: ``tag_<task>.yaml`` + ``tag_<task>.jsonl`` in one folder.

The YAML loads the JSONL with the ``json`` builder (relative ``data_files``, so the folder can move) and
points ``doc_to_visual`` / ``doc_to_text`` / ``doc_to_messages`` / ``process_results`` at
:mod:`tag_bench.lmms.hooks`. Run it with::

    lmms-eval --model qwen2_5_vl --model_args pretrained=... --tasks tag_rafdb_basic_test \\
        --include_path DIR --log_samples --output_path OUT

The ``metadata.tag_bench`` block records what the import needs to re-score (task, data root, loader
options, frame, prompt). ``reasoning_tags: none`` keeps lmms-eval from stripping ``<think>`` blocks
before scoring (tag-bench's parser reads the whole response).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tag_bench import __version__, store
from tag_bench.generate.evaluate import normalise_gen_kwargs
from tag_bench.images import ImageLoadError, presented_sizes
from tag_bench.lmms.rows import TaskRow, lmms_task_name
from tag_bench.prompts import get_template
from tag_bench.schema import BOX_FRAMES, Sample
from tag_bench.tasks import load_task

HOOKS = "tag_bench.lmms.hooks"
#: The doc field lmms-eval logs as ``target``.
TARGET_FIELD = "label"


@dataclass
class ExportedTask:
    """One written lmms-eval task."""

    name: str  # lmms-eval task name (tag_<task>)
    task: str  # tag-bench task name
    yaml_path: Path
    docs_path: Path
    n_samples: int
    skipped: list[str] = field(default_factory=list)  # "<sample id>: <why>" (unreadable images)
    warnings: list[str] = field(default_factory=list)


def generation_kwargs(gen_kwargs: dict[str, Any]) -> dict[str, Any]:
    """tag-bench's generation settings in lmms-eval's spelling.

    ``stop`` is lmms-eval's ``until``; without one, ``until`` is written empty, because lmms-eval
    otherwise stops some models at the first blank line (its few-shot delimiter), which tag-bench never does.
    """
    out = {k: v for k, v in gen_kwargs.items() if k != "stop"}
    stop = gen_kwargs.get("stop") or []
    out["until"] = [stop] if isinstance(stop, str) else list(stop)
    return out


def task_yaml(
    name: str,
    docs_file: str,
    gen_kwargs: dict[str, Any],
    metadata: dict[str, Any],
    dataset_kwargs: dict[str, Any] | None = None,
) -> str:
    """The YAML text of one task (``!function`` tags cannot be written by ``yaml.safe_dump``)."""
    plain = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": docs_file}, **(dataset_kwargs or {})},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_target": TARGET_FIELD,
        "generation_kwargs": generation_kwargs(gen_kwargs),
        "metric_list": [{"metric": "tag_accuracy", "aggregation": "mean", "higher_is_better": True}],
        "reasoning_tags": "none",
        "metadata": metadata,
    }
    hooks = "".join(
        f"{fn}: !function {HOOKS}.{fn}\n"
        for fn in ("doc_to_visual", "doc_to_text", "doc_to_messages", "process_results")
    )
    header = "# Written by `tag-bench lmms-eval export`; the prompt and scorer are tag-bench's.\n"
    return header + yaml.safe_dump(plain, sort_keys=False, allow_unicode=True) + hooks


def write_task(
    out: str | Path,
    name: str,
    rows: list[TaskRow],
    gen_kwargs: dict[str, Any],
    metadata: dict[str, Any],
    dataset_kwargs: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``<name>.yaml`` and ``<name>.jsonl`` into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    docs = out / f"{name}.jsonl"
    store.write_jsonl(docs, (r.model_dump(mode="json", exclude_none=True) for r in rows))
    spec = out / f"{name}.yaml"
    store.atomic_write_text(spec, task_yaml(name, docs.name, gen_kwargs, metadata, dataset_kwargs))
    return spec, docs


def rows_for(
    samples: list[Sample], task: str, classes: list[str], prompt_id: str, frame: str
) -> tuple[list[TaskRow], list[str]]:
    """Rows of the samples whose image can be read, and "<id>: <why>" for the others."""
    rows, skipped = [], []
    for s, size in zip(samples, presented_sizes(samples), strict=True):
        if isinstance(size, ImageLoadError):
            skipped.append(f"{s.id}: {size}")
            continue
        rows.append(TaskRow.of(s, task, size, classes, prompt_id, frame))
    return rows, skipped


def export_tasks(
    tasks: list[str],
    out: str | Path,
    *,
    data_root: str | Path | None = None,
    frame: str = "pixel",
    prompt: str | None = None,
    gen_kwargs: str | dict[str, Any] | None = None,
    limit: int | None = None,
    tasks_dirs: list[str] | None = None,
    loader_options: dict[str, Any] | None = None,
) -> list[ExportedTask]:
    """Export tag-bench tasks as lmms-eval tasks into ``out``.

    ``frame`` is the box frame the prompt asks for and the scorer reads (one per export: pick the one
    the models you will run speak; ``pixel`` states the image size in the prompt). Samples whose image
    cannot be read are left out with a reason; re-scoring with tag-bench counts them as ``missing``.
    """
    if frame not in BOX_FRAMES:
        raise ValueError(f"unknown box frame {frame!r}; valid: {', '.join(BOX_FRAMES)}")
    gk = normalise_gen_kwargs(gen_kwargs)
    done = []
    for name in tasks:
        task = load_task(name, tasks_dirs)
        prompt_id = prompt or task.prompt
        template = get_template(prompt_id)
        data = task.load(data_root, **(loader_options or {}))
        samples = data.samples[:limit] if limit is not None else data.samples
        rows, skipped = rows_for(samples, task.name, list(task.classes), prompt_id, frame)
        warnings = list(data.warnings)
        if frame == "pixel-resized":
            warnings.append(
                "frame pixel-resized: lmms-eval does not report the size a model resized the image to, "
                "so the scorer cannot map such boxes to the image (they count as unconvertible); "
                "prefer a frame that does not depend on the model's resize"
            )
        if skipped:
            warnings.append(f"{len(skipped)} sample(s) left out: image unreadable (first: {skipped[0]})")
        metadata = {
            "version": task.version,
            "tag_bench": {
                "task": task.name,
                "task_fingerprint": task.fingerprint(),
                "data_root": str(data.root),
                "loader_options": dict(loader_options or {}),
                "frame": frame,
                "prompt_id": prompt_id,
                "prompt_hash": template.hash,
                "limit": limit,
                "n_samples": len(rows),
                "tag_bench_version": __version__,
            },
        }
        lmms_name = lmms_task_name(task.name)
        spec, docs = write_task(out, lmms_name, rows, gk, json.loads(json.dumps(metadata)))
        done.append(ExportedTask(lmms_name, task.name, spec, docs, len(rows), skipped, warnings))
    return done
