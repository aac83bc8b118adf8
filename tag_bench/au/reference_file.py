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

import os
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError

from tag_bench.schema import AUReference

#: records read per ``pread`` at most when copying a file's lines
_COPY_BLOCK = 2048


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
        index, starts, lengths = self._index, self._starts, self._lengths
        pos = 0
        with open(self._fd, "rb", closefd=False) as f:
            for n, line in enumerate(f, 1):
                start, pos = pos, pos + len(line)
                if not line.strip():
                    continue
                try:
                    ref = AUReference.model_validate_json(line)
                except ValidationError as e:
                    if not strict and not line.endswith(b"\n"):
                        break  # torn write at the very end
                    raise ValueError(f"{self.path}:{n}: not an AUReference record: {e}") from e
                sid = ref.sample_id
                if not sid:
                    if strict:
                        raise ValueError(f"{self.path}:{n}: record has no sample_id")
                    continue
                if strict and sid in index:
                    raise ValueError(f"{self.path}:{n}: second record for sample {sid!r}")
                self.reference_ids.add(ref.reference_id)
                index[sid] = len(starts)
                starts.append(start)
                lengths.append(len(line))

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
        self._ids = sample_ids if missing is not None else [s for s in sample_ids if s in file]
        self._members = set(self._ids) if missing is not None else None

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __contains__(self, sample_id: object) -> bool:
        if self._members is not None:
            return sample_id in self._members
        return sample_id in self.file

    def __getitem__(self, sample_id: str) -> AUReference:
        if sample_id in self.file:
            if self._members is None or sample_id in self._members:
                return self.file[sample_id]
            raise KeyError(sample_id)
        if self.missing is None or sample_id not in self:
            raise KeyError(sample_id)
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
