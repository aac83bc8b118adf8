"""A columnar copy of a run's scored samples as metric arrays, beside the ``samples.jsonl`` it mirrors.

``samples.jsonl`` stays the contract: every reader can rebuild the arrays from it. Reading a million
JSON records (and validating them) takes far longer than the comparison that follows, so scoring also
writes the arrays :func:`~tag_bench.scoring.aggregate.build_arrays` would make from the file
(``samples.arrays.npz``, numpy only). The copy records the sha256 of the ``samples.jsonl`` it was made
from, the scoring version, the feature fields, the classes and the AU reference; a reader uses it only
when all of them match, so it can never serve numbers of another file: a re-scored, edited or
replaced ``samples.jsonl`` makes it ignored (and the next scoring rewrites it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tag_bench._hashing import file_sha256
from tag_bench.scoring.aggregate import ScoreArrays
from tag_bench.scoring.features import SUM_FIELDS
from tag_bench.scoring.version import SCORING_VERSION

#: The file beside ``samples.jsonl``.
SIDECAR_NAME = "samples.arrays.npz"
#: Layout of the file; a reader ignores any other.
FORMAT = 1
#: Runs at least this large get the copy; smaller ones are read from the JSONL fast enough.
MIN_SAMPLES = 20_000


def sidecar_path(samples_path: str | os.PathLike[str]) -> Path:
    return Path(samples_path).with_name(SIDECAR_NAME)


def _meta(samples_sha256: str, classes: Sequence[str], au_reference: str | None) -> dict[str, object]:
    return {
        "format": FORMAT,
        "samples_sha256": samples_sha256,
        "scoring_version": SCORING_VERSION,
        "fields": list(SUM_FIELDS),
        "classes": list(classes),
        "au_reference": au_reference,
    }


def update_sidecar(samples_path: str | os.PathLike[str], arrays: ScoreArrays) -> Path | None:
    """Write the arrays of ``samples_path`` (made from exactly that file's records) beside it when the run
    has :data:`MIN_SAMPLES` samples or more; else remove any copy of an earlier scoring."""
    if arrays.n < MIN_SAMPLES:
        sidecar_path(samples_path).unlink(missing_ok=True)
        return None
    return write_sidecar(samples_path, arrays)


def write_sidecar(samples_path: str | os.PathLike[str], arrays: ScoreArrays) -> Path:
    """Write the arrays of ``samples_path`` (made from exactly that file's records) beside it."""
    meta = _meta(file_sha256(samples_path), arrays.classes, arrays.au_reference)
    meta["reference_status_counts"] = arrays.reference_status_counts
    meta["note_counts"] = arrays.note_counts
    path = sidecar_path(samples_path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez(
            f,
            meta=np.array(json.dumps(meta)),
            ids=np.array(json.dumps(arrays.sample_ids)),
            gold=arrays.gold,
            pred=arrays.pred,
            status=arrays.status,
            rows=arrays.rows,
        )
    os.replace(tmp, path)
    return path


def read_sidecar(
    samples_path: str | os.PathLike[str], classes: Sequence[str], au_reference_id: str | None
) -> ScoreArrays | None:
    """The arrays of ``samples_path`` from its sidecar, or None when there is none or it does not match
    the file (its sha256), this version of the scorer, the classes or the AU reference asked for."""
    path = sidecar_path(samples_path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != FORMAT:
                return None
            want = _meta(meta.get("samples_sha256", ""), classes, au_reference_id)
            if any(meta.get(k) != v for k, v in want.items()):
                return None
            if meta["samples_sha256"] != file_sha256(samples_path):
                return None
            return ScoreArrays(
                classes=tuple(classes),
                au_reference=au_reference_id,
                sample_ids=json.loads(str(z["ids"])),
                gold=z["gold"],
                pred=z["pred"],
                status=z["status"],
                rows=z["rows"],
                reference_status_counts=dict(meta["reference_status_counts"]),
                note_counts=dict(meta["note_counts"]),
            )
    except (OSError, ValueError, KeyError):  # unreadable or foreign: the JSONL is always there
        return None
