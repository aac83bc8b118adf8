"""``tag-bench score``: score outputs produced elsewhere, or re-score a saved run."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tag_bench.schema import BOX_FRAMES


@click.command("score")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("--task", help="Task of the predictions (with --predictions).")
@click.option("--data-root", type=click.Path(), help="Folder holding the dataset (with --predictions).")
@click.option("--predictions", type=click.Path(dir_okay=False),
              help='JSONL: {"id": sample id, "response": text} (+ optional frame, finish_reason, input_size).')  # fmt: skip
@click.option(
    "--frame",
    type=click.Choice(BOX_FRAMES),
    help="Box frame of the predictions (required unless each line has one).",
)
@click.option("--au-reference", default=None,
              help="AU reference: detector name, references JSONL, 'auto' or 'none'. Re-scoring keeps the saved one by default.")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False), help="Run directory to write (with --predictions).")
@click.option("--limit", type=click.IntRange(1))
@click.option("--tasks-dir", multiple=True, type=click.Path())
@click.option("--n-resamples", type=click.IntRange(0), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True)
@click.option("--no-progress", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
def score_cmd(run_dir, task, data_root, predictions, frame, au_reference, out, limit, tasks_dir, n_resamples,
              seed, overwrite, no_progress, as_json):  # fmt: skip
    """Score predictions (--task/--data-root/--predictions/--out) or re-score RUN_DIR. Never calls a model.

    Samples without a prediction are scored with status `missing`; they stay in every denominator.
    """
    from tag_bench.engine_cli import format_summary, setup_logging, user_errors

    setup_logging()
    try:
        if predictions:
            if run_dir:
                raise click.UsageError("give either RUN_DIR (re-score) or --predictions, not both")
            if not task or not out:
                raise click.UsageError("--predictions needs --task and --out (and usually --data-root)")
            from tag_bench.generate.predictions import score_predictions

            result = score_predictions(
                task, predictions, frame=frame, data_root=data_root, limit=limit,
                au_reference=au_reference if au_reference is not None else "auto", out=out,
                tasks_dirs=list(tasks_dir), n_resamples=n_resamples, seed=seed, overwrite=overwrite,
                progress=not no_progress,
            )  # fmt: skip
            for w in result.warnings:
                click.echo(f"warning: {w}", err=True)
            report, where, task_name = result.report, result.run_dir, task
        elif run_dir:
            from tag_bench.scoring.run import score_run

            report = score_run(run_dir, au_reference=au_reference, n_resamples=n_resamples, seed=seed,
                               progress=not no_progress)  # fmt: skip
            from tag_bench.rundir import RunDir

            where = Path(run_dir)
            task_name = RunDir(where).read_manifest().task.name
        else:
            raise click.UsageError("give RUN_DIR to re-score, or --task/--data-root/--predictions/--out")
    except user_errors() as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps({"task": task_name, "run_dir": str(where), **report.model_dump(mode="json")}))
    else:
        click.echo(format_summary(task_name, "replay" if predictions else "re-score", where, report))
