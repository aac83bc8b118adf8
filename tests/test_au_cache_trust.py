"""An AU cache you can trust: a damaged ``au_cache.sqlite`` never stops a run or a scoring (one warning
line naming the file and how to move it aside; the file itself is left alone), and ``--no-cache`` never
opens it. Real SQLite files, real MediaPipe on the demo's public-domain faces."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("mediapipe")

from tag_bench._cli.main import main
from tag_bench.au.cache import _TABLE, AUCache
from tag_bench.au.sources import resolve_reference_source

REFERENCE = "mediapipe-blendshapes"
GARBAGE = bytes(range(256)) * 40  # not a SQLite file


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv("TAG_BENCH_CACHE", str(folder))
    return folder


def _run(out: Path, *extra: str, model: str = "facs-rules"):
    return CliRunner().invoke(
        main,
        ["run", "--model", model, "--tasks", "demo", "--out", str(out), "--n-resamples", "200",
         "--no-progress", *extra],
    )  # fmt: skip


def _assert_warned_and_scored(result, cache_file: Path, out: Path) -> None:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "DatabaseError" not in result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert any(str(cache_file) in w and "mv " in w and ".broken" in w for w in warnings), result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["au_box_iou"]["value"] is not None, metrics["not_computed"]
    assert metrics["reference_status_counts"].get("ok", 0) > 0
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_run_goes_on_without_a_garbage_au_cache(cache_dir, tmp_path):
    broken = cache_dir / "au_cache.sqlite"
    broken.write_bytes(GARBAGE)
    out = tmp_path / "run"
    r = _run(out, "--au-reference", REFERENCE)
    _assert_warned_and_scored(r, broken, out)
    assert broken.read_bytes() == GARBAGE  # never moved, deleted or rewritten


def test_score_goes_on_without_a_garbage_au_cache(cache_dir, tmp_path):
    out = tmp_path / "run"
    r = _run(out, "--au-reference", "none", "--no-cache", model="random")
    assert r.exit_code == 0, r.output
    broken = cache_dir / "au_cache.sqlite"
    broken.write_bytes(GARBAGE)
    r = CliRunner().invoke(main, ["score", str(out), "--au-reference", REFERENCE, "--n-resamples", "200",
                                  "--no-progress"])  # fmt: skip
    _assert_warned_and_scored(r, broken, out)
    assert broken.read_bytes() == GARBAGE


def test_score_predictions_goes_on_without_a_garbage_au_cache(cache_dir, tmp_path):
    from tag_bench.tasks import load_task

    ids = [s.id for s in load_task("demo").load(None).samples]
    preds = tmp_path / "p.jsonl"
    trace = "Lip corners pulled up (AU12) <bbox>[40,60,70,80]</bbox> <answer> happiness </answer>"
    preds.write_text("".join(json.dumps({"id": i, "response": trace}) + "\n" for i in ids))
    broken = cache_dir / "au_cache.sqlite"
    broken.write_bytes(GARBAGE)
    out = tmp_path / "scored"
    r = CliRunner().invoke(main, ["score", "--task", "demo", "--predictions", str(preds), "--frame", "norm1000",
                                  "--au-reference", REFERENCE, "--out", str(out), "--n-resamples", "200",
                                  "--no-progress"])  # fmt: skip
    _assert_warned_and_scored(r, broken, out)


def test_no_cache_never_opens_the_au_cache(cache_dir, tmp_path):
    out = tmp_path / "run"
    r = _run(out, "--au-reference", REFERENCE, "--no-cache")
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["metrics"]["au_box_iou"]["value"] is not None
    r = CliRunner().invoke(main, ["score", str(out), "--au-reference", "mediapipe-geometric", "--no-cache",
                                  "--n-resamples", "200", "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert not (cache_dir / "au_cache.sqlite").exists()
    assert not (cache_dir / "generations.sqlite").exists()
    # without --no-cache the same scoring does use it
    r = CliRunner().invoke(main, ["score", str(out), "--au-reference", "mediapipe-geometric", "--n-resamples",
                                  "200", "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert len(AUCache(cache_dir / "au_cache.sqlite")) > 0


def _damaged_cache(path: Path) -> None:
    """A real cache whose data pages were overwritten: it opens, and fails on the first read."""
    cache = AUCache(path)
    conn = cache._conn()
    for i in range(300):
        conn.execute(f"INSERT INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                     (f"{i:064d}", "r", "v", "h", os.urandom(600), time.time()))  # fmt: skip
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cache.close()
    data = bytearray(path.read_bytes())
    for page in range(2, len(data) // 4096):
        data[page * 4096 : (page + 1) * 4096] = os.urandom(4096)
    path.write_bytes(bytes(data))


def test_a_cache_damaged_inside_is_reported_once_and_then_left_alone(tmp_path):
    from tag_bench.au.cache import open_au_cache

    path = tmp_path / "au_cache.sqlite"
    _damaged_cache(path)
    before = path.read_bytes()
    warnings: list[str] = []
    cache = open_au_cache(path, warnings)
    assert cache is not None and warnings == []  # the header and schema are intact
    assert len(cache) == 0 and cache.broken
    assert len(cache) == 0  # a second use reports nothing new
    assert len(cache.problems) == 1 and str(path) in cache.problems[0] and "malformed" in cache.problems[0]
    assert path.read_bytes() == before


@pytest.mark.parametrize("damage", ["garbage", "truncated", "damaged pages"])
def test_a_source_over_a_damaged_cache_still_gives_references(tmp_path, damage):
    from tag_bench.schema import Sample
    from tag_bench.testing.sample_faces import face_path

    path = tmp_path / "au_cache.sqlite"
    if damage == "garbage":
        path.write_bytes(GARBAGE)
    else:
        _damaged_cache(path)
        if damage == "truncated":
            path.write_bytes(path.read_bytes()[:8192])
    img = face_path("astronaut", tmp_path)
    sample = Sample(id="a", dataset="x", split="test", image=str(img), label="happiness", native_label="")
    source = resolve_reference_source(REFERENCE, cache_path=path)
    refs = source.get_many([sample])
    assert refs["a"].status == "ok"
    assert len(source.problems) == 1 and str(path) in source.problems[0]
    assert "\n" not in source.problems[0]
