"""The ``vllm`` adapter: its pure logic everywhere, the engine itself only on a CUDA machine with vllm."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from PIL import Image

from tag_bench._optional import MissingExtraError
from tag_bench.models.base import AdapterArgsError, AdapterContext, GenerationRequest, get_model
from tag_bench.models.requests import gen_settings
from tag_bench.models.vllm import VLLMAdapter, engine_kwargs, pixel_budget, sampling_kwargs, smart_resize

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


# --------------------------------------------------------------------------------------------------
# Pure logic (runs everywhere)


def test_smart_resize_known_sizes():
    qwen_utils = {"factor": 28, "min_pixels": 4 * 28 * 28, "max_pixels": 16384 * 28 * 28}  # qwen-vl-utils
    assert smart_resize(100, 100, **qwen_utils) == (112, 112)  # RAF-DB aligned faces
    assert smart_resize(48, 48, **qwen_utils) == (56, 56)  # FER2013 / FERPlus
    assert smart_resize(224, 224, **qwen_utils) == (224, 224)  # AffectNet
    tiny = {"factor": 28, "min_pixels": 56 * 56, "max_pixels": 28 * 28 * 64}
    assert smart_resize(600, 512, **tiny) == (224, 196)
    assert smart_resize(300, 200, factor=32, min_pixels=64 * 64, max_pixels=10**7) == (288, 192)  # Qwen3-VL
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(1, 300)


def test_smart_resize_agrees_with_transformers():
    hf = pytest.importorskip("transformers.models.qwen2_vl.image_processing_qwen2_vl")
    sizes = [(h, w) for h in (17, 48, 100, 333, 512, 777, 1600) for w in (31, 64, 112, 500, 1024, 2047)]
    budgets = [
        {"min_pixels": 56 * 56, "max_pixels": 28 * 28 * 1280},
        {"min_pixels": 3136, "max_pixels": 50176},
    ]
    mine = [smart_resize(h, w, 28, **b) for b in budgets for h, w in sizes]
    theirs = [tuple(hf.smart_resize(h, w, 28, **b)) for b in budgets for h, w in sizes]
    assert mine == theirs


def test_pixel_budget():
    qwen = {"patch_size": 14, "merge_size": 2, "size": {"shortest_edge": 3136, "longest_edge": 12845056}}
    assert pixel_budget(qwen) == {"factor": 28, "min_pixels": 3136, "max_pixels": 12845056}
    legacy = {"patch_size": 16, "merge_size": 2, "min_pixels": 4096, "max_pixels": 1 << 24}
    assert pixel_budget(legacy) == {"factor": 32, "min_pixels": 4096, "max_pixels": 1 << 24}
    clip = {"size": {"shortest_edge": 336}, "crop_size": {"height": 336, "width": 336}}
    assert pixel_budget(clip) is None


def test_sampling_kwargs():
    assert sampling_kwargs(gen_settings({"max_new_tokens": 64})) == {
        "n": 1,
        "max_tokens": 64,
        "temperature": 0.0,
    }
    hot = sampling_kwargs(
        gen_settings({"temperature": 0.7, "top_p": 0.8, "top_k": 20, "stop": "</answer>"}, 3)
    )
    assert hot == {
        "n": 1,
        "max_tokens": 512,
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "seed": 3,
        "stop": ["</answer>"],
    }
    assert sampling_kwargs(gen_settings({"do_sample": True}))["temperature"] == 1.0
    assert sampling_kwargs(gen_settings({"repetition_penalty": 1.1}))["repetition_penalty"] == 1.1


def _engine(**over):
    args = VLLMAdapter.Args(pretrained="Qwen/Qwen2.5-VL-7B-Instruct", **over)
    return engine_kwargs(args, seed=0)


def test_engine_kwargs():
    kw = _engine()
    assert kw["model"] == "Qwen/Qwen2.5-VL-7B-Instruct" and kw["limit_mm_per_prompt"] == {"image": 1}
    assert "mm_processor_kwargs" not in kw and "revision" not in kw and "max_model_len" not in kw
    kw = _engine(min_pixels=3136, max_pixels=401408, tensor_parallel_size=2, max_model_len=8192)
    assert kw["mm_processor_kwargs"] == {"min_pixels": 3136, "max_pixels": 401408}
    assert (kw["tensor_parallel_size"], kw["max_model_len"]) == (2, 8192)
    bad = [
        {"tensor_parallel_size": 0},
        {"data_parallel_size": -1},
        {"dtype": "int4"},
        {"gpu_memory_utilization": 1.5},
        {"limit_mm_per_prompt": {"image": 0}},
        {"min_pixels": 5000, "max_pixels": 10},
        {"seed": "s"},
        {"enforce_eager": "maybe"},
        {"tensor_parallel_size": True},
    ]
    for over in bad:
        with pytest.raises(ValueError):
            _engine(**over)


def test_bad_args_are_reported_before_any_import():
    with pytest.raises(ValueError, match="pretrained= or model="):
        get_model("vllm", {"pretrained": "a", "model": "b"})
    with pytest.raises(ValueError, match="tensor_parallel_size"):
        get_model("vllm", {"pretrained": "a", "tensor_parallel_size": 0})
    with pytest.raises(AdapterArgsError, match="adapter 'vllm': unknown argument 'batch_size'"):
        get_model("vllm", {"pretrained": "a", "batch_size": 8})
    with pytest.raises(AdapterArgsError, match="missing required argument 'pretrained'"):
        get_model("vllm", {"dtype": "auto"})


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed here")
def test_missing_vllm_names_the_extra(tiny_qwen):
    with pytest.raises(MissingExtraError, match=r"pip install 'tag-bench\[vllm\]'"):
        get_model("vllm", {"pretrained": str(tiny_qwen)})


def test_adapters_import_nothing_heavy():
    code = (
        "import sys, tag_bench.models.hf, tag_bench.models.vllm, tag_bench.models.openai_api, "
        "tag_bench.testing.chat_server, tag_bench.testing.tiny_models; "
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'httpx') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


# --------------------------------------------------------------------------------------------------
# The engine (a CUDA GPU and vllm needed)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not (HAS_VLLM and _cuda()), reason="needs a CUDA GPU and the vllm extra")
def test_vllm_engine_end_to_end(tmp_path):
    """A vLLM-sized tiny Qwen2.5-VL (head size 64), or TAG_BENCH_VLLM_MODEL, through LLM.chat.

    Checks what vLLM reports (texts, token counts, finish reasons), that ``input_size`` from the
    smart_resize rule equals the size the hf adapter reads from ``image_grid_thw`` for the same
    checkpoint, and that a bad image fails alone.
    """
    from tag_bench.testing.tiny_models import build_tiny_qwen2_5_vl

    model_dir = os.environ.get("TAG_BENCH_VLLM_MODEL") or str(
        build_tiny_qwen2_5_vl(tmp_path / "qwen-wide", seed=0, hidden_size=128, num_heads=2)
    )
    args = {
        "pretrained": model_dir,
        "gpu_memory_utilization": 0.3,
        "max_model_len": 2048,
        "enforce_eager": True,
    }
    adapter = get_model("vllm", args, AdapterContext(seed=0))
    assert adapter.frame == "pixel-resized"
    images = [Image.new("RGB", (100, 100), (200, 120, 90)), Image.new("RGB", (512, 600), (40, 90, 160))]
    reqs = [
        GenerationRequest(f"s{i}", img, "Which emotion? expect: happiness", gen_kwargs={"max_new_tokens": 8})
        for i, img in enumerate(images)
    ]
    sliver = GenerationRequest("bad", Image.new("RGB", (300, 1)), "x", gen_kwargs={"max_new_tokens": 8})
    outs = adapter.generate([reqs[0], sliver, reqs[1]])
    assert outs[1].text is None and outs[1].error
    hf = get_model("hf", {"pretrained": model_dir})
    hf_sizes = [o.input_size for o in hf.generate(reqs)]
    for out, size in zip([outs[0], outs[2]], hf_sizes, strict=True):
        assert out.error is None and isinstance(out.text, str)
        assert out.input_size == size
        assert out.finish_reason in ("stop", "length") and 1 <= out.output_tokens <= 8
        assert out.input_tokens > 10
    again = adapter.generate(reqs)
    assert [o.text for o in again] == [outs[0].text, outs[2].text]  # greedy is repeatable
    adapter.close()
