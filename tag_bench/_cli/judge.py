"""``tag-bench judge``: a judge model's pairwise preferences between runs' traces (docs/judge.md).

``tag-bench judge RUNS... --judge ADAPTER`` runs a study (the ``run`` sub-command, the default);
``judge export`` writes a blinded CSV for people to rate; ``judge agree`` measures agreement with them or
with another judge.
"""

from __future__ import annotations

from typing import Any

import click

from tag_bench._cli.common import cli_errors, n_resamples_option, setup_logging, warn
from tag_bench.schema import JudgeReport, MetricValue
from tag_bench.scoring.metric_table import spec as metric_spec
from tag_bench.scoring.units import format_value


class _DefaultGroup(click.Group):
    """A group whose first argument, when it names no sub-command, goes to the ``run`` sub-command."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if (args and args[0] not in self.commands and not args[0].startswith("-")) or (
            args and args[0].startswith("-") and args[0] not in ("-h", "--help")
        ):
            args.insert(0, "run")
        return super().resolve_command(ctx, args)


@click.group("judge", cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
def judge_group() -> None:
    """Judged reasoning: a judge model compares the traces of runs pairwise (Bradley-Terry ratings).

    \b
    tag-bench judge RUNS... --judge openai --judge-args model=gpt-5 --out DIR   (= judge run ...)
    tag-bench judge export JUDGE_RUN --out items.csv    blinded items for people to rate
    tag-bench judge agree JUDGE_RUN --human items.csv   agreement with them (or with JUDGE_RUN_B)
    """


@judge_group.command("run")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--judge",
    "judge",
    required=True,
    help="The judge's adapter (see `tag-bench models`): openai, hf, vllm, ...",
)
@click.option(
    "--judge-args", default="", help="k=v,... of the judge's adapter, e.g. model=gpt-5,base_url=..."
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The judge run directory.")
@click.option("--baseline", type=click.Path(exists=True, file_okay=False),
              help="Judge only the pairs with this run (added if not among RUNS); ratings anchored at it (0).")  # fmt: skip
@click.option("--samples", type=click.IntRange(1), help="Judge a seeded random subset of N shared samples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --samples and the bootstrap.")
@click.option("--template", type=click.Path(exists=True, dir_okay=False),
              help="A rubric file with {question}, {response_a}, {response_b}, {classes} (and {gold} with "
              "--show-gold); the judge answers [[A]], [[B]] or [[C]]. Default: the built-in tag_trace.")  # fmt: skip
@click.option("--show-gold", is_flag=True, help="Show the judge the gold label.")
@click.option("--no-image", is_flag=True, help="Do not show the judge the image (text-only judge).")
@click.option(
    "--gen-kwargs",
    default="",
    help="The judge's generation settings, k=v,... [default: temperature=0,max_new_tokens=1024].",
)
@click.option("--batch-size", type=click.IntRange(1), default=1, show_default=True)
@click.option(
    "--max-calls", type=click.IntRange(0), help="Refuse to start when more judge calls than this are needed."
)
@n_resamples_option
@click.option("--max-failure-rate", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Flag a rating whose candidate's judge failure rate is above this.")  # fmt: skip
@click.option(
    "--cache", "cache_path", type=click.Path(), help="Generation cache file (default: ~/.cache/tag-bench)."
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache.")
@click.option("--overwrite", is_flag=True, help="Discard an existing judge run in --out.")
@click.option("--no-progress", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print metrics.json instead of the summary.")
@cli_errors
def run_cmd(runs: tuple[str, ...], judge: str, judge_args: str, out: str, baseline: str | None, samples: int | None,
            seed: int, template: str | None, show_gold: bool, no_image: bool, gen_kwargs: str, batch_size: int,
            max_calls: int | None, n_resamples: int, max_failure_rate: float, cache_path: str | None,
            no_cache: bool, overwrite: bool, no_progress: bool, as_json: bool) -> None:  # fmt: skip
    """Judge the traces of RUNS pairwise, in both orders, and fit Bradley-Terry ratings with CIs.

    The runs must share sample ids, images and gold labels. The number of judge calls is printed before the
    first one; the study resumes where it stopped when run again.
    """
    from tag_bench.judge import judge_runs

    setup_logging()
    cache: Any = False if no_cache else (cache_path or True)
    result = judge_runs(
        list(runs), judge, judge_args, out=out, baseline=baseline, samples=samples, seed=seed, template=template,
        show_gold=show_gold, show_image=not no_image, gen_kwargs=gen_kwargs, batch_size=batch_size,
        max_calls=max_calls, n_resamples=n_resamples, max_failure_rate=max_failure_rate, cache=cache,
        overwrite=overwrite, progress=not no_progress, announce=lambda text: click.echo(text, err=True),
    )  # fmt: skip
    warn(result.warnings)
    if as_json:
        click.echo(result.report.model_dump_json(indent=2))
    else:
        click.echo(format_judge_summary(str(result.run_dir), result.report))
    if result.manifest.status == "failed":
        raise click.ClickException(f"{result.run_dir}: {result.manifest.status_reason}")


def _value(name: str, v: MetricValue | None, signed: bool = False) -> str:
    if v is None or v.value is None:
        return "–"
    unit = metric_spec(name).unit
    text = format_value(unit, v.value, 1, signed=signed and unit == "elo")
    if v.ci_low is not None and v.ci_high is not None:
        lo = format_value(unit, v.ci_low, 1, signed=signed and unit == "elo")
        hi = format_value(unit, v.ci_high, 1, signed=signed and unit == "elo")
        text += f" [{lo}, {hi}]"
    return text


def format_judge_summary(run_dir: str, report: JudgeReport) -> str:
    """The terminal summary of a judge study: ratings with CIs and the judge failure rate beside them."""
    cols = ("bt_rating", "bt_rating_lc", "bt_rating_same_label", "win_rate", "judge_failure_rate")
    heads = [
        "candidate",
        *(metric_spec(c).title + (" (Elo)" if metric_spec(c).unit == "elo" else " (%)") for c in cols),
    ]
    order = sorted(
        report.candidates,
        key=lambda c: -(c.metrics["bt_rating"].value if c.metrics["bt_rating"].value is not None else -1e18),
    )
    rows = [[c.name, *(_value(n, c.metrics.get(n), signed=True) for n in cols)] for c in order]
    widths = [max(len(r[k]) for r in [heads, *rows]) for k in range(len(heads))]
    lines = [f"judge study ({report.n_samples} samples, {report.n_comparisons} comparisons) -> {run_dir}"]
    lines += [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
        for r in [heads, *rows]
    ]
    anchor = "ratings sum to 0" if report.anchor == "mean" else f"anchored at {report.anchor} (0)"
    s = report.study
    lines.append(
        f"  {anchor}; position consistency {_value('position_consistency', s.get('position_consistency'))}; "
        f"first position {_value('first_position_rate', s.get('first_position_rate'))}; "
        f"judge failures {_value('judge_failure_rate', s.get('judge_failure_rate'))}; "
        f"length coefficient {_value('length_coefficient', s.get('length_coefficient'), signed=True)} Elo"
    )
    counts = report.status_counts
    lines.append(
        "  comparisons: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if v or k == "consistent")
    )
    for c in report.candidates:
        lines += [f"  ! {c.name}: {flag}" for flag in c.flags]
    lines += [f"  ! {why}" for key, why in report.not_computed.items() if key == "connected"]
    return "\n".join(lines)


@judge_group.command("export")
@click.argument("judge_run", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="The CSV to write (images beside it)."
)
@click.option("--limit", type=click.IntRange(1), help="Export a seeded random subset of N comparisons.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the shuffle.")
@click.option("--no-images", is_flag=True, help="Do not write the images with the boxes drawn.")
@cli_errors
def export_cmd(judge_run: str, out: str, limit: int | None, seed: int, no_images: bool) -> None:
    """Write a blinded CSV of JUDGE_RUN's comparisons for people to rate (shuffled A/B, no model names).

    Raters fill the verdict column with A, B or C (a tie) and, with several raters, the rater column; `tag-bench
    judge agree JUDGE_RUN --human FILE` reads it back.
    """
    from tag_bench.judge.agree import export_items

    n = export_items(judge_run, out, limit=limit, seed=seed, images=not no_images)
    click.echo(f"written: {out} ({n} items to rate)")


@judge_group.command("agree")
@click.argument("judge_run", type=click.Path(exists=True, file_okay=False))
@click.argument("other_run", required=False, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--human", type=click.Path(exists=True, dir_okay=False), help="A CSV written by `judge export`, rated."
)
@n_resamples_option
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--json", "as_json", is_flag=True)
@cli_errors
def agree_cmd(judge_run: str, other_run: str | None, human: str | None, n_resamples: int, seed: int,
              as_json: bool) -> None:  # fmt: skip
    """Agreement of JUDGE_RUN with people (--human FILE.csv) or with another judge (OTHER_RUN): agreement %,
    Cohen's kappa (Krippendorff's alpha with several raters) with CIs, and the confusion matrix."""
    from tag_bench.judge.agree import agree_with_human, agree_with_judge, format_agreement

    if (human is None) == (other_run is None):
        raise click.UsageError("give --human FILE.csv or a second judge run, not both and not neither")
    if human is not None:
        report = agree_with_human(judge_run, human, n_resamples=n_resamples, seed=seed)
    else:
        assert other_run is not None
        report = agree_with_judge(judge_run, other_run, n_resamples=n_resamples, seed=seed)
    click.echo(report.model_dump_json(indent=2) if as_json else format_agreement(report))
