"""``vllm``: the vLLM offline engine (``vllm.LLM``), the throughput path for large runs.

Model args: ``pretrained`` (or its alias ``model``; hub id or local dir), ``revision``,
``tensor_parallel_size`` (default 1), ``data_parallel_size`` (passed to vLLM's engine args as is;
whether one offline ``LLM`` honours it depends on the vLLM version, see vLLM's data-parallel docs),
``dtype`` (default auto), ``max_model_len``, ``gpu_memory_utilization`` (default 0.9),
``limit_mm_per_prompt`` (default one image), ``min_pixels``/``max_pixels`` (sent as
``mm_processor_kwargs``), ``seed``, ``enforce_eager``, ``trust_remote_code`` (default False).

Requests go through ``LLM.chat`` as OpenAI-style conversations (an ``image_pil`` part holding the
PIL image, then the prompt), all of one ``generate`` call at once with one ``SamplingParams`` per
request; vLLM schedules them itself. If that call raises, the requests are retried one by one so only
the bad one gets an error.

``input_size``: vLLM does not report the processed image size. For processors with a pixel budget
(the Qwen2/2.5/3-VL family: ``patch_size``, ``merge_size`` and min/max pixels in the image processor
config) it is computed with Qwen's ``smart_resize`` rule (:func:`smart_resize`: sides rounded to
multiples of ``patch_size * merge_size``, 28 for Qwen2/2.5-VL and 32 for Qwen3-VL, total pixels kept
within [min_pixels, max_pixels], aspect ratio kept; as in transformers' Qwen2VLImageProcessor and
qwen-vl-utils), using the limits in force (``min_pixels``/``max_pixels`` when given, else the
checkpoint's). For other families it is None. Frames per family are shared with ``hf``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal, TypeGuard

from pydantic import AliasChoices, Field, PositiveInt, field_validator, model_validator

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
    GenerationOutput,
    GenerationRequest,
    ModelAdapter,
    ScoreOutput,
    ScoreRequest,
    fingerprint_of,
)
from tag_bench.models.requests import GenSettings, chat_messages, error_text, group_requests, rgb

log = logging.getLogger(__name__)


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 28 * 28 * 1280
) -> tuple[int, int]:
    """(height, width) a Qwen-VL processor resizes an image to (see module docstring)."""
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(
            f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def pixel_budget(image_processor_config: dict[str, Any]) -> dict[str, int] | None:
    """factor, min_pixels and max_pixels from an image processor's config, or None if it has none."""
    cfg = image_processor_config
    patch, merge = cfg.get("patch_size"), cfg.get("merge_size")
    size = cfg.get("size")
    if not isinstance(size, dict):
        size = {}
    lo = cfg.get("min_pixels") or size.get("shortest_edge") or size.get("min_pixels")
    hi = cfg.get("max_pixels") or size.get("longest_edge") or size.get("max_pixels")
    if not (_positive(patch) and _positive(merge) and _positive(lo) and _positive(hi)):
        return None
    return {"factor": patch * merge, "min_pixels": lo, "max_pixels": hi}


def _positive(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and v > 0


def sampling_kwargs(s: GenSettings) -> dict[str, Any]:
    """``vllm.SamplingParams`` arguments for one request's settings (temperature 0 = greedy)."""
    kw: dict[str, Any] = {"n": 1, "max_tokens": s.max_new_tokens, "temperature": 0.0}
    if s.do_sample:
        kw["temperature"] = s.temperature if s.temperature is not None else 1.0
        if s.top_p is not None:
            kw["top_p"] = s.top_p
        if s.top_k is not None:
            kw["top_k"] = s.top_k
        if s.seed is not None:
            kw["seed"] = s.seed
    if s.repetition_penalty is not None:
        kw["repetition_penalty"] = s.repetition_penalty
    if s.stop:
        kw["stop"] = list(s.stop)
    return kw


def engine_kwargs(args: VLLMAdapter.Args, seed: int | None) -> dict[str, Any]:
    """Arguments for ``vllm.LLM`` (None values left out)."""
    limit = dict(args.limit_mm_per_prompt) if args.limit_mm_per_prompt is not None else {"image": 1}
    kw: dict[str, Any] = {
        "model": args.pretrained,
        "revision": args.revision,
        "tensor_parallel_size": args.tensor_parallel_size,
        "data_parallel_size": args.data_parallel_size,
        "dtype": args.dtype,
        "max_model_len": args.max_model_len,
        "gpu_memory_utilization": float(args.gpu_memory_utilization),
        "limit_mm_per_prompt": limit,
        "seed": seed,
        "enforce_eager": args.enforce_eager,
        "trust_remote_code": args.trust_remote_code,
    }
    mm = {
        k: v for k, v in (("min_pixels", args.min_pixels), ("max_pixels", args.max_pixels)) if v is not None
    }
    if mm:
        kw["mm_processor_kwargs"] = mm
    return {k: v for k, v in kw.items() if v is not None}


class VLLMAdapter(ModelAdapter):
    """vLLM offline engine (GPU): the throughput path for large runs.

    Drives ``vllm.LLM.chat`` with one image and one prompt per request.
    """

    name = "vllm"
    cacheable = True
    timed = True

    class Args(AdapterArgs):
        pretrained: str = Field(
            min_length=1,
            validation_alias=AliasChoices("pretrained", "model"),
            description="hub id or local checkpoint directory (alias: model)",
        )
        revision: str | None = Field(None, description="hub branch, tag or commit")
        tensor_parallel_size: PositiveInt = Field(1, description="GPUs one model is split over")
        data_parallel_size: PositiveInt | None = Field(None, description="passed to vLLM's engine args as is")
        dtype: Literal["auto", "bfloat16", "float16", "float32", "half", "float"] = Field(
            "auto", description="weights dtype"
        )
        max_model_len: PositiveInt | None = Field(None, description="context length limit")
        gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="share of GPU memory vLLM takes")
        limit_mm_per_prompt: dict[str, PositiveInt] | None = Field(
            None, description="items per prompt, default {'image': 1}"
        )
        min_pixels: PositiveInt | None = Field(None, description="pixel budget floor (mm_processor_kwargs)")
        max_pixels: PositiveInt | None = Field(None, description="pixel budget ceiling (mm_processor_kwargs)")
        seed: int | None = Field(None, description="engine seed (default: the run's --seed)")
        enforce_eager: bool = Field(False, description="no CUDA graphs (slower, starts faster)")
        trust_remote_code: bool = Field(False, description="run the checkpoint's own Python code")

        @field_validator("pretrained")
        @classmethod
        def _existing_local_path(cls, v: str) -> str:
            return check_checkpoint(v)

        @model_validator(mode="before")
        @classmethod
        def _one_checkpoint(cls, data: Any) -> Any:
            if isinstance(data, dict) and "pretrained" in data and "model" in data:
                if data["pretrained"] != data["model"]:
                    raise ValueError("give the checkpoint once: pretrained= or model=, not both")
                data = {k: v for k, v in data.items() if k != "model"}
            return data

        @model_validator(mode="after")
        def _pixel_order(self) -> VLLMAdapter.Args:
            check_pixel_limits(self.min_pixels, self.max_pixels)
            return self

    args: Args

    @classmethod
    def describe_frame(cls) -> str:
        return family_frames_help()

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        a = self.args
        self.pretrained = a.pretrained
        self.revision = a.revision
        self._engine_kw = engine_kwargs(a, a.seed if a.seed is not None else self.context.seed)
        self._vllm = require("vllm", "vllm", "The vllm model adapter")
        transformers = require("transformers", "vllm", "The vllm model adapter")
        load_kw = {"revision": a.revision, "trust_remote_code": a.trust_remote_code}
        config = transformers.AutoConfig.from_pretrained(a.pretrained, **load_kw)
        self.model_type: str | None = getattr(config, "model_type", None)
        self._family: FrameChoice = frame_for(self.model_type)
        if self._family.warning and self.frame_override is None:
            self.warnings.append(self._family.warning)
            log.warning("%s", self._family.warning)
        self._budget = self._resolve_budget(transformers, load_kw, a.min_pixels, a.max_pixels)
        self._identity = model_identity(a.pretrained, a.revision, getattr(config, "_commit_hash", None))
        self._versions = {
            "vllm": getattr(self._vllm, "__version__", None),
            "transformers": transformers.__version__,
        }
        self._llm: Any = None

    # ---------------------------------------------------------------------------------- contract

    def declared_frame(self) -> str:
        return self._family.frame

    def fingerprint(self) -> str:
        return fingerprint_of(
            self.name,
            self._identity,
            self._engine_kw.get("dtype"),
            self._engine_kw.get("mm_processor_kwargs"),
            self._engine_kw.get("max_model_len"),
            self._versions,
        )

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            {
                "model_type": self.model_type,
                "model_identity": self._identity,
                **frame_details(self.frame_override, self._family),
                "pixel_budget": self._budget,
                "versions": self._versions,
            }
        )
        if self.warnings:
            info["warnings"] = list(self.warnings)
        return info

    @property
    def device(self) -> str:
        return f"cuda (vLLM, tensor parallel {self.args.tensor_parallel_size})"

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        outputs, groups = group_requests(requests, self.context.seed)
        todo = []
        for settings, idxs in groups.values():
            for i in idxs:
                try:  # an image the processor would refuse (aspect ratio > 200) fails here, alone
                    self.input_size(requests[i].image.size)
                except ValueError as e:
                    outputs[i] = GenerationOutput(text=None, error=error_text(e))
                    continue
                todo.append((i, settings))
        todo.sort(key=lambda t: t[0])
        if todo:
            self.load()
            results = self._run_resilient([(requests[i], s) for i, s in todo])
            for (i, _), out in zip(todo, results, strict=True):
                outputs[i] = out
        return [o if o is not None else GenerationOutput(text=None, error="no output") for o in outputs]

    def scoring_unavailable(self) -> str | None:
        return None

    def score(self, requests: list[ScoreRequest]) -> list[ScoreOutput]:
        """Teacher-forced log-probabilities through vLLM's prompt log-probabilities: the reply (prefix and
        target) is sent as an assistant message to continue, and the log-probabilities of its last tokens
        (the target's) are summed. Not exercised by the test suite (it needs a GPU)."""
        if not requests:
            return []
        self.load()
        tokenizer = self._llm.get_tokenizer()
        convs = []
        for req in requests:
            gen = GenerationRequest(
                sample_id=req.sample_id, image=req.image, prompt=req.prompt, system=req.system
            )
            conv = chat_messages(gen, {"type": "image_pil", "image_pil": rgb(req.image)})
            conv.append({"role": "assistant", "content": req.prefix + req.target})
            convs.append(conv)
        params = self._vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0)
        try:
            results = self._llm.chat(convs, sampling_params=params, use_tqdm=False,
                                     add_generation_prompt=False, continue_final_message=True)  # fmt: skip
        except Exception as e:
            return [ScoreOutput(logprob=None, error=error_text(e)) for _ in requests]
        out = []
        for req, res in zip(requests, results, strict=True):
            k = len(tokenizer.encode(req.target, add_special_tokens=False))
            ids, lps = list(res.prompt_token_ids or []), list(res.prompt_logprobs or [])
            if k < 1 or len(ids) <= k or len(lps) != len(ids):
                out.append(ScoreOutput(logprob=None, error="no prompt log-probabilities for the target"))
                continue
            total = 0.0
            for tok, entry in zip(ids[-k:], lps[-k:], strict=True):
                total += float(entry[tok].logprob)
            out.append(ScoreOutput(logprob=total, n_tokens=k))
        return out

    def close(self) -> None:
        if self._llm is None:
            return
        self._llm = None
        import gc

        gc.collect()

    # ---------------------------------------------------------------------------------- internals

    def load(self) -> None:
        """Start the engine (done by the first ``generate``)."""
        if self._llm is None:
            self._llm = self._vllm.LLM(**self._engine_kw)

    def _resolve_budget(
        self, transformers: Any, load_kw: dict[str, Any], min_pixels: int | None, max_pixels: int | None
    ) -> dict[str, int] | None:
        try:
            ip = transformers.AutoImageProcessor.from_pretrained(self.pretrained, **load_kw)
        except (OSError, ValueError) as e:
            log.warning("no image processor config for %s (%s): input_size will be None", self.pretrained, e)
            return None
        cfg = ip.to_dict()
        size = getattr(ip, "size", None)
        if size is not None and not isinstance(cfg.get("size"), dict):
            cfg["size"] = {k: v for k, v in dict(size).items() if v is not None}
        budget = pixel_budget(cfg)
        if budget is not None:
            budget["min_pixels"] = min_pixels or budget["min_pixels"]
            budget["max_pixels"] = max_pixels or budget["max_pixels"]
        return budget

    def input_size(self, image_size: tuple[int, int]) -> tuple[int, int] | None:
        """(w, h) the engine resizes an image of ``image_size`` (w, h) to, where known."""
        if self._budget is None:
            return None
        w, h = image_size
        rh, rw = smart_resize(h, w, **self._budget)
        return (rw, rh)

    def _run_resilient(self, items: list[tuple[GenerationRequest, GenSettings]]) -> list[GenerationOutput]:
        try:
            return self._run(items)
        except Exception as e:
            if len(items) == 1:
                return [GenerationOutput(text=None, error=error_text(e))]
            log.warning(
                "vLLM call for %d requests failed (%s); retrying them one by one", len(items), error_text(e)
            )
            return [self._run_resilient([item])[0] for item in items]

    def _run(self, items: list[tuple[GenerationRequest, GenSettings]]) -> list[GenerationOutput]:
        convs = [chat_messages(req, {"type": "image_pil", "image_pil": rgb(req.image)}) for req, _ in items]
        params = [self._vllm.SamplingParams(**sampling_kwargs(s)) for _, s in items]
        results = self._llm.chat(convs, sampling_params=params, use_tqdm=False)
        if len(results) != len(items):
            raise RuntimeError(f"vLLM returned {len(results)} outputs for {len(items)} requests")
        outs = []
        for (req, _), res in zip(items, results, strict=True):
            completion = res.outputs[0]
            outs.append(
                GenerationOutput(
                    text=completion.text,
                    finish_reason=completion.finish_reason,
                    input_tokens=len(res.prompt_token_ids) if res.prompt_token_ids is not None else None,
                    output_tokens=len(completion.token_ids),
                    input_size=self.input_size(req.image.size),
                )
            )
        return outs
