"""Image files' sha256 and header size, remembered across runs by the files' stat data.

Every run reads each image file whole to learn its id (the sha256 of its bytes) and its size. Scoring
another checkpoint on the same dataset, or re-scoring a run, would read them all again: seconds for
200,000 files on a local disk, minutes on a network file system. The values are kept in
``$TAG_BENCH_CACHE/file_ids.sqlite`` (else ``~/.cache/tag-bench/``), keyed by the file's device and
inode and valid only while its size, mtime and ctime are those it had when it was read, as git's index
does: any write to a file sets its ctime, which no tool can set back, so a changed file is read again.

A file whose mtime or ctime is within :data:`SETTLE_S` of the moment it was read is not remembered:
a second write within the same timestamp tick would leave its stat data unchanged. An id that no run
has used for :data:`KEEP_DAYS` days is forgotten (deleted files leave their rows behind otherwise).
Like every cache here this one only saves work: a file that cannot be opened or read makes every lookup
miss and nothing is stored.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from tag_bench.store import cache_dir

FILE_NAME = "file_ids.sqlite"
#: seconds a file must have been left alone before it was read for its id to be remembered
SETTLE_S = 2.0
#: days after which an id that no run looked up or stored is deleted
KEEP_DAYS = 90
#: a lookup marks an id used again once its mark is this many days old (not at every hit: a write each)
REFRESH_DAYS = 7
_TABLE = "file_ids_v2"
_OLD_TABLE = "file_ids_v1"  # v2 added `used`; v1 rows are carried over, used today
# ``used``: the day (days since 1970) a run last stored or looked up the id
_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
    dev INTEGER NOT NULL, ino INTEGER NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, width INTEGER, height INTEGER, used INTEGER NOT NULL,
    PRIMARY KEY (dev, ino)
)""",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_used ON {_TABLE} (used)",
)


def today() -> int:
    """Days since 1970 (UTC): the unit of ``used``."""
    return int(time.time() // 86400)


#: what identifies one version of a file: (device, inode, size, mtime_ns, ctime_ns). Plain tuples, not
#: named ones: a run's workers send back hundreds of thousands, and a named tuple pickles 3x slower.
Stat = tuple[int, int, int, int, int]
#: a file's sha256, and its image size (w, h) when its header was read
FileId = tuple[str, "tuple[int, int] | None"]


def stat_of(st: os.stat_result) -> Stat:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


# A read that did not open the image's header (its size was known) leaves the size of the same bytes.
_UPSERT = f"""
INSERT INTO {_TABLE} VALUES (?,?,?,?,?,?,?,?,?)
ON CONFLICT (dev, ino) DO UPDATE SET
    size=excluded.size, mtime_ns=excluded.mtime_ns, ctime_ns=excluded.ctime_ns, sha256=excluded.sha256,
    used=excluded.used,
    width=CASE WHEN excluded.width IS NULL AND sha256=excluded.sha256 THEN width ELSE excluded.width END,
    height=CASE WHEN excluded.width IS NULL AND sha256=excluded.sha256 THEN height ELSE excluded.height END
"""


class FileIds:
    """The remembered ids of a SQLite file; every failure of the file is a miss (see the module)."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else cache_dir() / FILE_NAME
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                self._conn.execute(statement)
            _carry_over(self._conn)
        except (sqlite3.Error, OSError):
            self.close()

    def lookup(self, stats: list[Stat]) -> list[FileId | None]:
        """The remembered id of each file version, or None."""
        found: dict[tuple[int, int], tuple] = {}
        by_dev: dict[int, list[int]] = {}
        for st in stats:
            by_dev.setdefault(st[0], []).append(st[1])
        for dev, inodes in by_dev.items():
            for chunk in _chunks(inodes):
                rows = self._query(
                    f"SELECT ino, size, mtime_ns, ctime_ns, sha256, width, height, used FROM {_TABLE} "
                    f"WHERE dev=? AND ino IN ({','.join('?' * len(chunk))})",
                    [dev, *chunk],
                )
                for ino, *rest in rows:
                    found[(dev, ino)] = tuple(rest)
        out: list[FileId | None] = []
        stale = today() - REFRESH_DAYS
        refresh: dict[int, list[int]] = {}
        for st in stats:
            row = found.get(st[:2])
            if row is None or row[:3] != st[2:]:
                out.append(None)
            else:
                w, h = row[4], row[5]
                out.append((row[3], None if w is None or h is None else (w, h)))
                if row[6] <= stale:
                    refresh.setdefault(st[0], []).append(st[1])
        if refresh:
            self._mark_used(refresh)
        return out

    def _mark_used(self, inodes_by_dev: dict[int, list[int]]) -> None:
        if self._conn is None:
            return
        day = today()
        try:
            self._conn.execute("BEGIN")
            for dev, inodes in inodes_by_dev.items():
                for chunk in _chunks(inodes):
                    self._conn.execute(
                        f"UPDATE {_TABLE} SET used=? WHERE dev=? AND ino IN ({','.join('?' * len(chunk))})",
                        [day, dev, *chunk],
                    )
            self._conn.execute("COMMIT")
        except sqlite3.Error:
            self.close()

    def store(self, entries: Iterable[tuple[Stat, FileId]], read_at_ns: int) -> None:
        """Remember ids read at ``read_at_ns`` (``time.time_ns()`` before the reads began), except those
        of files changed within :data:`SETTLE_S` of it."""
        settled = read_at_ns - int(SETTLE_S * 1e9)
        day = today()
        rows = [
            (*st, fid[0], *(fid[1] or (None, None)), day)
            for st, fid in entries
            if st[3] < settled and st[4] < settled
        ]
        if rows and self._conn is not None:
            try:
                self._conn.execute("BEGIN")
                self._conn.executemany(_UPSERT, rows)
                self._conn.execute(f"DELETE FROM {_TABLE} WHERE used < ?", (day - KEEP_DAYS,))
                self._conn.execute("COMMIT")
            except sqlite3.Error:
                self.close()

    def _query(self, sql: str, args: list[int]) -> list[tuple]:
        if self._conn is None:
            return []
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.Error:
            self.close()
            return []

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


def _chunks(values: list[int], size: int = 900) -> Iterable[list[int]]:
    """Pieces of ``values`` small enough for one statement (under the 999 parameters of old SQLites)."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _carry_over(conn: sqlite3.Connection) -> None:
    """The rows of a file written before ``used`` existed, marked used today."""
    exists = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
    if conn.execute(exists, (_OLD_TABLE,)).fetchone():
        conn.execute("BEGIN IMMEDIATE")  # one process carries the rows over; the others then find none
        try:
            if conn.execute(exists, (_OLD_TABLE,)).fetchone():
                conn.execute(f"INSERT OR IGNORE INTO {_TABLE} SELECT *, ? FROM {_OLD_TABLE}", (today(),))
                conn.execute(f"DROP TABLE {_OLD_TABLE}")
            conn.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
