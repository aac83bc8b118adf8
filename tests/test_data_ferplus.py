"""FERPlus: label protocols (every §3.3 test vector), both image sources, both label sources, quirks."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tag_bench.data import DatasetError, load_split
from tag_bench.data._common import FERPLUS_ORDER
from tag_bench.data._fervotes import ferplus_target
from tag_bench.images import open_image
from tag_bench.testing.fixtures import FERPLUS_LABEL_CSV_OVERRIDES, FERPLUS_ROWS

DROP = None
T = 1 / 3

# datasets.md §3.3 test vectors: votes -> (majority class, crossentropy (class, target), other modes).
# "skip" = the table gives no value for that mode.
VECTORS = [
    ([4, 0, 0, 1, 3, 2, 0, 0, 0, 0], DROP, (0, [4 / 7, 0, 0, 0, 3 / 7, 0, 0, 0]), {}),
    ([6, 0, 1, 1, 0, 0, 0, 0, 2, 0], 0, (0, [1, 0, 0, 0, 0, 0, 0, 0]), {}),
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], DROP, DROP, {"multi_target": DROP, "argmax8": DROP}),
    ([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], DROP, (0, [0.5, 0.5, 0, 0, 0, 0, 0, 0]), {}),
    ([0, 0, 0, 0, 2, 1, 0, 7, 0, 0], 7, "skip", {}),
    ([3, 3, 3, 1, 0, 0, 0, 0, 0, 0], DROP, (0, [T, T, T, 0, 0, 0, 0, 0]), {}),
    ([2, 2, 2, 2, 2, 0, 0, 0, 0, 0], DROP, DROP, {"multi_target": DROP}),
    ([0, 6, 0, 0, 0, 0, 0, 0, 4, 0], 1, "skip", {}),
    ([4, 0, 0, 0, 0, 0, 0, 0, 4, 2], DROP, DROP, {"multi_target": (0, [1, 0, 0, 0, 0, 0, 0, 0])}),
    ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], DROP, DROP, {"multi_target": DROP}),
]


@pytest.mark.parametrize(
    ("votes", "majority", "crossentropy", "other"), VECTORS, ids=[str(v[0]) for v in VECTORS]
)
def test_protocol_vectors(votes, majority, crossentropy, other):
    got = ferplus_target(votes, "majority")
    if majority is DROP:
        assert got is None
    else:
        idx, target = got
        assert idx == majority
        assert target == [1.0 if i == majority else 0.0 for i in range(8)]
    if crossentropy != "skip":
        got = ferplus_target(votes, "crossentropy")
        if crossentropy is DROP:
            assert got is None
        else:
            assert got[0] == crossentropy[0]
            assert got[1] == pytest.approx(crossentropy[1], abs=1e-9)
            assert sum(got[1]) == pytest.approx(1.0)
    for mode, expected in other.items():
        got = ferplus_target(votes, mode)
        if expected is DROP:
            assert got is None
        else:
            assert got[0] == expected[0]
            assert got[1] == pytest.approx(expected[1])


def test_argmax8_takes_first_maximum_of_the_ten_votes():
    assert ferplus_target([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], "argmax8")[0] == 0
    assert ferplus_target([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], "argmax8")[0] == 0  # no outlier removal
    assert ferplus_target([0, 0, 0, 0, 0, 0, 0, 0, 7, 3], "argmax8") is None  # unknown wins
    assert ferplus_target([0, 2, 0, 0, 0, 0, 0, 0, 2, 0], "argmax8")[0] == 1


def test_votes_must_be_ten():
    with pytest.raises(ValueError, match="10 vote counts"):
        ferplus_target([1, 2, 3], "majority")


# --------------------------------------------------------------------------------------------------
# Loading


def _unique_rows(split_usage: str, overrides: bool) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for usage, name, votes in FERPLUS_ROWS:
        if usage == split_usage and name:
            rows[name] = FERPLUS_LABEL_CSV_OVERRIDES.get(name, votes) if overrides else votes
    return rows


SPLIT_USAGE = {"train": "Training", "valid": "PublicTest", "test": "PrivateTest"}
# Expected kept counts on the fixture, hard-coded (label.csv source), cross-checked below from the votes.
HARD_CODED = {
    "majority": {"train": 3, "valid": 2, "test": 2},
    "crossentropy": {"train": 5, "valid": 3, "test": 2},
    "argmax8": {"train": 5, "valid": 3, "test": 5},
}


@pytest.mark.parametrize("protocol", ["majority", "crossentropy", "argmax8"])
@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_official_layout_counts_per_protocol(dataset_fixtures, protocol, split):
    data = load_split("ferplus", dataset_fixtures["ferplus"], split, protocol=protocol)
    votes = _unique_rows(SPLIT_USAGE[split], overrides=True)
    computed = [n for n, v in votes.items() if ferplus_target(v, protocol) is not None]
    assert len(data.samples) == len(computed) == HARD_CODED[protocol][split]
    assert data.layout == "ferplus-official"
    assert data.info["protocol"] == {"majority": "ferplus-majority-official", "crossentropy": "ferplus-crossentropy",
                                     "argmax8": "ferplus-argmax8"}[protocol]  # fmt: skip
    assert data.info["labels_source"] == "label.csv"
    for s in data.samples:
        name = s.meta["file"]
        idx, target = ferplus_target(votes[name], protocol)
        assert s.label == FERPLUS_ORDER[idx] and s.native_label == idx
        assert s.id == f"ferplus/{split}/{name[:-4]}"
        assert s.width == s.height == 48 and Path(s.image).is_file()
        if protocol == "crossentropy":
            assert s.meta["target"] == pytest.approx(target)
        assert s.meta["votes"] == votes[name]


def test_sample_records(dataset_fixtures):
    data = load_split("ferplus", dataset_fixtures["ferplus"], "test")
    by_id = {s.id: s for s in data.samples}
    s = by_id["ferplus/test/fer0000018"]
    assert (s.label, s.native_label, s.dataset, s.split) == ("fear", 6, "ferplus", "test")
    assert s.image.endswith("FER2013Test/fer0000018.png") and s.image_index is None
    img = open_image(s)
    assert img.size == (48, 48)


def test_labels_source_selection(dataset_fixtures):
    root = dataset_fixtures["ferplus"]
    auto = {s.id: s.label for s in load_split("ferplus", root, "test").samples}
    new = load_split("ferplus", root, "test", labels_source="fer2013new")
    forced = {s.id: s.label for s in load_split("ferplus", root, "test", labels_source="label_csv").samples}
    # fer0000016: label.csv votes say happiness, fer2013new.csv votes say sadness
    assert auto["ferplus/test/fer0000016"] == forced["ferplus/test/fer0000016"] == "happiness"
    assert {s.id: s.label for s in new.samples}["ferplus/test/fer0000016"] == "sadness"
    assert new.info["labels_source"] == "fer2013new.csv"
    assert new.info["label_file"].endswith("fer2013new.csv")
    # without label.csv, auto falls back to fer2013new.csv; asking for label.csv is an error
    fallback = load_split("ferplus", dataset_fixtures["ferplus_csv"], "test")
    assert fallback.info["labels_source"] == "fer2013new.csv"
    with pytest.raises(DatasetError, match=r"labels_source=label_csv but no FER2013Test/label.csv"):
        load_split("ferplus", dataset_fixtures["ferplus_csv"], "test", labels_source="label_csv")
    with pytest.raises(DatasetError, match="labels_source must be"):
        load_split("ferplus", root, "test", labels_source="votes")


def test_csv_images_pair_by_position_last_duplicate_wins(dataset_fixtures):
    data = load_split("ferplus", dataset_fixtures["ferplus_csv"], "train", protocol="crossentropy")
    assert data.layout == "ferplus-csv" and data.info["image_source"] == "csv"
    by_id = {s.id: s for s in data.samples}
    # 7 Training rows: one empty name (skipped), fer0000001 twice (the later row, 6, wins)
    assert data.info["listed"] == 5
    s = by_id["ferplus/train/fer0000001"]
    assert s.image_index == 6 and s.label == "anger" and s.meta["votes"] == [0, 0, 0, 0, 9, 0, 0, 0, 1, 0]
    assert s.image.endswith("fer2013.csv")
    assert any("twice" in w and "later row wins" in w for w in data.warnings)
    assert by_id["ferplus/train/fer0000007"].meta["votes"] == [0, 8, 0, 0, 0, 0, 0, 0, 1, 0]  # sums to 9
    assert all(s.meta["file"] for s in data.samples)


def test_csv_rows_decode_to_the_generated_pngs(dataset_fixtures):
    png = {
        s.id: s
        for s in load_split(
            "ferplus", dataset_fixtures["ferplus"], "train", labels_source="fer2013new"
        ).samples
    }
    csv = {s.id: s for s in load_split("ferplus", dataset_fixtures["ferplus_csv"], "train").samples}
    icml = {s.id: s for s in load_split("ferplus", dataset_fixtures["ferplus_icml"], "train").samples}
    assert png.keys() == csv.keys() == icml.keys()
    for sid in png:
        a = np.asarray(open_image(png[sid]))
        assert np.array_equal(a, np.asarray(open_image(csv[sid])))
        assert np.array_equal(a, np.asarray(open_image(icml[sid])))  # " Usage"/" pixels" header variant
        assert csv[sid].image_index == icml[sid].image_index


def test_label_csv_with_csv_images(dataset_fixtures):
    data = load_split("ferplus", dataset_fixtures["ferplus_repo"], "test")
    assert data.info["labels_source"] == "label.csv" and data.info["image_source"] == "csv"
    assert {s.id: s.label for s in data.samples}["ferplus/test/fer0000016"] == "happiness"
    assert all(s.image_index is not None for s in data.samples)


def test_esr_layout(dataset_fixtures):
    esr = load_split("ferplus", dataset_fixtures["ferplus_esr"], "valid")
    official = load_split("ferplus", dataset_fixtures["ferplus"], "valid")
    assert esr.layout == "ferplus-esr"
    assert [(s.id, s.label) for s in esr.samples] == [(s.id, s.label) for s in official.samples]
    assert "/Labels/FER2013Valid/label.csv" in esr.info["label_file"]


def test_val_is_an_alias_of_valid(dataset_fixtures):
    data = load_split("ferplus", dataset_fixtures["ferplus"], "val")
    assert data.split == "valid" and all(s.id.startswith("ferplus/valid/") for s in data.samples)
    with pytest.raises(DatasetError, match="has no split 'dev'"):
        load_split("ferplus", dataset_fixtures["ferplus"], "dev")


def test_count_warning_names_official_numbers(dataset_fixtures):
    data = load_split("ferplus", dataset_fixtures["ferplus"], "test")
    warn = [w for w in data.warnings if "official" in w]
    assert len(warn) == 1 and "3,573" in warn[0] and "3,137" in warn[0]
    new = load_split("ferplus", dataset_fixtures["ferplus"], "test", labels_source="fer2013new")
    assert any("3,152" in w for w in new.warnings)
    train = load_split("ferplus", dataset_fixtures["ferplus"], "train", protocol="crossentropy")
    assert any("28,558" in w and "27,947" in w for w in train.warnings)


def test_missing_png_stays_with_one_warning(dataset_fixtures, tmp_path):
    root = tmp_path / "ferplus"
    shutil.copytree(dataset_fixtures["ferplus"], root)
    (root / "FER2013Test" / "fer0000018.png").unlink()
    data = load_split("ferplus", root, "test")
    assert "ferplus/test/fer0000018" in {s.id for s in data.samples}
    missing = [w for w in data.warnings if "missing" in w]
    assert len(missing) == 1 and "1 of 2" in missing[0] and "fer0000018.png" in missing[0]
    assert data.info["missing_images"] == 1


def test_partial_kaggle_csv_is_refused(dataset_fixtures):
    with pytest.raises(DatasetError, match=r"train.csv.*35,887 rows"):
        load_split("ferplus", dataset_fixtures["ferplus_traincsv"], "train")


def test_csv_row_count_must_match(dataset_fixtures, tmp_path):
    root = tmp_path / "f"
    shutil.copytree(dataset_fixtures["ferplus_csv"], root)
    lines = (root / "fer2013.csv").read_text().splitlines()
    (root / "fer2013.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DatasetError, match=r"has 16 rows but .*fer2013new.csv has 17"):
        load_split("ferplus", root, "test")


def test_csv_rows_must_be_in_original_order(dataset_fixtures, tmp_path):
    root = tmp_path / "f"
    shutil.copytree(dataset_fixtures["ferplus_csv"], root)
    lines = (root / "fer2013.csv").read_text().splitlines()
    lines[1], lines[8] = lines[8], lines[1]  # a Training row and a PublicTest row swap places
    (root / "fer2013.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DatasetError, match=r"row 2 of .*fer2013.csv has Usage PublicTest but row 2 of .* Training"
    ):
        load_split("ferplus", root, "train")


def test_msambare_folders_are_not_ferplus(dataset_fixtures):
    with pytest.raises(DatasetError, match=r"original FER2013 labels only and cannot be used as FERPlus"):
        load_split("ferplus", dataset_fixtures["fer2013_msambare"], "train")


def test_fer2013_csv_without_ferplus_votes(dataset_fixtures, tmp_path):
    shutil.copy(dataset_fixtures["ferplus_csv"] / "fer2013.csv", tmp_path / "fer2013.csv")
    with pytest.raises(DatasetError, match=r"fer2013new.csv from https://github.com/microsoft/FERPlus"):
        load_split("ferplus", tmp_path, "test")


def test_bad_names_and_votes_are_refused(dataset_fixtures, tmp_path):
    root = tmp_path / "f"
    shutil.copytree(dataset_fixtures["ferplus"], root)
    label = root / "FER2013Test" / "label.csv"
    label.write_text('../fer0000099.png,"(0, 0, 48, 48)",0,10,0,0,0,0,0,0,0,0\n')
    with pytest.raises(
        DatasetError, match=r"label.csv:1: image name '../fer0000099.png' is not a plain file name"
    ):
        load_split("ferplus", root, "test")
    label.write_text('fer0000018.png,"(0, 0, 48, 48)",0,10,0\n')
    with pytest.raises(DatasetError, match=r"label.csv:1: expected 10 vote counts, found 3"):
        load_split("ferplus", root, "test")


def test_unknown_protocol_and_option(dataset_fixtures):
    with pytest.raises(DatasetError, match="unknown FERPlus protocol"):
        load_split("ferplus", dataset_fixtures["ferplus"], "test", protocol="soft")
    with pytest.raises(DatasetError, match=r"unknown FERPlus loader option\(s\): variant"):
        load_split("ferplus", dataset_fixtures["ferplus"], "test", variant="aligned")


def test_fixture_votes_cover_the_quirks():
    names = [r[1] for r in FERPLUS_ROWS]
    assert "" in names  # empty Image name
    dup = [n for n, c in Counter(n for n in names if n).items() if c > 1]
    assert dup == ["fer0000001.png"]
    assert any(sum(v) == 9 for _, _, v in FERPLUS_ROWS)
    assert any(int(n[3:10]) != i for i, n in enumerate(names) if n)  # names are not row indices
