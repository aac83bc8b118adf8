"""The generate stage and the run directory: resume, cache, failures, config changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tag_bench import store
from tag_bench.generate.cache import GenerationCache
from tag_bench.generate.evaluate import RunConfigError, evaluate


def _lines(path: Path) -> list[dict]:
    return list(store.iter_jsonl(path))


def test_run_writes_a_complete_run_directory(raf_root, tmp_path):
    result = evaluate("rafdb_basic_test", "random", data_root=raf_root, out=tmp_path / "run",
                      au_reference="none", cache=False, n_resamples=200, progress=False)  # fmt: skip
    run = result.run_dir
    for name in ("manifest.json", "index.jsonl", "generations.jsonl", "samples.jsonl", "metrics.json"):
        assert (run / name).exists(), name
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["task"]["name"] == "rafdb_basic_test"
    assert manifest["model"]["adapter"] == "random"
    assert manifest["prompt_id"] == "tag_grounded" and len(manifest["prompt_hash"]) >= 8
    assert "numpy" in manifest["packages"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] == 7
    assert 0.0 <= metrics["metrics"]["accuracy"]["value"] <= 1.0
    # no AU reference: grounding is "not computed, with the reason", never zero
    assert "au_box_iou" in metrics["not_computed"]
    assert metrics["metrics"]["au_box_iou"]["value"] is None
    assert len(_lines(run / "samples.jsonl")) == 7


def test_unreadable_images_are_counted_not_dropped(raf_root, tmp_path):
    aligned = raf_root / "basic" / "Image" / "aligned"
    (aligned / "test_0002_aligned.jpg").write_bytes(b"this is not a jpeg")
    (aligned / "test_0003_aligned.jpg").unlink()
    (raf_root / "basic" / "Image" / "original" / "test_0003.jpg").unlink(missing_ok=True)
    result = evaluate("rafdb_basic_test", "random", data_root=raf_root, out=tmp_path / "run",
                      au_reference="none", cache=False, n_resamples=200, progress=False)  # fmt: skip
    scored = {d["sample_id"]: d for d in _lines(result.run_dir / "samples.jsonl")}
    assert len(scored) == 7
    assert scored["rafdb/test_0002"]["status"] == "error"
    assert "cannot decode" in scored["rafdb/test_0002"]["error"]
    assert scored["rafdb/test_0003"]["status"] == "error"
    assert "not found" in scored["rafdb/test_0003"]["error"]
    assert result.report.status_counts["error"] == 2
    assert result.report.metrics["accuracy"].n == 7


def test_resume_skips_written_samples_and_gives_identical_metrics(raf_root, tmp_path):
    kw = dict(data_root=raf_root, au_reference="none", cache=False, n_resamples=200, progress=False)
    full = evaluate("rafdb_basic_test", "random", out=tmp_path / "full", **kw)
    part = evaluate("rafdb_basic_test", "random", out=tmp_path / "part", **kw)
    gen = part.run_dir / "generations.jsonl"
    lines = gen.read_text().splitlines(keepends=True)
    gen.write_text("".join(lines[:3]) + lines[3][:25])  # as if killed mid-write
    (part.run_dir / "metrics.json").unlink()
    resumed = evaluate("rafdb_basic_test", "random", out=tmp_path / "part", **kw)
    assert resumed.stats.skipped_done == 3
    assert resumed.stats.generated == 4
    ids = [d["sample_id"] for d in _lines(gen)]
    assert len(ids) == len(set(ids)) == 7
    a = json.loads((full.run_dir / "metrics.json").read_text())["metrics"]
    b = json.loads((part.run_dir / "metrics.json").read_text())["metrics"]
    assert a == b


def test_changed_config_is_refused_with_what_changed(raf_root, tmp_path):
    kw = dict(data_root=raf_root, au_reference="none", cache=False, n_resamples=200, progress=False)
    evaluate("rafdb_basic_test", "random", out=tmp_path / "run", **kw)
    with pytest.raises(RunConfigError) as e:
        evaluate("rafdb_basic_test", "random", out=tmp_path / "run", gen_kwargs="max_new_tokens=7", **kw)
    assert "gen_kwargs" in str(e.value) and "--overwrite" in str(e.value)
    fresh = evaluate("rafdb_basic_test", "random", out=tmp_path / "run", gen_kwargs="max_new_tokens=7",
                     overwrite=True, **kw)  # fmt: skip
    assert fresh.stats.generated == 7


def test_hf_generation_cache_includes_the_model(raf_root, raf_train_tasks, tiny_qwen, tmp_path):
    from tag_bench.testing.tiny_models import build_tiny_qwen2_5_vl

    cache = tmp_path / "gen.sqlite"
    kw = dict(data_root=raf_root, au_reference="none", cache=cache, n_resamples=200, progress=False,
              gen_kwargs="max_new_tokens=8", batch_size=4, tasks_dirs=[str(raf_train_tasks)], limit=6)  # fmt: skip
    first = evaluate("raf_train_small", "hf", {"pretrained": str(tiny_qwen)}, out=tmp_path / "a", **kw)
    assert first.stats.generated == 6 and first.stats.from_cache == 0
    second = evaluate("raf_train_small", "hf", {"pretrained": str(tiny_qwen)}, out=tmp_path / "b", **kw)
    assert second.stats.from_cache == 6
    texts = lambda r: [d["text"] for d in _lines(r.run_dir / "generations.jsonl")]  # noqa: E731
    assert texts(first) == texts(second)
    assert len(GenerationCache(cache)) == 6
    # another model (different weights) must not be served the first model's answers
    other = build_tiny_qwen2_5_vl(tmp_path / "other-qwen", seed=1)
    third = evaluate("raf_train_small", "hf", {"pretrained": str(other)}, out=tmp_path / "c", **kw)
    assert third.stats.from_cache == 0
    assert len(GenerationCache(cache)) == 12


def test_a_larger_limit_extends_the_run_instead_of_restarting(raf_root, tmp_path):
    kw = dict(data_root=raf_root, au_reference="none", cache=False, n_resamples=200, progress=False)
    first = evaluate("rafdb_basic_test", "random", out=tmp_path / "run", limit=3, **kw)
    assert first.report.n == 3
    more = evaluate("rafdb_basic_test", "random", out=tmp_path / "run", limit=5, **kw)
    assert more.stats.skipped_done == 3 and more.stats.generated == 2
    assert more.report.n == 5


def test_resuming_with_another_au_reference_scores_against_it(raf_root, tmp_path):
    pytest.importorskip("mediapipe")
    kw = dict(data_root=raf_root, cache=False, n_resamples=200, progress=False)
    with_ref = evaluate(
        "rafdb_basic_test", "random", out=tmp_path / "run", au_reference="mediapipe-geometric", **kw
    )
    assert with_ref.report.au_reference == "mediapipe-geometric-tight@2"
    without = evaluate("rafdb_basic_test", "random", out=tmp_path / "run", au_reference="none", **kw)
    assert without.stats.generated == 0
    assert without.report.au_reference is None and "au_box_iou" in without.report.not_computed
    assert not (tmp_path / "run" / "au_references.jsonl").exists()
