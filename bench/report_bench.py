"""The report stage on large inputs, as ratios against a plain ``json.load`` of the same files.

leaderboard: ``tag_bench.leaderboard`` with the ``main`` spec, LaTeX, over 5,000 run directories (4 tasks x
1,250 models; one real scored run per task from ``write_scaled_fixtures(n=20000)`` -- RAF-DB test 4,000
samples, the others what that layout holds -- copied 1,250 times under distinct model names with shifted
values; the leaderboard reads manifests and metrics, so the sample count only sizes the confusion
matrices). Target (issue 22): under 3 s. The baseline is ``json.load`` of every manifest.json and
metrics.json the leaderboard reads; stage times (finding, reading, the table, rendering) show where the
time goes.

compare: ``tag_bench.compare_runs`` on two runs of N samples each (default 100,000; RAF-DB copies
scored through ``score_predictions`` from the mixed-format synthetic corpus of ``score_bench``), every
metric of the table (per-class ones included), 1000 resamples. Targets: under 5 s at 100,000, under
15 s at 1,000,000 (issue 22; ``--n 1000000 --keep DIR`` keeps the two runs, ~10 min to build). The
baseline is
``json.loads`` of every line of both ``samples.jsonl`` plus both ``metrics.json`` and manifests,
measured in the same run; stage times show where the time goes.

html: the HTML report of a 4,000-sample run against decoding its images once (bench/html_report_bench.py,
run as its own process here).

Checked: the leaderboard has a row per model with a value in every column group; compare's values of every metric equal each run's
``metrics.json``.

    .venv/bin/python bench/report_bench.py [--part leaderboard|compare|html] [--n 100000] [--resamples 1000]
                                           [--write-readme] [--smoke]

``--write-readme``: the leaderboard's figures into README.md's ``<!-- generated:report-bench -->`` block,
compare's into ``<!-- generated:compare-bench -->``.

``--smoke``: a 500-sample fixture, 3 models per task (12 run directories), two 2,000-sample runs, 200 resamples, one
repetition (seconds; ``make bench-smoke``); the html part only when asked for (``--part html``), at its
own smoke size.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from readme_block import write_block
from score_bench import (
    cache_inputs,
    cli_inputs,
    synthetic_run,
)  # the sibling benchmark's generator (same folder)

from tag_bench.generate.predictions import score_predictions
from tag_bench.report.compare import FAITHFULNESS, compare_runs
from tag_bench.rundir import RunDir
from tag_bench.scoring.metric_table import spec
from tag_bench.store import gc_paused


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` timed calls (the least disturbed by other processes)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


# --------------------------------------------------------------------------------------------------
# leaderboard

MAIN_TASKS = ("rafdb_basic_test", "ferplus_test", "affectnet7_val", "affectnet8_val")


def build_leaderboard_runs(root: Path, n: int, models: int) -> list[Path]:
    """``models`` run directories per task of the ``main`` spec: one real scored run per task (random
    answers, 1000 resamples for the CIs), copied under distinct model names with shifted values."""
    from tag_bench.tasks import load_task
    from tag_bench.testing.fixtures import write_scaled_fixtures

    data = write_scaled_fixtures(root / "data", n=n)
    rng = random.Random(0)
    runs = []
    for task_name in MAIN_TASKS:
        task = load_task(task_name)
        samples = task.load(data[task_name.split("_")[0].rstrip("78")]).samples
        preds = root / "predictions" / f"{task_name}.jsonl"
        preds.parent.mkdir(parents=True, exist_ok=True)
        with open(preds, "w") as f:
            for s in samples:
                label = s.label if rng.random() < 0.6 else rng.choice(task.classes)
                f.write(json.dumps({"id": s.id, "response": f"<answer> {label} </answer>"}) + "\n")
        seed_run = score_predictions(
            task_name, preds, data_root=data[task_name.split("_")[0].rstrip("78")], out=root / "seed" / task_name,
            progress=False, name="seed",
        ).run_dir  # fmt: skip
        manifest = json.loads((seed_run / "manifest.json").read_text())
        metrics = json.loads((seed_run / "metrics.json").read_text())
        for m in range(models):
            shift = rng.uniform(-0.05, 0.05)
            out = root / "runs" / f"model-{m:03d}" / task_name
            out.mkdir(parents=True)
            manifest.update(name=f"model-{m:03d}", run_id=f"{task_name}-model-{m:03d}")
            (out / "manifest.json").write_text(json.dumps(manifest))
            shifted = json.loads(json.dumps(metrics))
            for value in shifted["metrics"].values():
                for key in ("value", "ci_low", "ci_high"):
                    if value.get(key) is not None:
                        value[key] = min(1.0, max(0.0, value[key] + shift))
            (out / "metrics.json").write_text(json.dumps(shifted))
            runs.append(out)
        print(f"  {task_name}: {len(samples):,} samples")
    return runs


def bench_leaderboard(n: int, models: int, repeat: int) -> dict[str, float]:
    from tag_bench.report.discover import discover_runs
    from tag_bench.report.frames import read_runs
    from tag_bench.report.leaderboard import leaderboard
    from tag_bench.report.render import render
    from tag_bench.report.spec import load_spec
    from tag_bench.report.table import build_table

    root = Path(tempfile.mkdtemp(prefix="tag-bench-leaderboard-"))
    try:
        t = time.perf_counter()
        runs = build_leaderboard_runs(root, n, models)
        print(f"built {len(runs)} run directories in {time.perf_counter() - t:.0f}s (not timed below)")
        board = leaderboard([root / "runs"], spec="main", fmt="latex")
        assert len(board.table.rows) == models, (len(board.table.rows), models)
        assert len(board.table.groups) == len(MAIN_TASKS), [g.title for g in board.table.groups]
        for row in board.table.rows:
            assert all(cells[0].value is not None for cells in row.cells), row.name
        assert board.text.count(r" \\") >= models and "model-000" in board.text
        files = [d / name for d in runs for name in ("manifest.json", "metrics.json")]

        def plain() -> None:
            for path in files:
                with open(path, encoding="utf-8") as f:
                    json.load(f)

        load = os.getloadavg()[0]  # as the timing starts
        t_json = best_of(plain, repeat)
        t_board = best_of(lambda: leaderboard([root / "runs"], spec="main", fmt="latex"), repeat)
        # the same stages one by one, to show where the time goes
        spec = load_spec("main")
        stages: dict[str, float] = {}
        t = time.perf_counter()
        found = discover_runs([root / "runs"])
        stages["find"] = time.perf_counter() - t
        assert len(found.runs) == len(runs)
        t = time.perf_counter()
        loaded = read_runs([root / "runs"], references=spec.references)
        stages["find + read"] = time.perf_counter() - t
        t = time.perf_counter()
        table = build_table(loaded.runs, spec)
        stages["table"] = time.perf_counter() - t
        t = time.perf_counter()
        render(table, "latex")
        stages["render"] = time.perf_counter() - t
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"leaderboard --spec main --format latex over {len(runs)} run directories "
        f"({len(board.table.rows)} rows): {t_board:.2f}s (target < 3 s) = {t_board / t_json:.1f}x a plain "
        f"json.load of their {len(files)} manifest and metrics files ({t_json:.2f}s)"
    )
    print("  stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in stages.items()))
    return {"leaderboard_s": t_board, "json_load_s": t_json, "ratio": t_board / t_json, "runs": len(runs),
            "load": load, **{f"{k}_s": v for k, v in stages.items()}}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# compare


def build_compare_runs(root: Path, n: int, *, changed: float = 0.1) -> tuple[Path, Path]:
    """Two scored RAF-DB runs of ``n`` samples: BASE, and NEW with ``changed`` of its responses drawn
    from another synthetic model. Both go through ``score_predictions`` (replay, parse, score, write).

    AU references: a JSONL of one record per sample up to 200,000 samples; beyond, the AU cache (its
    images are hard links to a few files, so it holds a few records): 1M references read from a JSONL
    are ~18 GB of records, more than this machine has beside the rest."""
    samples, gens, refs = synthetic_run(n, seed=0)
    rng = random.Random(2)
    picked = {sid for sid in gens if rng.random() < changed}
    _, other, _ = synthetic_run(n, seed=1)
    new_gens = {sid: (other[sid] if sid in picked and sid in other else g) for sid, g in gens.items()}
    del other
    inputs = []
    for side, side_gens in (("base", gens), ("new", new_gens)):
        data, preds, ref_path = cli_inputs(root / side, samples, side_gens, refs)
        spec: str = str(ref_path)
        cache = None
        if n > 200_000:
            ref_path.unlink()
            spec, cache = cache_inputs(root / side, data, refs)
        inputs.append((side, data, preds, spec, cache))
    del samples, gens, new_gens, refs
    gc.collect()
    runs = []
    for side, data, preds, spec, cache in inputs:
        before = os.environ.get("TAG_BENCH_CACHE")
        if cache is not None:
            os.environ["TAG_BENCH_CACHE"] = str(cache)
        try:
            result = score_predictions(
                "rafdb_basic_test", preds, data_root=data, au_reference=spec, out=root / side / "run",
                n_resamples=0, progress=False, name=f"synthetic-{side}",
            )  # fmt: skip
        finally:
            if before is None:
                os.environ.pop("TAG_BENCH_CACHE", None)
            else:
                os.environ["TAG_BENCH_CACHE"] = before
        runs.append(result.run_dir)
        gc.collect()
    return runs[0], runs[1]


def plain_json_load(run_dirs: tuple[Path, ...]) -> None:
    """The baseline: every file compare reads, parsed by the json module and nothing else (with the
    cyclic GC paused, as compare reads: with it running, the baseline itself is about 2x slower)."""
    with gc_paused():
        _json_load(run_dirs)


def _json_load(run_dirs: tuple[Path, ...]) -> None:
    for d in run_dirs:
        run = RunDir(d)
        for path in (run.manifest_path, run.metrics_path):
            with open(path, encoding="utf-8") as f:
                json.load(f)
        with open(run.samples_path, encoding="utf-8") as f:
            [json.loads(line) for line in f]


def time_reading(run_dirs: tuple[Path, ...]) -> float:
    """Seconds to read and validate every scored sample of the runs (freeing them is not counted)."""
    gc.collect()
    t = time.perf_counter()
    records = [RunDir(d).read_scored() for d in run_dirs]
    elapsed = time.perf_counter() - t
    del records
    return elapsed


def check_compare(result, base: Path, new: Path) -> None:
    """Assert that compare's value of every metric is the one in each run's metrics.json (to rounding:
    compare sums the per-sample rows in another order). Faithfulness metrics are compared per
    intervention fill, and these runs have none."""
    (task,) = result.tasks
    for side, run in (("base", base), ("new", new)):
        stored = json.loads(RunDir(run).metrics_path.read_text())["metrics"]
        stored = {k: v for k, v in stored.items() if spec(k).group != FAITHFULNESS}
        assert {m.metric for m in task.metrics} == set(stored), (side, "compare and metrics.json differ")
        for m in task.metrics:
            got, want = getattr(m, f"value_{side}"), stored[m.metric]["value"]
            same = got == want or (
                got is not None and want is not None and math.isclose(got, want, rel_tol=1e-12)
            )
            assert same, (side, m.metric, got, want)


def bench_compare(n: int, resamples: int, repeat: int, keep: Path | None = None) -> dict[str, float]:
    root = keep or Path(tempfile.mkdtemp(prefix="tag-bench-compare-"))
    try:
        base, new = root / "base" / "run", root / "new" / "run"
        if not (keep and (new / "samples.jsonl").exists()):
            t = time.perf_counter()
            base, new = build_compare_runs(root, n)
            print(f"built two scored {n:,}-sample runs in {time.perf_counter() - t:.0f}s (not timed below)")
        result = compare_runs(base, new, metrics="all", n_resamples=resamples)
        check_compare(result, base, new)
        t_json = best_of(lambda: plain_json_load((base, new)), repeat)
        # 2 x N validated records: beyond 200k they would not fit beside the rest in memory
        t_read = min(time_reading((base, new)) for _ in range(repeat)) if n <= 200_000 else math.nan
        t_compare = best_of(lambda: compare_runs(base, new, metrics="all", n_resamples=resamples), repeat)
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    task = result.tasks[0]
    print(
        f"compare_runs, {n:,} vs {n:,} samples, {len(task.metrics)} metrics, {resamples} resamples: "
        f"{t_compare:.2f}s (target < {5 if n <= 100_000 else 15} s) = {t_compare / t_json:.1f}x a plain "
        f"json.load of the same files ({t_json:.2f}s)"
        + (
            ""
            if math.isnan(t_read)
            else f"; reading both samples.jsonl into validated records alone takes {t_read:.2f}s"
        )
    )
    acc = next(m for m in task.metrics if m.metric == "accuracy")
    print(
        f"  accuracy {acc.value_base:.3f} -> {acc.value_new:.3f} (McNemar p {acc.p_value:.2g}); verdicts: "
        + ", ".join(
            f"{v} {sum(m.verdict == v for m in task.metrics)}"
            for v in sorted({m.verdict for m in task.metrics})
        )
    )
    return {"compare_s": t_compare, "json_load_s": t_json, "read_s": t_read, "ratio": t_compare / t_json,
            "load": os.getloadavg()[0]}  # fmt: skip


# --------------------------------------------------------------------------------------------------


def write_readme(board: dict[str, float]) -> None:
    """The leaderboard's figures into README.md's generated:report-bench block."""
    body = (
        f"- `tag-bench leaderboard --spec main --format latex` over {board['runs']:,} run directories "
        f"(`bench/report_bench.py --part leaderboard`; load average {board['load']:.1f} on {os.cpu_count()} cores): "
        f"{board['leaderboard_s']:.2f} s, {board['ratio']:.1f}× a bare `json.load` of their manifest and metrics "
        f"files ({board['json_load_s']:.2f} s). Target: < 3 s.\n"
    )
    write_block("report-bench", body)


def write_compare_readme(n: int, resamples: int, figures: dict[str, float]) -> None:
    """Compare's figures into README.md's generated:compare-bench block."""
    target = 5 if n <= 100_000 else 15
    write_block("compare-bench", (
        f"- `tag_bench.compare_runs` of two {n:,}-sample runs read from disk, every metric, {resamples} resamples "
        f"(`bench/report_bench.py --part compare --n {n}`; load average {figures['load']:.1f} on {os.cpu_count()} "
        f"cores): {figures['compare_s']:.1f} s, {figures['ratio']:.2f}× a bare `json.loads` of the same files "
        f"({figures['json_load_s']:.1f} s). Target: < {target} s."
    ))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=["leaderboard", "compare", "html", "all"], default="all")
    ap.add_argument("--runs-n", type=int, default=20000, help="scaled fixture size (leaderboard)")
    ap.add_argument("--models", type=int, default=1250, help="models per task (leaderboard)")
    ap.add_argument("--n", type=int, default=100_000, help="samples per run (compare)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions (the fastest is reported)")
    ap.add_argument("--keep", type=Path, help="build the runs in this folder once and reuse them")
    ap.add_argument("--write-readme", action="store_true", help="write the figures into README.md")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    if args.smoke:
        ap.set_defaults(runs_n=500, models=3, n=2_000, resamples=200, repeat=1)
        args = ap.parse_args()
    if args.write_readme and (args.smoke or args.part not in ("leaderboard", "compare", "all")):
        ap.error("--write-readme needs the full-size leaderboard or compare part (no --smoke)")

    def compare() -> None:
        figures = bench_compare(args.n, args.resamples, args.repeat, args.keep)
        if args.write_readme:
            write_compare_readme(args.n, args.resamples, figures)

    def board() -> None:
        figures = bench_leaderboard(args.runs_n, args.models, args.repeat)
        if args.write_readme:
            write_readme(figures)

    parts: dict[str, Callable[[], object]] = {
        "leaderboard": board,
        "compare": compare,
        "html": lambda: subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("html_report_bench.py")),
                *["--smoke"] * args.smoke,
            ],
            check=True,
        ),
    }
    for name, part in parts.items():
        if name == "html" and args.smoke and args.part == "all":
            print("html: skipped (make bench-smoke runs html_report_bench.py --smoke itself)")
        elif args.part in (name, "all"):
            part()


if __name__ == "__main__":
    main()
