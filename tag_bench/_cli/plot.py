"""``tag-bench plot``: paper figures (PNG and PDF) from scored run directories."""

from __future__ import annotations

import click

from tag_bench._cli.common import cli_errors, run_status_options, warn
from tag_bench.report.plots import SCOPE_WORDS, figure_kinds, plot_runs


def _help() -> str:
    kinds = [f"{k.name} ({SCOPE_WORDS[k.scope]}): {k.caption}" for k in figure_kinds()]
    return "\n\n".join(
        ["Draw figures of run directories (or folders holding them, searched recursively).", "Kinds:", *kinds]
    )


@click.command("plot", help=_help())
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--kind", "kinds", multiple=True, type=click.Choice([k.name for k in figure_kinds()] + ["all"]),
              default=("all",), show_default=True, help="Figure to draw (repeatable).")  # fmt: skip
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the figures into.")  # fmt: skip
@click.option("--sample", "sample_ids", multiple=True, metavar="ID",
              help="Overlay of this sample id (repeatable).")  # fmt: skip
@click.option("--worst", type=click.IntRange(1), default=None,
              help="Overlays of the N worst samples of each run: wrong first, then more hallucinated AUs, "
              "then lower mean IoU (default with --kind all: 3).")  # fmt: skip
@click.option(
    "--format", "formats", default="png,pdf", show_default=True, help="png, pdf or both (comma-separated)."
)
@click.option(
    "--dpi", type=click.IntRange(50, 1200), default=300, show_default=True, help="Resolution of PNG files."
)
@run_status_options
@cli_errors
def plot_cmd(paths: tuple[str, ...], kinds: tuple[str, ...], out_dir: str, sample_ids: tuple[str, ...],
             worst: int | None, formats: str, dpi: int, allow_incomplete: bool, allow_failed: bool) -> None:  # fmt: skip
    result = plot_runs(paths, out_dir, kinds=kinds, sample_ids=sample_ids, worst=worst,
                       formats=[f.strip() for f in formats.split(",") if f.strip()], dpi=dpi,
                       allow_incomplete=allow_incomplete, allow_failed=allow_failed)  # fmt: skip
    warn([f"not drawn: {s}" for s in result.skipped])
    for path in result.written:
        click.echo(str(path))
