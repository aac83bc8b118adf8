"""File I/O for run directories: atomic writes and crash-tolerant JSON lines (names: rundir.py)."""

from __future__ import annotations

import gc
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


#: What ``open()`` would give a new file under the process umask (mkstemp would give 0600).
_FILE_MODE = _default_file_mode()


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes 0600; run files are meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file; a file that is not JSON (or not UTF-8) is a ValueError naming it."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise not_utf8(path, data) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


def not_utf8(path: str | os.PathLike[str], data: bytes, first_line: int = 1) -> ValueError:
    """The error for ``data`` (the file's bytes from line ``first_line`` on) that is not UTF-8: the file,
    line and column of the first bad byte."""
    for n, raw in enumerate(data.split(b"\n"), first_line):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            return ValueError(
                f"{path}:{n}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1}); the file was "
                "damaged or written in another encoding"
            )
    return ValueError(f"{path}: not UTF-8 text")


def read_model(path: str | os.PathLike[str], model: type[T]) -> T:
    """A JSON file as one ``model`` record; a ValueError naming the file and its first problem otherwise.
    Parsed by pydantic's own JSON reader as :func:`iter_records` parses lines (a leaderboard reads
    thousands of these files); only a file it refuses goes through ``json`` and validation, for the
    message."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return model.model_validate_json(data)
    except ValidationError:
        pass
    try:
        return model.model_validate(read_json(path))
    except ValidationError as e:
        raise ValueError(f"{path}: not a {model.__name__} record ({_first_problem(e)})") from None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while hundreds of thousands of records are built.

    Every allocation of a tracked object counts towards the next collection, and each full one walks
    the whole heap: loading 200k records slowed 5-8x. The records form no cycles; whatever garbage
    the block leaves is collected after it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def cache_dir() -> Path:
    """The folder of tag-bench's caches: ``$TAG_BENCH_CACHE``, else ``~/.cache/tag-bench``."""
    env = os.environ.get("TAG_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tag-bench"


def unusable_cache_message(path: str | os.PathLike[str], error: BaseException) -> str:
    """What to tell the user about a cache file that is not a readable SQLite database."""
    return (
        f"cache {path} cannot be read ({error}); caches only save repeated work, so this run goes on "
        f"without it. To start a fresh one, move it aside: mv '{path}' '{path}.broken'"
    )


def _json_line(r: BaseModel | dict[str, Any] | str) -> str:
    if isinstance(r, str):  # already one JSON document
        return r.rstrip("\r\n")
    if isinstance(r, BaseModel):
        return r.model_dump_json()  # pydantic-core: no NaN/inf either (they become null)
    return json.dumps(r, ensure_ascii=False, allow_nan=False)


def write_jsonl(path: str | os.PathLike[str], records: Iterable[BaseModel | dict[str, Any] | str]) -> None:
    """Write records line by line (a million AU references never make one string); the file appears
    under its name only when complete."""
    with AtomicLines(path) as out:
        for r in records:
            out.write(_json_line(r))


def append_jsonl(
    path: str | os.PathLike[str], records: Iterable[BaseModel | dict[str, Any]], *, sync: bool = True
) -> None:
    """Append records in one write. Flushed to the OS (survives ``kill -9``); ``sync`` also fsyncs
    (survives power loss). After a crash at most the last line is partial."""
    data = "".join(_json_line(r) + "\n" for r in records)
    if not data:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def fsync_path(path: str | os.PathLike[str]) -> None:
    """fsync a file if it exists (end of a stage)."""
    if os.path.exists(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield JSON objects; a final line cut short by a crash is skipped, a bad line elsewhere raises."""
    with open(path, "rb") as f:
        lines = f.read().splitlines(keepends=True)  # \n, \r\n or \r, as text mode reads them
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            if i == len(lines) - 1 and not raw.endswith(b"\n"):
                return  # torn write at the very end, inside a character
            raise not_utf8(path, raw, i + 1) from None
        try:
            yield json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines) - 1 and not line.endswith("\n"):
                return  # torn write at the very end
            raise ValueError(f"{path}:{i + 1}: not valid JSON ({e})") from e


def read_records(path: str | os.PathLike[str], model: type[T]) -> list[T]:
    """The records of a JSONL file (see :func:`iter_records`)."""
    return list(iter_records(path, model))


def iter_records(path: str | os.PathLike[str], model: type[T]) -> Iterator[T]:
    """The records of a JSONL file one by one, as :func:`iter_jsonl` reads it (a torn last line skipped, a
    bad line elsewhere named, a record that does not validate named with its first problem), each parsed
    by pydantic's own JSON reader: about twice as fast as ``json.loads`` and validation, which only a
    line it refuses goes through, for the same message."""
    with open(path, "rb") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = model.model_validate_json(line)
            except ValidationError:
                try:
                    d = json.loads(line.decode("utf-8"))
                except UnicodeDecodeError:
                    if not line.endswith(b"\n"):
                        return  # torn write at the very end, inside a character
                    raise not_utf8(path, line, i) from None
                except json.JSONDecodeError as e:
                    if not line.endswith(b"\n"):  # only the last line can lack one
                        return  # torn write at the very end
                    raise ValueError(f"{path}:{i}: not valid JSON ({e})") from e
                try:
                    record = model.model_validate(d)
                except ValidationError as e:
                    raise ValueError(
                        f"{path}:{i}: not a {model.__name__} record ({_first_problem(e)})"
                    ) from None
            yield record


def _first_problem(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(map(str, first.get("loc", ()))) or "record"
    more = f"; {e.error_count() - 1} more" if e.error_count() > 1 else ""
    return f"{where}: {first.get('msg')}{more}"


def repair_jsonl_tail(path: str | os.PathLike[str]) -> int:
    """Truncate a partial last line left by a crash; returns the bytes removed."""
    p = Path(path)
    if not p.exists():
        return 0
    data = p.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    cut = data.rfind(b"\n") + 1
    with open(p, "r+b") as f:
        f.truncate(cut)
    return len(data) - cut


class AtomicLines:
    """Write a JSON-lines file line by line; it appears under its name only when complete."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.fchmod(fd, _FILE_MODE)
        self._f = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, line: str) -> None:
        self._f.write(line)
        self._f.write("\n")

    def __enter__(self) -> AtomicLines:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._f.flush()
            os.fsync(self._f.fileno())
        finally:
            self._f.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            Path(self._tmp).unlink(missing_ok=True)
