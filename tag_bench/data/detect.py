"""Which datasets and layouts are on disk: a folder walk that asks the registered datasets' probes.

``detect_datasets(root)`` walks a few folder levels below ``root`` (never into image folders); in each
folder it tries the probes of every registered dataset in their §1.2 order, and the first hit makes
the folder a dataset root. Layouts that cannot be loaded as they are (an archive not extracted,
numbered class folders without a class order) carry ``errors`` that say how to fix them. Loaders
find their dataset with ``locate``. This module knows no dataset: each one declares its probes in
its ``DatasetSpec``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tag_bench.data._common import archive_suffix, extract_command, first_rar_part, resolve_root
from tag_bench.data._listing import Listing, walk
from tag_bench.data.base import DatasetError, DatasetSpec, SplitData, all_specs, get_spec

MAX_DEPTH = 4

#: Folder names never walked into, whatever the dataset (specs add their own image/label folders).
SKIP_FOLDERS = frozenset({"image", "images", "annotation", "annotations", "feature", "labels", "__pycache__",
                          "node_modules", "site-packages"})  # fmt: skip

D = TypeVar("D")


@dataclass
class DetectedDataset:
    """One dataset found on disk."""

    name: str  # rafdb, ferplus, fer2013, affectnet, folder, unknown
    layout: str  # e.g. rafdb-official, rafdb-kaggle, ferplus-official, affectnet-npy, folder-numeric
    root: Path
    description: str  # one human sentence
    splits: list[str] = field(default_factory=list)  # split names a loader can be asked for
    errors: list[str] = field(default_factory=list)  # why it cannot be loaded as it is, and the fix
    warnings: list[str] = field(default_factory=list)
    details: object = None  # what the probe found, as a record of the layout's own type
    needs_class_order: bool = False
    loader: str | None = None  # the registered dataset that reads this layout (None: none does)

    @property
    def usable(self) -> bool:
        return not self.errors

    def detail(self, kind: type[D]) -> D:
        """``details`` as the record type ``kind`` of this layout."""
        if not isinstance(self.details, kind):
            raise TypeError(
                f"the {self.layout} layout carries {type(self.details).__name__}, not {kind.__name__}"
            )
        return self.details

    def load(self, split: str, **options: Any) -> SplitData:
        """Index ``split`` of this dataset with its loader, without searching again."""
        if self.loader is None:
            raise DatasetError(" ".join(self.errors) or f"no loader reads the {self.layout} layout")
        spec = get_spec(self.loader)
        if self.errors and not (self.needs_class_order and options.get("class_order")):
            raise DatasetError(" ".join(self.errors))
        if spec.load_detected is None:
            raise DatasetError(f"dataset {spec.name!r} cannot load the {self.layout} layout it was found in")
        return spec.load_detected(self, split, **options)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layout": self.layout,
            "root": str(self.root),
            "description": self.description,
            "splits": list(self.splits),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }


@dataclass
class LooseArchive:
    """Details of the ``archive`` layout: an archive outside every dataset root."""

    archive: Path


def detect_datasets(
    data_root: str | os.PathLike[str] | None, max_depth: int = MAX_DEPTH
) -> list[DetectedDataset]:
    """Every dataset found under ``data_root`` (itself or up to ``max_depth`` levels below)."""
    root = resolve_root(data_root)
    specs = all_specs()
    probes = sorted((p for s in specs for p in s.probes), key=lambda p: p.position)
    found: list[DetectedDataset] = []
    archives: list[Path] = []

    def visit(ls: Listing) -> bool:
        for low, real in ls.files.items():
            if archive_suffix(low):
                archives.append(ls.path / real)
        for probe in probes:
            hit = probe.find(ls)
            if hit is not None:
                found.append(hit)
                return False
        return True

    walk(root, max_depth, visit, SKIP_FOLDERS.union(*(s.skip_folders for s in specs)))
    for spec in specs:
        if spec.after_walk is not None:
            found = spec.after_walk(found)
    roots = [d.root for d in found]
    for a in first_rar_part(archives):
        if not any(_inside(a, r) for r in roots):
            found.append(_loose_archive(a, specs))
    return found


def _loose_archive(archive: Path, specs: list[DatasetSpec]) -> DetectedDataset:
    hints = sorted(((s.archive_hint, s.name) for s in specs if s.archive_hint), key=lambda h: h[0].position)
    low = archive.name.lower()
    name = next((n for hint, n in hints if hint.matches(low)), "unknown")
    return DetectedDataset(
        name,
        "archive",
        archive.parent,
        f"archive {archive.name}, not extracted",
        errors=[
            f"{archive} has not been extracted, so its images cannot be found. Extract it: "
            f"{extract_command(archive, archive.parent)}; then run again"
        ],
        details=LooseArchive(archive),
    )


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def locate(
    data_root: str | os.PathLike[str] | None,
    accept: Callable[[DetectedDataset], int],
    what: str,
    hint: str,
    layout: str | None = None,
    class_order_given: bool = False,
    explain: Callable[[list[DetectedDataset]], str | None] | None = None,
) -> DetectedDataset:
    """The one dataset under ``data_root`` that ``accept`` takes, or a DatasetError saying what is wrong.

    ``accept`` scores each detection (0: not this dataset); only the best-scoring ones compete, so a
    dataset's own layout wins over a generic class-folder tree found beside it.

    ``layout`` narrows the choice (a layout name such as ``rafdb-kaggle``, or its last part).
    ``explain`` may turn "nothing found" into a more specific message given what was found instead.
    """
    root = resolve_root(data_root)
    found = detect_datasets(root)
    scores = {id(d): int(accept(d)) for d in found}
    cands = [d for d in found if scores[id(d)] > 0]
    if layout and layout != "auto":
        wanted = [d for d in cands if layout in (d.layout, *d.layout.split("-"))]
        if not wanted:
            have = ", ".join(f"{d.layout} at {d.root}" for d in cands) or "nothing"
            raise DatasetError(f"no {what} in layout {layout!r} under {root}; found {have}")
        cands = wanted
    best = max((scores[id(d)] for d in cands), default=0)
    cands = [d for d in cands if scores[id(d)] == best]
    if len(cands) > 1:
        real = [d for d in cands if d.layout != "archive"]
        cands = real or cands
    if not cands:
        why = explain(found) if explain else None
        if why:
            raise DatasetError(why)
        others = [d for d in found if d.layout == "archive"]
        if others:
            raise DatasetError(" ".join(e for d in others for e in d.errors))
        seen = "; ".join(f"{d.layout} at {d.root}" for d in found)
        raise DatasetError(
            f"no {what} found in {root} or up to {MAX_DEPTH} folder levels below it. {hint}"
            + (f" Found instead: {seen}." if seen else "")
        )
    if len(cands) > 1:
        listing = "; ".join(f"{d.layout} at {d.root}" for d in cands)
        raise DatasetError(
            f"several {what} copies found under {root}: {listing}. Pass the one you mean as --data-root"
        )
    hit = cands[0]
    errors = [] if hit.needs_class_order and class_order_given else list(hit.errors)
    if errors:
        raise DatasetError(" ".join(errors))
    return hit
