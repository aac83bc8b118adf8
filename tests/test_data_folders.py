"""Folder-per-class trees and class orders: never inferred from numbers, explicit presets and lists."""

from __future__ import annotations

import pytest
from PIL import Image

from tag_bench.data import DatasetError, load_split
from tag_bench.data._common import (
    AFFECTNET_ORDER,
    ALPHABETICAL7,
    ALPHABETICAL8,
    RAFDB_ORDER,
    parse_class_order,
)


def _tree(root, split_classes: dict[str, list[str]], per: int = 1, extra: str | None = None):
    for split, classes in split_classes.items():
        for c in classes:
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(per):
                Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(d / f"img{i}.png")
            if extra:
                (d / extra).write_text("not an image")
    return root


def test_presets_map_numbered_folders():
    assert parse_class_order("rafdb").assign([str(i) for i in range(1, 8)], "x") == {
        str(i + 1): n for i, n in enumerate(RAFDB_ORDER)
    }
    aff = parse_class_order("affectnet").assign([str(i) for i in range(11)], "x")
    assert [aff[str(i)] for i in range(8)] == list(AFFECTNET_ORDER)
    assert aff["8"] is aff["9"] is aff["10"] is None  # known non-classes
    assert parse_class_order("fer2013").assign(["0", "6"], "x") == {"0": "anger", "6": "neutral"}
    assert parse_class_order("ferplus").assign(["2"], "x") == {"2": "surprise"}
    assert parse_class_order("MA-Net").name == "affectnet"


def test_alphabetical_and_list_orders_are_positional():
    seven = parse_class_order("alphabetical").assign([str(i) for i in range(7)], "x")
    assert [seven[str(i)] for i in range(7)] == list(ALPHABETICAL7)
    eight = parse_class_order("alphabetical").assign([str(i) for i in range(8)], "x")
    assert [eight[str(i)] for i in range(8)] == list(ALPHABETICAL8)
    # numeric folders sort by value, not as strings (10 after 9)
    order = parse_class_order(["happy", "sad"])
    assert order.assign(["10", "9"], "x") == {"9": "happiness", "10": "sadness"}
    assert parse_class_order("Neutral, Happy").names == ("neutral", "happiness")
    assert parse_class_order({"a": "angry", "b": "joy"}).assign(["a", "b"], "x") == {
        "a": "anger",
        "b": "happiness",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("sorted", "unknown class_order 'sorted'"),
        (["happy", "cat"], "'cat' is not an emotion name"),
        (["happy", "joy"], "names a class twice"),
        ({"0": "dog"}, "maps folder '0' to 'dog'"),
        (3, "must be a preset name, a list or a mapping"),
    ],
)
def test_bad_class_orders(value, message):
    with pytest.raises(DatasetError, match=message):
        parse_class_order(value)


def test_assign_errors():
    with pytest.raises(DatasetError, match="needs 7 or 8 class folders"):
        parse_class_order("alphabetical").assign(["0", "1"], "x")
    with pytest.raises(DatasetError, match="is not a number"):
        parse_class_order("affectnet").assign(["happy"], "x")
    with pytest.raises(DatasetError, match="not in the class_order mapping"):
        parse_class_order({"0": "happy"}).assign(["0", "1"], "x")


def test_msambare_folders_load_by_name(dataset_fixtures):
    data = load_split("folder", dataset_fixtures["fer2013_msambare"], "train")
    assert data.layout == "fer2013-folders" and len(data.samples) == 14
    assert (
        data.info["class_folders"]["angry"] == "anger" and data.info["class_folders"]["happy"] == "happiness"
    )
    same_name = [s for s in data.samples if s.image.endswith("Training_10.jpg")]
    assert len(same_name) == 2 and len({s.id for s in same_name}) == 2  # same file name, two classes
    assert {s.native_label for s in same_name} == {"angry", "disgust"}
    assert any("not FER+" in w for w in data.warnings)
    assert len(load_split("folder", dataset_fixtures["fer2013_msambare"], "test").samples) == 7


def test_numbered_folders_need_an_order(dataset_fixtures):
    with pytest.raises(DatasetError, match="never guesses the order"):
        load_split("folder", dataset_fixtures["affectnet_dan"], "val")
    data = load_split("folder", dataset_fixtures["affectnet_dan"], "val", class_order="affectnet", name="dan")
    assert len(data.samples) == 16 and data.samples[0].id.startswith("dan/val/0/")
    assert data.samples[0].native_label == 0 and data.samples[0].label == "neutral"


def test_named_tree_with_capitals_and_other_files(tmp_path):
    root = _tree(tmp_path / "ds", {"Train": ["Anger", "Happy", "Sad"], "Test": ["Anger", "Happy", "Sad"]}, per=2,
                 extra="Thumbs.db")  # fmt: skip
    data = load_split("folder", root, "test")
    assert data.layout == "folder-names" and len(data.samples) == 6
    assert {s.label for s in data.samples} == {"anger", "happiness", "sadness"}
    assert data.info["non_image_files"] == 3
    assert data.samples[0].meta["file"] == "Test/Anger/img0.png"


def test_unknown_folder_names_need_an_order(tmp_path):
    root = _tree(tmp_path / "ds", {"test": ["cat", "dog"]})
    with pytest.raises(DatasetError, match=r"neither emotion names nor numbers"):
        load_split("folder", root, "test")
    data = load_split("folder", root, "test", class_order={"cat": "happy", "dog": "sad"})
    assert {s.label for s in data.samples} == {"happiness", "sadness"}


def test_excluded_codes_are_counted(tmp_path):
    root = _tree(tmp_path / "ds", {"val": ["0", "1", "8", "10"]}, per=2)
    data = load_split("folder", root, "val", class_order="affectnet")
    assert len(data.samples) == 4
    assert data.info["excluded"] == {"8 (not a class)": 2, "10 (not a class)": 2}


def test_missing_split_folder(dataset_fixtures):
    with pytest.raises(DatasetError, match=r"no val folder in .*split folders present: test, train"):
        load_split("folder", dataset_fixtures["fer2013_msambare"], "val")
