"""tag-bench model adapters as lmms-eval models: ``lmms-eval --model tag_hf --model_args pretrained=...``.

Each class wraps one tag-bench adapter (``hf``, ``openai``, ``replay``) behind lmms-eval's ``lmms``
interface as a *simple* model (text context + ``doc_to_visual`` images), so it runs any lmms-eval
generation task. On a task written by ``tag-bench lmms-eval export`` it sends exactly what
``tag-bench run`` sends (tag-bench's system and user prompt, the presented image); on other tasks it
sends lmms-eval's context and the doc's first image.

``--model_args`` are the adapter's own (``tag-bench models`` lists them) plus ``box_frame`` and
``seed``; lmms-eval's ``batch_size`` is the largest batch handed to the adapter at once. A request the
adapter fails is answered with empty text (lmms-eval has no error channel) and logged as a warning.

``clean()`` keeps the model: lmms-eval calls it after every evaluation and its default deletes every
``torch.nn.Module`` attribute, which would break an instance reused for a second evaluation.

This module imports lmms-eval (and through it torch): it is loaded only when lmms-eval resolves a
``tag_*`` model (:mod:`tag_bench.lmms.registry`).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from lmms_eval.api.instance import GenerationResult, TokenCounts
from lmms_eval.api.model import lmms

from tag_bench.images import open_image
from tag_bench.lmms.hooks import prompt_of
from tag_bench.lmms.rows import TaskRow
from tag_bench.models.base import AdapterContext, GenerationOutput, GenerationRequest, ModelAdapter, get_model
from tag_bench.models.requests import GEN_KWARGS

log = logging.getLogger(__name__)

#: lmms-eval generation settings with no effect on a greedy single-beam decode; dropped silently.
_NEUTRAL_GEN_KWARGS = {"num_beams": 1, "image_aspect_ratio": None}


def tag_gen_kwargs(gen_kwargs: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """lmms-eval generation settings in tag-bench's spelling, and the names tag-bench does not know."""
    out: dict[str, Any] = {}
    dropped = []
    for k, v in (gen_kwargs or {}).items():
        if k == "until":
            stops = [v] if isinstance(v, str) else [s for s in (v or []) if s]
            if stops:
                out["stop"] = stops
        elif k in GEN_KWARGS:
            out[k] = v
        elif not (k in _NEUTRAL_GEN_KWARGS and v in (_NEUTRAL_GEN_KWARGS[k], None)):
            dropped.append(k)
    return out, sorted(dropped)


class TagBenchLMM(lmms):
    """A tag-bench adapter behind lmms-eval's model interface."""

    is_simple = True
    adapter_name: ClassVar[str] = ""
    #: the adapter argument that lmms-eval's ``--device`` fills when the user gave none
    device_arg: ClassVar[str | None] = None

    def __init__(
        self,
        batch_size: int | str | None = 1,
        device: str | None = None,
        max_batch_size: int | None = None,
        box_frame: str | None = None,
        seed: int = 0,
        **adapter_args: Any,
    ) -> None:
        super().__init__()
        if self.device_arg and device and self.device_arg not in adapter_args:
            adapter_args[self.device_arg] = device
        context = AdapterContext(box_frame=box_frame, seed=int(seed))
        self.adapter: ModelAdapter = get_model(self.adapter_name, adapter_args, context)
        self.batch_size_per_call = max(1, int(batch_size or 1))
        self._warned: set[str] = set()

    # ------------------------------------------------------------------------------ lmms interface

    def generate_until(self, requests: list[Any]) -> list[GenerationResult]:
        built = [self._request(r) for r in requests]
        results: list[GenerationResult] = []
        step = self.batch_size_per_call
        for start in range(0, len(built), step):
            chunk = built[start : start + step]
            outputs = self._generate(chunk)
            for req, out in zip(chunk, outputs, strict=True):
                if out.error is not None or out.text is None:
                    log.warning("tag-bench %s failed on %s: %s", self.adapter.name, req.sample_id, out.error)
                results.append(
                    GenerationResult(
                        text=out.text or "",
                        token_counts=TokenCounts(
                            input_tokens=out.input_tokens, output_tokens=out.output_tokens
                        ),
                    )
                )
        return results

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError(
            f"{type(self).__name__} generates text only: tag-bench adapters have no log-likelihoods, "
            "so loglikelihood and multiple_choice tasks need another lmms-eval model"
        )

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError(
            f"{type(self).__name__} answers single-turn generate_until tasks only (one image, one prompt)"
        )

    def clean(self) -> None:
        """Keep the model loaded (see the module docstring); :meth:`close` releases it."""
        return None

    def close(self) -> None:
        self.adapter.close()

    # ------------------------------------------------------------------------------ helpers

    def _generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        try:
            outputs = self.adapter.generate(requests)
        except Exception as e:  # the whole batch failed: answer each request empty, say why once
            msg = f"{type(e).__name__}: {e}"
            return [GenerationOutput(text=None, error=msg) for _ in requests]
        if len(outputs) != len(requests):
            msg = f"adapter returned {len(outputs)} outputs for {len(requests)} requests"
            return [GenerationOutput(text=None, error=msg) for _ in requests]
        return outputs

    def _request(self, instance: Any) -> GenerationRequest:
        ctx, gen_kwargs, doc_to_visual, doc_id, task, split = instance.args
        doc = self.task_dict[task][split][doc_id]
        settings, dropped = tag_gen_kwargs(gen_kwargs)
        for k in dropped:
            if k not in self._warned:
                self._warned.add(k)
                log.warning("generation setting %r is not supported by tag-bench adapters: ignored", k)
        row = _tag_row(doc)
        if row is not None:  # a tag-bench export: exactly what `tag-bench run` sends
            system, user = prompt_of(row)
            sample = row.sample()
            return GenerationRequest(
                sample_id=row.sample_id, image=open_image(sample), prompt=user, system=system,
                gen_kwargs=settings, sample=sample,
            )  # fmt: skip
        visuals = [v for v in (doc_to_visual(doc) or []) if hasattr(v, "size") and hasattr(v, "mode")]
        return GenerationRequest(
            sample_id=f"{task}/{split}/{doc_id}",
            image=visuals[0] if visuals else None,  # type: ignore[arg-type]  # check_request answers it
            prompt=ctx,
            gen_kwargs=settings,
        )


def _tag_row(doc: Any) -> TaskRow | None:
    if not (isinstance(doc, dict) and "sample_id" in doc and "prompt_id" in doc and "frame" in doc):
        return None
    try:
        return TaskRow.model_validate(dict(doc))
    except ValueError:
        return None


class TagHF(TagBenchLMM):
    """tag-bench's ``hf`` adapter (transformers image-text-to-text models) as an lmms-eval model."""

    adapter_name = "hf"
    device_arg = "device_map"


class TagOpenAI(TagBenchLMM):
    """tag-bench's ``openai`` adapter (OpenAI-compatible endpoints) as an lmms-eval model."""

    adapter_name = "openai"


class TagReplay(TagBenchLMM):
    """tag-bench's ``replay`` adapter (responses from a JSONL, by sample id) as an lmms-eval model."""

    adapter_name = "replay"
