"""Helpers shared by the dataset loaders: data roots, class orders, safe paths, archives, warnings."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench.data.base import NOT_COMPARABLE_WITH_PUBLISHED, DatasetError
from tag_bench.facs import canonical_emotion
from tag_bench.schema import CANONICAL_EMOTIONS, Sample

DATA_ENV = "TAG_BENCH_DATA"

#: Native class orders (spec datasets.md §1.1). Index i of the tuple is native label ``start + i``.
RAFDB_ORDER: tuple[str, ...] = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
AFFECTNET_ORDER: tuple[str, ...] = CANONICAL_EMOTIONS  # 0 Neutral ... 7 Contempt
AFFECTNET_EXCLUDED: dict[int, str] = {8: "None", 9: "Uncertain", 10: "No-Face"}
FERPLUS_ORDER: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
FER2013_ORDER: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
ALPHABETICAL8: tuple[str, ...] = (
    "anger",
    "contempt",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
)
ALPHABETICAL7: tuple[str, ...] = tuple(c for c in ALPHABETICAL8 if c != "contempt")

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip", ".rar", ".7z")

CLASS_ORDER_HELP = (
    "Pass the class order explicitly with class_order (command line: --class-order): a preset, rafdb "
    "(folders 1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral), affectnet (0..7 = neutral, "
    "happiness, sadness, surprise, fear, disgust, anger, contempt), fer2013 (0..6 = anger, disgust, fear, "
    "happiness, sadness, surprise, neutral), ferplus (0..7 in FER+ order), alphabetical (torchvision "
    "ImageFolder indices) or names (folders named by emotion); or a comma-separated list of canonical names, "
    "one per class folder in sorted order"
)


# --------------------------------------------------------------------------------------------------
# Data root


def resolve_root(data_root: str | os.PathLike[str] | None) -> Path:
    """The folder to search: ``data_root``, else ``$TAG_BENCH_DATA``; it must exist."""
    if data_root is None or str(data_root) == "":
        env = os.environ.get(DATA_ENV)
        if not env:
            raise DatasetError(
                "no data folder given: pass --data-root DIR (data_root=... in Python) pointing at the "
                f"dataset folder or at a folder holding several datasets, or set {DATA_ENV}"
            )
        data_root = env
    root = Path(data_root).expanduser()
    if not root.exists():
        raise DatasetError(f"data root {root} does not exist; check the --data-root path")
    if not root.is_dir():
        raise DatasetError(
            f"data root {root} is a file, not a folder; pass the folder that holds the dataset"
        )
    return root.resolve()


# --------------------------------------------------------------------------------------------------
# Class orders


@dataclass(frozen=True)
class ClassOrder:
    """How class folders map to canonical names. Never inferred from numeric folder names."""

    name: str  # preset name, "list", "mapping" or "names"
    names: tuple[str, ...] = ()  # index order for presets and lists
    start: int = 0  # native label of names[0] (1 for RAF-DB)
    excluded: dict[int, str] = field(default_factory=dict)  # known native codes that are not classes
    mapping: dict[str, str] = field(default_factory=dict)  # explicit folder -> canonical name
    positional: bool = False  # lists/alphabetical: i-th folder in sorted order -> names[i]

    def assign(self, folders: Sequence[str], where: str) -> dict[str, str | None]:
        """Map each class folder name to a canonical name (None: a known non-class code, skipped)."""
        if self.name == "names":
            return _assign_by_names(folders, where)
        if self.mapping:
            unknown = [f for f in folders if f not in self.mapping]
            if unknown:
                raise DatasetError(
                    f"class folders {unknown} in {where} are not in the class_order mapping "
                    f"{self.mapping}; add them to the mapping"
                )
            return {f: self.mapping[f] for f in folders}
        if self.positional:
            ordered = sort_folders(folders)
            names = self.names
            if self.name == "alphabetical":
                names = ALPHABETICAL8 if len(ordered) == 8 else ALPHABETICAL7
                if len(ordered) not in (7, 8):
                    raise DatasetError(
                        f"class_order=alphabetical needs 7 or 8 class folders; {where} has {len(ordered)}: "
                        f"{ordered}"
                    )
            if len(ordered) != len(names):
                raise DatasetError(
                    f"class_order lists {len(names)} classes ({', '.join(names)}) but {where} has "
                    f"{len(ordered)} class folders ({', '.join(ordered)}); give one name per folder"
                )
            return dict(zip(ordered, names, strict=True))
        out: dict[str, str | None] = {}
        for f in folders:
            if not re.fullmatch(r"\d+", f):
                raise DatasetError(
                    f"class folder {f!r} in {where} is not a number, so class_order={self.name} "
                    f"(numbered folders {self.start}..{self.start + len(self.names) - 1}) does not apply; "
                    "use class_order=names for folders named by emotion"
                )
            code = int(f)
            i = code - self.start
            if 0 <= i < len(self.names):
                out[f] = self.names[i]
            elif code in self.excluded:
                out[f] = None
            else:
                raise DatasetError(
                    f"class folder {f!r} in {where} is not a label of class_order={self.name} "
                    f"({self.start}..{self.start + len(self.names) - 1}); is this the right order?"
                )
        return out

    def describe(self) -> str:
        if self.name == "names":
            return "class folders named by emotion"
        if self.mapping:
            return "explicit mapping " + ", ".join(f"{k}={v}" for k, v in self.mapping.items())
        if self.name == "alphabetical":
            return "alphabetical (ImageFolder) order"
        first = self.start
        return f"{self.name}: " + ", ".join(f"{first + i}={n}" for i, n in enumerate(self.names))


_PRESETS: dict[str, ClassOrder] = {
    "rafdb": ClassOrder("rafdb", RAFDB_ORDER, start=1),
    "affectnet": ClassOrder("affectnet", AFFECTNET_ORDER, start=0, excluded=dict(AFFECTNET_EXCLUDED)),
    "fer2013": ClassOrder("fer2013", FER2013_ORDER, start=0),
    "ferplus": ClassOrder("ferplus", FERPLUS_ORDER, start=0),
    "alphabetical": ClassOrder("alphabetical", ALPHABETICAL8, positional=True),
    "names": ClassOrder("names"),
}
_PRESET_ALIASES = {"raf": "rafdb", "raf-db": "rafdb", "ma-net": "affectnet", "manet": "affectnet",
                   "dan": "affectnet", "imagefolder": "alphabetical", "name": "names"}  # fmt: skip

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)


def parse_class_order(value: Any) -> ClassOrder | None:
    """Read a class-order option: a preset name, a comma-separated string, a list, or a mapping."""
    if value is None or value == "":
        return None
    if isinstance(value, ClassOrder):
        return value
    if isinstance(value, str):
        key = value.strip().lower()
        key = _PRESET_ALIASES.get(key, key)
        if key in _PRESETS:
            return _PRESETS[key]
        if "," not in value:
            raise DatasetError(f"unknown class_order {value!r}. {CLASS_ORDER_HELP}")
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if isinstance(value, dict):
        mapping = {}
        for k, v in value.items():
            name = canonical_emotion(str(v))
            if name is None:
                raise DatasetError(f"class_order maps folder {k!r} to {v!r}, which is not an emotion name")
            mapping[str(k)] = name
        return ClassOrder("mapping", mapping=mapping)
    if isinstance(value, (list, tuple)):
        names = []
        for v in value:
            name = canonical_emotion(str(v))
            if name is None:
                raise DatasetError(
                    f"class_order entry {v!r} is not an emotion name; use the canonical names "
                    f"{', '.join(CANONICAL_EMOTIONS)}"
                )
            names.append(name)
        if len(set(names)) != len(names):
            raise DatasetError(f"class_order {list(value)} names a class twice")
        return ClassOrder("list", tuple(names), positional=True)
    raise DatasetError(f"class_order must be a preset name, a list or a mapping, not {type(value).__name__}")


def sort_folders(folders: Iterable[str]) -> list[str]:
    """Numeric folders by value, others case-insensitively (as listed to the user)."""
    folders = list(folders)
    if folders and all(re.fullmatch(r"\d+", f) for f in folders):
        return sorted(folders, key=int)
    return sorted(folders, key=lambda f: (f.casefold(), f))


def _assign_by_names(folders: Sequence[str], where: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for f in folders:
        name = canonical_emotion(f.replace("_", " ").replace("-", " "))
        if name is None:
            raise DatasetError(
                f"class folder {f!r} in {where} is not an emotion name, so its class cannot be read from "
                f"the folder name. {CLASS_ORDER_HELP}"
            )
        out[f] = name
    names = [n for n in out.values() if n]
    if len(set(names)) != len(names):
        raise DatasetError(f"class folders {list(folders)} in {where} name the same emotion twice")
    return out


def emotion_named_folders(folders: Iterable[str]) -> bool:
    """True when every folder name is an emotion word (so the class order is self-describing)."""
    folders = list(folders)
    names = [canonical_emotion(f.replace("_", " ").replace("-", " ")) for f in folders]
    return bool(folders) and None not in names and len(set(names)) == len(names)


# --------------------------------------------------------------------------------------------------
# Paths


def safe_relpath(rel: str, where: str) -> str:
    """A relative path from a label file, refused when it could escape the dataset root."""
    rel = rel.strip().replace("\\", "/")
    if not rel:
        raise DatasetError(f"{where}: empty file path")
    if rel.startswith("/") or re.match(r"^[A-Za-z]:", rel) or os.path.isabs(rel):
        raise DatasetError(
            f"{where}: file path {rel!r} is absolute; paths in the label file must be relative to the "
            "dataset folder. Fix or remove that row"
        )
    if any(part == ".." for part in rel.split("/")):
        raise DatasetError(
            f"{where}: file path {rel!r} contains '..' and would escape the dataset folder; refusing it. "
            "Fix or remove that row"
        )
    return rel


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def archive_suffix(name: str) -> str | None:
    low = name.lower()
    for suf in ARCHIVE_SUFFIXES:
        if low.endswith(suf):
            return suf
    return None


def extract_command(archive: Path, dest: Path) -> str:
    """The shell command that unpacks ``archive`` into ``dest``."""
    a, d = shlex.quote(str(archive)), shlex.quote(str(dest))
    suf = archive_suffix(archive.name) or ""
    if suf == ".zip":
        return f"unzip -q {a} -d {d}"
    if suf == ".rar":
        return f"unrar x {a} {shlex.quote(str(dest) + os.sep)}"
    if suf == ".7z":
        return f"7z x {a} -o{d}"
    if suf in (".tar.gz", ".tgz"):
        return f"tar -xzf {a} -C {d}"
    if suf == ".tar.bz2":
        return f"tar -xjf {a} -C {d}"
    if suf == ".tar.xz":
        return f"tar -xJf {a} -C {d}"
    return f"tar -xf {a} -C {d}"


def first_rar_part(archives: Sequence[Path]) -> list[Path]:
    """Multi-part rar sets are extracted from their first part only; keep one entry per set."""
    out: list[Path] = []
    seen: set[str] = set()
    for a in sorted(archives):
        m = re.match(r"^(.*)\.part0*(\d+)\.rar$", a.name, re.IGNORECASE)
        if m:
            if m.group(1).lower() in seen:
                continue
            seen.add(m.group(1).lower())
        out.append(a)
    return out


def archives_in(folder: Path, stems: Iterable[str] | None = None) -> list[Path]:
    """Archives directly inside ``folder`` (optionally only those whose name starts with a stem)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    wanted = [s.lower() for s in stems] if stems is not None else None
    out = []
    for e in entries:
        named = wanted is None or any(e.name.lower().startswith(s) for s in wanted)
        if named and archive_suffix(e.name) and e.is_file():
            out.append(Path(e.path))
    return first_rar_part(out)


def archive_error(what: str, archives: Sequence[Path], dest: Path, then: str) -> DatasetError:
    """A DatasetError telling the user to unpack the archive(s) that hold ``what``."""
    cmds = "; ".join(extract_command(a, dest) for a in archives)
    names = ", ".join(str(a) for a in archives)
    return DatasetError(
        f"{what} not found, but the archive {names} is there and has not been extracted. Extract it: "
        f"{cmds} (so that {then} exists), then run again"
    )


# --------------------------------------------------------------------------------------------------
# Warnings


def missing_warning(missing: Sequence[str], total: int, show: int = 3) -> str | None:
    """One warning for samples whose image file is absent (they stay in the index and count as errors)."""
    if not missing:
        return None
    head = ", ".join(missing[:show]) + (", ..." if len(missing) > show else "")
    return (
        f"{len(missing)} of {total} listed image files are missing (e.g. {head}); those samples stay in the "
        "index and will be counted as errors. Check the dataset copy is complete"
    )


def missing_from_listing(
    samples: Sequence[Sample], present: set[str], show: int = 3
) -> tuple[str | None, int]:
    """missing_warning for samples whose image path is not in ``present`` (paths known to exist; no stat)."""
    missing = [s.image for s in samples if s.image not in present]
    return missing_warning(missing, len(samples), show), len(missing)


def count_warning(dataset: str, split: str, found: int, expected: int, what: str = "samples") -> str | None:
    if found == expected:
        return None
    return (
        f"{dataset} {split}: found {found:,} {what}, but the official split has {expected:,}; "
        f"{NOT_COMPARABLE_WITH_PUBLISHED} (partial copy, different release or re-packaging?)"
    )


#: Folder names of splits in class-folder layouts (train/, valid/, testing/ ...), normalised.
SPLIT_FOLDER_NAMES = {
    "train": "train",
    "training": "train",
    "test": "test",
    "testing": "test",
    "val": "val",
    "valid": "val",
    "validation": "val",
}


def check_unique_ids(samples: Sequence[Sample], where: str) -> None:
    seen: dict[str, Sample] = {}
    for s in samples:
        if s.id in seen:
            raise DatasetError(
                f"{where}: two samples get the id {s.id!r} ({seen[s.id].image} and {s.image}); the same "
                "image is listed twice. Remove the duplicate"
            )
        seen[s.id] = s


def split_fields(line: str) -> list[str]:
    """Split an annotation line on whitespace, ';' or ','."""
    return [f for f in re.split(r"[\s;,]+", line.strip()) if f]


def reject_unknown_options(dataset: str, options: dict[str, Any], known: Sequence[str]) -> None:
    """A clean DatasetError for loader options the loader does not take (instead of a TypeError)."""
    if options:
        raise DatasetError(
            f"unknown {dataset} loader option(s): {', '.join(sorted(options))}; known: {', '.join(known)}"
        )


def normalise_split(dataset: str, split: str, aliases: dict[str, str]) -> str:
    key = str(split).strip().lower()
    if key in aliases:
        return aliases[key]
    known = sorted(set(aliases.values()))
    raise DatasetError(f"{dataset} has no split {split!r}; use one of: {', '.join(known)}")
