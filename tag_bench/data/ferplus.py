"""FERPlus: FER2013 images with the FER+ crowd votes (datasets.md §3).

Images come from the official ``FER2013{Train,Valid,Test}/`` PNG folders (also the ESR variant
``Images/FER2013Train`` + ``Labels/FER2013Train/label.csv``) or straight from the rows of the
original ``fer2013.csv`` / ``icml_face_data.csv``, paired by position with ``fer2013new.csv``.
Votes come from ``label.csv`` (default when present, what the official ``train.py`` reads) or from
``fer2013new.csv``. Protocols: majority (official), argmax8, crossentropy (see ``_fervotes``).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench.data._common import (
    FER2013_ORDER,
    FERPLUS_ORDER,
    archive_error,
    archive_suffix,
    missing_warning,
    normalise_split,
    reject_unknown_options,
)
from tag_bench.data._fervotes import PROTOCOL_IDS, ferplus_target, normalise_protocol
from tag_bench.data.base import DatasetError, SplitData
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
FOLDERS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}
USAGE = {"Training": "train", "PublicTest": "valid", "PrivateTest": "test"}
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                "unknown", "nf")  # fmt: skip
#: Official numbers (datasets.md §3.3): images per split, and kept per (labels source, protocol).
OFFICIAL_TOTAL = {"train": 28558, "valid": 3579, "test": 3573}
OFFICIAL_KEPT: dict[tuple[str, str], dict[str, int]] = {
    ("label.csv", "majority"): {"train": 25045, "valid": 3191, "test": 3137},
    ("label.csv", "crossentropy"): {"train": 27947, "valid": 3508, "test": 3507},
    ("label.csv", "argmax8"): {"train": 28385, "valid": 3555, "test": 3545},
    ("fer2013new.csv", "majority"): {"test": 3152},
    ("fer2013new.csv", "crossentropy"): {"test": 3504},
}
FER2013_ROWS = 35887
_SEARCH_DEPTH = 3
_PRUNE = {"__pycache__", "node_modules", "src", "emolabel", "aligned", "original"}


# --------------------------------------------------------------------------------------------------
# Finding the files


@dataclass
class FerPlusFiles:
    """The FER+ pieces found below one folder."""

    root: Path
    new_csvs: list[Path] = field(default_factory=list)  # fer2013new.csv
    fer_csvs: list[Path] = field(default_factory=list)  # full FER2013 CSVs (pixels + Usage)
    partial_csvs: list[Path] = field(default_factory=list)  # train.csv / test.csv (pixels, no Usage)
    split_dirs: dict[str, list[Path]] = field(default_factory=dict)
    archives: list[Path] = field(default_factory=list)
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    @property
    def new_csv(self) -> Path | None:
        return self.new_csvs[0] if self.new_csvs else None

    @property
    def fer_csv(self) -> Path | None:
        return self.fer_csvs[0] if self.fer_csvs else None

    def label_csv(self, split: str) -> tuple[Path | None, list[str]]:
        """The split's label.csv (preferring the one beside the PNGs) and any warning about the choice."""
        if ("label", split) not in self._cache:
            self._cache[("label", split)] = self._label_csv(split)
        return self._cache[("label", split)]

    def png_dir(self, split: str) -> tuple[Path | None, list[str]]:
        """The split's PNG folder (preferring one with a label.csv) and any warning about the choice."""
        if ("png", split) not in self._cache:
            self._cache[("png", split)] = self._png_dir(split)
        return self._cache[("png", split)]

    def _label_csv(self, split: str) -> tuple[Path | None, list[str]]:
        cands = [d / "label.csv" for d in self.split_dirs.get(split, []) if (d / "label.csv").is_file()]
        if not cands:
            return None, []
        png = self.png_dir(split)[0]
        beside = [c for c in cands if png is not None and c.parent == png]
        chosen = beside[0] if beside else cands[0]
        notes = []
        if len(cands) > 1:
            notes.append(f"several label.csv files for {split}: {', '.join(map(str, cands))}; using {chosen}")
        return chosen, notes

    def _png_dir(self, split: str) -> tuple[Path | None, list[str]]:
        cands = [d for d in self.split_dirs.get(split, []) if _has_png(d)]
        if not cands:
            return None, []
        with_labels = [d for d in cands if (d / "label.csv").is_file()]
        chosen = (with_labels or cands)[0]
        notes = []
        if len(cands) > 1:
            notes.append(
                f"several {FOLDERS[split]} image folders: {', '.join(map(str, cands))}; using {chosen}"
            )
        return chosen, notes

    def layout(self) -> str:
        for split in FOLDERS:
            png = self.png_dir(split)[0]
            if png is not None:
                return "ferplus-esr" if png.parent.name.lower() == "images" else "ferplus-official"
        return "ferplus-csv" if self.fer_csv and self.new_csv else "ferplus-official"

    def splits(self) -> list[str]:
        out = []
        for split in FOLDERS:
            has_labels = self.label_csv(split)[0] is not None or self.new_csv is not None
            has_images = self.png_dir(split)[0] is not None or (self.fer_csv is not None and self.new_csv)
            if has_labels and has_images:
                out.append(split)
        return out

    def problems(self) -> list[str]:
        errors = []
        if len(self.new_csvs) > 1:
            errors.append(
                f"several fer2013new.csv files under {self.root}: {', '.join(map(str, self.new_csvs))}; "
                "keep one, or pass the folder of the one you mean as --data-root"
            )
        if len(self.fer_csvs) > 1:
            errors.append(
                f"several full FER2013 CSVs under {self.root}: {', '.join(map(str, self.fer_csvs))}; keep one"
            )
        has_labels = self.new_csv is not None or any(self.label_csv(s)[0] for s in FOLDERS)
        if not has_labels:
            errors.append(
                f"no FER+ votes under {self.root}: neither fer2013new.csv nor FER2013*/label.csv. Get them from "
                "https://github.com/microsoft/FERPlus (fer2013new.csv and data/FER2013*/label.csv)"
            )
        has_png = any(self.png_dir(s)[0] for s in FOLDERS)
        if not has_png and self.fer_csv is None:
            tars = [a for a in self.archives if "fer" in a.name.lower()]
            if tars:
                errors.append(
                    str(archive_error("the FER2013 CSV fer2013.csv", tars, tars[0].parent, "fer2013.csv"))
                )
            elif self.partial_csvs:
                errors.append(
                    f"{', '.join(map(str, self.partial_csvs))}: only part of FER2013 (no Usage column), but "
                    "FER+ pairs its rows by position with all 35,887 rows: use the original fer2013.csv "
                    "(Kaggle fer2013.tar.gz) or icml_face_data.csv instead"
                )
            else:
                errors.append(
                    f"FER+ votes found under {self.root} but no FER2013 images: put the original fer2013.csv "
                    "(or icml_face_data.csv) next to fer2013new.csv, or generate the PNG folders with "
                    "microsoft/FERPlus: python src/generate_training_data.py -d <this folder> "
                    "-fer fer2013.csv -ferplus fer2013new.csv"
                )
        elif not has_png and self.new_csv is None:
            errors.append(
                f"FER2013 CSV {self.fer_csv} found but no fer2013new.csv to pair its rows with; get it from "
                "https://github.com/microsoft/FERPlus"
            )
        return errors

    def detected(self) -> Any:
        from tag_bench.data.detect import DetectedDataset

        errors = self.problems()
        parts = []
        labels = [s for s in FOLDERS if self.label_csv(s)[0]]
        if labels:
            parts.append(f"label.csv for {', '.join(labels)}")
        if self.new_csv:
            parts.append(f"{self.new_csv.name}")
        pngs = [FOLDERS[s] for s in FOLDERS if self.png_dir(s)[0]]
        if pngs:
            parts.append(f"PNG folders {', '.join(pngs)}")
        if self.fer_csv:
            parts.append(f"FER2013 CSV {self.fer_csv.name}")
        layout = self.layout()
        desc = "FERPlus (FER2013 images + FER+ votes): " + (", ".join(parts) or "nothing usable")
        needs_csv = not any(self.png_dir(s)[0] for s in FOLDERS) and self.fer_csv is None
        return DetectedDataset(
            "ferplus",
            layout,
            self.root,
            desc,
            splits=self.splits(),
            errors=errors,
            details={"files": self, "needs_csv": needs_csv and bool(labels or self.new_csv)},
        )


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def _has_png(folder: Path) -> bool:
    try:
        with os.scandir(folder) as it:
            return any(e.name.lower().endswith(".png") for e in it)
    except OSError:
        return False


def _csv_columns(path: Path) -> list[str]:
    try:
        with open(path, "rb") as f:
            head = f.readline(8192)
    except OSError:
        return []
    return [c.strip().lower() for c in head.decode("utf-8-sig", "replace").strip().split(",")]


def discover(root: Path, extra_csv: Path | None = None) -> FerPlusFiles:
    """Collect the FER+ pieces under ``root`` (a few levels down, image folders not descended)."""
    files = FerPlusFiles(root)
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            low = e.name.lower()
            if e.is_dir():
                m = re.fullmatch(r"fer2013(train|valid|test)", low)
                if m:
                    files.split_dirs.setdefault(m.group(1), []).append(Path(e.path))
                elif depth < _SEARCH_DEPTH and not low.startswith(".") and low not in _PRUNE:
                    stack.append((Path(e.path), depth + 1))
            elif low == "fer2013new.csv":
                files.new_csvs.append(Path(e.path))
            elif low.endswith(".csv"):
                cols = _csv_columns(Path(e.path))
                if "pixels" in cols:
                    (files.fer_csvs if "usage" in cols else files.partial_csvs).append(Path(e.path))
            elif archive_suffix(low):
                files.archives.append(Path(e.path))
    if extra_csv is not None and extra_csv not in files.fer_csvs:
        files.fer_csvs.append(extra_csv)
    for v in files.split_dirs.values():
        v.sort()
    files.new_csvs.sort()
    files.fer_csvs.sort()
    return files


# --------------------------------------------------------------------------------------------------
# Reading the label files


def _check_name(name: str, where: str) -> str:
    if "/" in name or "\\" in name or name in (".", "..") or os.path.isabs(name):
        raise DatasetError(f"{where}: image name {name!r} is not a plain file name; refusing it")
    return name


def _votes(fields: list[str], where: str) -> list[int]:
    if len(fields) != 10:
        raise DatasetError(f"{where}: expected 10 vote counts, found {len(fields)}")
    try:
        return [int(f) for f in fields]
    except ValueError:
        pass
    try:
        return [int(float(f)) for f in fields]
    except ValueError as e:
        raise DatasetError(f"{where}: vote counts must be numbers ({e})") from None


def read_label_csv(path: Path) -> dict[str, list[int]]:
    """``label.csv``: name, optional "(x, y, w, h)" face box, then 10 votes; no header."""
    out: dict[str, list[int]] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            if not row or not any(c.strip() for c in row):
                continue
            where = f"{path}:{n}"
            name = row[0].strip()
            rest = [c.strip() for c in row[1:]]
            if rest and rest[0].startswith("("):
                rest = rest[1:]
            if n == 1 and not name.lower().endswith(".png"):
                continue  # a header row some copies add
            out[_check_name(name, where)] = _votes(rest, where)
    return out


@dataclass
class NewCsv:
    """``fer2013new.csv``: per row its Usage; per split name -> (row, votes), the last duplicate winning."""

    usages: list[str]
    by_split: dict[str, dict[str, tuple[int, list[int]]]]
    duplicates: int


def read_new_csv(path: Path) -> NewCsv:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{path} is empty")
        cols = [c.strip().lower() for c in header]
        need = ["usage", "image name", *VOTE_COLUMNS]
        missing = [c for c in need if c not in cols]
        if missing:
            raise DatasetError(
                f"{path}: header {header} lacks columns {missing}; expected Usage,Image name,neutral,happiness,"
                "surprise,sadness,anger,disgust,fear,contempt,unknown,NF (microsoft/FERPlus fer2013new.csv)"
            )
        iu, iname = cols.index("usage"), cols.index("image name")
        ivotes = [cols.index(c) for c in VOTE_COLUMNS]
        usages: list[str] = []
        by_split: dict[str, dict[str, tuple[int, list[int]]]] = {s: {} for s in FOLDERS}
        dups = 0
        for n, row in enumerate(reader, start=2):
            if not row or not any(c.strip() for c in row):
                continue
            where = f"{path}:{n}"
            if len(row) < len(cols):
                raise DatasetError(f"{where}: {len(row)} fields, expected {len(cols)}")
            usage = row[iu].strip()
            split = USAGE.get(usage)
            if split is None:
                raise DatasetError(f"{where}: Usage {usage!r} is not Training, PublicTest or PrivateTest")
            row_index = len(usages)
            usages.append(usage)
            name = row[iname].strip()
            if not name:
                continue  # no image was generated for this row (the NF cases)
            votes = _votes([row[i] for i in ivotes], where)
            bucket = by_split[split]
            if name in bucket:
                dups += 1
            bucket[_check_name(name, where)] = (row_index, votes)
    return NewCsv(usages, by_split, dups)


def check_fer_csv(path: Path, new: NewCsv, new_path: Path) -> list[int | None]:
    """Verify the FER2013 CSV pairs row by row with fer2013new.csv; return its FER2013 emotion per row."""
    cols = _csv_columns(path)
    if "usage" not in cols or "pixels" not in cols:
        raise DatasetError(f"{path}: header {cols} lacks the Usage and pixels columns of fer2013.csv")
    iu = cols.index("usage")
    ie = cols.index("emotion") if "emotion" in cols else None
    emotions: list[int | None] = []
    n_rows = 0
    with open(path, "rb") as f:
        f.readline()
        for line in f:
            if not line.strip():
                continue
            fields = line.split(b",")
            if len(fields) != len(cols):
                raise DatasetError(
                    f"{path}: row {n_rows + 2} has {len(fields)} fields, expected {len(cols)} ({', '.join(cols)})"
                )
            if n_rows < len(new.usages):
                usage = fields[iu].strip().decode("ascii", "replace")
                if usage != new.usages[n_rows]:
                    raise DatasetError(
                        f"row {n_rows + 2} of {path} has Usage {usage} but row {n_rows + 2} of {new_path} has "
                        f"{new.usages[n_rows]}: FER+ pairs the two files by position, so {path.name} must hold "
                        "all FER2013 rows in the original order"
                    )
            emo = fields[ie].strip() if ie is not None else b""
            emotions.append(int(emo) if emo.isdigit() else None)
            n_rows += 1
    if n_rows != len(new.usages):
        raise DatasetError(
            f"{path} has {n_rows:,} rows but {new_path} has {len(new.usages):,}: FER+ pairs rows by position, so "
            f"only the complete original file works (fer2013.csv or icml_face_data.csv, {FER2013_ROWS:,} rows "
            "in the original order); train.csv/test.csv from the current Kaggle competition do not"
        )
    return emotions


# --------------------------------------------------------------------------------------------------
# Loader


def _explain_missing(found: list[Any]) -> str | None:
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

    ``protocol``: majority (official), argmax8 or crossentropy. ``labels_source``: auto (label.csv when
    present, else fer2013new.csv), label_csv or fer2013new. ``image_source``: auto (PNG folders when
    present, else FER2013 CSV rows), png or csv.
    """
    from tag_bench.data.detect import locate

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
    hit: Any, split: str, protocol: str = "majority", labels_source: str = "auto", image_source: str = "auto"
) -> SplitData:
    """``load`` for a dataset already found by ``detect_datasets``."""
    split = normalise_split("FERPlus", split, SPLIT_ALIASES)
    mode = normalise_protocol(protocol)
    if mode is None:
        raise DatasetError(
            f"unknown FERPlus protocol {protocol!r}; use majority (official), argmax8 or crossentropy"
        )
    source = str(labels_source).lower().replace("-", "_").replace(".", "_")
    source = {"auto": "auto", "label_csv": "label_csv", "labelcsv": "label_csv", "fer2013new": "fer2013new",
              "fer2013new_csv": "fer2013new"}.get(source)  # fmt: skip
    if source is None:
        raise DatasetError(f"labels_source must be auto, label_csv or fer2013new, not {labels_source!r}")
    if image_source not in ("auto", "png", "csv"):
        raise DatasetError(f"image_source must be auto, png or csv, not {image_source!r}")
    files: FerPlusFiles = hit.details["files"]
    warnings: list[str] = []

    label_csv, notes = files.label_csv(split)
    warnings += notes
    if source == "label_csv" and label_csv is None:
        raise DatasetError(
            f"labels_source=label_csv but no {FOLDERS[split]}/label.csv under {files.root}; copy data/"
            f"{FOLDERS[split]}/label.csv from github.com/microsoft/FERPlus, or use labels_source=fer2013new"
        )
    use_label_csv = label_csv is not None and source != "fer2013new"
    if not use_label_csv and files.new_csv is None:
        raise DatasetError(
            f"no FER+ votes for {split}: neither {FOLDERS[split]}/label.csv nor fer2013new.csv under {files.root}"
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
        present = set(_names(png_dir))
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
    return msg + "; results will not be comparable with published numbers (partial copy or modified labels?)"
