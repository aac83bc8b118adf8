"""Which shard a sample belongs to: a stable, versioned digest of its id, never Python's salted ``hash()``.

``tag-bench run --shard I/N`` generates the samples whose :func:`shard_key` is ``I`` modulo ``N``. The
key depends on the sample id alone (not on the order of the samples, the process or the machine), and
is the same integer for every ``N``, so shards of different counts can be compared arithmetically: a
run started with ``N = 4`` can be finished with ``N = 3`` or ``N = 1`` (samples already written are
skipped), and which samples a set of finished shards covers is known without reading the index.

The method is recorded (:data:`SHARDING_METHOD`) in every shard's state file and in a manifest a shard
created; a new method gets a new name, and a shard of another method is refused.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tag_bench.errors import TagBenchError

#: The sharding method: sha256 of ``tag-bench/shard/v1\0<sample id>``, first 8 bytes big-endian, mod N.
SHARDING_METHOD = "sha256-mod-v1"
_SALT = b"tag-bench/shard/v1\0"


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


S = TypeVar("S", bound=_HasId)


class ShardSpecError(TagBenchError, ValueError):
    """A ``--shard`` value that is not ``I/N`` with 0 <= I < N."""


def shard_key(sample_id: str) -> int:
    """The integer every shard assignment of ``sample_id`` is read from (the same for every N)."""
    return int.from_bytes(hashlib.sha256(_SALT + sample_id.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True, order=True)
class Shard:
    """Shard ``index`` of ``count`` (written ``index/count``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ShardSpecError(
                f"shard {self.index}/{self.count}: the number of shards must be at least 1 "
                "(e.g. --shard 0/4 ... --shard 3/4)"
            )
        if not 0 <= self.index < self.count:
            raise ShardSpecError(
                f"shard {self.index}/{self.count}: the index must be 0 to {self.count - 1} "
                f"(e.g. --shard 0/{self.count} ... --shard {self.count - 1}/{self.count})"
            )

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """``"I/N"`` (e.g. ``"2/4"``), as ``--shard`` and ``$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`` give it."""
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec or "")
        if not m:
            raise ShardSpecError(
                f"--shard {spec!r} is not I/N: give the shard's index and the number of shards, e.g. 0/4 "
                "(indices 0 to N-1; in a Slurm array: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)"
            )
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, sample_id: str) -> bool:
        return shard_key(sample_id) % self.count == self.index

    def select(self, samples: Iterable[S]) -> list[S]:
        """The samples of this shard, in their order."""
        return [s for s in samples if self.owns(s.id)]
