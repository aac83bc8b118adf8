"""A model adapter and an AU detector from a separate installed package, found through entry points.

The package is written to a folder with a ``*.dist-info`` (``METADATA`` + ``entry_points.txt``), which
is all ``importlib.metadata`` needs to see an installed distribution; the folder goes on
``PYTHONPATH`` of a fresh interpreter. tag-bench's own files are not touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = '''
"""tb_echo: a plug-in for tag-bench that lives in its own package."""

from pydantic import Field

from tag_bench.au.base import BaseAUDetector
from tag_bench.models.base import AdapterArgs, GenerationOutput, ModelAdapter, fingerprint_of
from tag_bench.models.requests import group_requests


class EchoAdapter(ModelAdapter):
    """Echo: answers one fixed label."""

    name = "echo"
    default_frame = "norm1000"

    class Args(AdapterArgs):
        label: str = Field("happiness", description="the label to answer")
        api_token: str | None = Field(None, description="a secret, to see it redacted")

    def fingerprint(self):
        return fingerprint_of(self.name, self.args.label)

    def generate(self, requests):
        outputs, groups = group_requests(requests, self.context.seed)
        for _settings, idxs in groups.values():
            for i in idxs:
                text = f"<answer> {self.args.label} </answer>"
                outputs[i] = GenerationOutput(text=text, finish_reason="stop")
        return [o or GenerationOutput(text=None, error="no output") for o in outputs]


class CachedEchoAdapter(EchoAdapter):
    """Echo that opts in to the shared generation cache."""

    name = "echo-cached"
    cacheable = True


class FlatDetector(BaseAUDetector):
    """Finds no face, ever."""

    name, version, threshold = "flat", "2", 0.5

    def __init__(self, *, regions="tight"):
        self.region_rule = regions

    @property
    def params(self):
        return {}

    def _detect(self, rgb):
        return {"status": "no_face"}
'''

USE = """
import numpy as np
from PIL import Image

from tag_bench.au.base import detector_names, get_detector
from tag_bench.generate.evaluate import evaluate
from tag_bench.generate.cache import GenerationCache
from tag_bench.models.base import (
    AdapterArgsError, AdapterContext, GenerationRequest, adapter_info, adapter_names, get_model,
)

assert {"echo", "echo-cached", "hf"} <= set(adapter_names())
echo = get_model("echo", "label=sadness,api_token=abc", AdapterContext(seed=1))
out = echo.generate([GenerationRequest("s", Image.new("RGB", (8, 8)), "which emotion?")])
assert out[0].text == "<answer> sadness </answer>", out
assert echo.frame == "norm1000" and not echo.cacheable and echo.has("s")
assert echo.describe() == {"label": "sadness", "api_token": "<redacted>"}, echo.describe()
assert get_model("echo", {}, AdapterContext(box_frame="pixel")).frame == "pixel"
try:
    get_model("echo", {"lable": "x"})
    raise SystemExit("no error for an unknown argument")
except AdapterArgsError as e:
    assert str(e).startswith("adapter 'echo': unknown argument 'lable' (did you mean 'label'?)"), e

info = adapter_info("echo")
assert info.description == "Echo: answers one fixed label." and info.frame.startswith("norm1000")
assert info.source == "entry point echo = tb_echo:EchoAdapter of tb-echo", info.source
assert [(a.name, a.default) for a in info.args] == [("label", "happiness"), ("api_token", None)]

det = get_detector("flat-loose@2")
assert "flat-loose" in detector_names() and det.reference_id == "flat-loose@2"
assert det.detect(np.zeros((4, 4, 3), np.uint8)).status == "no_face"

# through the engine: a plug-in writes into the shared cache only when it says it may
kw = dict(data_root=DATA, au_reference="none", n_resamples=200, progress=False)
first = evaluate("rafdb_basic_test", "echo", out=TMP + "/a", cache=TMP + "/a.sqlite", **kw)
assert first.stats.generated == 7 and len(GenerationCache(TMP + "/a.sqlite")) == 0
cached = evaluate("rafdb_basic_test", "echo-cached", out=TMP + "/b", cache=TMP + "/b.sqlite", **kw)
assert cached.stats.generated == 7 and len(GenerationCache(TMP + "/b.sqlite")) == 7
print("ok")
"""


def _install(root: Path, name: str, module: str, entry_points: str) -> None:
    """What pip would leave behind: the module and a dist-info naming its entry points."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name.replace('-', '_')}.py").write_text(module)
    dist = root / f"{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent(entry_points))


def _python(code: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)


def test_adapter_and_detector_from_another_package(tmp_path, dataset_fixtures):
    _install(
        tmp_path / "site",
        "tb-echo",
        PLUGIN,
        """
        [tag_bench.models]
        echo = tb_echo:EchoAdapter
        echo-cached = tb_echo:CachedEchoAdapter

        [tag_bench.au_detectors]
        flat = tb_echo:FlatDetector
        """,
    )
    head = f"DATA = {str(dataset_fixtures['raf_basic'])!r}\nTMP = {str(tmp_path)!r}\n"
    res = _python(head + USE, tmp_path / "site")
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert res.stdout.strip().endswith("ok")


def test_a_plugin_named_like_a_builtin_is_an_error_naming_both(tmp_path):
    _install(
        tmp_path / "site",
        "tb-clash",
        PLUGIN.replace("tb_echo", "tb_clash"),
        """
        [tag_bench.models]
        hf = tb_clash:EchoAdapter

        [tag_bench.au_detectors]
        mediapipe-geometric = tb_clash:FlatDetector
        """,
    )
    code = textwrap.dedent(
        """
        from tag_bench.au.base import detector_names
        from tag_bench.models.base import get_model
        for call in (lambda: get_model("random"), detector_names):
            try:
                call()
            except ValueError as e:
                print(e)
        """
    )
    res = _python(code, tmp_path / "site")
    assert res.returncode == 0, res.stderr[-3000:]
    models, detectors = res.stdout.strip().splitlines()
    assert models == (
        "model adapter 'hf' is registered twice: by built-in tag_bench.models.hf:HFAdapter and by "
        "entry point hf = tb_clash:EchoAdapter of tb-clash; rename one of them"
    )
    assert detectors.startswith("AU detector 'mediapipe-geometric' is registered twice: by built-in ")
    assert "entry point mediapipe-geometric = tb_clash:FlatDetector of tb-clash" in detectors
