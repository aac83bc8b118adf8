"""AU references of distinct images read from a JSONL file while a run is scored: memory and time.

Every sample of a real run has its own image, so its own reference: 68 landmarks and 14 AUs with
regions, about 19 KB as Python objects. Held at once, a million of them would take about 18 GB. This
bench scores N mixed-format responses (``score_bench.synthetic_run``), each with its own reference of
that shape written to a JSONL file, three ways, each in a fresh process, in two scoring processes:

- ``file``: as ``tag-bench score`` reads them (``JsonlSource``: checked once when opened, by byte
  ranges in forked processes for a large file, then read a block of samples at a time while scoring);
- ``held``: every line validated once, in this process, and every record kept (how they were read
  before);
- ``none``: no reference (the baseline measured in the same run).

For each: the extra peak memory over the inputs held before scoring, in the scoring process and in
its workers, and the time from opening the file to the last metric. Checked: ``file`` and ``held`` give
the same metrics.

    .venv/bin/python bench/reference_bench.py [--n 200000] [--resamples 1000] [--smoke]

``--smoke`` (seconds; ``make bench-smoke``): N 3,000, 200 resamples.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from score_bench import AUS, CLASSES, REF_ID, peak_rss_mb, reset_peak_rss, synthetic_run

from tag_bench.schema import AUReference, AUState

MODES = ("none", "file", "held")


def write_references(path: Path, samples, gens) -> int:
    """One reference per sample (its own landmarks and AU regions), written as it is made."""
    rng = random.Random(7)
    size = 0
    with open(path, "w", encoding="utf-8") as f:
        for s in samples:
            g = gens.get(s.id)
            w, h = g.image_size if g is not None and g.image_size else (448, 448)
            aus = {}
            for au in AUS:
                x, y = rng.uniform(0, 0.7 * w), rng.uniform(0, 0.7 * h)
                score = rng.random()
                left, right = [x, y, x + 0.1 * w, y + 0.2 * h], [x + 0.1 * w, y, x + 0.2 * w, y + 0.2 * h]
                aus[au] = AUState(score=score, active=score >= 0.6, box=[x, y, x + 0.2 * w, y + 0.2 * h],
                                  boxes=[left, right], source="synthetic", threshold=0.6)  # fmt: skip
            ref = AUReference(
                reference_id=REF_ID, detector="synthetic", version="1", status="ok", threshold=0.6,
                sample_id=s.id, image_sha256=f"{rng.getrandbits(256):064x}", image_size=(w, h),
                face_box=[0.2 * w, 0.1 * h, 0.8 * w, 0.9 * h],
                landmarks=[(rng.uniform(0, w), rng.uniform(0, h)) for _ in range(68)], aus=aus,
            )  # fmt: skip
            line = ref.model_dump_json()
            size += len(line) + 1
            f.write(line + "\n")
    return size


def child(mode: str, n: int, path: str, resamples: int) -> dict:
    """Score in this (fresh) process; the figures of one mode."""
    from tag_bench.au.sources import JsonlSource
    from tag_bench.scoring.aggregate import metrics_from_arrays
    from tag_bench.scoring.run import ReferenceSet, score_arrays
    from tag_bench.store import gc_paused

    samples, gens, _ = synthetic_run(n)
    base = peak_rss_mb()
    reset_peak_rss()
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    t = time.perf_counter()
    refs = None
    if mode == "file":
        with gc_paused():
            source = JsonlSource(path)
            refs = ReferenceSet(source.reference_id, source.get_many(samples))
    elif mode == "held":  # as the file was read before: each line validated once, every record kept
        with gc_paused(), open(path, "rb") as f:
            held = {}
            for line in f:
                ref = AUReference.model_validate_json(line)
                held[ref.sample_id] = ref
            refs = ReferenceSet(REF_ID, held)
    opened = time.perf_counter() - t
    arrays = score_arrays(samples, gens, CLASSES, refs, workers=2)
    report = metrics_from_arrays(arrays, n_resamples=resamples, seed=0)
    elapsed = time.perf_counter() - t
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "mode": mode,
        "seconds": elapsed,
        "open_seconds": opened,
        "base_mb": base,
        "peak_mb": peak_rss_mb(),
        "workers_peak_mb": max(children, before_children),
        "metrics": {k: v.value for k, v in report.metrics.items()},
    }


def run_child(mode: str, n: int, path: Path, resamples: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--n", str(n), "--refs", str(path), "--resamples", str(resamples)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"reference_bench --child {mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--smoke", action="store_true", help="N 3,000, 200 resamples (make bench-smoke)")
    ap.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--refs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n, args.refs, args.resamples)))
        return
    if args.smoke:
        args.n, args.resamples = 3_000, 200
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "au_references.jsonl"
        samples, gens, _ = synthetic_run(args.n)
        t = time.perf_counter()
        size = write_references(path, samples, gens)
        del samples, gens
        print(f"{args.n:,} distinct references written in {time.perf_counter() - t:.1f}s "
              f"({size / 2**20:,.0f} MB, {size / args.n:,.0f} bytes a line)")  # fmt: skip
        got = {mode: run_child(mode, args.n, path, args.resamples) for mode in MODES}
    none = got["none"]
    for mode in MODES:
        r = got[mode]
        extra = r["peak_mb"] - r["base_mb"] - (none["peak_mb"] - none["base_mb"]) if mode != "none" else 0.0
        workers = r["workers_peak_mb"] - none["workers_peak_mb"] if mode != "none" else 0.0
        line = (
            f"{mode:>5}: {r['seconds']:6.1f}s ({r['seconds'] / none['seconds']:.2f}x no reference; opening the "
            f"file {r['open_seconds']:.1f}s); peak over the inputs {r['peak_mb'] - r['base_mb']:,.0f} MB"
        )
        if mode != "none":
            line += (
                f", {extra:+,.0f} MB for the references ({extra * 2**20 / args.n:,.0f} bytes each), "
                f"workers {workers:+,.0f} MB"
            )
        print(line)
    assert got["file"]["metrics"] == got["held"]["metrics"], (
        "references read a block at a time scored differently"
    )
    assert got["file"]["metrics"]["reference_coverage"] == 1.0, got["file"]["metrics"]["reference_coverage"]
    print(f"(load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
