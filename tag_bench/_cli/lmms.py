"""``tag-bench lmms-eval export|import``: tag-bench tasks for lmms-eval, lmms-eval outputs scored by tag-bench."""

from __future__ import annotations

import json

import click

from tag_bench._cli.common import (
    au_reference_option,
    cli_errors,
    data_root_option,
    loader_options,
    loader_overrides,
    scoring_options,
    setup_logging,
    tasks_dir_option,
    warn,
)
from tag_bench._cli.summary import format_summary
from tag_bench.lmms.export import export_tasks
from tag_bench.lmms.importer import import_run
from tag_bench.schema import BOX_FRAMES


@click.group("lmms-eval")
def lmms_group() -> None:
    """Interop with lmms-eval: export tasks to it, import (and score) its logged samples.

    To drive an lmms-eval model from tag-bench instead: tag-bench run --model lmms-eval
    --model-args model=NAME,... (see tag-bench models).
    """


@lmms_group.command("export")
@click.option("--tasks", "task_list", required=True, help="Comma-separated tag-bench task names.")
@data_root_option()
@tasks_dir_option
@loader_options
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write (lmms-eval's --include_path).",
)
@click.option("--frame", type=click.Choice(BOX_FRAMES), default="pixel", show_default=True,
              help="Box frame the prompt asks for and the scorer reads.")  # fmt: skip
@click.option("--prompt", default=None, help="Prompt id (default: each task's own).")
@click.option(
    "--gen-kwargs", default=None, help="Generation settings, e.g. max_new_tokens=1024,temperature=0."
)
@click.option("--limit", type=click.IntRange(1), help="Export only the first N samples of each task.")
@click.option("--json", "as_json", is_flag=True)
@cli_errors
def export_cmd(task_list: str, data_root: str | None, tasks_dirs: tuple[str, ...], class_order: str | None,
               options: tuple[str, ...], out: str, frame: str, prompt: str | None, gen_kwargs: str | None,
               limit: int | None, as_json: bool) -> None:  # fmt: skip
    """Write lmms-eval task YAMLs (tag_<task>) and JSONL docs into OUT.

    Images stay where they are (absolute paths). Then run, for example:
    lmms-eval --model qwen2_5_vl --model_args pretrained=... --tasks tag_rafdb_basic_test
    --include_path OUT --log_samples --output_path RESULTS
    """
    setup_logging()
    names = [t.strip() for t in task_list.split(",") if t.strip()]
    done = export_tasks(
        names, out, data_root=data_root, frame=frame, prompt=prompt, gen_kwargs=gen_kwargs, limit=limit,
        tasks_dirs=list(tasks_dirs), loader_options=loader_overrides(class_order, options),
    )  # fmt: skip
    for e in done:
        warn(e.warnings)
    if as_json:
        rows = [{"lmms_task": e.name, "task": e.task, "yaml": str(e.yaml_path), "docs": str(e.docs_path),
                 "n_samples": e.n_samples, "skipped": e.skipped} for e in done]  # fmt: skip
        click.echo(json.dumps(rows))
        return
    for e in done:
        click.echo(f"{e.name}: {e.n_samples} samples -> {e.yaml_path}")
    click.echo(f"run: lmms-eval --model ... --tasks {','.join(e.name for e in done)} --include_path {out} "
               "--log_samples --output_path RESULTS")  # fmt: skip


@lmms_group.command("import")
@click.argument("source", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory to write.")
@click.option("--lmms-task", default=None, help="lmms-eval task to import when SOURCE holds several.")
@click.option("--task", default=None, help="tag-bench task of the docs (default: from the export).")
@click.option("--frame", type=click.Choice(BOX_FRAMES), default=None,
              help="Box frame of the responses (default: from the export).")  # fmt: skip
@data_root_option(help="Folder holding the dataset (default: the export's, then $TAG_BENCH_DATA).")
@tasks_dir_option
@loader_options
@click.option("--id-map", type=click.Path(dir_okay=False, exists=True),
              help="JSONL {doc_id, id} or CSV doc_id,id: which tag-bench sample each lmms-eval doc is.")  # fmt: skip
@click.option("--id-key", default=None, help="Logged key holding the tag-bench sample id.")
@au_reference_option("auto", lead="AU reference the grounding is measured against.")
@scoring_options
@click.option("--overwrite", is_flag=True, help="Discard an existing run in --out.")
@click.option("--no-progress", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@cli_errors
def import_cmd(source: str, out: str, lmms_task: str | None, task: str | None, frame: str | None,
               data_root: str | None, tasks_dirs: tuple[str, ...], class_order: str | None,
               options: tuple[str, ...], id_map: str | None, id_key: str | None, au_reference: str,
               n_resamples: int, seed: int, overwrite: bool, no_progress: bool, as_json: bool) -> None:  # fmt: skip
    """Score lmms-eval's logged samples (SOURCE: its --output_path folder or a samples JSONL) with tag-bench.

    Writes a run directory (generations, manifest recording lmms-eval's config and version, scored
    samples, metrics). Samples of the task with no logged response are scored `missing`.
    """
    setup_logging()
    overrides = loader_overrides(class_order, options)
    result = import_run(
        source, out, lmms_task=lmms_task, task=task, frame=frame, data_root=data_root, id_key=id_key,
        id_map=id_map, au_reference=au_reference, tasks_dirs=list(tasks_dirs),
        loader_options=overrides or None, n_resamples=n_resamples, seed=seed, overwrite=overwrite,
        progress=not no_progress,
    )  # fmt: skip
    warn(result.warnings)
    run = result.run
    assert run.report is not None
    if as_json:
        click.echo(json.dumps({"task": run.manifest.task.name, "run_dir": str(run.run_dir),
                               "imported": result.n_lines, **run.report.model_dump(mode="json")}))  # fmt: skip
    else:
        click.echo(format_summary(run.manifest.task.name, "lmms-eval", str(run.run_dir), run.report))
