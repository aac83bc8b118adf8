"""``tag-bench run`` and ``tag-bench demo``: generate, then score."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tag_bench._cli.common import (
    au_reference_option,
    cli_errors,
    data_root_option,
    loader_options,
    loader_overrides,
    n_resamples_option,
    scoring_options,
    setup_logging,
    tasks_dir_option,
    warn,
)
from tag_bench._cli.summary import format_summary
from tag_bench.au.base import DEFAULT_DETECTOR
from tag_bench.generate.evaluate import evaluate, normalise_gen_kwargs
from tag_bench.generate.shards import Shard, ShardSpecError
from tag_bench.models.args import validate_args
from tag_bench.models.base import adapter_class
from tag_bench.options import OptionError, parse_kv
from tag_bench.report.html import write_report
from tag_bench.report.leaderboard import leaderboard
from tag_bench.report.render import RenderOptions
from tag_bench.schema import BOX_FRAMES
from tag_bench.tasks import load_task


@click.command("run")
@click.option(
    "--model", required=True, help="Adapter name (see `tag-bench models`): hf, vllm, openai, replay, ..."
)
@click.option(
    "--model-args", default="", help="k=v,... e.g. pretrained=Qwen/Qwen2.5-VL-7B-Instruct,dtype=bfloat16"
)
@click.option("--tasks", required=True, help="Comma-separated task names (see `tag-bench tasks`).")
@data_root_option()
@tasks_dir_option
@loader_options
@click.option("--prompt", help="Prompt id (tag_grounded, cot, direct); default: the task's.")
@click.option("--batch-size", type=click.IntRange(1), default=1, show_default=True)
@click.option("--limit", type=click.IntRange(1), help="Evaluate only the first N samples of each task.")
@click.option("--gen-kwargs", default="", help="k=v,... e.g. max_new_tokens=512,temperature=0")
@au_reference_option("auto", lead="AU reference the grounding is measured against.")
@click.option("--out", type=click.Path(file_okay=False),
              help="The run directory (one task only). Default: RESULTS_DIR/<task>/<model>.")  # fmt: skip
@click.option("--out-dir", type=click.Path(file_okay=False),
              help="Parent folder: each task's run directory is OUT_DIR/<task> (any number of tasks).")  # fmt: skip
@click.option("--results-dir", type=click.Path(), default="results", show_default=True,
              help="Parent of RESULTS_DIR/<task>/<model> when neither --out nor --out-dir is given.")  # fmt: skip
@click.option("--train-source", help="Dataset the checkpoint was tuned on (for transfer tables).")
@click.option(
    "--name", help="Name of the model in tables (default: read off the model, e.g. the checkpoint folder)."
)
@click.option("--box-frame", type=click.Choice(BOX_FRAMES), help="Override the adapter's declared box frame.")
@scoring_options
@click.option(
    "--cache", "cache_path", type=click.Path(), help="Generation cache file (default: ~/.cache/tag-bench)."
)
@click.option(
    "--no-cache", is_flag=True, help="Do not read or write the generation cache or the AU reference cache."
)
@click.option("--overwrite", is_flag=True, help="Discard an existing run in the target directory.")
@click.option("--max-error-rate", type=click.FloatRange(0, 1), default=None,
              help="Mark the run failed (manifest status) and exit with status 1 when more than this share of "
              "samples failed (error status); it is still scored. Default: only when every sample failed.")  # fmt: skip
@click.option("--shard", "shard", metavar="I/N",
              help="Generate only shard I of N (0 <= I < N) of each task, e.g. $SLURM_ARRAY_TASK_ID/"
              "$SLURM_ARRAY_TASK_COUNT: shards share the run directory and need no communication; the one that "
              "finishes the run scores it. A run started with N shards can be finished with any other N. "
              "See docs/scale.md.")  # fmt: skip
@click.option("--no-progress", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary per task.")
@cli_errors
def run_cmd(model: str, model_args: str, tasks: str, data_root: str | None, tasks_dirs: tuple[str, ...],
            class_order: str | None, options: tuple[str, ...], prompt: str | None, batch_size: int,
            limit: int | None, gen_kwargs: str, au_reference: str, out: str | None, out_dir: str | None,
            results_dir: str,
            train_source: str | None, name: str | None, box_frame: str | None, n_resamples: int, seed: int, cache_path: str | None,
            no_cache: bool, overwrite: bool, max_error_rate: float | None, shard: str | None, no_progress: bool,
            as_json: bool) -> None:  # fmt: skip
    """Evaluate a model on one or more tasks: generate, then score (resumable, cached).

    \b
    Where runs go: --out DIR is the run directory of the one task given; --out-dir DIR puts each task's
    run in DIR/<task>; without either, RESULTS_DIR/<task>/<model>. A run directory never holds another
    run directory, nor sits inside one.
    """
    setup_logging()
    task_list = _resolve_tasks(tasks, list(tasks_dirs))  # every name checked before any model loads
    if out is not None and out_dir is not None:
        raise click.UsageError(
            "give --out (the run directory of one task) or --out-dir (a parent folder), not both"
        )
    if out is not None and len(task_list) > 1:
        raise click.UsageError(
            f"--out is the run directory of one task, and {len(task_list)} tasks were given: use --out-dir "
            f"{out} to put each run in {Path(out) / '<task>'} (what --out used to mean when several tasks were given)"
        )
    _check_model_args(model, model_args)
    try:
        shard_spec = Shard.parse(shard) if shard is not None else None
    except ShardSpecError as e:
        raise click.BadParameter(str(e), param_hint="--shard") from None
    normalise_gen_kwargs(gen_kwargs)  # a bad setting stops here, not after the first task
    cache: Any = False if no_cache else (cache_path or True)
    loader = loader_overrides(class_order, options)
    failed: list[str] = []
    shard_failures: list[str] = []
    for task in task_list:
        task_name = task.name
        run_out = (
            Path(out) if out is not None else (Path(out_dir) / task_name if out_dir is not None else None)
        )
        result = evaluate(
            task, model, model_args, data_root=data_root, prompt=prompt, batch_size=batch_size, limit=limit,
            gen_kwargs=gen_kwargs, au_reference=au_reference, out=run_out, results_dir=results_dir,
            train_source=train_source, name=name, box_frame=box_frame, seed=seed, cache=cache,
            tasks_dirs=list(tasks_dirs), max_error_rate=max_error_rate,
            loader_options=loader, n_resamples=n_resamples, overwrite=overwrite, progress=not no_progress,
            shard=shard_spec,
        )  # fmt: skip
        warn(result.warnings)
        if result.stats.skipped_done:
            click.echo(
                f"resumed: {result.stats.skipped_done} of {result.stats.total} samples were already generated; "
                f"{result.stats.generated} generated now",
                err=True,
            )
        if result.shard_failed is not None:
            shard_failures.append(f"{task_name}: {result.shard_failed}")
        if result.report is None:  # a shard whose run other shards finish
            if as_json:
                click.echo(
                    json.dumps({"task": task_name, "run_dir": str(result.run_dir), "pending": result.pending})
                )
            else:
                click.echo(f"{task_name}: {result.pending}")
            continue
        if as_json:
            summary = {
                "task": task_name,
                "run_dir": str(result.run_dir),
                **result.report.model_dump(mode="json"),
            }
            click.echo(json.dumps(summary))
        else:
            click.echo(format_summary(task_name, model, result.run_dir, result.report))
            for msg in result.stats.error_messages:
                click.echo(f"  error: {msg}", err=True)
        if result.manifest.status == "failed":
            failed.append(f"{task_name}: {result.manifest.status_reason or 'failed'}")
    problems = []
    if failed:
        problems.append(
            "; ".join(failed)
            + " (scored anyway, failures in every denominator; the manifest says status failed)"
        )
    if shard_failures:
        problems.append(
            "; ".join(shard_failures) + " (its failed samples are retried when the shard is run again)"
        )
    if problems:
        raise click.ClickException("; ".join(problems))


def _resolve_tasks(tasks: str, tasks_dirs: list[str]) -> list[Any]:
    """The tasks of ``--tasks``, every one found before anything runs (an unknown name, an empty list or a
    name given twice is a usage error)."""
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    if not names:
        raise click.UsageError(f"--tasks {tasks!r} names no task; give one or more names, comma-separated "
                               "(see `tag-bench tasks`)")  # fmt: skip
    loaded = [load_task(n, tasks_dirs) for n in names]
    seen: set[str] = set()
    for t in loaded:
        if t.name in seen:
            raise click.UsageError(f"--tasks lists {t.name} twice")
        seen.add(t.name)
    return loaded


def _check_model_args(model: str, model_args: str) -> None:
    """``--model-args`` read and checked against the adapter's arguments before any task runs."""
    try:
        args = parse_kv(model_args)
    except OptionError as e:
        raise click.BadParameter(str(e), param_hint="--model-args") from None
    cls = adapter_class(model)
    validate_args(model, cls.Args, args)


@click.command("demo")
@click.option("--out", type=click.Path(), default="results/demo", show_default=True)
@au_reference_option(DEFAULT_DETECTOR, lead="AU reference the demo runs are scored against.")
@n_resamples_option
@click.option("--no-progress", is_flag=True)
@cli_errors
def demo_cmd(out: str, au_reference: str, n_resamples: int, no_progress: bool) -> None:
    """Run the offline demo: facs-rules and random on public-domain faces, then a leaderboard and an
    HTML report (results/demo/report.html)."""
    setup_logging()
    where = Path(out)
    for model in ("facs-rules", "random"):
        click.echo(f"== demo: {model}", err=True)
        result = evaluate("demo", model, au_reference=au_reference, out=where / model, overwrite=True,
                          cache=False, n_resamples=n_resamples, progress=not no_progress)  # fmt: skip
        warn(result.warnings)
        assert result.report is not None  # one process: the run is scored
        click.echo(format_summary("demo", model, result.run_dir, result.report), err=True)
    runs = [where / "facs-rules", where / "random"]
    md = leaderboard(runs, spec="overview").text
    (where / "leaderboard.md").write_text(md, encoding="utf-8")
    tex = leaderboard(runs, spec="overview", fmt="latex", options=RenderOptions(ci="none", label="tab:demo"))
    (where / "leaderboard.tex").write_text(tex.text, encoding="utf-8")
    report = write_report(runs, where / "report.html", figures=None)
    warn(report.warnings)
    click.echo(md)
    click.echo(f"written: {where / 'leaderboard.md'}, {where / 'leaderboard.tex'}, run directories under {where}/",
               err=True)  # fmt: skip
    click.echo(f"HTML report (open it in a browser): {report.path}")
