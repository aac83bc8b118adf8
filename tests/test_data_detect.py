"""Layout detection: every fixture layout, archives, parents holding several datasets, data roots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tag_bench.data import DatasetError, load_split
from tag_bench.data.detect import detect_datasets

# variant -> (dataset name, layout, usable as is)
EXPECTED = {
    "raf_basic": ("rafdb", "rafdb-official", True),
    "raf_nobasic": ("rafdb", "rafdb-official", True),
    "raf_partition": ("rafdb", "rafdb-official", True),
    "raf_zip": ("rafdb", "rafdb-official", False),
    "raf_kaggle": ("rafdb", "rafdb-kaggle", True),
    "raf_manet": ("folder", "folder-numeric", False),
    "ferplus": ("ferplus", "ferplus-official", True),
    "ferplus_csv": ("ferplus", "ferplus-csv", True),
    "ferplus_icml": ("ferplus", "ferplus-csv", True),
    "ferplus_repo": ("ferplus", "ferplus-csv", True),
    "ferplus_esr": ("ferplus", "ferplus-esr", True),
    "ferplus_traincsv": ("ferplus", "ferplus-official", False),
    "fer2013_msambare": ("fer2013", "fer2013-folders", True),
    "affectnet_csv": ("affectnet", "affectnet-csv", True),
    "affectnet_csv_noheader": ("affectnet", "affectnet-csv", True),
    "affectnet_csv_nested": ("affectnet", "affectnet-csv", True),
    "affectnet_rar": ("affectnet", "affectnet-csv", False),
    "affectnet_escape": ("affectnet", "affectnet-csv", True),  # refused when the rows are read
    "affectnet_npy": ("affectnet", "affectnet-npy", True),
    "affectnet_yolo": ("affectnet", "affectnet-yolo", True),
    "affectnet_dan": ("folder", "folder-numeric", False),
}


def test_fixture_covers_every_variant(dataset_fixtures):
    assert set(dataset_fixtures) == set(EXPECTED)


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_each_layout_is_detected(dataset_fixtures, variant):
    found = detect_datasets(dataset_fixtures[variant])
    assert len(found) == 1, [(d.layout, str(d.root)) for d in found]
    d = found[0]
    name, layout, usable = EXPECTED[variant]
    assert (d.name, d.layout, d.usable) == (name, layout, usable)
    assert d.description and d.description[0].isupper()
    assert d.as_dict()["layout"] == layout
    if not usable:
        assert d.errors and all(len(e) > 40 for e in d.errors)


def test_whole_fixture_tree(dataset_fixtures):
    root = dataset_fixtures["raf_basic"].parent
    found = detect_datasets(root)
    assert sorted(d.layout for d in found) == sorted(v[1] for v in EXPECTED.values())
    # a label-only FER+ clone next to a FER2013 CSV folder is paired, not reported twice
    repo = [d for d in found if str(d.root).endswith("ferplus_repo/FERPlus")]
    assert len(repo) == 1 and repo[0].usable


def test_archive_errors_name_the_command(dataset_fixtures):
    (raf,) = detect_datasets(dataset_fixtures["raf_zip"])
    assert "aligned.zip" in raf.errors[0] and "unzip -q" in raf.errors[0]
    (aff,) = detect_datasets(dataset_fixtures["affectnet_rar"])
    assert "unrar x" in aff.errors[0] and "part01.rar" in aff.errors[0]


def test_loose_archive_is_reported_never_zero_samples(tmp_path):
    (tmp_path / "fer2013.tar.gz").write_bytes(b"\x1f\x8b" + bytes(30))
    (found,) = detect_datasets(tmp_path)
    assert found.layout == "archive" and found.name == "ferplus"
    assert "tar -xzf" in found.errors[0] and "fer2013.tar.gz" in found.errors[0]
    with pytest.raises(DatasetError, match=r"fer2013.tar.gz has not been extracted.*tar -xzf"):
        load_split("ferplus", tmp_path, "test")
    with pytest.raises(DatasetError, match="has not been extracted"):
        load_split("rafdb", tmp_path, "test")


def test_parent_folder_with_several_datasets(dataset_fixtures, tmp_path):
    parent = tmp_path / "datasets"
    parent.mkdir()
    for name, variant in (("RAF-DB", "raf_basic"), ("FERPlus", "ferplus"), ("AffectNet", "affectnet_csv")):
        (parent / name).symlink_to(dataset_fixtures[variant], target_is_directory=True)
    assert len(load_split("rafdb", parent, "test").samples) == 7
    assert len(load_split("ferplus", parent, "test").samples) == 2
    assert len(load_split("affectnet", parent, "val").samples) == 16
    assert {d.name for d in detect_datasets(parent)} == {"rafdb", "ferplus", "affectnet"}


def test_dataset_layout_wins_over_a_generic_folder_beside_it(dataset_fixtures, tmp_path):
    parent = tmp_path / "datasets"
    parent.mkdir()
    (parent / "raf").symlink_to(dataset_fixtures["raf_basic"], target_is_directory=True)
    (parent / "dan").symlink_to(dataset_fixtures["affectnet_dan"], target_is_directory=True)
    assert load_split("rafdb", parent, "test").layout == "rafdb-official"


def test_two_copies_are_ambiguous(dataset_fixtures, tmp_path):
    parent = tmp_path / "datasets"
    parent.mkdir()
    (parent / "a").symlink_to(dataset_fixtures["raf_basic"], target_is_directory=True)
    (parent / "b").symlink_to(dataset_fixtures["raf_kaggle"], target_is_directory=True)
    with pytest.raises(DatasetError, match=r"several RAF-DB basic dataset copies .*Pass the one you mean"):
        load_split("rafdb", parent, "test")
    assert load_split("rafdb", parent, "test", layout="kaggle").layout == "rafdb-kaggle"


def test_nothing_found_says_what_was_looked_for(dataset_fixtures, tmp_path):
    with pytest.raises(
        DatasetError, match=r"no RAF-DB basic dataset found .*EmoLabel/list_patition_label.txt"
    ):
        load_split("rafdb", tmp_path, "test")
    with pytest.raises(DatasetError, match=r"Found instead: affectnet-npy"):
        load_split("rafdb", dataset_fixtures["affectnet_npy"], "test")


def test_search_depth_is_bounded(dataset_fixtures, tmp_path):
    deep = tmp_path / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    (deep / "raf").symlink_to(dataset_fixtures["raf_basic"], target_is_directory=True)
    # the RAF-DB root (raf/basic) lies 6 levels below tmp_path, 5 below a, 4 below a/b
    assert detect_datasets(tmp_path) == [] and detect_datasets(tmp_path / "a") == []
    assert len(detect_datasets(tmp_path / "a" / "b")) == 1


def test_data_root_from_environment(dataset_fixtures, monkeypatch):
    monkeypatch.delenv("TAG_BENCH_DATA", raising=False)
    with pytest.raises(DatasetError, match="pass --data-root DIR"):
        load_split("rafdb", None, "test")
    monkeypatch.setenv("TAG_BENCH_DATA", str(dataset_fixtures["raf_basic"]))
    assert len(load_split("rafdb", None, "test").samples) == 7


def test_bad_data_roots(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_split("rafdb", tmp_path / "nope", "test")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        load_split("rafdb", tmp_path / "file.txt", "test")


def test_compound_subset_is_named_and_left_alone(dataset_fixtures, tmp_path):
    comp = tmp_path / "RAF" / "compound"
    shutil.copytree(dataset_fixtures["raf_nobasic"], comp)
    (found,) = detect_datasets(tmp_path)
    assert found.layout == "rafdb-compound" and not found.errors and "basic" in found.warnings[0]
    with pytest.raises(DatasetError, match=r"no RAF-DB basic subset found; .*compound subset"):
        load_split("rafdb", tmp_path, "test")
    # the official download holds basic/ and compound/ side by side: basic is loaded
    shutil.copytree(dataset_fixtures["raf_basic"] / "basic", tmp_path / "RAF" / "basic")
    assert len(load_split("rafdb", tmp_path, "test").samples) == 7


def test_parquet_shards_are_explained(tmp_path):
    (tmp_path / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    (found,) = detect_datasets(tmp_path)
    assert found.layout == "hf-parquet" and "class folders" in found.errors[0]


def test_detect_does_not_descend_into_image_folders(dataset_fixtures, tmp_path):
    # an image folder that happens to hold something dataset-like is not mistaken for a dataset
    root = tmp_path / "raf"
    shutil.copytree(dataset_fixtures["raf_basic"], root)
    shutil.copytree(dataset_fixtures["fer2013_msambare"], root / "basic" / "Image" / "aligned" / "x")
    assert [d.layout for d in detect_datasets(root)] == ["rafdb-official"]


def test_import_stays_light():
    code = (
        "import sys, tag_bench.data, tag_bench.data.detect, tag_bench.data.rafdb, tag_bench.data.ferplus, "
        "tag_bench.data.affectnet, tag_bench.data.folders, tag_bench.data.demo, tag_bench._cli.data\n"
        "heavy = [m for m in ('torch', 'transformers', 'feat', 'mediapipe', 'vllm', 'lmms_eval', 'skimage', "
        "'matplotlib', 'cv2') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, check=True
    )
    assert out.stdout.strip() == "[]"
