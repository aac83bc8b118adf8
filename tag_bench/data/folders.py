"""Folder-per-class trees: ``<root>/<split>/<class>/<image>`` (ImageFolder-style re-packagings).

The class of a folder is never guessed from a number: numbered folders need an explicit
``class_order`` (a preset such as ``affectnet`` or ``rafdb``, or a list of canonical names); folders
named by emotion (``angry``, ``happy`` ...) describe themselves. The ``folder`` dataset loads any such
tree; the RAF-DB and AffectNet loaders reuse ``index_tree`` for their re-packagings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
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
from tag_bench.data._listing import split_dirs, subdirs
from tag_bench.data.base import DatasetError, SplitData
from tag_bench.schema import Sample

SPLIT_ALIASES = SPLIT_FOLDER_NAMES

IdFn = Callable[[str, str, str], str]


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
    from tag_bench.data.detect import locate

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


def load_detected(hit: Any, split: str, class_order: Any = None, name: str = "folder") -> SplitData:
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
