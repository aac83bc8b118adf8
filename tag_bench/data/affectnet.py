"""AffectNet (datasets.md §4): the CSV release, the npy release, DAN folders and the YOLO re-packaging.

Codes: 0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt; 8-10 (None,
Uncertain, No-Face) are never classes; 7 is dropped for 7-class tasks. Valence/arousal of -2 mean
"not annotated" and become None. Landmarks are stored in presented-image pixels. The releases are
read by ``_affectnet_releases``; this module finds them and applies the protocol.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tag_bench.data._affectnet_releases import (
    CsvRelease,
    NpyRelease,
    YoloCopy,
    find_csv_images,
    load_csv,
    load_npy,
    load_yolo,
    read_npy,
    read_yolo_names,
)
from tag_bench.data._common import (
    AFFECTNET_ORDER,
    ClassOrder,
    archive_error,
    archives_in,
    count_warning,
    first_rar_part,
    normalise_split,
    parse_class_order,
    reject_unknown_options,
)
from tag_bench.data._listing import Listing, list_dir
from tag_bench.data.base import ArchiveHint, DatasetError, DatasetSpec, Probe, SplitData
from tag_bench.data.detect import DetectedDataset, locate
from tag_bench.data.folders import index_tree, listed_split_dirs

__all__ = ["SPEC", "load", "load_detected", "read_npy", "read_yolo_names"]

OFFICIAL_COUNTS = {(7, "train"): 283901, (8, "train"): 287651, (7, "val"): 3500, (8, "val"): 4000}
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "test": "test"}  # fmt: skip
RELEASES = {
    "auto": None,
    "csv": "affectnet-csv",
    "npy": "affectnet-npy",
    "folder": "folder",
    "yolo": "affectnet-yolo",
}
_HINT = (
    "AffectNet is found as Manually_Annotated_file_lists/{training,validation}.csv with "
    "Manually_Annotated_Images/, as train_set/ and val_set/ with images/ and annotations/*.npy, as "
    "class folders {train,val}/0..7 (DAN; needs class_order=affectnet), or as a YOLO folder with data.yaml."
)


def load(
    data_root: str | os.PathLike[str] | None,
    split: str,
    num_classes: int = 8,
    release: str = "auto",
    crop: str = "bbox",
    class_order: Any = None,
    landmarks: bool | str = "auto",
    layout: str | None = None,
    **unknown: Any,
) -> SplitData:
    """Index one AffectNet split (train or val; validation is accepted; test only for YOLO copies).

    ``num_classes`` 8 keeps codes 0..7, 7 drops contempt. ``release``: auto, csv, npy, folder or yolo.
    ``crop``: bbox (present the annotated face box, CSV release) or none. ``landmarks``: keep the 68
    points in ``meta["landmarks68"]``; ``auto`` keeps them except on the train split, where 288k point
    lists would cost about 3 GB of memory (pass ``landmarks=True`` to keep them there too).
    """
    reject_unknown_options(
        "AffectNet", unknown, ("num_classes", "release", "crop", "class_order", "landmarks", "layout")
    )
    if release not in RELEASES:
        raise DatasetError(f"AffectNet release must be one of {', '.join(RELEASES)}, not {release!r}")
    order = parse_class_order(class_order)

    def accept(d: DetectedDataset) -> int:
        if d.name == "affectnet":
            return 2
        return 1 if d.layout in ("folder-numeric", "folder-names", "folder-other") else 0

    hit = locate(
        data_root,
        accept,
        "AffectNet dataset",
        _HINT,
        layout=RELEASES[release] or layout,
        class_order_given=order is not None,
    )
    return load_detected(
        hit, split, num_classes=num_classes, crop=crop, class_order=order, landmarks=landmarks
    )


def load_detected(
    hit: DetectedDataset,
    split: str,
    num_classes: int = 8,
    crop: str = "bbox",
    class_order: Any = None,
    landmarks: bool | str = "auto",
) -> SplitData:
    """``load`` for a dataset already found by ``detect_datasets``."""
    split = normalise_split("AffectNet", split, SPLIT_ALIASES)
    try:
        num_classes = int(num_classes)
    except (TypeError, ValueError):
        num_classes = 0
    if num_classes not in (7, 8):
        raise DatasetError("AffectNet num_classes must be 7 or 8")
    if crop not in ("bbox", "none"):
        raise DatasetError(f"AffectNet crop must be bbox or none, not {crop!r}")
    order = parse_class_order(class_order)
    if split == "test" and hit.layout != "affectnet-yolo":
        raise DatasetError(
            "AffectNet has no public test set; the validation set (split val) is the benchmark test set"
        )
    if landmarks == "auto":
        landmarks = split != "train"
    elif not isinstance(landmarks, bool):
        raise DatasetError(f"AffectNet landmarks must be true, false or auto, not {landmarks!r}")
    drop = frozenset({"contempt"}) if num_classes == 7 else frozenset()
    if hit.layout == "affectnet-csv":
        data = load_csv(hit.root, hit.detail(CsvRelease), split, drop, crop == "bbox", landmarks)
    elif hit.layout == "affectnet-npy":
        data = load_npy(hit.root, hit.detail(NpyRelease), split, drop, landmarks)
    elif hit.layout == "affectnet-yolo":
        data = load_yolo(hit.root, hit.detail(YoloCopy), split, drop)
    else:
        data = _load_folders(hit, split, order, drop)
    data.info.update(
        {
            "protocol": f"affectnet-{num_classes}",
            "num_classes": num_classes,
            "landmarks": landmarks,
            "description": hit.description,
        }
    )
    data.info.setdefault("classes", [c for c in AFFECTNET_ORDER if c not in drop])
    if hit.layout == "affectnet-yolo":
        data.warnings.insert(0, hit.warnings[0])
    else:
        expected = OFFICIAL_COUNTS[(num_classes, split)]
        warn = count_warning(f"AffectNet-{num_classes}", split, len(data.samples), expected)
        if warn:
            data.warnings.append(warn)
    return data


# --------------------------------------------------------------------------------------------------
# Probes


def _probe_csv(ls: Listing) -> DetectedDataset | None:
    lists = ls.dir("Manually_Annotated_file_lists")
    if lists is None:
        return None
    fl = list_dir(lists)
    found = {s: fl.file(f) for s, f in (("train", "training.csv"), ("val", "validation.csv"))}
    files = {s: p for s, p in found.items() if p is not None}
    if not files:
        return None
    images = find_csv_images(ls.path)
    errors = []
    if images is None:
        archives = archives_in(ls.path, ("manually_annotated",))
        for sub in ls.dirs.values():
            if (
                sub.lower().startswith("manually_annotated")
                and sub.lower() != "manually_annotated_file_lists"
            ):
                archives += archives_in(ls.path / sub, ("manually_annotated",))
        archives = first_rar_part(archives)
        if archives:
            errors.append(
                str(
                    archive_error(
                        "AffectNet images folder Manually_Annotated_Images/",
                        archives,
                        ls.path,
                        f"{ls.path / 'Manually_Annotated_Images'}/ (or a folder holding it)",
                    )
                )
            )
        else:
            errors.append(
                f"AffectNet file lists found in {lists}, but no Manually_Annotated_Images/ folder in "
                f"{ls.path} or one level below; put the images there"
            )
    desc = "AffectNet manually annotated release: " + ", ".join(p.name for p in files.values())
    if images is not None:
        desc += f", images in {images.relative_to(ls.path)}/"
    return DetectedDataset(
        "affectnet",
        "affectnet-csv",
        ls.path,
        desc,
        splits=sorted(files, key=["train", "val"].index),
        errors=errors,
        details=CsvRelease(files, images),
        loader="affectnet",
    )


_NPY_SPLITS = {"train_set": "train", "training_set": "train", "val_set": "val", "valid_set": "val",
               "validation_set": "val"}  # fmt: skip


def _probe_npy(ls: Listing) -> DetectedDataset | None:
    splits: dict[str, Path] = {}
    for low, real in sorted(ls.dirs.items()):
        split = _NPY_SPLITS.get(low)
        if split and split not in splits:
            sl = list_dir(ls.path / real)
            if sl.dir("annotations") and sl.dir("images"):
                splits[split] = ls.path / real
    if not splits:
        return None
    return DetectedDataset(
        "affectnet",
        "affectnet-npy",
        ls.path,
        "AffectNet newer release (224x224 face crops with .npy annotations): "
        + ", ".join(f"{p.name}/" for p in splits.values()),
        splits=sorted(splits, key=["train", "val"].index),
        details=NpyRelease(splits),
        loader="affectnet",
    )


def _probe_yolo(ls: Listing) -> DetectedDataset | None:
    cfg = ls.file("data.yaml") or ls.file("data.yml")
    if cfg is None:
        return None
    splits = {}
    for split, path in listed_split_dirs(ls).items():
        sl = list_dir(path)
        if sl.dir("images") and sl.dir("labels"):
            splits[split] = path
    if not splits:
        return None
    errors: list[str] = []
    try:
        names = read_yolo_names(cfg)
    except DatasetError as e:
        names, errors = [], [str(e)]
    return DetectedDataset(
        "affectnet",
        "affectnet-yolo",
        ls.path,
        f"YOLO-format emotion set (Kaggle affectnet-yolo-format style): {cfg.name} with classes "
        f"{', '.join(names) or '?'}; folders {', '.join(p.name for p in splits.values())}",
        splits=sorted(splits, key=["train", "val", "test"].index),
        errors=errors,
        warnings=[
            "the YOLO re-packaging is a subset of AffectNet with its own split; its numbers are not comparable "
            "with the official AffectNet validation protocol"
        ],
        details=YoloCopy(cfg, splits, names),
        loader="affectnet",
    )


def _archive_hint(name: str) -> bool:
    return "affect" in name or "manually_annotated" in name


# --------------------------------------------------------------------------------------------------
# DAN-style class folders


def _load_folders(
    hit: DetectedDataset, split: str, order: ClassOrder | None, drop: frozenset[str]
) -> SplitData:
    if hit.layout == "folder-numeric" and order is None:
        raise DatasetError(" ".join(hit.errors))
    return index_tree(
        hit.root,
        [split],
        order,
        dataset="affectnet",
        split_name=split,
        layout="affectnet-folder",
        drop=drop,
        info={"release": "folder"},
    )


_OFFICIAL_8 = {split: n for (classes, split), n in OFFICIAL_COUNTS.items() if classes == 8}


def _counts_for(data: SplitData) -> Mapping[str, int]:
    return {} if data.layout == "affectnet-yolo" else _OFFICIAL_8


SPEC = DatasetSpec(
    name="affectnet",
    load=load,
    load_detected=load_detected,
    class_orders={"affectnet": AFFECTNET_ORDER},
    official_counts=_OFFICIAL_8,
    counts_for=_counts_for,
    probes=(
        Probe(500, "affectnet-csv", _probe_csv),
        Probe(600, "affectnet-npy", _probe_npy),
        Probe(700, "affectnet-yolo", _probe_yolo),
    ),
    skip_folders=frozenset(
        {
            "manually_annotated_images",
            "automatically_annotated_images",
            "manually_annotated_file_lists",
            "automatically_annotated_file_lists",
        }
    ),
    archive_hint=ArchiveHint(2, _archive_hint),
)
