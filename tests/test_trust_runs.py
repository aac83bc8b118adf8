"""Numbers users can trust (run side): failures that stop or say so, never a run that looks complete.

Whole `tag-bench run` processes against the loopback chat server (a real HTTP server).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tag_bench.testing.chat_server import ChatServer, Fault


@pytest.fixture
def setup(raf_train_tasks, raf_root):
    return raf_train_tasks, raf_root


def _run_args(setup, server: ChatServer, out: Path, *extra: str, **model_args: object) -> list[str]:
    tasks, root = setup
    args = {"model": "tiny-chat", "base_url": server.base_url, "api_key_env": "TB_KEY", "backoff": 0.01,
            **model_args}  # fmt: skip
    return [sys.executable, "-m", "tag_bench", "run", "--model", "openai",
            "--model-args", ",".join(f"{k}={v}" for k, v in args.items()), "--tasks", "raf_train_small",
            "--tasks-dir", str(tasks), "--data-root", str(root), "--au-reference", "none", "--no-cache",
            "--n-resamples", "200", "--no-progress", "--out", str(out), *extra]  # fmt: skip


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "TB_KEY": "sk-test-secret-0123456789",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def test_rejected_credentials_stop_the_run_at_once(setup, tmp_path):
    with ChatServer() as server:
        server.add_fault(Fault.error(401, message="invalid api key"), times=None)
        out = tmp_path / "run"
        p = subprocess.run(_run_args(setup, server, out, concurrency=2), env=_env(), capture_output=True,
                           text=True, timeout=120)  # fmt: skip
        sent = len(server.requests)
    assert p.returncode == 1, p.stderr
    assert "refused the credentials (HTTP 401" in p.stderr and "Traceback" not in p.stderr
    assert sent <= 2  # one concurrent round, not every sample of the split
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
    assert not (out / "metrics.json").exists()


def test_a_run_where_every_call_failed_exits_non_zero(setup, tmp_path):
    with ChatServer() as server:
        server.add_fault(Fault.error(400, message="unsupported image"), times=None)
        out = tmp_path / "run"
        p = subprocess.run(
            _run_args(setup, server, out), env=_env(), capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 1, p.stdout + p.stderr
        assert "every one of the 14 samples failed" in p.stderr and "--max-error-rate" in p.stderr
        # the numbers are still written, and asked-for tolerance makes it a success
        assert json.loads((out / "metrics.json").read_text())["metrics"]["error_rate"]["value"] == 1.0
        p = subprocess.run(_run_args(setup, server, tmp_path / "run2", "--max-error-rate", "1"), env=_env(),
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        assert p.returncode == 0, p.stderr


def test_bad_generation_settings_are_refused_before_the_model_loads(setup, tmp_path):
    with ChatServer() as server:
        for bad, why in (("temprature=0.7", "unsupported generation setting(s) ['temprature']"),
                         ("max_new_tokens=abc", "max_new_tokens must be a positive integer")):  # fmt: skip
            p = subprocess.run(_run_args(setup, server, tmp_path / "run", "--gen-kwargs", bad), env=_env(),
                               capture_output=True, text=True, timeout=60)  # fmt: skip
            assert p.returncode == 1 and why in p.stderr, p.stderr
        assert server.requests == []


def test_first_ctrl_c_stops_a_retrying_run_promptly(setup, tmp_path):
    with ChatServer() as server:
        server.add_fault(Fault.slow(60), times=None)  # a server that hangs
        out = tmp_path / "run"
        proc = subprocess.Popen(_run_args(setup, server, out, timeout=30, max_retries=5), env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.requests, "the run never reached the server"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the first Ctrl-C did not stop the run")
        stopped_after = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert "interrupted" in err and stopped_after < 20
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"


def test_concurrency_applies_across_the_run(setup, tmp_path):
    with ChatServer(latency=0.3) as server:
        p = subprocess.run(_run_args(setup, server, tmp_path / "run", "--batch-size", "1", concurrency=4),
                           env=_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
        assert p.returncode == 0, p.stderr
        assert server.max_in_flight == 4  # batch size 1 used to mean one request at a time


def test_a_second_writer_of_one_run_directory_is_refused(setup, tmp_path):
    with ChatServer() as server:
        server.add_fault(Fault.slow(2), times=None)
        out = tmp_path / "run"
        first = subprocess.Popen(_run_args(setup, server, out), env=_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.run(_run_args(setup, server, out), env=_env(), capture_output=True, text=True,
                                timeout=60)  # fmt: skip
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert second.returncode == 1
    assert "is being written by another tag-bench process" in second.stderr
    assert f"pid {first.pid}" in second.stderr


def test_credentials_in_the_base_url_never_reach_the_run_directory(setup, tmp_path):
    with ChatServer() as server:
        secret_url = (
            server.base_url.replace("http://", "http://user:sk-url-secret-42@") + "?api-key=sk-query-9"
        )
        out = tmp_path / "run"
        p = subprocess.run(_run_args(setup, server, out, base_url=secret_url), env=_env(), capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert p.returncode == 0, p.stderr
    written = "".join(f.read_text() for f in out.rglob("*") if f.is_file())
    for secret in ("sk-url-secret-42", "sk-query-9", "sk-test-secret-0123456789"):
        assert secret not in written and secret not in p.stdout + p.stderr
