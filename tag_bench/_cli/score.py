"""``tag-bench score``: score outputs produced elsewhere, or re-score a saved run."""

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
from tag_bench.au.sources import parse_reference_spec, split_reference_list
from tag_bench.generate.predictions import score_predictions
from tag_bench.rundir import RunDir
from tag_bench.schema import BOX_FRAMES
from tag_bench.scoring.run import score_run


@click.command("score")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("--task", help="Task of the predictions (with --predictions).")
@data_root_option(help="Folder holding the dataset (with --predictions; default: $TAG_BENCH_DATA).")
@tasks_dir_option
@loader_options
@click.option("--predictions", type=click.Path(dir_okay=False),
              help='JSONL: {"id": sample id, "response": text} (+ optional frame, finish_reason, input_size).')  # fmt: skip
@click.option("--frame", type=click.Choice(BOX_FRAMES),
              help="Box frame of the predictions (required unless each line has one).")  # fmt: skip
@au_reference_option(None, saved=True, several=True,
                     lead="AU reference to score against (default: the run's current one; with --predictions, "
                          "auto). Several, comma-separated, are each scored and kept (the first is current).")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False), help="Run directory to write (with --predictions).")
@click.option("--name", help="Name of the model in tables (default: the predictions file's stem).")
@click.option("--train-source", help="Dataset the model was tuned on (for transfer tables).")
@click.option("--limit", type=click.IntRange(1), help="Score only the first N samples of the task.")
@scoring_options
@click.option("--overwrite", is_flag=True, help="Discard an existing run in --out.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the AU reference cache.")
@click.option("--no-progress", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@cli_errors
def score_cmd(run_dir: str | None, task: str | None, data_root: str | None, tasks_dirs: tuple[str, ...],
              class_order: str | None, options: tuple[str, ...], predictions: str | None, frame: str | None,
              au_reference: str | None, out: str | None, name: str | None, train_source: str | None,
              limit: int | None, n_resamples: int, seed: int,
              overwrite: bool, no_cache: bool, no_progress: bool, as_json: bool) -> None:  # fmt: skip
    """Score predictions (--task/--data-root/--predictions/--out) or re-score RUN_DIR. Never calls a model.

    Samples without a prediction are scored with status `missing`; they stay in every denominator.
    """
    setup_logging()
    # several references: each is scored and kept under references/<id>/; the first listed is current.
    # Every one is checked before any is scored.
    specs: list[str | None] = [*split_reference_list(au_reference or "")] or [None]
    target = run_dir or out
    saved = RunDir(target).saved_reference_keys() if target else []
    for spec in specs:
        if spec is not None:
            parse_reference_spec(spec, saved=saved)
    reports = []
    if predictions:
        if run_dir:
            raise click.UsageError("give either RUN_DIR (re-score) or --predictions, not both")
        if not task or not out:
            raise click.UsageError("--predictions needs --task and --out (and usually --data-root)")
        result = score_predictions(
            task, predictions, frame=frame, data_root=data_root, limit=limit,
            au_reference=specs[-1] if specs[-1] is not None else "auto", out=out,
            tasks_dirs=list(tasks_dirs), loader_options=loader_overrides(class_order, options), name=name,
            train_source=train_source, n_resamples=n_resamples, seed=seed, overwrite=overwrite,
            progress=not no_progress, cache=not no_cache,
        )  # fmt: skip
        warn(result.warnings)
        assert result.report is not None  # a scoring always reports
        reports.append(result.report)
        where, rescore = str(result.run_dir), specs[:-1]
    elif run_dir:
        if class_order or options or task or limit:
            raise click.UsageError(
                "re-scoring RUN_DIR uses the run's own samples: drop --task/--limit/--option"
            )
        where, rescore = run_dir, specs
    else:
        raise click.UsageError("give RUN_DIR to re-score, or --task/--data-root/--predictions/--out")
    rd = RunDir(where)
    with rd.lock():
        if run_dir and (name or train_source):  # naming a run is not re-running it: only the manifest changes
            m = rd.read_manifest()
            m.name, m.train_source = name or m.name, train_source or m.train_source
            rd.write_manifest(m)
        for spec in reversed(rescore):
            problems: list[str] = []
            reports.insert(0, score_run(rd, au_reference=spec, n_resamples=n_resamples, seed=seed,
                                        progress=not no_progress, cache=not no_cache, warnings=problems))  # fmt: skip
            warn(problems)
    manifest = rd.read_manifest()
    for report in reports:
        if as_json:
            click.echo(
                json.dumps(
                    {"task": manifest.task.name, "run_dir": str(where), **report.model_dump(mode="json")}
                )
            )
        else:
            click.echo(format_summary(manifest.task.name, manifest.model.adapter, where, report))
