"""Finding and reading the FERPlus files: FER+ votes (``label.csv``, ``fer2013new.csv``), the PNG
folders and the original FER2013 CSV, anywhere a few levels below one folder."""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench.data._common import archive_error, archive_suffix
from tag_bench.data.base import DatasetError

FOLDERS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}
USAGE = {"Training": "train", "PublicTest": "valid", "PrivateTest": "test"}
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                "unknown", "nf")  # fmt: skip
FER2013_ROWS = 35887
_SEARCH_DEPTH = 3
_PRUNE = {"__pycache__", "node_modules", "src", "emolabel", "aligned", "original"}


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

    def needs_csv(self) -> bool:
        """FER+ votes without images: a FER2013 CSV found beside this folder would complete them."""
        has_votes = any(self.label_csv(s)[0] for s in FOLDERS) or self.new_csv is not None
        return not any(self.png_dir(s)[0] for s in FOLDERS) and self.fer_csv is None and has_votes


def list_names(folder: Path) -> list[str]:
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
        votes = [int(f) for f in fields]
    except ValueError:
        try:
            votes = [int(float(f)) for f in fields]
        except ValueError as e:
            raise DatasetError(f"{where}: vote counts must be numbers ({e})") from None
    if min(votes) < 0:
        raise DatasetError(
            f"{where}: a vote count is negative ({', '.join(fields)}); the file is damaged: take a fresh copy "
            "from github.com/microsoft/FERPlus"
        )
    return votes


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
