"""Model identity for fingerprints: a hub id resolved to its cached commit, or a local folder's digest.

Shared by the ``hf`` and ``vllm`` adapters; a fingerprint must change whenever the weights do.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_HUB_ID_RE = re.compile(r"^[\w.\-]+(/[\w.\-]+)?$")  # name or org/name
_SMALL_SUFFIXES = (".json", ".jinja", ".txt", ".model", ".py", ".tiktoken", ".yaml")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".msgpack", ".h5")
_SAMPLES_PER_FILE = 16
_SAMPLE_BYTES = 1 << 16


def check_checkpoint(pretrained: str) -> str:
    """``pretrained`` as given; a ValueError when it reads as a local path that does not exist.

    A local path starts with ``/``, ``./``, ``../`` or ``~``, or has a separator and is no hub id
    (``org/name``); without this check Hugging Face answers with an error about repo ids.
    """
    local = pretrained.startswith(("/", "./", "../", "~")) or (
        (os.sep in pretrained or "/" in pretrained) and not _HUB_ID_RE.match(pretrained)
    )
    path = Path(pretrained).expanduser()
    if local and not path.exists():
        raise ValueError(
            f"the local path {pretrained!r} does not exist ({path.absolute()}); check it, or give a hub id "
            "(org/name, e.g. Qwen/Qwen2.5-VL-7B-Instruct)"
        )
    return pretrained


def model_identity(pretrained: str, revision: str | None, commit: str | None = None) -> dict[str, Any]:
    """What the checkpoint is, independent of where it lies on disk.

    A local directory is identified by its contents (:func:`local_dir_digest`); a hub id by the
    commit its revision resolved to (``commit``, else looked up in the local HF cache), else by the id
    and revision as given.
    """
    path = Path(pretrained).expanduser()
    if path.is_dir():
        return {"kind": "local", "digest": local_dir_digest(str(path.resolve()))}
    if commit is None or not _COMMIT_RE.match(commit):
        commit = cached_commit(pretrained, revision)
    return {"kind": "hub", "id": pretrained, "revision": revision, "commit": commit}


def cached_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit ``revision`` of ``repo_id`` resolves to in the local HF cache, or None."""
    if revision and _COMMIT_RE.match(revision):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    except Exception:  # an invalid repo id or an unreadable cache: no commit known
        return None
    if isinstance(found, str) and _COMMIT_RE.match(Path(found).parent.name):
        return Path(found).parent.name
    return None


def local_dir_digest(path: str) -> str:
    """Content digest of a checkpoint directory (per-file results cached by size and mtime).

    Small files (configs, tokenizer, chat template) are hashed whole. Weight files contribute their
    path, size, full safetensors header (tensor names, dtypes, shapes, offsets, metadata) and 16
    evenly spaced 64 KiB samples of their data: two fine-tunes of one architecture share headers and
    sizes but not weights, while hashing every byte of a 15 GB checkpoint would take minutes. The
    directory's own location is not part of it, so a moved checkpoint keeps its cache.
    """
    root = Path(path)
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel_parts = f.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts):
            continue  # .cache/, .git/ and friends
        suffix = f.suffix.lower()
        if suffix not in _SMALL_SUFFIXES and suffix not in _WEIGHT_SUFFIXES:
            continue
        st = f.stat()
        h.update("/".join(rel_parts).encode() + b"\0")
        h.update(_file_digest(str(f), st.st_size, st.st_mtime_ns, suffix in _WEIGHT_SUFFIXES).encode())
    return h.hexdigest()


@lru_cache(maxsize=4096)
def _file_digest(path: str, size: int, mtime_ns: int, sampled: bool) -> str:
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        if not sampled:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
            return h.hexdigest()
        start = 0
        if path.endswith(".safetensors") and size >= 8:
            n = int.from_bytes(fh.read(8), "little")
            if 0 < n <= size - 8:
                h.update(fh.read(n))
                start = 8 + n
        span = size - start
        if span <= _SAMPLES_PER_FILE * _SAMPLE_BYTES:
            fh.seek(start)
            h.update(fh.read(span))
        else:
            step = (span - _SAMPLE_BYTES) // (_SAMPLES_PER_FILE - 1)
            for i in range(_SAMPLES_PER_FILE):
                fh.seek(start + i * step)
                h.update(fh.read(_SAMPLE_BYTES))
    return h.hexdigest()
