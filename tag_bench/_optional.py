"""Lazy imports of optional heavy dependencies, failing with the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from tag_bench.errors import TagBenchError


class MissingExtraError(TagBenchError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise MissingExtraError telling the user ``pip install 'tag-bench[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{purpose} needs the Python package '{module.split('.')[0]}', which is not installed "
            f"(or failed to import: {e}). Install it with: pip install 'tag-bench[{extra}]'"
        ) from e
