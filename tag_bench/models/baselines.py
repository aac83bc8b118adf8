"""Built-in baselines that run offline: the floor and the reference ceiling of every metric.

- ``facs-rules``: reads the AU reference, picks the emotion whose EMFACS prototype best matches the
  active AUs, and writes a TAG trace citing each active AU with its reference box. Its grounding
  scores against that same reference are an upper bound by construction (``oracle_reference``).
- ``random``: a seeded random label and random AU boxes: the chance floor of every metric.
- ``majority``: always the most frequent gold label of the evaluated split, no evidence.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field

from tag_bench.facs import AU_CATALOGUE, EMFACS_PROTOTYPES, au_sort_key, prototype_similarity
from tag_bench.models.base import (
    AdapterArgs,
    AdapterArgsError,
    AdapterContext,
    GenerationOutput,
    GenerationRequest,
    ModelAdapter,
    fingerprint_of,
)
from tag_bench.schema import CANONICAL_EMOTIONS, AUReference

BASELINE_VERSION = "1"

# What an annotator would write when inspecting each AU: (region inspected, observation).
_AU_PHRASES: dict[str, tuple[str, str]] = {
    "AU1": ("inner brow", "inner brow ends raised"),
    "AU2": ("outer brow", "outer brows lifted"),
    "AU4": ("brow region", "brows lowered and drawn together"),
    "AU5": ("upper eyelids", "upper lids raised, eyes widened"),
    "AU6": ("cheeks", "cheeks raised with folds below the eyes"),
    "AU7": ("eyelids", "lids tightened"),
    "AU9": ("nose", "skin along the nose wrinkled"),
    "AU10": ("upper lip", "upper lip raised"),
    "AU11": ("nasolabial fold", "nasolabial furrow deepened"),
    "AU12": ("mouth corners", "lip corners pulled up"),
    "AU14": ("mouth corners", "dimples at the lip corners"),
    "AU15": ("mouth corners", "lip corners pulled down"),
    "AU16": ("lower lip", "lower lip pulled down"),
    "AU17": ("chin", "chin boss pushed up"),
    "AU20": ("lips", "lips stretched sideways"),
    "AU23": ("lips", "lips tightened"),
    "AU24": ("lips", "lips pressed together"),
    "AU25": ("lips", "lips parted"),
    "AU26": ("jaw", "jaw dropped"),
    "AU27": ("mouth", "mouth stretched open"),
    "AU43": ("eyes", "eyes closed"),
    "AU45": ("eyes", "eyes blinking"),
}


def _box_text(box: list[float]) -> str:
    return "[" + ",".join(str(round(v)) for v in box) + "]"


def _trace(label: str, steps: list[tuple[str, list[float]]], global_analysis: str) -> str:
    lines = [f"Global analysis: {global_analysis}", "Verification loop:"]
    for au, box in steps:
        region, observation = _AU_PHRASES.get(
            au, (AU_CATALOGUE[au].region if au in AU_CATALOGUE else "face", au)
        )
        lines.append(f"Inspect {region} → {observation} ({au}) → <bbox>{_box_text(box)}</bbox>")
    if steps:
        cited = " + ".join(au for au, _ in steps)
        lines.append(f"Final conclusion: Combined {cited} indicate a dominant emotion of {label}.")
    else:
        lines.append(f"Final conclusion: No expressive action unit is active; the expression is {label}.")
    lines.append(f"<answer> {label} </answer>")
    return "\n".join(lines)


def facs_rules_label(active: dict[str, float], classes: list[str]) -> str:
    """The class whose prototype best matches the active AUs (ties: stronger activation, then order)."""
    cited = set(active)

    def support(emotion: str) -> float:
        best = 0.0
        for variant in EMFACS_PROTOTYPES.get(emotion, ()):
            best = max(best, sum(active.get(au, 0.0) for au in variant))
        return best

    ranked = sorted(
        (c for c in classes if c in EMFACS_PROTOTYPES),
        key=lambda c: (-prototype_similarity(cited, c), -support(c), classes.index(c)),
    )
    return ranked[0] if ranked else classes[0]


class _Baseline(ModelAdapter):
    frame_overridable = False  # boxes are written in pixels of the presented image, always
    # cacheable stays False: cheaper to recompute than to look up, and never stale

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        self.classes = list(self.context.classes) or list(CANONICAL_EMOTIONS)

    def describe(self) -> dict[str, Any]:
        return {"version": BASELINE_VERSION}


class FacsRulesBaseline(_Baseline):
    """Baseline: AU reference -> nearest EMFACS prototype -> grounded TAG trace (oracle reference).

    Deterministic and offline.
    """

    name = "facs-rules"
    needs_reference = True
    oracle_reference = True

    def fingerprint(self) -> str:
        return fingerprint_of(self.name, BASELINE_VERSION, self.classes)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        return [self._one(r.reference) for r in requests]

    def _one(self, ref: AUReference | None) -> GenerationOutput:
        if ref is None:
            return GenerationOutput(text=None, error="facs-rules needs an AU reference (pass --au-reference)")
        if ref.status != "ok":
            why = (
                "no face was found" if ref.status == "no_face" else f"the AU reference failed ({ref.message})"
            )
            return GenerationOutput(
                text=f"I cannot determine the expression: {why} in this image.", finish_reason="stop"
            )
        active = {au: float(s.score if s.score is not None else 1.0) for au, s in ref.aus.items() if s.active}
        label = facs_rules_label(active, self.classes)
        steps = [
            (au, box)
            for au in sorted(active, key=lambda a: (-active[a], au_sort_key(a)))
            if (box := ref.aus[au].box) is not None
        ]
        n = len(active)
        analysis = (
            f"The AU reference reports {n} active action unit{'s' if n != 1 else ''}; "
            f"each is checked at its facial region."
            if n
            else "The face shows no active action unit according to the AU reference."
        )
        return GenerationOutput(text=_trace(label, steps, analysis), finish_reason="stop")


class RandomBaseline(_Baseline):
    """Baseline: a seeded random label and 1–3 random AU boxes per sample (the chance floor)."""

    name = "random"

    class Args(AdapterArgs):
        seed: int | None = Field(None, description="seed of the draws (default: the run's --seed)")

    args: Args

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        self.seed = self.context.seed if self.args.seed is None else self.args.seed

    def fingerprint(self) -> str:
        return fingerprint_of(self.name, BASELINE_VERSION, self.seed, self.classes)

    def describe(self) -> dict[str, Any]:
        return {"version": BASELINE_VERSION, "seed": self.seed}

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        out = []
        for r in requests:
            rng = random.Random(f"{self.seed}:{r.sample_id}")
            label = rng.choice(self.classes)
            w, h = r.image.size
            steps = []
            for au in rng.sample(sorted(AU_CATALOGUE, key=au_sort_key), rng.randint(1, 3)):
                bw, bh = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h
                x1, y1 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
                steps.append((au, [x1, y1, x1 + bw, y1 + bh]))
            text = _trace(label, steps, "A label and regions drawn at random (chance baseline).")
            out.append(GenerationOutput(text=text, finish_reason="stop"))
        return out


class MajorityBaseline(_Baseline):
    """Baseline: always the split's most frequent gold label, no evidence.

    An upper bound on any constant predictor.
    """

    name = "majority"

    class Args(AdapterArgs):
        label: str | None = Field(
            None, description="the label to answer (default: the split's most frequent)"
        )

    args: Args

    @classmethod
    def describe_frame(cls) -> str:
        return "none (no boxes)"

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        label = self.args.label
        if label is not None:
            if label not in self.classes:
                raise AdapterArgsError(
                    f"adapter 'majority': label {label!r} is not one of the task's classes {self.classes}"
                )
            self.label = label
        else:
            counts = self.context.label_counts
            if not counts:
                raise AdapterArgsError("adapter 'majority': needs the split's label counts (or label=NAME)")
            self.label = max(self.classes, key=lambda c: (counts.get(c, 0), -self.classes.index(c)))

    def fingerprint(self) -> str:
        return fingerprint_of(self.name, BASELINE_VERSION, self.label)

    def describe(self) -> dict[str, Any]:
        return {"version": BASELINE_VERSION, "label": self.label}

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        return [
            GenerationOutput(text=f"<answer> {self.label} </answer>", finish_reason="stop") for _ in requests
        ]
