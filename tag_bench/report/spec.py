"""Leaderboard specs: which runs, which column groups, which metrics (YAML files).

Built-in specs live in the repository's ``leaderboards/`` folder (``overview``, ``main``, ``grounding``,
``transfer``); ``--spec FILE.yaml`` takes a user's own. A spec names metrics by their names in the
metric table and groups columns by task::

    name: main
    title: Facial expression recognition accuracy
    columns:
      - {title: RAF-DB, tasks: [rafdb_basic_test], metrics: [accuracy, balanced_accuracy, macro_f1]}
    rows: {include: ["qwen*"], exclude: []}     # optional: display-name patterns

``tasks: "*"`` makes one column group per task found. ``kind: transfer`` builds the cross-dataset
transfer matrix of ``metric`` over the groups' ``dataset`` names instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tag_bench._registry import Registry
from tag_bench.errors import TagBenchError
from tag_bench.scoring.metric_table import spec as metric_spec


class SpecError(TagBenchError):
    """A leaderboard spec cannot be found or read; the message says which and why."""


class ColumnGroupSpec(BaseModel):
    """One group of columns: the runs of ``tasks`` (one task per run), showing ``metrics``. A group of
    several tasks needs a ``title``: no one task may title the runs of another."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = None  # default: the task name (one task only)
    tasks: list[str] | Literal["*"]
    metrics: list[str] = Field(default_factory=list)  # empty in a transfer spec (it names one metric)
    dataset: str | None = None  # the evaluation dataset, for transfer tables

    @model_validator(mode="after")
    def _titled_if_several_tasks(self) -> ColumnGroupSpec:
        if isinstance(self.tasks, list) and len(self.tasks) > 1 and not self.title:
            raise ValueError(
                f"a column group of several tasks ({', '.join(self.tasks)}) needs a title: it would be titled by "
                f"{self.tasks[0]} although it shows runs of the others too"
            )
        return self

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str]) -> list[str]:
        for n in names:
            try:
                metric_spec(n)
            except KeyError as e:
                raise ValueError(str(e).strip("'\"")) from None
        return names


class RowFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include: list[str] = Field(default_factory=list)  # fnmatch patterns on display names; empty: all
    exclude: list[str] = Field(default_factory=list)


class LeaderboardSpec(BaseModel):
    """A leaderboard: title, column groups, optional row filter."""

    model_config = ConfigDict(extra="forbid")
    name: str
    title: str = ""
    caption: str = ""
    kind: Literal["table", "transfer"] = "table"
    references: Literal["current", "all"] = "current"  # all: one column group per AU reference scored
    fills: Literal["none", "all"] = "none"  # all: one column group per intervention fill (intervene stage)
    metric: str = "accuracy"  # the cell metric of a transfer table
    columns: list[ColumnGroupSpec]
    rows: RowFilter = Field(default_factory=RowFilter)
    source: str = ""  # where it was read from


def builtin_specs_dir() -> Path:
    """The repository's ``leaderboards/`` folder (also shipped inside the package)."""
    here = Path(__file__).resolve().parents[1]
    for candidate in (here / "resources" / "leaderboards", here.parent / "leaderboards"):
        if candidate.is_dir():
            return candidate
    return here.parent / "leaderboards"


def _builtin() -> Registry[Path]:
    reg: Registry[Path] = Registry("leaderboard spec")
    for f in sorted(builtin_specs_dir().glob("*.yaml")):
        reg.register(f.stem, f, source=str(f))
    return reg


def load_spec(name_or_path: str) -> LeaderboardSpec:
    """A built-in spec by name (``main``), or a YAML file."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml") or not path.exists():
        reg = _builtin()
        if name_or_path not in reg:
            raise SpecError(reg.unknown_message(name_or_path) + "; or give the path of a spec YAML file")
        path = reg.get(name_or_path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise SpecError(f"cannot read leaderboard spec {path}: {e}") from None
    if not isinstance(doc, dict):
        raise SpecError(f"leaderboard spec {path} must be a mapping")
    try:
        return LeaderboardSpec.model_validate({"name": path.stem, **doc, "source": str(path)})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise SpecError(f"leaderboard spec {path}: {where}: {first['msg']}") from None


def spec_names() -> list[str]:
    return _builtin().names()
