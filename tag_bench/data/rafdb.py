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
from pathlib import Path
from typing import Any

from tag_bench.data._common import (
    RAFDB_ORDER,
    archive_error,
    archives_in,
    check_unique_ids,
    count_warning,
    missing_from_listing,
    normalise_split,
    parse_class_order,
    reject_unknown_options,
    split_fields,
)
from tag_bench.data._listing import DirListing
from tag_bench.data.base import DatasetError, SplitData
from tag_bench.schema import Sample

OFFICIAL_COUNTS = {"train": 12271, "test": 3068}
SPLIT_ALIASES = {"train": "train", "training": "train", "test": "test", "testing": "test"}
GENDER = {0: "male", 1: "female", 2: "unsure"}
RACE = {0: "caucasian", 1: "african-american", 2: "asian"}
AGE = {0: "0-3", 1: "4-19", 2: "20-39", 3: "40-69", 4: "70+"}
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
    from tag_bench.data.detect import locate

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


def _explain_missing(found: list[Any]) -> str | None:
    compound = [d for d in found if d.layout == "rafdb-compound"]
    return f"no RAF-DB basic subset found; {compound[0].warnings[0]}" if compound else None


def load_detected(
    hit: Any, split: str, variant: str = "aligned", with_annotations: bool = False, class_order: Any = None
) -> SplitData:
    """``load`` for a dataset already found by ``detect_datasets``."""
    split = normalise_split("RAF-DB", split, SPLIT_ALIASES)
    if variant not in ("aligned", "original"):
        raise DatasetError(f"RAF-DB variant must be aligned or original, not {variant!r}")
    order = parse_class_order(class_order)
    if hit.layout == "rafdb-official":
        data = _load_official(hit.root, hit.details["label_file"], split, variant, with_annotations)
    else:
        data = _load_folders(hit, split, order)
    data.info["description"] = hit.description
    warn = count_warning("RAF-DB", split, len(data.samples), OFFICIAL_COUNTS[split])
    if warn:
        data.warnings.append(warn)
    return data


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
    ann = _Annotations(root, variant) if with_annotations else None
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


class _Annotations:
    """Reads the optional per-image annotation files (original-image pixels)."""

    def __init__(self, root: Path, variant: str):
        base = root / "Annotation"
        self.dirs = {k: base / k for k in ("boundingbox", "manual", "auto") if (base / k).is_dir()}
        if not self.dirs:
            archives = archives_in(base, ("manual", "auto", "boundingbox")) if base.is_dir() else []
            if archives:
                raise archive_error("RAF-DB annotations", archives, base, f"{base}/manual/")
            raise DatasetError(
                f"with_annotations=True but {base} has none of boundingbox/, manual/, auto/; extract the "
                "official Annotation/*.zip files there, or load without annotations"
            )
        # Annotations are in original-image pixels: they describe the presented image only for 'original'.
        self.prefix = "" if variant == "original" else "original_"
        self.missing: dict[str, int] = {}
        self.bad: list[str] = []
        self.listing = DirListing()

    def _file(self, kind: str, stem: str, suffix: str) -> Path | None:
        folder = self.dirs.get(kind)
        if folder is None:
            return None
        found = self.listing.find(str(folder), f"{stem}{suffix}")
        if found is None:
            self.missing[kind] = self.missing.get(kind, 0) + 1
            return None
        return folder / found

    def read(self, stem: str, image: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        p = self._file("boundingbox", stem, "_boundingbox.txt")
        if p is not None:
            vals = self._numbers(p, 4)
            if vals is not None:
                out[self.prefix + "bbox"] = self._clip(vals, image)
        p = self._file("manual", stem, "_manu_attri.txt")
        if p is not None:
            out.update(self._manual(p))
        p = self._file("auto", stem, "_auto_attri.txt")
        if p is not None:
            pts = self._points(p, 37)
            if pts is not None:
                out[self.prefix + "landmarks37"] = pts
        return out

    def _clip(self, box: list[float], image: str) -> list[float]:
        x1, y1, x2, y2 = max(box[0], 0.0), max(box[1], 0.0), box[2], box[3]
        if not self.prefix:  # presented = original: clip to its size, read from the header only
            size = _image_size(image)
            if size is not None:
                x2, y2 = min(x2, float(size[0])), min(y2, float(size[1]))
        return [x1, y1, x2, y2]

    def _lines(self, path: Path) -> list[list[str]]:
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            self.bad.append(str(path))
            return []
        return [f for f in (split_fields(line) for line in text.splitlines()) if f]

    def _numbers(self, path: Path, n: int) -> list[float] | None:
        fields = [f for line in self._lines(path) for f in line]
        try:
            vals = [float(f) for f in fields[:n]]
        except ValueError:
            vals = []
        if len(vals) != n:
            self.bad.append(str(path))
            return None
        return vals

    def _points(self, path: Path, n: int, lines: list[list[str]] | None = None) -> list[list[float]] | None:
        lines = self._lines(path) if lines is None else lines
        try:
            pts = [[float(line[0]), float(line[1])] for line in lines[:n]]
        except (ValueError, IndexError):
            pts = []
        if len(pts) != n:
            self.bad.append(str(path))
            return None
        return pts

    def _manual(self, path: Path) -> dict[str, Any]:
        lines = self._lines(path)
        out: dict[str, Any] = {}
        pts = self._points(path, 5, lines)
        if pts is not None:
            out[self.prefix + "landmarks5"] = pts
        for i, (key, names) in enumerate((("gender", GENDER), ("race", RACE), ("age", AGE)), start=5):
            if i < len(lines) and re.fullmatch(r"\d+", lines[i][0]) and int(lines[i][0]) in names:
                out[key] = names[int(lines[i][0])]
        return out

    def warnings(self) -> list[str]:
        out = []
        for kind, n in self.missing.items():
            out.append(f"{n} RAF-DB {kind} annotation files are missing in {self.dirs[kind]}")
        if self.bad:
            out.append(f"{len(self.bad)} RAF-DB annotation files could not be parsed (e.g. {self.bad[0]})")
        return out


def _image_size(path: str) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:  # reads the header only
            return im.size
    except (OSError, UnidentifiedImageError):
        return None


# --------------------------------------------------------------------------------------------------
# Folder re-packagings


def _load_folders(hit: Any, split: str, order: Any) -> SplitData:
    from tag_bench.data.folders import index_tree

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
