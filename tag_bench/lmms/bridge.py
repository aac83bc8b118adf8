"""``lmms-eval``: any lmms-eval model as a tag-bench adapter (the bridge).

``tag-bench run --model lmms-eval --model-args model=qwen2_5_vl,pretrained=Qwen/Qwen2.5-VL-7B-Instruct``:
``model`` is the lmms-eval model name, ``batch_size`` and ``device`` are lmms-eval's ``--batch_size`` and
``--device``, and every other argument goes to that model as its ``--model_args``.

Each engine batch is written as a tag-bench export (the engine's own prompt, system prompt and
presented image per sample) and run through ``lmms_eval.evaluator.simple_evaluate(model=<instance>,
predict_only=True, log_samples=True, bootstrap_iters=0)`` in a worker process
(:mod:`tag_bench.lmms.worker`, started on the first batch that needs the model, so a fully cached run
never imports lmms-eval). The responses come back to the engine, which owns records, resume, cache and
scoring exactly as for every adapter.

Box frame: per model family, as for ``hf`` (:mod:`tag_bench.models._frames`): the family is the
``model_type`` of a local checkpoint's ``config.json``, else known from the lmms-eval model name; API
backends are asked for pixels (as the ``openai`` adapter). ``--box-frame`` overrides.
lmms-eval does not report the size a model resized the image to, so ``pixel-resized`` boxes (the
Qwen2.5-VL family) cannot be mapped to the image: the adapter warns, and such boxes are scored
``unconvertible``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from pydantic import ConfigDict, Field, PositiveInt

import tag_bench
from tag_bench._optional import MissingExtraError
from tag_bench.lmms.rows import TaskRow
from tag_bench.models._frames import FrameChoice, frame_details, frame_for
from tag_bench.models._identity import model_identity
from tag_bench.models.args import redact
from tag_bench.models.base import (
    AdapterArgs,
    AdapterContext,
    AdapterError,
    GenerationOutput,
    GenerationRequest,
    ModelAdapter,
    fingerprint_of,
)
from tag_bench.models.requests import GenSettings, group_requests
from tag_bench.schema import CANONICAL_EMOTIONS, Sample

#: lmms-eval model name -> transformers ``model_type`` (the family whose box frame it speaks).
LMMS_FAMILIES: dict[str, str] = {
    "qwen2_vl": "qwen2_vl",
    "qwen2_5_vl": "qwen2_5_vl",
    "qwen3_vl": "qwen3_vl",
    "llava": "llava",
    "llava_hf": "llava",
    "llava_onevision": "llava_next",
    "internvl": "internvl_chat",
    "internvl2": "internvl_chat",
    "internvl3": "internvl_chat",
    "internvl3_5": "internvl_chat",
    "internvl_hf": "internvl",
    "gemma3": "gemma3",
    "idefics2": "idefics3",
}
#: lmms-eval backends that call a remote API: the prompt asks them for pixels of the image they get.
API_MODELS = frozenset(
    {
        "openai", "async_openai", "litellm", "gpt4v", "batch_gpt4", "claude", "gemini", "reka", "qwen_vl_api",
        "srt_api", "generation_api",
    }
)  # fmt: skip


def lmms_eval_version() -> str:
    """The installed lmms-eval version, or MissingExtraError naming the extra."""
    from importlib import metadata

    try:
        return metadata.version("lmms-eval")
    except metadata.PackageNotFoundError:
        raise MissingExtraError(
            "The lmms-eval bridge adapter needs the Python package 'lmms-eval', which is not installed. "
            "Install it with: pip install 'tag-bench[lmms]'"
        ) from None


def model_args_string(args: dict[str, Any]) -> str:
    """``k=v,...`` as lmms-eval parses it (booleans as True/False)."""
    parts = []
    for k, v in args.items():
        text = str(v) if not isinstance(v, (dict, list)) else json.dumps(v)
        if "," in text and not isinstance(v, (dict, list)):
            raise AdapterError(
                f"lmms-eval model argument {k}={text!r} contains a comma, which lmms-eval cannot parse"
            )
        parts.append(f"{k}={text}")
    return ",".join(parts)


def family_of(model: str, args: dict[str, Any]) -> FrameChoice:
    """The frame an lmms-eval model speaks (see the module docstring)."""
    if model in API_MODELS:
        return FrameChoice(
            "pixel", "family", f"lmms-eval {model} is an API backend; the prompt asks for pixels"
        )
    model_type = None
    pretrained = args.get("pretrained")
    config = Path(str(pretrained)).expanduser() / "config.json" if pretrained else None
    if config is not None and config.is_file():
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except (OSError, ValueError):
            model_type = None
    return frame_for(model_type or LMMS_FAMILIES.get(model))


def lmms_gen_kwargs(settings: GenSettings) -> dict[str, Any]:
    """One request group's settings as an exported task's ``generation_kwargs``."""
    out: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "temperature": settings.temperature or 0.0,
        "do_sample": settings.do_sample,
    }
    for k in ("top_p", "top_k", "repetition_penalty"):
        if getattr(settings, k) is not None:
            out[k] = getattr(settings, k)
    if settings.stop:
        out["stop"] = list(settings.stop)
    return out


class LmmsEvalAdapter(ModelAdapter):
    """Any lmms-eval model: model=NAME, lmms-eval runs it (other arguments are that model's own).

    Generation goes through lmms-eval's ``simple_evaluate`` in a worker process; tag-bench scores.
    """

    name = "lmms-eval"
    cacheable = True
    timed = True

    class Args(AdapterArgs):
        # Any other argument is the lmms-eval model's own (its --model_args).
        model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, frozen=True)

        model: str = Field(min_length=1, description="lmms-eval model name, e.g. qwen2_5_vl, openai, vllm")
        batch_size: PositiveInt = Field(1, description="lmms-eval's --batch_size")
        device: str | None = Field(
            None, description="lmms-eval's --device (default: cuda if available, else cpu)"
        )

    args: Args

    @classmethod
    def describe_frame(cls) -> str:
        return "per model family (as hf; API backends: pixel); --box-frame overrides"

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        self.version = lmms_eval_version()
        self.model_args: dict[str, Any] = dict(self.args.model_extra or {})
        self._family = family_of(self.args.model, self.model_args)
        if self._family.warning and self.frame_override is None:
            self.warnings.append(self._family.warning)
        if self.frame == "pixel-resized":
            self.warnings.append(
                "box frame pixel-resized: lmms-eval does not report the size the model resized the image to, "
                "so these boxes cannot be mapped to the image (scored unconvertible); set --box-frame if the "
                "checkpoint answers in another frame"
            )
        pretrained = self.model_args.get("pretrained")
        self._identity = (
            model_identity(str(pretrained), self.model_args.get("revision")) if pretrained else None
        )
        self._proc: subprocess.Popen[str] | None = None
        self._out: IO[str] | None = None
        self._tmp: Path | None = None
        self.worker_info: dict[str, Any] = {}

    # ---------------------------------------------------------------------------------- contract

    def declared_frame(self) -> str:
        return self._family.frame

    def fingerprint(self) -> str:
        args = {k: v for k, v in redact(self.model_args).items() if k not in ("pretrained", "revision")}
        return fingerprint_of(
            self.name, self.args.model, args, self._identity, self.args.batch_size, self.version
        )

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update({"lmms_eval": self.version, "model_identity": self._identity,
                     **frame_details(self.frame_override, self._family)})  # fmt: skip
        if self.worker_info:
            info["worker"] = dict(self.worker_info)
        return info

    @property
    def device(self) -> str | None:
        return self.args.device or self.worker_info.get("device")

    def load(self) -> None:
        if self._proc is None:
            self._start()

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        outputs, groups = group_requests(requests, self.context.seed)
        for settings, idxs in groups.values():
            rows = [self._row(requests[i]) for i in idxs]
            reply = self._call({"op": "generate", "rows": rows, "gen_kwargs": lmms_gen_kwargs(settings)})
            for i, got in zip(idxs, reply["outputs"], strict=True):
                outputs[i] = self._output(got, settings)
        return [o if o is not None else GenerationOutput(text=None, error="no output") for o in outputs]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"op": "close"}) + "\n")
                proc.stdin.flush()
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        if self._tmp is not None:
            import shutil

            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # ---------------------------------------------------------------------------------- worker

    def _start(self) -> None:
        env = dict(os.environ)
        root = str(Path(tag_bench.__file__).resolve().parent.parent)  # this tag-bench, not another copy
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tag_bench.lmms.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env,
        )  # fmt: skip
        load = {"op": "load", "model": self.args.model, "model_args": model_args_string(self.model_args),
                "batch_size": self.args.batch_size, "device": self.args.device}  # fmt: skip
        self.worker_info = self._call(load, starting=True)["info"]

    def _call(self, request: dict[str, Any], starting: bool = False) -> dict[str, Any]:
        if self._proc is None and not starting:
            self._start()
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
        except OSError:
            line = ""
        if not line:
            status = proc.wait()
            self._proc = None
            raise AdapterError(
                f"the lmms-eval worker exited (status {status}) during {request['op']}; its messages are above"
            )
        reply = json.loads(line)
        if not reply.get("ok"):
            if starting:
                self.close()
            raise AdapterError(f"lmms-eval {request['op']} failed: {reply.get('error')}")
        return reply

    # ---------------------------------------------------------------------------------- rows

    def _row(self, req: GenerationRequest) -> dict[str, Any]:
        sample = req.sample
        if sample is None:  # a caller without samples: hand lmms-eval the image itself
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="tag-bench-lmms-images-"))
            path = self._tmp / f"{fingerprint_of(req.sample_id)}.png"
            req.image.save(path)
            # never scored (predict_only): the label only fills the doc's required field
            sample = Sample(id=req.sample_id, dataset="request", split="request", image=str(path),
                            label="neutral", native_label="")  # fmt: skip
        classes = self.context.classes or list(CANONICAL_EMOTIONS)
        row = TaskRow.of(sample, self.context.task or "request", req.image.size, classes, "given", self.frame)
        return row.model_copy(update={"prompt": req.prompt, "system": req.system}).model_dump(mode="json")

    @staticmethod
    def _output(got: dict[str, Any], settings: GenSettings) -> GenerationOutput:
        text = got.get("text")
        if text is None:
            return GenerationOutput(text=None, error="lmms-eval returned no response for this sample")
        n_out = got.get("output_tokens")
        finish = None if n_out is None else ("length" if n_out >= settings.max_new_tokens else "stop")
        return GenerationOutput(
            text=text, finish_reason=finish, input_tokens=got.get("input_tokens"), output_tokens=n_out
        )
