"""``tag-bench models``: the registered model adapters, their box frames and their arguments."""

from __future__ import annotations

import dataclasses
import json

import click

from tag_bench._cli.common import cli_errors
from tag_bench.models.base import adapter_info, describe_adapters


@click.command("models")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@cli_errors
def models_cmd(names: tuple[str, ...], as_json: bool) -> None:
    """List model adapters (or the NAMES given): what each drives, its box frame and its --model-args."""
    infos = [adapter_info(n) for n in names] if names else describe_adapters()
    if as_json:
        click.echo(json.dumps({"adapters": [dataclasses.asdict(i) for i in infos]}, indent=2, default=str))
        return
    for i in infos:
        flags = [f for f, on in (("oracle reference", i.oracle_reference), ("cached", i.cacheable)) if on]
        click.echo(f"{i.name}  {i.description}" + (f"  [{', '.join(flags)}]" if flags else ""))
        if i.error:
            click.echo(f"    cannot load: {i.error}")
            continue
        click.echo(f"    frame: {i.frame}")
        if i.source and not i.source.startswith("built-in"):
            click.echo(f"    from: {i.source}")
        for a in i.args:
            default = "required" if a.required else f"default {a.default!r}"
            desc = f"  {a.description}" if a.description else ""
            click.echo(f"    {a.name} ({a.type}, {default}){desc}")
