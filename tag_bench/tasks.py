"""Tasks: a dataset split + label protocol + class list + prompt, defined in YAML.

Tasks are discovered from the built-in ``tasks/`` folder, from user folders (``--tasks-dir`` or
``TAG_BENCH_TASKS_DIR``, ``os.pathsep``-separated) and from the entry-point group ``tag_bench.tasks``.
Two definitions with one name are an error naming both sources, never silent shadowing.

An entry point may name a Task, a dict, a YAML file or folder path, or a zero-argument callable
returning any of these (or a list of them).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tag_bench._hashing import stable_hash
from tag_bench._registry import Registry, RegistryError
from tag_bench.data import load_split
from tag_bench.errors import TagBenchError
from tag_bench.schema import CANONICAL_EMOTIONS, Sample, TaskInfo

ENTRY_POINT_GROUP = "tag_bench.tasks"


class TaskError(TagBenchError):
    """A task definition is invalid, unknown or clashes with another."""


class Task(BaseModel):
    """A benchmark task. ``classes`` are canonical names in the order metrics report them."""

    model_config = ConfigDict(extra="forbid")
    name: str
    version: int = 1
    dataset: str
    split: str
    protocol: str
    classes: list[str]
    prompt: str = "tag_grounded"
    description: str = ""
    loader: dict[str, Any] = Field(default_factory=dict)  # options for the dataset loader
    source: str = ""  # where the definition came from (file or entry point)

    @field_validator("classes")
    @classmethod
    def _canonical_classes(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if c not in CANONICAL_EMOTIONS]
        if bad:
            raise ValueError(f"classes must be canonical emotion names {CANONICAL_EMOTIONS}; got {bad}")
        if len(set(v)) != len(v):
            raise ValueError("classes contain duplicates")
        if len(v) < 2:
            raise ValueError("a task needs at least two classes")
        return v

    @model_validator(mode="after")
    def _name_ok(self) -> Task:
        if not self.name or any(c.isspace() for c in self.name) or "," in self.name:
            raise ValueError(f"task name {self.name!r} must be non-empty with no spaces or commas")
        return self

    def fingerprint(self) -> str:
        d = self.model_dump(exclude={"source", "description"})
        return stable_hash(d, 16)

    def load(
        self, data_root: str | Path | None = None, limit: int | None = None, **overrides: Any
    ) -> TaskData:
        """Index the task's samples. Samples whose label is outside ``classes`` are excluded by protocol."""
        options = {**self.loader, **{k: v for k, v in overrides.items() if v is not None}}
        split = load_split(self.dataset, data_root, self.split, **options)
        keep = [s for s in split.samples if s.label in self.classes]
        excluded = len(split.samples) - len(keep)
        if limit is not None:
            keep = keep[:limit]
        return TaskData(
            task=self,
            samples=keep,
            layout=split.layout,
            root=split.root,
            warnings=list(split.warnings),
            info={**split.info, "excluded_by_class_list": excluded},
        )

    def info(self, data: TaskData | None = None) -> TaskInfo:
        return TaskInfo(
            name=self.name,
            version=self.version,
            dataset=self.dataset,
            split=self.split,
            protocol=(data.info.get("protocol") if data else None)
            or self.protocol,  # the loader's, if overridden
            classes=list(self.classes),
            prompt=self.prompt,
            layout=data.layout if data else None,
            labels_source=(data.info.get("labels_source") if data else None),
            n_samples=len(data.samples) if data else None,
        )


@dataclass
class TaskData:
    task: Task
    samples: list[Sample]
    layout: str
    root: Path
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def builtin_tasks_dir() -> Path:
    """The repository's ``tasks/`` folder (also shipped inside the package as resources/tasks)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources" / "tasks", here.parent / "tasks"):
        if candidate.is_dir():
            return candidate
    return here.parent / "tasks"


def _task_from_mapping(d: dict[str, Any], source: str) -> Task:
    try:
        return Task.model_validate({**d, "source": source})
    except Exception as e:  # pydantic ValidationError -> one readable message
        raise TaskError(f"invalid task definition in {source}: {e}") from e


def load_task_file(path: str | Path) -> list[Task]:
    """Tasks defined in one YAML file (a mapping, or a list of mappings)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise TaskError(f"cannot parse task file {path}: {e}") from e
    docs = doc if isinstance(doc, list) else [doc]
    out = []
    for d in docs:
        if not isinstance(d, dict):
            raise TaskError(f"task file {path} must hold a mapping (or a list of mappings)")
        out.append(_task_from_mapping(d, str(path)))
    return out


def _tasks_in_dir(folder: Path) -> list[Task]:
    out: list[Task] = []
    for f in sorted(folder.glob("*.y*ml")):
        if f.suffix in (".yaml", ".yml"):
            out.extend(load_task_file(f))
    return out


def _coerce(obj: Any, source: str) -> list[Task]:
    if isinstance(obj, Task):
        return [obj.model_copy(update={"source": obj.source or source})]
    if isinstance(obj, dict):
        return [_task_from_mapping(obj, source)]
    if isinstance(obj, (str, os.PathLike)):
        p = Path(obj)
        if p.is_dir():
            return _tasks_in_dir(p)
        if p.is_file():
            return load_task_file(p)
        raise TaskError(f"entry point {source} points at {p}, which does not exist")
    if callable(obj):
        return _coerce(obj(), source)
    if isinstance(obj, Iterable):
        return [t for item in obj for t in _coerce(item, source)]
    raise TaskError(f"entry point {source} gave {type(obj).__name__}, not a task definition")


def _entry_point_tasks() -> list[Task]:
    out: list[Task] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        source = f"entry point {ep.name} ({ep.value})"
        try:
            obj = ep.load()
        except Exception as e:
            raise TaskError(f"cannot load {source}: {e}") from e
        out.extend(_coerce(obj, source))
    return out


def _user_dirs(tasks_dirs: Iterable[str | Path] | None) -> list[Path]:
    dirs = [Path(d) for d in (tasks_dirs or [])]
    env = os.environ.get("TAG_BENCH_TASKS_DIR")
    if env:
        dirs.extend(Path(d) for d in env.split(os.pathsep) if d)
    for d in dirs:
        if not d.is_dir():
            raise TaskError(f"tasks folder {d} does not exist")
    return dirs


def discover_tasks(tasks_dirs: Iterable[str | Path] | None = None) -> dict[str, Task]:
    """All tasks by name. Raises TaskError on a name defined twice."""
    registry = _registry(tasks_dirs)
    return {name: registry.get(name) for name in registry.names()}


def _registry(tasks_dirs: Iterable[str | Path] | None) -> Registry[Task]:
    found: list[Task] = _tasks_in_dir(builtin_tasks_dir())
    for d in _user_dirs(tasks_dirs):
        found.extend(_tasks_in_dir(d))
    found.extend(_entry_point_tasks())
    registry: Registry[Task] = Registry("task")
    for t in found:
        try:
            registry.register(t.name, t, source=t.source)
        except RegistryError as e:
            raise TaskError(str(e)) from None
    return registry


def load_task(name: str, tasks_dirs: Iterable[str | Path] | None = None) -> Task:
    """One task by name, or a TaskError listing the known ones. A path to a YAML file also works."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        tasks = load_task_file(p)
        if len(tasks) != 1:
            raise TaskError(f"{p} defines {len(tasks)} tasks; name one of them instead")
        return tasks[0]
    registry = _registry(tasks_dirs)
    if name not in registry:
        raise TaskError(registry.unknown_message(name))
    return registry.get(name)
