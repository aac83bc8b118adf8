"""`tag-bench run --shard I/N`: shards without communication, merged by every reader, resumable under
any N, and `tag-bench status`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench import store
from tag_bench._cli.main import main
from tag_bench.generate.evaluate import evaluate
from tag_bench.generate.progress import now_iso, run_progress
from tag_bench.generate.shards import Shard
from tag_bench.rundir import RunConfigError, RunDir, RunDirError, RunLockedError
from tag_bench.schema import ShardState
from tag_bench.scoring.metric_table import spec


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tag_bench", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def _not_of_the_machine(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    return {k: v for k, v in metrics.items() if not spec(k).hardware_dependent}


def _records_per_sample(run: Path) -> Counter:
    """How many records each sample has over every generation file of the run."""
    return Counter(
        d["sample_id"] for p in RunDir(run).generation_paths() if p.exists() for d in store.iter_jsonl(p)
    )


def _texts(run: Path) -> dict[str, str | None]:
    return {sid: g.text for sid, g in RunDir(run).read_generations().items()}


def _qwen_args(tasks: Path, root: Path, qwen: Path) -> list[str]:
    return ["run", "--model", "hf", "--model-args", f"pretrained={qwen}", "--tasks", "raf_train_small",
            "--tasks-dir", str(tasks), "--data-root", str(root), "--gen-kwargs", "max_new_tokens=12",
            "--batch-size", "1", "--au-reference", "none", "--no-cache", "--n-resamples", "200",
            "--no-progress"]  # fmt: skip


def _run_shards(args: list[str], out: Path, shards: list[str]) -> list[subprocess.CompletedProcess]:
    """Each shard a process of its own, all started at once (no process waits for another)."""
    procs = [
        subprocess.Popen(
            _cli(*args, "--out", str(out), *(["--shard", s] if s else [])),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for s in shards
    ]
    done = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=400)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
        assert p.returncode == 0, stderr[-3000:]
    return done


@pytest.mark.slow
def test_three_concurrent_shard_processes_score_what_one_process_scores(
    raf_train_tasks, raf_root, tiny_qwen, tmp_path
):
    args = _qwen_args(raf_train_tasks, raf_root, tiny_qwen)
    sharded, single = tmp_path / "sharded", tmp_path / "single"
    procs = _run_shards(args, sharded, ["0/3", "1/3", "2/3"])
    assert sum("accuracy" in p.stdout for p in procs) >= 1, "the shard that finished the run scored it"
    _run_shards(args, single, [""])

    assert _records_per_sample(sharded) == Counter({sid: 1 for sid in _texts(single)})  # no sample twice
    assert sorted(p.name for p in RunDir(sharded).shard_paths()) == [
        f"generations.shard-{i}-of-3.jsonl" for i in range(3)
    ]
    assert not RunDir(sharded).generations_path.exists(), "shards are never merged: readers see the union"
    assert _texts(sharded) == _texts(single)
    assert _not_of_the_machine(sharded) == _not_of_the_machine(single)
    manifest = RunDir(sharded).read_manifest()
    assert manifest.status == "complete" and manifest.world_size == 3
    assert manifest.generation is not None and manifest.generation.model_calls == 14
    assert manifest.generation.sessions == 3 and manifest.generation.world_size == 3
    states = RunDir(sharded).read_shard_states()
    assert [(s.index, s.count, s.status, s.method) for s in states] == [
        (i, 3, "complete", "sha256-mod-v1") for i in range(3)
    ]
    assert sum(s.assigned for s in states) == 14

    status = CliRunner().invoke(main, ["status", str(sharded)])
    assert status.exit_code == 0, status.output
    assert "complete: 14 of 14 samples generated, 0 remaining" in status.output
    assert all(f"{i}/3    complete" in status.output for i in range(3))


@pytest.mark.slow
def test_a_run_started_with_4_shards_finishes_with_3_then_1_generating_nothing_twice(
    raf_train_tasks, raf_root, tiny_qwen, tmp_path
):
    args = _qwen_args(raf_train_tasks, raf_root, tiny_qwen)
    run, single = tmp_path / "run", tmp_path / "single"
    _run_shards(args, single, [""])
    ids = list(_texts(single))

    _run_shards(args, run, ["0/4", "1/4"])  # half of N = 4, then the job was cancelled
    after4 = {sid for sid in ids if Shard(0, 4).owns(sid) or Shard(1, 4).owns(sid)}
    assert set(_records_per_sample(run)) == after4
    where = run_progress(RunDir(run))
    assert where.status == "interrupted" and not where.covered and not where.scored
    assert where.remaining == 14 - len(after4)
    assert {r.shard: r.status for r in where.shards} == {
        "0/4": "complete", "1/4": "complete",
        **{s: "not started" for s in ("2/4", "3/4") if any(Shard.parse(s).owns(x) for x in ids)},
    }  # fmt: skip
    assert "unfinished shards: " in (where.status_reason or "")

    _run_shards(args, run, ["0/3"])  # one shard of N = 3: skips what N = 4 wrote
    after3 = after4 | {sid for sid in ids if Shard(0, 3).owns(sid)}
    counts = _records_per_sample(run)
    assert set(counts) == after3 and set(counts.values()) == {1}
    state = RunDir(run).read_shard_state(0, 3)
    assert state is not None and state.generated == len(after3 - after4)
    assert state.skipped_done == len({sid for sid in ids if Shard(0, 3).owns(sid)} & after4)

    last = _run_shards(args, run, [""])  # no --shard on a sharded run: shard 0/1, the rest
    assert "accuracy" in last[0].stdout
    counts = _records_per_sample(run)
    assert counts == Counter({sid: 1 for sid in ids}), "no sample was generated twice"
    assert _texts(run) == _texts(single)
    assert _not_of_the_machine(run) == _not_of_the_machine(single)
    manifest = RunDir(run).read_manifest()
    assert manifest.status == "complete"
    assert manifest.generation is not None and manifest.generation.model_calls == 14
    assert run_progress(RunDir(run)).status == "complete"


# ---------------------------------------------------------------------------- fast: the random baseline


def _random(root: Path, out: Path, **kw):
    return evaluate("rafdb_basic_test", "random", data_root=root, out=out, cache=False, progress=False,
                    n_resamples=200, **kw)  # fmt: skip


def test_every_shard_count_gives_the_scores_of_one_process(raf_root, tmp_path):
    one = _random(raf_root, tmp_path / "one")
    assert one.report is not None
    for n in (2, 5):
        out = tmp_path / f"n{n}"
        results = [_random(raf_root, out, shard=f"{i}/{n}") for i in range(n)]
        ids = [s.id for s in RunDir(out).read_index()]
        last = max(i for i in range(n) if any(Shard(i, n).owns(x) for x in ids))  # completes the run
        # shards after it (owning no sample here) find the run complete and score it again, identically
        assert [r.report is not None for r in results] == [i >= last for i in range(n)]
        assert all("left to other shards" in (r.pending or "") for r in results[:last])
        assert _not_of_the_machine(out) == _not_of_the_machine(one.run_dir)
        assert RunDir(out).read_scored() == RunDir(one.run_dir).read_scored()


def test_a_shard_with_another_configuration_is_refused_with_the_diff(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out, shard="0/2", gen_kwargs="max_new_tokens=8")
    with pytest.raises(
        RunConfigError,
        match=r"shard 1/2 has another[\s\S]*gen_kwargs: .*'max_new_tokens': 8.* -> .*'max_new_tokens': 9",
    ):
        _random(raf_root, out, shard="1/2", gen_kwargs="max_new_tokens=9")
    r = CliRunner().invoke(main, ["run", "--model", "random", "--tasks", "rafdb_basic_test", "--data-root",
                                  str(raf_root), "--out", str(out), "--shard", "1/2", "--seed", "3", "--no-cache",
                                  "--no-progress"])  # fmt: skip
    assert r.exit_code == 1 and "seed: 0 -> 3" in r.output


def test_a_shard_of_another_sharding_method_is_refused(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out, shard="0/2")
    state = RunDir(out).read_shard_state(0, 2)
    assert state is not None
    RunDir(out).write_shard_state(state.model_copy(update={"method": "md5-v0"}))
    with pytest.raises(RunConfigError, match="sharded with method md5-v0"):
        _random(raf_root, out, shard="1/2")


def test_a_shard_already_running_elsewhere_is_refused_a_dead_one_is_taken_over(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out, shard="1/2")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = ShardState(method="sha256-mod-v1", index=0, count=2, n_samples=10, assigned=5, started=now_iso(),
                          updated=now_iso(), host=socket.gethostname(), pid=sleeper.pid)  # fmt: skip
        RunDir(out).write_shard_state(live)
        with pytest.raises(RunLockedError, match=rf"shard 0/2 .* pid {sleeper.pid}"):
            _random(raf_root, out, shard="0/2")
        assert run_progress(RunDir(out)).status == "running"
    finally:
        sleeper.kill()
        sleeper.wait()
    where = run_progress(RunDir(out))
    assert {r.shard: r.status for r in where.shards}["0/2"] == "stale"
    assert where.status == "interrupted"
    assert _random(raf_root, out, shard="0/2").report is not None


def test_bad_shard_options_are_refused_before_any_model_loads(raf_root, tmp_path):
    base = ["run", "--model", "random", "--tasks", "rafdb_basic_test", "--data-root", str(raf_root),
            "--out", str(tmp_path / "r"), "--no-progress"]  # fmt: skip
    r = CliRunner().invoke(main, [*base, "--shard", "4/4"])
    assert r.exit_code == 2 and "index must be 0 to 3" in r.output
    r = CliRunner().invoke(main, [*base, "--shard", "0/0"])
    assert r.exit_code == 2 and "number of shards must be at least 1" in r.output
    r = CliRunner().invoke(main, [*base, "--shard", "0/2", "--overwrite"])
    assert r.exit_code == 1 and "would delete what the other shards wrote" in r.output
    assert not (tmp_path / "r").exists()


def test_status_shows_rate_and_eta_of_a_running_shard(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out, shard="0/2")
    run = RunDir(out)
    n = len(run.read_index())
    mine = sum(Shard(1, 2).owns(s.id) for s in run.read_index())
    running = ShardState(method="sha256-mod-v1", index=1, count=2, n_samples=n, assigned=mine, generated=4,
                         started="2026-01-01T00:00:00.000+00:00", updated="2026-01-01T00:00:08.000+00:00",
                         host=socket.gethostname(), pid=os.getpid())  # fmt: skip
    run.write_shard_state(running)
    where = run_progress(run)
    row = {r.shard: r for r in where.shards}["1/2"]
    assert where.status == "running" and row.status == "running"
    assert row.rate == pytest.approx(0.5) and row.eta_s == pytest.approx(mine / 0.5)
    assert where.throughput == pytest.approx(0.5) and where.eta_s == pytest.approx(mine / 0.5)
    text = CliRunner().invoke(main, ["status", str(out)]).output
    assert f"0 of {mine} " not in text and f"{n - mine} of {n} samples generated" in text
    assert "ETA" in text and "1/2    running" in text


def test_status_of_unsharded_runs_and_of_a_sweep(raf_root, tmp_path):
    _random(raf_root, tmp_path / "sweep" / "a")
    _random(raf_root, tmp_path / "sweep" / "b", shard="0/2")
    n = len(RunDir(tmp_path / "sweep" / "a").read_index())
    one = CliRunner().invoke(main, ["status", str(tmp_path / "sweep" / "a")])
    assert one.exit_code == 0 and f"complete: {n} of {n} samples generated, 0 remaining" in one.output
    assert "all    complete" in one.output
    sweep = CliRunner().invoke(main, ["status", str(tmp_path / "sweep")])
    assert sweep.exit_code == 0, sweep.output
    assert "2 runs (1 complete, 1 interrupted)" in sweep.output
    lines = CliRunner().invoke(main, ["status", "--json", str(tmp_path / "sweep")]).output.splitlines()
    got = {Path(d["run_dir"]).name: (d["status"], d["done"], d["total"]) for d in map(json.loads, lines)}
    b_done = sum(Shard(0, 2).owns(s.id) for s in RunDir(tmp_path / "sweep" / "b").read_index())
    assert got == {"a": ("complete", n, n), "b": ("interrupted", b_done, n)}


def test_torchrun_ranks_are_shards_and_need_no_process_group(raf_root, tmp_path, monkeypatch):
    """RANK / WORLD_SIZE as torchrun and accelerate set them: rank I of N is shard I/N. The ranks run
    here one after the other, which a barrier would deadlock; the last one scores the run."""
    one = _random(raf_root, tmp_path / "one")
    out = tmp_path / "dp"
    results = []
    for rank in (1, 0):
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("LOCAL_RANK", str(rank))
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
        results.append(_random(raf_root, out))
    assert results[0].report is None and results[1].report is not None
    assert [(s.index, s.count) for s in RunDir(out).read_shard_states()] == [(0, 2), (1, 2)]
    assert _not_of_the_machine(out) == _not_of_the_machine(one.run_dir)
    assert RunDir(out).read_manifest().world_size == 2
    with pytest.raises(RunConfigError, match="each rank is already a shard"):
        _random(raf_root, out, shard="0/2")


def test_a_failed_shard_marks_the_run_and_a_rerun_of_that_shard_finishes_it(raf_root, tmp_path):
    from tag_bench.models.base import FatalAdapterError
    from tag_bench.testing.chat_server import ChatServer, Fault

    out = tmp_path / "run"
    with ChatServer() as server:
        args = f"model=tiny-chat,base_url={server.base_url},concurrency=2"
        kw = dict(
            data_root=raf_root, out=out, cache=False, progress=False, n_resamples=200, au_reference="none"
        )
        assert evaluate("rafdb_basic_test", "openai", args, shard="1/2", **kw).report is None
        server.add_fault(Fault.error(401, message="bad key"), times=None)
        with pytest.raises(FatalAdapterError, match="HTTP 401"):
            evaluate("rafdb_basic_test", "openai", args, shard="0/2", **kw)
        state = RunDir(out).read_shard_state(0, 2)
        assert state is not None and state.status == "failed" and "HTTP 401" in (state.status_reason or "")
        manifest = RunDir(out).read_manifest()
        assert manifest.status == "failed" and (manifest.status_reason or "").startswith(
            "shard 0/2: generation stopped"
        )
        where = run_progress(RunDir(out))
        assert where.status == "failed" and "shard 0/2 failed" in (where.status_reason or "")
        server.clear_faults()
        done = evaluate("rafdb_basic_test", "openai", args, shard="0/2", **kw)
    assert done.report is not None and done.manifest.status == "complete"
    assert run_progress(RunDir(out)).status == "complete"
    assert _records_per_sample(out) == Counter({s.id: 1 for s in RunDir(out).read_index()})


def test_readers_of_an_unfinished_sharded_run_point_at_status(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out, shard="0/2")
    with pytest.raises(RunDirError, match=rf"status is running; `tag-bench status {out}` shows which shards"):
        RunDir(out).read_metrics()
    r = CliRunner().invoke(main, ["score", str(out), "--n-resamples", "200", "--no-progress"])
    assert r.exit_code == 0, r.output  # the union so far: the samples no shard reached are missing
    n = len(RunDir(out).read_index())
    done = sum(Shard(0, 2).owns(s.id) for s in RunDir(out).read_index())
    assert RunDir(out).read_metrics().status_counts.get("missing", 0) == n - done


def test_every_shard_of_a_run_takes_the_runs_limit(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out, shard="0/2", limit=6)
    with pytest.raises(
        RunConfigError, match=r"is a run of 6 samples and shard 1/2 indexes \d+ .*Give this shard --limit 6"
    ):
        _random(raf_root, out, shard="1/2")
    with pytest.raises(RunConfigError, match=r"shard 0/1 indexes \d+ .*Give this shard --limit 6"):
        _random(raf_root, out)  # a session without --shard on a sharded run is shard 0/1
    done = _random(raf_root, out, shard="1/2", limit=6)
    assert done.report is not None and sum(done.report.status_counts.values()) == 6
    assert _records_per_sample(out) == Counter({s.id: 1 for s in RunDir(out).read_index()})


def _sleeping_shard(out: Path, index: int, count: int) -> subprocess.Popen:
    """A live process recorded as shard index/count of ``out``, as a shard on this host looks while it runs."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    state = ShardState(method="sha256-mod-v1", index=index, count=count, n_samples=10, assigned=5,
                       started=now_iso(), updated=now_iso(), host=socket.gethostname(), pid=sleeper.pid)  # fmt: skip
    RunDir(out).write_shard_state(state)
    return sleeper


def test_a_session_without_shard_and_shards_never_generate_at_once(raf_root, tmp_path):
    out = tmp_path / "run"
    RunDir(out).path.mkdir()
    refused = pytest.raises(
        RunLockedError, match=r"being written by a tag-bench process without --shard \(pid"
    )
    with RunDir(out).lock(), refused:  # what a session without --shard holds while it runs
        _random(raf_root, out, shard="0/2")
    assert not RunDir(out).is_run()  # refused before anything was written
    _random(raf_root, out, shard="1/2")
    sleeper = _sleeping_shard(out, 0, 2)
    try:
        for other in (None, "1/3"):  # None: a session without --shard, i.e. shard 0/1
            with pytest.raises(
                RunLockedError,
                match=rf"shard 0/2 of .* is still running \(pid {sleeper.pid}.*share their count",
            ):
                _random(raf_root, out, shard=other)
        with pytest.raises(RunLockedError, match=r"still running .*--overwrite would delete what it writes"):
            _random(raf_root, out, overwrite=True)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert _random(raf_root, out).report is not None  # the dead shard's samples, in one process
    assert _records_per_sample(out) == Counter({s.id: 1 for s in RunDir(out).read_index()})


def test_overwrite_without_shard_starts_a_sharded_run_over(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out, shard="0/3")
    done = _random(raf_root, out, overwrite=True, seed=1)  # another seed: refused without --overwrite
    run = RunDir(out)
    assert done.report is not None and done.stats.skipped_done == 0 and done.manifest.seeds["seed"] == 1
    assert not run.is_sharded() and run.generation_paths() == [run.generations_path]
    assert _records_per_sample(out) == Counter({s.id: 1 for s in run.read_index()})


def test_an_unsharded_run_whose_process_died_shows_interrupted(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out)
    RunDir(out).set_status("running")  # as a process killed with SIGKILL leaves it: no lock held
    where = run_progress(RunDir(out))
    assert where.status == "interrupted" and where.shards[0].status == "stale"
    assert "no process is writing it" in (where.status_reason or "")
    with RunDir(out).lock():
        assert run_progress(RunDir(out)).status == "running"


def test_a_shard_whose_own_calls_failed_exits_1_even_when_the_run_goes_on(raf_root, tmp_path):
    from tag_bench.testing.chat_server import ChatServer, Fault

    with ChatServer() as server:
        server.add_fault(Fault.error(500, message="overloaded"), times=None)
        r = CliRunner().invoke(main, ["run", "--model", "openai", "--model-args",
                                      f"model=tiny-chat,base_url={server.base_url},max_retries=0", "--tasks",
                                      "rafdb_basic_test", "--data-root", str(raf_root), "--out", str(tmp_path / "run"),
                                      "--shard", "0/2", "--no-cache", "--no-progress", "--au-reference", "none"])  # fmt: skip
    assert r.exit_code == 1, r.output
    assert "shard 0/2: every one of the" in r.output and "retried when the shard is run again" in r.output
    assert "left to other shards" in r.output
    state = RunDir(tmp_path / "run").read_shard_state(0, 2)
    assert (
        state is not None and state.status == "failed" and "every one of the" in (state.status_reason or "")
    )
    where = run_progress(RunDir(tmp_path / "run"))
    assert where.status == "failed" and "shard 0/2 failed: every one of the" in (where.status_reason or "")
    assert RunDir(tmp_path / "run").read_manifest().status == "failed"


@pytest.mark.slow
def test_sigterm_stops_a_shard_as_ctrl_c_does(raf_root, tmp_path):
    """What Slurm's scancel and time limit send: the shard saves, says interrupted, exits 143."""
    import signal
    import time

    from tag_bench.testing.chat_server import ChatServer, Fault

    out = tmp_path / "run"
    with ChatServer() as server:
        server.add_fault(Fault.slow(3.0), times=None)
        proc = subprocess.Popen(
            _cli("run", "--model", "openai", "--model-args", f"model=tiny-chat,base_url={server.base_url}",
                 "--tasks", "rafdb_basic_test", "--data-root", str(raf_root), "--out", str(out), "--shard", "0/2",
                 "--no-cache", "--no-progress", "--au-reference", "none"),
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while RunDir(out).read_shard_state(0, 2) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # a call in flight
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr[-2000:]
    assert "terminated (SIGTERM): what was done is saved" in stderr
    state = RunDir(out).read_shard_state(0, 2)
    assert state is not None and state.status == "interrupted"
    assert RunDir(out).read_manifest().status == "interrupted"


def test_a_shard_of_another_model_or_data_is_refused_in_words(raf_root, tmp_path):
    import shutil

    out = tmp_path / "run"
    _random(raf_root, out, shard="0/2")
    r = CliRunner().invoke(main, ["run", "--model", "facs-rules", "--tasks", "rafdb_basic_test", "--data-root",
                                  str(raf_root), "--out", str(out), "--shard", "1/2", "--no-cache", "--no-progress"])  # fmt: skip
    assert r.exit_code == 1 and "(model random " in r.output and "-> facs-rules " in r.output, r.output
    moved = tmp_path / "elsewhere"
    shutil.copytree(raf_root, moved)
    with pytest.raises(
        RunConfigError, match=rf"data: .*image paths and crops; data root {raf_root}/basic -> {moved}/basic"
    ):
        _random(moved, out, shard="1/2")


def test_status_of_a_sweep_with_an_unreadable_run_exits_1(raf_root, tmp_path):
    _random(raf_root, tmp_path / "sweep" / "a")
    (tmp_path / "sweep" / "b").mkdir()
    (tmp_path / "sweep" / "b" / "manifest.json").write_text("{}")
    r = CliRunner().invoke(main, ["status", str(tmp_path / "sweep")])
    assert r.exit_code == 1 and "complete" in r.output
    assert "1 run directory could not be read" in r.output and "b" in r.output


def test_status_lists_what_is_left_once_and_missing_answers_apart(raf_root, tmp_path):
    out = tmp_path / "run"
    _random(raf_root, out, shard="0/4")
    _random(raf_root, out, shard="0/2")  # the run goes on with N = 2
    where = run_progress(RunDir(out))
    assert {r.shard for r in where.shards if r.status == "not started"} <= {"1/2"}
    assert sum(r.remaining for r in where.shards if r.status == "not started") == where.remaining > 0
    # replay without an answer for some samples: they are missing, not left to generate
    index = RunDir(out).read_index()
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": s.id, "response": "<answer>happy</answer>"}) + "\n" for s in index[3:])
    )
    replayed = tmp_path / "replayed"
    for i in range(2):
        evaluate("rafdb_basic_test", "replay", {"predictions": str(preds), "frame": "pixel"}, data_root=raf_root,
                 out=replayed, cache=False, progress=False, n_resamples=200, shard=f"{i}/2")  # fmt: skip
    where = run_progress(RunDir(replayed))
    assert where.status == "complete" and (where.remaining, where.missing) == (0, 3)
    text = CliRunner().invoke(main, ["status", str(replayed)]).output
    assert "0 remaining, 3 with no answer (scored as missing)" in text


def test_the_command_that_finishes_a_run_names_its_folder_from_anywhere(tmp_path):
    from tag_bench.rundir import rerun_command

    cmd = ["/x/bin/tag-bench", "run", "--model", "random", "--out", "runs/a", "--limit", "5"]
    assert (
        rerun_command(cmd, tmp_path / "runs" / "a")
        == f"`tag-bench run --model random --out {tmp_path}/runs/a --limit 5`"
    )
    assert f"--out-dir={tmp_path}" in rerun_command(["tag-bench", "run", "--out-dir=runs"], tmp_path / "task")
    assert rerun_command(cmd) == "`tag-bench run --model random --out runs/a --limit 5`"
    # relative paths (here the default results folder and the data root) mean what they meant
    plain = ["tag-bench", "run", "--model", "random", "--data-root", "data"]
    assert rerun_command(plain, tmp_path / "results" / "x", cwd="/home/me/my project") == (
        "`cd '/home/me/my project' && tag-bench run --model random --data-root data`"
    )


def test_the_resume_command_of_an_interrupted_run_works_from_another_folder(raf_root, tmp_path, monkeypatch):
    first = subprocess.run(_cli("run", "--model", "random", "--tasks", "rafdb_basic_test", "--data-root",
                                os.path.relpath(raf_root, tmp_path), "--no-cache", "--no-progress", "--n-resamples",
                                "200", "--limit", "6"),
                           cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert first.returncode == 0, first.stderr[-2000:]
    (run_path,) = [p.parent for p in (tmp_path / "results").rglob("manifest.json")]
    RunDir(run_path).set_status(
        "interrupted", "generation was interrupted; run the same command again to resume it"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    reason = run_progress(RunDir(run_path)).status_reason or ""
    command = reason[reason.index("`") + 1 : reason.rindex("`")]
    assert command.startswith(f"cd {tmp_path} && tag-bench run ")
    proc = subprocess.run(command.replace("tag-bench run", f"{sys.executable} -m tag_bench run", 1), shell=True,
                          env=_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert RunDir(run_path).read_manifest().status == "complete" and not (elsewhere / "results").exists()


def test_status_into_a_closed_pipe_stops_quietly(raf_root, tmp_path):
    """`tag-bench status --json | head -1`: the reader goes away; no error message, no traceback."""
    _random(raf_root, tmp_path / "sweep" / "a")
    read, write = os.pipe()
    os.close(read)  # every write now fails with EPIPE, as after `head` has exited
    try:
        proc = subprocess.run(_cli("status", "--json", str(tmp_path / "sweep")), stdout=write,
                              stderr=subprocess.PIPE, text=True, env=_env(), timeout=120)  # fmt: skip
    finally:
        os.close(write)
    assert proc.returncode == 141 and proc.stderr == "", proc.stderr
