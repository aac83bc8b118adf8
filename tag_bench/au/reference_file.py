"""A JSONL file of AUReference records, read record by record when asked for.

An ``AUReference`` with landmarks and 14 AUs takes about 19 KB as Python objects: a million distinct
images would need about 18 GB held at once. Opening a :class:`ReferenceFile` validates every line once
(the errors are the ones reading the whole file gives) and keeps only where each record is, about
0.1 KB a record; scoring then reads the records of a few thousand samples at a time
(:meth:`ReferenceFile.get_many`). A :class:`ReferenceView` is the references of one run's samples, in
their order, with a record made for a sample the file lacks.

The file is read through a descriptor opened once, with ``os.pread``: a file replaced under the same
name (a run directory re-scored in place) is still read as it was opened, and forked scoring workers
share the descriptor without sharing a file position.
"""

from __future__ import annotations

import itertools
import os
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from tag_bench._forkmap import pool_size
from tag_bench.schema import AUReference

#: records read per ``pread`` at most when copying a file's lines
_COPY_BLOCK = 2048
#: files of this size or more are checked in forked processes, one per core (Linux)
PARALLEL_BYTES = 64 * 2**20


class ReferenceFile(Mapping[str, AUReference]):
    """AUReference records of a JSONL file by ``sample_id``, read when asked for.

    ``strict`` (a user's file): a record without ``sample_id`` or a second record for a sample is an
    error. Otherwise (a run directory's own file, as ``RunDir.read_references`` reads it) such a
    record is skipped or replaces the earlier one, and a torn last line (a crash mid-write) is ignored.
    """

    def __init__(self, path: str | os.PathLike[str], *, strict: bool = True):
        self.path = Path(path)
        self._fd = -1
        self.reference_ids: set[str] = set()
        self._index: dict[str, int] = {}  # sample id -> record number
        self._starts = array("q")
        self._lengths = array("q")
        self._fd = os.open(self.path, os.O_RDONLY)
        try:
            self._scan(strict)
        except BaseException:
            self.close()
            raise

    def _scan(self, strict: bool) -> None:
        size = os.fstat(self._fd).st_size
        workers = pool_size()
        if size < PARALLEL_BYTES or workers < 2 or not sys.platform.startswith("linux"):
            parts = [_check_range(self._fd, 0, size)]
        else:
            parts = self._check_in_workers(size, workers)
        index, starts, lengths = self._index, self._starts, self._lengths
        line_base = 0
        for part in parts:  # in file order, so the first problem named is the first in the file
            for sid, ref_id, start, length, n in zip(*part.records, strict=True):
                if not sid:
                    if strict:
                        raise ValueError(f"{self.path}:{line_base + n}: record has no sample_id")
                    continue
                if strict and sid in index:
                    raise ValueError(f"{self.path}:{line_base + n}: second record for sample {sid!r}")
                self.reference_ids.add(ref_id)
                index[sid] = len(starts)
                starts.append(start)
                lengths.append(length)
            if part.error is not None:
                n, message, torn = part.error
                if not strict and torn:
                    break  # a torn write at the very end of the file (a crash mid-write)
                raise ValueError(f"{self.path}:{line_base + n}: not an AUReference record: {message}")
            line_base += part.n_lines

    def _check_in_workers(self, size: int, workers: int) -> list[_Part]:
        """Check byte ranges of the file (cut after a newline) in forked processes."""
        cuts = [0]
        with open(f"/proc/self/fd/{self._fd}", "rb") as f:  # its own file position
            for k in range(1, workers * 2):
                f.seek(max(cuts[-1], size * k // (workers * 2)))
                f.readline()
                if f.tell() < size:
                    cuts.append(f.tell())
        cuts.append(size)
        ranges = [(self._fd, a, b) for a, b in itertools.pairwise(cuts) if b > a]
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(workers, len(ranges)), mp_context=mp.get_context("fork")) as pool:
            return list(pool.map(_check_range, *zip(*ranges, strict=True)))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self._index

    def __getitem__(self, sample_id: str) -> AUReference:
        i = self._index[sample_id]
        return AUReference.model_validate_json(os.pread(self._fd, self._lengths[i], self._starts[i]))

    def get_many(self, sample_ids: Iterable[str]) -> dict[str, AUReference]:
        """The records of ``sample_ids`` that the file has; records next to each other in the file are
        read in one call."""
        index = self._index
        wanted = sorted({index[s] for s in sample_ids if s in index})
        out: dict[str, AUReference] = {}
        for line in self._lines(wanted):
            ref = AUReference.model_validate_json(line)
            out[ref.sample_id] = ref  # type: ignore[index]
        return out

    def records(self) -> Iterator[str]:
        """Each record's line, in file order (for a run directory's ``au_references.jsonl``)."""
        return self.lines()

    def lines(self, sample_ids: Iterable[str] | None = None) -> Iterator[str]:
        """The JSON line (without its newline) of each record, in file order, or of ``sample_ids`` in
        their order (those the file has)."""
        if sample_ids is None:
            rows: Sequence[int] = sorted(self._index.values())
        else:
            rows = [i for s in sample_ids if (i := self._index.get(s)) is not None]
        for k in range(0, len(rows), _COPY_BLOCK):
            for line in self._lines(rows[k : k + _COPY_BLOCK]):
                yield line.decode("utf-8").strip()

    def _lines(self, rows: Sequence[int]) -> Iterator[bytes]:
        """The lines of records ``rows``; a run of records that follow each other is one ``pread``."""
        starts, lengths, fd = self._starts, self._lengths, self._fd
        k = 0
        while k < len(rows):
            first = j = rows[k]
            end = starts[j] + lengths[j]
            k += 1
            run = [j]
            while k < len(rows) and starts[rows[k]] == end and len(run) < _COPY_BLOCK:
                j = rows[k]
                end += lengths[j]
                run.append(j)
                k += 1
            data = os.pread(fd, end - starts[first], starts[first])
            base = starts[first]
            for j in run:
                s = starts[j] - base
                yield data[s : s + lengths[j]]


class _Part(NamedTuple):
    """What checking one byte range of a reference file found."""

    records: tuple[
        list[str | None], list[str], list[int], list[int], list[int]
    ]  # sid, ref id, start, length, line
    n_lines: int
    error: tuple[int, str, bool] | None  # (line in the range, problem, torn last line of the file)


def _check_range(fd: int, start: int, stop: int) -> _Part:
    """Validate every line between byte ``start`` (a line start) and ``stop``; stops at the first
    record that does not validate."""
    sids: list[str | None] = []
    ref_ids: list[str] = []
    starts: list[int] = []
    lengths: list[int] = []
    numbers: list[int] = []
    pos = start
    n = 0
    error = None
    # /proc/self/fd gives this process its own file position on the same (held) file
    linux = sys.platform.startswith("linux")
    with open(f"/proc/self/fd/{fd}", "rb") if linux else open(fd, "rb", closefd=False) as f:
        f.seek(start)
        while pos < stop:
            line = f.readline()
            if not line:
                break
            n += 1
            line_start, pos = pos, pos + len(line)
            if not line.strip():
                continue
            try:
                ref = AUReference.model_validate_json(line)
            except ValidationError as e:
                error = (n, str(e), not line.endswith(b"\n"))
                break
            sids.append(ref.sample_id)
            ref_ids.append(ref.reference_id)
            starts.append(line_start)
            lengths.append(len(line))
            numbers.append(n)
    return _Part((sids, ref_ids, starts, lengths, numbers), n, error)


class ReferenceView(Mapping[str, AUReference]):
    """The references of some samples, in their order, read from a :class:`ReferenceFile` when asked
    for. A sample the file has no record for gets ``missing(sample_id)``, or is absent when
    ``missing`` is None."""

    def __init__(
        self,
        file: ReferenceFile,
        sample_ids: Sequence[str],
        missing: Callable[[str], AUReference] | None = None,
    ):
        self.file = file
        self.missing = missing
        self._ids = list(sample_ids) if missing is not None else [s for s in sample_ids if s in file]
        self._members = set(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __contains__(self, sample_id: object) -> bool:
        return sample_id in self._members

    def __getitem__(self, sample_id: str) -> AUReference:
        if sample_id not in self._members:
            raise KeyError(sample_id)
        if sample_id in self.file:
            return self.file[sample_id]
        assert self.missing is not None  # without it, the members are the file's samples
        return self.missing(sample_id)

    def get_many(self, sample_ids: Iterable[str]) -> dict[str, AUReference]:
        ids = [s for s in sample_ids if s in self]
        out = self.file.get_many(ids)
        if self.missing is not None:
            for s in ids:
                if s not in out:
                    out[s] = self.missing(s)
        return out

    def records(self) -> Iterator[AUReference | str]:
        """Each sample's record in sample order for a run directory's ``au_references.jsonl``: the
        file's own line where it has one (copied, not re-encoded), else the record made for it."""
        for k in range(0, len(self._ids), _COPY_BLOCK):
            block = self._ids[k : k + _COPY_BLOCK]
            lines = dict(zip((s for s in block if s in self.file), self.file.lines(block), strict=True))
            for s in block:
                line = lines.get(s)
                if line is not None:
                    yield line
                elif self.missing is not None:
                    yield self.missing(s)
