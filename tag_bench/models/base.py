"""The model adapter contract: a batch of requests in, one output per request back.

The engine owns batching limits, caching, resume and progress; an adapter owns only its model.
An adapter never raises for one bad request: it returns an output with ``error`` set (the sample is
then recorded with status ``error`` and stays in the denominator). Raising is for failures that
affect every request (model cannot load, server unreachable after all retries at start-up).

Adapters subclass :class:`ModelAdapter` and are found by name in one registry: the built-ins below
(imported on first use, so listing names imports no torch) and the entry-point group
``tag_bench.models`` of installed packages. :func:`get_model` builds one from the user's arguments.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from tag_bench._hashing import stable_hash
from tag_bench._registry import Registry, RegistryError
from tag_bench.models._frames import check_frame
from tag_bench.models.args import (
    AdapterArgs,
    AdapterArgsError,
    AdapterError,
    ArgInfo,
    FatalAdapterError,
    arg_infos,
    redact,
    validate_args,
)
from tag_bench.options import parse_kv

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

    from tag_bench.schema import AUReference, Sample

__all__ = [
    "DEFAULT_GEN_KWARGS",
    "ENTRY_POINT_GROUP",
    "AdapterArgs",
    "AdapterArgsError",
    "AdapterContext",
    "AdapterError",
    "AdapterInfo",
    "ArgInfo",
    "FatalAdapterError",
    "GenerationOutput",
    "GenerationRequest",
    "ModelAdapter",
    "ScoreOutput",
    "ScoreRequest",
    "adapter_class",
    "adapter_info",
    "adapter_names",
    "describe_adapters",
    "fingerprint_of",
    "get_model",
    "register_adapter",
]

ENTRY_POINT_GROUP = "tag_bench.models"

#: Generation settings applied when the user gives none: greedy decoding, room for a TAG trace.
DEFAULT_GEN_KWARGS: dict[str, Any] = {"max_new_tokens": 512, "temperature": 0.0, "do_sample": False}


@dataclass
class GenerationRequest:
    sample_id: str
    image: PILImage.Image  # the presented image, RGB
    prompt: str  # user text: the task prompt with classes and the frame's coordinate instruction
    system: str | None = None
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    sample: Sample | None = None
    reference: AUReference | None = None  # filled only for adapters with needs_reference = True
    # False: ask without the image (a text-only question, e.g. `tag-bench judge --no-image`); only adapters
    # with text_only = True receive such requests, and ``image`` is then a placeholder never sent
    show_image: bool = True


@dataclass
class GenerationOutput:
    text: str | None
    finish_reason: str | None = None  # "stop", "length", ...
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_size: tuple[int, int] | None = None  # (w, h) the model saw after its own resize
    error: str | None = None  # this request failed; text is then None
    frame: str | None = None  # per-output frame, when it differs from the adapter's (replay files)


@dataclass
class ScoreRequest:
    """Teacher forcing: the log-probability of ``target`` as the model's reply, after ``prefix``, given the
    image and the prompt (the intervene stage's answer log-probabilities)."""

    sample_id: str
    image: PILImage.Image
    prompt: str
    system: str | None = None
    prefix: str = ""  # reply text before the scored span ("" for the answer right after the prompt)
    target: str = ""  # the scored span


@dataclass
class ScoreOutput:
    logprob: float | None  # natural log, summed over the target's tokens
    n_tokens: int | None = None
    error: str | None = None


@dataclass
class AdapterContext:
    """Run-level facts an adapter may use; passed as ``context=`` next to the user's model args."""

    classes: list[str] = field(default_factory=list)  # the task's class list
    seed: int = 0
    box_frame: str | None = None  # user override of the adapter's declared frame (--box-frame)
    task: str | None = None
    label_counts: dict[str, int] = field(default_factory=dict)  # gold label counts of the split


# --------------------------------------------------------------------------------------------------
# The adapter base class


class ModelAdapter(ABC):
    """What the engine needs from a model.

    Subclasses declare ``name`` and an ``Args`` model (a :class:`AdapterArgs`), call
    ``super().__init__(args, context=context)`` first, and implement :meth:`fingerprint` and
    :meth:`generate`. The class docstring's first line is the adapter's description in
    ``tag-bench models``.
    """

    name: str = ""  # adapter name, e.g. "hf"
    Args: ClassVar[type[AdapterArgs]] = AdapterArgs  # the accepted --model-args
    default_frame: ClassVar[str] = "pixel"  # box frame the model speaks (schema.BOX_FRAMES)
    frame_overridable: ClassVar[bool] = True  # False: boxes are written in default_frame, always
    needs_reference: ClassVar[bool] = False  # the engine passes the AU reference in each request
    oracle_reference: ClassVar[bool] = False  # reads the AU reference: grounding is an upper bound
    # Outputs may be stored in the shared generation cache (deterministic for a fingerprint and
    # settings). Off unless an adapter opts in: a wrong fingerprint would serve stale outputs.
    cacheable: ClassVar[bool] = False
    # The engine times each call: latency and throughput are the model's (off for replayed answers and
    # baselines, whose time says nothing about a model).
    timed: ClassVar[bool] = False
    # Answers requests with show_image=False (sends the prompt without the image).
    text_only: ClassVar[bool] = False
    # The answer depends on the image of the request: False for answers replayed from a file, which the
    # intervene stage cannot re-ask on intervened images (export them instead: intervene --export).
    sees_images: ClassVar[bool] = True

    args: AdapterArgs  # the validated arguments
    context: AdapterContext
    warnings: list[str]  # shown to the user and recorded in the run manifest
    frame_override: str | None  # the user's --box-frame, when it applies

    def __init__(
        self, args: AdapterArgs | Mapping[str, Any] | None = None, *, context: AdapterContext | None = None
    ) -> None:
        self.context = context or AdapterContext()
        if not isinstance(args, self.Args):
            raw = args.model_dump() if isinstance(args, AdapterArgs) else dict(args or {})
            args = validate_args(self.name or type(self).__name__, self.Args, raw)
        self.args = args
        self.warnings = []
        override = check_frame(self.context.box_frame) if self.context.box_frame else None
        if override and not self.frame_overridable:
            if override != self.default_frame:
                self.warnings.append(
                    f"--box-frame {override} ignored: the {self.name} adapter writes "
                    f"{self.default_frame} boxes"
                )
            override = None
        self.frame_override = override

    @property
    def device(self) -> str | None:
        """Where the model runs, for the manifest (``cuda``, ``cpu``, ``remote``...); None if unknown."""
        return None

    @property
    def requests_in_flight(self) -> int:
        """How many requests the adapter serves at once; the engine sends at least this many per call,
        so an API adapter's concurrency applies across the whole run, whatever ``--batch-size`` is."""
        return 1

    # ------------------------------------------------------------------------------------ frame

    @property
    def frame(self) -> str:
        """The box frame of this run: the user's ``--box-frame``, else :meth:`declared_frame`."""
        return self.frame_override or check_frame(self.declared_frame())

    def declared_frame(self) -> str:
        """The frame the model speaks; adapters that know it per model family override this."""
        return self.default_frame

    @classmethod
    def describe_frame(cls) -> str:
        """The declared frame in words, without building the adapter (``tag-bench models``)."""
        return cls.default_frame + ("; --box-frame overrides" if cls.frame_overridable else "")

    # ------------------------------------------------------------------------------------ contract

    def has(self, sample_id: str) -> bool:
        """Whether this adapter can answer ``sample_id``; samples it cannot are scored ``missing``."""
        return True

    @abstractmethod
    def fingerprint(self) -> str:
        """Stable identity of the model and everything that changes its outputs (cache key part)."""

    def describe(self) -> dict[str, Any]:
        """Arguments for the manifest, secrets redacted."""
        return redact({k: v for k, v in self.args.model_dump().items() if v is not None})

    def load(self) -> None:
        """Pay one-off costs (weights, a worker process) now; the engine calls it before timing a call.
        Idempotent; adapters that load lazily in :meth:`generate` override it."""
        return None

    @abstractmethod
    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        """One output per request, in order."""

    def close(self) -> None:
        """Release the model (called once at the end of a run)."""
        return None

    # ---------------------------------------------------------------------------------- scoring

    def scoring_unavailable(self) -> str | None:
        """Why this adapter cannot score a given reply (teacher-forced log-probabilities), or None when it
        can (:meth:`score`)."""
        return (
            f"the {self.name} adapter cannot score text: it gives no teacher-forced log-probabilities of a "
            "given reply (hf and vllm do)"
        )

    def score(self, requests: list[ScoreRequest]) -> list[ScoreOutput]:
        """One output per request, in order (adapters whose :meth:`scoring_unavailable` is None)."""
        raise NotImplementedError(self.scoring_unavailable() or f"{self.name} does not implement score()")


def fingerprint_of(*parts: Any) -> str:
    """A short stable hash of JSON-able parts."""
    return stable_hash(list(parts), 20)


# --------------------------------------------------------------------------------------------------
# Registry

_ADAPTERS: Registry[type[ModelAdapter]] = Registry("model adapter", ENTRY_POINT_GROUP)
for _name, _target in {
    "hf": "tag_bench.models.hf:HFAdapter",
    "vllm": "tag_bench.models.vllm:VLLMAdapter",
    "openai": "tag_bench.models.openai_api:OpenAIAdapter",
    "replay": "tag_bench.models.replay:ReplayAdapter",
    "lmms-eval": "tag_bench.lmms.bridge:LmmsEvalAdapter",
    "facs-rules": "tag_bench.models.baselines:FacsRulesBaseline",
    "random": "tag_bench.models.baselines:RandomBaseline",
    "majority": "tag_bench.models.baselines:MajorityBaseline",
    "probe-faithful": "tag_bench.models.probes:FaithfulProbe",
    "probe-unfaithful": "tag_bench.models.probes:UnfaithfulProbe",
}.items():
    _ADAPTERS.register(_name, _target, source=f"built-in {_target}")


@contextlib.contextmanager
def _adapter_errors() -> Iterator[None]:
    """Registry problems as AdapterError: a ValueError, so the CLI shows one line, not a traceback."""
    try:
        yield
    except RegistryError as e:
        raise AdapterError(str(e)) from e


def register_adapter(name: str, adapter: type[ModelAdapter] | str) -> None:
    """Add an adapter class (or ``"module:Class"``) by name; a taken name is an AdapterError."""
    with _adapter_errors():
        _ADAPTERS.register(name, adapter)


def adapter_names() -> list[str]:
    with _adapter_errors():
        return _ADAPTERS.names()


def adapter_class(name: str) -> type[ModelAdapter]:
    """The adapter class registered as ``name`` (its module is imported, no model is loaded)."""
    with _adapter_errors():
        cls = _ADAPTERS.get(name)
        source = _ADAPTERS.source(name)
    if not (isinstance(cls, type) and issubclass(cls, ModelAdapter)):
        raise AdapterError(
            f"model adapter {name!r} ({source}) is not a subclass of tag_bench.models.base.ModelAdapter"
        )
    return cls


def get_model(
    name: str, model_args: str | dict[str, Any] | None = None, context: AdapterContext | None = None
) -> ModelAdapter:
    """Build an adapter by name from the user's model args (``"k=v,..."`` or a dict).

    A missing, unknown or invalid argument is an AdapterArgsError naming the accepted ones.
    """
    args = parse_kv(model_args) if isinstance(model_args, str) or model_args is None else dict(model_args)
    cls = adapter_class(name)
    adapter = cls(validate_args(name, cls.Args, args), context=context or AdapterContext())
    if not adapter.name:
        adapter.name = name
    return adapter


# --------------------------------------------------------------------------------------------------
# Adapter info (for ``tag-bench models``; builds nothing)


@dataclass(frozen=True)
class AdapterInfo:
    name: str
    description: str  # first line of the class docstring
    frame: str  # the declared frame in words
    needs_reference: bool
    oracle_reference: bool
    cacheable: bool
    source: str  # where it is registered: "built-in ..." or "entry point ... of <distribution>"
    args: tuple[ArgInfo, ...]
    error: str | None = None  # set when the adapter's class cannot be loaded


def adapter_info(name: str) -> AdapterInfo:
    """What ``name`` is and accepts; imports its class (never torch: adapters load it lazily)."""
    cls = adapter_class(name)
    doc = (cls.__dict__.get("__doc__") or "").strip()
    return AdapterInfo(
        name=name,
        description=doc.splitlines()[0].strip() if doc else "",
        frame=cls.describe_frame(),
        needs_reference=cls.needs_reference,
        oracle_reference=cls.oracle_reference,
        cacheable=cls.cacheable,
        source=_ADAPTERS.source(name),
        args=tuple(arg_infos(cls.Args)),
    )


def describe_adapters() -> list[AdapterInfo]:
    """:func:`adapter_info` of every registered adapter; one that cannot load has ``error`` set."""
    out = []
    for name in adapter_names():
        try:
            out.append(adapter_info(name))
        except (AdapterError, ImportError) as e:
            out.append(AdapterInfo(name, "", "", False, False, False, _ADAPTERS.source(name), (), str(e)))
    return out
