"""TRL adapter: the TAG rewards as ``GRPOTrainer`` reward functions, and a dataset to train on.

``trl_reward_funcs`` returns one callable per reward with a nonzero weight. Each has TRL's reward
signature ``f(prompts, completions, completion_ids, **columns) -> list[float | None]`` and returns
weight × reward, so TRL's total reward (with ``GRPOConfig.reward_weights`` left unset) is
``tag_reward``. The callables share one scorer: each completion of a batch is parsed and scored once,
however many rewards read it. The dataset columns they read are the ones :func:`grpo_dataset` writes.
Importing this module needs no TRL; :func:`grpo_dataset` needs ``datasets`` (the ``train`` extra).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tag_bench._optional import require
from tag_bench.images import open_image
from tag_bench.models._frames import check_frame
from tag_bench.prompts import render_prompt
from tag_bench.rewards.core import (
    GroundingConfig,
    RewardBreakdown,
    RewardWeights,
    as_weights,
    fast_breakdown,
)
from tag_bench.rewards.references import ReferencesLike, RewardReferenceError, load_references
from tag_bench.schema import AUReference, Sample
from tag_bench.store import gc_paused

#: Dataset columns the reward functions read (``grpo_dataset`` writes all of them).
SAMPLE_ID = "sample_id"  # required with grounding / hallucination: the key of the AU reference
LABEL = "label"  # required: the gold label
IMAGE_SIZE = "image_size"  # (w, h) of the presented image; required by every frame but norm1000 / norm1
INPUT_SIZE = "input_size"  # (w, h) the model saw; required by the pixel-resized frame
CLASSES = "classes"  # the task's classes (else the ``classes`` argument, else all eight emotions)
FRAME = "frame"  # the frame the prompt asked for; must equal the rewards' frame


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or a list of chat messages (their contents joined)."""
    if type(completion) is list and len(completion) == 1:  # TRL's conversational shape, checked fast
        message = completion[0]
        if type(message) is dict and type(content := message.get("content")) is str:
            return content
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content"))
    if isinstance(completion, Sequence):
        return "".join(_content_text(m.get("content") if isinstance(m, Mapping) else m) for m in completion)
    raise TypeError(
        f"a completion must be a string or a list of chat messages, got {type(completion).__name__}"
    )


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # multimodal content parts: keep the text parts
    return "".join(p.get("text") or "" for p in content if isinstance(p, Mapping) and p.get("type") == "text")


class TagRewardScorer:
    """Scores a TRL batch once and serves every reward of it (the last batch is kept)."""

    def __init__(
        self,
        references: Mapping[str, AUReference] | None,
        frame: str,
        weights: RewardWeights,
        grounding: GroundingConfig,
        classes: Sequence[str] | None,
        eos_token_ids: Collection[int] | None,
    ) -> None:
        self.frame = check_frame(frame)
        self.references = references
        self.weights = weights
        self.grounding = grounding
        self.classes = list(classes) if classes is not None else None
        self.eos_token_ids = frozenset(eos_token_ids) if eos_token_ids is not None else None
        self.needs_reference = bool(weights.grounding or weights.hallucination)
        self._last_completions: Sequence[Any] | None = None
        self._last_key: tuple[Any, ...] | None = None
        self._last: list[RewardBreakdown] = []

    def batch(
        self,
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None,
        columns: Mapping[str, Any],
    ) -> list[RewardBreakdown]:
        """The breakdown of each completion. TRL passes one ``completions`` list to every reward
        function of a batch: the second and later calls with that same list reuse the first's work."""
        texts = [completion_text(c) for c in completions]
        n = len(texts)
        labels = _column(columns, LABEL, n, required=True)
        ids = _column(columns, SAMPLE_ID, n, required=self.needs_reference)
        sizes = _column(columns, IMAGE_SIZE, n)
        inputs = _column(columns, INPUT_SIZE, n)
        classes = _column(columns, CLASSES, n)
        frames = _column(columns, FRAME, n)
        finish = self._finish_reasons(completion_ids, n)
        key = (texts, labels, ids, sizes, inputs, finish)
        if completions is self._last_completions and key == self._last_key:
            return self._last
        with gc_paused():  # the records made here form no cycles; see store.gc_paused
            out = self._score(texts, labels, ids, sizes, inputs, classes, frames, finish)
        # Held (not only its id) so that no later list can be mistaken for it.
        self._last_completions, self._last_key, self._last = completions, key, out
        log_extra = columns.get("log_extra")
        if callable(log_extra):  # TRL's extra columns of the logged completions table
            log_extra(SAMPLE_ID, [None if i is None else str(i) for i in ids])
            if self.eos_token_ids is not None and completion_ids is not None:
                log_extra("tag_finish_reason", finish)
            if self.weights.format:
                log_extra("tag_format_failures", [",".join(b.format_failures) for b in out])
        return out

    def _score(
        self,
        texts: list[str],
        labels: list[Any],
        ids: list[Any],
        sizes: list[Any],
        inputs: list[Any],
        classes: list[Any],
        frames: list[Any],
        finish: list[str | None],
    ) -> list[RewardBreakdown]:
        out = []
        for i, text in enumerate(texts):
            if frames[i] is not None and frames[i] != self.frame:
                raise ValueError(
                    f"the prompt of sample {ids[i]!r} asks for boxes in the {frames[i]!r} frame but the rewards "
                    f"read {self.frame!r}: pass frame={frames[i]!r} to trl_reward_funcs"
                )
            task_classes = classes[i] if classes[i] is not None else self.classes
            reference = self._reference(ids[i]) if self.needs_reference else None
            out.append(
                fast_breakdown(
                    text,
                    str(labels[i]),
                    reference,
                    self.frame,
                    sizes[i],
                    input_size=inputs[i],
                    classes=task_classes,
                    finish_reason=finish[i],
                    grounding=self.grounding,
                    weights=self.weights,
                    sample_id=str(ids[i]) if ids[i] is not None else "completion",
                )
            )
        return out

    def _reference(self, sample_id: Any) -> AUReference:
        assert self.references is not None
        ref = self.references.get(str(sample_id))
        if ref is None:
            raise RewardReferenceError(
                f"no AU reference for sample {sample_id!r} ({len(self.references)} loaded): add it to the "
                "references given to trl_reward_funcs"
            )
        return ref

    def _finish_reasons(self, completion_ids: Sequence[Sequence[int]] | None, n: int) -> list[str | None]:
        """'length' for a completion that does not end with an EOS token, when the EOS ids are known."""
        if self.eos_token_ids is None or completion_ids is None:
            return [None] * n
        return ["stop" if ids and ids[-1] in self.eos_token_ids else "length" for ids in completion_ids]


def _column(columns: Mapping[str, Any], name: str, n: int, required: bool = False) -> list[Any]:
    values = columns.get(name)
    if values is None:
        if required:
            raise ValueError(
                f"the TAG reward functions need the dataset column {name!r} (build the dataset with "
                "tag_bench.rewards.grpo_dataset, or add the column)"
            )
        return [None] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"dataset column {name!r} has {len(values)} values for {n} completions")
    return values


class TagRewardFunc:
    """One TAG reward with TRL's reward-function signature; returns weight × reward (None: not computed)."""

    def __init__(self, name: str, weight: float, scorer: TagRewardScorer) -> None:
        self.name = name
        self.weight = weight
        self.scorer = scorer
        self.__name__ = f"tag_{name}"  # TRL logs rewards/<__name__>/mean

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        completion_ids: Sequence[Sequence[int]] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        if completions is None:
            raise ValueError("a TAG reward function needs the completions")
        rows = self.scorer.batch(completions, completion_ids, columns)
        out: list[float | None] = []
        for row in rows:
            value = row.get(self.name)
            out.append(None if value is None else self.weight * value)
        return out

    def __repr__(self) -> str:
        return f"TagRewardFunc({self.__name__}, weight={self.weight})"


def trl_reward_funcs(
    references: ReferencesLike | None = None,
    *,
    frame: str,
    weights: RewardWeights | Mapping[str, float] | None = None,
    grounding: GroundingConfig | Mapping[str, Any] | None = None,
    classes: Sequence[str] | None = None,
    samples: Iterable[Sample] | None = None,
    cache: str | Path | None = None,
    compute_missing: bool = False,
    eos_token_ids: Collection[int] | None = None,
) -> list[TagRewardFunc]:
    """TRL ``GRPOTrainer`` reward functions for the TAG rewards with a nonzero weight.

    ``references``: AU references (see :func:`~tag_bench.rewards.references.load_references`; a
    detector name or another per-image spec needs ``samples``), looked up here, once; required when
    the grounding or hallucination weight is nonzero. ``frame``: the box frame the prompts ask for.
    ``eos_token_ids``: the tokenizer's end ids, so that a completion cut at ``max_completion_length``
    is parsed as truncated (as ``tag-bench score`` does with ``finish_reason="length"``).
    """
    w = as_weights(weights)
    if not w.nonzero():
        raise ValueError("every reward weight is 0: give at least one nonzero weight")
    config = grounding if isinstance(grounding, GroundingConfig) else GroundingConfig(**(grounding or {}))
    refs: dict[str, AUReference] | None = None
    if w.grounding or w.hallucination:
        if references is None:
            raise RewardReferenceError(
                "the grounding and hallucination rewards need AU references: pass references= (a JSONL "
                "from `tag-bench au detect --out`, a detector name with samples=, or a mapping)"
            )
        refs = load_references(references, samples, cache=cache, compute_missing=compute_missing)
    scorer = TagRewardScorer(refs, frame, w, config, classes, eos_token_ids)
    return [TagRewardFunc(name, weight, scorer) for name, weight in w.nonzero().items()]


# --------------------------------------------------------------------------------------------------
# Training data


def processor_input_size(processor: Any, image: Any) -> tuple[int, int] | None:
    """(w, h) a Qwen2-VL-style processor resizes ``image`` to (its patch grid × patch size), else None."""
    image_processor = getattr(processor, "image_processor", processor)
    patch = getattr(image_processor, "patch_size", None)
    enc = image_processor(images=[image], return_tensors="np")
    grid = enc.get("image_grid_thw")
    if grid is None or not isinstance(patch, int):
        return None
    _, h, w = (int(v) for v in grid[0])
    return w * patch, h * patch


def grpo_dataset(
    samples: Iterable[Sample],
    classes: Sequence[str],
    *,
    frame: str,
    prompt: str = "tag_grounded",
    processor: Any = None,
) -> Any:
    """A ``datasets.Dataset`` for TRL's ``GRPOTrainer``: one row per sample.

    Columns: ``prompt`` (system and user chat messages of the tag-bench prompt rendered for ``frame``;
    TRL inserts the image), ``image`` (the presented image), and the columns the reward functions read:
    ``sample_id``, ``label``, ``image_size``, ``input_size``, ``classes``, ``frame``. The
    ``pixel-resized`` frame needs ``processor`` (the model's, to know the size each image is resized to).
    """
    datasets = require("datasets", "train", "Building a GRPO training dataset")
    if frame == "pixel-resized" and processor is None:
        raise ValueError(
            "the pixel-resized frame needs processor= (the model's processor) to know the input sizes"
        )
    rows = []
    for sample in samples:
        image = open_image(sample)
        input_size = processor_input_size(processor, image) if processor is not None else None
        rendered = render_prompt(prompt, list(classes), frame, image.size)
        rows.append(
            {
                "prompt": [
                    {"role": "system", "content": rendered.system},
                    {"role": "user", "content": rendered.user},
                ],
                "image": image,
                SAMPLE_ID: sample.id,
                LABEL: sample.label,
                IMAGE_SIZE: list(image.size),
                INPUT_SIZE: list(input_size) if input_size is not None else None,
                CLASSES: list(classes),
                FRAME: frame,
            }
        )
    if not rows:
        raise ValueError("no samples to build a training dataset from")
    return datasets.Dataset.from_list(rows)
