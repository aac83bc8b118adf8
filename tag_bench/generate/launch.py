"""Launching the shards of a run: the command line of each shard, and a Ray launcher (extra ``ray``).

Every launcher starts the same independent processes, ``tag-bench run ... --shard I/N``: a Slurm job
array (``docs/scale.md``), a shell loop, or :func:`run_shards_with_ray`, where Ray only places the
processes (one task per shard, its resources reserved) and waits for each; the shards never talk to
one another or to Ray. A shard that fails is run again by the same command, and any other N may
finish the run.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tag_bench._optional import require
from tag_bench.errors import TagBenchError
from tag_bench.generate.shards import Shard


class LaunchError(TagBenchError):
    """The shards cannot be launched as asked."""


#: How the command line tool is started when no executable is given: this interpreter, so a launcher
#: runs the tag-bench it was imported from.
DEFAULT_EXECUTABLE = (sys.executable, "-m", "tag_bench")


def shard_commands(
    run_args: Sequence[str], count: int, executable: Sequence[str] | None = None
) -> list[list[str]]:
    """The command of every shard of ``tag-bench run`` with ``run_args`` (which must name ``--out`` and
    no ``--shard``): ``[*executable, *run_args, "--shard", "I/N"]`` for I in 0..N-1."""
    args = list(run_args)
    if args[:1] != ["run"]:
        args = ["run", *args]
    if any(a == "--shard" or a.startswith("--shard=") for a in args):
        raise LaunchError("the launcher adds --shard I/N to each shard: leave it out of the run's arguments")
    if not any(
        a == "--out" or a.startswith("--out=") or a == "--out-dir" or a.startswith("--out-dir=") for a in args
    ):
        raise LaunchError(
            "give the run's --out (or --out-dir): every shard must write to the same run directory"
        )
    if count < 1:
        raise LaunchError(f"{count} shards: give at least 1")
    exe = list(executable or DEFAULT_EXECUTABLE)
    return [[*exe, *args, "--shard", str(Shard(i, count))] for i in range(count)]


@dataclass
class ShardOutcome:
    shard: str
    command: list[str]
    returncode: int | None  # None: dry run
    output_tail: str = ""


def run_shards_with_ray(
    run_args: Sequence[str],
    count: int,
    *,
    num_gpus: float = 0,
    num_cpus: float = 1,
    executable: Sequence[str] | None = None,
    address: str | None = None,
    dry_run: bool = False,
    init_options: dict[str, Any] | None = None,
) -> list[ShardOutcome]:
    """Run ``count`` shards of ``tag-bench run`` as Ray tasks (one task per shard, each reserving
    ``num_gpus`` and ``num_cpus``), on the cluster at ``address`` (default: Ray's own choice, or a local
    one). ``dry_run`` returns the commands without importing Ray. The run directory must be on a file
    system every node sees. Returns each shard's exit status and the tail of its output."""
    commands = shard_commands(run_args, count, executable)
    if dry_run:
        return [
            ShardOutcome(shard=str(Shard(i, count)), command=c, returncode=None)
            for i, c in enumerate(commands)
        ]
    ray = require("ray", "ray", "launching shards with Ray (tag_bench.generate.launch.run_shards_with_ray)")
    if not ray.is_initialized():
        ray.init(address=address, **(init_options or {}))
    task = ray.remote(num_gpus=num_gpus, num_cpus=num_cpus, max_retries=0)(_run_command)
    refs = [task.remote(c) for c in commands]
    outcomes = []
    for i, (cmd, ref) in enumerate(zip(commands, refs, strict=True)):
        returncode, tail = ray.get(ref)
        outcomes.append(
            ShardOutcome(shard=str(Shard(i, count)), command=cmd, returncode=returncode, output_tail=tail)
        )
    return outcomes


def _run_command(command: list[str]) -> tuple[int, str]:
    proc = subprocess.run(command, capture_output=True, text=True)
    return proc.returncode, (proc.stdout + proc.stderr)[-4000:]


def format_commands(commands: Sequence[Sequence[str]]) -> str:
    return "\n".join(shlex.join(c) for c in commands)
