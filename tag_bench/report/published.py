"""Published results: numbers from papers, each with the protocol it was measured under.

``results/published/`` (shipped inside the package as ``resources/published``) holds one YAML file per
source, named by its citation key, and ``references.bib`` with each source's BibTeX entry under that
key. A file::

    key: lian2023explainable            # = the file name = the BibTeX key in references.bib beside it
    url: https://arxiv.org/abs/2312.04293
    unit: percent                       # values are written in %, exactly as the source printed them
    models:
      - model: GPT-4V
        detail: gpt-4-vision-preview     # optional
        setting: zero-shot               # zero-shot | fine-tuned | supervised
        where: Table 3                   # the place in the source (table, figure, results file)
        results:
          - task: affectnet8_val         # the tag-bench task whose protocol the source followed ...
            version: 1                   # ... at this version of its definition
            metric: accuracy             # a classification metric of the metric table (accuracy = WAR)
            value: "42.77"               # quoted: the digits as printed (a YAML number drops trailing 0s)
            n: 4000                      # optional: the samples the number is over (all, or the class's)
            protocol: stated             # stated | inferred | unknown
            note: ...                    # why, for inferred and unknown (and anything a reader needs)

A result may also carry ``where`` (its own place in the source), ``subset`` (the number is over part of
the protocol's samples only, e.g. the images a model answered: it is listed, never placed) and
``computed`` (how it follows from the source's per-sample results file when the source does not print
it). A result whose protocol is ``unknown`` names no task but its ``dataset``, and says why in ``note``.

Placement (:func:`placeable`), by protocol and class list pinned by the task version: a result goes
under a column whose runs are of its task at its version, or of a task that defines the same samples and
labels (the same dataset, split, protocol, loader options and set of classes) at that task's current
version, while the result's task is at its current version too. So ``rafdb_basic_test`` and
``rafdb_basic_test_common7`` share numbers, ``ferplus_test`` (majority) and
``ferplus_test_plurality8_all`` never do, nor ``affectnet7_val`` and ``affectnet8_val``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tag_bench.errors import TagBenchError
from tag_bench.metrics.stats import wilson_interval
from tag_bench.scoring.metric_table import spec as metric_spec
from tag_bench.scoring.units import format_value
from tag_bench.tasks import Task, discover_tasks

Setting = Literal["zero-shot", "fine-tuned", "supervised"]
ProtocolStatus = Literal["stated", "inferred", "unknown"]
#: Metric groups a published number may be given for: grounding numbers depend on an AU reference and on
#: tag-bench's own rules, which no other paper shares.
PUBLISHABLE_GROUPS = ("classification", "per_class")
BIB_FILE = "references.bib"
_VALUE = re.compile(r"\d+(\.\d+)?")


class PublishedError(TagBenchError):
    """A published-results file is invalid, or a source asked for is unknown; the message says which."""


def builtin_published_dir() -> Path:
    """The repository's ``results/published/`` folder (shipped inside the package as resources/published)."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here / "resources" / "published", here.parent / "results" / "published"):
        if candidate.is_dir():
            return candidate
    return here.parent / "results" / "published"


# --------------------------------------------------------------------------------------------------
# Records


class Result(BaseModel):
    """One published number and the protocol it was measured under."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    task: str | None = None  # the tag-bench task whose protocol the source followed (None: unknown)
    version: int | None = Field(None, ge=1)
    dataset: str | None = None  # only where the protocol is unknown (otherwise the task's)
    metric: str
    value: str  # as printed, in the file's unit
    n: int | None = Field(None, ge=1)  # the samples the number is over (for a per-class metric: the class's)
    subset: str | None = None  # over part of the protocol's samples only: which part
    computed: str | None = None  # how it follows from the source's per-sample results
    protocol: ProtocolStatus
    note: str = ""
    where: str | None = None  # its own place in the source (default: its model's)

    @field_validator("value", mode="before")
    @classmethod
    def _printed(cls, v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError(
                f"write the value in quotes exactly as the source printed it (e.g. '{v}'): a YAML number loses "
                "trailing zeros"
            )
        if not _VALUE.fullmatch(v):
            raise ValueError(f"{v!r} is not a number as printed (digits and an optional decimal part)")
        return v

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, name: str) -> str:
        try:
            m = metric_spec(name)
        except KeyError as e:
            raise ValueError(str(e).strip("'\"")) from None
        if m.group not in PUBLISHABLE_GROUPS or m.unit != "rate":
            raise ValueError(
                f"metric {name!r} cannot be published: only classification rates can (accuracy, balanced_accuracy, "
                "macro_f1, per-class recall ...); grounding numbers depend on the AU reference and tag-bench's rules"
            )
        return name

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Result:
        if self.protocol == "unknown":
            if self.task is not None or self.version is not None:
                raise ValueError(
                    "a result whose protocol is unknown names no task (give its dataset instead)"
                )
            if not self.dataset:
                raise ValueError(
                    "a result whose protocol is unknown needs its dataset (e.g. dataset: ferplus)"
                )
            if not self.note:
                raise ValueError("a result whose protocol is unknown needs a note saying what is not stated")
        else:
            if self.task is None or self.version is None:
                raise ValueError(
                    f"a result whose protocol is {self.protocol} names its task and version (or say protocol: unknown)"
                )
            if self.dataset is not None:
                raise ValueError("dataset is only for results whose protocol is unknown (the task names it)")
            if self.protocol == "inferred" and not self.note:
                raise ValueError("a result whose protocol is inferred needs a note saying from what")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"{self.value} % is not a rate between 0 and 100 %")
        if format_value("rate", self.rate, self.decimals) != self.value:  # pragma: no cover - a float slip
            raise ValueError(f"{self.value} does not survive the round trip through a rate")
        if self.n is not None and self.wilson and self.k is None:
            n = self.n
            near = self.rate * n
            raise ValueError(
                f"{self.value} % is not k/{n} for any whole k at the printed precision "
                f"({math.floor(near)}/{n} = {100 * math.floor(near) / n:.{self.decimals + 2}f} %, "
                f"{math.ceil(near)}/{n} = {100 * math.ceil(near) / n:.{self.decimals + 2}f} %): check n, "
                "or leave it out"
            )
        tasks = (info.context or {}).get("tasks")
        if tasks is not None:
            self._check_task(tasks)
        return self

    def _check_task(self, tasks: dict[str, Task]) -> None:
        if self.task is not None:
            task = tasks.get(self.task)
            if task is None:
                raise ValueError(f"unknown task {self.task!r}; known: {', '.join(sorted(tasks))}")
            if self.version is not None and self.version > task.version:
                raise ValueError(
                    f"task {self.task} has no version {self.version} (its current version is {task.version})"
                )
        elif self.dataset is not None:
            datasets = sorted({t.dataset for t in tasks.values()})
            if self.dataset not in datasets:
                raise ValueError(
                    f"unknown dataset {self.dataset!r}; the tasks' datasets are {', '.join(datasets)}"
                )

    @property
    def decimals(self) -> int:
        """The decimal places the source printed."""
        return len(self.value.partition(".")[2])

    @property
    def rate(self) -> float:
        """The value as a rate in [0, 1], as every metric is stored."""
        return float(Decimal(self.value) / 100)

    @property
    def over_all_samples(self) -> bool:
        """The metric's denominator is every sample (accuracy, UAR, macro-F1; not a per-class recall): its
        n is the number of samples of the protocol, to be matched by the runs beside it."""
        m = metric_spec(self.metric)
        return m.level == "sample" and m.denominator == "samples"

    @property
    def wilson(self) -> bool:
        """A proportion over all the samples (accuracy and the like): with n, it gets a Wilson interval."""
        return self.over_all_samples and metric_spec(self.metric).ci_method == "wilson"

    @property
    def k(self) -> int | None:
        """The count of the proportion that prints as ``value`` over ``n`` (the nearest, if several do)."""
        n = self.n
        if n is None:
            return None
        half = 0.5 * 10.0 ** (-self.decimals) + 1e-9  # half a unit of the last printed digit
        near = self.rate * n
        for k in sorted({math.floor(near), math.ceil(near)}, key=lambda x: abs(x - near)):
            if 0 <= k <= n and abs(100 * k / n - float(self.value)) <= half:
                return k
        return None

    def interval(self) -> tuple[float, float] | None:
        """The 95 % Wilson interval on the published n (None without n, or for a metric that is not a
        proportion over the samples)."""
        k = self.k if self.wilson else None
        return None if k is None or self.n is None else wilson_interval(k, self.n)


class ModelResults(BaseModel):
    """The results of one model in one setting, from one source."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str = Field(min_length=1)
    detail: str = ""
    setting: Setting
    where: str = Field(min_length=1)
    results: list[Result] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_duplicates(self) -> ModelResults:
        seen: set[tuple[Any, ...]] = set()
        for r in self.results:
            ident = (r.task, r.version, r.dataset, r.metric, r.n, r.subset, r.protocol)
            if ident in seen:
                what = r.task or r.dataset
                raise ValueError(f"{self.model}: {r.metric} on {what} is given twice")
            seen.add(ident)
        return self


class Source(BaseModel):
    """One source (a paper, or a results file): its citation key and its models' results."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str = Field(pattern=r"^[A-Za-z0-9_:.+-]+$")
    url: str | None = None
    unit: Literal["percent"]
    models: list[ModelResults] = Field(min_length=1)
    path: str = ""  # the file it was read from
    bibtex: str = ""  # its entry in references.bib

    @property
    def citation(self) -> str:
        """ "Lian et al. (2023)": authors and year from the BibTeX entry."""
        fields = bib_fields(self.bibtex)
        authors = [a.strip() for a in fields.get("author", "").split(" and ") if a.strip()]
        first = authors[0].split(",")[0].strip() if authors else self.key
        who = first + (
            " et al."
            if len(authors) > 2
            else f" and {authors[1].split(',')[0].strip()}"
            if len(authors) == 2
            else ""
        )
        return f"{who} ({fields['year']})" if "year" in fields else who

    @property
    def title(self) -> str:
        return bib_fields(self.bibtex).get("title", "").replace("{", "").replace("}", "")


# --------------------------------------------------------------------------------------------------
# BibTeX (only what is needed: entries by key, a few fields to name a source)


def bib_entries(text: str) -> dict[str, str]:
    """Each ``@type{key, ...}`` entry of a BibTeX file by its key, as written (comments and ``@string``
    / ``@comment`` / ``@preamble`` blocks are left out)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text):
        if m.group(1).lower() in ("string", "comment", "preamble"):
            continue
        depth, i = 0, text.index("{", m.start())
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                out[m.group(2)] = text[m.start() : j + 1]
                break
        else:
            raise PublishedError(f"BibTeX entry {m.group(2)} is not closed (unbalanced braces)")
    return out


def bib_fields(entry: str) -> dict[str, str]:
    """The ``name = {value}`` / ``"value"`` / bare fields of one entry, braces kept inside values."""
    out: dict[str, str] = {}
    body = entry[entry.find(",") + 1 :]
    for m in re.finditer(r"(\w+)\s*=\s*", body):
        start = m.end()
        if start >= len(body) or m.group(1).lower() in out:
            continue
        if body[start] == "{":
            depth = 0
            for j in range(start, len(body)):
                depth += {"{": 1, "}": -1}.get(body[j], 0)
                if depth == 0:
                    out[m.group(1).lower()] = body[start + 1 : j]
                    break
        elif body[start] == '"':
            end = body.find('"', start + 1)
            out[m.group(1).lower()] = body[start + 1 : end]
        else:
            out[m.group(1).lower()] = re.split(r"[,\s}]", body[start:], maxsplit=1)[0]
    return out


def bibtex(sources: Iterable[Source], keys: Sequence[str]) -> str:
    """The BibTeX entries of ``keys`` (in that order), as written in the sources' references.bib."""
    by_key = {s.key: s for s in sources}
    return "\n\n".join(by_key[k].bibtex.strip() for k in dict.fromkeys(keys) if k in by_key) + (
        "\n" if keys else ""
    )


# --------------------------------------------------------------------------------------------------
# Loading


def load_sources(dirs: Sequence[str | os.PathLike[str]] = (), *, builtin: bool = True) -> list[Source]:
    """Every source of the built-in folder and of ``dirs`` (each folder a set of ``KEY.yaml`` files and a
    ``references.bib``). A key defined twice, a file whose name is not its key, a key without a BibTeX
    entry and every invalid result are errors naming the file and the field."""
    folders = ([builtin_published_dir()] if builtin else []) + [Path(d) for d in dirs]
    tasks = discover_tasks()
    out: dict[str, Source] = {}
    for folder in folders:
        if not folder.is_dir():
            raise PublishedError(f"published-results folder {folder} does not exist")
        files = sorted(f for f in folder.glob("*.y*ml") if f.suffix in (".yaml", ".yml"))
        if not files:
            continue
        bib_path = folder / BIB_FILE
        try:
            bib = bib_entries(bib_path.read_text(encoding="utf-8"))
        except OSError:
            raise PublishedError(
                f"{folder} has published results but no {BIB_FILE}: add each source's BibTeX entry there"
            ) from None
        for f in files:
            source = _load_file(f, tasks, bib, bib_path)
            if source.key in out:
                raise PublishedError(f"source {source.key} is defined twice: {out[source.key].path} and {f}")
            out[source.key] = source
    return list(out.values())


def _load_file(path: Path, tasks: dict[str, Task], bib: dict[str, str], bib_path: Path) -> Source:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise PublishedError(f"cannot read {path}: {e}") from None
    if not isinstance(doc, dict):
        raise PublishedError(f"{path} must hold a mapping (key, unit, models)")
    try:
        source = Source.model_validate({**doc, "path": str(path)}, context={"tasks": tasks})
    except ValidationError as e:
        first = e.errors()[0]
        where = _where(doc, first["loc"])
        raise PublishedError(f"{path}: {where}: {first['msg'].removeprefix('Value error, ')}") from None
    if source.key != path.stem:
        raise PublishedError(f"{path}: key {source.key!r} must be the file's name ({path.stem}.yaml)")
    if source.key not in bib:
        raise PublishedError(f"{path}: no BibTeX entry {source.key} in {bib_path}: add it there")
    return source.model_copy(update={"bibtex": bib[source.key]})


def _where(doc: Any, loc: Sequence[int | str]) -> str:
    """A validation error's place, naming models and results by their model and metric."""
    parts: list[str] = []
    node = doc
    for step in loc:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            node = None
        if isinstance(step, int) and isinstance(node, dict):
            label = node.get("model") or "/".join(
                str(node[k]) for k in ("task", "dataset", "metric") if node.get(k)
            )
            parts[-1] += f"[{step}: {label}]" if parts else f"[{step}]"
        else:
            parts.append(str(step))
    return ".".join(parts) or "(file)"


def select(sources: Sequence[Source], which: str | Sequence[str]) -> list[Source]:
    """``all``, or the sources of some keys (``KEY,KEY`` or a list); an unknown key is an error listing
    the known ones."""
    keys = [k.strip() for k in (which.split(",") if isinstance(which, str) else which) if k.strip()]
    if not keys:
        raise PublishedError("name the published sources: all, or citation keys separated by commas")
    if "all" in keys:
        return list(sources)
    by_key = {s.key: s for s in sources}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        raise PublishedError(
            f"unknown published source {', '.join(unknown)}; known: all, {', '.join(sorted(by_key))} "
            "(tag-bench published lists them)"
        )
    return [by_key[k] for k in dict.fromkeys(keys)]


# --------------------------------------------------------------------------------------------------
# Which columns a result belongs in


@dataclass(frozen=True)
class Published:
    """One result with its model and source (what placement and listings work with)."""

    source: Source
    model: ModelResults
    result: Result

    @property
    def where(self) -> str:
        return self.result.where or self.model.where


def entries(sources: Iterable[Source]) -> list[Published]:
    return [Published(s, m, r) for s in sources for m in s.models for r in m.results]


def _identity(task: Task) -> tuple[Any, ...]:
    """What defines a task's samples and labels: dataset, split, protocol, loader options, set of classes."""
    return (
        task.dataset,
        task.split,
        task.protocol,
        json.dumps(task.loader, sort_keys=True, default=str),
        frozenset(task.classes),
    )


class Placement:
    """Decides which tasks' columns a result belongs in (see the module docstring)."""

    def __init__(self, tasks: dict[str, Task] | None = None):
        self.tasks = discover_tasks() if tasks is None else tasks

    def same_protocol(self, result: Result, task: str, version: int) -> bool:
        """Whether ``result`` was measured on the samples and labels of ``task`` at ``version``."""
        if result.protocol == "unknown" or result.task is None:
            return False
        if (result.task, result.version) == (task, version):
            return True
        mine, theirs = self.tasks.get(result.task), self.tasks.get(task)
        return (
            mine is not None
            and theirs is not None
            and mine.version == result.version
            and theirs.version == version
            and _identity(mine) == _identity(theirs)
        )

    def dataset(self, result: Result) -> str | None:
        if result.dataset is not None:
            return result.dataset
        task = self.tasks.get(result.task or "")
        return task.dataset if task is not None else None

    def tasks_for(self, result: Result) -> list[str]:
        """The tasks (at their current versions) whose columns take ``result``."""
        return [name for name, t in sorted(self.tasks.items()) if self.same_protocol(result, name, t.version)]


# --------------------------------------------------------------------------------------------------
# What is known per task (``tag-bench published``)


def _entry_doc(p: Published, placer: Placement, column: tuple[str, int] | None) -> dict[str, Any]:
    r = p.result
    refused = None
    if r.protocol == "unknown":
        refused = f"protocol unknown: {r.note}"
    elif r.subset:
        refused = f"over a subset, {r.subset}"
    via = r.task if column is not None and r.task != column[0] else None
    return {
        "source": p.source.key,
        "model": p.model.model,
        "detail": p.model.detail,
        "setting": p.model.setting,
        "task": r.task,
        "version": r.version,
        "dataset": placer.dataset(r),
        "metric": r.metric,
        "value": r.value,
        "rate": r.rate,
        "n": r.n,
        "interval": r.interval(),
        "protocol": r.protocol,
        "where": p.where,
        "computed": r.computed,
        "note": r.note,
        "placed": refused is None,
        "why_not_placed": refused,
        "via": via,  # the result names another task with the same samples and labels
    }


def known_results(
    sources: Sequence[Source], task: str | None = None, placement: Placement | None = None
) -> dict[str, Any]:
    """What is known per task: ``{"tasks": [{task, version, dataset, protocol, classes, also, results}],
    "unknown": [{dataset, results}], "sources": [...]}``. ``task``: only that task (with the results
    placed under it through a task of the same samples and labels) and the unknown-protocol results of
    its dataset; an unknown task name is an error listing the known ones."""
    placer = placement or Placement()
    published = entries(sources)
    if task is not None and task not in placer.tasks:
        raise PublishedError(f"unknown task {task!r}; known: {', '.join(sorted(placer.tasks))}")
    names = (
        [task]
        if task is not None
        else list(dict.fromkeys(p.result.task for p in published if p.result.task is not None))
    )
    blocks: list[dict[str, Any]] = []
    for name in names:
        t = placer.tasks.get(name)
        if t is None:
            continue
        if task is None:
            hits = [p for p in published if p.result.task == name]
        else:
            hits = [p for p in published if placer.same_protocol(p.result, name, t.version)]
        blocks.append(
            {
                "task": name,
                "version": t.version,
                "dataset": t.dataset,
                "split": t.split,
                "protocol": t.protocol,
                "classes": list(t.classes),
                "also": [x for x in placer.tasks_for(hits[0].result) if x != name] if hits else [],
                "results": [_entry_doc(p, placer, (name, t.version)) for p in hits],
            }
        )
    wanted = {placer.tasks[task].dataset} if task is not None else None
    unknown: dict[str, list[dict[str, Any]]] = {}
    for p in published:
        d = placer.dataset(p.result)
        if p.result.protocol == "unknown" and d is not None and (wanted is None or d in wanted):
            unknown.setdefault(d, []).append(_entry_doc(p, placer, None))
    cited = {e["source"] for b in blocks for e in b["results"]} | {
        e["source"] for v in unknown.values() for e in v
    }
    return {
        "tasks": blocks,
        "unknown": [{"dataset": d, "results": v} for d, v in unknown.items()],
        "sources": [
            {"key": s.key, "citation": s.citation, "title": s.title, "url": s.url, "file": s.path}
            for s in sources
            if s.key in cited
        ],
    }
