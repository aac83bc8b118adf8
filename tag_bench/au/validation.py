"""Validating an AU reference against human AU labels (``tag-bench au validate``).

Label formats (``docs/au-reference.md``, "Checking a reference"):

``csv``    ``image,AU1,AU2,...``: one row per image, the image path relative to ``--images``; AU
           columns in any spelling ``au_code`` reads (``AU01``, ``au12``); values 1 (active) / 0
           (not); an empty cell, ``9`` or ``NA`` means not coded.
``disfa``  DISFA's per-AU intensity files ``<subject>_au<N>.txt`` (e.g. ``SN001/SN001_au12.txt``), one
           ``frame,intensity`` line per video frame (frame 1-based, intensity 0-5); intensity >= 2 is
           active (the usual DISFA occurrence rule). Images: ``<subject>/<...frame number...>.<ext>``
           under ``--images``.
``bp4d``   BP4D occurrence CSVs ``<subject>_<task>.csv`` (e.g. ``F001_T1.csv``): a header row whose
           first cell names the frame column and whose other cells are AU numbers, then one row per
           frame: the frame number, then 1 (present), 0 (absent) or 9 (not coded) per AU. Images:
           ``<subject>/<task>/<...frame number...>.<ext>`` under ``--images``.

AU codes must be those of the FACS catalogue (``tag_bench.facs.AU_CATALOGUE``; ``AU99`` is refused; in
BP4D files, whose header numbers every AU, only a column holding a 0 or 1). Image paths of ``csv``
labels are relative to ``--images`` and must stay inside it.

For the video datasets an image matches a label row by its folder(s) and the last number in its file
name (``0042.jpg``, ``frame_42.png`` -> 42); ``frame_offset`` is added to that number first (use 1 when
frames were extracted counting from 0).

Per AU, over the labelled images the reference judged (status ok, flag not None): precision, recall,
F1 of the active flags, ROC-AUC of the scores (``sklearn.metrics``), the base rate of the labels and
the confusion counts; ``coverage`` = judged / labelled. Labelled images the reference could not judge
(no face, error, unjudged AU) are counted, never dropped silently; a label row without an image is
counted as ``missing_images``.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench._optional import require
from tag_bench.facs import AU_CATALOGUE, AU_CODES, au_code, au_sort_key
from tag_bench.schema import AUReference

LABEL_FORMATS: tuple[str, ...] = ("csv", "disfa", "bp4d")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
DISFA_ACTIVE_INTENSITY = 2
_NOT_CODED = {"", "9", "na", "nan", "none", "-"}
_DISFA_FILE = re.compile(r"^(?P<subject>.+)_au(?P<au>\d+)$", re.IGNORECASE)
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


class LabelError(ValueError):
    """A label file cannot be read; the message names the file and line."""


@dataclass
class Labels:
    """Human AU labels: image key -> AU -> 1/0, and where each key's image is (when known)."""

    format: str
    by_key: dict[str, dict[str, int]] = field(default_factory=dict)
    images: dict[str, Path] = field(default_factory=dict)
    missing_images: list[str] = field(default_factory=list)


def _flag(value: str, where: str) -> int | None:
    v = value.strip().lower()
    if v in _NOT_CODED:
        return None
    try:
        x = float(v)
    except ValueError:
        raise LabelError(f"{where}: expected 0, 1 or 9 (not coded), got {value!r}") from None
    if x not in (0.0, 1.0):
        raise LabelError(f"{where}: expected 0, 1 or 9 (not coded), got {value!r}")
    return int(x)


def _known_aus(aus: list[str | None], raw: list[str], where: str) -> None:
    """Every AU a label file names must be one of the FACS catalogue (AU99 is a typo, not a label)."""
    bad = [r for a, r in zip(aus, raw, strict=True) if a is None or a not in AU_CATALOGUE]
    if bad:
        raise LabelError(
            f"{where}: unknown AU code(s) {', '.join(map(repr, bad))}; known: {', '.join(AU_CODES)} "
            "(tag_bench.facs.AU_CATALOGUE)"
        )


def read_csv_labels(path: Path) -> dict[str, dict[str, int]]:
    """``image,AU1,AU2,...`` rows -> image -> AU -> 1/0."""
    out: dict[str, dict[str, int]] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if not header:
            raise LabelError(f"{path}: empty label file")
        codes = {i: au_code(h) for i, h in enumerate(header) if h.upper().startswith("AU")}
        _known_aus(list(codes.values()), [header[i] for i in codes], f"{path}:1")
        aus = {i: a for i, a in codes.items() if a is not None}
        image_col = next((i for i, h in enumerate(header) if h.lower() in ("image", "file", "path")), 0)
        if not aus:
            raise LabelError(f"{path}: no AU columns (AU1, AU2, ...) in the header {header}")
        for n, row in enumerate(reader, 2):
            if not row or not "".join(row).strip():
                continue
            key = row[image_col].strip()
            flags = {
                au: v
                for i, au in aus.items()
                if i < len(row) and (v := _flag(row[i], f"{path}:{n}")) is not None
            }
            if key in out:
                raise LabelError(f"{path}:{n}: second row for image {key!r}")
            out[key] = flags
    return out


def read_disfa(path: Path) -> dict[str, dict[str, int]]:
    """DISFA per-AU intensity files under ``path`` -> ``subject/frame`` -> AU -> 1/0."""
    files = sorted(path.rglob("*.txt")) if path.is_dir() else [path]
    out: dict[str, dict[str, int]] = {}
    used = 0
    for f in files:
        m = _DISFA_FILE.match(f.stem)
        if not m:
            continue
        used += 1
        au = f"AU{int(m['au'])}"
        _known_aus([au], [f.name], str(f))
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.replace("\t", ",").split(",")]
            try:
                frame, intensity = int(parts[0]), float(parts[1])
            except (ValueError, IndexError):
                raise LabelError(f"{f}:{n}: expected 'frame,intensity', got {line!r}") from None
            if not 0 <= intensity <= 5:
                raise LabelError(f"{f}:{n}: DISFA intensities are 0-5, got {intensity}")
            out.setdefault(f"{m['subject']}/{frame}", {})[au] = int(intensity >= DISFA_ACTIVE_INTENSITY)
    if not used:
        raise LabelError(f"no DISFA label files (<subject>_au<N>.txt) under {path}")
    return out


def read_bp4d(path: Path) -> dict[str, dict[str, int]]:
    """BP4D occurrence CSVs under ``path`` -> ``subject/task/frame`` -> AU -> 1/0."""
    files = sorted(path.rglob("*.csv")) if path.is_dir() else [path]
    out: dict[str, dict[str, int]] = {}
    for f in files:
        subject, _, task = f.stem.partition("_")
        if not task:
            raise LabelError(f"{f}: BP4D occurrence files are named <subject>_<task>.csv (e.g. F001_T1.csv)")
        with open(f, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            cols: dict[int, str] = {}
            for i, h in enumerate(header[1:], 1):
                try:
                    cols[i] = f"AU{int(float(h))}"
                except ValueError:
                    raise LabelError(f"{f}:1: expected AU numbers in the header, got {h!r}") from None
            # BP4D's files have a column for every AU number, most never coded (9): only a column that
            # holds a 0/1 must be a catalogue AU
            unknown = {i: au for i, au in cols.items() if au not in AU_CATALOGUE}
            for n, row in enumerate(reader, 2):
                if not row or not "".join(row).strip():
                    continue
                try:
                    frame = int(float(row[0]))
                except ValueError:
                    raise LabelError(f"{f}:{n}: expected a frame number, got {row[0]!r}") from None
                flags = {
                    au: v
                    for i, au in cols.items()
                    if i < len(row) and (v := _flag(row[i], f"{f}:{n}")) is not None
                }
                coded_unknown = [header[i] for i, au in unknown.items() if au in flags]
                if coded_unknown:
                    _known_aus([None] * len(coded_unknown), coded_unknown, f"{f}:{n}")
                out[f"{subject}/{task}/{frame}"] = flags
    if not out:
        raise LabelError(f"no BP4D occurrence rows under {path}")
    return out


def frame_key(rel: Path, frame_offset: int = 0) -> str | None:
    """``SN001/0042.png`` -> ``SN001/42`` (folders + the last number of the file name + offset)."""
    m = _LAST_NUMBER.search(rel.stem)
    if m is None:
        return None
    return "/".join([*rel.parent.parts, str(int(m.group(1)) + frame_offset)])


def load_labels(path: str | Path, fmt: str, images: str | Path, *, frame_offset: int = 0) -> Labels:
    """Read labels of format ``fmt`` and find each labelled image under ``images``."""
    path, root = Path(path), Path(images)
    if fmt not in LABEL_FORMATS:
        raise LabelError(f"unknown label format {fmt!r}; known: {', '.join(LABEL_FORMATS)}")
    if not path.exists():
        raise LabelError(f"label file or folder not found: {path}")
    if not root.is_dir():
        raise LabelError(f"image folder not found: {root}")
    reader = {"csv": read_csv_labels, "disfa": read_disfa, "bp4d": read_bp4d}[fmt]
    labels = Labels(fmt, reader(path))
    if fmt == "csv":
        inside = os.path.normpath(root.absolute())
        for key in labels.by_key:
            p = root / key
            if os.path.commonpath([inside, os.path.normpath(p.absolute())]) != inside:
                raise LabelError(
                    f"{path}: image {key!r} lies outside --images {root}; image paths in the label file are "
                    "relative to --images and stay inside it"
                )
            if p.is_file():
                labels.images[key] = p
    else:
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
                fkey = frame_key(p.relative_to(root), frame_offset)
                if fkey is not None and fkey in labels.by_key and fkey not in labels.images:
                    labels.images[fkey] = p
    labels.missing_images = sorted(k for k in labels.by_key if k not in labels.images)
    return labels


def _rate(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def validate(
    labels: Mapping[str, Mapping[str, int]],
    refs: Mapping[str, AUReference],
) -> dict[str, Any]:
    """Per-AU precision, recall, F1, ROC-AUC, base rate and coverage of ``refs`` against ``labels``.

    Both are keyed by image key; keys without a reference count as not judged.
    """
    metrics = require("sklearn.metrics", "stats", "AU reference validation")
    aus = sorted({au for flags in labels.values() for au in flags}, key=au_sort_key)
    out: dict[str, Any] = {}
    for au in aus:
        y: list[int] = []
        pred: list[int] = []
        score: list[float] = []
        labelled = no_ref = unjudged = unscored = 0
        for key, flags in labels.items():
            if au not in flags:
                continue
            labelled += 1
            ref = refs.get(key)
            state = ref.aus.get(au) if ref is not None and ref.status == "ok" else None
            if ref is None or ref.status != "ok":
                no_ref += 1
                continue
            if state is None or state.active is None:
                unjudged += 1
                continue
            y.append(flags[au])
            pred.append(int(state.active))
            if state.score is not None:
                score.append(state.score)
            else:
                unscored += 1
        row: dict[str, Any] = {
            "labelled": labelled,
            "judged": len(y),
            "coverage": len(y) / labelled if labelled else None,
            "reference_failed": no_ref,
            "unjudged": unjudged,
            "base_rate": sum(y) / len(y) if y else None,
            "tp": sum(a and b for a, b in zip(y, pred, strict=True)),
            "fp": sum(b and not a for a, b in zip(y, pred, strict=True)),
            "fn": sum(a and not b for a, b in zip(y, pred, strict=True)),
            "tn": sum(not a and not b for a, b in zip(y, pred, strict=True)),
            "precision": None,
            "recall": None,
            "f1": None,
            "roc_auc": None,
            "not_computed": {},
        }
        why = row["not_computed"]
        if not y:
            for k in ("precision", "recall", "f1", "roc_auc", "base_rate"):
                why[k] = "no labelled image judged by the reference"
        else:
            p, r, f, _ = metrics.precision_recall_fscore_support(
                y, pred, average="binary", zero_division=float("nan")
            )
            for k, v, reason in (
                ("precision", p, "the reference marks no judged image active"),
                ("recall", r, "no judged image is labelled active"),
                ("f1", f, "precision and recall are both 0 or undefined"),
            ):
                row[k] = _rate(v)
                if row[k] is None:
                    why[k] = reason
            if unscored:
                why["roc_auc"] = f"{unscored} judged images have no score"
            elif len(set(y)) < 2:
                why["roc_auc"] = "the labels of the judged images are all the same class"
            else:
                row["roc_auc"] = _rate(metrics.roc_auc_score(y, score))
        out[au] = row
    return out
