"""Tiny random VLM checkpoints built offline from configs, for tests of the model adapters.

Each builder trains a small byte-level BPE tokenizer on a few FER sentences (emotion words, AU codes,
``<answer>``, ``<bbox>[10,20,30,40]</bbox>``), adds the family's special tokens and chat template,
initialises a 2-layer, 32-wide model from a seed and saves everything with ``save_pretrained``, so
``AutoProcessor`` and ``AutoModelForImageTextToText`` load the directory like a hub checkpoint.
The weights are random: outputs are gibberish, but real, deterministic for a seed, and produced by
the same code paths (processor resize, chat template, batched generation) as a real model's.

Needs the ``hf`` extra (torch, transformers) and ``tokenizers``.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tag_bench._optional import require

#: Sentences the tokenizers are trained on.
CORPUS: tuple[str, ...] = (
    "Global analysis: the face looks relaxed and friendly.",
    "Verification loop:",
    "Inspect mouth region -> lip corners pulled up -> <bbox>[10,20,30,40]</bbox>",
    "Inspect eye region -> cheeks raised -> <bbox>[12,18,44,52]</bbox>",
    "Inspect inner brow -> brows lowered and drawn together -> <bbox>[5,6,7,8]</bbox>",
    "Final conclusion: Combined AU6 + AU12 indicate a dominant emotion of happiness.",
    "<answer> happiness </answer>",
    "AU1 AU2 AU4 AU5 AU6 AU7 AU9 AU10 AU12 AU14 AU15 AU17 AU20 AU23 AU25 AU26 AU45",
    "neutral happiness sadness surprise fear disgust anger contempt",
    "<answer> sadness </answer> <answer> surprise </answer> <answer> anger </answer>",
    "<answer> fear </answer> <answer> disgust </answer> <answer> neutral </answer> <answer> contempt </answer>",
    "You are a helpful assistant. What emotion does this face show? Answer with one label.",
    "The image is 512x512 pixels. Give boxes as [x1,y1,x2,y2] in pixels.",
)

QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen2-VL's template, reduced to what one image and text per turn need.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

LLAVA_SPECIAL_TOKENS: tuple[str, ...] = ("<pad>", "<s>", "</s>", "<unk>", "<image>")

# LLaVA-1.5's "USER: <image>\n... ASSISTANT:" conversation format.
LLAVA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{{ c['text'] }}{% endfor %}{% endif %}\n"
    "{% elif message['role'] == 'user' %}USER: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'image' %}<image>\n{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}\n"
    "{% else %}ASSISTANT: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for c in message['content'] %}{{ c['text'] }}{% endfor %}{% endif %}</s>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

#: Processor pixel budget of the tiny Qwen2.5-VL: small, so tests run fast. A 100x100 image becomes
#: 112x112 (4x4 merged tokens), a 512x512 one 224x224 (the 50,176-pixel cap), a 48x48 one 56x56.
TINY_QWEN_MIN_PIXELS = 56 * 56
TINY_QWEN_MAX_PIXELS = 28 * 28 * 64

#: Weight init scale. Checkpoint defaults (0.02) leave a 2-layer random model deaf to its input (every
#: image gets the same reply), which would hide batching and padding bugs; at 0.5 replies differ per
#: image and prompt while staying finite.
INIT_RANGE = 0.5


def _train_tokenizer(special: tuple[str, ...], vocab_size: int = 400) -> Any:
    tk = require("tokenizers", "hf", "Building a tiny test tokenizer")
    tok = tk.Tokenizer(tk.models.BPE())
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special),
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(CORPUS) * 4, trainer)
    return tok


def _seeded_model(cls: Any, config: Any, seed: int) -> Any:
    torch = require("torch", "hf", "Building a tiny test model")
    for cfg in (config, getattr(config, "text_config", None), getattr(config, "vision_config", None)):
        if cfg is not None:
            cfg.initializer_range = INIT_RANGE
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    return model.eval()


def build_tiny_qwen2_5_vl(path: str | Path, seed: int = 0, hidden_size: int = 32, num_heads: int = 4) -> Path:
    """Save a tiny random Qwen2.5-VL (2 layers, hidden size 32) with its processor under ``path``.

    ``hidden_size``/``num_heads`` widen it where kernels need a larger head size (vLLM's attention
    backends want head sizes such as 64); the text model keeps half as many KV heads as heads.
    """
    tf = require("transformers", "hf", "Building a tiny test model")
    head_dim = hidden_size // num_heads
    if hidden_size % num_heads or head_dim % 8 or num_heads % 2:
        raise ValueError("hidden_size / num_heads must be a multiple of 8, with an even number of heads")
    path = Path(path)
    tok = tf.PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(QWEN_SPECIAL_TOKENS),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
    )
    tok.chat_template = QWEN_CHAT_TEMPLATE
    processor = tf.Qwen2_5_VLProcessor(
        image_processor=tf.Qwen2VLImageProcessor(
            min_pixels=TINY_QWEN_MIN_PIXELS, max_pixels=TINY_QWEN_MAX_PIXELS
        ),
        tokenizer=tok,
        video_processor=tf.Qwen2VLVideoProcessor(),
        chat_template=QWEN_CHAT_TEMPLATE,
    )
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    special = {
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    config = tf.Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=2,
            num_attention_heads=num_heads,
            num_key_value_heads=num_heads // 2,
            max_position_embeddings=4096,
            # t/h/w rotary sections must add up to half the head size.
            rope_scaling={"type": "mrope", "mrope_section": [head_dim // 4, head_dim // 8, head_dim // 8]},
            **special,
        ),
        vision_config=dict(
            depth=2,
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_heads=num_heads,
            out_hidden_size=hidden_size,
            fullatt_block_indexes=[1],
            window_size=56,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        **special,
    )
    model = _seeded_model(tf.Qwen2_5_VLForConditionalGeneration, config, seed)
    model.generation_config = tf.GenerationConfig(**special)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def build_tiny_llava(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny random LLaVA-1.5 (CLIP 28-px vision tower, Llama text model) under ``path``."""
    tf = require("transformers", "hf", "Building a tiny test model")
    path = Path(path)
    tok = tf.PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(LLAVA_SPECIAL_TOKENS),
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=["<image>"],
    )
    tok.chat_template = LLAVA_CHAT_TEMPLATE
    processor = tf.LlavaProcessor(
        image_processor=tf.CLIPImageProcessor(
            size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}
        ),
        tokenizer=tok,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_CHAT_TEMPLATE,
    )
    special = {
        "bos_token_id": tok.convert_tokens_to_ids("<s>"),
        "eos_token_id": tok.convert_tokens_to_ids("</s>"),
        "pad_token_id": tok.convert_tokens_to_ids("<pad>"),
    }
    config = tf.LlavaConfig(
        vision_config=tf.CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=28,
            patch_size=14,
            projection_dim=32,
        ),
        text_config=tf.LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            **special,
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
        **special,
    )
    model = _seeded_model(tf.LlavaForConditionalGeneration, config, seed)
    model.generation_config = tf.GenerationConfig(**special)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


BUILDERS: dict[str, Callable[[str | Path, int], Path]] = {
    "qwen2_5_vl": build_tiny_qwen2_5_vl,
    "llava": build_tiny_llava,
}

_cache: dict[tuple[str, int], Path] = {}
_cache_lock = threading.Lock()
_cache_root: Path | None = None


def tiny_model_dir(arch: str = "qwen2_5_vl", seed: int = 0) -> Path:
    """A tiny checkpoint of ``arch`` built once per process (in a temp dir removed at exit)."""
    global _cache_root
    if arch not in BUILDERS:
        raise ValueError(f"unknown tiny architecture {arch!r}; known: {', '.join(BUILDERS)}")
    with _cache_lock:
        key = (arch, seed)
        if key not in _cache:
            if _cache_root is None:
                _cache_root = Path(tempfile.mkdtemp(prefix="tag-bench-tiny-"))
                atexit.register(shutil.rmtree, _cache_root, True)
            _cache[key] = BUILDERS[arch](_cache_root / f"{arch}-seed{seed}", seed)
        return _cache[key]


def main(argv: list[str] | None = None) -> None:
    """``python -m tag_bench.testing.tiny_models OUT_DIR [--arch qwen2_5_vl|llava] [--seed N]``."""
    import argparse

    ap = argparse.ArgumentParser(description="Build a tiny random VLM offline (for trying the pipeline).")
    ap.add_argument("out", type=Path)
    ap.add_argument("--arch", choices=sorted(BUILDERS), default="qwen2_5_vl")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(BUILDERS[args.arch](args.out, args.seed))


if __name__ == "__main__":
    main()
