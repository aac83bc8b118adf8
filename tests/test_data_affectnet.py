"""AffectNet: CSV release (header quirk, nesting, crops, landmarks), npy release, YOLO and DAN folders."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tag_bench.data import DatasetError, load_split
from tag_bench.data._common import AFFECTNET_ORDER
from tag_bench.data.affectnet import read_npy
from tag_bench.images import open_image, presented_size


def _rows(path: Path) -> list[list[str]]:
    rows = list(csv.reader(path.open()))
    return rows[1:] if rows[0][0].lower() == "subdirectory_filepath" else rows


def _key(data):
    return [(s.id, s.label, s.native_label, s.crop) for s in data.samples]


@pytest.mark.parametrize(("num_classes", "n"), [(8, 16), (7, 14)])
def test_csv_val_counts_and_exclusions(dataset_fixtures, num_classes, n):
    data = load_split("affectnet", dataset_fixtures["affectnet_csv"], "val", num_classes=num_classes)
    assert data.layout == "affectnet-csv" and len(data.samples) == n
    assert data.info["protocol"] == f"affectnet-{num_classes}"
    assert all(s.native_label < num_classes for s in data.samples)
    assert {"8 (None)": 1, "9 (Uncertain)": 1, "10 (No-Face)": 1}.items() <= data.info["excluded"].items()
    assert ("7 (contempt)" in data.info["excluded"]) == (num_classes == 7)
    for s in data.samples:
        assert s.label == AFFECTNET_ORDER[s.native_label]
        assert s.id.startswith("affectnet/val/") and not s.id.endswith((".jpg", ".png"))


def test_csv_header_detection(dataset_fixtures, tmp_path):
    with_header = load_split("affectnet", dataset_fixtures["affectnet_csv"], "val")
    without = load_split("affectnet", dataset_fixtures["affectnet_csv_noheader"], "val")
    first = (
        dataset_fixtures["affectnet_csv_noheader"] / "Manually_Annotated_file_lists" / "validation.csv"
    ).read_text()
    assert not first.lower().startswith("subdirectory_filepath")
    assert _key(with_header) == _key(without)
    # the header is recognised case-insensitively ...
    root = tmp_path / "a"
    shutil.copytree(dataset_fixtures["affectnet_csv"], root)
    val = root / "Manually_Annotated_file_lists" / "validation.csv"
    text = val.read_text()
    val.write_text(text.replace("subDirectory_filePath", "SUBDIRECTORY_FILEPATH", 1))
    assert _key(load_split("affectnet", root, "val")) == _key(with_header)
    # ... but only when the first field is exactly that name: anything else is a data row
    val.write_text(text.replace("subDirectory_filePath", "sub_dir", 1))
    data = load_split("affectnet", root, "val")
    assert len(data.samples) == 16
    assert any("no readable expression code" in w and "line 1" in w for w in data.warnings)


def test_nested_images_folder(dataset_fixtures):
    nested = load_split("affectnet", dataset_fixtures["affectnet_csv_nested"], "val")
    assert "/Manually_Annotated/Manually_Annotated_Images/" in nested.samples[0].image
    assert [s.id for s in nested.samples] == [
        s.id for s in load_split("affectnet", dataset_fixtures["affectnet_csv"], "val").samples
    ]


def test_extensions_match_case_insensitively(dataset_fixtures):
    data = load_split("affectnet", dataset_fixtures["affectnet_csv"], "val")
    upper = [s for s in data.samples if s.image.endswith(".JPG")]
    assert len(upper) == 1 and Path(upper[0].image).is_file()
    assert upper[0].meta["file"].endswith(".jpg")  # as listed
    exts = {Path(s.image).suffix for s in data.samples}
    assert {".jpg", ".png", ".JPG", ".bmp"} <= exts


def test_missing_file_stays_with_one_warning(dataset_fixtures):
    data = load_split("affectnet", dataset_fixtures["affectnet_csv"], "val")
    missing = [s for s in data.samples if not Path(s.image).exists()]
    assert len(missing) == 1
    warn = [w for w in data.warnings if "missing" in w]
    assert len(warn) == 1 and "1 of 16" in warn[0] and missing[0].image in warn[0]


def test_bbox_crop_and_landmarks_in_presented_pixels(dataset_fixtures):
    root = dataset_fixtures["affectnet_csv"]
    rows = {
        r[0].rsplit(".", 1)[0]: r for r in _rows(root / "Manually_Annotated_file_lists" / "validation.csv")
    }
    data = load_split("affectnet", root, "val")
    checked = 0
    for s in data.samples:
        row = rows[s.meta["file"].rsplit(".", 1)[0]]
        x, y, w, h = (float(v) for v in row[1:5])
        assert s.crop == [x, y, x + w, y + h] == s.meta["original_bbox"]
        assert "bbox" not in s.meta
        if "landmarks68" in s.meta:
            raw = [float(v) for v in row[5].split(";")]
            dx, dy = max(x, 0), max(y, 0)  # the crop is clamped to the image
            assert s.meta["landmarks68"][0] == pytest.approx([raw[0] - dx, raw[1] - dy], abs=1e-3)
            assert len(s.meta["landmarks68"]) == 68
        if Path(s.image).exists():
            img = open_image(s)
            assert img.size == presented_size(s)
            if x < 0:  # the box spilling outside is clamped
                with Image.open(s.image) as full:
                    assert img.size == (min(x + w, full.width) - 0, min(y + h, full.height) - y)
                checked += 1
    assert checked == 1


def test_crop_none_keeps_original_frame(dataset_fixtures):
    root = dataset_fixtures["affectnet_csv"]
    rows = {
        r[0].rsplit(".", 1)[0]: r for r in _rows(root / "Manually_Annotated_file_lists" / "validation.csv")
    }
    data = load_split("affectnet", root, "val", crop="none")
    s = data.samples[0]
    raw = [float(v) for v in rows[s.meta["file"].rsplit(".", 1)[0]][5].split(";")]
    assert s.crop is None and s.meta["bbox"] == s.meta["original_bbox"]
    assert s.meta["landmarks68"][1] == pytest.approx(raw[2:4], abs=1e-3)
    assert data.info["crop"] == "none"
    with pytest.raises(DatasetError, match="crop must be bbox or none"):
        load_split("affectnet", root, "val", crop="face")


def test_empty_or_nan_landmarks_are_tolerated(dataset_fixtures):
    data = load_split("affectnet", dataset_fixtures["affectnet_csv"], "val")
    assert sum("landmarks68" not in s.meta for s in data.samples) == 2
    assert data.info["rows_without_landmarks"] == 2
    lean = load_split("affectnet", dataset_fixtures["affectnet_csv"], "val", landmarks=False)
    assert not any("landmarks68" in s.meta for s in lean.samples)


def test_valence_arousal_minus_two_is_missing(dataset_fixtures, tmp_path):
    root = tmp_path / "a"
    shutil.copytree(dataset_fixtures["affectnet_csv"], root)
    val = root / "Manually_Annotated_file_lists" / "validation.csv"
    lines = val.read_text().splitlines()
    fields = lines[1].split(",")
    fields[-2:] = ["-2", "0.25"]
    lines[1] = ",".join(fields)
    val.write_text("\n".join(lines) + "\n")
    s = load_split("affectnet", root, "val").samples[0]
    assert s.meta["valence"] is None and s.meta["arousal"] == 0.25


def test_path_escaping_the_root_is_refused(dataset_fixtures, tmp_path):
    with pytest.raises(
        DatasetError, match=r"validation.csv:3: file path '../../outside/secret.jpg' contains '..'"
    ):
        load_split("affectnet", dataset_fixtures["affectnet_escape"], "val")
    root = tmp_path / "a"
    shutil.copytree(dataset_fixtures["affectnet_escape"], root)
    val = root / "Manually_Annotated_file_lists" / "validation.csv"
    val.write_text(val.read_text().replace("../../outside/secret.jpg", "/etc/secret.jpg"))
    with pytest.raises(DatasetError, match=r"validation.csv:3: file path '/etc/secret.jpg' is absolute"):
        load_split("affectnet", root, "val")


def test_unextracted_rar_names_first_part(dataset_fixtures):
    with pytest.raises(DatasetError) as e:
        load_split("affectnet", dataset_fixtures["affectnet_rar"], "val")
    msg = str(e.value)
    assert "Manually_Annotated.part01.rar" in msg and "unrar x" in msg and "part02" not in msg


def test_splits_and_counts(dataset_fixtures):
    root = dataset_fixtures["affectnet_csv"]
    assert load_split("affectnet", root, "validation").split == "val"
    train = load_split("affectnet", root, "train")
    assert len(train.samples) == 10 and any("287,651" in w for w in train.warnings)
    assert any("4,000" in w for w in load_split("affectnet", root, "val").warnings)
    assert any("3,500" in w for w in load_split("affectnet", root, "val", num_classes=7).warnings)
    assert any("283,901" in w for w in load_split("affectnet", root, "train", num_classes=7).warnings)
    with pytest.raises(DatasetError, match="no public test set"):
        load_split("affectnet", root, "test")
    with pytest.raises(DatasetError, match="num_classes must be 7 or 8"):
        load_split("affectnet", root, "val", num_classes=6)


# --------------------------------------------------------------------------------------------------
# npy release


def test_npy_string_and_numeric_annotations(dataset_fixtures):
    ann = dataset_fixtures["affectnet_npy"] / "val_set" / "annotations"
    assert np.load(ann / "0_exp.npy").dtype.kind == "U" and np.load(ann / "1_exp.npy").dtype.kind == "i"
    assert read_npy(str(ann / "0_exp.npy")).item() == "0"
    assert read_npy(str(ann / "2_lnd.npy")).shape == (136,)
    data = load_split("affectnet", dataset_fixtures["affectnet_npy"], "val")
    assert data.layout == "affectnet-npy" and len(data.samples) == 16
    assert [s.native_label for s in data.samples] == [c for c in range(8) for _ in range(2)]
    by_id = {s.id: s for s in data.samples}
    assert by_id["affectnet/val/3"].meta["valence"] is None  # stored -2
    assert by_id["affectnet/val/0"].meta["valence"] == pytest.approx(-0.4)
    assert by_id["affectnet/val/1"].meta["arousal"] == pytest.approx(-0.05)
    s = by_id["affectnet/val/5"]
    assert (s.width, s.height) == (224, 224) and len(s.meta["landmarks68"]) == 68
    assert s.meta["landmarks68"][0] == pytest.approx([192.0, 120.0])
    assert open_image(s).size == (224, 224)


def test_npy_image_without_annotation_is_skipped(dataset_fixtures):
    data = load_split("affectnet", dataset_fixtures["affectnet_npy"], "val", num_classes=7)
    assert len(data.samples) == 14
    warn = [w for w in data.warnings if "no annotations" in w]
    assert len(warn) == 1 and "16.jpg" in warn[0] and "skipped" in warn[0]


def test_npy_annotation_without_image_stays(dataset_fixtures):
    data = load_split("affectnet", dataset_fixtures["affectnet_npy"], "train")
    assert len(data.samples) == 11
    assert "affectnet/train/11" in {s.id for s in data.samples}
    assert any("1 of 11" in w and "11.jpg" in w for w in data.warnings)


# --------------------------------------------------------------------------------------------------
# YOLO and DAN


def test_yolo_names_map_to_canonical(dataset_fixtures):
    data = load_split("affectnet", dataset_fixtures["affectnet_yolo"], "val")
    assert data.layout == "affectnet-yolo" and len(data.samples) == 8
    expected = ["anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    assert [s.label for s in data.samples] == expected
    assert [s.native_label for s in data.samples] == list(range(8))
    happy = data.samples[4]
    assert happy.meta["yolo_class"] == "Happy" and happy.meta["affectnet_code"] == 1
    assert happy.meta["bbox_norm_cxcywh"] == [0.5, 0.5, 0.82, 0.9]
    assert "subset of AffectNet with its own split" in data.warnings[0]
    assert not any("4,000" in w for w in data.warnings)


def test_yolo_other_splits(dataset_fixtures):
    train = load_split("affectnet", dataset_fixtures["affectnet_yolo"], "train")
    assert len(train.samples) == 8
    assert any("img_train_999.jpg" in w and "no usable label file" in w for w in train.warnings)
    assert len(load_split("affectnet", dataset_fixtures["affectnet_yolo"], "test").samples) == 4
    seven = load_split("affectnet", dataset_fixtures["affectnet_yolo"], "val", num_classes=7)
    assert "contempt" not in {s.label for s in seven.samples} and len(seven.samples) == 7


def test_dan_folders_need_affectnet_order(dataset_fixtures):
    root = dataset_fixtures["affectnet_dan"]
    with pytest.raises(DatasetError, match=r"DAN's AffectNet split uses 0..7 in AffectNet order"):
        load_split("affectnet", root, "val")
    data = load_split("affectnet", root, "val", class_order="affectnet")
    assert data.layout == "affectnet-folder" and len(data.samples) == 16
    assert all(s.label == AFFECTNET_ORDER[s.native_label] for s in data.samples)
    assert len(load_split("affectnet", root, "val", class_order="affectnet", num_classes=7).samples) == 14
    assert any("4,000" in w for w in data.warnings)


def test_release_option_selects_the_layout(dataset_fixtures, tmp_path):
    parent = tmp_path / "affectnet"
    parent.mkdir()
    (parent / "csv").symlink_to(dataset_fixtures["affectnet_csv"], target_is_directory=True)
    (parent / "npy").symlink_to(dataset_fixtures["affectnet_npy"], target_is_directory=True)
    with pytest.raises(DatasetError, match="several AffectNet dataset copies"):
        load_split("affectnet", parent, "val")
    assert load_split("affectnet", parent, "val", release="csv").layout == "affectnet-csv"
    assert load_split("affectnet", parent, "val", release="npy").layout == "affectnet-npy"
    with pytest.raises(DatasetError, match="no AffectNet dataset in layout 'affectnet-yolo'"):
        load_split("affectnet", parent, "val", release="yolo")
    with pytest.raises(DatasetError, match="release must be one of"):
        load_split("affectnet", parent, "val", release="zip")
