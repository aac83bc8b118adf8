"""What every dataset loader returns, and how loaders are found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench.schema import Sample


class DatasetError(Exception):
    """The dataset on disk cannot be used as asked; the message says what is wrong and how to fix it."""


@dataclass
class SplitData:
    """The samples of one split, plus what the loader found out on the way."""

    dataset: str
    split: str
    layout: str  # e.g. "rafdb-official", "ferplus-official", "affectnet-csv"
    root: Path
    samples: list[Sample]
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # protocol, labels_source, expected counts ...


#: A loader: (data_root, split, **options) -> SplitData.
Loader = Callable[..., SplitData]

_LOADERS: dict[str, str] = {
    "rafdb": "tag_bench.data.rafdb:load",
    "ferplus": "tag_bench.data.ferplus:load",
    "affectnet": "tag_bench.data.affectnet:load",
    "folder": "tag_bench.data.folders:load",
    "demo": "tag_bench.data.demo:load",
}


def register_loader(name: str, target: str | Loader) -> None:
    """Register a dataset loader by name (``"pkg.module:function"`` or a callable)."""
    if name in _LOADERS:
        raise ValueError(f"dataset loader {name!r} is already registered")
    _LOADERS[name] = target  # type: ignore[assignment]


def get_loader(name: str) -> Loader:
    import importlib

    target = _LOADERS.get(name)
    if target is None:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(_LOADERS))}")
    if callable(target):
        return target
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def load_split(dataset: str, data_root: str | Path | None, split: str, **options: Any) -> SplitData:
    """Index one split of ``dataset`` found under ``data_root`` (no image is decoded)."""
    return get_loader(dataset)(data_root, split, **options)
