"""Reading AffectNet's releases: the CSV file lists, the npy annotations and the YOLO re-packaging.

Each reader indexes one split of what the AffectNet probes found (its details record). Codes 8-10
and the classes a task drops are counted as excluded, never kept; valence/arousal of -2 mean "not
annotated" and become None; landmarks are stored in presented-image pixels.
"""

from __future__ import annotations

import ast
import csv
import math
import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tag_bench.data._common import (
    AFFECTNET_EXCLUDED,
    AFFECTNET_ORDER,
    check_unique_ids,
    missing_warning,
    safe_relpath,
)
from tag_bench.data._listing import DirListing
from tag_bench.data.base import DatasetError, SplitData
from tag_bench.facs import canonical_emotion
from tag_bench.schema import Sample

CSV_COLUMNS = ("subdirectory_filepath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
               "expression", "valence", "arousal")  # fmt: skip


@dataclass
class CsvRelease:
    """Details of the affectnet-csv layout."""

    lists: dict[str, Path]  # split -> training.csv / validation.csv
    images: Path | None  # Manually_Annotated_Images/ (None: not extracted)


@dataclass
class NpyRelease:
    """Details of the affectnet-npy layout."""

    split_dirs: dict[str, Path]  # split -> train_set/ or val_set/


@dataclass
class YoloCopy:
    """Details of the affectnet-yolo layout."""

    config: Path  # data.yaml
    split_dirs: dict[str, Path]
    names: list[str]  # the YOLO class names, by index


def _label_or_exclude(code: int, drop: Collection[str], excluded: dict[str, int]) -> str | None:
    """The canonical label of an AffectNet code, or None after counting why it is excluded
    (codes >= 8, unknown codes, and classes the task drops, e.g. contempt for 7 classes)."""
    if code in AFFECTNET_EXCLUDED or not 0 <= code < len(AFFECTNET_ORDER):
        key = f"{code} ({AFFECTNET_EXCLUDED.get(code, 'not a code')})"
    elif AFFECTNET_ORDER[code] in drop:
        key = f"{code} ({AFFECTNET_ORDER[code]})"
    else:
        return AFFECTNET_ORDER[code]
    excluded[key] = excluded.get(key, 0) + 1
    return None


# --------------------------------------------------------------------------------------------------
# CSV release


def find_csv_images(root: Path) -> Path | None:
    """``Manually_Annotated_Images/`` in ``root`` or up to two levels below (the nested copies)."""
    frontier = [root]
    for _ in range(3):
        nxt = []
        for folder in frontier:
            try:
                entries = sorted((e for e in os.scandir(folder) if e.is_dir()), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if e.name.lower() == "manually_annotated_images":
                    return Path(e.path)
                if e.name.lower().startswith(("manually_annotated", "affectnet")):
                    nxt.append(Path(e.path))
        frontier = nxt
    return None


def _float(text: str) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _affect(text: str) -> float | None:
    v = _float(text)
    return None if v is None or v == -2 else v


def _landmarks(text: str, dx: float, dy: float) -> list[list[float]] | None:
    """68 [x, y] points from the 136 ';'-joined floats, shifted into the presented image; None if unusable."""
    import numpy as np

    parts = text.strip().strip(";").split(";")
    if len(parts) != 136:
        return None
    try:
        vals = np.array(parts, dtype=np.float64)
    except ValueError:
        return None
    if not np.isfinite(vals).all():
        return None
    return np.round(vals.reshape(68, 2) - (dx, dy), 3).tolist()


def load_csv(
    root: Path, files: CsvRelease, split: str, drop: frozenset[str], use_crop: bool, with_landmarks: bool
) -> SplitData:
    """Index one split of the CSV release (``Manually_Annotated_file_lists/*.csv``)."""
    lists = files.lists
    if split not in lists:
        raise DatasetError(
            f"no {'training' if split == 'train' else 'validation'}.csv in {root / 'Manually_Annotated_file_lists'}"
        )
    path = lists[split]
    images = files.images
    assert images is not None  # a copy without images is refused before it is loaded
    listing = DirListing()
    samples: list[Sample] = []
    excluded: dict[str, int] = {}
    missing: list[str] = []
    bad_rows: list[str] = []
    no_box = no_lmk = dups = 0
    seen: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        idx = {c: i for i, c in enumerate(CSV_COLUMNS)}
        for n, row in enumerate(reader, start=1):
            if not row or not any(c.strip() for c in row):
                continue
            if n == 1 and row[0].strip().lower() == "subdirectory_filepath":
                cols = [c.strip().lower() for c in row]
                lacking = [c for c in ("subdirectory_filepath", "expression") if c not in cols]
                if lacking:
                    raise DatasetError(f"{path}: header {row} lacks the columns {lacking}")
                idx = {c: cols.index(c) for c in CSV_COLUMNS if c in cols}
                continue
            where = f"{path}:{n}"

            def get(c: str, row: list[str] = row, idx: dict[str, int] = idx) -> str:
                return row[idx[c]].strip() if c in idx and idx[c] < len(row) else ""

            rel = safe_relpath(get("subdirectory_filepath"), where)
            try:
                code = int(float(get("expression")))
            except ValueError:
                bad_rows.append(f"line {n}: expression {get('expression')!r}")
                continue
            label = _label_or_exclude(code, drop, excluded)
            if label is None:
                continue
            x, y, w, h = (_float(get(c)) for c in ("face_x", "face_y", "face_width", "face_height"))
            box: list[float] | None = None
            if x is not None and y is not None and w is not None and h is not None:
                box = [x, y, x + w, y + h]
            else:
                no_box += 1
            meta: dict[str, Any] = {
                "file": rel,
                "valence": _affect(get("valence")),
                "arousal": _affect(get("arousal")),
            }
            crop = box if use_crop else None
            if box is not None:
                meta["original_bbox"] = box
                if crop is None:
                    meta["bbox"] = box
            if with_landmarks:
                # presented = original[crop]; the crop's top-left (clamped at 0) is the shift.
                dx, dy = (round(max(crop[0], 0.0)), round(max(crop[1], 0.0))) if crop else (0, 0)
                lmk = _landmarks(get("facial_landmarks"), dx, dy)
                if lmk is not None:
                    meta["landmarks68"] = lmk
                else:
                    no_lmk += 1
            parent, base = os.path.split(rel)
            folder = os.path.join(images, parent)
            found = listing.find(folder, base)
            image = os.path.join(folder, found or base)
            if found is None:
                missing.append(image)
            sid = f"affectnet/{split}/{os.path.splitext(rel)[0]}"
            if sid in seen:
                dups += 1
                seen[sid] += 1
                sid = f"{sid}#{seen[sid]}"
            else:
                seen[sid] = 1
            samples.append(
                Sample(
                    id=sid,
                    dataset="affectnet",
                    split=split,
                    image=image,
                    crop=crop,
                    label=label,
                    native_label=code,
                    meta=meta,
                )
            )
    warnings = []
    msg = missing_warning(missing, len(samples))
    if msg:
        warnings.append(msg)
    if bad_rows:
        warnings.append(
            f"{len(bad_rows)} rows of {path} have no readable expression code and were skipped ({bad_rows[0]})"
        )
    if no_box:
        warnings.append(
            f"{no_box} rows of {path} have no usable face box; those images are presented uncropped"
        )
    if dups:
        warnings.append(
            f"{dups} rows of {path} repeat an earlier file path; they are kept (ids get a #n suffix)"
        )
    info: dict[str, Any] = {
        "label_file": str(path),
        "images": str(images),
        "crop": "bbox" if use_crop else "none",
        "excluded": excluded,
        "missing_images": len(missing),
    }
    if with_landmarks and no_lmk:
        info["rows_without_landmarks"] = no_lmk
    return SplitData("affectnet", split, "affectnet-csv", root, samples, warnings, info)


# --------------------------------------------------------------------------------------------------
# npy release

_NPY_HEADER = re.compile(rb"^\x93NUMPY([\x01-\x03])\x00")
_header_cache: dict[bytes, tuple[Any, tuple[int, ...]]] = {}


def read_npy(path: str) -> Any:
    """A small .npy file as a NumPy array; parses each distinct header once (np.load is ~10x slower)."""
    import numpy as np

    with open(path, "rb") as f:
        data = f.read()
    m = _NPY_HEADER.match(data)
    if not m:
        raise ValueError(f"{path} is not a .npy file")
    if m.group(1) == b"\x01":
        hlen, start = int.from_bytes(data[8:10], "little"), 10
    else:
        hlen, start = int.from_bytes(data[8:12], "little"), 12
    header = data[start : start + hlen]
    parsed = _header_cache.get(header)
    if parsed is None:
        d = ast.literal_eval(header.decode("latin1"))
        if d.get("fortran_order") or np.dtype(d["descr"]).hasobject:
            raise ValueError(f"{path}: unsupported .npy layout {d}")
        parsed = (np.dtype(d["descr"]), tuple(d["shape"]))
        _header_cache[header] = parsed
    dtype, shape = parsed
    return np.frombuffer(data, dtype=dtype, offset=start + hlen, count=math.prod(shape)).reshape(shape)


def _scalar(path: str) -> float:
    v = read_npy(path)
    item = v.item() if v.size == 1 else None
    if isinstance(item, bytes):
        item = item.decode()
    if item is None or (isinstance(item, str) and not item.strip()):
        raise ValueError("empty")
    return float(item)


def load_npy(
    root: Path, files: NpyRelease, split: str, drop: frozenset[str], with_landmarks: bool
) -> SplitData:
    """Index one split of the npy release (``<split>_set/images`` + ``annotations/*.npy``)."""
    dirs = files.split_dirs
    if split not in dirs:
        raise DatasetError(
            f"no {split}_set/ folder in {root} (found {', '.join(p.name for p in dirs.values())})"
        )
    base = dirs[split]
    ann_dir, img_dir = base / "annotations", base / "images"
    ann = set(os.listdir(ann_dir))
    images: dict[str, str] = {}
    for n in os.listdir(img_dir):
        stem, ext = os.path.splitext(n)
        if ext.lower() in (".jpg", ".jpeg", ".png"):
            images.setdefault(stem, n)
    ids = {n[: -len("_exp.npy")] for n in ann if n.endswith("_exp.npy")}
    ordered = sorted(ids | set(images), key=lambda s: (0, int(s), "") if s.isdigit() else (1, 0, s))
    samples: list[Sample] = []
    unlabelled: list[str] = []
    missing: list[str] = []
    bad: list[str] = []
    excluded: dict[str, int] = {}
    for key in ordered:
        if key not in ids:
            unlabelled.append(str(img_dir / images[key]))
            continue
        try:
            code = int(_scalar(str(ann_dir / f"{key}_exp.npy")))
        except (ValueError, OSError) as e:
            bad.append(f"{key}_exp.npy ({e})")
            continue
        label = _label_or_exclude(code, drop, excluded)
        if label is None:
            continue
        meta: dict[str, Any] = {"file": f"{base.name}/images/{images.get(key, key + '.jpg')}"}
        for field, suffix in (("valence", "_val.npy"), ("arousal", "_aro.npy")):
            name = key + suffix
            value = None
            if name in ann:
                try:
                    value = _scalar(str(ann_dir / name))
                except (ValueError, OSError):
                    value = None
            meta[field] = None if value is None or value == -2 or not math.isfinite(value) else value
        if with_landmarks and key + "_lnd.npy" in ann:
            try:
                lnd = read_npy(str(ann_dir / f"{key}_lnd.npy")).astype(float).reshape(-1)
                if lnd.size == 136 and all(math.isfinite(v) for v in lnd):
                    meta["landmarks68"] = [[round(x, 3), round(y, 3)] for x, y in lnd.reshape(68, 2).tolist()]
            except (ValueError, OSError):
                pass
        image = str(img_dir / images[key]) if key in images else str(img_dir / f"{key}.jpg")
        if key not in images:
            missing.append(image)
        samples.append(
            Sample(
                id=f"affectnet/{split}/{key}",
                dataset="affectnet",
                split=split,
                image=image,
                label=label,
                native_label=code,
                width=224,
                height=224,
                meta=meta,
            )
        )
    warnings = []
    if unlabelled:
        warnings.append(
            f"{len(unlabelled)} image(s) in {img_dir} have no {ann_dir.name}/<n>_exp.npy annotation and were "
            f"skipped (e.g. {', '.join(unlabelled[:3])})"
        )
    msg = missing_warning(missing, len(samples))
    if msg:
        warnings.append(msg)
    if bad:
        warnings.append(f"{len(bad)} expression files could not be read and were skipped (e.g. {bad[0]})")
    info = {
        "images": str(img_dir),
        "annotations": str(ann_dir),
        "excluded": excluded,
        "skipped_without_annotation": len(unlabelled),
        "missing_images": len(missing),
    }
    return SplitData("affectnet", split, "affectnet-npy", root, samples, warnings, info)


# --------------------------------------------------------------------------------------------------
# YOLO re-packaging


def read_yolo_names(path: Path) -> list[str]:
    """The ``names`` of a YOLO ``data.yaml`` (a list, or a mapping index -> name)."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise DatasetError(f"cannot read {path}: {e}") from None
    names = doc.get("names") if isinstance(doc, dict) else None
    if isinstance(names, dict):
        try:
            names = [names[k] for k in sorted(names, key=int)]
        except (TypeError, ValueError):
            names = None
    if not isinstance(names, list) or not names:
        raise DatasetError(f"{path} has no 'names' list of classes")
    return [str(n) for n in names]


def load_yolo(root: Path, files: YoloCopy, split: str, drop: frozenset[str]) -> SplitData:
    """Index one split of a YOLO re-packaging (``<split>/images`` + ``labels/*.txt``)."""
    names = files.names
    canon = []
    for n in names:
        c = canonical_emotion(n)
        if c is None:
            raise DatasetError(f"class {n!r} in {files.config} is not an emotion name")
        canon.append(c)
    dirs = files.split_dirs
    if split not in dirs:
        raise DatasetError(f"no {split} folder in {root} (found {', '.join(p.name for p in dirs.values())})")
    img_dir, lab_dir = dirs[split] / "images", dirs[split] / "labels"
    label_files = set(os.listdir(lab_dir))
    samples: list[Sample] = []
    unlabelled: list[str] = []
    multi = 0
    excluded: dict[str, int] = {}
    for n in sorted(os.listdir(img_dir)):
        stem, ext = os.path.splitext(n)
        if ext.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".webp"):
            continue
        lines: list[list[str]] = []
        if stem + ".txt" in label_files:
            text = (lab_dir / f"{stem}.txt").read_text(encoding="utf-8", errors="replace")
            lines = [ln.split() for ln in text.splitlines() if ln.strip()]
        if not lines or not re.fullmatch(r"\d+", lines[0][0]) or int(lines[0][0]) >= len(names):
            unlabelled.append(str(img_dir / n))
            continue
        cls = int(lines[0][0])
        multi += len({ln[0] for ln in lines}) > 1
        label = canon[cls]
        if label in drop:
            excluded[f"{cls} ({names[cls]})"] = excluded.get(f"{cls} ({names[cls]})", 0) + 1
            continue
        meta: dict[str, Any] = {
            "file": f"{dirs[split].name}/images/{n}",
            "yolo_class": names[cls],
            "affectnet_code": AFFECTNET_ORDER.index(label),
        }
        box = [_float(v) for v in lines[0][1:5]]
        if len(box) == 4 and all(v is not None for v in box):
            meta["bbox_norm_cxcywh"] = box
        samples.append(
            Sample(
                id=f"affectnet/{split}/{stem}",
                dataset="affectnet",
                split=split,
                image=str(img_dir / n),
                label=label,
                native_label=cls,
                meta=meta,
            )
        )
    check_unique_ids(samples, str(img_dir))
    warnings = []
    if unlabelled:
        warnings.append(
            f"{len(unlabelled)} image(s) in {img_dir} have no usable label file in {lab_dir} and were skipped "
            f"(e.g. {', '.join(unlabelled[:3])})"
        )
    if multi:
        warnings.append(
            f"{multi} label files list boxes of different classes; the first line's class is used"
        )
    info = {
        "config": str(files.config),
        "yolo_names": names,
        "classes": [c for c in canon if c not in drop],
        "excluded": excluded,
        "skipped_without_label": len(unlabelled),
        "crop": "none (YOLO boxes are normalised; kept in meta['bbox_norm_cxcywh'])",
        "missing_images": 0,
    }
    return SplitData("affectnet", split, "affectnet-yolo", root, samples, warnings, info)
