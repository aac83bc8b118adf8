"""Finding detectors by name and through the ``tag_bench.au_detectors`` entry-point group; the shared
record-building helpers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tag_bench.au.base import (
    AUDetector,
    AUDetectorError,
    as_rgb_array,
    build_states,
    detector_names,
    get_detector,
    params_hash,
    register_detector,
    split_detector_name,
)


def test_builtin_names():
    names = detector_names()
    for n in ("mediapipe-geometric", "mediapipe-geometric-loose", "pyfeat-v2", "pyfeat-v2-loose"):
        assert n in names
    assert split_detector_name("pyfeat-v2-loose@2.1.5") == ("pyfeat-v2", "loose", "2.1.5")
    assert split_detector_name("mediapipe-geometric") == ("mediapipe-geometric", None, None)


def test_get_detector_by_name_rule_and_version():
    pytest.importorskip("mediapipe")
    det = get_detector("mediapipe-geometric")
    assert isinstance(det, AUDetector)
    assert det.reference_id == "mediapipe-geometric-tight@2"
    assert get_detector("mediapipe-geometric-loose").reference_id == "mediapipe-geometric-loose@2"
    assert get_detector("mediapipe-geometric-tight@2").reference_id == "mediapipe-geometric-tight@2"
    assert get_detector("mediapipe-geometric", face_policy="center").params["face_policy"] == "center"
    with pytest.raises(AUDetectorError, match="version 99"):
        get_detector("mediapipe-geometric@99")
    with pytest.raises(AUDetectorError, match="regions"):
        get_detector("mediapipe-geometric-loose", regions="tight")


def test_unknown_detector_lists_the_known_ones():
    with pytest.raises(AUDetectorError) as e:
        get_detector("openface-live")
    assert "mediapipe-geometric" in str(e.value)


class _Fixed:
    """A tiny detector used to test registration (returns one fixed, valid record)."""

    name, version, region_rule, threshold = "fixed", "7", "tight", 0.5

    def __init__(self, **params):
        self._params = params

    @property
    def reference_id(self):
        return f"{self.name}-{self.region_rule}@{self.version}"

    @property
    def params(self):
        return self._params

    def detect(self, image, *, image_sha256=None, sample_id=None):
        from tag_bench.schema import AUReference

        return AUReference(
            reference_id=self.reference_id, detector=self.name, version=self.version, status="no_face"
        )


def test_register_detector():
    register_detector("fixed-test-detector", _Fixed)
    det = get_detector("fixed-test-detector", k=1)
    assert det.params == {"k": 1} and det.detect(None).status == "no_face"
    assert "fixed-test-detector-loose" in detector_names()
    with pytest.raises(AUDetectorError, match=r"registered twice: by .*_Fixed and by .*_Fixed"):
        register_detector("fixed-test-detector", _Fixed)
    with pytest.raises(ValueError, match="region rule"):
        register_detector("bad-loose", _Fixed)


def test_entry_point_group(tmp_path):
    """A detector published by another installed distribution under ``tag_bench.au_detectors``."""
    (tmp_path / "my_au_plugin.py").write_text(
        textwrap.dedent(
            """
            from tag_bench.schema import AUReference

            class PluginDetector:
                name, version, region_rule, threshold = "plugin-det", "3", "tight", 0.5

                def __init__(self, **params):
                    self.params = params
                    if "regions" in params:
                        self.region_rule = params["regions"]

                @property
                def reference_id(self):
                    return f"{self.name}-{self.region_rule}@{self.version}"

                def detect(self, image, *, image_sha256=None, sample_id=None):
                    return AUReference(reference_id=self.reference_id, detector=self.name,
                                       version=self.version, status="no_face", sample_id=sample_id)
            """
        )
    )
    dist = tmp_path / "my_au_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-au-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[tag_bench.au_detectors]\nplugin-det = my_au_plugin:PluginDetector\n"
    )
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        from tag_bench.au import detector_names, get_detector
        from tag_bench.au.sources import resolve_reference_source
        assert "plugin-det" in detector_names() and "plugin-det-loose" in detector_names()
        det = get_detector("plugin-det-loose", x=2)
        assert det.reference_id == "plugin-det-loose@3", det.reference_id
        assert det.params == {{"x": 2, "regions": "loose"}}
        src = resolve_reference_source("plugin-det", cache_path={str(tmp_path / "c.sqlite")!r})
        assert src.reference_id == "plugin-det-tight@3"
        print("ok")
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("ok")


def test_as_rgb_array_forms():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200
    assert as_rgb_array(rgb).shape == (4, 5, 3)
    assert as_rgb_array(rgb[..., 0]).shape == (4, 5, 3)
    assert as_rgb_array(Image.fromarray(rgb).convert("RGBA"))[0, 0].tolist() == [200, 0, 0]
    assert as_rgb_array(rgb.astype(np.float32) / 255.0)[0, 0].tolist() == [200, 0, 0]
    for bad in (
        np.zeros((3,)),
        np.zeros((4, 4, 2)),
        np.full((2, 2, 3), np.nan),
        "nope.png",
        3.0,
        np.zeros((2, 2, 3), bool),
    ):
        with pytest.raises((ValueError, OSError)):
            as_rgb_array(bad)


def test_build_states_and_params_hash():
    regions = {
        "AU12": ([0.0, 0.0, 2.0, 2.0], [4.0, 0.0, 6.0, 2.0]),
        "AU6": ([1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 3.0, 3.0]),
    }
    states = build_states(regions, {"AU12": 0.5, "AU25": 0.49, "AU4": None}, 0.5)
    assert list(states) == ["AU4", "AU6", "AU12", "AU25"]
    assert states["AU12"].active is True and states["AU12"].box == [0.0, 0.0, 6.0, 2.0]
    assert states["AU25"].active is False and states["AU25"].box is None
    assert states["AU4"].score is None and states["AU4"].active is None
    assert states["AU6"].box == [2.0, 2.0, 3.0, 3.0]  # the zero-area side is left out of the union
    assert build_states(None, {"AU1": 1.7}, 0.5)["AU1"].score == 1.0
    assert params_hash({"a": 1, "b": 2}) == params_hash({"b": 2, "a": 1}) != params_hash({"a": 2, "b": 2})
