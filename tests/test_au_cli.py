"""``tag-bench au`` through click's CliRunner: detect (image and task), show, detectors."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("mediapipe")

from tag_bench._cli.au import au_group
from tag_bench.au.bundle import BUNDLE_SHA256
from tag_bench.data.base import SplitData, register_loader
from tag_bench.schema import Sample
from tag_bench.testing.sample_faces import face_path

LOADER = "au-cli-test-faces"


def _load_folder(data_root, split, **options) -> SplitData:
    root = Path(data_root)
    samples = [
        Sample(id=p.stem, dataset=LOADER, split=split, image=str(p), label="neutral", native_label="neutral")
        for p in sorted(root.iterdir())
    ]
    return SplitData(dataset=LOADER, split=split, layout="flat", root=root, samples=samples)


with contextlib.suppress(ValueError):  # already registered by an earlier import of this module
    register_loader(LOADER, _load_folder)


def _run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(au_group, list(args), env=env, catch_exceptions=False)


def test_detect_image_json(tmp_path):
    img = face_path("astronaut", tmp_path)
    res = _run("detect", "--image", str(img), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert list(out)[:4] == ["status", "face_box", "landmarks", "aus"]
    # the default is the learned blendshape reference; its id names the mapping and the model hash
    assert out["status"] == "ok" and out["reference_id"] == "mediapipe-blendshapes-tight@1-64184e22"
    assert out["model_sha256"] == BUNDLE_SHA256
    assert len(out["landmarks"]) == 68
    au12 = out["aus"]["AU12"]
    assert set(au12) == {"score", "active", "box", "boxes", "source", "threshold"}
    assert au12["active"] is True and len(au12["boxes"]) == 2
    assert au12["source"] == "blendshape:mouthSmile" and au12["threshold"] == 0.5
    assert out["aus"]["AU25"]["source"] == "geometric"
    assert out["aus"]["AU6"]["score"] is None and out["aus"]["AU6"]["source"] is None


def test_detect_image_text_shows_sources(tmp_path):
    res = _run("detect", "--image", str(face_path("astronaut", tmp_path)))
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "mediapipe-blendshapes-tight@1-64184e22: ok"
    assert f"model sha256 {BUNDLE_SHA256}" in lines[1]
    au12 = next(line.split() for line in lines if line.split()[:1] == ["AU12"])
    assert au12[2:5] == ["0.50", "active", "blendshape:mouthSmile"]
    au6 = next(line.split() for line in lines if line.split()[:1] == ["AU6"])
    assert au6[1:4] == ["-", "-", "unjudged"]


def test_detect_image_loose_and_bad_inputs(tmp_path):
    img = face_path("grace_hopper", tmp_path)
    out = json.loads(
        _run("detect", "--image", str(img), "--detector", "mediapipe-geometric-loose", "--json").output
    )
    assert out["reference_id"] == "mediapipe-geometric-loose@2"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"garbage")
    res = _run("detect", "--image", str(broken), "--json")
    assert res.exit_code == 0
    assert json.loads(res.output)["status"] == "error"
    assert _run("detect", "--image", str(tmp_path / "absent.png")).exit_code != 0
    res = _run("detect", "--image", str(img), "--detector", "nope")
    assert res.exit_code != 0 and "unknown AU detector" in res.output
    assert _run("detect").exit_code != 0  # neither --image nor --task


def test_detect_image_text_and_cache(tmp_path):
    img = face_path("astronaut", tmp_path)
    cache = tmp_path / "c.sqlite"
    res = _run("detect", "--image", str(img), "--cache", str(cache), "--out", str(tmp_path / "r.jsonl"))
    assert res.exit_code == 0 and "AU12" in res.output and "active" in res.output
    assert cache.exists() and (tmp_path / "r.jsonl").read_text().count("\n") == 1


def test_show_writes_an_overlay(tmp_path):
    img = face_path("astronaut", tmp_path)
    out = tmp_path / "overlay.png"
    res = _run("show", str(img), "-o", str(out), "--aus", "AU1,AU12")
    assert res.exit_code == 0, res.output
    assert "active" in res.output
    before, after = np.asarray(Image.open(img).convert("RGB")), np.asarray(Image.open(out).convert("RGB"))
    assert before.shape == after.shape
    changed = np.any(before != after, axis=2)
    assert changed.mean() > 0.001
    # the drawing is on the face, not elsewhere: most changed pixels are inside the upper-middle region
    ys, xs = np.nonzero(changed)
    assert 100 < np.median(xs) < 400 and np.median(ys) < 300
    out2 = tmp_path / "merged.png"
    assert _run("show", str(img), "-o", str(out2), "--merged", "--no-landmarks").exit_code == 0
    assert not np.array_equal(np.asarray(Image.open(out2)), after)
    assert _run("show", str(tmp_path / "none.png"), "-o", str(out)).exit_code != 0


def test_detect_task_fills_the_cache(tmp_path, monkeypatch):
    faces = tmp_path / "faces"
    faces.mkdir()
    Image.open(face_path("astronaut", tmp_path)).save(faces / "a.png")
    Image.open(face_path("grace_hopper", tmp_path)).save(faces / "b.jpg")
    Image.new("RGB", (200, 200), (120, 120, 120)).save(faces / "c.png")
    (faces / "d.jpg").write_bytes(b"broken")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "au_cli_test.yaml").write_text(
        f"name: au-cli-test\ndataset: {LOADER}\nsplit: test\nprotocol: test\nclasses: [neutral, happiness]\n"
    )
    monkeypatch.setenv("TAG_BENCH_TASKS_DIR", str(tasks))
    cache = tmp_path / "cache.sqlite"
    args = ["detect", "--task", "au-cli-test", "--data-root", str(faces), "--cache", str(cache), "--json"]
    first = json.loads(_run(*args).stdout)
    assert (first["samples"], first["ok"], first["no_face"], first["error"], first["cached"]) == (
        4,
        2,
        1,
        1,
        0,
    )
    second = json.loads(_run(*args).stdout)
    assert second["cached"] == 3 and second["ok"] == 2
    limited = json.loads(_run(*args, "--limit", "1").stdout)
    assert limited["samples"] == 1
    text = _run("detect", "--task", "au-cli-test", "--data-root", str(faces), "--cache", str(cache))
    assert "ok 2, no_face 1, error 1, served from cache 3" in text.output
    assert "d: unreadable image" in text.output
    bad = _run("detect", "--task", "no-such-task", "--data-root", str(faces))
    assert bad.exit_code != 0 and "unknown task" in bad.output


@pytest.mark.skipif(
    importlib.util.find_spec("tag_bench.data.demo") is None,
    reason="the demo dataset loader (tag_bench/data/demo.py) is not in this checkout yet",
)
def test_detect_demo_task(tmp_path, monkeypatch):
    monkeypatch.setenv("TAG_BENCH_CACHE", str(tmp_path / "cache"))  # the demo copies its images there
    out = tmp_path / "refs.jsonl"
    res = _run("detect", "--task", "demo", "--json", "--out", str(out))
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["samples"] >= 2 and summary["ok"] == summary["samples"]
    assert summary["cache"] == str(tmp_path / "cache" / "au_cache.sqlite")
    refs = {r["sample_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert refs["demo/astronaut"]["aus"]["AU12"]["active"] is True
    assert refs["demo/grace_hopper"]["aus"]["AU12"]["active"] is False
    again = json.loads(_run("detect", "--task", "demo", "--json").stdout)
    assert again["cached"] == summary["samples"]


def test_detectors_command():
    res = _run("detectors")
    assert "mediapipe-geometric" in res.output.split() and "pyfeat-v2" in res.output.split()
