"""Shard assignment: a stable, versioned digest of the sample id, never Python's salted hash()."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from collections import Counter

import pytest

from tag_bench.generate.shards import SHARDING_METHOD, Shard, ShardSpecError, shard_key


def test_the_key_is_frozen_for_this_method():
    # A change here changes which shard every sample of a half-finished run belongs to: give the new
    # rule a new SHARDING_METHOD name instead (runs record the method and refuse another).
    assert SHARDING_METHOD == "sha256-mod-v1"
    digest = hashlib.sha256(b"tag-bench/shard/v1\0rafdb/train_00001").digest()
    assert shard_key("rafdb/train_00001") == int.from_bytes(digest[:8], "big") == 18424380421349120914
    assert [Shard(i, 4).owns("rafdb/train_00001") for i in range(4)] == [False, False, True, False]
    assert shard_key("") == 9374817876200852119


def test_assignment_does_not_depend_on_the_process_hash_seed():
    code = (
        "from tag_bench.generate.shards import Shard; print([Shard(1, 3).owns(f'id{i}') for i in range(50)])"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(outs) == 1


def test_every_sample_is_in_exactly_one_shard_whatever_the_order():
    ids = [f"affectnet/val/{i:06d}.jpg" for i in range(10_000)]
    for n in (1, 2, 3, 4, 7, 64):
        shards = [Shard(i, n) for i in range(n)]
        owners = Counter(sum(sh.owns(x) for sh in shards) for x in ids)
        assert owners == {1: len(ids)}
        sizes = [sum(sh.owns(x) for x in ids) for sh in shards]
        assert max(sizes) - min(sizes) < 6 * (len(ids) / n) ** 0.5 + 1  # balanced up to sampling noise
    shuffled = ids[:]
    random.Random(0).shuffle(shuffled)
    assert sorted(x for x in shuffled if Shard(2, 4).owns(x)) == sorted(x for x in ids if Shard(2, 4).owns(x))


class _S:
    def __init__(self, id: str):
        self.id = id


def test_select_keeps_the_order_of_the_samples():
    samples = [_S(f"s{i}") for i in range(100)]
    picked = Shard(0, 3).select(samples)
    assert [s.id for s in picked] == [s.id for s in samples if Shard(0, 3).owns(s.id)]


@pytest.mark.parametrize("spec", ["3/3", "-1/3", "1", "a/b", "1/0", "", "1/2/3"])
def test_a_bad_spec_says_what_to_give(spec):
    with pytest.raises(ShardSpecError, match=r"I/N|index must be|number of shards must be at least 1"):
        Shard.parse(spec)


def test_a_good_spec_reads_back():
    assert Shard.parse(" 2 / 5 ") == Shard(2, 5) and str(Shard(2, 5)) == "2/5"
