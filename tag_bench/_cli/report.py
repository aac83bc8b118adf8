"""``tag-bench leaderboard``: tables from scored run directories."""

from __future__ import annotations

from pathlib import Path

import click

from tag_bench._cli.common import cli_errors, published_dir_option, run_status_options, warn
from tag_bench.report.leaderboard import leaderboard
from tag_bench.report.render import FORMATS, RenderOptions


@click.command("leaderboard")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--spec", default="overview", show_default=True,
              help="A built-in spec (overview, main, grounding, transfer, usage) or a spec YAML file.")  # fmt: skip
@click.option("--format", "fmt", default="md", show_default=True, help="md, latex, csv, json or html.")
@click.option("--decimals", type=click.IntRange(0, 4), default=1, show_default=True,
              help="Decimal places of rates (in %); other units keep their own precision.")  # fmt: skip
@click.option("--ci", type=click.Choice(["none", "pm", "brackets"]), default=None,
              help="How to show 95 % intervals: pm (± h where symmetric, else [low, high]), brackets or none "
              "(default: pm; none in LaTeX, so the main table fits a page).")  # fmt: skip
@click.option("--no-ci", is_flag=True, help="Same as --ci none.")
@click.option("--mark-significant", is_flag=True,
              help="Bold the best value only when a paired test beats the runner-up on the same samples.")  # fmt: skip
@click.option("--caption", default=None, help="Table caption (default: the spec's).")
@click.option("--label", default=None, help="LaTeX \\label.")
@run_status_options
@click.option("--intersect", is_flag=True,
              help="Score runs of one column that cover different samples (a dataset copy missing a few "
                   "files) on the samples they share; noted under the table.")  # fmt: skip
@click.option("--published", "published", metavar="all|KEY,...", default=None,
              help="Add published results (results/published/; `tag-bench published` lists them) as rows marked "
                   "§, under the columns whose task protocol they follow: all, or citation keys.")  # fmt: skip
@click.option("--mark-published", is_flag=True,
              help="Let published rows take part in the best / second marks (off: runs only).")  # fmt: skip
@click.option("--bib", type=click.Path(dir_okay=False), default=None,
              help="Write the BibTeX entries of the published rows the table cites to this file.")  # fmt: skip
@published_dir_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@cli_errors
def leaderboard_cmd(paths: tuple[str, ...], spec: str, fmt: str, decimals: int, ci: str | None, no_ci: bool,
                    mark_significant: bool, caption: str | None, label: str | None, allow_incomplete: bool,
                    allow_failed: bool, intersect: bool, published: str | None, mark_published: bool,
                    bib: str | None, published_dirs: tuple[str, ...], output: str | None) -> None:  # fmt: skip
    """Render a leaderboard from run directories (or folders holding them, searched recursively)."""
    if fmt not in FORMATS:
        raise click.BadParameter(FORMATS.unknown_message(fmt), param_hint="--format")
    if published is None and (mark_published or bib or published_dirs):
        flag = "--mark-published" if mark_published else "--bib" if bib else "--published-dir"
        raise click.UsageError(f"{flag} works with published rows: add --published all (or citation keys)")
    ci_style = "none" if no_ci else ci or ("none" if fmt == "latex" else "pm")
    options = RenderOptions(decimals=decimals, ci=ci_style, caption=caption, label=label)  # type: ignore[arg-type]
    board = leaderboard(paths, spec=spec, fmt=fmt, options=options, allow_incomplete=allow_incomplete,
                        allow_failed=allow_failed, mark_significant=mark_significant, intersect=intersect,
                        published=published, mark_published=mark_published, published_dirs=published_dirs)  # fmt: skip
    warn([f"skipped {s}" for s in board.skipped])
    if bib:
        Path(bib).write_text(board.bibtex, encoding="utf-8")
        cited = len(board.table.cited)
        click.echo(f"written: {bib} ({cited} BibTeX entr{'y' if cited == 1 else 'ies'})", err=True)
    if output:
        Path(output).write_text(board.text, encoding="utf-8")
        click.echo(f"written: {output}", err=True)
    else:
        click.echo(board.text, nl=False)
