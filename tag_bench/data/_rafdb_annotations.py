"""RAF-DB's optional per-image annotations: bounding box, 5 manual landmarks with gender/race/age,
37 automatic landmarks, all in original-image pixels."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tag_bench.data._common import archive_error, archives_in, split_fields
from tag_bench.data._listing import DirListing
from tag_bench.data.base import DatasetError

GENDER = {0: "male", 1: "female", 2: "unsure"}
RACE = {0: "caucasian", 1: "african-american", 2: "asian"}
AGE = {0: "0-3", 1: "4-19", 2: "20-39", 3: "40-69", 4: "70+"}


class Annotations:
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
