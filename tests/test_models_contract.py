"""The adapter base class, argument errors, the adapter registry and adapter info."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from PIL import Image
from pydantic import Field

from tag_bench._hashing import stable_hash
from tag_bench.models import base
from tag_bench.models.base import (
    AdapterArgs,
    AdapterArgsError,
    AdapterContext,
    AdapterError,
    GenerationOutput,
    GenerationRequest,
    ModelAdapter,
    adapter_info,
    adapter_names,
    describe_adapters,
    fingerprint_of,
    get_model,
    register_adapter,
)
from tag_bench.schema import BOX_FRAMES

BUILTINS = ("hf", "vllm", "openai", "replay", "facs-rules", "random", "majority")


class Fixed(ModelAdapter):
    """Answers one label."""

    name = "fixed-test"
    default_frame = "norm1000"

    class Args(AdapterArgs):
        label: str = Field("neutral", description="the answer")
        size: int = Field(3, ge=1, description="a number")
        api_key: str | None = None

    args: Args

    def fingerprint(self) -> str:
        return fingerprint_of(self.name, self.args.label)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        return [GenerationOutput(text=f"<answer> {self.args.label} </answer>") for _ in requests]


@pytest.fixture
def fixed():
    register_adapter("fixed-test", Fixed)
    yield
    base._ADAPTERS.unregister("fixed-test")


def test_hashes_keep_their_values():
    # the pre-refactoring formulas: fingerprints and cache keys must not move
    parts = ("hf", {"kind": "hub", "id": "x"}, "bfloat16", None, [1, 2])
    old = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]
    assert fingerprint_of(*parts) == old == stable_hash(list(parts), 20)

    from tag_bench.au.base import params_hash

    params = {"face_policy": "largest", "regions": "loose", "path": object.__name__}
    old = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
    assert params_hash(params) == old == stable_hash(params, 16)


def test_base_class_defaults(fixed):
    a = get_model("fixed-test", "label=happiness,api_key=sk-1")
    assert isinstance(a, ModelAdapter) and a.name == "fixed-test"
    assert (a.cacheable, a.needs_reference, a.oracle_reference) == (False, False, False)
    assert a.warnings == [] and a.has("anything") and a.frame == "norm1000"
    assert a.describe() == {"label": "happiness", "size": 3, "api_key": "<redacted>"}
    req = GenerationRequest("s", Image.new("RGB", (4, 4)), "p")
    assert a.generate([req])[0].text == "<answer> happiness </answer>"
    a.close()


def test_box_frame_override_is_applied_once_and_checked(fixed):
    assert get_model("fixed-test", {}, AdapterContext(box_frame="pixel")).frame == "pixel"
    with pytest.raises(ValueError, match="unknown box frame 'percent'"):
        get_model("fixed-test", {}, AdapterContext(box_frame="percent"))
    # baselines write pixel boxes whatever the user says: the override is reported, not applied
    rnd = get_model("random", {}, AdapterContext(box_frame="norm1000"))
    assert rnd.frame == "pixel" and "--box-frame norm1000 ignored" in rnd.warnings[0]
    assert get_model("random", {}, AdapterContext(box_frame="pixel")).warnings == []


def test_argument_errors_are_one_line(fixed):
    cases = {
        "size=0": "invalid argument 'size': Input should be greater than or equal to 1 (got 0)",
        "size=true": "invalid argument 'size': expected int, got true",
        "lable=x": "unknown argument 'lable' (did you mean 'label'?)",
    }
    for args, expected in cases.items():
        with pytest.raises(AdapterArgsError) as e:
            get_model("fixed-test", args)
        msg = str(e.value)
        assert msg == f"adapter 'fixed-test': {expected}; accepted: label, size, api_key"
        assert "\n" not in msg and isinstance(e.value, ValueError)
    assert get_model("fixed-test", {"size": "8"}).args.size == 8  # lax: text is a number where one is due
    with pytest.raises(AdapterArgsError, match="invalid argument 'api_key'") as e:
        get_model("fixed-test", {"api_key": ["sk-secret"]})
    assert "sk-secret" not in str(e.value)  # a secret-named argument's value is never quoted


def test_missing_required_argument_is_named_before_any_heavy_import():
    code = (
        "import sys\n"
        "from tag_bench.models.base import get_model\n"
        "try:\n"
        "    get_model('hf', {})\n"
        "except ValueError as e:\n"
        "    print(e)\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    first, second = res.stdout.strip().splitlines()
    assert first.startswith("adapter 'hf': missing required argument 'pretrained'; accepted: pretrained, ")
    assert second == "[]"


def test_registry_clash_and_unknown_names(fixed):
    with pytest.raises(AdapterError, match=r"'hf' is registered twice: by built-in tag_bench\.models\.hf"):
        register_adapter("hf", Fixed)
    with pytest.raises(AdapterError, match=r"unknown model adapter 'fixed-tset' \(did you mean 'fixed-test'"):
        get_model("fixed-tset")

    class NotAnAdapter:
        pass

    register_adapter("not-an-adapter", NotAnAdapter)  # type: ignore[arg-type]
    try:
        with pytest.raises(AdapterError, match=r"not a subclass of tag_bench\.models\.base\.ModelAdapter"):
            get_model("not-an-adapter")
    finally:
        base._ADAPTERS.unregister("not-an-adapter")


def test_builtins_declare_the_contract():
    assert set(BUILTINS) <= set(adapter_names())
    infos = {i.name: i for i in describe_adapters()}
    assert all(infos[n].error is None and infos[n].description for n in BUILTINS)
    assert {n for n in BUILTINS if infos[n].cacheable} == {"hf", "vllm", "openai"}
    assert [n for n in BUILTINS if infos[n].oracle_reference] == ["facs-rules"]
    hf = adapter_info("hf")
    assert hf.description.startswith("Transformers image-text-to-text models")
    assert "qwen2_5_vl=pixel-resized" in hf.frame
    args = {a.name: a for a in hf.args}
    assert args["pretrained"].required and args["pretrained"].type == "str"
    assert args["dtype"].default == "auto" and not args["dtype"].required and args["dtype"].description
    assert args["min_pixels"].type == "int | None"
    assert [a.name for a in adapter_info("openai").args][:2] == ["model", "base_url"]
    assert adapter_info("majority").frame == "none (no boxes)"
    assert all(f in BOX_FRAMES for f in (get_model("random").frame, get_model("facs-rules").frame))


def test_adapter_info_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from tag_bench.models.base import describe_adapters\n"
        "assert all(i.error is None for i in describe_adapters())\n"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'httpx', 'mediapipe') if m in sys.modules]\n"
        "print(heavy); sys.exit(1 if heavy else 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
