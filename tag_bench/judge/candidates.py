"""The runs a judge study compares: read, checked for comparability, named.

Runs must share the sample ids, the images' content and the gold labels (the data hashes of their
comparability keys, :mod:`tag_bench.comparability`) and the class list; anything else may differ (a study
may compare prompts). They must be complete and scored. A refusal names the runs and the difference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tag_bench.comparability import PART_NAMES, ComparabilityKey, describe, key_of
from tag_bench.errors import TagBenchError
from tag_bench.report.discover import display_name
from tag_bench.rundir import RunDir
from tag_bench.schema import Generation, JudgeCandidate, MetricsReport, RunManifest, Sample

#: The parts of the comparability key that candidates of one study must share.
SHARED_PARTS = ("samples", "labels", "images")


class CandidateError(TagBenchError):
    """The runs cannot be judged together; the message names them and what differs."""


@dataclass
class Candidate:
    """One run of the study, with what the judge needs of it."""

    name: str
    run: RunDir
    manifest: RunManifest
    report: MetricsReport
    key: ComparabilityKey
    samples: dict[str, Sample] = field(default_factory=dict)
    generations: dict[str, Generation] = field(default_factory=dict)
    labels: dict[str, str | None] = field(default_factory=dict)  # parsed label per sample

    def record(self) -> JudgeCandidate:
        m = self.manifest
        return JudgeCandidate(
            name=self.name,
            run_dir=str(self.run.path),
            run_id=m.run_id,
            task=m.task.name,
            model=m.model,
            prompt_id=m.prompt_id,
            prompt_hash=m.prompt_hash,
            key={k: list(v) if isinstance(v, tuple) else v for k, v in self.key.parts().items()},
        )


def load_candidates(paths: Sequence[str | os.PathLike[str]]) -> list[Candidate]:
    """The runs at ``paths``, in order, checked and named (CandidateError otherwise)."""
    if len(paths) < 2:
        raise CandidateError(f"a judge study compares at least two runs; {len(paths)} given")
    seen: dict[Path, str] = {}
    out: list[Candidate] = []
    for p in paths:
        run = RunDir(p)
        real = run.path.resolve()
        if real in seen:
            raise CandidateError(f"{p} is given twice ({seen[real]} and {p}): give each run once")
        seen[real] = str(p)
        manifest = run.read_manifest()
        if manifest.status != "complete":
            why = f" ({manifest.status_reason})" if manifest.status_reason else ""
            raise CandidateError(
                f"{p} is not a complete run (status {manifest.status}{why}): a judge compares finished runs; "
                "finish it with the command that started it"
            )
        report = run.read_metrics()
        key = key_of(manifest, report)
        if manifest.data_identity is None:
            raise CandidateError(
                f"{p} was scored before tag-bench recorded the hashes of its data: re-score it "
                f"(`tag-bench score {p}`) so that its samples can be matched with the others'"
            )
        out.append(Candidate(display_name(manifest), run, manifest, report, key))
    _check_shared(out)
    _name(out)
    return out


def _check_shared(cands: list[Candidate]) -> None:
    first = cands[0]
    for c in cands[1:]:
        parts = [p for p in SHARED_PARTS if getattr(c.key, p) != getattr(first.key, p)]
        if parts:
            diff = "; ".join(
                f"{PART_NAMES[p]} {describe(first.key, p)} vs {describe(c.key, p)}" for p in parts
            )
            raise CandidateError(
                f"{first.run.path} and {c.run.path} cannot be judged together: they differ in {diff}. A judge "
                "compares traces of the same samples (ids, image content, gold labels): run both on the same data"
            )
        if list(c.manifest.task.classes) != list(first.manifest.task.classes):
            raise CandidateError(
                f"{first.run.path} and {c.run.path} cannot be judged together: their class lists differ "
                f"({', '.join(first.manifest.task.classes)} vs {', '.join(c.manifest.task.classes)})"
            )


def _name(cands: list[Candidate]) -> None:
    """Unique names: the display name, then with the prompt id where two share one."""
    counts: dict[str, int] = {}
    for c in cands:
        counts[c.name] = counts.get(c.name, 0) + 1
    for c in cands:
        if counts[c.name] > 1:
            c.name = f"{c.name} ({c.manifest.prompt_id})"
    names: dict[str, Candidate] = {}
    for c in cands:
        if c.name in names:
            raise CandidateError(
                f"{names[c.name].run.path} and {c.run.path} would both be called {c.name!r}: name them apart "
                f"(`tag-bench score {c.run.path} --name OTHER`)"
            )
        names[c.name] = c


def load_outputs(cand: Candidate) -> None:
    """Read the index, generations and parsed labels of a candidate (once)."""
    if cand.samples:
        return
    cand.samples = {s.id: s for s in cand.run.read_index()}
    cand.generations = cand.run.read_generations()
    cand.labels = {s.sample_id: s.pred for s in cand.run.iter_scored()}


# --------------------------------------------------------------------------------------------------
# Self-preference

#: Model families; a judge of the same family as a candidate may prefer its own kind of trace.
FAMILIES = (
    "qwen", "gpt", "o1", "o3", "o4", "gemini", "gemma", "paligemma", "claude", "llava", "internvl", "llama",
    "idefics", "smolvlm", "phi", "pixtral", "mistral", "molmo", "deepseek", "glm", "minicpm", "kimi", "grok",
)  # fmt: skip
_WORD = re.compile(r"[a-z]+")


def model_family(name: str | None) -> str | None:
    """The family of a model name (``Qwen/Qwen2.5-VL-7B`` -> ``qwen``), or None when there is no name."""
    if not name:
        return None
    base = str(name).lower().rstrip("/").rsplit("/", 1)[-1]
    for fam in sorted(FAMILIES, key=len, reverse=True):
        if fam in base:
            return "gemma" if fam == "paligemma" else fam
    m = _WORD.search(base)
    return m.group(0) if m else None


def model_name(args: dict[str, object], adapter: str) -> str | None:
    """The model a judge or candidate is (its ``model`` or ``pretrained`` argument)."""
    value = args.get("model") or args.get("pretrained")
    return str(value) if value else None


def self_preference_warnings(
    judge_adapter: str, judge_args: dict[str, object], cands: list[Candidate]
) -> list[str]:
    """A warning per candidate that appears to be of the judge's family."""
    fam = model_family(model_name(judge_args, judge_adapter))
    if fam is None:
        return []
    out = []
    for c in cands:
        cfam = model_family(model_name(c.manifest.model.args, c.manifest.model.adapter))
        if cfam == fam:
            out.append(
                f"the judge and the candidate {c.name!r} appear to be of the same family ({fam}): judges tend to "
                "prefer their own kind of output (self-preference); use a judge of another family, or report it"
            )
    return out
