"""Documents generated from the code: ``make docs`` writes them, ``tests/test_docs.py`` keeps them in step.

A whole file is generated, or the part of a hand-written file between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path


def _metrics_doc() -> str:
    from tag_bench.scoring.metric_table import render_docs

    return render_docs()


def _metric_list() -> str:
    from tag_bench.scoring.metric_table import render_metric_list

    return render_metric_list()


#: file (relative to the repository) -> generated text; ``FILE#NAME`` for a marked block of FILE.
GENERATED: dict[str, Callable[[], str]] = {
    "docs/metrics.md": _metrics_doc,
    "README.md#metrics": _metric_list,
}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated:{name} -->\n)(.*?)(<!-- /generated:{name} -->)", re.S)


def expected(root: Path, target: str) -> tuple[str, str]:
    """(what the file holds now, what it should hold) for one entry of :data:`GENERATED`."""
    path, _, name = target.partition("#")
    current = (root / path).read_text(encoding="utf-8")
    text = GENERATED[target]()
    if not name:
        return current, text
    pattern = _block(name)
    if not pattern.search(current):
        raise ValueError(f"{path} has no <!-- generated:{name} --> block")
    return current, pattern.sub(lambda m: m.group(1) + text + m.group(3), current)


def write(root: Path | str = ".") -> list[str]:
    """Rewrite every generated document under ``root``; returns the files that changed."""
    changed = []
    for target in GENERATED:
        current, text = expected(Path(root), target)
        if current != text:
            path = Path(root) / target.partition("#")[0]
            path.write_text(text, encoding="utf-8")
            changed.append(str(path))
    return changed


if __name__ == "__main__":
    for f in write():
        print(f"written: {f}")
