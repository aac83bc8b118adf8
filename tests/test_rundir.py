"""RunDir: one owner of a run directory's files, manifest, shards and writer lock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tag_bench.rundir import RunDir, RunDirError, RunLockedError
from tag_bench.schema import Generation, ModelInfo, RunManifest, TaskInfo


def _manifest(**kw) -> RunManifest:
    return RunManifest(
        run_id="t__m",
        created="2026-01-01T00:00:00+00:00",
        task=TaskInfo(name="t", version=1, dataset="d", split="test", protocol="p", classes=["neutral", "anger"],
                      prompt="direct"),
        model=ModelInfo(adapter="m", fingerprint="f"),
        prompt_id="direct",
        prompt_hash="h",
        **kw,
    )  # fmt: skip


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    run = RunDir(tmp_path / "run")
    holder = textwrap.dedent(
        f"""
        import sys, time
        from tag_bench.rundir import RunDir
        with RunDir({str(run.path)!r}).lock():
            print("locked", flush=True)
            time.sleep(30)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=rf"pid {proc.pid} .*another --out"), run.lock():
            pass
    finally:
        proc.kill()
        proc.wait()
    with run.lock():  # a killed holder leaves no stale lock behind
        pass


def test_lock_is_reentrant_free_after_release(tmp_path):
    run = RunDir(tmp_path / "run")
    with run.lock():
        pass
    with run.lock():
        pass


def test_legacy_manifest_extra_becomes_typed_fields(tmp_path):
    old = _manifest().model_dump(mode="json")
    del (
        old["task_fingerprint"],
        old["index_sha256"],
        old["warnings"],
        old["resumed_at"],
        old["au_reference_id"],
    )
    del old["scoring"]
    old["extra"] = {
        "task_fingerprint": "tf", "index_sha256": "ix", "warnings": ["w"], "resumed_at": ["r"],
        "au_reference_id": "ref@1", "scored_with": {"n_resamples": 10, "seed": 2}, "note": "kept",
    }  # fmt: skip
    run = RunDir(tmp_path)
    run.manifest_path.write_text(json.dumps(old))
    m = run.read_manifest()
    assert (m.task_fingerprint, m.index_sha256, m.warnings, m.resumed_at) == ("tf", "ix", ["w"], ["r"])
    assert m.au_reference_id == "ref@1" and m.scoring is not None and m.scoring.seed == 2
    assert m.extra == {"note": "kept"}


def test_start_resumes_the_same_config_and_refuses_another(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start(_manifest(index_sha256="a"), [])
    again = run.start(_manifest(index_sha256="a"), [])
    assert len(again.resumed_at) == 1
    with pytest.raises(RunDirError, match=r"data: 'a' -> 'b'"):
        run.start(_manifest(index_sha256="b"), [])
    run.start(_manifest(index_sha256="b"), [], overwrite=True)


def test_shards_merge_in_sample_order(tmp_path):
    run = RunDir(tmp_path)
    run.path.mkdir(exist_ok=True)
    for rank, ids in ((0, ["a", "c"]), (1, ["b"])):
        run.shard_path(rank).write_text(
            "".join(Generation(sample_id=i, text=i).model_dump_json() + "\n" for i in ids)
        )
    merged = run.merge_generations(["a", "b", "c"])
    assert set(merged) == {"a", "b", "c"} and run.shard_paths() == []
    assert [json.loads(x)["sample_id"] for x in run.generations_path.read_text().splitlines()] == [
        "a",
        "b",
        "c",
    ]


def test_not_a_run_says_so(tmp_path):
    with pytest.raises(RunDirError, match="not a run directory"):
        RunDir(tmp_path).read_manifest()
    with pytest.raises(RunDirError, match="not been scored"):
        RunDir(tmp_path).read_metrics()


def test_scored_samples_stream_with_the_torn_tail_rule(tmp_path):
    from tag_bench.schema import ScoredSample

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    good = ScoredSample(
        sample_id="a", label="anger", pred="anger", status="ok", correct=True
    ).model_dump_json()
    run.samples_path.write_text(f"{good}\n\n{good}\n" + good[:20])  # a last line cut short by a crash
    assert [s.sample_id for s in run.iter_scored()] == ["a", "a"] == [s.sample_id for s in run.read_scored()]
    run.samples_path.write_text(f"{good}\n{good[:20]}\n{good}\n")
    with pytest.raises(RunDirError, match=r"samples\.jsonl:2: not valid JSON .*re-score the run"):
        list(run.iter_scored())
    run.samples_path.write_text(f"{good}\n" + good.replace('"ok"', '"great"') + "\n")
    with pytest.raises(RunDirError, match=r"samples\.jsonl:2: not a ScoredSample record \(status"):
        list(run.iter_scored())
    run.samples_path.unlink()
    with pytest.raises(RunDirError, match=r"has no scored samples \(samples\.jsonl\); run `tag-bench score"):
        next(run.iter_scored())
