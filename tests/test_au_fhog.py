"""tag-bench's FHOG against dlib's (the features OpenFace's AU models were trained on).

``data/fhog_pyfhog_0.1.5.npz`` holds what the ``pyfhog`` 0.1.5 wheel (a binding of dlib's C++
``extract_fhog_features``) returned for three 112x112 images: a crop of scikit-image's astronaut, a
grey crop of its camera man, and a synthetic pattern whose red and green gradients tie in length, which
decides between dlib's two tie-breaking orders. pyfhog is not a tag-bench dependency (its licence file
says CC BY-NC); where it is installed, random images are compared live as well.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tag_bench.au.openface.fhog import fhog, fhog_shape, fhog_vector

GOLDEN = Path(__file__).parent / "data" / "fhog_pyfhog_0.1.5.npz"


def _inputs() -> dict[str, np.ndarray]:
    data = pytest.importorskip("skimage.data")
    y, x = np.mgrid[0:112, 0:112]
    return {
        "ties": np.stack([(x * 2) % 256, (y * 2) % 256, np.full_like(x, 100)], -1).astype(np.uint8),
        "astronaut": data.astronaut()[20:132, 170:282],
        "camera": np.stack([data.camera()[100:212, 200:312]] * 3, -1),
    }


@pytest.mark.parametrize("name", ["ties", "astronaut", "camera"])
def test_matches_dlib_on_recorded_outputs(name):
    img = _inputs()[name]
    expected = np.load(GOLDEN)[name]
    got = fhog_vector(img)
    assert got.shape == expected.shape == (4464,)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_grey_input_equals_three_equal_channels():
    grey = _inputs()["camera"][..., 0]
    np.testing.assert_array_equal(fhog(grey), fhog(np.stack([grey] * 3, -1)))


def test_shapes_and_ranges():
    assert fhog_shape(112, 112, 8) == (12, 12, 31)
    assert fhog_shape(20, 20, 8) == (1, 1, 31)  # 20 px: round(2.5) = 3 cells, less the border ring
    assert fhog_shape(12, 12, 8) == (0, 0, 31)
    rs = np.random.RandomState(0)
    img = rs.randint(0, 256, (96, 80, 3), dtype=np.uint8)
    f = fhog(img)
    assert f.shape == (10, 8, 31) and f.dtype == np.float32
    # each of the four normalisations is truncated at 0.2 and halved: at most 0.4 per orientation
    assert f[..., :27].min() >= 0 and f[..., :27].max() <= 0.4 + 1e-6
    assert not fhog(np.zeros((112, 112, 3), np.uint8)).any()  # no gradient, no feature
    with pytest.raises(ValueError, match="uint8"):
        fhog(img.astype(np.float32))


def test_matches_pyfhog_live_on_random_images():
    pyfhog = pytest.importorskip("pyfhog")
    rs = np.random.RandomState(7)
    for _ in range(5):
        img = rs.randint(0, 256, (112, 112, 3), dtype=np.uint8)
        expected = pyfhog.extract_fhog_features(np.ascontiguousarray(img[..., ::-1]), cell_size=8)
        np.testing.assert_allclose(fhog_vector(img), expected, atol=1e-6)
