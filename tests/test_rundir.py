"""RunDir: one owner of a run directory's files, manifest, shards and writer lock."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

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
        run.shard_path(rank, 2).write_text(
            "".join(Generation(sample_id=i, text=i).model_dump_json() + "\n" for i in ids)
        )
    merged = run.merge_generations(["a", "b", "c"])
    assert set(merged) == {"a", "b", "c"} and run.shard_paths() == []
    assert [json.loads(x)["sample_id"] for x in run.generations_path.read_text().splitlines()] == [
        "a",
        "b",
        "c",
    ]


def _write(path, *records: Generation) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(g.model_dump_json() + "\n" for g in records))


def _ok(sid: str, text: str) -> Generation:
    return Generation(sample_id=sid, text=text)


def _err(sid: str, error: str) -> Generation:
    return Generation(sample_id=sid, status="error", error=error)


def test_readers_see_the_union_of_shards_and_duplicates_resolve_whatever_the_write_order(tmp_path):
    """ok beats error; among equals the later file (generations.jsonl, then shards by count and index);
    within a file the later line. The result does not depend on the order the files were written in."""
    results = []
    for order in ((0, 1, 2, 3), (3, 2, 1, 0), (2, 0, 3, 1)):
        run = RunDir(tmp_path / "-".join(map(str, order)))
        run.path.mkdir()
        writes = [
            lambda r: _write(r.generations_path, _err("a", "first"), _ok("b", "b-main")),
            lambda r: _write(r.shard_path(1, 4), _ok("a", "a-retried"), _err("c", "c-4")),
            lambda r: _write(r.shard_path(0, 3), _err("c", "c-3"), _ok("b", "b-3")),
            lambda r: _write(r.shard_path(2, 10), _err("d", "d1"), _err("d", "d2"), _err("c", "c-10")),
        ]
        for i in order:
            writes[i](run)
        gens = run.read_generations()
        results.append({k: (g.status, g.text or g.error) for k, g in sorted(gens.items())})
        # 1/4 sorts before 2/10 (count 4 < 10) and after 0/3 (count 3)
        assert [p.name for p in run.shard_paths()] == [
            "generations.shard-0-of-3.jsonl", "generations.shard-1-of-4.jsonl", "generations.shard-2-of-10.jsonl"
        ]  # fmt: skip
    assert (
        results[0]
        == results[1]
        == results[2]
        == {
            "a": ("ok", "a-retried"),  # ok beats the error in generations.jsonl
            "b": ("ok", "b-3"),  # both ok: the later file
            "c": ("error", "c-10"),  # all errors: the latest file
            "d": ("error", "d2"),  # within a file: the later line
        }
    )


def test_a_torn_last_line_of_a_shard_being_written_is_skipped_not_cut(tmp_path):
    run = RunDir(tmp_path)
    _write(run.shard_path(0, 2), _ok("a", "x"))
    with open(run.shard_path(1, 2), "w") as f:
        f.write(_ok("b", "y").model_dump_json() + "\n" + _ok("c", "z").model_dump_json()[:20])
    assert set(run.read_generations()) == {"a", "b"}
    run.repair_generations(run.shard_path(0, 2))  # a shard repairs only its own file
    assert run.shard_path(1, 2).read_text().count("\n") == 1 and not run.shard_path(
        1, 2
    ).read_text().endswith("\n")


def test_the_manifest_is_created_exclusively_by_one_of_many_processes(tmp_path):
    run = tmp_path / "run"
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(tmp_path)!r})
        from tag_bench.rundir import RunDir
        from test_helper_manifest import manifest
        while time.time() < float(sys.argv[2]):
            pass
        print(RunDir({str(run)!r}).create_manifest(manifest(sys.argv[1])))
        """
    )
    (tmp_path / "test_helper_manifest.py").write_text(textwrap.dedent(
        """
        from tag_bench.schema import ModelInfo, RunManifest, TaskInfo
        def manifest(who):
            return RunManifest(run_id=who, created="2026-01-01T00:00:00+00:00",
                task=TaskInfo(name="t", version=1, dataset="d", split="test", protocol="p", classes=["a"],
                              prompt="direct"),
                model=ModelInfo(adapter="m", fingerprint="f"), prompt_id="direct", prompt_hash="h")
        """
    ))  # fmt: skip
    start = str(time.time() + 3)
    procs = [subprocess.Popen([sys.executable, "-c", code, f"p{i}", start], stdout=subprocess.PIPE, text=True)
             for i in range(6)]  # fmt: skip
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(outs) == ["False"] * 5 + ["True"], outs
    winner = outs.index("True")
    assert RunDir(run).read_manifest().run_id == f"p{winner}"
    assert not list(run.glob(".*tmp")), "no temporary file is left behind"


def test_a_shard_with_another_configuration_is_refused_with_the_diff(tmp_path):
    run = RunDir(tmp_path / "run")
    first = run.join(_manifest(gen_kwargs={"max_new_tokens": 8}), [], shard="0/2")
    assert first.gen_kwargs == {"max_new_tokens": 8}
    assert run.join(_manifest(gen_kwargs={"max_new_tokens": 8}), [], shard="1/2").run_id == "t__m"
    with pytest.raises(RunDirError, match=r"shard 1/2 has another.*\n  gen_kwargs: \{'max_new_tokens': 8\} -> "
                       r"\{'max_new_tokens': 9\}"):  # fmt: skip
        run.join(_manifest(gen_kwargs={"max_new_tokens": 9}), [], shard="1/2")


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


def test_published_scores_are_links_to_the_saved_ones_and_republishing_leaves_nothing_behind(tmp_path):
    run = RunDir(tmp_path / "run")
    for key, text in (("a@1", "first\n"), ("b@1", "second\n")):
        run.scores_dir(key).mkdir(parents=True)
        run.scores_file(run.SAMPLES, key).write_text(text)
        run.scores_file(run.METRICS, key).write_text("{}\n")
    run.publish_scores("a@1")
    run.publish_scores("a@1")  # the same files again: rename() between two links of one file is a no-op
    assert run.samples_path.stat().st_ino == run.scores_file(run.SAMPLES, "a@1").stat().st_ino
    run.publish_scores("b@1")
    assert run.samples_path.read_text() == "second\n"
    assert run.scores_file(run.SAMPLES, "a@1").read_text() == "first\n"
    assert sorted(p.name for p in run.path.iterdir()) == [run.METRICS, run.REFERENCES_DIR, run.SAMPLES]
