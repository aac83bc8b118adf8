"""Whole-process behaviour of `tag-bench run`: kill -9 and resume, secrets, data-parallel ranks (shards)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tag_bench import store
from tag_bench.rundir import RunDir
from tag_bench.scoring.metric_table import spec


@pytest.fixture
def setup(raf_train_tasks, raf_root):
    return raf_train_tasks, raf_root


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tag_bench", *args]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **extra}
    return env


def _ids(path: Path) -> list[str]:
    return [d["sample_id"] for d in store.iter_jsonl(path)]


def test_kill_9_then_rerun_gives_one_record_per_sample_and_identical_metrics(setup, tiny_qwen, tmp_path):
    tasks, root = setup
    common = ["run", "--model", "hf", "--model-args", f"pretrained={tiny_qwen}", "--tasks", "raf_train_small",
              "--tasks-dir", str(tasks), "--data-root", str(root), "--gen-kwargs", "max_new_tokens=48",
              "--au-reference", "none", "--no-cache", "--n-resamples", "200", "--no-progress"]  # fmt: skip
    killed = tmp_path / "killed"
    log = tmp_path / "killed.log"
    with open(log, "w") as f:
        proc = subprocess.Popen(_cli(*common, "--out", str(killed)), env=_env(), stdout=f, stderr=f)
    gen = killed / "generations.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if gen.exists() and len(gen.read_bytes().splitlines()) >= 3:
            break
        if proc.poll() is not None:
            pytest.fail("the run ended before it could be killed:\n" + log.read_text()[-3000:])
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len(gen.read_bytes().splitlines())
    assert 3 <= n_before < 14, "the kill must land mid-run"
    assert json.loads((killed / "manifest.json").read_text())["status"] == "running"

    rerun = subprocess.run(_cli(*common, "--out", str(killed)), env=_env(), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    ids = _ids(gen)
    assert len(ids) == len(set(ids)) == 14

    clean = tmp_path / "clean"
    ref = subprocess.run(_cli(*common, "--out", str(clean)), env=_env(), capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    a = json.loads((killed / "metrics.json").read_text())["metrics"]
    b = json.loads((clean / "metrics.json").read_text())["metrics"]
    assert _not_of_the_machine(a) == _not_of_the_machine(b)
    info = json.loads((killed / "manifest.json").read_text())["generation"]
    # the killed session never recorded its time: its generations are left out of the throughput too
    assert info["sessions"] == 1 and info["model_calls"] == 14 - n_before
    texts = lambda d: {g["sample_id"]: g["text"] for g in store.iter_jsonl(d / "generations.jsonl")}  # noqa: E731
    assert texts(killed) == texts(clean)


def test_api_key_never_reaches_the_run_directory_or_logs(setup, tmp_path):
    from tag_bench.testing.chat_server import ChatServer

    tasks, root = setup
    secret = "sk-tagbench-TOPSECRET-0123456789"
    with ChatServer() as server:
        out = tmp_path / "api-run"
        proc = subprocess.run(
            _cli("run", "--model", "openai", "--model-args",
                 f"model=tiny-chat,base_url={server.base_url},api_key_env=TB_TEST_KEY,concurrency=2",
                 "--tasks", "raf_train_small", "--tasks-dir", str(tasks), "--data-root", str(root),
                 "--au-reference", "none", "--out", str(out), "--cache", str(tmp_path / "c.sqlite")),
            env=_env(TB_TEST_KEY=secret), capture_output=True, text=True,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert any(secret in str(r.headers) for r in server.requests), "the server got the key"
    assert secret not in proc.stdout and secret not in proc.stderr
    for f in out.rglob("*"):
        if f.is_file():
            assert secret not in f.read_text(errors="replace"), f
    assert secret.encode() not in (tmp_path / "c.sqlite").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["args"]["api_key_env"] == "TB_TEST_KEY"


def _not_of_the_machine(metrics: dict) -> dict:
    """Every metric but those that measure the machine (latency, throughput): equal for equal outputs."""
    return {k: v for k, v in metrics.items() if not spec(k).hardware_dependent}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_accelerate_two_cpu_processes_shard_and_merge(setup, tiny_qwen, tmp_path):
    tasks, root = setup
    args = ["run", "--model", "hf", "--model-args", f"pretrained={tiny_qwen}", "--tasks", "raf_train_small",
            "--tasks-dir", str(tasks), "--data-root", str(root), "--gen-kwargs", "max_new_tokens=6",
            "--au-reference", "none", "--no-cache", "--n-resamples", "200", "--no-progress"]  # fmt: skip
    accelerate = Path(sys.executable).with_name("accelerate")
    dp = tmp_path / "dp"
    proc = subprocess.run(
        [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
         "-m", "tag_bench", *args, "--out", str(dp)],
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # rank I of 2 is shard I/2: each wrote its own file, never merged; every reader sees the union
    assert sorted(p.name for p in dp.glob("generations.*.jsonl")) == [
        "generations.shard-0-of-2.jsonl",
        "generations.shard-1-of-2.jsonl",
    ]
    ids = [d["sample_id"] for p in sorted(dp.glob("generations.*.jsonl")) for d in store.iter_jsonl(p)]
    assert len(ids) == len(set(ids)) == 14
    manifest = json.loads((dp / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["status"] == "complete"

    single = tmp_path / "single"
    one = subprocess.run(_cli(*args, "--out", str(single)), env=_env(), capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    texts = lambda d: {sid: g.text for sid, g in RunDir(d).read_generations().items()}  # noqa: E731
    assert texts(dp) == texts(single)
    assert _not_of_the_machine(
        json.loads((dp / "metrics.json").read_text())["metrics"]
    ) == _not_of_the_machine(json.loads((single / "metrics.json").read_text())["metrics"])
    info = manifest["generation"]
    assert info["world_size"] == 2 and info["model_calls"] == 14 and info["timed"]
