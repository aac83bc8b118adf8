"""The seeded fixture generator: deterministic, photo or procedural faces, and the scaled benchmark mode."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from tag_bench.data import load_split
from tag_bench.images import open_image
from tag_bench.testing.fixtures import FaceBank, write_fixtures, write_scaled_fixtures


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_faces(tmp_path, dataset_fixtures):
    again = write_fixtures(tmp_path / "a", seed=0)
    base = dataset_fixtures["raf_basic"].parent
    assert _digest(base) == _digest(again["raf_basic"].parent)
    other = write_fixtures(tmp_path / "b", seed=1)
    a, b = _digest(base), _digest(other["raf_basic"].parent)
    assert a.keys() == b.keys()
    label = "raf_basic/basic/EmoLabel/list_patition_label.txt"
    assert a[label] == b[label]  # labels are fixed; faces vary with the seed
    assert (
        a["raf_basic/basic/Image/aligned/train_00001_aligned.jpg"]
        != b["raf_basic/basic/Image/aligned/train_00001_aligned.jpg"]
    )


def test_faces_come_from_public_domain_photos():
    bank = FaceBank(seed=0)
    assert bank.source == "photos" and len(bank.bases) == 2
    img = np.asarray(bank.face("k", (100, 100)))
    assert img.shape == (100, 100, 3) and img.std() > 20
    assert np.array_equal(img, np.asarray(FaceBank(seed=0).face("k", (100, 100))))
    assert not np.array_equal(img, np.asarray(bank.face("other", (100, 100))))


def test_procedural_faces_work_with_every_loader(tmp_path):
    paths = write_fixtures(tmp_path, seed=3, faces="procedural")
    assert FaceBank(3, "procedural").source == "procedural"
    raf = load_split("rafdb", paths["raf_basic"], "test")
    assert open_image(raf.samples[0]).size == (100, 100)
    assert len(load_split("ferplus", paths["ferplus"], "test").samples) == 2
    assert len(load_split("affectnet", paths["affectnet_npy"], "val").samples) == 16


def test_scaled_fixtures(tmp_path):
    paths = write_scaled_fixtures(tmp_path, n=300, seed=0)
    raf_train = load_split("rafdb", paths["rafdb"], "train")
    raf_test = load_split("rafdb", paths["rafdb"], "test")
    assert (len(raf_train.samples), len(raf_test.samples)) == (240, 60)
    assert not [w for w in raf_train.warnings if "missing" in w]
    fer = {
        s: load_split("ferplus", paths["ferplus"], s, protocol="argmax8").info["listed"]
        for s in ("train", "valid", "test")
    }
    assert fer == {"train": 240, "valid": 30, "test": 30}
    aff = load_split("affectnet", paths["affectnet"], "val")
    assert 0 < len(aff.samples) <= 60 and aff.info["missing_images"] == 0
    assert sum(aff.info["excluded"].values()) + len(aff.samples) == 60
    # images are hard links to a few encoded files
    assert os.stat(raf_train.samples[0].image).st_nlink > 1
    assert open_image(aff.samples[0]).size == (150, 160)
    assert open_image(raf_test.samples[0]).size == (100, 100)
