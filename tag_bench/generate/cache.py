"""SQLite cache of model generations, so no generation is paid for twice.

The key covers everything that changes an output: the model fingerprint, the rendered prompt, the
image content, the generation kwargs and the declared box frame. Peer harnesses that left the model
out of the key served one model's answers for another; this one cannot.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from tag_bench._hashing import sha256_hex
from tag_bench.store import cache_dir, unusable_cache_message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    record TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def generation_key(
    *,
    model_fingerprint: str,
    prompt_hash: str,
    image_sha256: str,
    gen_kwargs: dict[str, Any],
    frame: str | None,
) -> str:
    blob = json.dumps(
        {
            "model": model_fingerprint,
            "prompt": prompt_hash,
            "image": image_sha256,
            "gen": gen_kwargs,
            "frame": frame,
        },
        sort_keys=True,
        default=str,
    )
    return sha256_hex(blob)


def is_deterministic(gen_kwargs: dict[str, Any]) -> bool:
    """Greedy decoding, or sampling with a fixed seed: the same inputs give the same output."""
    sampled = bool(gen_kwargs.get("do_sample")) or float(gen_kwargs.get("temperature") or 0) > 0
    return not sampled or gen_kwargs.get("seed") is not None


def open_cache(path: str | os.PathLike[str] | None, warnings: list[str]) -> GenerationCache | None:
    """The generation cache, or None when it cannot be read (the reason goes to ``warnings``)."""
    try:
        return GenerationCache(path)
    except sqlite3.DatabaseError as e:
        warnings.append(unusable_cache_message(path or cache_dir() / "generations.sqlite", e))
        return None


class GenerationCache:
    """Key -> generation fields. Safe for several processes (WAL, busy timeout).

    A file that turns out to be unreadable part-way is reported once and then left alone: lookups
    miss and nothing is stored, so the run goes on without the cache.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path else cache_dir() / "generations.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.broken = False
        self.problems: list[str] = []  # what went wrong with the file, for the user
        with self._conn() as c:
            c.execute(_SCHEMA)

    def _give_up(self, error: sqlite3.DatabaseError) -> None:
        if not self.broken:
            self.broken = True
            self.problems.append(unusable_cache_message(self.path, error))

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if self.broken:
            return out
        try:
            conn = self._conn()
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                q = f"SELECT key, record FROM generations WHERE key IN ({','.join('?' * len(chunk))})"
                for key, record in conn.execute(q, chunk):
                    out[key] = json.loads(record)
        except sqlite3.DatabaseError as e:
            if isinstance(e, sqlite3.OperationalError) and "locked" in str(e):
                raise
            self._give_up(e)
            return {}
        return out

    def put_many(self, items: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Store (key, model fingerprint, record) triples."""
        if not items:
            return
        if self.broken:
            return
        now = time.time()
        rows = [(k, m, json.dumps(r, sort_keys=True), now) for k, m, r in items]
        for attempt in range(5):
            try:
                conn = self._conn()
                with conn:
                    conn.executemany("INSERT OR REPLACE INTO generations VALUES (?, ?, ?, ?)", rows)
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    self._give_up(e)
                    return
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
            except sqlite3.DatabaseError as e:
                self._give_up(e)
                return

    def __len__(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM generations").fetchone()[0]
