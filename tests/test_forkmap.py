"""fork_chunks / fork_map: work over index ranges in forked processes, results in order, few in flight."""

from __future__ import annotations

import os
import sys

import pytest

from tag_bench import _forkmap
from tag_bench._forkmap import fork_chunks, fork_map

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="forked workers run on Linux only"
)


@linux_only
def test_ranges_run_in_workers_and_come_back_in_order(monkeypatch):
    monkeypatch.setattr(_forkmap, "fork_workers", lambda: 2)
    monkeypatch.setattr(_forkmap, "MAX_CHUNK", 7)
    items = [f"x{i}" for i in range(100)]
    parent = os.getpid()

    def upper(start, stop):
        assert os.getpid() != parent
        return [(s.upper(), os.getpid()) for s in items[start:stop]]

    chunks = list(fork_chunks(upper, len(items), min_items=10))
    assert [x for c in chunks for x, _ in c] == [s.upper() for s in items]
    assert max(len(c) for c in chunks) == 7  # never more than MAX_CHUNK items a call
    assert parent not in {pid for c in chunks for _, pid in c}  # (one worker may take every range)
    assert _forkmap._TASK is None


@linux_only
def test_at_most_two_ranges_per_worker_are_in_flight(monkeypatch):
    monkeypatch.setattr(_forkmap, "fork_workers", lambda: 2)
    monkeypatch.setattr(_forkmap, "MAX_CHUNK", 1)
    submitted: list[int] = []
    from concurrent.futures import ProcessPoolExecutor

    submit = ProcessPoolExecutor.submit

    def counting(self, fn, *args):
        submitted.append(args[0])
        return submit(self, fn, *args)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counting)
    seen = []
    for k, chunk in enumerate(fork_chunks(lambda a, b: list(range(a, b)), 12, min_items=1)):
        seen += chunk
        assert len(submitted) <= k + 1 + 4  # the ones consumed, plus two per worker
    assert seen == list(range(12))


def test_small_inputs_run_here_and_errors_reach_the_caller(monkeypatch):
    parent = os.getpid()
    assert fork_map(lambda a, b: [os.getpid()] * (b - a), 5, min_items=10) == [parent] * 5
    assert fork_map(lambda a, b: [1 / 0], 0, min_items=10) == []
    if sys.platform.startswith("linux"):
        monkeypatch.setattr(_forkmap, "fork_workers", lambda: 2)

        def fails(start, stop):
            if start > 0:
                raise ValueError(f"bad item {start}")
            return list(range(start, stop))

        with pytest.raises(ValueError, match="bad item"):
            fork_map(fails, 50, min_items=10)
        assert _forkmap._TASK is None


@linux_only
def test_a_pool_inside_a_pool_is_refused(monkeypatch):
    monkeypatch.setattr(_forkmap, "fork_workers", lambda: 2)

    def nested(start, stop):
        return fork_map(lambda a, b: list(range(a, b)), 20, min_items=1)

    with pytest.raises(RuntimeError, match="not reentrant"):
        fork_map(nested, 20, min_items=1)


def test_workers_follow_the_cpus_this_process_may_use(monkeypatch):
    """A Slurm job given 2 CPUs of a large node (its affinity mask) runs 2 workers, not one per core."""
    from tag_bench.scoring.run import default_workers

    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    if hasattr(os, "sched_getaffinity"):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 7})
        assert _forkmap.usable_cpus() == 2 and default_workers(1_000_000) == 2
        if sys.platform.startswith("linux"):
            assert _forkmap.fork_workers() == 2
        monkeypatch.delattr(os, "sched_getaffinity")
    assert (
        _forkmap.usable_cpus() == 64 and default_workers(1_000_000) == 8
    )  # no mask: the machine's, at most 8
