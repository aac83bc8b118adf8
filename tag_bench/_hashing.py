"""The one hashing helper: sha256, hex, optionally shortened.

Short forms are for identities shown to people and used as keys (fingerprints, cache keys, prompt
hashes); their length is part of what is stored, so each caller states it.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def sha256_hex(data: bytes | str, length: int | None = None) -> str:
    """sha256 of bytes (or UTF-8 text), hex, cut to ``length`` characters when given."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    digest = hashlib.sha256(raw).hexdigest()
    return digest[:length] if length else digest


def stable_hash(obj: Any, length: int | None = None) -> str:
    """sha256 of a JSON-able object in a canonical form (sorted keys; other objects via ``str``)."""
    return sha256_hex(json.dumps(obj, sort_keys=True, default=str), length)


def file_sha256(path: str | os.PathLike[str], length: int | None = None) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    return digest[:length] if length else digest
