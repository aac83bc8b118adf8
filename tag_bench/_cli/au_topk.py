"""``tag-bench au topk``: the top-K activated AUs of each sample, with score and box, as JSONL."""

from __future__ import annotations

from collections import Counter

import click

from tag_bench._cli.common import (
    au_reference_option,
    cli_errors,
    data_root_option,
    loader_options,
    loader_overrides,
    tasks_dir_option,
)
from tag_bench.au.base import DEFAULT_DETECTOR
from tag_bench.au.sources import resolve_reference_source
from tag_bench.au.topk import topk_record
from tag_bench.store import write_jsonl
from tag_bench.tasks import load_task


@click.command("topk")
@click.option("--task", required=True, help="A task name (tag-bench tasks) whose samples to process.")
@data_root_option(help="Dataset root (default: $TAG_BENCH_DATA).")
@tasks_dir_option
@loader_options
@click.option("-k", "--top-k", "k", type=click.IntRange(1), required=True, help="AUs to keep per sample.")
@au_reference_option(DEFAULT_DETECTOR, lead="AU reference (a detector's references are served from the AU cache, computed on a miss).", none=False, old_name="--reference")  # fmt: skip
@click.option(
    "--cache", "cache_path", type=click.Path(dir_okay=False), help="AU cache file (detector references)."
)
@click.option("--limit", type=click.IntRange(1), help="Process at most N samples.")
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False), help="JSONL file to write (default: standard output)."
)
@cli_errors
def topk_cmd(
    task: str,
    data_root: str | None,
    tasks_dirs: tuple[str, ...],
    class_order: str | None,
    options: tuple[str, ...],
    k: int,
    au_reference: str,
    cache_path: str | None,
    limit: int | None,
    out: str | None,
) -> None:
    """Write each sample's AU-Prob-Bbox list (TAG's "Top-K Activated AU": AU, score, box) as JSONL.

    One record per sample, in task order: sample_id, image, label, reference_id, status, k, aus
    ([{au, score, box}]) and text (lines such as "AU6 0.78 [156, 208, 285, 314]", ready for a prompt).
    A sample whose reference is not ok keeps its record, with its status and no AUs.
    """
    data = load_task(task, tasks_dirs).load(data_root, limit, **loader_overrides(class_order, options))
    source = resolve_reference_source(au_reference, cache_path=cache_path)
    refs = source.get_many(data.samples, progress=True)
    counts: Counter[str] = Counter()
    records = []
    for s in data.samples:
        rec = topk_record(s, refs[s.id], k)
        counts[rec.status] += 1
        records.append(rec.model_dump_json())
    if out:
        write_jsonl(out, records)
    else:
        for line in records:
            click.echo(line)
    summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
    where = f" to {out}" if out else ""
    click.echo(
        f"{source.reference_id} on {data.task.name}: {len(records)} samples ({summary}){where}", err=True
    )
