"""The ``tag-bench`` command. Sub-commands live next to the code they drive and load lazily,
so ``tag-bench parse`` never pays for torch or mediapipe."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "tasks": "tag_bench.data.cli:tasks_cmd",
    "doctor": "tag_bench.data.cli:doctor_cmd",
    "inspect": "tag_bench.data.cli:inspect_cmd",
    "parse": "tag_bench.parsing.cli:parse_cmd",
    "score": "tag_bench.scoring.cli:score_cmd",
    "au": "tag_bench.au.cli:au_group",
    "run": "tag_bench.engine_cli:run_cmd",
    "models": "tag_bench.engine_cli:models_cmd",
    "demo": "tag_bench.engine_cli:demo_cmd",
    "leaderboard": "tag_bench.engine_cli:leaderboard_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tag-bench")
def main() -> None:
    """tag-bench: is the VLM's facial-expression answer right, and is its AU evidence grounded?"""


if __name__ == "__main__":  # pragma: no cover
    main()
