"""``pyfeat-v2`` plumbing with random-weight stand-ins written in Hugging Face cache layout.

Real py-feat weights cannot be downloaded here. The stand-ins are built from py-feat's own model
classes (a small ConvNeXt-V2 'atto' backbone instead of 'tiny'), with two deliberate choices so the
plumbing is checkable: the mesh head's last layer outputs a fixed face shape (the MediaPipe mesh of
the astronaut, expressed in py-feat's chip coordinates), so decoded landmarks must land back on the
astronaut's face; and RetinaFace's class head says "background" everywhere, so the RetinaFace path
must end in ``no_face``. AU probabilities stay random: only shapes, names and record validity are
checked.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("feat")
torch = pytest.importorskip("torch")

from tag_bench.au.base import AUDetectorError, get_detector  # noqa: E402
from tag_bench.au.landmarks import MediaPipeLandmarker  # noqa: E402
from tag_bench.au.pyfeat import ENV_WEIGHTS, PyFeatV2Detector  # noqa: E402
from tag_bench.au.regions import au_regions  # noqa: E402
from tag_bench.testing.sample_faces import load_face  # noqa: E402

REVISION = "0123456789abcdef0123456789abcdef01234567"
V2_AUS = [f"AU{n}" for n in (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 17, 20, 23, 24, 25, 26, 28, 43)]


def _put(root: Path, repo: str, filename: str, tensors: dict, metadata: dict | None = None) -> Path:
    from safetensors.torch import save_file

    repo_dir = root / f"models--py-feat--{repo}"
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(REVISION)
    snap = repo_dir / "snapshots" / REVISION
    snap.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(snap / filename), metadata=metadata)
    return snap / filename


def _template_mesh(img) -> np.ndarray:
    """The astronaut's MediaPipe mesh in py-feat's chip frame ([0, 1] over the square-pad crop)."""
    from feat.multitask.inference import CHIP_SIZE, EXPAND_BBOX
    from feat.utils.image_operations import extract_face_square_pad_torch

    face = MediaPipeLandmarker().faces(np.asarray(img))[0]
    frame = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255.0
    box = torch.tensor([face.box], dtype=torch.float32)
    _, affine = extract_face_square_pad_torch(
        frame, box, face_size=CHIP_SIZE, expand_bbox=EXPAND_BBOX, frame_idx=torch.zeros(1, dtype=torch.long)
    )
    ox, oy, side = affine[0].tolist()
    mesh = face.mesh.copy()
    mesh[:, 0] = (mesh[:, 0] - ox) / side
    mesh[:, 1] = (mesh[:, 1] - oy) / side
    mesh[:, 2] = mesh[:, 2] / side
    return mesh


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    from feat.face_detectors.Retinaface.Retinaface_test import RETINAFACE_R34_CFG, RetinaFace
    from feat.multitask.model_v2 import MEGraphAUv2, ModelV2Config

    root = tmp_path_factory.mktemp("pyfeat-weights")
    torch.manual_seed(0)
    cfg = ModelV2Config(
        backbone="convnextv2_atto",
        pretrained=False,
        n_au=20,
        n_emotion=7,
        n_blendshape=52,
        mesh_normalized=True,
        use_head_v3=True,
        drop_mefl=True,
    )
    model = MEGraphAUv2(cfg)
    with torch.no_grad():
        last = model.lmk.mlp[-1]
        last.weight.zero_()
        last.bias.copy_(torch.from_numpy(_template_mesh(load_face("astronaut")).reshape(-1)).float())
    _put(
        root,
        "face_multitask_v2",
        "face_multitask_v28.safetensors",
        model.state_dict(),
        {"config": json.dumps(dataclasses.asdict(cfg))},
    )
    net = RetinaFace(RETINAFACE_R34_CFG)
    state = net.state_dict()
    for k, v in state.items():
        if k.startswith("ClassHead") and k.endswith("weight"):
            v.zero_()
        elif k.startswith("ClassHead") and k.endswith("bias"):
            b = v.view(-1, 2)  # (background, face) logits per anchor
            b[:, 0], b[:, 1] = 20.0, -20.0
    _put(root, "retinaface_r34", "model.safetensors", state)
    return root


@pytest.fixture(scope="module")
def v2_mediapipe(weights) -> PyFeatV2Detector:
    return PyFeatV2Detector(weights_dir=weights, face_model="mediapipe")


def test_missing_weights_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    with pytest.raises(AUDetectorError, match=ENV_WEIGHTS):
        PyFeatV2Detector()
    with pytest.raises(AUDetectorError) as e:
        PyFeatV2Detector(weights_dir=tmp_path)
    msg = str(e.value)
    assert "models--py-feat--face_multitask_v2/refs/main" in msg
    assert "models--py-feat--retinaface_r34/refs/main" in msg
    # refs present, file absent: the exact snapshot path is named
    repo = tmp_path / "models--py-feat--face_multitask_v2"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    with pytest.raises(AUDetectorError) as e:
        PyFeatV2Detector(weights_dir=tmp_path, face_model="mediapipe")
    assert f"snapshots/{REVISION}/face_multitask_v28.safetensors" in str(e.value)
    assert "retinaface" not in str(e.value)


def test_mediapipe_boxes_through_pyfeat(v2_mediapipe):
    det = v2_mediapipe
    assert os.environ.get("HF_HUB_OFFLINE") in (None, "1")  # construction restores the environment
    assert det.reference_id == f"pyfeat-v2-tight@2.1.5-{REVISION[:12]}"
    assert det.au_names == V2_AUS
    img = load_face("astronaut")
    ref = det.detect(img, sample_id="astro", image_sha256="ab" * 32)
    assert ref.status == "ok", ref.message
    assert ref.sample_id == "astro" and ref.threshold == 0.5 and ref.image_size == img.size
    assert [au for au, s in ref.aus.items() if s.score is not None] == V2_AUS
    for au, s in ref.aus.items():
        if au in V2_AUS:
            assert 0.0 <= s.score <= 1.0 and s.active == (s.score >= 0.5)
        else:  # regions only (AU16, AU27, AU45: the model does not predict them)
            assert s.score is None and s.active is None and s.box is not None
    # the decoded mesh lands back on the astronaut's face (chip -> image inverse is right)
    mp = MediaPipeLandmarker().faces(np.asarray(img))[0]
    err = np.abs(np.array(ref.landmarks) - mp.landmarks68).max()
    assert err < 1.0, err
    expected = au_regions(np.array(ref.landmarks), "tight", image_size=img.size)
    for au in V2_AUS:
        assert np.allclose(ref.aus[au].boxes, expected[au], atol=0.05), au
    assert ref.face_box == pytest.approx(mp.box, abs=1.0)


def test_retinaface_path_and_bad_input(weights):
    det = get_detector("pyfeat-v2-loose", weights_dir=str(weights))
    assert det.reference_id.startswith("pyfeat-v2-loose@")
    ref = det.detect(load_face("grace_hopper"))
    assert ref.status == "no_face", ref.message  # the stand-in RetinaFace sees no face, by construction
    assert det.detect(b"not an image").status == "error"


def test_weights_folder_from_the_environment(weights, monkeypatch):
    monkeypatch.setenv(ENV_WEIGHTS, str(weights))
    det = get_detector("pyfeat-v2", face_model="mediapipe", face_policy="center")
    assert det.params["weights"] == {"face_multitask_v2": REVISION}
    from PIL import Image

    assert det.detect(Image.new("RGB", (64, 64), (128, 128, 128))).status == "no_face"


def test_building_the_detector_leaves_autograd_as_it_was(weights):
    # py-feat's constructor calls torch.set_grad_enabled(False) for the whole process, which broke
    # training in the same process (the GRPO reward tests)
    assert torch.is_grad_enabled()
    PyFeatV2Detector(weights_dir=weights, face_model="mediapipe")
    assert torch.is_grad_enabled()
