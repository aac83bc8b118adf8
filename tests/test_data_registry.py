"""Dataset specs and their registry: built-in probe order, datasets from other packages, clashes."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

from tag_bench._registry import Registry
from tag_bench.data import DatasetError, base, load_split, register_loader
from tag_bench.data.base import DATASETS, ENTRY_POINT_GROUP, DatasetSpec, get_spec
from tag_bench.data.detect import detect_datasets

BUILTIN = ("affectnet", "demo", "ferplus", "folder", "rafdb")


def test_builtin_specs_keep_the_probe_order():
    specs = [get_spec(name) for name in BUILTIN]
    assert [s.name for s in specs] == list(BUILTIN)
    probes = sorted((p for s in specs for p in s.probes), key=lambda p: p.position)
    assert [p.layout for p in probes] == [
        "rafdb-official",
        "rafdb-kaggle",
        "ferplus",
        "fer2013",
        "affectnet-csv",
        "affectnet-npy",
        "affectnet-yolo",
        "folder",
        "hf-parquet",
    ]
    assert get_spec("rafdb").official_counts == {"train": 12271, "test": 3068}
    assert get_spec("affectnet").class_orders["affectnet"][7] == "contempt"


def test_unknown_and_clashing_names():
    with pytest.raises(DatasetError, match=r"unknown dataset 'rafd' \(did you mean 'rafdb'\?\); known: "):
        load_split("rafd", None, "test")
    with pytest.raises(
        ValueError, match=r"dataset 'rafdb' is registered twice: by tag_bench.data.rafdb:SPEC"
    ):
        register_loader("rafdb", lambda data_root, split: None)


def test_a_bare_loader_is_wrapped_in_a_spec(tmp_path):
    def load(data_root, split, **options):
        return base.SplitData("bare", split, "bare", tmp_path, [])

    register_loader("test-bare-loader", load)
    try:
        spec = get_spec("test-bare-loader")
        assert spec.load is load and spec.probes == ()
        assert load_split("test-bare-loader", tmp_path, "test").layout == "bare"
    finally:
        DATASETS.unregister("test-bare-loader")


PLUGIN = """
from pathlib import Path

from tag_bench.data.base import DatasetSpec, Probe, SplitData
from tag_bench.data.detect import DetectedDataset, locate
from tag_bench.schema import Sample


def _probe(ls):
    listed = ls.file("faces.lst")
    if listed is None:
        return None
    return DetectedDataset("faces", "faces-list", ls.path, "A list of faces", splits=["test"], details=listed,
                           loader="faces")


def load_detected(hit, split):
    names = hit.detail(Path).read_text().split()
    samples = [Sample(id=f"faces/{n}", dataset="faces", split=split, image=str(hit.root / n), label="neutral",
                      native_label="neutral") for n in names]
    return SplitData("faces", split, hit.layout, hit.root, samples)


def load(data_root, split):
    return load_detected(locate(data_root, lambda d: d.loader == "faces", "face list", "Add faces.lst."), split)


SPEC = DatasetSpec("faces", load=load, load_detected=load_detected, probes=(Probe(150, "faces-list", _probe),))
"""


def test_a_dataset_from_another_package(tmp_path, monkeypatch, dataset_fixtures):
    pkg = tmp_path / "pkg"
    dist = pkg / "tb_faces-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tb_faces\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nfaces = tb_faces:SPEC\n")
    (pkg / "tb_faces.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(pkg))
    importlib.invalidate_caches()
    fresh: Registry[DatasetSpec | base.Loader] = Registry("dataset", entry_point_group=ENTRY_POINT_GROUP)
    for name in BUILTIN:
        fresh.register(name, get_spec(name))
    monkeypatch.setattr(base, "DATASETS", fresh)

    data = tmp_path / "data"
    (data / "mine").mkdir(parents=True)
    (data / "mine" / "faces.lst").write_text("a.jpg b.jpg\n")
    (data / "raf").symlink_to(dataset_fixtures["raf_basic"], target_is_directory=True)
    found = {d.layout: d for d in detect_datasets(data)}
    assert set(found) == {"faces-list", "rafdb-official"}
    assert [s.id for s in found["faces-list"].load("test").samples] == ["faces/a.jpg", "faces/b.jpg"]
    assert len(load_split("faces", data, "test").samples) == 2
    assert "entry point faces = tb_faces:SPEC" in fresh.source("faces")
    sys.modules.pop("tb_faces", None)


def test_detect_imports_no_dataset_module():
    code = (
        "import sys, tag_bench.data.detect\n"
        "print([m for m in sys.modules if m.startswith('tag_bench.data.') and m.split('.')[-1] in "
        "('rafdb', 'ferplus', 'affectnet', 'folders', 'demo')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
