"""Per-item work over a long sequence, in forked processes (one per core, Linux), results in order.

The function runs on index ranges ``fn(start, stop) -> list``: a forked worker reads the items from
the parent's memory (copy-on-write), so only the bounds and the results cross the process boundary;
nothing the function closes over is pickled. Below ``min_items``, on one core, or without ``fork``,
it runs in this process. Only for work that touches neither torch nor MediaPipe, which do not survive
a fork.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from typing import TypeVar

R = TypeVar("R")

#: most items one worker call handles: bounds what a worker builds for a chunk and what the parent holds
#: of the chunks in flight (at a million samples, scoring chunks of an eighth of the run made each worker
#: own some 200 MB more: bench/scale_bench.py)
MAX_CHUNK = 20_000
#: most worker processes of one pool
MAX_WORKERS = 8

_TASK: Callable[[int, int], list] | None = None  # the function of the pool being run (read by forks)


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the system has one (what Slurm's
    cpusets, ``taskset`` and container CPU sets allow), else the machine's count. A job given 4 CPUs
    of a 64-core node then runs 4 workers, not 64."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity masks (macOS, Windows)
        return os.cpu_count() or 1


def pool_size() -> int:
    """Worker processes for CPU work: one per usable CPU, at most :data:`MAX_WORKERS`."""
    return min(usable_cpus(), MAX_WORKERS)


def fork_workers() -> int:
    """Processes :func:`fork_chunks` uses: :func:`pool_size`; 1 where fork is unavailable."""
    return pool_size() if sys.platform.startswith("linux") else 1


def chunk_ranges(n: int, workers: int, most: int | None = None) -> list[tuple[int, int]]:
    """Consecutive ranges covering ``0..n``: four per worker, at most ``most`` (default
    :data:`MAX_CHUNK`) items each."""
    size = max(1, min(MAX_CHUNK if most is None else most, -(-n // (workers * 4))))
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def fork_chunks(fn: Callable[[int, int], list[R]], n: int, *, min_items: int) -> Iterator[list[R]]:
    """``fn`` over consecutive ranges covering ``0..n``, yielded in order; at most two ranges per
    worker are in flight, so a consumer that writes the results as they come holds few of them."""
    workers = fork_workers()
    if n < min_items or workers < 2:
        if n:
            yield fn(0, n)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    global _TASK
    if _TASK is not None:
        raise RuntimeError("fork_chunks is not reentrant: a pool of it is already running")
    bounds = chunk_ranges(n, workers)
    _TASK = fn
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            pending = deque(pool.submit(_run, *b) for b in bounds[: 2 * workers])
            for nxt in bounds[2 * workers :] + [None] * len(pending):
                done = pending.popleft().result()
                if nxt is not None:
                    pending.append(pool.submit(_run, *nxt))
                yield done
    finally:
        _TASK = None


def fork_map(fn: Callable[[int, int], list[R]], n: int, *, min_items: int) -> list[R]:
    """:func:`fork_chunks`, joined into one list."""
    return [x for part in fork_chunks(fn, n, min_items=min_items) for x in part]


def _run(start: int, stop: int) -> list:
    assert _TASK is not None, "forked worker without its function"
    return _TASK(start, stop)
