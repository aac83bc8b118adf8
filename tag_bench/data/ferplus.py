"""FERPlus: FER2013 images with the FER+ crowd votes (datasets.md §3).

Images come from the official ``FER2013{Train,Valid,Test}/`` PNG folders (also the ESR variant
``Images/FER2013Train`` + ``Labels/FER2013Train/label.csv``) or straight from the rows of the
original ``fer2013.csv`` / ``icml_face_data.csv``, paired by position with ``fer2013new.csv``.
Votes come from ``label.csv`` (default when present, what the official ``train.py`` reads) or from
``fer2013new.csv`` (the default of the plurality8-all protocol when present: its published results use it). Protocols: majority (official), argmax8, crossentropy, plurality8-all (see ``_fervotes``).
The original FER2013 layouts (the CSV alone, Kaggle's msambare image folders) are detected here too,
to explain why they are not FERPlus.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tag_bench.data._common import (
    FER2013_ORDER,
    FERPLUS_ORDER,
    NOT_COMPARABLE_WITH_PUBLISHED,
    is_image_name,
    missing_warning,
    normalise_split,
    reject_unknown_options,
)
from tag_bench.data._ferplus_files import (
    FOLDERS,
    FerPlusFiles,
    check_fer_csv,
    discover,
    list_names,
    read_label_csv,
    read_new_csv,
)
from tag_bench.data._fervotes import PROTOCOL_IDS, ferplus_target, normalise_protocol
from tag_bench.data._listing import Listing, subdirs
from tag_bench.data.base import ArchiveHint, DatasetError, DatasetSpec, Probe, SplitData
from tag_bench.data.detect import DetectedDataset, locate
from tag_bench.data.folders import ClassTree, class_tree, listed_split_dirs, ordered_splits
from tag_bench.schema import Sample

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "val": "valid",
    "validation": "valid",
    "publictest": "valid",
    "test": "test",
    "privatetest": "test",
}
#: Official numbers (datasets.md §3.3): images per split, and kept per (labels source, protocol).
OFFICIAL_TOTAL = {"train": 28558, "valid": 3579, "test": 3573}
OFFICIAL_KEPT: dict[tuple[str, str], dict[str, int]] = {
    ("label.csv", "majority"): {"train": 25045, "valid": 3191, "test": 3137},
    ("label.csv", "crossentropy"): {"train": 27947, "valid": 3508, "test": 3507},
    ("label.csv", "argmax8"): {"train": 28385, "valid": 3555, "test": 3545},
    ("fer2013new.csv", "majority"): {"test": 3152},
    ("fer2013new.csv", "crossentropy"): {"test": 3504},
    # nothing is dropped: every listed image
    ("label.csv", "plurality8-all"): OFFICIAL_TOTAL,
    ("fer2013new.csv", "plurality8-all"): OFFICIAL_TOTAL,
}


# --------------------------------------------------------------------------------------------------
# Probes

_FER_SPLIT_DIR = re.compile(r"fer2013(train|valid|test)")
_MSAMBARE = {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}


@dataclass
class Fer2013Csv:
    """Details of the fer2013-csv layout: the CSV and its lower-case header."""

    csv: Path
    columns: list[str]


def _probe_ferplus(ls: Listing) -> DetectedDataset | None:
    names = set(ls.dirs)
    fer_dirs = {n for n in names if _FER_SPLIT_DIR.fullmatch(n)}
    has_new = ls.file("fer2013new.csv") is not None
    esr = (
        "images" in names
        and "labels" in names
        and any(_FER_SPLIT_DIR.fullmatch(s.lower()) for s in subdirs(ls.path / ls.dirs["labels"]))
    )
    repo = "data" in names and any(
        _FER_SPLIT_DIR.fullmatch(s.lower()) for s in subdirs(ls.path / ls.dirs["data"])
    )
    if not (fer_dirs or has_new or esr or repo):
        return None
    return _detected(discover(ls.path))


def _detected(files: FerPlusFiles) -> DetectedDataset:
    errors = files.problems()
    parts = []
    labels = [s for s in FOLDERS if files.label_csv(s)[0]]
    if labels:
        parts.append(f"label.csv for {', '.join(labels)}")
    if files.new_csv:
        parts.append(f"{files.new_csv.name}")
    pngs = [FOLDERS[s] for s in FOLDERS if files.png_dir(s)[0]]
    if pngs:
        parts.append(f"PNG folders {', '.join(pngs)}")
    if files.fer_csv:
        parts.append(f"FER2013 CSV {files.fer_csv.name}")
    layout = files.layout()
    desc = "FERPlus (FER2013 images + FER+ votes): " + (", ".join(parts) or "nothing usable")
    return DetectedDataset(
        "ferplus",
        layout,
        files.root,
        desc,
        splits=files.splits(),
        errors=errors,
        details=files,
        loader="ferplus",
    )


def _csv_header(path: Path) -> list[str] | None:
    try:
        with open(path, "rb") as f:
            head = f.readline(4096)
    except OSError:
        return None
    return [c.strip().lower() for c in head.decode("utf-8-sig", "replace").strip().split(",")]


def _probe_fer2013(ls: Listing) -> DetectedDataset | None:
    csvs = [ls.path / real for low, real in sorted(ls.files.items()) if low.endswith(".csv")][:20]
    for path in csvs:
        cols = _csv_header(path)
        if cols and "pixels" in cols:
            full = "usage" in cols and "emotion" in cols
            return DetectedDataset(
                "fer2013",
                "fer2013-csv",
                ls.path,
                f"FER2013 CSV {path.name} (header {', '.join(cols)}) with the original FER2013 labels",
                errors=[
                    f"{path} holds FER2013 images with the original 7 FER2013 labels; tag-bench evaluates the "
                    "FER+ crowd labels. Put fer2013new.csv from https://github.com/microsoft/FERPlus next to it "
                    "(the FER+ loader pairs its rows with this file by position)"
                    + (
                        ""
                        if full
                        else "; this CSV lacks the Usage column, so it is not the full 35,887-row file"
                    )
                ],
                details=Fer2013Csv(path, cols),
            )
    tree = class_tree(ls)
    if tree and set(tree) <= {"train", "test", "val"}:
        classes = {c.lower() for cs in tree.values() for c in cs}
        if classes == _MSAMBARE:
            sample = _first_image(next(iter(listed_split_dirs(ls).values())))
            if sample is None or re.match(r"(training|publictest|privatetest)_\d+", sample.lower()):
                return DetectedDataset(
                    "fer2013",
                    "fer2013-folders",
                    ls.path,
                    "FER2013 image folders (Kaggle msambare/fer2013: train|test/<emotion>/Training_<n>.jpg) "
                    "with the original FER2013 labels only",
                    splits=ordered_splits(tree),
                    warnings=[
                        "these folders carry the original FER2013 labels, not FER+: the file numbers are not "
                        "row indices, so FER+ votes cannot be joined to them. Load them as dataset 'folder' "
                        "(classes read from the folder names), never as 'ferplus'"
                    ],
                    details=ClassTree(tree),
                    loader="folder",
                )
    return None


def _first_image(folder: Path) -> str | None:
    for sub in sorted(subdirs(folder)):
        try:
            with os.scandir(folder / sub) as it:
                for e in it:
                    if is_image_name(e.name):
                        return e.name
        except OSError:
            continue
    return None


def _pair_fer_csv(found: list[DetectedDataset]) -> list[DetectedDataset]:
    """FER+ votes without images, next to one full FER2013 CSV in a sibling folder: pair them."""
    out = list(found)
    csvs = [d for d in found if isinstance(d.details, Fer2013Csv) and "usage" in d.details.columns]
    for fer in [d for d in found if isinstance(d.details, FerPlusFiles) and d.details.needs_csv()]:
        near = [c for c in csvs if c in out and c.root.parent == fer.root.parent]
        if len(near) == 1:
            redone = _detected(discover(fer.root, extra_csv=near[0].detail(Fer2013Csv).csv))
            out = [redone if d is fer else d for d in out if d is not near[0]]
    return out


def _archive_hint(name: str) -> bool:
    return "fer" in name


# --------------------------------------------------------------------------------------------------
# Loader


def _explain_missing(found: list[DetectedDataset]) -> str | None:
    for d in found:
        if d.layout == "fer2013-folders":
            return (
                f"{d.root} holds the Kaggle msambare FER2013 image folders (train/<emotion>/Training_<n>.jpg). "
                "They carry the original FER2013 labels only and cannot be used as FERPlus: their file numbers "
                "are not row indices, so the FER+ votes cannot be joined to them. For FERPlus get fer2013.csv "
                "(Kaggle fer2013.tar.gz) and fer2013new.csv (github.com/microsoft/FERPlus); to evaluate the "
                "original FER2013 labels use dataset 'folder' on that folder"
            )
    for d in found:
        if d.layout == "fer2013-csv":
            return " ".join(d.errors)
    return None


def load(
    data_root: str | os.PathLike[str] | None,
    split: str,
    protocol: str = "majority",
    labels_source: str = "auto",
    image_source: str = "auto",
    layout: str | None = None,
    **unknown: Any,
) -> SplitData:
    """Index one FERPlus split (train, valid or test; val is accepted for valid).

    ``protocol``: majority (official), argmax8, crossentropy or plurality8-all. ``labels_source``: auto
    (label.csv when present, else fer2013new.csv; for plurality8-all, the published protocol's
    fer2013new.csv when present, else label.csv), label_csv or fer2013new. ``image_source``: auto (PNG
    folders when present, else FER2013 CSV rows), png or csv.
    """
    reject_unknown_options("FERPlus", unknown, ("protocol", "labels_source", "image_source", "layout"))
    hit = locate(
        data_root,
        lambda d: d.name == "ferplus",
        "FERPlus dataset",
        _HINT,
        layout=layout,
        explain=_explain_missing,
    )
    return load_detected(
        hit, split, protocol=protocol, labels_source=labels_source, image_source=image_source
    )


def load_detected(
    hit: DetectedDataset,
    split: str,
    protocol: str = "majority",
    labels_source: str = "auto",
    image_source: str = "auto",
) -> SplitData:
    """``load`` for a dataset already found by ``detect_datasets``."""
    split = normalise_split("FERPlus", split, SPLIT_ALIASES)
    mode = normalise_protocol(protocol)
    if mode is None:
        raise DatasetError(
            f"unknown FERPlus protocol {protocol!r}; use majority (official), argmax8, crossentropy or "
            "plurality8-all"
        )
    key = str(labels_source).lower().replace("-", "_").replace(".", "_")
    source = {"auto": "auto", "label_csv": "label_csv", "labelcsv": "label_csv", "fer2013new": "fer2013new",
              "fer2013new_csv": "fer2013new"}.get(key)  # fmt: skip
    if source is None:
        raise DatasetError(f"labels_source must be auto, label_csv or fer2013new, not {labels_source!r}")
    if image_source not in ("auto", "png", "csv"):
        raise DatasetError(f"image_source must be auto, png or csv, not {image_source!r}")
    files = hit.detail(FerPlusFiles)
    warnings: list[str] = []

    label_csv, notes = files.label_csv(split)
    warnings += notes
    if source == "label_csv" and label_csv is None:
        raise DatasetError(
            f"labels_source=label_csv but no {FOLDERS[split]}/label.csv under {files.root}; copy data/"
            f"{FOLDERS[split]}/label.csv from github.com/microsoft/FERPlus, or use labels_source=fer2013new"
        )
    if source == "fer2013new" and files.new_csv is None:
        raise DatasetError(
            f"labels_source=fer2013new but no fer2013new.csv under {files.root}; put fer2013new.csv from "
            f"github.com/microsoft/FERPlus there, or drop the option to read {FOLDERS[split]}/label.csv"
        )
    # plurality8-all is the published GPT-4V protocol, defined on fer2013new.csv's votes (which differ
    # from label.csv's for some images): auto reads that file whenever it is there
    new_first = mode == "plurality8-all" and source == "auto"
    use_label_csv = (
        label_csv is not None and source != "fer2013new" and not (new_first and files.new_csv is not None)
    )
    if not use_label_csv and files.new_csv is None:
        raise DatasetError(
            f"no FER+ votes for {split}: neither {FOLDERS[split]}/label.csv nor fer2013new.csv under {files.root}"
        )
    if new_first and use_label_csv:
        warnings.append(
            f"the plurality8-all protocol (published GPT-4V results) takes its labels from fer2013new.csv, which "
            f"is not under {files.root}; read {label_csv} instead, whose votes differ for some images: results "
            "are not comparable with the published numbers (add fer2013new.csv from github.com/microsoft/FERPlus)"
        )
    new = read_new_csv(files.new_csv) if files.new_csv is not None else None

    png_dir, notes = files.png_dir(split)
    warnings += notes
    if image_source == "csv" or (image_source == "auto" and png_dir is None):
        if files.fer_csv is None or new is None:
            raise DatasetError(
                f"no images for FERPlus {split}: no {FOLDERS[split]}/ PNG folder and no FER2013 CSV + "
                f"fer2013new.csv pair under {files.root}. " + " ".join(files.problems())
            )
        emotions = check_fer_csv(files.fer_csv, new, files.new_csv)  # type: ignore[arg-type]
        png_dir = None
    elif png_dir is None:
        raise DatasetError(f"image_source=png but no {FOLDERS[split]}/ folder with PNGs under {files.root}")

    if use_label_csv:
        assert label_csv is not None
        votes_by_name = read_label_csv(label_csv)
        labels_name, label_file = "label.csv", label_csv
    else:
        assert new is not None and files.new_csv is not None
        votes_by_name = {k: v for k, (_, v) in new.by_split[split].items()}
        labels_name, label_file = "fer2013new.csv", files.new_csv
        if new.duplicates:
            warnings.append(
                f"fer2013new.csv names {new.duplicates} image(s) twice; the later row wins, as in the official "
                "generator (which overwrites the earlier PNG)"
            )

    rows = new.by_split[split] if new is not None else {}
    png_folder = str(png_dir) if png_dir is not None else ""
    samples: list[Sample] = []
    dropped = 0
    unpaired: list[str] = []
    for name, votes in votes_by_name.items():
        result = ferplus_target(votes, mode)
        if result is None:
            dropped += 1
            continue
        idx, target = result
        meta: dict[str, Any] = {"file": name, "votes": list(votes)}
        if mode == "crossentropy":
            meta["target"] = target
        stem = name[:-4] if name.lower().endswith(".png") else name
        if png_dir is not None:
            image, image_index = os.path.join(png_folder, name), None
        else:
            row = rows.get(name)
            if row is None:
                unpaired.append(name)
                expected = (label_file.parent if use_label_csv else files.root / FOLDERS[split]) / name
                image, image_index = str(expected), None
            else:
                image, image_index = str(files.fer_csv), row[0]
                meta["fer2013_row"] = row[0]
                emo = emotions[row[0]]
                if emo is not None and 0 <= emo < len(FER2013_ORDER):
                    meta["fer2013_label"] = FER2013_ORDER[emo]
        samples.append(
            Sample(
                id=f"ferplus/{split}/{stem}",
                dataset="ferplus",
                split=split,
                image=image,
                image_index=image_index,
                label=FERPLUS_ORDER[idx],
                native_label=idx,
                width=48,
                height=48,
                meta=meta,
            )
        )
    if png_dir is not None:
        present = set(list_names(png_dir))
        missing = [s.image for s in samples if s.meta["file"] not in present]
        msg, n_missing = missing_warning(missing, len(samples)), len(missing)
    else:
        n_missing = len(unpaired)
        msg = None
        if unpaired:
            msg = (
                f"{len(unpaired)} images named in {label_file} have no row in fer2013new.csv (e.g. "
                f"{', '.join(unpaired[:3])}), so their pixels cannot be found; those samples stay in the index "
                "and will be counted as errors"
            )
    if msg:
        warnings.append(msg)
    warn = _count_warning(split, len(votes_by_name), len(samples), labels_name, mode)
    if warn:
        warnings.append(warn)
    layout = files.layout() if png_dir is not None else "ferplus-csv"
    return SplitData(
        dataset="ferplus",
        split=split,
        layout=layout,
        root=files.root,
        samples=samples,
        warnings=warnings,
        info={
            "protocol": PROTOCOL_IDS[mode],
            "labels_source": labels_name,
            "label_file": str(label_file),
            "image_source": "png" if png_dir is not None else "csv",
            "images": str(png_dir) if png_dir is not None else str(files.fer_csv),
            "classes": list(FERPLUS_ORDER),
            "listed": len(votes_by_name),
            "dropped_by_protocol": dropped,
            "missing_images": n_missing,
            "description": hit.description,
        },
    )


_HINT = (
    "FERPlus needs the FER+ votes (fer2013new.csv and/or FER2013{Train,Valid,Test}/label.csv from "
    "github.com/microsoft/FERPlus) and the FER2013 images (the generated PNG folders, or the original "
    "fer2013.csv / icml_face_data.csv)."
)


def _count_warning(split: str, listed: int, kept: int, source: str, mode: str) -> str | None:
    total = OFFICIAL_TOTAL[split]
    expected = OFFICIAL_KEPT.get((source, mode), {}).get(split)
    if listed == total and (expected is None or kept == expected):
        return None
    msg = f"FERPlus {split}: {listed:,} images listed in {source} (official {total:,})"
    if expected is not None:
        msg += f" and {kept:,} kept by the {mode} protocol (official {expected:,})"
    else:
        msg += f"; {kept:,} kept by the {mode} protocol"
    return msg + f"; {NOT_COMPARABLE_WITH_PUBLISHED} (partial copy or modified labels?)"


def _counts_for(data: SplitData) -> Mapping[str, int]:
    return OFFICIAL_KEPT.get((data.info.get("labels_source", ""), "majority"), {})


SPEC = DatasetSpec(
    name="ferplus",
    load=load,
    load_detected=load_detected,
    class_orders={"ferplus": FERPLUS_ORDER, "fer2013": FER2013_ORDER},
    official_counts=OFFICIAL_KEPT[("label.csv", "majority")],
    counts_for=_counts_for,
    probes=(Probe(300, "ferplus", _probe_ferplus), Probe(400, "fer2013", _probe_fer2013)),
    skip_folders=frozenset({"fer2013train", "fer2013valid", "fer2013test"}),
    archive_hint=ArchiveHint(3, _archive_hint),
    after_walk=_pair_fer_csv,
)
