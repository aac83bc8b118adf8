"""The ``tag-bench`` command. Sub-commands load lazily, so ``tag-bench parse`` never pays for torch."""

from __future__ import annotations

import click

from tag_bench._registry import Registry

#: Every sub-command, as "module:attribute" (imported when used).
COMMANDS: Registry[click.Command] = Registry("command")
for _name, _target in {
    "tasks": "tag_bench._cli.data:tasks_cmd",
    "doctor": "tag_bench._cli.data:doctor_cmd",
    "inspect": "tag_bench._cli.data:inspect_cmd",
    "parse": "tag_bench._cli.parse:parse_cmd",
    "score": "tag_bench._cli.score:score_cmd",
    "au": "tag_bench._cli.au:au_group",
    "run": "tag_bench._cli.run:run_cmd",
    "intervene": "tag_bench._cli.intervene:intervene_cmd",
    "demo": "tag_bench._cli.run:demo_cmd",
    "models": "tag_bench._cli.models:models_cmd",
    "leaderboard": "tag_bench._cli.report:leaderboard_cmd",
    "published": "tag_bench._cli.published:published_cmd",
    "lmms-eval": "tag_bench._cli.lmms:lmms_group",
    "plot": "tag_bench._cli.plot:plot_cmd",
    "report": "tag_bench._cli.html_report:report_cmd",
    "status": "tag_bench._cli.status:status_cmd",
}.items():
    COMMANDS.register(_name, _target, source="tag-bench")
COMMANDS.register("compare", "tag_bench._cli.compare:compare_cmd", source="tag-bench")
COMMANDS.register("judge", "tag_bench._cli.judge:judge_group", source="tag-bench")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return COMMANDS.names()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return COMMANDS.get(cmd_name) if cmd_name in COMMANDS else None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tag-bench")
def main() -> None:
    """tag-bench: is the VLM's facial-expression answer right, and is its AU evidence grounded?"""


def entry() -> None:
    """The ``tag-bench`` program: :func:`main`, with SIGTERM stopping it as Ctrl-C does."""
    from tag_bench._cli.common import stop_on_sigterm

    stop_on_sigterm()
    main()
