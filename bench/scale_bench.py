"""Scale: a million responses in process, the bootstrap at large N, compare of two large runs.

Each figure is printed beside a baseline measured in the same run (the machine is shared and noisy):

1. in process: parse + score + every metric with 1000-resample CIs on N mixed-format responses
   (default 1,000,000; ``score_bench.synthetic_run``), scored in the default worker processes.
   Targets: under 30 s, peak memory under 2 GB: the larger of the scoring's (what this process grows by
   plus the most each scoring worker owns) and the metrics stage's (``score_bench.PipelineMemory``).
   Baseline: ``parse_response`` alone, in
   one process, on the first ``--baseline-n`` responses (per response), so the ratio says how far the
   whole pipeline is from parsing alone.
2. the bootstrap at N: the metrics stage with the count-based resampling large runs use
   (``strata/1``) against the per-sample bootstrap (``multinomial/1``) on the same arrays, the latter at
   200 resamples and scaled to the same count. Checked: the point estimates, counts and non-bootstrap
   intervals are the same both ways; every interval contains its estimate.
3. compare of two N-sample runs (the second: each sample's answer and grounding taken from another
   sample with the same gold label), every metric, 1000 resamples, in process from their arrays;
   against the per-sample paired bootstrap at 200 resamples scaled. Reading the two runs from disk is
   measured by ``bench/report_bench.py --part compare --n N`` (through the columnar copy).

``--write-readme`` replaces the README's block between ``<!-- generated:scale-bench -->`` and its end
marker with the figures of this run (command, machine load, date).

    .venv/bin/python bench/scale_bench.py [--n 1000000] [--resamples 1000] [--baseline-n 20000]
                                          [--workers K] [--write-readme] [--smoke]

``--smoke`` (seconds; ``make bench-smoke``): N 4,000 with the large-run method switched on from 1,000
samples, 200 resamples, scored in 2 processes (as at full size, the workers' memory measured).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import sys
import time

import numpy as np
from readme_block import write_block
from score_bench import CLASSES, STAGE, PipelineMemory, synthetic_run

from tag_bench.parsing import parse_response
from tag_bench.scoring import aggregate as ag
from tag_bench.scoring.aggregate import RunFacts
from tag_bench.scoring.run import score_arrays


def parse_only(gens, ids) -> float:
    t = time.perf_counter()
    for sid in ids:
        g = gens.get(sid)
        if g is not None and g.text is not None:
            parse_response(g.text, g.frame or "pixel", g.image_size, g.input_size, g.finish_reason, CLASSES)
    return time.perf_counter() - t


def with_method(large: bool, fn):
    """Run ``fn`` with the large-run resampling on (from 1 sample) or off (never)."""
    old = ag.STRATA_MIN_SAMPLES
    ag.STRATA_MIN_SAMPLES = 0 if large else 10**12
    try:
        return fn()
    finally:
        ag.STRATA_MIN_SAMPLES = old


def check_same_points(a, b) -> None:
    for name, m in a.metrics.items():
        o = b.metrics[name]
        assert (m.value, m.n) == (o.value, o.n), (name, m, o)
        if m.ci_method not in (None, "bootstrap"):
            assert m == o, (name, m, o)
        if m.value is not None and m.ci_low is not None:
            assert m.ci_low <= m.value <= m.ci_high, (name, m)


def other_model(arrays: ag.ScoreArrays, seed: int = 0) -> ag.ScoreArrays:
    """The same samples answered by another model: each sample's answer and grounding from another
    sample with the same gold label (so the gold labels line up and the pairing is real)."""
    rng = np.random.default_rng(seed)
    source = np.arange(arrays.n)
    for g in np.unique(arrays.gold):
        idx = np.flatnonzero(arrays.gold == g)
        source[idx] = rng.permutation(idx)
    return ag.ScoreArrays(
        classes=arrays.classes, au_reference=arrays.au_reference, sample_ids=arrays.sample_ids,
        gold=arrays.gold, pred=arrays.pred[source], status=arrays.status[source], rows=arrays.rows[source],
        reference_status_counts=arrays.reference_status_counts, note_counts=arrays.note_counts,
        facts=arrays.facts,
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--baseline-n", type=int, default=20_000, help="responses parsed alone (the baseline)")
    ap.add_argument("--workers", type=int, default=None, help="scoring processes (default: automatic)")
    ap.add_argument("--write-readme", action="store_true", help="write the figures into README.md")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    if args.smoke:
        ap.set_defaults(n=4_000, resamples=200, baseline_n=1_000, workers=2)
        args = ap.parse_args()
        ag.STRATA_MIN_SAMPLES = 1_000  # the large-run path, at a size that runs in seconds
    out: list[str] = []

    def say(line: str) -> None:
        print(line)
        out.append(line)

    t = time.perf_counter()
    samples, gens, refs = synthetic_run(args.n, seed=0)
    print(f"built {args.n:,} synthetic responses in {time.perf_counter() - t:.0f}s (not timed)")
    base_n = min(args.baseline_n, args.n)
    t_parse = parse_only(gens, [s.id for s in samples[:base_n]]) / base_n  # seconds per response

    # 1. in process
    memory = PipelineMemory()
    with memory.scoring_stage():
        t0 = time.perf_counter()
        arrays = score_arrays(samples, gens, CLASSES, refs, workers=args.workers)
        arrays.facts = RunFacts(values=dict(STAGE))
        t_score = time.perf_counter() - t0
    with memory.metrics_stage():
        t0 = time.perf_counter()
        report = ag.metrics_from_arrays(arrays, n_resamples=args.resamples, seed=0)
        t_metrics = time.perf_counter() - t0
    total = t_score + t_metrics
    assert report.n == args.n and report.bootstrap["resampling"] == "strata/1", report.bootstrap
    say(f"in process, {args.n:,} responses: parse + score {t_score:.1f}s + {len(report.metrics)} metrics with "
        f"{args.resamples}-resample CIs {t_metrics:.1f}s = {total:.1f}s ({args.n / total:,.0f}/s; target < 30 s) "
        f"= {total / (t_parse * args.n):.2f}x parsing alone in one process ({t_parse * 1e6:.0f} us/response)")  # fmt: skip
    say(f"  peak memory {memory.describe()} (target < 2 GB)")

    # 2. the bootstrap at N, both methods on the same arrays
    del samples, gens, refs
    gc.collect()
    t = time.perf_counter()
    counted = with_method(True, lambda: ag.metrics_from_arrays(arrays, n_resamples=args.resamples, seed=0))
    t_counted = time.perf_counter() - t
    few = max(200, args.resamples // 5)
    t = time.perf_counter()
    drawn = with_method(False, lambda: ag.metrics_from_arrays(arrays, n_resamples=few, seed=0))
    t_drawn = (time.perf_counter() - t) * args.resamples / few
    check_same_points(counted, drawn)
    say(f"metrics at {args.n:,} with {args.resamples} resamples: strata/1 {t_counted:.1f}s vs the per-sample "
        f"bootstrap {t_drawn:.1f}s (measured at {few}, scaled) = {t_drawn / t_counted:.0f}x faster; "
        f"point estimates, n and Wilson intervals identical")  # fmt: skip

    # 3. compare of two N-sample runs
    other = other_model(arrays)
    t = time.perf_counter()
    paired = with_method(True, lambda: ag.compare_arrays(arrays, other, n_resamples=args.resamples, seed=0))
    t_cmp = time.perf_counter() - t
    t = time.perf_counter()
    paired_drawn = with_method(False, lambda: ag.compare_arrays(arrays, other, n_resamples=few, seed=0))
    t_cmp_drawn = (time.perf_counter() - t) * args.resamples / few
    for name, d in paired.differences.items():
        o = paired_drawn.differences[name]
        assert (d.value_a, d.value_b, d.diff) == (o.value_a, o.value_b, o.diff), name
        if d.diff is not None and d.ci_low is not None:
            assert d.ci_low <= d.diff <= d.ci_high, (name, d)
    say(f"compare of two {args.n:,}-sample runs in process, {len(paired.differences)} metrics, {args.resamples} "
        f"resamples: {t_cmp:.1f}s (target < 15 s with reading) vs the per-sample paired bootstrap "
        f"{t_cmp_drawn:.1f}s (at {few}, scaled) = {t_cmp_drawn / t_cmp:.0f}x")  # fmt: skip
    load = os.getloadavg()
    say(f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores)")
    if args.write_readme:
        write_readme(args, out)


def write_readme(args, lines: list[str]) -> None:
    cmd = " ".join(["bench/scale_bench.py", *sys.argv[1:]])
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    body = f"`.venv/bin/python {cmd}` ({when}, a 2-core machine shared with other jobs):\n\n```\n"
    body += "\n".join(lines) + "\n```\n"
    write_block("scale-bench", body)


if __name__ == "__main__":
    main()
