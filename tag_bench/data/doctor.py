"""What ``tag-bench doctor`` reports: every dataset under a folder, counted per split against the
official numbers, with what is wrong and how to fix it."""

from __future__ import annotations

import os
from typing import Any

from tag_bench.data.base import DatasetError, get_spec
from tag_bench.data.detect import detect_datasets


def diagnose(data_root: str | None) -> list[dict[str, Any]]:
    """Every dataset under ``data_root`` with per-split counts (default options), warnings and errors."""
    report = []
    for d in detect_datasets(data_root):
        entry: dict[str, Any] = {
            "name": d.name,
            "layout": d.layout,
            "root": str(d.root),
            "splits": {},
            "warnings": list(d.warnings),
            "errors": list(d.errors),
            "description": d.description,
            "official": {},
        }
        if d.loader and not d.errors:
            for split in d.splits:
                try:
                    data = d.load(split)
                except DatasetError as e:
                    entry["errors"].append(f"{split}: {e}")
                    continue
                entry["splits"][split] = len(data.samples)
                entry["official"][split] = get_spec(d.loader).official(split, data)
                entry["warnings"] += [f"{split}: {w}" for w in data.warnings if w not in d.warnings]
                empty = _empty_images(data.samples)
                if empty:
                    entry["warnings"].append(
                        f"{split}: {len(empty)} image file(s) are empty (0 bytes), e.g. {empty[0]}: a copy that "
                        "did not finish? Those samples will be counted as errors; copy them again"
                    )
        report.append(entry)
    return report


def _empty_images(samples: list[Any]) -> list[str]:
    """Image files of zero bytes (container rows are not files of their own)."""
    seen: set[str] = set()
    empty = []
    for s in samples:
        if s.image_index is None and s.image not in seen:
            seen.add(s.image)
            try:
                if os.stat(s.image).st_size == 0:
                    empty.append(s.image)
            except OSError:
                continue  # missing files are reported by the loaders already
    return empty
