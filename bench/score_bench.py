"""Parse and score synthetic VLM responses (every supported format) with 1000-resample CIs.

1. tag-bench on N responses (default 200,000): parse + score every sample (streamed into metric
   arrays) + every metric of specs/metrics.md with its bootstrap CI. Prints samples/s, stage times and
   peak memory. Targets: under 20 s in all on the 2-core dev machine, peak memory under 2 GB.
2. The same work done the straightforward way (per-sample Python, scikit-learn metrics recomputed on
   each bootstrap resample) on a subset, against tag-bench on the same subset, in the same run.
   Target: >= 20x. The naive loop is far too slow for all N, hence the subset.
3. The command line: ``tag-bench score --task rafdb_basic_test --predictions P --au-reference R.jsonl``
   on N predictions of a generated RAF-DB copy with N test images (the same responses and references
   as in 1., read from JSONL files), everything included: indexing, writing the run directory,
   parsing, scoring, samples.jsonl, metrics with CIs. Target: within 2x of the in-process time of 1.

    .venv/bin/python bench/score_bench.py [--n 200000] [--naive-n 2000] [--resamples 1000] [--workers K]
                                          [--skip-cli]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from tag_bench.geometry import center, contains_point, iou
from tag_bench.parsing import parse_response
from tag_bench.schema import CANONICAL_EMOTIONS, AUReference, AUState, Generation, Sample
from tag_bench.scoring.aggregate import metrics_from_arrays
from tag_bench.scoring.run import ReferenceSet, score_arrays
from tag_bench.testing.corpus import mixed_corpus

CLASSES = list(CANONICAL_EMOTIONS)
REF_ID = "synthetic@1"
AUS = [
    "AU1",
    "AU2",
    "AU4",
    "AU5",
    "AU6",
    "AU7",
    "AU9",
    "AU12",
    "AU15",
    "AU17",
    "AU20",
    "AU23",
    "AU25",
    "AU26",
]


def synthetic_run(n: int, seed: int = 0):
    """Samples, generations and AU references for ``n`` mixed-format responses."""
    corpus = mixed_corpus(n, seed=seed)
    rng = random.Random(seed)
    pool: dict[tuple[int, int], list[AUReference]] = {}
    for size in sorted({r.image_size for r in corpus}):
        w, h = size
        pool[size] = []
        for k in range(8):
            aus = {}
            for au in AUS:
                x, y = rng.uniform(0, 0.7 * w), rng.uniform(0, 0.7 * h)
                score = rng.random()
                aus[au] = AUState(score=score, active=score >= 0.6, box=[x, y, x + 0.2 * w, y + 0.2 * h])
            pool[size].append(AUReference(reference_id=REF_ID, detector="synthetic", version="1", status="ok",
                                          threshold=0.6, sample_id=f"pool{k}", aus=aus))  # fmt: skip
    samples, gens, refs = [], {}, {}
    for i, r in enumerate(corpus):
        sid = f"s{i:06d}"
        gold = r.label if (r.label in CLASSES and rng.random() < 0.6) else rng.choice(CLASSES)
        samples.append(
            Sample(
                id=sid, dataset="synthetic", split="test", image="/dev/null", label=gold, native_label=gold
            )
        )
        if rng.random() < 0.01:
            continue  # a few missing generations, as in real runs
        gens[sid] = Generation(sample_id=sid, text=r.text, frame=r.frame, image_size=r.image_size,
                               input_size=r.input_size, finish_reason=r.finish_reason)  # fmt: skip
        refs[sid] = pool[r.image_size][i % 8]
    return samples, gens, ReferenceSet(REF_ID, refs)


def tag_bench_pipeline(samples, gens, refs, *, resamples: int, workers: int | None, sink=None):
    t0 = time.perf_counter()
    arrays = score_arrays(samples, gens, CLASSES, refs, workers=workers, sink=sink)
    t1 = time.perf_counter()
    report = metrics_from_arrays(arrays, n_resamples=resamples, seed=0)
    t2 = time.perf_counter()
    return report, t1 - t0, t2 - t1


def naive_pipeline(samples, gens, refs, *, resamples: int):
    """Per-sample Python + scikit-learn on every resample: what one writes without thinking of speed."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        precision_recall_fscore_support,
    )

    rows = []
    for s in samples:
        g = gens.get(s.id)
        p = None
        if g is not None:
            p = parse_response(g.text, g.frame, g.image_size, g.input_size, g.finish_reason, CLASSES)
        ref = refs.by_sample.get(s.id)
        ok = p is not None and p.status == "ok"
        pred = p.label if ok else "__failed__"
        ious, centers = [], []
        cited = set(p.aus) | {e.au for e in p.evidence if e.au} if p is not None else set()
        active = {au for au, st in ref.aus.items() if st.active} if ref is not None else set()
        for e in p.evidence if p is not None else []:
            if e.au is None or e.box is None:
                continue
            region = ref.aus[e.au].box if ref is not None and e.au in ref.aus else None
            ious.append(iou(e.box, region) if region else 0.0)
            centers.append(bool(region) and contains_point(region, *center(e.box)))
        judged = {a for a in cited if ref is not None and a in ref.aus}
        halluc = {a for a in judged if a not in active}
        rows.append({"gold": s.label, "pred": pred, "ok": ok, "box": bool(ious) or any(e.box for e in (p.evidence if p else [])),
                     "ious": ious, "centers": centers, "judged": judged, "halluc": halluc, "active": active,
                     "cited": cited})  # fmt: skip

    def metrics(idx) -> dict[str, float]:
        rs = [rows[i] for i in idx]
        y_true, y_pred = [r["gold"] for r in rs], [r["pred"] for r in rs]
        out = {
            "accuracy": accuracy_score(y_true, y_pred),
            "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
            "macro_f1": f1_score(y_true, y_pred, labels=CLASSES, average="macro", zero_division=0),
        }
        prec, rec, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=CLASSES, zero_division=0)
        for c, a, b, d in zip(CLASSES, prec, rec, f1, strict=True):
            out[f"precision/{c}"], out[f"recall/{c}"], out[f"f1/{c}"] = a, b, d
        ious = [v for r in rs for v in r["ious"]]
        centers = [v for r in rs for v in r["centers"]]
        judged = sum(len(r["judged"]) for r in rs)
        out["parse_failure_rate"] = sum(not r["ok"] for r in rs) / len(rs)
        out["box_rate"] = sum(r["box"] for r in rs) / len(rs)
        out["au_box_iou"] = sum(ious) / len(ious) if ious else float("nan")
        out["grounding_precision@0.5"] = sum(v >= 0.5 for v in ious) / len(ious) if ious else float("nan")
        out["grounding_precision@0.3"] = sum(v >= 0.3 for v in ious) / len(ious) if ious else float("nan")
        out["pointing_accuracy"] = sum(centers) / len(centers) if centers else float("nan")
        out["hallucinated_au_rate"] = sum(len(r["halluc"]) for r in rs) / judged if judged else float("nan")
        act = sum(len(r["active"]) for r in rs)
        out["au_recall"] = sum(len(r["active"] & r["cited"]) for r in rs) / act if act else float("nan")
        return out

    n = len(rows)
    point = metrics(range(n))
    rng = np.random.default_rng(0)
    dist: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(resamples):
        m = metrics(rng.integers(0, n, n))
        for k, v in m.items():
            dist[k].append(v)
    ci = {k: (np.nanpercentile(v, 2.5), np.nanpercentile(v, 97.5)) for k, v in dist.items()}
    return point, ci


def cli_inputs(root: Path, samples, gens, refs) -> tuple[Path, Path, Path]:
    """A RAF-DB official copy with one test image per sample (hard links to one JPEG), and the
    predictions and AU references of ``synthetic_run`` as JSONL keyed by its sample ids."""
    from PIL import Image

    from tag_bench.data._common import RAFDB_ORDER

    raf = root / "rafdb" / "basic"
    aligned = raf / "Image" / "aligned"
    aligned.mkdir(parents=True)
    sources = []  # file systems cap the links to one file (ext4: 65,000)
    for k in range(len(samples) // 50_000 + 1):
        sources.append(root / f"face{k}.jpg")
        Image.new("RGB", (100, 100), (128, 100, 90 + k)).save(sources[-1], quality=90)
    native = {c: i + 1 for i, c in enumerate(RAFDB_ORDER)}
    names, lines = {}, []
    for i, s in enumerate(samples):
        stem = f"test_{i + 1:06d}"
        names[s.id] = f"rafdb/{stem}"
        os.link(sources[i // 50_000], aligned / f"{stem}_aligned.jpg")
        lines.append(f"{stem}.jpg {native.get(s.label, 7)}\n")
    (raf / "EmoLabel").mkdir(parents=True)
    (raf / "EmoLabel" / "list_patition_label.txt").write_text("".join(lines))
    preds = root / "predictions.jsonl"
    with open(preds, "w") as f:
        for sid, g in gens.items():
            line = {"id": names[sid], "response": g.text, "frame": g.frame, "finish_reason": g.finish_reason}
            if g.input_size:
                line["input_size"] = list(g.input_size)
            f.write(json.dumps(line) + "\n")
    ref_path = root / "references.jsonl"
    with open(ref_path, "w") as f:
        for sid, ref in refs.by_sample.items():
            f.write(ref.model_copy(update={"sample_id": names[sid]}).model_dump_json() + "\n")
    return raf.parent, preds, ref_path


def cli_path(root: Path, data: Path, preds: Path, refs: Path, resamples: int) -> float:
    out = root / "run"
    cmd = [sys.executable, "-m", "tag_bench", "score", "--task", "rafdb_basic_test", "--data-root", str(data),
           "--predictions", str(preds), "--au-reference", str(refs), "--out", str(out), "--n-resamples",
           str(resamples), "--no-progress", "--json"]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"tag-bench score failed:\n{proc.stderr[-2000:]}")
    return elapsed


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset (Linux VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--naive-n", type=int, default=2_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=None, help="scoring processes (default: automatic)")
    ap.add_argument("--skip-cli", action="store_true", help="skip part 3 (the command line)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")

    # 2. the naive loop and tag-bench on the same subset
    small = synthetic_run(args.naive_n, seed=1)
    t = time.perf_counter()
    naive_point, _ = naive_pipeline(*small, resamples=args.resamples)
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    fast, _, _ = tag_bench_pipeline(*small, resamples=args.resamples, workers=1)
    t_fast = time.perf_counter() - t
    for name in ("accuracy", "balanced_accuracy", "macro_f1", "parse_failure_rate", "au_box_iou"):
        assert abs(naive_point[name] - fast.metrics[name].value) < 1e-9, (
            name,
            naive_point[name],
            fast.metrics[name],
        )
    print(f"naive loop vs tag-bench on {args.naive_n:,} responses x {args.resamples} resamples: "
          f"{t_naive:.2f}s vs {t_fast:.2f}s = {t_naive / t_fast:.0f}x  (target >= 20x; point estimates agree)")  # fmt: skip

    # 1. full size
    t = time.perf_counter()
    samples, gens, refs = synthetic_run(args.n, seed=0)
    print(f"built {len(samples):,} synthetic samples in {time.perf_counter() - t:.1f}s (not timed below)")
    gc.collect()
    base = peak_rss_mb()
    exact = reset_peak_rss()
    report, t_score, t_metrics = tag_bench_pipeline(
        samples, gens, refs, resamples=args.resamples, workers=args.workers
    )
    total = t_score + t_metrics
    peak = peak_rss_mb()
    print(f"tag-bench on {args.n:,} responses: parse+score {t_score:.1f}s, {len(report.metrics)} metrics with "
          f"{args.resamples}-resample CIs {t_metrics:.1f}s, total {total:.1f}s = {args.n / total:,.0f} samples/s "
          f"(target < 20 s)")  # fmt: skip
    print(f"peak memory: {peak:,.0f} MB in this process ({'since scoring began' if exact else 'whole run'}; "
          f"{base:,.0f} MB before: the inputs)  (target < 2 GB; scoring workers, if any, hold one chunk each)")  # fmt: skip
    m = report.metrics
    print("  accuracy {:.3f} [{:.3f}, {:.3f}]  parse_failure_rate {:.3f}  au_box_iou {:.3f}  status {}".format(
        m["accuracy"].value, m["accuracy"].ci_low, m["accuracy"].ci_high, m["parse_failure_rate"].value,
        m["au_box_iou"].value, {k: v for k, v in report.status_counts.items() if v}))  # fmt: skip
    print(f"  (cores: {os.cpu_count()})")

    # 3. the command line on the same responses and references
    if args.skip_cli:
        return
    root = Path(tempfile.mkdtemp(prefix="tag-bench-score-cli-"))
    try:
        t = time.perf_counter()
        data, preds, ref_path = cli_inputs(root, samples, gens, refs)
        print(
            f"wrote a {args.n:,}-image RAF-DB copy, predictions and references in {time.perf_counter() - t:.1f}s"
        )
        del samples, gens, refs, report
        gc.collect()
        t_cli = cli_path(root, data, preds, ref_path, args.resamples)
        print(f"tag-bench score --predictions on {args.n:,} predictions: {t_cli:.1f}s = {args.n / t_cli:,.0f} "
              f"samples/s, {t_cli / total:.2f}x the in-process time (target <= 2x)")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
