"""``tag-bench compare BASE NEW``: the regression gate (exit 0 ok, 1 regressed, 2 usage or data error)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import click

from tag_bench._cli.common import F, cli_errors, resamples_callback, run_status_options, warn
from tag_bench.options import OptionError, parse_kv
from tag_bench.report.compare import compare_runs
from tag_bench.report.compare_format import render_junit, render_markdown, render_text

#: Exit status when something regressed beyond its tolerance; usage and data errors exit 2.
EXIT_REGRESSED = 1
EXIT_ERROR = 2


def errors_exit_2(fn: F) -> F:
    """``cli_errors`` with exit status 2: a CI gate must tell a regression (1) from a failure to compare."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException as e:
            e.exit_code = EXIT_ERROR  # type: ignore[misc]  # click reads it from the instance
            raise

    return wrapper  # type: ignore[return-value]


def _tolerances(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for text in values:
        try:
            out.update(parse_kv(text))
        except OptionError as e:
            raise click.BadParameter(str(e), param_hint="--max-drop") from None
    return out


@click.command("compare")
@click.argument("base", type=click.Path(exists=True))
@click.argument("new", type=click.Path(exists=True))
@click.option("--metrics", help="Comma-separated metric names (per-class ones too, e.g. recall/anger), or 'all' "
              "[default: every metric that is not per-class].")  # fmt: skip
@click.option("--max-drop", "max_drop", multiple=True, metavar="METRIC=DROP,...",
              help="How much a metric may worsen before a significant worsening counts as a regression, absolute "
              "in rate units (0.01 = one point), e.g. accuracy=0.01,au_box_iou=0.02 [default: 0].")  # fmt: skip
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Significance level of the Holm-adjusted p-values.")  # fmt: skip
@click.option("--n-resamples", type=int, default=None, callback=resamples_callback(allow_zero=False),
              help="Paired-bootstrap resamples, at least 200 [default: at least 1000, and enough for the smallest "
              "p-value to pass Holm over all comparisons].")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option(
    "--intersect", is_flag=True, help="Compare only the samples both runs have (refused otherwise)."
)
@run_status_options
@click.option("--allow-missing", is_flag=True,
              help="Report a gated metric NEW cannot compute (vanished), a stage NEW has not run or a task NEW "
              "lacks, without failing the gate (by default each of them exits 1).")  # fmt: skip
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False),
              help="Write a GitHub-flavoured Markdown report (also appended to $GITHUB_STEP_SUMMARY when set).")  # fmt: skip
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False),
              help="Write JUnit XML: one test case per task × metric, a regression is a failure.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON instead of the table.")
@errors_exit_2
@cli_errors
def compare_cmd(base: str, new: str, metrics: str | None, max_drop: tuple[str, ...], alpha: float,
                n_resamples: int | None, seed: int, intersect: bool, allow_incomplete: bool, allow_failed: bool,
                allow_missing: bool, markdown_path: str | None, junit_path: str | None,
                as_json: bool) -> None:  # fmt: skip
    """Compare the runs in NEW with those in BASE, task by task (run directories or folders of runs).

    For each metric: NEW − BASE over the same samples with its paired-bootstrap CI, the p-value (exact
    McNemar for every share of all samples), Holm-adjusted across every task × metric, and a verdict.
    Exit status: 0 when nothing regressed beyond its tolerance, 1 when something did or when a gated
    metric or a task of BASE vanished from NEW (unless --allow-missing), 2 when the runs cannot be
    compared.
    """
    from tag_bench.rundir import is_judge_run

    if is_judge_run(base) or is_judge_run(new):
        _compare_judge_runs(base, new, max_drop, alpha, n_resamples, seed, as_json)
        return
    names = None if metrics is None else [m.strip() for m in metrics.split(",") if m.strip()]
    if names is not None and not names:
        raise click.BadParameter("give at least one metric name", param_hint="--metrics")
    result = compare_runs(
        base, new, metrics=names, max_drop=_tolerances(max_drop), alpha=alpha, n_resamples=n_resamples,
        seed=seed, intersect=intersect, allow_incomplete=allow_incomplete, allow_failed=allow_failed,
        allow_missing=allow_missing,
    )  # fmt: skip
    warn(result.warnings)
    if as_json:  # the table would name them
        warn([f"only in {side}, not compared: {', '.join(tasks)}"
              for side, tasks in (("BASE", result.only_in_base), ("NEW", result.only_in_new)) if tasks])  # fmt: skip
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo(render_text(result), nl=False)
    if markdown_path or os.environ.get("GITHUB_STEP_SUMMARY"):
        text = render_markdown(result)
        if markdown_path:
            Path(markdown_path).write_text(text, encoding="utf-8")
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(text + "\n")
    if junit_path:
        Path(junit_path).write_text(render_junit(result), encoding="utf-8")
    if result.exit_code:
        raise click.exceptions.Exit(EXIT_REGRESSED)


def _compare_judge_runs(base: str, new: str, max_drop: tuple[str, ...], alpha: float, n_resamples: int | None,
                        seed: int, as_json: bool) -> None:  # fmt: skip
    """Two judge runs of the same study: the paired differences of every candidate's ratings."""
    from tag_bench.judge.compare import JudgeCompareError, compare_judge_runs, render_judge_comparison
    from tag_bench.rundir import is_judge_run

    if not (is_judge_run(base) and is_judge_run(new)):
        judge, other = (base, new) if is_judge_run(base) else (new, base)
        raise JudgeCompareError(
            f"{judge} is a judge run and {other} is not: compare two judge runs of one study, or two sets of runs"
        )
    result = compare_judge_runs(base, new, alpha=alpha, n_resamples=n_resamples or 1000, seed=seed,
                                max_drop=_tolerances(max_drop))  # fmt: skip
    click.echo(result.model_dump_json(indent=2) if as_json else render_judge_comparison(result), nl=as_json)
    if result.exit_code:
        raise click.exceptions.Exit(EXIT_REGRESSED)
