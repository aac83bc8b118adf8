"""Which datasets and layouts are on disk: probes in the order of datasets.md §1.2.

``detect_datasets(root)`` walks a few folder levels below ``root`` (never into image folders) and
returns one ``DetectedDataset`` per dataset found, each with a layout name and a sentence saying
what was found. Layouts that cannot be loaded as they are (an archive not extracted, numbered class
folders without a class order) carry ``errors`` that say how to fix them. Loaders use ``locate``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench.data._common import (
    CLASS_ORDER_HELP,
    archive_error,
    archive_suffix,
    archives_in,
    emotion_named_folders,
    extract_command,
    first_rar_part,
    is_image_name,
    resolve_root,
    sort_folders,
)
from tag_bench.data._listing import Listing, list_dir, split_dirs, subdirs, walk
from tag_bench.data.base import DatasetError

MAX_DEPTH = 4

#: Folder names never descended into while searching (image and annotation containers).
_PRUNE = {
    "image",
    "images",
    "aligned",
    "original",
    "aligned_224",
    "annotation",
    "annotations",
    "emolabel",
    "feature",
    "labels",
    "manually_annotated_images",
    "automatically_annotated_images",
    "manually_annotated_file_lists",
    "automatically_annotated_file_lists",
    "__pycache__",
    "node_modules",
    "site-packages",
    "fer2013train",
    "fer2013valid",
    "fer2013test",
}
_MSAMBARE = {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}


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
    details: dict[str, Any] = field(default_factory=dict)
    needs_class_order: bool = False

    @property
    def usable(self) -> bool:
        return not self.errors

    @property
    def loader(self) -> str | None:
        """The registered dataset loader that reads this layout (None: none does)."""
        if self.layout in ("rafdb-official", "rafdb-kaggle"):
            return "rafdb"
        if self.layout.startswith("ferplus-"):
            return "ferplus"
        if self.layout.startswith("affectnet-"):
            return "affectnet"
        if self.layout.startswith("folder-") or self.layout == "fer2013-folders":
            return "folder"
        return None

    def load(self, split: str, **options: Any) -> Any:
        """Index ``split`` of this dataset with its loader (a SplitData), without searching again."""
        import importlib

        if self.loader is None:
            raise DatasetError(" ".join(self.errors) or f"no loader reads the {self.layout} layout")
        module = importlib.import_module(
            f"tag_bench.data.{'folders' if self.loader == 'folder' else self.loader}"
        )
        if self.errors and not (self.needs_class_order and options.get("class_order")):
            raise DatasetError(" ".join(self.errors))
        return module.load_detected(self, split, **options)

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


# --------------------------------------------------------------------------------------------------
# Probes, in §1.2 order. Each returns a DetectedDataset when the folder is a dataset root.


def _probe_rafdb_official(ls: Listing) -> DetectedDataset | None:
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
        details={"label_file": label_file, "variants": variants, "annotations": annotations},
    )


def _ordered(splits: Any) -> list[str]:
    rank = {"train": 0, "val": 1, "valid": 1, "test": 2}
    return sorted(splits, key=lambda s: (rank.get(s, 3), s))


def _split_dirs(ls: Listing) -> dict[str, Path]:
    """Split folders (train/test/val and their spellings) directly inside the listing."""
    return split_dirs(ls.path, (real for _low, real in sorted(ls.dirs.items())))


def _class_tree(ls: Listing) -> dict[str, list[str]] | None:
    """{split: class folders} when the folder is a split/class tree with at least 2 classes per split."""
    splits = _split_dirs(ls)
    if not splits:
        return None
    tree = {}
    for split, path in splits.items():
        classes = subdirs(path)
        if len(classes) < 2:
            return None
        tree[split] = sort_folders(classes)
    return tree


def _probe_rafdb_kaggle(ls: Listing) -> DetectedDataset | None:
    tree = _class_tree(ls)
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
        details={"tree": tree},
    )


def _probe_ferplus(ls: Listing) -> DetectedDataset | None:
    names = set(ls.dirs)
    fer_dirs = {n for n in names if re.fullmatch(r"fer2013(train|valid|test)", n)}
    has_new = ls.file("fer2013new.csv") is not None
    esr = (
        "images" in names
        and "labels" in names
        and any(
            re.fullmatch(r"fer2013(train|valid|test)", s.lower())
            for s in subdirs(ls.path / ls.dirs["labels"])
        )
    )
    repo = "data" in names and any(
        re.fullmatch(r"fer2013(train|valid|test)", s.lower()) for s in subdirs(ls.path / ls.dirs["data"])
    )
    if not (fer_dirs or has_new or esr or repo):
        return None
    from tag_bench.data.ferplus import discover

    return discover(ls.path).detected()


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
                details={"csv": path, "columns": cols},
            )
    tree = _class_tree(ls)
    if tree and set(tree) <= {"train", "test", "val"}:
        classes = {c.lower() for cs in tree.values() for c in cs}
        if classes == _MSAMBARE:
            sample = _first_image(next(iter(_split_dirs(ls).values())))
            if sample is None or re.match(r"(training|publictest|privatetest)_\d+", sample.lower()):
                return DetectedDataset(
                    "fer2013",
                    "fer2013-folders",
                    ls.path,
                    "FER2013 image folders (Kaggle msambare/fer2013: train|test/<emotion>/Training_<n>.jpg) "
                    "with the original FER2013 labels only",
                    splits=_ordered(tree),
                    warnings=[
                        "these folders carry the original FER2013 labels, not FER+: the file numbers are not "
                        "row indices, so FER+ votes cannot be joined to them. Load them as dataset 'folder' "
                        "(classes read from the folder names), never as 'ferplus'"
                    ],
                    details={"tree": tree},
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


def _probe_affectnet_csv(ls: Listing) -> DetectedDataset | None:
    lists = ls.dir("Manually_Annotated_file_lists")
    if lists is None:
        return None
    fl = list_dir(lists)
    files = {s: fl.file(f) for s, f in (("train", "training.csv"), ("val", "validation.csv"))}
    files = {s: p for s, p in files.items() if p is not None}
    if not files:
        return None
    from tag_bench.data.affectnet import find_csv_images

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
        details={"lists": files, "images": images},
    )


_NPY_SPLITS = {"train_set": "train", "training_set": "train", "val_set": "val", "valid_set": "val",
               "validation_set": "val"}  # fmt: skip


def _probe_affectnet_npy(ls: Listing) -> DetectedDataset | None:
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
        details={"split_dirs": splits},
    )


def _probe_yolo(ls: Listing) -> DetectedDataset | None:
    cfg = ls.file("data.yaml") or ls.file("data.yml")
    if cfg is None:
        return None
    splits = {}
    for split, path in _split_dirs(ls).items():
        sl = list_dir(path)
        if sl.dir("images") and sl.dir("labels"):
            splits[split] = path
    if not splits:
        return None
    from tag_bench.data.affectnet import read_yolo_names

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
        details={"config": cfg, "split_dirs": splits, "names": names},
    )


def _probe_folder(ls: Listing) -> DetectedDataset | None:
    tree = _class_tree(ls)
    if not tree:
        return None
    classes = sorted({c for cs in tree.values() for c in cs})
    if emotion_named_folders(classes):
        return DetectedDataset(
            "folder",
            "folder-names",
            ls.path,
            f"Folder-per-class tree with classes named by emotion ({', '.join(classes)}); splits "
            f"{', '.join(_ordered(tree))}",
            splits=_ordered(tree),
            details={"tree": tree},
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
            f"{', '.join(_ordered(tree))}",
            splits=_ordered(tree),
            errors=[
                f"{ls.path} has class folders numbered {', '.join(nums)}. Numbers mean different classes in "
                f"different re-packagings, so tag-bench never guesses the order.{hint} {CLASS_ORDER_HELP}"
            ],
            details={"tree": tree},
            needs_class_order=True,
        )
    return DetectedDataset(
        "folder",
        "folder-other",
        ls.path,
        f"Folder-per-class tree with classes {', '.join(classes)}",
        splits=_ordered(tree),
        errors=[
            f"class folders {classes} in {ls.path} are neither emotion names nor numbers. {CLASS_ORDER_HELP}"
        ],
        details={"tree": tree},
        needs_class_order=True,
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
        details={"shards": shards},
    )


_PROBES = (
    _probe_rafdb_official,
    _probe_rafdb_kaggle,
    _probe_ferplus,
    _probe_fer2013,
    _probe_affectnet_csv,
    _probe_affectnet_npy,
    _probe_yolo,
    _probe_folder,
    _probe_parquet,
)


def _guess_name(archive: Path) -> str:
    low = archive.name.lower()
    if "raf" in low or low.startswith(("aligned", "original", "manual", "auto", "boundingbox")):
        return "rafdb"
    if "affect" in low or "manually_annotated" in low:
        return "affectnet"
    if "fer" in low:
        return "ferplus"
    return "unknown"


def detect_datasets(
    data_root: str | os.PathLike[str] | None, max_depth: int = MAX_DEPTH
) -> list[DetectedDataset]:
    """Every dataset found under ``data_root`` (itself or up to ``max_depth`` levels below)."""
    root = resolve_root(data_root)
    found: list[DetectedDataset] = []
    archives: list[Path] = []

    def visit(ls: Listing) -> bool:
        for low, real in ls.files.items():
            if archive_suffix(low):
                archives.append(ls.path / real)
        for probe in _PROBES:
            hit = probe(ls)
            if hit is not None:
                found.append(hit)
                return False
        return True

    walk(root, max_depth, visit, _PRUNE)
    found = _pair_fer_csv(found)
    roots = [d.root for d in found]
    loose = [a for a in first_rar_part(archives) if not any(_inside(a, r) for r in roots)]
    for a in loose:
        found.append(
            DetectedDataset(
                _guess_name(a),
                "archive",
                a.parent,
                f"archive {a.name}, not extracted",
                errors=[
                    f"{a} has not been extracted, so its images cannot be found. Extract it: "
                    f"{extract_command(a, a.parent)}; then run again"
                ],
                details={"archive": a},
            )
        )
    return found


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _pair_fer_csv(found: list[DetectedDataset]) -> list[DetectedDataset]:
    """FER+ votes without images, next to one full FER2013 CSV in a sibling folder: pair them."""
    from tag_bench.data.ferplus import discover

    out = list(found)
    csvs = [d for d in found if d.layout == "fer2013-csv" and "usage" in d.details.get("columns", [])]
    for fer in [d for d in found if d.name == "ferplus" and d.details.get("needs_csv")]:
        near = [c for c in csvs if c in out and c.root.parent == fer.root.parent]
        if len(near) == 1:
            redone = discover(fer.root, extra_csv=near[0].details["csv"]).detected()
            out = [redone if d is fer else d for d in out if d is not near[0]]
    return out


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
