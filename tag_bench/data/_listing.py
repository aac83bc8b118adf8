"""Folder listings for the dataset layer: one scan per folder, names found exactly or ignoring case.

``walk`` is the breadth-first walk of layout detection; ``DirListing`` caches listings for loaders
that look up thousands of file names; ``split_dirs`` and ``subdirs`` read split and class folders.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from tag_bench.data._common import SPLIT_FOLDER_NAMES

#: A folder with more subfolders than this is an image container, never walked into.
MAX_SUBFOLDERS = 2000


@dataclass
class Listing:
    """The entries of one folder, by lower-case name (first spelling on disk wins)."""

    path: Path
    depth: int
    dirs: dict[str, str]  # lower-case name -> name on disk
    files: dict[str, str]

    def dir(self, name: str) -> Path | None:
        real = self.dirs.get(name.lower())
        return self.path / real if real else None

    def file(self, name: str) -> Path | None:
        real = self.files.get(name.lower())
        return self.path / real if real else None


def list_dir(path: Path, depth: int = 0) -> Listing:
    """``path``'s folders and files (empty when it cannot be read)."""
    dirs: dict[str, str] = {}
    files: dict[str, str] = {}
    try:
        with os.scandir(path) as it:
            for e in it:
                try:
                    is_dir = e.is_dir()
                except OSError:
                    continue
                (dirs if is_dir else files).setdefault(e.name.lower(), e.name)
    except OSError:
        pass
    return Listing(path, depth, dirs, files)


def subdirs(path: Path) -> list[str]:
    """Names of the visible subfolders of ``path`` (none when it cannot be read)."""
    try:
        with os.scandir(path) as it:
            return [e.name for e in it if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return []


def split_dirs(parent: Path, names: Iterable[str]) -> dict[str, Path]:
    """Split folders (train/test/val and their spellings) among ``names``; the first per split wins."""
    out: dict[str, Path] = {}
    for name in names:
        split = SPLIT_FOLDER_NAMES.get(name.lower())
        if split and split not in out:
            out[split] = parent / name
    return out


def walk(root: Path, max_depth: int, visit: Callable[[Listing], bool], skip: Collection[str]) -> None:
    """Breadth-first from ``root``: ``visit`` each folder; descend only where it returns True.

    Hidden and numbered folders, names in ``skip`` (lower case) and folders below ``max_depth`` are
    never entered: they hold images or annotations, not dataset roots.
    """
    queue = deque([(root, 0)])
    while queue:
        path, depth = queue.popleft()
        listing = list_dir(path, depth)
        if not visit(listing) or depth >= max_depth or len(listing.dirs) > MAX_SUBFOLDERS:
            continue
        for low, real in sorted(listing.dirs.items()):
            if low.startswith(".") or low in skip or re.fullmatch(r"\d+", low):
                continue
            queue.append((path / real, depth + 1))


class DirListing:
    """Directory listings cached per folder, for exact and case-insensitive name lookups."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[set[str], dict[str, str]]] = {}

    def _get(self, folder: str) -> tuple[set[str], dict[str, str]]:
        hit = self._cache.get(folder)
        if hit is None:
            try:
                names = set(os.listdir(folder))
            except (FileNotFoundError, NotADirectoryError):
                names = set()
            lower: dict[str, str] = {}
            for n in names:
                lower.setdefault(n.lower(), n)
            hit = (names, lower)
            self._cache[folder] = hit
        return hit

    def find(self, folder: str, name: str) -> str | None:
        """The name as it is on disk (exact match first, then ignoring case), or None."""
        names, lower = self._get(folder)
        if name in names:
            return name
        return lower.get(name.lower())

    def names(self, folder: str) -> set[str]:
        return self._get(folder)[0]
