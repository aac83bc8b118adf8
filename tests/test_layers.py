"""The library never reaches up into the command line: ``tag_bench._cli`` imports the library, not the
other way round (only ``python -m tag_bench`` starts it)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tag_bench"


def test_no_library_module_imports_the_command_line():
    cli = re.compile(r"tag_bench\._cli\b|from tag_bench import _cli\b")
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{i}"
        for path in PACKAGE.rglob("*.py")
        if "_cli" not in path.relative_to(PACKAGE).parts and path.name != "__main__.py"
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if cli.search(line)
    ]
    assert offenders == []
