"""Documents generated from the code: ``make docs`` writes them, ``tests/test_docs.py`` keeps them in step.

Each entry maps a document's current text to what it should be: a whole generated file, or a
hand-written file whose marked blocks are made anew.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tag_bench.facs import render_lexicon
from tag_bench.report.docs import update
from tag_bench.scoring.metric_table import render_docs, render_metric_list


def _metrics_doc(current: str) -> str:
    return render_docs()


def _readme(current: str) -> str:
    """The README's list of metric names, between ``<!-- generated:metrics -->`` and its end marker."""
    block = re.compile(r"(<!-- generated:metrics -->\n)(.*?)(<!-- /generated:metrics -->)", re.S)
    if not block.search(current):
        raise ValueError("README.md has no <!-- generated:metrics --> block")
    return block.sub(lambda m: m.group(1) + render_metric_list() + m.group(3), current)


def _report_doc(current: str) -> str:
    return update(current)


def _parsing_doc(current: str) -> str:
    """docs/parsing.md's lexicon, between ``<!-- generated:lexicon -->`` and its end marker."""
    block = re.compile(r"(<!-- generated:lexicon -->\n)(.*?)(<!-- /generated:lexicon -->)", re.S)
    if not block.search(current):
        raise ValueError("docs/parsing.md has no <!-- generated:lexicon --> block")
    return block.sub(lambda m: m.group(1) + render_lexicon() + m.group(3), current)


#: File (relative to the repository) -> its expected text, from its current text.
GENERATED: dict[str, Callable[[str], str]] = {
    "docs/metrics.md": _metrics_doc,
    "README.md": _readme,
    "docs/report.md": _report_doc,
    "docs/parsing.md": _parsing_doc,
}


def expected(root: Path, target: str) -> tuple[str, str]:
    """(what ``target`` holds now, what it should hold)."""
    current = (root / target).read_text(encoding="utf-8")
    return current, GENERATED[target](current)


def write(root: Path | str = ".") -> list[str]:
    """Rewrite every generated document under ``root``; returns the files that changed."""
    changed = []
    for target in GENERATED:
        current, text = expected(Path(root), target)
        if current != text:
            (Path(root) / target).write_text(text, encoding="utf-8")
            changed.append(target)
    return changed


if __name__ == "__main__":
    for f in write():
        print(f"written: {f}")
