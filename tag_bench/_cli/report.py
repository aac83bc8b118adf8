"""``tag-bench leaderboard``: tables from scored run directories."""

from __future__ import annotations

from pathlib import Path

import click

from tag_bench._cli.common import cli_errors


@click.command("leaderboard")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["md", "latex"]), default="md", show_default=True)
@click.option("--no-ci", is_flag=True, help="Values only, no confidence intervals.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
@click.option(
    "--allow-incomplete", is_flag=True, help="Show runs whose generation did not finish (flagged ‡)."
)
@cli_errors
def leaderboard_cmd(run_dirs: tuple[str, ...], fmt: str, no_ci: bool, output: str | None,
                    allow_incomplete: bool) -> None:  # fmt: skip
    """Render a leaderboard (Markdown or LaTeX) from scored run directories."""
    from tag_bench.report.leaderboard import load_row, render_latex, render_markdown

    rows = [load_row(d, allow_incomplete=allow_incomplete) for d in run_dirs]
    text = render_markdown(rows, with_ci=not no_ci) if fmt == "md" else render_latex(rows, with_ci=not no_ci)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text)
