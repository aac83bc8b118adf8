"""``tag-bench intervene``: does the evidence matter? Re-ask a run's model on images with the cited boxes
(or controls of the same area) filled; faithfulness by intervention (docs/faithfulness.md)."""

from __future__ import annotations

import json

import click

from tag_bench._cli.common import cli_errors, scoring_options, setup_logging, warn
from tag_bench.intervene.exchange import export_sets, import_predictions
from tag_bench.intervene.fills import fill_names
from tag_bench.intervene.stage import InterveneResult, StagePlan, intervene, parse_list
from tag_bench.options import OptionError, parse_kv
from tag_bench.schema import INTERVENTION_CONDITIONS
from tag_bench.scoring.metric_table import spec
from tag_bench.scoring.units import format_value

#: The metrics printed per fill after a run of the stage (all are in interventions/<fill>/metrics.json).
SHOWN = (
    "intervention_coverage",
    "none_flip_rate",
    "cited_flip_rate",
    "control_flip_rate",
    "habitual_flip_rate",
    "keep_flip_rate",
    "faithfulness_gap",
    "specificity_gap",
    "cited_accuracy_drop",
    "answer_logprob_drop_cited",
    "answer_only_logprob_drop_cited",
)


@click.command("intervene")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--fills", default=",".join(fill_names()), show_default=True,
              help="Comma-separated fills, each its own intervention set: blur, mean, noise (noise needs scipy).")  # fmt: skip
@click.option("--conditions", default=",".join(INTERVENTION_CONDITIONS), show_default=True,
              help="Comma-separated conditions: none (asked again unmodified), cited, control, habitual, keep.")  # fmt: skip
@click.option("--per-au", is_flag=True, help="Also leave each cited AU out on its own (drop:AU conditions).")
@click.option("--limit", type=click.IntRange(1), help="Test only the first N tested samples.")
@click.option("--max-calls", type=click.IntRange(0), help="Refuse to start when more model calls are needed.")
@click.option(
    "--model-args", default="", help="k=v,... added to the run's model arguments (secrets it never stored)."
)
@click.option("--allow-model-change", is_flag=True,
              help="Re-ask the model even when its fingerprint is not the run's (another checkpoint or version).")  # fmt: skip
@click.option("--batch-size", type=click.IntRange(1), help="Samples per model call (default: the run's).")
@click.option(
    "--cache", "cache_path", type=click.Path(), help="Generation cache file (default: ~/.cache/tag-bench)."
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the generation cache or the AU cache.")
@click.option("--fresh", is_flag=True, help="Discard the run's intervention sets and start again.")
@click.option("--export", "export_dir", type=click.Path(file_okay=False),
              help="Write the intervened images and a predictions template here instead of asking the model.")  # fmt: skip
@click.option("--predictions", type=click.Path(dir_okay=False),
              help="Score the answers of a filled-in predictions template (from --export).")  # fmt: skip
@scoring_options
@click.option("--no-progress", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print each fill's metrics and the summary as JSON.")
@cli_errors
def intervene_cmd(run_dir: str, fills: str, conditions: str, per_au: bool, limit: int | None,
                  max_calls: int | None, model_args: str, allow_model_change: bool, batch_size: int | None,
                  cache_path: str | None, no_cache: bool, fresh: bool, export_dir: str | None,
                  predictions: str | None, n_resamples: int, seed: int, no_progress: bool,
                  as_json: bool) -> None:  # fmt: skip
    """Faithfulness by intervention on a finished run: fill what the model cited, and controls of the same
    area, ask again, and count the answers that flip (resumable, cached; Ctrl-C keeps what was answered).

    \b
    The run's adapter is built again from its manifest (secrets from the environment). Each fill is a set
    of its own, stored in RUN_DIR/interventions/; running other fills or conditions later adds sets and
    never deletes one. Read the results with `tag-bench leaderboard RUN_DIR --spec faithfulness`.
    Runs whose answers came from elsewhere: --export DIR, answer the images there, then --predictions FILE.
    """
    setup_logging()
    if export_dir and predictions:
        raise click.UsageError("give --export DIR or --predictions FILE, not both")
    fill_list, cond_list = parse_list(fills), parse_list(conditions)
    seed_given = (
        click.get_current_context().get_parameter_source("seed") != click.core.ParameterSource.DEFAULT
    )
    if export_dir:
        out = export_sets(
            run_dir, export_dir, fills=fill_list, conditions=cond_list, per_au=per_au, limit=limit
        )
        click.echo(out.plan.describe(), err=True)
        click.echo(f"wrote {out.images} intervened images and the predictions template {out.template}: fill in each "
                   f"line's response, then run `tag-bench intervene {run_dir} --predictions FILE`")  # fmt: skip
        return
    if predictions:
        result = import_predictions(
            run_dir, predictions, n_resamples=n_resamples, seed=seed if seed_given else None
        )
        _print(result, as_json)
        return
    try:
        extra = parse_kv(model_args)
    except OptionError as e:
        raise click.BadParameter(str(e), param_hint="--model-args") from None

    def announce(plan: StagePlan) -> None:
        click.echo(plan.describe(), err=True)

    result = intervene(
        run_dir, fills=fill_list, conditions=cond_list, per_au=per_au, limit=limit, max_calls=max_calls,
        model_args=extra, allow_model_change=allow_model_change, batch_size=batch_size,
        cache=False if no_cache else (cache_path or True), n_resamples=n_resamples,
        seed=seed if seed_given else None, fresh=fresh, progress=not no_progress, on_plan=announce,
    )  # fmt: skip
    warn(result.warnings)
    click.echo(f"answered: {result.model_calls} model calls, {result.from_cache} from the generation cache "
               f"({result.seconds:.1f} s)", err=True)  # fmt: skip
    _print(result, as_json)


def _print(result: InterveneResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({
            "run_dir": str(result.run_dir),
            "fills": {f: r.model_dump(mode="json") for f, r in result.reports.items()},
            "summary": result.summary.model_dump(mode="json"),
        }))  # fmt: skip
        return
    tests = {(t.fill, t.metric): t for t in result.summary.tests}
    for fill, report in result.reports.items():
        click.echo(f"fill {fill}  ({result.run_dir})")
        for name in SHOWN:
            v = report.metrics.get(name)
            if v is None:
                continue
            m = spec(name)
            if v.value is None:
                click.echo(f"  {name:<32} –   ({report.not_computed.get(name, 'not computed')})")
                continue
            ci = ""
            if v.ci_low is not None and v.ci_high is not None:
                ci = f"  [{format_value(m, v.ci_low)}, {format_value(m, v.ci_high)}]"
            t = tests.get((fill, name))
            test = (
                f"  McNemar {t.cited_only} vs {t.other_only}, p={t.p_value:.2g}, Holm {t.p_holm:.2g}"
                if t
                else ""
            )
            click.echo(f"  {name:<32} {format_value(m, v.value):>6}{ci}{test}")
    for fs in result.summary.fills:
        if fs.untested:
            reasons = "; ".join(f"{k} {n}" for k, n in fs.untested.items())
            click.echo(f"untested ({fs.fill}): {reasons}")
            break
