"""Judged preference: what the judge stage costs over the judge's own calls, and how fast the fits are.

1. **Orchestration.** Two baseline runs (``facs-rules``, ``random``) on S generated RAF-DB faces are
   judged by an ``openai`` judge against the loopback chat server (``placed_boxes_judge``, a fixed reply
   latency standing in for a real judge): ``judge_runs`` end to end (candidates read, canonical traces,
   images drawn, cache keys, records appended; no cache, no bootstrap), against the **bare adapter
   calls**: the very same requests, built beforehand, sent through ``adapter.generate`` in the same
   batches. Both in one run, best of R passes; target ratio <= 1.10.
2. **Fits.** Plain Bradley-Terry with 1000 bootstrap resamples over samples, 10 models x 10,000
   comparisons (ties included): target < 2 s on 2 cores. The length-controlled fit (a covariate per
   comparison: a Newton step touches every comparison) on the same data is timed separately.

    .venv/bin/python bench/judge_bench.py [--samples 40] [--latency 0.1] [--repeat 2] [--smoke]

``--smoke``: 6 samples, one pass, 1,000 comparisons and 200 resamples (seconds; ``make bench-smoke``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _candidates(root: Path, n: int) -> list[Path]:
    from tag_bench.generate.evaluate import evaluate
    from tag_bench.testing.fixtures.scaled import write_scaled_fixtures

    data = write_scaled_fixtures(root / "data", n=5 * n, seed=0, pool=8)["rafdb"]
    out = []
    for model in ("facs-rules", "random"):
        evaluate("rafdb_basic_test", model, data_root=data, out=root / model, progress=False, n_resamples=0,
                 au_reference="mediapipe-blendshapes")  # fmt: skip
        out.append(root / model)
    return out


def orchestration(root: Path, runs: list[Path], latency: float, repeat: int) -> tuple[float, float, int]:
    """(best judge_runs seconds, best bare-adapter seconds, calls)."""
    from tag_bench.judge import judge_runs
    from tag_bench.judge.study import Call, _Study, plan_study
    from tag_bench.models.base import get_model
    from tag_bench.testing.chat_server import ChatServer, placed_boxes_judge

    with ChatServer(reply=placed_boxes_judge, latency=latency) as srv:
        args = {"model": "bench-judge", "base_url": srv.base_url, "concurrency": 4, "max_retries": 0}
        # the bare calls: the same requests, prepared outside the clock
        plan = plan_study(runs, "openai", args, out=root / "plan")
        study = _Study(plan)
        calls = [
            Call(sid, a, b) for sid in plan.sample_ids for i, j in plan.pairs for a, b in ((i, j), (j, i))
        ]
        requests = [study.request(study.prepare(c)) for c in calls]
        plan.adapter.close()
        adapter = get_model("openai", args)
        step = adapter.requests_in_flight
        adapter.generate(requests[:step])  # warm the connection pool
        judged, bare = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for k in range(0, len(requests), step):
                outs = adapter.generate(requests[k : k + step])
                assert all(o.error is None for o in outs), outs
            bare.append(time.perf_counter() - t0)
            shutil.rmtree(root / "judge", ignore_errors=True)
            t0 = time.perf_counter()
            result = judge_runs(
                runs, "openai", args, out=root / "judge", progress=False, cache=False, n_resamples=0
            )
            judged.append(time.perf_counter() - t0)
            assert result.calls == len(requests) and result.report.status_counts["judge_failed"] == 0
        adapter.close()
    return min(judged), min(bare), len(requests)


def fits(n_models: int, n_comparisons: int, n_resamples: int) -> tuple[float, float]:
    """(plain fit + bootstrap seconds, length-controlled fit + bootstrap seconds)."""
    from tag_bench.metrics.preference import Comparisons, bradley_terry

    rng = np.random.default_rng(0)
    strength = rng.normal(size=n_models)
    i = rng.integers(0, n_models, n_comparisons)
    j = (i + rng.integers(1, n_models, n_comparisons)) % n_models
    p = 1 / (1 + np.exp(-(strength[i] - strength[j])))
    u = rng.random(n_comparisons)
    y = np.where(u < 0.85 * p, 1.0, np.where(u < 0.85 * p + 0.15, 0.5, 0.0))
    n_samples = n_comparisons // 2
    comps = Comparisons(n_models, n_samples, i, j, y, rng.integers(0, n_samples, n_comparisons),
                        rng.uniform(-1, 1, n_comparisons))  # fmt: skip
    t0 = time.perf_counter()
    plain = bradley_terry(comps, n_resamples=n_resamples)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    lc = bradley_terry(comps, covariate=True, n_resamples=n_resamples)
    t_lc = time.perf_counter() - t0
    assert plain.distribution is not None and np.isfinite(plain.distribution).all()
    assert lc.distribution is not None and np.isfinite(lc.distribution).all()
    assert np.corrcoef(plain.rating, strength)[0, 1] > 0.9  # the fit finds the strengths it was given
    return t_plain, t_lc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=40, help="samples judged (x 2 orders = judge calls)")
    ap.add_argument("--latency", type=float, default=0.1, help="seconds the loopback judge takes per reply")
    ap.add_argument("--repeat", type=int, default=2, help="passes (best of)")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    n_models, n_comp, n_res = 10, 10_000, 1000
    if args.smoke:
        args.samples, args.repeat, n_comp, n_res = 6, 1, 1000, 200
    os.environ.setdefault("TAG_BENCH_CACHE", tempfile.mkdtemp(prefix="tag-bench-judge-bench-cache-"))
    root = Path(tempfile.mkdtemp(prefix="tag-bench-judge-bench-"))
    try:
        runs = _candidates(root, args.samples)
        t_judge, t_bare, calls = orchestration(root, runs, args.latency, args.repeat)
        t_plain, t_lc = fits(n_models, n_comp, n_res)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = t_judge / t_bare
    print(f"judge orchestration: {calls} judge calls (2 runs x {args.samples} samples x 2 orders), loopback judge "
          f"{args.latency:g} s per reply, 4 in flight, best of {args.repeat}")  # fmt: skip
    print(f"  bare adapter calls   {t_bare:7.2f} s   (baseline)")
    print(f"  tag-bench judge      {t_judge:7.2f} s   {ratio:5.2f}x bare   (target <= 1.10x)")
    print(f"fits: {n_models} models x {n_comp:,} comparisons, {n_res} bootstrap resamples over samples")
    print(f"  Bradley-Terry + bootstrap                  {t_plain:6.2f} s   (target < 2 s)")
    print(f"  length-controlled Bradley-Terry + bootstrap {t_lc:5.2f} s   (reported separately)")
    ok = ratio <= 1.10 and t_plain < 2.0
    if not args.smoke and not ok:
        print("TARGET MISSED")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
