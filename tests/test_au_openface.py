"""``openface-static``: OpenFace's static AU models on tag-bench's landmarks, with model files the test
writes in OpenFace's own formats (OpenFace's real files are under a non-commercial licence and are
never shipped or downloaded).

The synthetic PDM is built the way a PDM is: the 3-D 68-point shapes of real faces (MediaPipe meshes of
the packaged photos, Procrustes-aligned), their mean and principal components. The astronaut is left out
of it, and the pipeline runs end to end on the astronaut photo.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")

from tag_bench.au.base import AUDetectorError, get_detector
from tag_bench.au.landmarks import DLIB68_FROM_MP478, SYMMETRIC_JAW_FROM_MP478, MediaPipeLandmarker
from tag_bench.au.openface.detector import (
    ALIGNED_SIZE,
    RIGID_POINTS,
    OpenFaceStatic,
    OpenFaceStaticDetector,
    align_shapes_with_scale,
)
from tag_bench.au.openface.fhog import fhog_shape
from tag_bench.au.openface.files import ModelFileError, read_folder
from tag_bench.au.openface.pdm import PDM, euler_to_rotation, rotation_to_euler
from tag_bench.au.sources import resolve_reference_source
from tag_bench.testing.sample_faces import load_face, pyfeat_test_data

N_HOG = 12 * 12 * 31
IDX68 = list(DLIB68_FROM_MP478)
IDX68[:17] = SYMMETRIC_JAW_FROM_MP478
PDM_FACES = ["grace_hopper"] + (
    ["single_face", "surprise", "happy", "anger", "disgust"] if pyfeat_test_data() else []
)


# -- writers of OpenFace's formats (independent of tag-bench's readers) ---------------------------


def write_text_matrix(f, values: np.ndarray, cv_type: int) -> None:
    values = np.atleast_2d(values)
    f.write(f"{values.shape[0]}\n{values.shape[1]}\n{cv_type}\n")
    fmt = "{:d}" if cv_type == 4 else "{:.10g}"
    for row in values:
        f.write(" ".join(fmt.format(v) for v in row) + "\n")


def write_mat_bin(f, values: np.ndarray) -> None:
    values = np.atleast_2d(values)
    f.write(struct.pack("<iii", values.shape[0], values.shape[1], 6))  # CV_64FC1
    f.write(np.ascontiguousarray(values, dtype="<f8").tobytes())


def write_model(path: Path, kind: str, means: np.ndarray, weights: np.ndarray, bias: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<i", 0 if kind == "svr" else 4))
        write_mat_bin(f, means.reshape(1, -1))
        write_mat_bin(f, weights.reshape(-1, 1))
        f.write(struct.pack("<d", bias))
        if kind == "svm":
            f.write(struct.pack("<dd", 1.0, 0.0))


def face_shapes_3d(names: list[str]) -> np.ndarray:
    """(k, 68, 3) shapes of real faces, centred and aligned to the first by a 3-D similarity."""
    lm = MediaPipeLandmarker()
    shapes = []
    for name in names:
        face, _ = lm.locate(np.asarray(load_face(name)))
        assert face is not None, name
        pts = face.mesh[IDX68].astype(np.float64)
        pts -= pts.mean(axis=0)
        shapes.append(pts / np.sqrt((pts**2).sum() / len(pts)))
    ref = shapes[0]
    aligned = []
    for pts in shapes:
        u, _, vt = np.linalg.svd(pts.T @ ref)
        d = np.sign(np.linalg.det(u @ vt))
        aligned.append(pts @ (u @ np.diag([1, 1, d]) @ vt))
    return np.stack(aligned)


def write_pdm_and_tris(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    shapes = face_shapes_3d(PDM_FACES)
    scale = 140.0 / np.ptp(shapes.mean(axis=0)[:, 0])  # a face about 140 units wide, as OpenFace's
    flat = np.stack([(s * scale).T.ravel() for s in shapes])  # x's, then y's, then z's
    mean = flat.mean(axis=0)
    _, sv, vt = np.linalg.svd(flat - mean, full_matrices=False)
    keep = max(1, min(len(shapes) - 1, 4))
    comps = vt[:keep].T
    eig = np.maximum(sv[:keep] ** 2 / max(len(shapes) - 1, 1), 1.0)
    with open(folder / "In-the-wild_aligned_PDM_68.txt", "w") as f:
        f.write("# The mean values of the components (in mm)\n")
        write_text_matrix(f, mean.reshape(-1, 1), 6)
        f.write(
            "# The principal components (eigenvectors) of identity or combined identity and expression model\n"
        )
        write_text_matrix(f, comps, 6)
        f.write("# The variances for the components (eigenvalues)\n")
        write_text_matrix(f, eig.reshape(1, -1), 6)
    from scipy.spatial import Delaunay

    tris = Delaunay(mean.reshape(3, 68)[:2].T).simplices
    with open(folder / "tris_68_full.txt", "w") as f:
        write_text_matrix(f, tris, 4)
    return mean, comps, eig


def write_folder(folder: Path, models: dict[str, tuple[str, str, np.ndarray, np.ndarray, float]]) -> Path:
    """An AU_predictors folder: main file, AU list, PDM, triangulation and ``models``
    (file -> (AU name, kind, means, weights, bias))."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "In-the-wild_aligned_PDM_68.txt").exists():
        write_pdm_and_tris(folder)
    (folder / "main_static_svms.txt").write_text(
        "AUPredictor AU_all_static.txt\nPDM In-the-wild_aligned_PDM_68.txt\nTriangulation tris_68_full.txt\n"
    )
    lines = []
    for rel, (au, kind, means, weights, bias) in models.items():
        write_model(folder / rel, kind, means, weights, bias)
        lines.append(f"{rel} {au}")
    (folder / "AU_all_static.txt").write_text("\r\n".join(lines) + "\r\n")  # OpenFace's files have CRLF
    return folder


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return np.asarray(load_face("astronaut"))


@pytest.fixture(scope="module")
def landmarks(astronaut) -> np.ndarray:
    face, _ = MediaPipeLandmarker().locate(astronaut)
    assert face is not None
    return face.landmarks68


@pytest.fixture(scope="module")
def pdm_folder(tmp_path_factory) -> Path:
    rs = np.random.RandomState(0)
    folder = tmp_path_factory.mktemp("openface") / "AU_predictors"
    folder.mkdir()
    write_pdm_and_tris(folder)
    n_geom = 204 + read_pdm_modes(folder)
    return write_folder(
        folder,
        {
            "svr_combined/AU_12_static_intensity_comb.dat": (
                "AU12",
                "svr",
                rs.rand(N_HOG + n_geom),
                np.zeros(N_HOG + n_geom),
                1.0,
            )
        },
    )


def read_pdm_modes(folder: Path) -> int:
    from tag_bench.au.openface.files import read_pdm

    return read_pdm(folder / "In-the-wild_aligned_PDM_68.txt").princ_comp.shape[1]


# -- PDM --------------------------------------------------------------------------------------------


def test_euler_angles_round_trip_and_follow_openface_convention():
    angles = np.array([0.3, -0.2, 0.1])
    rot = euler_to_rotation(angles)
    rx = np.array([[1, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]])
    ry = np.array([[np.cos(-0.2), 0, np.sin(-0.2)], [0, 1, 0], [-np.sin(-0.2), 0, np.cos(-0.2)]])
    rz = np.array([[np.cos(0.1), -np.sin(0.1), 0], [np.sin(0.1), np.cos(0.1), 0], [0, 0, 1]])
    np.testing.assert_allclose(rot, rx @ ry @ rz, atol=1e-12)  # R = Rx Ry Rz
    np.testing.assert_allclose(rotation_to_euler(rot), angles, atol=1e-12)


def test_pdm_fit_recovers_known_parameters(pdm_folder):
    pdm = PDM(read_folder(pdm_folder).pdm)
    p_local = 0.8 * np.sqrt(pdm.eigen_values) * np.array([1, -1, 0.5, -0.5][: pdm.n_modes])
    p_global = np.array([2.3, 0.12, -0.25, 0.08, 256.0, 240.0])
    pts = pdm.shape2d(p_local, p_global)
    fit = pdm.fit(pts)
    assert fit.rms_error < 0.05  # px, on a face about 320 px wide
    np.testing.assert_allclose(fit.params_global, p_global, rtol=0.01, atol=0.01)
    np.testing.assert_allclose(fit.params_local, p_local, atol=0.02 * np.sqrt(pdm.eigen_values).max())


def test_pdm_fit_reconstructs_real_landmarks(pdm_folder, landmarks):
    pdm = PDM(read_folder(pdm_folder).pdm)
    fit = pdm.fit(landmarks)
    iod = np.linalg.norm(landmarks[36:42].mean(axis=0) - landmarks[42:48].mean(axis=0))
    # the astronaut is not one of the PDM's faces: a few modes still place every point closely
    assert fit.rms_error < 0.08 * iod, (fit.rms_error, iod)
    assert abs(fit.params_global[3]) < 0.3  # an upright face: little roll


# -- alignment, features ---------------------------------------------------------------------------


def test_aligned_face_is_112px_masked_and_puts_the_eyes_where_the_mean_shape_has_them(
    pdm_folder, astronaut, landmarks
):
    of = OpenFaceStatic(read_folder(pdm_folder))
    feats = of.features(astronaut, landmarks)
    img, mask = feats.aligned.image, feats.aligned.mask
    assert img.shape == (ALIGNED_SIZE, ALIGNED_SIZE, 3) and img.dtype == np.uint8
    assert mask.shape == (ALIGNED_SIZE, ALIGNED_SIZE) and set(np.unique(mask)) == {0, 1}
    assert mask[56, 56] == 1 and mask[0, 0] == 0 and mask[111, 111] == 0
    assert 0.3 < mask.mean() < 0.95
    assert not img[mask == 0].any()  # black outside the face
    assert img[mask == 1].mean() > 40  # the face itself was warped in
    warped = landmarks @ feats.aligned.warp[:, :2].T + feats.aligned.warp[:, 2]
    n = 68
    reference = (of.pdm.mean_shape[: 2 * n] * 0.7).reshape(2, n).T
    eyes = [36, 39, 42, 45]
    # the rigid points land on the scaled mean shape, centred on the fit's translation
    offset = (warped[list(RIGID_POINTS)] - reference[list(RIGID_POINTS)]).mean(axis=0)
    np.testing.assert_allclose(warped[eyes] - offset, reference[eyes], atol=6.0)
    assert np.all((warped[eyes] > 10) & (warped[eyes] < 102))


def test_face_mask_is_the_union_of_closed_triangles():
    """Pixel centres inside or on an edge of any triangle (OpenFace's PAW test), checked pixel by pixel."""
    from tag_bench.au.openface.detector import triangle_mask

    rs = np.random.RandomState(0)
    for trial in range(6):
        pts = rs.rand(68, 2) * 140 - 14
        if trial % 2:
            pts = np.round(pts)  # vertices on pixel centres: edges through pixels
        tris = np.array([rs.choice(68, 3, replace=False) for _ in range(40)])
        u, v = pts[tris[:, 1]] - pts[tris[:, 0]], pts[tris[:, 2]] - pts[tris[:, 0]]
        area = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
        tris = tris[area > 1.0]  # a degenerate triangle would mark its whole bounding box, as in OpenFace
        mask = triangle_mask(pts, tris, 112)
        for y, x in zip(*np.nonzero(rs.rand(112, 112) < 0.05), strict=True):
            inside = False
            for tri in tris:
                (x1, y1), (x2, y2), (x3, y3) = pts[tri]
                d1 = (x - x2) * (y1 - y2) - (x1 - x2) * (y - y2)
                d2 = (x - x3) * (y2 - y3) - (x2 - x3) * (y - y3)
                d3 = (x - x1) * (y3 - y1) - (x3 - x1) * (y - y1)
                neg, pos = min(d1, d2, d3) < -1e-4, max(d1, d2, d3) > 1e-4
                inside |= not (neg and pos)
            assert mask[y, x] == inside, (trial, x, y)


def test_similarity_alignment_recovers_a_known_transform():
    rs = np.random.RandomState(3)
    src = rs.rand(24, 2) * 100
    angle, scale = 0.4, 1.7
    a = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ a.T + [5.0, -7.0]
    np.testing.assert_allclose(align_shapes_with_scale(src, dst), a, atol=1e-10)


def test_feature_vector_layout(pdm_folder, astronaut, landmarks):
    of = OpenFaceStatic(read_folder(pdm_folder))
    feats = of.features(astronaut, landmarks)
    assert fhog_shape(112, 112, 8) == (12, 12, 31)
    assert feats.hog.shape == (N_HOG,)
    m = of.pdm.n_modes
    assert feats.geometry.shape == (204 + m,)
    np.testing.assert_allclose(feats.geometry[:204], of.pdm.princ_comp @ feats.fit.params_local)
    np.testing.assert_allclose(feats.geometry[204:], feats.fit.params_local)
    assert feats.vector.shape == (N_HOG + 204 + m,)
    np.testing.assert_array_equal(feats.vector[:N_HOG], feats.hog)
    assert np.all(feats.hog >= 0) and feats.hog.max() <= 0.8 and feats.hog.any()


# -- end to end --------------------------------------------------------------------------------------


def test_predictions_equal_the_linear_models_on_the_features(tmp_path, pdm_folder, astronaut, landmarks):
    """Model files with known weights: every AU the detector reports is weights . (features - means) + bias."""
    folder = tmp_path / "AU_predictors"
    folder.mkdir()
    for name in ("In-the-wild_aligned_PDM_68.txt", "tris_68_full.txt"):
        (folder / name).write_bytes((pdm_folder / name).read_bytes())
    feats = OpenFaceStatic(read_folder(pdm_folder)).features(astronaut, landmarks)
    x = feats.vector
    n_geom = feats.geometry.size
    rs = np.random.RandomState(1)

    def model(target: float, on: str, size: int) -> tuple[np.ndarray, np.ndarray, float]:
        means = rs.rand(size) * 0.1
        w = rs.randn(size) * 1e-3
        if on == "hog":
            w[N_HOG:] = 0
        elif on == "geometry":
            w[:N_HOG] = 0
        bias = target - float((x[:size] - means) @ w)
        return means, w, bias

    specs = {
        "svr_combined/AU_12_static_intensity_comb.dat": ("AU12", "svr", *model(3.2, "hog", N_HOG + n_geom)),
        "svr_combined/AU_1_static_intensity_comb.dat": (
            "AU01",
            "svr",
            *model(0.7, "geometry", N_HOG + n_geom),
        ),
        "svr_combined/AU_4_static_intensity.dat": ("AU04_r", "svr", *model(2.0, "hog", N_HOG)),  # HOG only
        "svr_combined/AU_26_static_intensity_comb.dat": ("AU26", "svr", *model(7.5, "all", N_HOG + n_geom)),
        "svm_combined/AU_12_static.dat": ("AU12", "svm", *model(0.4, "all", N_HOG + n_geom)),
        "svm_combined/AU_28_static.dat": ("AU28", "svm", *model(0.9, "all", N_HOG + n_geom)),
        "svm_combined/AU_45_static.dat": ("AU45", "svm", *model(-0.3, "all", N_HOG + n_geom)),
    }
    write_folder(folder, specs)
    det = get_detector("openface-static", model_dir=folder)
    ref = det.detect(astronaut, sample_id="astronaut")
    assert ref.status == "ok", ref.message
    np.testing.assert_allclose(np.asarray(ref.landmarks), landmarks, atol=0.01)

    def by_hand(rel: str) -> float:
        _, _, means, w, bias = specs[rel]
        return float((x[: means.size] - means) @ w + bias)

    assert by_hand("svr_combined/AU_12_static_intensity_comb.dat") == pytest.approx(3.2)
    aus = ref.aus
    assert aus["AU12"].score == pytest.approx(3.2 / 5, abs=1e-4)
    assert aus["AU12"].active is True and aus["AU12"].threshold == pytest.approx(0.3)
    assert aus["AU1"].score == pytest.approx(0.7 / 5, abs=1e-4) and aus["AU1"].active is False
    assert aus["AU4"].score == pytest.approx(2.0 / 5, abs=1e-4) and aus["AU4"].active is True
    assert aus["AU26"].score == 1.0  # 7.5 clipped to OpenFace's maximum intensity 5
    for au in ("AU12", "AU1", "AU4", "AU26"):
        assert aus[au].source == "openface-static"
    # presence-only AUs: the SVM's decision
    assert aus["AU28"].score == 1.0 and aus["AU28"].active is True
    assert aus["AU45"].score == 0.0 and aus["AU45"].active is False
    assert aus["AU28"].source == aus["AU45"].source == "openface-static:presence"
    # AUs no model covers: a region, no judgement
    assert aus["AU6"].score is None and aus["AU6"].box is not None
    # the reference names the model files' hash
    assert ref.model_sha256 == read_folder(folder).sha256
    assert ref.reference_id == f"openface-static-tight@1-{ref.model_sha256[:8]}"


def test_the_reference_id_changes_with_any_model_file(tmp_path, pdm_folder):
    a = tmp_path / "a"
    b = tmp_path / "b"
    for folder, bias in ((a, 1.0), (b, 1.5)):
        folder.mkdir()
        for name in ("In-the-wild_aligned_PDM_68.txt", "tris_68_full.txt"):
            (folder / name).write_bytes((pdm_folder / name).read_bytes())
        size = N_HOG + 204 + read_pdm_modes(folder)
        write_folder(folder, {"svr/AU_1.dat": ("AU01", "svr", np.zeros(size), np.zeros(size), bias)})
    ida = get_detector("openface-static", model_dir=a).reference_id
    idb = get_detector("openface-static", model_dir=b).reference_id
    assert ida != idb and ida.startswith("openface-static-tight@1-")


def test_spec_forms_and_loose_regions(pdm_folder, tmp_path):
    src = resolve_reference_source(f"openface-static:{pdm_folder}", cache_path=tmp_path / "c.sqlite")
    assert src.reference_id.startswith("openface-static-tight@1-")
    loose = resolve_reference_source(f"openface-static-loose:{pdm_folder}", cache=False)
    assert loose.reference_id.startswith("openface-static-loose@1-")
    assert isinstance(get_detector("openface-static-loose", model_dir=pdm_folder), OpenFaceStaticDetector)


def test_the_cli_runs_it(pdm_folder, tmp_path):
    import json

    from click.testing import CliRunner

    from tag_bench._cli.au import au_group

    img = tmp_path / "astronaut.png"
    load_face("astronaut").save(img)
    r = CliRunner().invoke(
        au_group, ["detect", "--image", str(img), "--detector", f"openface-static:{pdm_folder}", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["status"] == "ok" and out["aus"]["AU12"]["source"] == "openface-static"


# -- what a user gets wrong ------------------------------------------------------------------------


def test_no_folder_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("TAG_BENCH_OPENFACE_MODELS", raising=False)
    with pytest.raises(AUDetectorError, match=r"openface-static:DIR .*AU_predictors"):
        get_detector("openface-static")


def test_missing_folder_and_files_name_the_file(tmp_path, pdm_folder):
    with pytest.raises(ModelFileError, match=r"model folder not found: .*nowhere"):
        read_folder(tmp_path / "nowhere")
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "main_static_svms.txt").write_text(
        "AUPredictor AU_all_static.txt\nPDM pdm.txt\nTriangulation tris.txt\n"
    )
    with pytest.raises(ModelFileError, match=r"PDM not found: .*pdm\.txt; point openface-static:DIR at"):
        read_folder(folder)
    (folder / "pdm.txt").write_bytes((pdm_folder / "In-the-wild_aligned_PDM_68.txt").read_bytes())
    (folder / "tris.txt").write_bytes((pdm_folder / "tris_68_full.txt").read_bytes())
    (folder / "AU_all_static.txt").write_text("svr_combined/AU_1.dat AU01\n")
    with pytest.raises(ModelFileError, match=r"AU model file \(line 1 of .*\) not found: .*AU_1\.dat"):
        read_folder(folder)


def test_broken_model_files_are_one_line_errors(tmp_path, pdm_folder):
    folder = tmp_path / "bad"
    folder.mkdir()
    for name in ("In-the-wild_aligned_PDM_68.txt", "tris_68_full.txt"):
        (folder / name).write_bytes((pdm_folder / name).read_bytes())
    size = N_HOG + 204 + read_pdm_modes(folder)
    write_folder(folder, {"svr/AU_1.dat": ("AU01", "svr", np.zeros(size), np.ones(size), 0.0)})
    dat = folder / "svr" / "AU_1.dat"
    dat.write_bytes(dat.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match=r"AU_1\.dat is truncated") as e:
        read_folder(folder)
    assert "\n" not in str(e.value)
    dat.write_bytes(struct.pack("<i", 1) + b"\0" * 64)
    with pytest.raises(ModelFileError, match="dynamic model"):
        read_folder(folder)
    write_folder(folder, {"svr/AU_1.dat": ("AU01", "svr", np.zeros(100), np.ones(100), 0.0)})
    with pytest.raises(AUDetectorError, match="expects 100 features"):
        get_detector("openface-static", model_dir=folder)
    (folder / "tris_68_full.txt").write_text("2 3 4\n0 1 2\n")
    with pytest.raises(ModelFileError, match="not an OpenFace text matrix"):
        read_folder(folder)
