"""``hf``: any transformers image-text-to-text model, batched, left-padded, greedy by default.

Model args: ``pretrained`` (hub id or local dir), ``revision``, ``dtype`` (auto = the checkpoint's
dtype, bfloat16, float16, float32), ``device_map`` (default ``cuda`` when available, else ``cpu``),
``attn_implementation``, ``min_pixels``/``max_pixels`` (image processors with a pixel budget: the
Qwen2/2.5/3-VL family), ``trust_remote_code`` (default False), ``batch_size`` (largest batch sent to
``generate`` at once; the engine's batches are split to fit).

The processor and config load when the adapter is built (cheap, and they decide the fingerprint and
the frame); the weights load on the first ``generate`` call, so a fully cached run never loads them.

``input_size`` (what the model saw after its processor's resize), per family:

=====================================  =================================================================
Qwen2-VL, Qwen2.5-VL, Qwen3-VL         ``image_grid_thw`` x the processor's ``patch_size`` (14, or 16 for
(any processor returning a grid)       Qwen3-VL): exact, and the frame Qwen2.5-VL's pixel boxes live in
LLaVA-1.5, Gemma 3, PaliGemma          ``pixel_values`` height/width (one fixed-size crop per image):
(one 4-D crop per image)               336x336, 896x896, 224/448/896. For LLaVA-1.5 that is a centre crop
                                       of the short-edge resize, not the whole image
InternVL-hf                            the tile size when every image became a single tile, else None
LLaVA-NeXT, Idefics3/SmolVLM,          None: the image is tiled (any-res / image splitting), so no single
Gemma 3 with pan-and-scan              resized frame exists; their boxes are not in resized pixels anyway
=====================================  =================================================================

Box frames per family come from :mod:`tag_bench.models._frames`; ``context.box_frame`` overrides.

It imports neither torch nor transformers at module level.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
from functools import lru_cache
from typing import Any

from pydantic import Field, PositiveInt, field_validator, model_validator

from tag_bench._optional import require
from tag_bench.models._frames import (
    FrameChoice,
    check_pixel_limits,
    family_frames_help,
    frame_details,
    frame_for,
)
from tag_bench.models._identity import check_checkpoint, model_identity
from tag_bench.models.base import (
    AdapterArgs,
    AdapterContext,
    FatalAdapterError,
    GenerationOutput,
    GenerationRequest,
    ModelAdapter,
    ScoreOutput,
    ScoreRequest,
    fingerprint_of,
)
from tag_bench.models.requests import (
    GenSettings,
    chat_messages,
    error_text,
    group_requests,
    rgb,
    truncate_at_stop,
)

log = logging.getLogger(__name__)

_DTYPES = {
    "auto": "auto",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
}

# --------------------------------------------------------------------------------------------------
# The adapter


class HFAdapter(ModelAdapter):
    """Transformers image-text-to-text models (Qwen2/2.5/3-VL, LLaVA, InternVL-hf, Gemma 3, Idefics3, ...).

    Drives ``AutoModelForImageTextToText`` with its processor and chat template.
    """

    name = "hf"
    cacheable = True
    timed = True

    class Args(AdapterArgs):
        pretrained: str = Field(min_length=1, description="hub id or local checkpoint directory")
        revision: str | None = Field(None, description="hub branch, tag or commit")
        dtype: str = Field("auto", description="auto (the checkpoint's), bfloat16, float16 or float32")
        device_map: str | dict[str, Any] | None = Field(
            None, description="transformers device_map (default: cuda when available, else cpu)"
        )
        attn_implementation: str | None = Field(None, description="e.g. sdpa, flash_attention_2")
        min_pixels: PositiveInt | None = Field(None, description="pixel budget floor (Qwen-VL processors)")
        max_pixels: PositiveInt | None = Field(None, description="pixel budget ceiling (Qwen-VL processors)")
        trust_remote_code: bool = Field(False, description="run the checkpoint's own Python code")
        batch_size: PositiveInt | None = Field(None, description="largest batch sent to generate at once")

        @field_validator("pretrained")
        @classmethod
        def _existing_local_path(cls, v: str) -> str:
            return check_checkpoint(v)

        @field_validator("dtype")
        @classmethod
        def _known_dtype(cls, v: str) -> str:
            if v.lower() not in _DTYPES:
                raise ValueError(f"dtype must be one of {', '.join(sorted(set(_DTYPES)))}; got {v!r}")
            return v

        @model_validator(mode="after")
        def _pixel_order(self) -> HFAdapter.Args:
            check_pixel_limits(self.min_pixels, self.max_pixels)
            return self

    args: Args

    @classmethod
    def describe_frame(cls) -> str:
        return family_frames_help()

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        torch = require("torch", "hf", "The hf model adapter")
        transformers = require("transformers", "hf", "The hf model adapter")
        a = self.args
        self.pretrained = a.pretrained
        self.revision = a.revision
        self.dtype = _DTYPES[a.dtype.lower()]
        self.device_map = a.device_map or ("cuda" if torch.cuda.is_available() else "cpu")
        self.attn_implementation = a.attn_implementation
        self.trust_remote_code = a.trust_remote_code
        self.batch_size = a.batch_size
        self._transformers_version = transformers.__version__
        self._model: Any = None

        load_kw: dict[str, Any] = {"revision": a.revision, "trust_remote_code": self.trust_remote_code}
        self.config = transformers.AutoConfig.from_pretrained(a.pretrained, **load_kw)
        self.model_type: str | None = getattr(self.config, "model_type", None)
        self.processor = transformers.AutoProcessor.from_pretrained(a.pretrained, **load_kw)
        self.image_processor: Any = getattr(self.processor, "image_processor", None)
        self.tokenizer: Any = getattr(self.processor, "tokenizer", None)
        if self.image_processor is None or self.tokenizer is None:
            raise ValueError(
                f"{a.pretrained!r} has no image processor and tokenizer ({type(self.processor).__name__}); "
                "the hf adapter needs an image-text-to-text model"
            )
        if not (
            getattr(self.processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None)
        ):
            raise ValueError(
                f"{a.pretrained!r} has no chat template; the hf adapter needs an instruction-tuned (chat) checkpoint"
            )
        self.tokenizer.padding_side = "left"  # decoder-only batching: prompts end where generation starts
        self._pixel_limits = self._apply_pixel_limits(a.min_pixels, a.max_pixels)
        self._family: FrameChoice = frame_for(self.model_type)
        if self._family.warning and self.frame_override is None:
            self.warnings.append(self._family.warning)
            log.warning("%s", self._family.warning)
        self._identity = model_identity(a.pretrained, a.revision, getattr(self.config, "_commit_hash", None))
        self._eos_ids: set[int] = set()

    # ---------------------------------------------------------------------------------- contract

    def declared_frame(self) -> str:
        return self._family.frame

    def fingerprint(self) -> str:
        return fingerprint_of(
            self.name,
            self._identity,
            self.dtype,
            self.attn_implementation,
            self._pixel_limits,
            self._transformers_version,
        )

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            {
                "model_type": self.model_type,
                "model_identity": self._identity,
                **frame_details(self.frame_override, self._family),
                "pixel_limits": self._pixel_limits,
                "device_map": self.device_map if isinstance(self.device_map, str) else "custom",
                "transformers": self._transformers_version,
            }
        )
        if self.warnings:
            info["warnings"] = list(self.warnings)
        return info

    @property
    def device(self) -> str:
        return self.device_map if isinstance(self.device_map, str) else "custom device_map"

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        outputs, groups = group_requests(requests, self.context.seed)
        if groups:
            self.load()
        for settings, idxs in groups.values():
            step = self.batch_size or len(idxs)
            for start in range(0, len(idxs), step):
                chunk = idxs[start : start + step]
                for i, out in zip(
                    chunk, self._run_resilient([requests[i] for i in chunk], settings), strict=True
                ):
                    outputs[i] = out
        return [o if o is not None else GenerationOutput(text=None, error="no output") for o in outputs]

    def scoring_unavailable(self) -> str | None:
        return None

    def score(self, requests: list[ScoreRequest]) -> list[ScoreOutput]:
        """Teacher-forced log-probability of each request's target after its prefix (one forward pass per
        request; a request that fails gets its error)."""
        if requests:
            self.load()
        out = []
        for req in requests:
            try:
                out.append(self._score_one(req))
            except Exception as e:
                _free_cuda_cache()
                out.append(ScoreOutput(logprob=None, error=error_text(e)))
        return out

    def _score_one(self, req: ScoreRequest) -> ScoreOutput:
        import torch

        model = self._model
        gen = GenerationRequest(
            sample_id=req.sample_id, image=req.image, prompt=req.prompt, system=req.system
        )
        conv = chat_messages(gen, {"type": "image", "image": rgb(req.image)})
        head = self.processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
        image = rgb(req.image)
        before = self.processor(text=[head + req.prefix], images=[image], return_tensors="pt")
        full = self.processor(text=[head + req.prefix + req.target], images=[image], return_tensors="pt")
        ids = full["input_ids"][0]
        start = _common_prefix(before["input_ids"][0].tolist(), ids.tolist())
        if start >= len(ids) or start < 1:
            return ScoreOutput(logprob=None, error="the target adds no token to the reply")
        enc = full.to(model.device, dtype=model.dtype)
        with torch.inference_mode():
            logits = model(**enc).logits[0].float()
        logp = torch.log_softmax(logits[start - 1 : len(ids) - 1], dim=-1)
        target = ids[start:].to(logp.device)
        total = logp.gather(1, target[:, None]).sum().item()
        return ScoreOutput(logprob=float(total), n_tokens=int(target.numel()))

    def close(self) -> None:
        if self._model is None:
            return
        self._model = None
        gc.collect()
        _free_cuda_cache()

    # ---------------------------------------------------------------------------------- loading

    def load(self) -> None:
        """Load the weights (done by the first ``generate``; call it to pay the cost up front)."""
        if self._model is not None:
            return
        from transformers import AutoModelForImageTextToText

        kw: dict[str, Any] = {
            "revision": self.revision,
            "trust_remote_code": self.trust_remote_code,
            "dtype": self.dtype,
            "device_map": self.device_map,
        }
        if self.attn_implementation:
            kw["attn_implementation"] = self.attn_implementation
        try:
            model = AutoModelForImageTextToText.from_pretrained(self.pretrained, **kw)
        except Exception as e:  # no request can succeed without the weights
            raise FatalAdapterError(
                f"cannot load the weights of {self.pretrained!r}: {type(e).__name__}: {e}"
            ) from e
        model.eval()
        self._model = model
        self._eos_ids = self._collect_eos_ids()

    def _apply_pixel_limits(self, min_pixels: int | None, max_pixels: int | None) -> dict[str, int] | None:
        """Set the processor's pixel budget where it has one; returns the limits in force."""
        ip = self.image_processor
        size: Any = getattr(ip, "size", None)
        lo, hi = _size_get(size, "shortest_edge"), _size_get(size, "longest_edge")
        has_budget = (
            lo is not None and hi is not None and (hasattr(ip, "min_pixels") or _accepts_pixel_kwargs(ip))
        )
        if not has_budget:
            if min_pixels is not None or max_pixels is not None:
                msg = (
                    f"min_pixels/max_pixels ignored: {type(ip).__name__} ({self.model_type}) has no pixel "
                    "budget; its own config fixes the image size"
                )
                self.warnings.append(msg)
                log.warning("%s", msg)
            return None
        lo = min_pixels if min_pixels is not None else int(lo)
        hi = max_pixels if max_pixels is not None else int(hi)
        if lo > hi:
            raise ValueError(f"min_pixels ({lo}) is larger than max_pixels ({hi}) for {self.pretrained!r}")
        if isinstance(size, dict):
            ip.size = {**size, "shortest_edge": lo, "longest_edge": hi}
        else:  # transformers 5's SizeDict dataclass
            ip.size = dataclasses.replace(size, shortest_edge=lo, longest_edge=hi)
        for attr, v in (("min_pixels", lo), ("max_pixels", hi)):
            if hasattr(ip, attr):
                setattr(ip, attr, v)
        return {"min_pixels": lo, "max_pixels": hi}

    def _collect_eos_ids(self) -> set[int]:
        """Every id that ends a turn: generation config, model config (and its text config), tokenizer."""
        ids: set[int] = set()
        text_cfg = getattr(self.config, "text_config", None)
        for source in (
            getattr(self._model.generation_config, "eos_token_id", None),
            getattr(self.config, "eos_token_id", None),
            getattr(text_cfg, "eos_token_id", None),
            getattr(self.tokenizer, "eos_token_id", None),
        ):
            ids.update(_as_ids(source))
        return ids

    # ---------------------------------------------------------------------------------- generation

    def _run_resilient(self, batch: list[GenerationRequest], settings: GenSettings) -> list[GenerationOutput]:
        """Run a batch; if it raises, run its requests one by one so only the bad one fails."""
        try:
            return self._run_batch(batch, settings)
        except Exception as e:
            _free_cuda_cache()
            if len(batch) == 1:
                return [GenerationOutput(text=None, error=error_text(e))]
            log.warning(
                "batch of %d failed (%s); retrying its requests one by one", len(batch), error_text(e)
            )
            return [self._run_resilient([req], settings)[0] for req in batch]

    def _run_batch(self, batch: list[GenerationRequest], settings: GenSettings) -> list[GenerationOutput]:
        import torch

        model = self._model
        convs = [chat_messages(req, {"type": "image", "image": rgb(req.image)}) for req in batch]
        enc = self.processor.apply_chat_template(
            convs,
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
            **_padding_kwargs(self.processor),
        )
        sizes = self._input_sizes(enc, len(batch))
        enc = enc.to(model.device, dtype=model.dtype)
        prompt_width = int(enc["input_ids"].shape[1])
        input_tokens = [int(n) for n in enc["attention_mask"].sum(dim=1).tolist()]
        gen_kw = self._generate_kwargs(settings)
        if settings.do_sample and settings.seed is not None:
            torch.manual_seed(settings.seed)
        with torch.inference_mode():
            out = model.generate(**enc, **gen_kw)
        new_tokens = out[:, prompt_width:].tolist()
        pad_id = gen_kw.get("pad_token_id")
        results = []
        for row, n_in, size in zip(new_tokens, input_tokens, sizes, strict=True):
            count, hit_eos = _count_output(row, self._eos_ids, pad_id)
            text = self.tokenizer.decode(row[:count], skip_special_tokens=True)
            text, hit_stop = truncate_at_stop(text, settings.stop)
            finish = "stop" if hit_eos or hit_stop or count < settings.max_new_tokens else "length"
            results.append(
                GenerationOutput(
                    text=text,
                    finish_reason=finish,
                    input_tokens=n_in,
                    output_tokens=count,
                    input_size=size,
                )
            )
        return results

    def _generate_kwargs(self, s: GenSettings) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": s.max_new_tokens, "do_sample": s.do_sample}
        if s.do_sample:
            for key in ("temperature", "top_p", "top_k"):
                if getattr(s, key) is not None:
                    kw[key] = getattr(s, key)
        else:  # a checkpoint's sampling defaults would only trigger "ignored when greedy" warnings
            kw.update(temperature=None, top_p=None, top_k=None)
        if s.repetition_penalty is not None:
            kw["repetition_penalty"] = s.repetition_penalty
        if s.stop:
            kw["stop_strings"] = list(s.stop)
            kw["tokenizer"] = self.tokenizer
        pad = getattr(self._model.generation_config, "pad_token_id", None)
        if pad is None:
            pad = self.tokenizer.pad_token_id
        if pad is None and self._eos_ids:
            pad = min(self._eos_ids)
        if pad is not None:
            kw["pad_token_id"] = pad
        if self._eos_ids:
            kw["eos_token_id"] = sorted(self._eos_ids)
        return kw

    def _input_sizes(self, enc: Any, n: int) -> list[tuple[int, int] | None]:
        """(w, h) each image was resized to by the processor, where one such size exists."""
        grid = enc.get("image_grid_thw")
        patch = getattr(self.image_processor, "patch_size", None)
        if grid is not None and isinstance(patch, int) and int(grid.shape[0]) == n:
            return [(int(w) * patch, int(h) * patch) for _, h, w in grid.tolist()]
        pv = enc.get("pixel_values")
        if grid is None and pv is not None and pv.ndim == 4 and int(pv.shape[0]) == n:
            return [(int(pv.shape[3]), int(pv.shape[2]))] * n
        return [None] * n


def _common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens two token lists share (where the scored span starts)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _count_output(row: list[int], eos_ids: set[int], pad_id: int | None) -> tuple[int, bool]:
    """Generated tokens up to and including the first EOS (padding after it excluded)."""
    for k, tok in enumerate(row):
        if tok in eos_ids:
            return k + 1, True
    count = len(row)
    if pad_id is not None and pad_id not in eos_ids:  # rows stopped by a stop string are padded
        while count > 0 and row[count - 1] == pad_id:
            count -= 1
    return count, False


def _size_get(size: Any, key: str) -> Any:
    if isinstance(size, dict):
        return size.get(key)
    return getattr(size, key, None)


def _as_ids(v: Any) -> list[int]:
    if v is None:
        return []
    if isinstance(v, int):
        return [v]
    return [int(x) for x in v]


def _accepts_pixel_kwargs(ip: Any) -> bool:
    valid = getattr(ip, "valid_kwargs", None)
    return "min_pixels" in getattr(valid, "__annotations__", {})


@lru_cache(maxsize=8)
def _takes_processor_kwargs(cls: Any) -> bool:
    import inspect

    return "processor_kwargs" in inspect.signature(cls.apply_chat_template).parameters


def _padding_kwargs(processor: Any) -> dict[str, Any]:
    """``padding=True`` in the form this transformers version wants (5.x: ``processor_kwargs``)."""
    if _takes_processor_kwargs(processor.__class__):
        return {"processor_kwargs": {"padding": True}}
    return {"padding": True}


def _free_cuda_cache() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass
