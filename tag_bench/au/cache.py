"""SQLite cache of AU references, so a benchmark pays for detection once.

Key: (image sha256, detector reference id, version, parameters hash). The default file is
``$TAG_BENCH_CACHE/au_cache.sqlite``, else ``~/.cache/tag-bench/au_cache.sqlite``. Several processes
may write to one file: the database runs in WAL mode with a busy timeout, and writes are retried
on ``database is locked``. Records with status ``error`` are not cached (the cause may be fixed,
e.g. a missing weight file); ``ok`` and ``no_face`` are.

The cache only saves repeated work: a file that is not a readable SQLite database (truncated, garbage)
never stops a run. ``open_au_cache`` returns None for a file that cannot be opened, and a file found
damaged later is reported once in ``AUCache.problems`` and then left alone (every lookup misses,
nothing is stored); the message names the file and how to move it aside. The file is never moved or
deleted by tag-bench.

Rows hold a compact form of the record: only what differs per image (status, message, sizes, boxes,
landmarks, and per AU its state fields) as ``marshal`` bytes; the fields
that name the source (reference id, detector, version, parameters, threshold, model hash) come from
the detector of the lookup, which the key already pins. A hit is rebuilt without re-validation
(the record was validated when it was made): that is what makes a cached pass over 1,000s of images
cost milliseconds (``bench/au_bench.py``).
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tag_bench._forkmap import fork_chunks
from tag_bench.au.base import AUDetector, as_rgb_array, params_hash
from tag_bench.images import ImageLoadError, image_sha256, image_sha256s, open_image
from tag_bench.schema import SCHEMA_VERSION, AUReference, AUState, Sample
from tag_bench.store import cache_dir, unusable_cache_message

CACHE_FILE = "au_cache.sqlite"
#: marshal's format 4 has been stable since Python 3.4; a row it cannot read counts as a miss.
MARSHAL_VERSION = 4
#: Rows of the compact form live in their own table; rows of older tag-bench versions (``au_refs``,
#: full JSON records) are left alone and simply not read.
_TABLE = "au_refs_compact_v1"
#: What a row that cannot be decoded (another Python's marshal, a damaged file) raises.
_DECODE_ERRORS = (ValueError, EOFError, TypeError)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    image_sha256 TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    version TEXT NOT NULL,
    params_hash TEXT NOT NULL,
    record BLOB NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (image_sha256, reference_id, version, params_hash)
)
"""


def compact(ref: AUReference) -> bytes:
    """The per-image part of a record (see the module docstring), as ``marshal`` bytes: it decodes
    straight into the record's own containers (tuples, dicts of state fields), 3x faster than JSON."""
    return marshal.dumps(
        (
            ref.status,
            ref.message,
            ref.image_size,
            ref.face_box,
            ref.landmarks,
            {au: s.model_dump() for au, s in ref.aus.items()},
        ),
        MARSHAL_VERSION,
    )


_STATE_FIELDS = frozenset(AUState.model_fields)


def _new_state(values: dict[str, Any]) -> AUState:
    """``AUState.model_construct(**values)`` for a full set of field values, at a fifth of the cost
    (a cached pass builds ~25 states per image). Checked against ``model_construct`` at import."""
    state = AUState.__new__(AUState)
    object.__setattr__(state, "__dict__", values)
    object.__setattr__(state, "__pydantic_fields_set__", set(_STATE_FIELDS))
    object.__setattr__(state, "__pydantic_extra__", None)
    object.__setattr__(state, "__pydantic_private__", None)
    return state


def _check_new_state() -> None:
    values: dict[str, Any] = {
        "score": 0.5,
        "active": True,
        "box": [0.0, 0.0, 1.0, 1.0],
        "boxes": [],
        "source": "s",
        "threshold": 0.5,
    }
    if set(values) != _STATE_FIELDS:
        raise AssertionError(
            f"AUState fields changed ({sorted(_STATE_FIELDS)}): update the AU cache's compact form"
        )
    a, b = _new_state(dict(values)), AUState.model_construct(**values)
    if a != b or a.model_dump() != b.model_dump() or a.model_fields_set != b.model_fields_set:
        raise AssertionError(
            "pydantic's model layout changed: the AU cache's fast state constructor needs updating"
        )


_check_new_state()


def detector_header(detector: AUDetector) -> dict[str, Any]:
    """The record fields that name the source, as ``detector`` stamps them."""
    return {
        "schema_version": SCHEMA_VERSION,
        "reference_id": detector.reference_id,
        "detector": detector.name,
        "version": detector.version,
        "params": detector.params,
        "threshold": detector.threshold,
        "model_sha256": getattr(detector, "model_sha256", None),
    }


def expand(
    record: bytes,
    header: dict[str, Any],
    image_sha256: str | None = None,
    sample_id: str | None = None,
) -> AUReference:
    """The AUReference of a compact row with the source fields of ``header`` (``detector_header``),
    built without re-validation."""
    status, message, size, face_box, landmarks, aus = marshal.loads(record)
    new_state = _new_state
    states = {au: new_state(values) for au, values in aus.items()}
    return AUReference.model_construct(
        **header,
        status=status,
        message=message,
        sample_id=sample_id,
        image_sha256=image_sha256,
        image_size=size,
        face_box=face_box,
        landmarks=landmarks,
        aus=states,
    )


def default_cache_path() -> Path:
    return cache_dir() / CACHE_FILE


def array_sha256(rgb: np.ndarray) -> str:
    """Content id of decoded pixels (for images given as arrays, without a file)."""
    import hashlib

    h = hashlib.sha256(f"{rgb.shape}|{rgb.dtype}|".encode())
    h.update(np.ascontiguousarray(rgb).tobytes())
    return h.hexdigest()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Decoding thousands of records allocates many small containers (no cycles), and the full-heap
    passes of the cyclic GC they trigger made bulk reads 2-4x slower (measured). Meanwhile, the
    existing heap is frozen (left out of collections), so only the new objects are scanned."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def open_au_cache(path: str | Path | None, warnings: list[str]) -> AUCache | None:
    """The AU cache, or None when its file cannot be opened (the reason goes to ``warnings``)."""
    try:
        return AUCache(path)
    except (sqlite3.DatabaseError, OSError) as e:
        if isinstance(e, sqlite3.OperationalError) and _is_lock_error(e):
            raise
        warnings.append(unusable_cache_message(path or default_cache_path(), e))
        return None


def _is_lock_error(e: sqlite3.Error) -> bool:
    return "locked" in str(e) or "busy" in str(e)


class AUCache:
    """A SQLite file of AU references; safe to share between threads and processes.

    Opening a file that is not a SQLite database raises ``sqlite3.DatabaseError`` (use
    ``open_au_cache``); damage found later makes it ``broken`` (see the module docstring).
    """

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 60.0):
        self.path = Path(path) if path is not None else default_cache_path()
        self.timeout_s = float(timeout_s)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.hits = 0
        self.misses = 0
        self.broken = False
        self.problems: list[str] = []  # what went wrong with the file, for the user
        self._dkeys: dict[int, tuple[AUDetector, tuple[str, str, str], dict[str, Any]]] = {}
        self._retry(lambda c: c.execute(_SCHEMA))

    def _guarded(self, fn: Any, default: Any) -> Any:
        """``fn(conn)`` with lock retries; a damaged file makes the cache ``broken`` and gives ``default``."""
        if self.broken:
            return default
        try:
            return self._retry(fn)
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and _is_lock_error(e):
                raise
            self.broken = True
            self.problems.append(unusable_cache_message(self.path, e))
            return default

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(str(self.path), timeout=self.timeout_s, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            self._retry_raw(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def _retry_raw(self, fn: Any) -> Any:
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _is_lock_error(e):
                    raise
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError(
                        f"{self.path}: still locked after {self.timeout_s:.0f}s"
                    ) from e
                time.sleep(0.01 + random.random() * 0.05)

    def _retry(self, fn: Any) -> Any:
        return self._retry_raw(lambda: fn(self._conn()))

    def _memo(self, detector: AUDetector) -> tuple[AUDetector, tuple[str, str, str], dict[str, Any]]:
        # Parameters do not change after construction: hash them once per detector object.
        memo = self._dkeys.get(id(detector))
        if memo is None or memo[0] is not detector:
            header = detector_header(detector)
            key = (detector.reference_id, detector.version, params_hash(header["params"]))
            memo = (detector, key, header)
            self._dkeys[id(detector)] = memo
        return memo

    def _detector_key(self, detector: AUDetector) -> tuple[str, str, str]:
        return self._memo(detector)[1]

    def key(self, image_sha256: str, detector: AUDetector) -> tuple[str, str, str, str]:
        return (image_sha256, *self._detector_key(detector))

    def get(
        self, image_sha256: str, detector: AUDetector, sample_id: str | None = None
    ) -> AUReference | None:
        """The cached reference of an image, carrying ``image_sha256`` and ``sample_id``."""
        row = self._guarded(
            lambda c: c.execute(
                f"SELECT record FROM {_TABLE} WHERE image_sha256=? AND reference_id=? AND version=? "
                "AND params_hash=?",
                self.key(image_sha256, detector),
            ).fetchone(),
            None,
        )
        if row is None:
            self.misses += 1
            return None
        try:
            ref = expand(row[0], self._memo(detector)[2], image_sha256, sample_id)
        except _DECODE_ERRORS:
            self.misses += 1
            return None
        self.hits += 1
        return ref

    def get_many(
        self, shas: Iterable[str], detector: AUDetector, *, count: bool = True
    ) -> dict[str, AUReference]:
        """Cached references of many images at once (missing ones are absent from the result).
        ``count=False``: a read of records already counted by :meth:`present`."""
        wanted = list(dict.fromkeys(shas))
        _, dkey, header = self._memo(detector)
        out: dict[str, AUReference] = {}
        with _gc_paused():
            for sha, record in self._select("image_sha256, record", wanted, dkey):
                with contextlib.suppress(*_DECODE_ERRORS):
                    out[sha] = expand(record, header, sha)
        if count:
            self.hits += len(out)
            self.misses += len(wanted) - len(out)
        return out

    def present(self, shas: Iterable[str], detector: AUDetector) -> set[str]:
        """The images among ``shas`` that have a record of ``detector`` (nothing is decoded; counted
        as the hits and misses of a lookup)."""
        wanted = list(dict.fromkeys(shas))
        found = {row[0] for row in self._select("image_sha256", wanted, self._detector_key(detector))}
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        return found

    def _select(self, columns: str, shas: list[str], dkey: tuple[str, str, str]) -> Iterator[tuple[Any, ...]]:
        """``columns`` of the rows of ``shas`` under detector key ``dkey``, one query per 500 images."""
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            marks = ",".join("?" * len(chunk))
            yield from self._guarded(
                lambda c, chunk=chunk, marks=marks: c.execute(
                    f"SELECT {columns} FROM {_TABLE} WHERE reference_id=? AND version=? "
                    f"AND params_hash=? AND image_sha256 IN ({marks})",
                    (*dkey, *chunk),
                ).fetchall(),
                [],
            )

    def put(self, image_sha256: str, detector: AUDetector, ref: AUReference) -> None:
        if ref.status == "error":
            return
        record = compact(ref)
        self._guarded(
            lambda c: c.execute(
                f"INSERT OR REPLACE INTO {_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                (*self.key(image_sha256, detector), record, time.time()),
            ),
            None,
        )

    def __len__(self) -> int:
        return int(self._guarded(lambda c: c.execute(f"SELECT COUNT(*) FROM {_TABLE}").fetchone()[0], 0))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class CachedDetector:
    """An AUDetector served from an AUCache; computes and stores on a miss.

    Identical images (same sha256) share one entry; the returned record carries the caller's
    ``sample_id`` and ``image_sha256``.
    """

    def __init__(self, detector: AUDetector, cache: AUCache | str | Path | None = None):
        self.detector = detector
        self.cache = cache if isinstance(cache, AUCache) else AUCache(cache)
        self.calls = 0  # detector calls (cache misses that ran the detector)

    @property
    def name(self) -> str:
        return self.detector.name

    @property
    def version(self) -> str:
        return self.detector.version

    @property
    def region_rule(self) -> str:
        return self.detector.region_rule

    @property
    def threshold(self) -> float | None:
        return self.detector.threshold

    @property
    def reference_id(self) -> str:
        return self.detector.reference_id

    @property
    def params(self) -> dict[str, Any]:
        return self.detector.params

    def detect(
        self, image: Any, *, image_sha256: str | None = None, sample_id: str | None = None
    ) -> AUReference:
        if image_sha256 is None:
            try:
                image = as_rgb_array(image)
            except Exception:
                return self.detector.detect(image, sample_id=sample_id)  # records the error
            image_sha256 = array_sha256(image)
        hit = self.cache.get(image_sha256, self.detector, sample_id)
        if hit is not None:
            return hit
        self.calls += 1
        ref = self.detector.detect(image, image_sha256=image_sha256, sample_id=sample_id)
        self.cache.put(image_sha256, self.detector, ref)
        return ref


def detect_cached(detector: AUDetector, sample: Sample, cache: AUCache | None) -> AUReference:
    """The AU reference of a sample's presented image, from ``cache`` when present.

    An unreadable image gives a reference with status ``error`` naming the problem.
    """
    try:
        sha = image_sha256(sample)
    except (ImageLoadError, OSError) as e:
        return _error(detector, sample, f"unreadable image: {e}")
    if cache is not None:
        hit = cache.get(sha, detector, sample.id)
        if hit is not None:
            return hit
    return _compute(detector, sample, sha, cache)


def _image_ids(detector: AUDetector, items: list[Sample]) -> tuple[dict[str, str], dict[str, AUReference]]:
    """Each sample's image id (:func:`~tag_bench.images.image_sha256s`), and the error record of each
    sample whose image cannot be read."""
    shas: dict[str, str] = {}
    unreadable: dict[str, AUReference] = {}
    for s, got in zip(items, image_sha256s(items), strict=True):
        if isinstance(got, ImageLoadError):
            unreadable[s.id] = _error(detector, s, f"unreadable image: {got}")
        else:
            shas[s.id] = got
    return shas, unreadable


def detect_cached_many(
    detector: AUDetector, samples: Iterable[Sample], cache: AUCache | None, *, progress: bool = False
) -> dict[str, AUReference]:
    """``detect_cached`` for many samples, with one cache query per 500 images."""
    items = list(samples)
    shas, out = _image_ids(detector, items)
    known = cache.get_many(shas.values(), detector) if cache is not None else {}
    it: Iterable[Sample] = items
    if progress:
        from tqdm import tqdm

        it = tqdm(items, desc=f"AU reference {detector.reference_id}", unit="img")
    for s in it:
        if s.id in out:
            continue
        sha = shas[s.id]
        hit = known.get(sha)
        if hit is not None:
            if hit.sample_id is None:  # first sample with these pixels: the record is its own
                hit.sample_id = s.id
                out[s.id] = hit
            else:
                out[s.id] = hit.model_copy(update={"sample_id": s.id})
            continue
        ref = _compute(detector, s, sha, cache)
        if ref.status != "error":
            known[sha] = ref  # a second sample with the same pixels in this batch
        out[s.id] = ref
    return {s.id: out[s.id] for s in items}


class CachedReferences(Mapping[str, AUReference]):
    """The references of some samples, in their order, read from the AU cache when asked for
    (:meth:`get_many`), so that a large run's references are never all held at once. Records the
    cache does not keep (status ``error``; any record once the cache is found damaged) are held.
    Made by :func:`cached_references`."""

    def __init__(
        self,
        detector: AUDetector,
        cache: AUCache,
        order: list[str],
        shas: dict[str, str],
        held: dict[str, AUReference],
    ):
        self.detector, self.cache = detector, cache
        self._order, self._shas, self._held = order, shas, held

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self._held or sample_id in self._shas

    def __getitem__(self, sample_id: str) -> AUReference:
        if sample_id not in self:
            raise KeyError(sample_id)
        return self.get_many([sample_id])[sample_id]

    def get_many(self, sample_ids: Iterable[str]) -> dict[str, AUReference]:
        """The records of ``sample_ids`` (those of this set), one cache query per 500 images."""
        ids = [i for i in sample_ids if i in self]
        held, shas = self._held, self._shas
        found = self.cache.get_many([shas[i] for i in ids if i not in held], self.detector, count=False)
        out: dict[str, AUReference] = {}
        for i in ids:
            ref = held.get(i)
            if ref is None:
                ref = found.get(shas[i])
                if ref is None:  # the row went away (the file was damaged or edited meanwhile)
                    problem = "; ".join(self.cache.problems) or "its record is no longer there"
                    raise RuntimeError(
                        f"the AU cache {self.cache.path} lost the reference of sample {i!r} while the run "
                        f"was scored ({problem}); score the run again"
                    )
                if ref.sample_id is None:  # first sample with these pixels: the record is its own
                    ref.sample_id = i
                else:
                    ref = ref.model_copy(update={"sample_id": i})
            out[i] = ref
        return out

    def get_many_with_lines(self, sample_ids: Iterable[str]) -> tuple[dict[str, AUReference], list[str]]:
        """:meth:`get_many`, and the lines :meth:`records` writes for those samples, in their order."""
        got = self.get_many(sample_ids)
        return got, [ref.model_dump_json() for ref in got.values()]

    def records(self) -> Iterator[str]:
        """Each sample's record as a JSON line, in sample order (for ``au_references.jsonl``); read a
        block at a time, and from :data:`ENCODE_IN_WORKERS_FROM` samples encoded in forked processes."""
        order = self._order

        def encode(start: int, stop: int) -> list[str]:
            lines: list[str] = []
            for k in range(start, stop, 500):
                block = order[k : min(k + 500, stop)]
                got = self.get_many(block)
                lines += [got[i].model_dump_json() for i in block]
            return lines

        for chunk in fork_chunks(encode, len(order), min_items=ENCODE_IN_WORKERS_FROM):
            yield from chunk


#: runs of this many samples or more have their references' JSON lines made in forked processes
ENCODE_IN_WORKERS_FROM = 20_000


def cached_references(
    detector: AUDetector, samples: Iterable[Sample], cache: AUCache, *, progress: bool = False
) -> CachedReferences:
    """What :func:`detect_cached_many` gives, with the records left in the cache: images it lacks
    are detected and stored first, then each record is read when asked for."""
    items = list(samples)
    shas, held = _image_ids(detector, items)
    present = cache.present(shas.values(), detector)
    it: Iterable[Sample] = items
    if progress:
        from tqdm import tqdm

        it = tqdm(items, desc=f"AU reference {detector.reference_id}", unit="img")
    for s in it:
        sha = shas.get(s.id)
        if sha is None or sha in present:
            continue
        ref = _compute(detector, s, sha, cache)
        if ref.status == "error" or cache.broken:  # not kept by the cache: held here
            held[s.id] = ref
            shas.pop(s.id)
        else:
            present.add(sha)  # a second sample with the same pixels reads it from the cache
    return CachedReferences(detector, cache, [s.id for s in items], shas, held)


def _compute(detector: AUDetector, sample: Sample, sha: str, cache: AUCache | None) -> AUReference:
    try:
        img = open_image(sample)
    except (ImageLoadError, OSError) as e:
        return _error(detector, sample, f"unreadable image: {e}", sha)
    ref = detector.detect(img, image_sha256=sha, sample_id=sample.id)
    if cache is not None:
        cache.put(sha, detector, ref)
    return ref


def _error(detector: AUDetector, sample: Sample, message: str, sha: str | None = None) -> AUReference:
    return AUReference(
        reference_id=detector.reference_id,
        detector=detector.name,
        version=detector.version,
        params=detector.params,
        threshold=detector.threshold,
        model_sha256=getattr(detector, "model_sha256", None),
        status="error",
        message=message,
        sample_id=sample.id,
        image_sha256=sha,
    )
