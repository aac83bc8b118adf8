"""Predictions of three simulated checkpoints, one "fine-tuned" on each dataset, for the transfer table.

    python examples/simulated_transfer.py DATA_ROOT OUT

For each train source (rafdb, ferplus, affectnet) and each common7 test split, writes
``OUT/<source>/<task>.jsonl`` in the format ``tag-bench score --predictions`` reads: the right label
with probability 0.85 on the checkpoint's own dataset and 0.55 elsewhere, otherwise another label.
Real checkpoints would write these files from their generations; the simulation only exists so the
transfer table can be tried on the synthetic fixtures (python -m tag_bench.testing.fixtures).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from tag_bench import load_task

TASKS = {
    "rafdb": "rafdb_basic_test_common7",
    "ferplus": "ferplus_test_common7",
    "affectnet": "affectnet_val_common7",
}


def main(data_root: str, out: str) -> None:
    for source in TASKS:
        for dataset, task_name in TASKS.items():
            task = load_task(task_name)
            rng = random.Random(f"{source}/{task_name}")
            p_right = 0.85 if dataset == source else 0.55
            path = Path(out) / source / f"{task_name}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                for s in task.load(Path(data_root) / dataset).samples:
                    wrong = [c for c in task.classes if c != s.label]
                    label = s.label if rng.random() < p_right else rng.choice(wrong)
                    f.write(json.dumps({"id": s.id, "response": f"<answer> {label} </answer>"}) + "\n")
            print(path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
