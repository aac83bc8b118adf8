"""Folder-per-class trees: ``<root>/<split>/<class>/<image>`` (ImageFolder-style re-packagings).

The class of a folder is never guessed from a number: numbered folders need an explicit
``class_order`` (a preset such as ``affectnet`` or ``rafdb``, or a list of canonical names); folders
named by emotion (``angry``, ``happy`` ...) describe themselves. The ``folder`` dataset loads any such
tree; the RAF-DB and AffectNet loaders reuse ``index_tree`` for their re-packagings, and their probes
``class_tree``. Hugging Face parquet shards are detected here too, to say how to turn them into a tree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tag_bench.data._common import (
    CLASS_ORDER_HELP,
    SPLIT_FOLDER_NAMES,
    ClassOrder,
    check_unique_ids,
    emotion_named_folders,
    is_image_name,
    normalise_split,
    parse_class_order,
    reject_unknown_options,
    sort_folders,
)
from tag_bench.data._listing import Listing, split_dirs, subdirs
from tag_bench.data.base import DatasetError, DatasetSpec, Probe, SplitData
from tag_bench.data.detect import DetectedDataset, locate
from tag_bench.schema import Sample

SPLIT_ALIASES = SPLIT_FOLDER_NAMES

IdFn = Callable[[str, str, str], str]


# --------------------------------------------------------------------------------------------------
# Finding trees


@dataclass
class ClassTree:
    """Details of a folder-per-class layout: the class folders of each split folder."""

    tree: dict[str, list[str]]


@dataclass
class ParquetShards:
    """Details of the hf-parquet layout."""

    shards: list[Path]


def ordered_splits(splits: Iterable[str]) -> list[str]:
    """Split names as listed to the user: train, val, test, then the rest by name."""
    rank = {"train": 0, "val": 1, "valid": 1, "test": 2}
    return sorted(splits, key=lambda s: (rank.get(s, 3), s))


def listed_split_dirs(ls: Listing) -> dict[str, Path]:
    """Split folders (train/test/val and their spellings) directly inside the listed folder."""
    return split_dirs(ls.path, (real for _low, real in sorted(ls.dirs.items())))


def class_tree(ls: Listing) -> dict[str, list[str]] | None:
    """{split: class folders} when the folder is a split/class tree with at least 2 classes per split."""
    splits = listed_split_dirs(ls)
    if not splits:
        return None
    tree = {}
    for split, path in splits.items():
        classes = subdirs(path)
        if len(classes) < 2:
            return None
        tree[split] = sort_folders(classes)
    return tree


def _probe_folder(ls: Listing) -> DetectedDataset | None:
    tree = class_tree(ls)
    if not tree:
        return None
    classes = sorted({c for cs in tree.values() for c in cs})
    if emotion_named_folders(classes):
        return DetectedDataset(
            "folder",
            "folder-names",
            ls.path,
            f"Folder-per-class tree with classes named by emotion ({', '.join(classes)}); splits "
            f"{', '.join(ordered_splits(tree))}",
            splits=ordered_splits(tree),
            details=ClassTree(tree),
            loader="folder",
        )
    if all(re.fullmatch(r"\d+", c) for c in classes):
        nums = sort_folders(classes)
        hint = ""
        if nums == [str(i) for i in range(7)]:
            hint = " MA-Net's RAF-DB re-packaging uses 0..6 in AffectNet order (class_order=affectnet)."
        elif nums == [str(i) for i in range(8)]:
            hint = " DAN's AffectNet split uses 0..7 in AffectNet order (class_order=affectnet)."
        return DetectedDataset(
            "folder",
            "folder-numeric",
            ls.path,
            f"Folder-per-class tree with numbered class folders {', '.join(nums)}; splits "
            f"{', '.join(ordered_splits(tree))}",
            splits=ordered_splits(tree),
            errors=[
                f"{ls.path} has class folders numbered {', '.join(nums)}. Numbers mean different classes in "
                f"different re-packagings, so tag-bench never guesses the order.{hint} {CLASS_ORDER_HELP}"
            ],
            details=ClassTree(tree),
            needs_class_order=True,
            loader="folder",
        )
    return DetectedDataset(
        "folder",
        "folder-other",
        ls.path,
        f"Folder-per-class tree with classes {', '.join(classes)}",
        splits=ordered_splits(tree),
        errors=[
            f"class folders {classes} in {ls.path} are neither emotion names nor numbers. {CLASS_ORDER_HELP}"
        ],
        details=ClassTree(tree),
        needs_class_order=True,
        loader="folder",
    )


def _probe_parquet(ls: Listing) -> DetectedDataset | None:
    shards = [ls.path / real for low, real in sorted(ls.files.items()) if low.endswith(".parquet")]
    if not shards:
        return None
    return DetectedDataset(
        "unknown",
        "hf-parquet",
        ls.path,
        f"Hugging Face parquet shards ({', '.join(p.name for p in shards[:3])})",
        errors=[
            "parquet shards are not read by tag-bench. Export the images to class folders (e.g. with the "
            "'datasets' library: load_dataset('parquet', data_files=...) and save each image under "
            "<split>/<class name from the card's class_label.names>/) and load them as dataset 'folder'"
        ],
        details=ParquetShards(shards),
    )


# --------------------------------------------------------------------------------------------------
# Indexing a tree


def _split_folders(root: Path) -> dict[str, Path]:
    return split_dirs(root, sorted(subdirs(root)))


def index_tree(
    root: Path,
    split_candidates: Sequence[str],
    order: ClassOrder | None,
    dataset: str,
    split_name: str,
    layout: str,
    id_fn: IdFn | None = None,
    info: dict[str, Any] | None = None,
    drop: frozenset[str] = frozenset(),
) -> SplitData:
    """Index ``root/<split>/<class>/*`` for the first of ``split_candidates`` present.

    ``drop`` lists canonical classes excluded by protocol (e.g. contempt for AffectNet-7); folders
    the class order marks as non-classes (AffectNet codes 8..10) are excluded too, and both are counted.
    """
    folders = _split_folders(root)
    split_dir = next((folders[s] for s in split_candidates if s in folders), None)
    if split_dir is None:
        have = ", ".join(sorted(p.name for p in folders.values())) or "none"
        raise DatasetError(
            f"no {split_name} folder in {root} (looked for {', '.join(split_candidates)}; split folders "
            f"present: {have})"
        )
    classes = sort_folders(e.name for e in os.scandir(split_dir) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise DatasetError(f"{split_dir} has no class folders; expected {split_dir}/<class>/<image files>")
    where = str(split_dir)
    if order is None:
        if not emotion_named_folders(classes):
            raise DatasetError(
                f"{split_dir} has class folders {', '.join(classes)}, and tag-bench never infers a class "
                f"order from folder numbers or unknown names. {CLASS_ORDER_HELP}"
            )
        order = parse_class_order("names")
    assert order is not None
    mapping = order.assign(classes, where)
    samples: list[Sample] = []
    excluded: dict[str, int] = {}
    other_files = 0
    for cls in classes:
        label = mapping[cls]
        cdir = split_dir / cls
        names = sorted(os.listdir(cdir))
        images = [n for n in names if is_image_name(n)]
        other_files += len(names) - len(images)
        if label is None or label in drop:
            key = f"{cls} ({label or 'not a class'})"
            excluded[key] = excluded.get(key, 0) + len(images)
            continue
        native: int | str = int(cls) if re.fullmatch(r"\d+", cls) else cls
        for n in images:
            stem = os.path.splitext(n)[0]
            sid = id_fn(split_name, cls, stem) if id_fn else f"{dataset}/{split_name}/{cls}/{stem}"
            samples.append(
                Sample(
                    id=sid,
                    dataset=dataset,
                    split=split_name,
                    image=str(cdir / n),
                    label=label,
                    native_label=native,
                    meta={"file": f"{split_dir.name}/{cls}/{n}"},
                )
            )
    check_unique_ids(samples, str(split_dir))
    out_info: dict[str, Any] = {
        **(info or {}),
        "class_order": order.describe(),
        "class_folders": {c: mapping[c] for c in classes},
        "split_folder": str(split_dir),
        "missing_images": 0,
    }
    if excluded:
        out_info["excluded"] = excluded
    if other_files:
        out_info["non_image_files"] = other_files
    warnings = []
    if split_dir.name.lower() not in (split_name, *[k for k, v in SPLIT_ALIASES.items() if v == split_name]):
        warnings.append(f"{split_name} split read from the {split_dir.name}/ folder of {root}")
    return SplitData(dataset, split_name, layout, root, samples, warnings, out_info)


def load(
    data_root: str | os.PathLike[str] | None,
    split: str,
    class_order: Any = None,
    name: str = "folder",
    layout: str | None = None,
    **unknown: Any,
) -> SplitData:
    """Index ``<root>/<split>/<class>/*``: any folder-per-class tree (also FER2013's msambare folders).

    ``class_order`` is required unless the class folders are named by emotion. ``name`` is the dataset
    name written into sample ids.
    """
    reject_unknown_options("folder", unknown, ("class_order", "name", "layout"))
    order = parse_class_order(class_order)
    hit = locate(
        data_root,
        lambda d: d.layout.startswith("folder-") or d.layout in ("fer2013-folders", "rafdb-kaggle"),
        "folder-per-class tree (<split>/<class>/<images>)",
        "Expected folders such as train/<class>/*.jpg and test/<class>/*.jpg.",
        layout=layout,
        class_order_given=order is not None,
    )
    return load_detected(hit, split, class_order=order, name=name)


def load_detected(
    hit: DetectedDataset, split: str, class_order: Any = None, name: str = "folder"
) -> SplitData:
    """``load`` for a tree already found by ``detect_datasets``."""
    split = normalise_split("folder dataset", split, SPLIT_ALIASES)
    order = parse_class_order(class_order)
    if order is None and hit.layout == "rafdb-kaggle":
        order = parse_class_order("rafdb")
    if order is None and hit.needs_class_order:
        raise DatasetError(" ".join(hit.errors))
    data = index_tree(hit.root, [split], order, dataset=name, split_name=split, layout=hit.layout)
    data.warnings = list(hit.warnings) + data.warnings
    data.info["description"] = hit.description
    return data


SPEC = DatasetSpec(
    name="folder",
    load=load,
    load_detected=load_detected,
    probes=(Probe(800, "folder", _probe_folder), Probe(900, "hf-parquet", _probe_parquet)),
)
