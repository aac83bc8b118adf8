"""RAF-DB basic: official layout (with/without basic/, both spellings), annotations, re-packagings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tag_bench.data import DatasetError, load_split
from tag_bench.data._common import RAFDB_ORDER
from tag_bench.images import open_image
from tag_bench.testing.fixtures import RAF_TEST, RAF_TRAIN

EXPECTED = {"train": dict(RAF_TRAIN), "test": dict(RAF_TEST)}


def _labels(data):
    return {s.id: s.label for s in data.samples}


@pytest.mark.parametrize("split", ["train", "test"])
def test_official_layout(dataset_fixtures, split):
    data = load_split("rafdb", dataset_fixtures["raf_basic"], split)
    assert data.layout == "rafdb-official" and data.dataset == "rafdb"
    assert len(data.samples) == {"train": 14, "test": 7}[split]
    for s in data.samples:
        stem = s.id.split("/", 1)[1]
        assert s.native_label == EXPECTED[split][stem]
        assert s.label == RAFDB_ORDER[s.native_label - 1]
        assert s.meta["file"] == f"{stem}.jpg" and s.split == split
        assert Path(s.image).is_file() and "/Image/aligned/" in s.image
    counts = {c: sum(s.label == c for s in data.samples) for c in RAFDB_ORDER}
    assert set(counts.values()) == ({2} if split == "train" else {1})
    assert data.info["protocol"] == "rafdb-basic-7" and data.info["variant"] == "aligned"


def test_label_order_is_native(dataset_fixtures):
    labels = _labels(load_split("rafdb", dataset_fixtures["raf_basic"], "test"))
    assert labels == {
        "rafdb/test_0001": "surprise",
        "rafdb/test_0002": "fear",
        "rafdb/test_0003": "disgust",
        "rafdb/test_0004": "happiness",
        "rafdb/test_0005": "sadness",
        "rafdb/test_0006": "anger",
        "rafdb/test_0007": "neutral",
    }


def test_label_file_has_no_trailing_newline_and_all_lines_count(dataset_fixtures):
    label = dataset_fixtures["raf_basic"] / "basic" / "EmoLabel" / "list_patition_label.txt"
    assert not label.read_bytes().endswith(b"\n")
    train = load_split("rafdb", dataset_fixtures["raf_basic"], "train")
    test = load_split("rafdb", dataset_fixtures["raf_basic"], "test")
    assert len(train.samples) + len(test.samples) == label.read_text().count("\n") + 1


def test_aligned_name_falls_back_to_plain_stem(dataset_fixtures):
    data = load_split("rafdb", dataset_fixtures["raf_basic"], "test")
    s = {s.id: s for s in data.samples}["rafdb/test_0007"]
    assert s.image.endswith("/aligned/test_0007.jpg") and Path(s.image).is_file()
    assert data.info["aligned_without_suffix"] == 1
    assert not [w for w in data.warnings if "missing" in w]


def test_dataset_folder_or_parent_or_basic(dataset_fixtures):
    parent = load_split("rafdb", dataset_fixtures["raf_basic"], "test")
    basic = load_split("rafdb", dataset_fixtures["raf_basic"] / "basic", "test")
    nobasic = load_split("rafdb", dataset_fixtures["raf_nobasic"], "test")
    assert _labels(parent) == _labels(basic) == _labels(nobasic)
    assert parent.root == basic.root == (dataset_fixtures["raf_basic"] / "basic").resolve()


def test_missing_image_stays_in_index_with_one_warning(dataset_fixtures):
    data = load_split("rafdb", dataset_fixtures["raf_nobasic"], "train")
    assert len(data.samples) == 14
    missing = [w for w in data.warnings if "missing" in w]
    assert len(missing) == 1
    assert "1 of 14" in missing[0] and "train_00014_aligned.jpg" in missing[0]
    assert data.info["missing_images"] == 1


def test_partition_spelling_and_three_fields(dataset_fixtures):
    label = next((dataset_fixtures["raf_partition"] / "EmoLabel").iterdir())
    assert label.name == "list_partition_label.txt" and "\t" in label.read_text()
    data = load_split("rafdb", dataset_fixtures["raf_partition"], "test")
    assert _labels(data) == _labels(load_split("rafdb", dataset_fixtures["raf_basic"], "test"))


def test_count_warning_names_expected_numbers(dataset_fixtures):
    train = load_split("rafdb", dataset_fixtures["raf_basic"], "train")
    test = load_split("rafdb", dataset_fixtures["raf_basic"], "test")
    assert any("12,271" in w and "found 14" in w for w in train.warnings)
    assert any("3,068" in w and "found 7" in w for w in test.warnings)


def test_original_variant_with_annotations(dataset_fixtures):
    data = load_split(
        "rafdb", dataset_fixtures["raf_basic"], "train", variant="original", with_annotations=True
    )
    by_id = {s.id: s for s in data.samples}
    s = by_id["rafdb/train_00001"]
    assert s.image.endswith("/Image/original/train_00001.jpg")
    assert s.meta["bbox"] == pytest.approx([180 * 0.19, 240 * 0.17, 180 * 0.83, 240 * 0.71], abs=0.01)
    assert len(s.meta["landmarks5"]) == 5 and len(s.meta["landmarks37"]) == 37
    assert s.meta["landmarks5"][0] == pytest.approx([180 * 0.38, 240 * 0.4], abs=1e-3)
    assert (s.meta["gender"], s.meta["race"], s.meta["age"]) == ("male", "african-american", "0-3")
    # train_00003's box spills outside its 180x240 image: clipped to the image
    spill = by_id["rafdb/train_00003"]
    assert spill.meta["bbox"] == pytest.approx([0.0, 12.25, 180.0, 240.0])
    assert open_image(spill).size == (180, 240)


def test_aligned_variant_keeps_annotations_in_original_frame(dataset_fixtures):
    data = load_split("rafdb", dataset_fixtures["raf_basic"], "test", with_annotations=True)
    s = data.samples[0]
    assert "bbox" not in s.meta and "landmarks5" not in s.meta
    assert len(s.meta["original_landmarks5"]) == 5 and len(s.meta["original_bbox"]) == 4
    assert len(s.meta["original_landmarks37"]) == 37


def test_annotation_separators(dataset_fixtures, tmp_path):
    root = tmp_path / "raf"
    shutil.copytree(dataset_fixtures["raf_basic"], root)
    ann = root / "basic" / "Annotation"
    (ann / "manual" / "test_0001_manu_attri.txt").write_text(
        "10;20\n30, 40\n50 60\n70\t80\n90;100\n1\n2\n3\n"
    )
    (ann / "boundingbox" / "test_0001_boundingbox.txt").write_text("1.5,2.5;100 120\n")
    s = load_split("rafdb", root, "test", variant="original", with_annotations=True).samples[0]
    assert s.meta["landmarks5"] == [[10, 20], [30, 40], [50, 60], [70, 80], [90, 100]]
    assert (s.meta["gender"], s.meta["race"], s.meta["age"]) == ("female", "asian", "40-69")
    assert s.meta["bbox"] == [1.5, 2.5, 100, 120]


def test_unparsable_and_missing_annotations_warn(dataset_fixtures, tmp_path):
    root = tmp_path / "raf"
    shutil.copytree(dataset_fixtures["raf_basic"], root)
    ann = root / "basic" / "Annotation"
    (ann / "auto" / "test_0002_auto_attri.txt").write_text("not numbers\n")
    (ann / "boundingbox" / "test_0003_boundingbox.txt").unlink()
    data = load_split("rafdb", root, "test", variant="original", with_annotations=True)
    assert any("1 RAF-DB boundingbox annotation files are missing" in w for w in data.warnings)
    assert any("could not be parsed" in w and "test_0002_auto_attri.txt" in w for w in data.warnings)
    by_id = {s.id: s for s in data.samples}
    assert "landmarks37" not in by_id["rafdb/test_0002"].meta and "bbox" not in by_id["rafdb/test_0003"].meta


def test_annotations_requested_but_absent(dataset_fixtures):
    with pytest.raises(DatasetError, match=r"with_annotations=True but .*Annotation has none"):
        load_split("rafdb", dataset_fixtures["raf_nobasic"], "test", with_annotations=True)


def test_unextracted_zip_names_archive_and_command(dataset_fixtures):
    with pytest.raises(DatasetError) as e:
        load_split("rafdb", dataset_fixtures["raf_zip"], "test")
    msg = str(e.value)
    assert "Image/aligned.zip" in msg and "unzip -q" in msg and "has not been extracted" in msg


def test_missing_variant_suggests_the_other(dataset_fixtures):
    with pytest.raises(
        DatasetError, match=r"original image folder .* not found; the aligned images are there"
    ):
        load_split("rafdb", dataset_fixtures["raf_partition"], "test", variant="original")
    with pytest.raises(DatasetError, match="variant must be aligned or original"):
        load_split("rafdb", dataset_fixtures["raf_basic"], "test", variant="crop")


def test_bad_label_lines(dataset_fixtures, tmp_path):
    root = tmp_path / "raf"
    shutil.copytree(dataset_fixtures["raf_nobasic"], root)
    label = root / "EmoLabel" / "list_patition_label.txt"
    original = label.read_text()
    label.write_text(original.replace("test_0003.jpg 3", "test_0003.jpg 9"))
    with pytest.raises(DatasetError, match=r"list_patition_label.txt:17: label 9 is outside 1..7.*compound"):
        load_split("rafdb", root, "test")
    label.write_text(original.replace("test_0003.jpg 3", "test_0003.jpg three"))
    with pytest.raises(DatasetError, match=r":17: label 'three' is not a number"):
        load_split("rafdb", root, "test")
    label.write_text(original.replace("test_0003.jpg 3", "photo_3.jpg 3"))
    with pytest.raises(DatasetError, match=r"starts with neither 'train' nor 'test'"):
        load_split("rafdb", root, "test")


def test_kaggle_layout_matches_official(dataset_fixtures):
    for split in ("train", "test"):
        kaggle = load_split("rafdb", dataset_fixtures["raf_kaggle"], split)
        assert kaggle.layout == "rafdb-kaggle"
        assert _labels(kaggle) == _labels(load_split("rafdb", dataset_fixtures["raf_basic"], split))
        assert {s.native_label for s in kaggle.samples} == set(range(1, 8))


def test_poster_valid_folder_serves_as_test(dataset_fixtures, tmp_path):
    root = tmp_path / "raf-db"
    shutil.copytree(dataset_fixtures["raf_kaggle"] / "DATASET", root)
    (root / "test").rename(root / "valid")
    data = load_split("rafdb", root, "test")
    assert len(data.samples) == 7 and any("valid/ folder" in w for w in data.warnings)


def test_manet_folders_need_explicit_class_order(dataset_fixtures):
    with pytest.raises(DatasetError) as e:
        load_split("rafdb", dataset_fixtures["raf_manet"], "test")
    assert "class_order" in str(e.value) and "never guesses" in str(e.value) and "affectnet" in str(e.value)
    official = _labels(load_split("rafdb", dataset_fixtures["raf_basic"], "test"))
    by_preset = load_split("rafdb", dataset_fixtures["raf_manet"], "test", class_order="affectnet")
    assert by_preset.layout == "rafdb-folder" and _labels(by_preset) == official
    as_list = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"]
    assert (
        _labels(load_split("rafdb", dataset_fixtures["raf_manet"], "test", class_order=as_list)) == official
    )
    assert (
        _labels(load_split("rafdb", dataset_fixtures["raf_manet"], "test", class_order=",".join(as_list)))
        == official
    )
    with pytest.raises(DatasetError, match="class_order lists 6 classes"):
        load_split("rafdb", dataset_fixtures["raf_manet"], "test", class_order=as_list[:6])
    with pytest.raises(DatasetError, match=r"class folder '0' .* not a label of class_order=rafdb"):
        load_split("rafdb", dataset_fixtures["raf_manet"], "test", class_order="rafdb")


def test_split_and_option_errors(dataset_fixtures):
    with pytest.raises(DatasetError, match="RAF-DB has no split 'val'; use one of: test, train"):
        load_split("rafdb", dataset_fixtures["raf_basic"], "val")
    with pytest.raises(DatasetError, match=r"unknown RAF-DB loader option\(s\): crop"):
        load_split("rafdb", dataset_fixtures["raf_basic"], "test", crop="bbox")


def test_aligned_images_decode(dataset_fixtures):
    data = load_split("rafdb", dataset_fixtures["raf_basic"], "test")
    sizes = {open_image(s).size for s in data.samples}
    assert sizes == {(100, 100)}
