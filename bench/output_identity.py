"""Do two versions of tag-bench write the same scored outputs?

A refactoring must not change a single number. This script runs a fixed set of evaluations through the
command line (the demo, every dataset task on generated fixtures with the three baselines, replayed
mixed-format responses scored against a synthetic AU reference, a run without a reference, a
re-score) once with the code of a base git revision and once with the working tree, then compares
``metrics.json`` and ``samples.jsonl`` of every run byte for byte.

    .venv/bin/python bench/output_identity.py --base HEAD        # working tree vs the last commit
    .venv/bin/python bench/output_identity.py --snapshot DIR     # only write this tree's outputs

Both sides run in the same temporary folder so that paths inside messages agree.
Exit status 1 when any file differs.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# one folder per invocation, shared by both sides so that paths inside messages agree
WORK = Path(tempfile.mkdtemp(prefix="tag-bench-identity-"))

#: task -> fixture variant holding its dataset
TASKS = {
    "rafdb_basic_test": "raf_basic",
    "rafdb_basic_test_common7": "raf_basic",
    "ferplus_test": "ferplus",
    "ferplus_test_common7": "ferplus",
    "affectnet7_val": "affectnet_csv",
    "affectnet8_val": "affectnet_csv",
    "affectnet_val_common7": "affectnet_csv",
}
BASELINES = ("facs-rules", "random", "majority")
OUTPUTS = ("metrics.json", "samples.jsonl")
# the command line's entry point, wherever the version under test keeps it
_MAIN = """
import os, sys
if os.path.exists(os.path.join(sys.argv[1], "tag_bench", "_cli", "main.py")):
    from tag_bench._cli.main import main
else:
    from tag_bench.cli import main
del sys.argv[1]
main()
"""


def _run(cmd: list[str], code: Path, env: dict[str, str]) -> None:
    full_env = {**os.environ, **env, "PYTHONPATH": str(code)}
    proc = subprocess.run(
        [sys.executable, "-c", _MAIN, str(code), *cmd],
        cwd=WORK,
        env=full_env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): tag-bench {' '.join(cmd)}\n{proc.stderr[-3000:]}")


def _write_inputs() -> dict[str, Path]:
    """Fixtures, replay predictions and a synthetic reference file (identical for both sides)."""
    from tag_bench.tasks import load_task
    from tag_bench.testing.corpus import mixed_corpus
    from tag_bench.testing.fixtures import write_fixtures

    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    roots = write_fixtures(WORK / "data", seed=0)
    inputs = {"data": WORK / "data"}
    rng = random.Random(0)
    aus = ["AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26"]
    for task_name, variant in TASKS.items():
        task = load_task(task_name)
        samples = task.load(roots[variant]).samples
        corpus = mixed_corpus(len(samples) * 3, seed=len(task_name))
        pred_lines, ref_lines = [], []
        for i, s in enumerate(samples):
            if i % 7 == 3:
                continue  # a missing prediction
            r = corpus[i * 3]
            pred = {"id": s.id, "response": r.text, "frame": r.frame, "finish_reason": r.finish_reason}
            if r.input_size:
                pred["input_size"] = list(r.input_size)
            pred_lines.append(json.dumps(pred))
            w, h = 100, 100
            states = {}
            for au in aus:
                x, y = rng.uniform(0, 70), rng.uniform(0, 70)
                score = rng.random()
                states[au] = {"score": round(score, 4), "active": score >= 0.5, "box": [x, y, x + 20, y + 20]}
            status = "ok" if i % 11 != 5 else "no_face"
            ref = {"reference_id": "synthetic@1", "detector": "synthetic", "version": "1", "threshold": 0.5,
                   "status": status, "sample_id": s.id, "image_size": [w, h],
                   "aus": states if status == "ok" else {}}  # fmt: skip
            ref_lines.append(json.dumps(ref))
        pred_path = WORK / f"{task_name}.predictions.jsonl"
        pred_path.write_text("\n".join(pred_lines) + "\n")
        ref_path = WORK / f"{task_name}.refs.jsonl"
        ref_path.write_text("\n".join(ref_lines) + "\n")
        inputs[f"{task_name}/predictions"] = pred_path
        inputs[f"{task_name}/refs"] = ref_path
    return inputs


def snapshot(code: Path, dest: Path) -> list[str]:
    """Run every case with the tag-bench found in ``code``; copy its outputs to ``dest``."""
    env = {"TAG_BENCH_CACHE": str(WORK / "cache"), "HF_HUB_OFFLINE": "1"}
    runs = WORK / "runs"
    if runs.exists():
        shutil.rmtree(runs)
    data = WORK / "data"
    cases: list[str] = []
    for model in ("facs-rules", "random"):
        _run(["run", "--model", model, "--tasks", "demo", "--out", str(runs / f"demo__{model}"),
              "--au-reference", "mediapipe-geometric", "--no-cache", "--no-progress"], code, env)  # fmt: skip
        cases.append(f"demo__{model}")
    for task, variant in TASKS.items():
        for model in BASELINES:
            name = f"{task}__{model}"
            _run(["run", "--model", model, "--tasks", task, "--data-root", str(data / variant),
                  "--out", str(runs / name), "--au-reference", "mediapipe-geometric", "--no-cache",
                  "--no-progress"], code, env)  # fmt: skip
            cases.append(name)
        name = f"{task}__replay"
        _run(["score", "--task", task, "--data-root", str(data / variant), "--predictions",
              str(WORK / f"{task}.predictions.jsonl"), "--au-reference", str(WORK / f"{task}.refs.jsonl"),
              "--out", str(runs / name), "--no-progress"], code, env)  # fmt: skip
        cases.append(name)
    task, variant = "rafdb_basic_test", "raf_basic"
    _run(["score", "--task", task, "--data-root", str(data / variant), "--predictions",
          str(WORK / f"{task}.predictions.jsonl"), "--au-reference", "none", "--out",
          str(runs / "replay_no_reference"), "--no-progress"], code, env)  # fmt: skip
    cases.append("replay_no_reference")
    rescored = runs / "rescored"
    shutil.copytree(runs / f"{task}__replay", rescored)
    _run(["score", str(rescored), "--au-reference", "mediapipe-geometric", "--n-resamples", "200",
          "--seed", "3", "--no-progress"], code, env)  # fmt: skip
    cases.append("rescored")
    if dest.exists():
        shutil.rmtree(dest)
    for case in cases:
        for out in OUTPUTS:
            (dest / case).mkdir(parents=True, exist_ok=True)
            shutil.copy2(runs / case / out, dest / case / out)
    return cases


def compare(a: Path, b: Path, cases: list[str]) -> list[str]:
    diffs = []
    for case in cases:
        for out in OUTPUTS:
            fa, fb = a / case / out, b / case / out
            if not filecmp.cmp(fa, fb, shallow=False):
                diffs.append(f"{case}/{out}")
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", help="git revision to compare the working tree against")
    ap.add_argument("--snapshot", type=Path, help="only write this tree's outputs to this folder")
    args = ap.parse_args()
    _write_inputs()
    if args.snapshot:
        cases = snapshot(REPO, args.snapshot)
        print(f"{len(cases)} runs written to {args.snapshot}")
        return 0
    if not args.base:
        ap.error("give --base REV or --snapshot DIR")
    base_tree = Path(tempfile.mkdtemp(prefix="tag-bench-base-"))
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base_tree), args.base],
                   check=True, capture_output=True)  # fmt: skip
    try:
        out_base = Path(tempfile.mkdtemp(prefix="tag-bench-out-base-"))
        out_new = Path(tempfile.mkdtemp(prefix="tag-bench-out-new-"))
        cases = snapshot(base_tree, out_base)
        snapshot(REPO, out_new)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)],
                       capture_output=True)  # fmt: skip
    diffs = compare(out_base, out_new, cases)
    if diffs:
        print(f"{len(diffs)} of {2 * len(cases)} output files differ from {args.base}:")
        for d in diffs:
            print(f"  {d}   (diff {out_base / d} {out_new / d})")
        return 1
    print(f"identical: {2 * len(cases)} output files of {len(cases)} runs match {args.base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
