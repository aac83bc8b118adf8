"""The ``hf`` adapter end to end on tiny random Qwen2.5-VL and LLaVA checkpoints and real faces."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from PIL import Image

from tag_bench._optional import MissingExtraError
from tag_bench.models._frames import FAMILY_FRAMES, frame_for
from tag_bench.models.base import AdapterContext, GenerationRequest, get_model
from tag_bench.models.hf import _count_output
from tag_bench.models.requests import gen_settings, truncate_at_stop

PROMPT = "Which emotion does this face show? Cite AUs with <bbox>[x1,y1,x2,y2]</bbox>."


@pytest.fixture(scope="module")
def faces() -> list[Image.Image]:
    """Astronaut (512x512), Grace Hopper (512x600) and a 100x100 face crop: RAF-DB's aligned size."""
    import matplotlib.cbook
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        hopper = im.convert("RGB")
    crop = astronaut.crop((150, 40, 300, 190)).resize((100, 100))
    return [astronaut, hopper, crop]


@pytest.fixture(scope="module")
def qwen(tiny_qwen):
    return get_model("hf", {"pretrained": str(tiny_qwen)}, AdapterContext())


@pytest.fixture(scope="module")
def tiny_llava():
    from tag_bench.testing.tiny_models import tiny_model_dir

    return tiny_model_dir("llava", seed=0)  # built once per process


def _requests(images, max_new_tokens=8, **gen):
    # Prompts of different lengths on top of different image sizes: the batch really is padded.
    return [
        GenerationRequest(
            sample_id=f"s{i}",
            image=img,
            prompt=PROMPT + " Be brief." * i,
            gen_kwargs={"max_new_tokens": max_new_tokens, **gen},
        )
        for i, img in enumerate(images)
    ]


# --------------------------------------------------------------------------------------------------
# Qwen2.5-VL


def test_batch_outputs_sizes_and_counts(qwen, faces):
    reqs = [
        GenerationRequest(f"s{i}", img, PROMPT, gen_kwargs={"max_new_tokens": 6})
        for i, img in enumerate(faces)
    ]
    outs = qwen.generate(reqs)
    assert len(outs) == 3
    # Sizes after Qwen's smart_resize with the tiny processor's budget (3136..50176 pixels, factor 28).
    assert [o.input_size for o in outs] == [(224, 224), (196, 224), (112, 112)]
    grid = qwen.image_processor(images=faces, return_tensors="pt")["image_grid_thw"].tolist()
    assert [o.input_size for o in outs] == [(w * 14, h * 14) for _, h, w in grid]
    for o in outs:
        assert o.error is None and isinstance(o.text, str)
        assert o.output_tokens == 6 and o.finish_reason == "length"  # no EOS in 6 tokens
    # Same prompt: input tokens differ by the image tokens alone (grid cells / 2x2 merge), so the
    # padding the batch needed is not counted.
    image_tokens = [h * w // 4 for _, h, w in grid]
    assert image_tokens == [64, 56, 16]
    text_tokens = {o.input_tokens - n for o, n in zip(outs, image_tokens, strict=True)}
    assert len(text_tokens) == 1 and text_tokens.pop() > 10


def test_left_padding_keeps_greedy_outputs(tiny_qwen, faces):
    single = get_model("hf", {"pretrained": str(tiny_qwen), "batch_size": 1})
    pairs = get_model("hf", {"pretrained": str(tiny_qwen), "batch_size": 2})
    triple = get_model("hf", {"pretrained": str(tiny_qwen), "batch_size": 3})
    reqs = _requests(faces, max_new_tokens=10)
    one = [o.text for o in single.generate(reqs)]
    assert [o.text for o in pairs.generate(reqs)] == one
    assert [o.text for o in triple.generate(reqs)] == one
    assert [o.text for o in triple.generate(reqs[::-1])] == one[::-1]  # order follows the requests
    assert len(set(one)) == 3


def test_matches_plain_transformers_and_stops_at_eos(tiny_qwen, faces, tmp_path):
    """Oracle: transformers' own generate; then an EOS id taken from its output ends generation."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    proc = AutoProcessor.from_pretrained(tiny_qwen)
    model = AutoModelForImageTextToText.from_pretrained(tiny_qwen)
    msgs = [
        {"role": "user", "content": [{"type": "image", "image": faces[0]}, {"type": "text", "text": PROMPT}]}
    ]
    enc = proc.apply_chat_template(
        msgs, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    new = model.generate(**enc, max_new_tokens=8, do_sample=False)[0, enc["input_ids"].shape[1] :].tolist()

    adapter = get_model("hf", {"pretrained": str(tiny_qwen)})
    req = GenerationRequest("a", faces[0], PROMPT, gen_kwargs={"max_new_tokens": 8})
    out = adapter.generate([req])[0]
    assert out.text == proc.tokenizer.decode(new, skip_special_tokens=True)
    assert out.input_tokens == enc["input_ids"].shape[1]
    assert out.output_tokens == 8 and out.finish_reason == "length"

    # Same checkpoint, but the 3rd generated token now also ends a turn.
    stop_id = new[2]
    k = new.index(stop_id)
    copy = tmp_path / "eos-copy"
    shutil.copytree(tiny_qwen, copy)
    cfg_path = copy / "generation_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["eos_token_id"] = [cfg["eos_token_id"], stop_id]
    cfg_path.write_text(json.dumps(cfg))
    eos_adapter = get_model("hf", {"pretrained": str(copy)})
    other = GenerationRequest("b", faces[2], PROMPT + " Be brief.", gen_kwargs={"max_new_tokens": 8})
    stopped, _ = eos_adapter.generate([req, other])
    assert stopped.finish_reason == "stop"
    assert stopped.output_tokens == k + 1  # up to and including the EOS; padding after it excluded
    assert stopped.text == proc.tokenizer.decode(new[: k + 1], skip_special_tokens=True)


def test_stop_strings_cut_text(qwen, faces):
    req = GenerationRequest("a", faces[1], PROMPT, gen_kwargs={"max_new_tokens": 12})
    full = qwen.generate([req])[0].text
    cut_at = next((i for i, ch in enumerate(full) if i > 0 and ch.isascii() and ch.isprintable()), None)
    assert cut_at is not None, f"tiny model output has no ASCII character to stop at: {full!r}"
    stop = full[cut_at]
    req.gen_kwargs = {"max_new_tokens": 12, "stop": [stop]}
    out = qwen.generate([req])[0]
    assert out.text == full[: full.index(stop)]
    assert out.finish_reason == "stop"


def test_short_budget_is_length(qwen, faces):
    out = qwen.generate(_requests(faces[:1], max_new_tokens=2))[0]
    assert (out.finish_reason, out.output_tokens) == ("length", 2)


def test_bad_requests_fail_alone(qwen, faces):
    reqs = _requests(faces, max_new_tokens=5)
    good = [o.text for o in qwen.generate(reqs)]
    sliver = Image.new("RGB", (300, 1), (90, 60, 50))  # aspect ratio 300: Qwen's processor refuses it
    bad_batch = [
        reqs[0],
        GenerationRequest("sliver", sliver, PROMPT, gen_kwargs={"max_new_tokens": 5}),
        reqs[1],
        GenerationRequest("not-an-image", "face.jpg", PROMPT),  # type: ignore[arg-type]
        GenerationRequest("bad-kwargs", faces[2], PROMPT, gen_kwargs={"beam_width": 3}),
        reqs[2],
    ]
    outs = qwen.generate(bad_batch)
    assert [o.text for o in outs[::5]] == [good[0], good[2]] and outs[2].text == good[1]
    assert "aspect ratio" in outs[1].error and outs[1].text is None
    assert "not a PIL image" in outs[3].error
    assert "beam_width" in outs[4].error and "supported" in outs[4].error


def test_seeded_sampling(qwen, faces):
    def sample(seed):
        reqs = _requests(faces[:2], max_new_tokens=8, temperature=1.0, seed=seed)
        return [o.text for o in qwen.generate(reqs)]

    assert sample(123) == sample(123)
    assert sample(123) != sample(7)


def test_frames(tiny_qwen, qwen):
    assert qwen.frame == "pixel-resized"
    assert qwen.describe()["frame_source"] == "family"
    override = get_model("hf", {"pretrained": str(tiny_qwen)}, AdapterContext(box_frame="norm1000"))
    assert override.frame == "norm1000" and override.describe()["frame_source"] == "override"
    with pytest.raises(ValueError, match="unknown box frame"):
        get_model("hf", {"pretrained": str(tiny_qwen)}, AdapterContext(box_frame="percent"))


def test_frame_table():
    expected = {
        "qwen2_vl": "norm1000",
        "qwen2_5_vl": "pixel-resized",
        "qwen3_vl": "norm1000",
        "internvl": "norm1000",
        "llava": "norm1",
        "llava_next": "norm1",
        "paligemma": "loc1024-yxyx",
        "gemma3": "pixel",
        "idefics3": "pixel",
        "smolvlm": "pixel",
    }
    assert {k: frame_for(k).frame for k in expected} == expected
    assert all(frame_for(k).warning is None for k in FAMILY_FRAMES)
    unknown = frame_for("some_new_vlm")
    assert unknown.frame == "pixel" and "some_new_vlm" in unknown.warning


def test_fingerprint_identity(tiny_qwen, tiny_llava, tmp_path):
    from tag_bench.testing.tiny_models import build_tiny_qwen2_5_vl

    fp = get_model("hf", {"pretrained": str(tiny_qwen)}).fingerprint()
    assert get_model("hf", {"pretrained": str(tiny_qwen)}).fingerprint() == fp  # stable across loads
    moved = shutil.copytree(tiny_qwen, tmp_path / "moved")  # new path, new mtimes, same content
    assert get_model("hf", {"pretrained": str(moved)}).fingerprint() == fp
    reseeded = build_tiny_qwen2_5_vl(tmp_path / "seed1", seed=1)  # same shapes, other weights
    assert get_model("hf", {"pretrained": str(reseeded)}).fingerprint() != fp
    assert get_model("hf", {"pretrained": str(tiny_llava)}).fingerprint() != fp
    assert get_model("hf", {"pretrained": str(tiny_qwen), "max_pixels": 112 * 112}).fingerprint() != fp
    assert get_model("hf", {"pretrained": str(tiny_qwen), "dtype": "bfloat16"}).fingerprint() != fp
    # What does not change outputs does not change the fingerprint.
    assert get_model("hf", {"pretrained": str(tiny_qwen), "batch_size": 2}).fingerprint() == fp


def test_pixel_limits_reach_the_processor(tiny_qwen, faces):
    big = get_model("hf", {"pretrained": str(tiny_qwen), "min_pixels": 200 * 200})
    assert big.describe()["pixel_limits"] == {"min_pixels": 40000, "max_pixels": 50176}
    out = big.generate(_requests(faces[2:], max_new_tokens=1))[0]
    assert out.input_size == (224, 224)  # 100x100 scaled up to reach 40,000 pixels, multiples of 28
    with pytest.raises(ValueError, match="larger than max_pixels"):
        get_model("hf", {"pretrained": str(tiny_qwen), "min_pixels": 9000, "max_pixels": 4000})


def test_describe_and_args(qwen, tiny_qwen):
    info = qwen.describe()
    assert info["pretrained"] == str(tiny_qwen) and info["model_type"] == "qwen2_5_vl"
    assert info["pixel_limits"] == {"min_pixels": 3136, "max_pixels": 50176}
    assert info["model_identity"]["kind"] == "local"
    assert "warnings" not in info
    with pytest.raises(ValueError, match="accepted: pretrained"):
        get_model("hf", {"pretrained": str(tiny_qwen), "temperature": 0.5})
    with pytest.raises(ValueError, match="dtype"):
        get_model("hf", {"pretrained": str(tiny_qwen), "dtype": "int3"})


def test_checkpoint_without_chat_template_is_refused(tiny_qwen, tmp_path):
    copy = shutil.copytree(tiny_qwen, tmp_path / "no-template")
    (copy / "chat_template.jinja").unlink()
    with pytest.raises(ValueError, match="no chat template"):
        get_model("hf", {"pretrained": str(copy)})


def test_missing_extra_names_hf(monkeypatch, tiny_qwen):
    monkeypatch.setitem(sys.modules, "transformers", None)  # what an environment without it looks like
    with pytest.raises(MissingExtraError, match=r"tag-bench\[hf\]"):
        get_model("hf", {"pretrained": str(tiny_qwen)})


# --------------------------------------------------------------------------------------------------
# LLaVA


def test_llava_end_to_end(tiny_llava, faces):
    adapter = get_model("hf", {"pretrained": str(tiny_llava), "max_pixels": 1000})
    assert adapter.frame == "norm1"
    assert any("min_pixels/max_pixels ignored" in w for w in adapter.describe()["warnings"])
    reqs = _requests(faces, max_new_tokens=7)
    outs = adapter.generate(reqs)
    singles = [adapter.generate([r])[0] for r in reqs]
    assert [o.text for o in outs] == [s.text for s in singles]
    assert [o.input_tokens for o in outs] == [s.input_tokens for s in singles]
    assert len({o.input_tokens for o in outs}) == 3  # different prompt lengths: the batch was padded
    for o in outs:
        assert o.error is None and o.input_size == (28, 28)  # the CLIP processor's centre crop
        assert o.output_tokens == 7 and o.finish_reason == "length"


def test_tiny_builds_are_cached_and_deterministic(tiny_llava, tmp_path):
    from tag_bench.models._identity import local_dir_digest
    from tag_bench.testing.tiny_models import build_tiny_llava, tiny_model_dir

    assert tiny_model_dir("llava", seed=0) == tiny_llava
    rebuilt = build_tiny_llava(tmp_path / "again", seed=0)
    assert local_dir_digest(str(rebuilt)) == local_dir_digest(str(tiny_llava))
    with pytest.raises(ValueError, match="unknown tiny architecture"):
        tiny_model_dir("gpt2")


# --------------------------------------------------------------------------------------------------
# Pure helpers


def test_count_output():
    eos = {2, 9}
    assert _count_output([5, 6, 2, 0, 0], eos, pad_id=0) == (3, True)
    assert _count_output([5, 9, 2, 2], eos, pad_id=2) == (2, True)  # pad == eos
    assert _count_output([5, 6, 7], eos, pad_id=0) == (3, False)
    assert _count_output([5, 6, 0, 0], eos, pad_id=0) == (2, False)  # a stop string ended it


def test_gen_settings():
    greedy = gen_settings({})
    assert (greedy.max_new_tokens, greedy.do_sample, greedy.temperature) == (512, False, None)
    hot = gen_settings({"temperature": 0.7, "top_p": 0.9}, default_seed=5)
    assert (hot.do_sample, hot.temperature, hot.top_p, hot.seed) == (True, 0.7, 0.9, 5)
    assert not gen_settings({"temperature": 0.7, "do_sample": False}).do_sample
    assert not gen_settings({"temperature": 0, "do_sample": True}).do_sample
    assert gen_settings({"stop": "</answer>"}).stop == ("</answer>",)
    for bad in ({"max_new_tokens": 0}, {"temperature": -1}, {"top_p": 1.5}, {"seed": "x"}, {"stop": [""]}):
        with pytest.raises(ValueError):
            gen_settings(bad)
    assert truncate_at_stop("a<answer>b</answer>c", ("</answer>", "<answer>")) == ("a", True)
    assert truncate_at_stop("abc", ("x",)) == ("abc", False)
