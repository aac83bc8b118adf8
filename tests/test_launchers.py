"""The launchers of docs/scale.md, run here: the Slurm array script (each array task a process), an
OpenAI-compatible server shared by shards with `concurrency`, and Ray (one task per shard)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tag_bench._optional import MissingExtraError
from tag_bench.generate.evaluate import evaluate
from tag_bench.generate.launch import LaunchError, run_shards_with_ray, shard_commands
from tag_bench.rundir import RunDir
from tag_bench.scoring.metric_table import spec

ROOT = Path(__file__).parents[1]
SLURM = ROOT / "examples" / "scale" / "slurm_shards.sh"
RAY = ROOT / "examples" / "scale" / "ray_shards.py"


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", **extra}


def _metrics(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    return {k: v for k, v in metrics.items() if not spec(k).hardware_dependent}


def _one_process(raf_root: Path, out: Path) -> Path:
    evaluate(
        "rafdb_basic_test",
        "random",
        data_root=raf_root,
        out=out,
        cache=False,
        progress=False,
        n_resamples=200,
    )
    return out


def test_the_slurm_array_script_runs_each_array_task_as_a_shard(raf_root, tmp_path):
    out = tmp_path / "run"
    env = _env(MODEL="random", MODEL_ARGS="", TASKS="rafdb_basic_test", OUT=str(out),
               TAG_BENCH=f"{sys.executable} -m tag_bench", SLURM_ARRAY_TASK_COUNT="3",
               EXTRA_ARGS=f"--data-root {raf_root} --no-cache --n-resamples 200")  # fmt: skip
    procs = [
        subprocess.Popen(
            ["bash", str(SLURM)],
            env={**env, "SLURM_ARRAY_TASK_ID": str(i)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]  # the array's tasks, all at once
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    assert [(s.index, s.count, s.status) for s in RunDir(out).read_shard_states()] == [
        (i, 3, "complete") for i in range(3)
    ]
    assert RunDir(out).read_manifest().status == "complete"
    assert _metrics(out) == _metrics(_one_process(raf_root, tmp_path / "one"))

    bare = subprocess.run(
        ["bash", str(SLURM)], env={**env, "SLURM_ARRAY_TASK_ID": ""}, capture_output=True, text=True
    )
    assert bare.returncode != 0 and "sbatch --array=0-(N-1)" in bare.stderr


def test_shards_share_an_openai_compatible_server_with_concurrency(raf_root, tmp_path):
    """`vllm serve --data-parallel-size K` cannot run here (no GPU, no vLLM): the project's loopback
    OpenAI-compatible server stands in for it; what is tested is the client side, unchanged."""
    from tag_bench.testing.chat_server import ChatServer

    out, one = tmp_path / "run", tmp_path / "one"
    with ChatServer(latency=0.2) as server:
        args = [sys.executable, "-m", "tag_bench", "run", "--model", "openai", "--model-args",
                f"model=tiny-chat,base_url={server.base_url},concurrency=4", "--tasks", "rafdb_basic_test",
                "--data-root", str(raf_root), "--au-reference", "none", "--no-cache", "--no-progress",
                "--n-resamples", "200"]  # fmt: skip
        procs = [
            subprocess.Popen(
                [*args, "--out", str(out), "--shard", f"{i}/2"],
                env=_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-2000:]
        n = len(RunDir(out).read_index())
        assert len(server.requests) == n, "every sample asked once, by the shard that owns it"
        assert server.max_in_flight >= 4, "requests overlap up to the adapter's concurrency"
        single = subprocess.run([*args, "--out", str(one)], env=_env(), capture_output=True, text=True)
        assert single.returncode == 0, single.stderr[-2000:]
    assert RunDir(out).read_manifest().status == "complete"
    assert _metrics(out) == _metrics(one)
    gen = RunDir(out).read_manifest().generation
    assert gen is not None and gen.concurrency == 4 and gen.model_calls == n


def test_shard_commands_are_the_run_with_shard_i_of_n():
    cmds = shard_commands(["--model", "hf", "--tasks", "t", "--out", "/r"], 3, executable=["tag-bench"])
    assert cmds == [["tag-bench", "run", "--model", "hf", "--tasks", "t", "--out", "/r", "--shard", f"{i}/3"]
                    for i in range(3)]  # fmt: skip
    with pytest.raises(LaunchError, match="leave it out"):
        shard_commands(["run", "--out", "/r", "--shard", "0/2"], 2)
    with pytest.raises(LaunchError, match="--out"):
        shard_commands(["run", "--model", "hf"], 2)


def test_the_ray_launcher_dry_runs_without_ray_and_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    outcomes = run_shards_with_ray(["--model", "random", "--tasks", "t", "--out", "/r"], 2, dry_run=True)
    assert [(o.shard, o.command[-1], o.returncode) for o in outcomes] == [
        ("0/2", "0/2", None),
        ("1/2", "1/2", None),
    ]
    with pytest.raises(MissingExtraError, match=r"tag-bench\[ray\]"):
        run_shards_with_ray(["--model", "random", "--tasks", "t", "--out", "/r"], 2)
    dry = subprocess.run([sys.executable, str(RAY), "--shards", "2", "--dry-run", "--", "--model", "random",
                          "--tasks", "t", "--out", "/r"], env=_env(), capture_output=True, text=True)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[1].endswith("run --model random --tasks t --out /r --shard 1/2")


@pytest.mark.slow
def test_ray_runs_one_task_per_shard(raf_root, tmp_path):
    # Ray is the optional extra tag-bench[ray], installed with the test extras: here it runs for real
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(RAY), "--shards", "3", "--", "--model", "random", "--tasks", "rafdb_basic_test",
         "--data-root", str(raf_root), "--out", str(out), "--no-cache", "--no-progress", "--n-resamples", "200"],
        env=_env(RAY_ENABLE_UV_RUN_RUNTIME_ENV="0"), capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stdout.count(": exit 0") == 3
    assert RunDir(out).read_manifest().status == "complete"
    assert _metrics(out) == _metrics(_one_process(raf_root, tmp_path / "one"))
