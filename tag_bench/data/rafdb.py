"""RAF-DB basic (7 classes, datasets.md §2): the official layout and the folder re-packagings.

Official: ``[basic/]EmoLabel/list_patition_label.txt`` (also the README's ``partition`` spelling) and
``Image/aligned/<stem>_aligned.jpg`` (default) or ``Image/original/<name>``; optional annotations
(bounding box, 5 manual landmarks + gender/race/age, 37 automatic landmarks) in original-image
pixels. Re-packagings: Kaggle/POSTER++ ``{train,test|valid}/1..7`` (native order) and any other
folder-per-class tree given an explicit ``class_order`` (MA-Net's ``0..6`` is ``affectnet``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tag_bench.data._common import (
    RAFDB_ORDER,
    ClassOrder,
    archive_error,
    archives_in,
    check_unique_ids,
    count_warning,
    missing_from_listing,
    normalise_split,
    parse_class_order,
    reject_unknown_options,
)
from tag_bench.data._listing import DirListing, Listing, list_dir
from tag_bench.data._rafdb_annotations import Annotations
from tag_bench.data.base import ArchiveHint, DatasetError, DatasetSpec, Probe, SplitData
from tag_bench.data.detect import DetectedDataset, locate
from tag_bench.data.folders import ClassTree, class_tree, index_tree
from tag_bench.schema import Sample

OFFICIAL_COUNTS = {"train": 12271, "test": 3068}
SPLIT_ALIASES = {"train": "train", "training": "train", "test": "test", "testing": "test"}
_HINT = (
    "RAF-DB is found by its label file EmoLabel/list_patition_label.txt (with Image/aligned/ or "
    "Image/original/ beside it), or as class folders train/1..7 and test/1..7 (Kaggle layout)."
)


def load(
    data_root: str | os.PathLike[str] | None,
    split: str,
    variant: str = "aligned",
    with_annotations: bool = False,
    class_order: Any = None,
    layout: str | None = None,
    **unknown: Any,
) -> SplitData:
    """Index one RAF-DB basic split (train or test).

    ``variant``: aligned (100x100, what research code evaluates on) or original. ``with_annotations``
    reads the bounding box, landmarks and gender/race/age files when present. ``class_order`` is needed
    for folder-per-class copies whose folders are not the Kaggle 1..7.
    """
    reject_unknown_options("RAF-DB", unknown, ("variant", "with_annotations", "class_order", "layout"))
    order = parse_class_order(class_order)
    hit = locate(
        data_root,
        lambda d: 2 if d.name == "rafdb" else 1 if d.layout.startswith("folder-") else 0,
        "RAF-DB basic dataset",
        _HINT,
        layout=layout,
        class_order_given=order is not None,
        explain=_explain_missing,
    )
    return load_detected(hit, split, variant=variant, with_annotations=with_annotations, class_order=order)


def _explain_missing(found: list[DetectedDataset]) -> str | None:
    compound = [d for d in found if d.layout == "rafdb-compound"]
    return f"no RAF-DB basic subset found; {compound[0].warnings[0]}" if compound else None


def load_detected(
    hit: DetectedDataset,
    split: str,
    variant: str = "aligned",
    with_annotations: bool = False,
    class_order: Any = None,
) -> SplitData:
    """``load`` for a dataset already found by ``detect_datasets``."""
    split = normalise_split("RAF-DB", split, SPLIT_ALIASES)
    if variant not in ("aligned", "original"):
        raise DatasetError(f"RAF-DB variant must be aligned or original, not {variant!r}")
    order = parse_class_order(class_order)
    if hit.layout == "rafdb-official":
        label_file = hit.detail(OfficialFiles).label_file
        data = _load_official(hit.root, label_file, split, variant, with_annotations)
    else:
        data = _load_folders(hit, split, order)
    data.info["description"] = hit.description
    warn = count_warning("RAF-DB", split, len(data.samples), OFFICIAL_COUNTS[split])
    if warn:
        data.warnings.append(warn)
    return data


# --------------------------------------------------------------------------------------------------
# Probes


@dataclass
class OfficialFiles:
    """Details of the rafdb-official layout."""

    label_file: Path
    variants: list[str]  # image folders present: aligned, original
    annotations: list[str]  # annotation folders present: boundingbox, manual, auto


def _probe_official(ls: Listing) -> DetectedDataset | None:
    emo = ls.dir("EmoLabel")
    if emo is None:
        return None
    elist = list_dir(emo)
    label_file = None
    for cand in ("list_patition_label.txt", "list_partition_label.txt"):
        label_file = elist.file(cand)
        if label_file:
            break
    if label_file is None:
        return None
    root = ls.path
    if root.name.lower() == "compound":
        return DetectedDataset(
            "rafdb-compound",
            "rafdb-compound",
            root,
            "RAF-DB compound subset (11 compound classes), not used by tag-bench",
            warnings=[
                f"{root} is the RAF-DB compound subset (labels 1..11); tag-bench loads only the basic 7-class "
                "subset (the basic/ folder beside it)"
            ],
        )
    image = ls.dir("Image")
    variants = []
    errors: list[str] = []
    if image is not None:
        ilist = list_dir(image)
        variants = [v for v in ("aligned", "original") if ilist.dir(v)]
    if not variants:
        archives = [
            a
            for folder in (image, root)
            if folder
            for a in archives_in(folder, ("aligned", "original", "image"))
        ]
        if archives:
            errors.append(
                str(
                    archive_error(
                        f"RAF-DB images ({root / 'Image' / 'aligned'})",
                        archives,
                        image or root,
                        f"{root / 'Image' / 'aligned'}/",
                    )
                )
            )
        else:
            errors.append(
                f"RAF-DB label file {label_file} found, but no image folder {root / 'Image' / 'aligned'} "
                f"or {root / 'Image' / 'original'}; copy the images there"
            )
    ann = ls.dir("Annotation")
    annotations = [a for a in ("boundingbox", "manual", "auto") if ann is not None and (ann / a).is_dir()]
    desc = (
        f"RAF-DB basic, official layout: label file {label_file.name}"
        + (f", images {' and '.join(variants)}" if variants else ", no extracted images")
        + (f", annotations {', '.join(annotations)}" if annotations else "")
        + ("" if root.name.lower() == "basic" else " (without the basic/ level)")
    )
    return DetectedDataset(
        "rafdb",
        "rafdb-official",
        root,
        desc,
        splits=["train", "test"],
        errors=errors,
        details=OfficialFiles(label_file, variants, annotations),
        loader="rafdb",
    )


def _probe_kaggle(ls: Listing) -> DetectedDataset | None:
    tree = class_tree(ls)
    if not tree or "train" not in tree:
        return None
    want = [str(i) for i in range(1, 8)]
    if not all(classes == want for classes in tree.values()):
        return None
    test_dir = "test" if "test" in tree else "val"
    note = "" if test_dir == "test" else " (its valid/ folder is the test set, as in POSTER++)"
    return DetectedDataset(
        "rafdb",
        "rafdb-kaggle",
        ls.path,
        f"RAF-DB re-packaged as class folders 1..7 in native RAF-DB order (Kaggle/POSTER++ layout){note}",
        splits=["train", "test"],
        details=ClassTree(tree),
        loader="rafdb",
    )


def _archive_hint(name: str) -> bool:
    return "raf" in name or name.startswith(("aligned", "original", "manual", "auto", "boundingbox"))


# --------------------------------------------------------------------------------------------------
# Official layout


def read_label_file(path: Path) -> list[tuple[str, str, int]]:
    """(name, split, label) per line; 2 fields ``name label`` or 3 fields ``name split label``."""
    out = []
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}:{n}"
        if len(fields) not in (2, 3):
            raise DatasetError(f"{where}: expected '<image name> <label>', got {line.strip()!r}")
        name, label_text = fields[0], fields[-1]
        if "/" in name or "\\" in name or ".." in name.split("."):
            raise DatasetError(f"{where}: image name {name!r} is not a plain file name; refusing it")
        if len(fields) == 3:
            split = fields[1].lower()
            if split not in ("train", "test"):
                raise DatasetError(f"{where}: split field {fields[1]!r} is neither train nor test")
        else:
            split = "train" if name.startswith("train") else "test" if name.startswith("test") else ""
            if not split:
                raise DatasetError(
                    f"{where}: {name!r} starts with neither 'train' nor 'test', so its split is unknown"
                )
        try:
            label = int(label_text)
        except ValueError:
            raise DatasetError(f"{where}: label {label_text!r} is not a number 1..7") from None
        if not 1 <= label <= 7:
            raise DatasetError(
                f"{where}: label {label} is outside 1..7. RAF-DB basic uses 1..7; labels up to 11 belong to the "
                "compound subset, which tag-bench does not load"
            )
        out.append((name, split, label))
    return out


def _load_official(
    root: Path, label_file: Path, split: str, variant: str, with_annotations: bool
) -> SplitData:
    image_dir = root / "Image" / variant
    if not image_dir.is_dir():
        archives = archives_in(root / "Image", (variant,)) + archives_in(root, (variant,))
        if archives:
            raise archive_error(
                f"RAF-DB {variant} images ({image_dir})", archives, root / "Image", f"{image_dir}/"
            )
        other = "original" if variant == "aligned" else "aligned"
        extra = (
            f"; the {other} images are there: pass variant={other}"
            if (root / "Image" / other).is_dir()
            else ""
        )
        raise DatasetError(f"RAF-DB {variant} image folder {image_dir} not found{extra}")
    rows = [r for r in read_label_file(label_file) if r[1] == split]
    listing = DirListing()
    folder = str(image_dir)
    samples: list[Sample] = []
    fallbacks = 0
    ann = Annotations(root, variant) if with_annotations else None
    for name, _split, label in rows:
        stem = name.split(".", 1)[0]
        if variant == "aligned":
            found = listing.find(folder, f"{stem}_aligned.jpg")
            if found is None:
                found = listing.find(folder, f"{stem}.jpg")
                fallbacks += found is not None
            image = os.path.join(folder, found or f"{stem}_aligned.jpg")
        else:
            image = os.path.join(folder, listing.find(folder, name) or name)
        meta: dict[str, Any] = {"file": name}
        if ann is not None:
            meta.update(ann.read(stem, image))
        samples.append(
            Sample(
                id=f"rafdb/{stem}",
                dataset="rafdb",
                split=split,
                image=image,
                label=RAFDB_ORDER[label - 1],
                native_label=label,
                meta=meta,
            )
        )
    check_unique_ids(samples, str(label_file))
    warnings = []
    present = {os.path.join(folder, n) for n in listing.names(folder)}
    msg, n_missing = missing_from_listing(samples, present)
    if msg:
        warnings.append(msg)
    if ann is not None:
        warnings += ann.warnings()
    info: dict[str, Any] = {
        "protocol": "rafdb-basic-7",
        "variant": variant,
        "label_file": str(label_file),
        "classes": list(RAFDB_ORDER),
        "class_order": "rafdb (1..7 native)",
        "missing_images": n_missing,
    }
    if fallbacks:
        info["aligned_without_suffix"] = fallbacks
    return SplitData("rafdb", split, "rafdb-official", root, samples, warnings, info)


# --------------------------------------------------------------------------------------------------
# Folder re-packagings


def _load_folders(hit: DetectedDataset, split: str, order: ClassOrder | None) -> SplitData:
    if hit.needs_class_order and order is None:
        raise DatasetError(" ".join(hit.errors))
    if hit.layout == "rafdb-kaggle":
        order = order or parse_class_order("rafdb")
        layout = "rafdb-kaggle"
    else:
        layout = "rafdb-folder"
    splits = [split] if split == "train" else ["test", "val"]
    return index_tree(
        hit.root,
        splits,
        order,
        dataset="rafdb",
        split_name=split,
        layout=layout,
        id_fn=_raf_id,
        info={"protocol": "rafdb-basic-7", "classes": list(RAFDB_ORDER)},
    )


_RAF_STEM = re.compile(r"^((?:train|test)_\d+)(?:_aligned)?$")


def _raf_id(split: str, class_dir: str, stem: str) -> str:
    m = _RAF_STEM.match(stem)
    return f"rafdb/{m.group(1)}" if m else f"rafdb/{split}/{class_dir}/{stem}"


SPEC = DatasetSpec(
    name="rafdb",
    load=load,
    load_detected=load_detected,
    class_orders={"rafdb": RAFDB_ORDER},
    official_counts=OFFICIAL_COUNTS,
    probes=(Probe(100, "rafdb-official", _probe_official), Probe(200, "rafdb-kaggle", _probe_kaggle)),
    skip_folders=frozenset({"aligned", "original", "aligned_224", "emolabel"}),
    archive_hint=ArchiveHint(1, _archive_hint),
)
