"""``tag-bench report``: one self-contained HTML file with tables, figures and a sample browser."""

from __future__ import annotations

import click

from tag_bench._cli.common import cli_errors, run_status_options, warn
from tag_bench.report.html import BROWSER_SAMPLES, write_report


@click.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("-o", "--output", default="report.html", show_default=True, type=click.Path(dir_okay=False),
              help="The HTML file to write.")  # fmt: skip
@click.option("--max-samples", type=click.IntRange(0), default=None,
              help="At most N samples per run in the sample browser (metrics always cover every sample).")  # fmt: skip
@click.option("--browser-samples", type=click.IntRange(0), default=BROWSER_SAMPLES, show_default=True,
              help="A run with more samples than N left to show shows a random N of them in the browser (the "
              "same every time); 0: all of them. Tables, figures and counts always cover every sample.")  # fmt: skip
@click.option("--only", type=click.Choice(["failures", "hallucinated", "wrong"]), default=None,
              help="Only these samples in the browser: failures (no usable answer), hallucinated (an AU the "
              "reference marks inactive), wrong (not correct).")  # fmt: skip
@click.option("--no-figures", is_flag=True, help="Leave the figures out (no matplotlib needed).")
@click.option("--title", default=None, help="Title of the page.")
@run_status_options
@cli_errors
def report_cmd(paths: tuple[str, ...], output: str, max_samples: int | None, browser_samples: int,
               only: str | None, no_figures: bool, title: str | None, allow_incomplete: bool,
               allow_failed: bool) -> None:  # fmt: skip
    """Write an HTML report of run directories (or folders holding them, searched recursively).

    One file that opens offline in any browser: leaderboards, figures, each run's facts and warnings,
    and a sample browser (filters, sorting, each sample's image with its claimed boxes against the AU
    reference, raw response and claims).
    """
    result = write_report(paths, output, max_samples=max_samples, only=only, figures=not no_figures,
                          title=title, allow_incomplete=allow_incomplete, allow_failed=allow_failed,
                          browser_samples=browser_samples)  # fmt: skip
    warn(result.warnings)
    click.echo(
        f"written: {result.path} ({result.size / 1e6:.1f} MB; {result.runs} run(s), {result.samples} samples, "
        f"{result.images} images, {result.thumbnails_made} new thumbnails)"
    )
