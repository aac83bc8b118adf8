"""What a dataset loader returns, what each dataset module declares (its ``DatasetSpec``), and the
registry that finds datasets by name.

Built-in datasets are registered lazily (their modules are imported on first use); another package
adds one through the entry-point group ``tag_bench.datasets`` (a ``DatasetSpec``, or a bare loader)
or with ``register_loader``, never by editing tag-bench.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from tag_bench._registry import Registry, RegistryError
from tag_bench.errors import TagBenchError
from tag_bench.schema import Sample

if TYPE_CHECKING:
    from tag_bench.data._listing import Listing
    from tag_bench.data.detect import DetectedDataset

ENTRY_POINT_GROUP = "tag_bench.datasets"


#: In the warning of a split whose sample count is not the official one (a partial or re-packaged copy); a
#: run's manifest keeps its dataset warnings, and tables place no published number beside such a run.
NOT_COMPARABLE_WITH_PUBLISHED = "results will not be comparable with published numbers"


class DatasetError(TagBenchError):
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
#: A loader of a dataset already found on disk: (detected: DetectedDataset, split, **options) -> SplitData.
DetectedLoader = Callable[..., SplitData]


class Probe(NamedTuple):
    """One layout test of the detection walk: a DetectedDataset when a folder is this layout's root.

    ``position`` orders the probes of all datasets (datasets.md §1.2); in each folder the first hit
    wins, so a specific layout must come before a generic one that would also match.
    """

    position: int
    layout: str
    find: Callable[[Listing], DetectedDataset | None]


class ArchiveHint(NamedTuple):
    """Which dataset an archive lying outside every dataset root probably holds (checked by position)."""

    position: int
    matches: Callable[[str], bool]  # the lower-case archive file name


@dataclass(frozen=True)
class DatasetSpec:
    """Everything tag-bench knows about one dataset, declared once by its module."""

    name: str
    load: Loader
    load_detected: DetectedLoader | None = None
    class_orders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # native orders, by name
    official_counts: Mapping[str, int] = field(default_factory=dict)  # split -> samples, default protocol
    counts_for: Callable[[SplitData], Mapping[str, int]] | None = None  # when they depend on the data
    probes: tuple[Probe, ...] = ()
    skip_folders: frozenset[str] = frozenset()  # lower-case folder names detection never walks into
    archive_hint: ArchiveHint | None = None
    after_walk: Callable[[list[DetectedDataset]], list[DetectedDataset]] | None = None

    def official(self, split: str, data: SplitData) -> int | None:
        """The official sample count of ``split`` comparable with ``data`` (None: none is published)."""
        counts = self.counts_for(data) if self.counts_for is not None else self.official_counts
        return counts.get(split)


DATASETS: Registry[DatasetSpec | Loader] = Registry("dataset", entry_point_group=ENTRY_POINT_GROUP)
DATASETS.register("rafdb", "tag_bench.data.rafdb:SPEC")
DATASETS.register("ferplus", "tag_bench.data.ferplus:SPEC")
DATASETS.register("affectnet", "tag_bench.data.affectnet:SPEC")
DATASETS.register("folder", "tag_bench.data.folders:SPEC")
DATASETS.register("demo", "tag_bench.data.demo:SPEC")


def register_loader(name: str, target: str | Loader | DatasetSpec) -> None:
    """Register a dataset: a ``DatasetSpec``, a loader, or ``"pkg.module:attribute"`` naming either.

    A taken name is a ValueError naming both registrations.
    """
    try:
        DATASETS.register(name, target)
    except RegistryError as e:
        raise ValueError(str(e)) from None


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name`` (a bare loader is wrapped in a spec without probes)."""
    if name not in DATASETS:
        raise DatasetError(DATASETS.unknown_message(name))
    try:
        entry = DATASETS.get(name)
    except RegistryError as e:
        raise DatasetError(str(e)) from None
    if isinstance(entry, DatasetSpec):
        return entry
    if callable(entry):
        return DatasetSpec(name, load=entry)
    raise DatasetError(f"dataset {name!r} ({DATASETS.source(name)}) is neither a DatasetSpec nor a loader")


def all_specs() -> list[DatasetSpec]:
    """Every registered dataset's spec, by name."""
    return [get_spec(name) for name in DATASETS.names()]


def get_loader(name: str) -> Loader:
    return get_spec(name).load


def load_split(dataset: str, data_root: str | Path | None, split: str, **options: Any) -> SplitData:
    """Index one split of ``dataset`` found under ``data_root`` (no image is decoded)."""
    return get_spec(dataset).load(data_root, split, **options)
