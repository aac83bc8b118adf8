"""``tag-bench published``: the published results known per task, with their sources and protocol status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tag_bench._cli.common import cli_errors, published_dir_option
from tag_bench._text import table
from tag_bench.report.published import known_results, load_sources
from tag_bench.scoring.metric_table import spec as metric_spec


@click.command("published")
@click.option("--task", default=None, help="Only this task: the results placed under its columns, and the "
              "results of its dataset whose protocol is unknown.")  # fmt: skip
@published_dir_option
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"tasks": [...], "unknown": [...], "sources": [...]}.'
)
@cli_errors
def published_cmd(task: str | None, published_dirs: tuple[str, ...], as_json: bool) -> None:
    """List the published results tag-bench can put beside your runs (`leaderboard --published`): per task,
    each number with its model, setting, n, protocol status and place in its source."""
    doc = known_results(load_sources(published_dirs), task)
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    notes: list[str] = []
    blocks = []
    for b in doc["tasks"]:
        also = f"; also under {', '.join(b['also'])} (same samples and labels)" if b["also"] else ""
        head = (
            f"{b['task']} v{b['version']}: {b['dataset']} {b['split']}, protocol {b['protocol']}, "
            f"{len(b['classes'])} classes{also}"
        )
        blocks.append(
            head + "\n" + (_rows(b["results"], notes) if b["results"] else "(no published results)")
        )
    for u in doc["unknown"]:
        blocks.append(f"{u['dataset']}, protocol unknown (never placed):\n" + _rows(u["results"], notes))
    if doc["sources"]:
        folders = ", ".join(dict.fromkeys(_shown(Path(s["file"]).resolve().parent) for s in doc["sources"]))
        blocks.append(
            f"Sources (KEY.yaml and references.bib in {folders}):\n"
            + table(
                ["KEY", "REFERENCE"],
                [
                    [s["key"], f"{s['citation']}, {s['title']}" + (f" <{s['url']}>" if s["url"] else "")]
                    for s in doc["sources"]
                ],
            )
        )
    click.echo("\n\n".join(blocks))
    for i, note in enumerate(notes, start=1):
        click.echo(f"\n[{i}] {note}", nl=False)
    click.echo("" if not notes else "\n", nl=False)


def _rows(results: list[dict[str, Any]], notes: list[str]) -> str:
    rows = []
    for e in results:
        said = (
            [f"not placed: {e['why_not_placed']}"]
            if e["why_not_placed"] and e["protocol"] != "unknown"
            else []
        )
        said += [f"computed: {e['computed']}"] if e["computed"] else []
        said += [e["note"]] if e["note"] else []
        said += [f"measured on {e['via']} (same samples and labels)"] if e["via"] else []
        refs = []
        for text in said:
            if text not in notes:
                notes.append(text)
            refs.append(f"[{notes.index(text) + 1}]")
        model = e["model"] + (f" ({e['detail']})" if e["detail"] else "")
        n = "-" if e["n"] is None else f"{e['n']:,}"
        rows.append([model, e["setting"], metric_spec(e["metric"]).title, e["value"], n, e["protocol"],
                     f"{e['source']}, {e['where']}", " ".join(refs)])  # fmt: skip
    return table(
        ["MODEL", "SETTING", "METRIC", "VALUE %", "N", "PROTOCOL", "SOURCE", "NOTES"], rows, right=[3, 4]
    )


def _shown(folder: Path) -> str:
    """A folder relative to the working directory when it is below it."""
    try:
        return str(folder.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(folder)
