"""Run the shards of a tag-bench run as Ray tasks (one task per shard; needs tag-bench[ray]).

    python examples/scale/ray_shards.py --shards 8 --num-gpus 1 -- \
        --model hf --model-args pretrained=Qwen/Qwen2.5-VL-7B-Instruct --tasks rafdb_basic_test \
        --out /shared/results/qwen7b
    python examples/scale/ray_shards.py --shards 8 --dry-run -- ...   # print the commands; Ray not needed

Ray only places the processes and waits for them: the shards never talk to one another. A shard that
failed is run again with the same command (or finish with any other --shards); `tag-bench status OUT`
shows where the run stands.
"""

from __future__ import annotations

import argparse
import sys

from tag_bench.generate.launch import format_commands, run_shards_with_ray


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", type=int, required=True, help="number of shards (Ray tasks)")
    ap.add_argument("--num-gpus", type=float, default=0, help="GPUs each shard reserves")
    ap.add_argument("--num-cpus", type=float, default=1, help="CPUs each shard reserves")
    ap.add_argument("--address", help="Ray cluster address (default: Ray's own choice, or a local one)")
    ap.add_argument("--dry-run", action="store_true", help="print each shard's command and stop")
    ap.add_argument("run_args", nargs=argparse.REMAINDER, help="-- then the arguments of `tag-bench run`")
    a = ap.parse_args(argv)
    run_args = a.run_args[1:] if a.run_args[:1] == ["--"] else a.run_args
    outcomes = run_shards_with_ray(
        run_args, a.shards, num_gpus=a.num_gpus, num_cpus=a.num_cpus, address=a.address, dry_run=a.dry_run
    )
    if a.dry_run:
        print(format_commands([o.command for o in outcomes]))
        return 0
    failed = [o for o in outcomes if o.returncode != 0]
    for o in outcomes:
        print(f"shard {o.shard}: exit {o.returncode}")
    for o in failed:
        print(f"--- shard {o.shard} (run it again: the same command) ---\n{o.output_tail}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
