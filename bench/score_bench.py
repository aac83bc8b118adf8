"""Parse and score synthetic VLM responses (every supported format) with 1000-resample CIs.

1. tag-bench on N responses (default 200,000): parse + score every sample (streamed into metric
   arrays) + every metric of specs/metrics.md with its bootstrap CI. Prints samples/s, stage times and
   peak memory (this process, and each scoring worker's own: ``worker_memory``). Targets: under 20 s in
   all on the 2-core dev machine, peak memory under 2 GB.
2. The same work done the straightforward way (per-sample Python, scikit-learn metrics recomputed on
   each bootstrap resample) on a subset, against tag-bench on the same subset, in the same run.
   Target: >= 20x. The naive loop is far too slow for all N, hence the subset. The subset also holds
   the cases real runs hold (failed calls, answers outside a 7-class task, references without a face
   or without a record, AUs judged by score only or not at all, regions given as per-side boxes), and
   every metric of the naive loop, each written from its definition in docs/metrics.md, must equal
   tag-bench's point estimate (asserted; a metric it does not know is listed as unchecked).
3. The command line: ``tag-bench score --task rafdb_basic_test --predictions P --au-reference R.jsonl``
   on N predictions of a generated RAF-DB copy with N test image files, each with its own bytes (the
   same responses and references as in 1., read from JSONL files in the first run on these images,
   then from an AU cache with one record per image and the image ids remembered, as ``tag-bench au
   detect`` leaves it), everything included: indexing, each image's size and id (read from the file,
   or known from its stat data: ``tag_bench.file_ids``), writing the
   run directory, parsing, scoring, samples.jsonl, metrics with CIs. Target: within 2x of the
   in-process time of 1. Beside it, the floor under that ratio (``io_floor``): the CPU time of bare
   library calls reading and writing the same files (JSONL references), spread over the cores, added
   to the in-process time.

``--write-readme`` replaces the README's block between ``<!-- generated:score-bench -->`` and its end
marker with the figures of this run (command, machine load, date).

    .venv/bin/python bench/score_bench.py [--n 200000] [--naive-n 2000] [--resamples 1000] [--workers K]
                                          [--skip-cli] [--write-readme] [--smoke]

``--smoke`` (seconds; ``make bench-smoke``): N 3,000, a 500-sample subset, 200 resamples (the fewest
tag-bench accepts), and part 1 scored in 2 processes so that the parallel path (and the workers' memory
reading) runs as it does at full size.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
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
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from readme_block import write_block

from tag_bench._forkmap import usable_cpus
from tag_bench.facs import EMFACS_PROTOTYPES, NON_EXPRESSIVE_AUS
from tag_bench.geometry import center, contains_point, iou
from tag_bench.metrics.grounding import normalise_au
from tag_bench.parsing import parse_response
from tag_bench.schema import CANONICAL_EMOTIONS, AUReference, AUState, Generation, MetricsReport, Sample
from tag_bench.scoring.aggregate import RunFacts, metrics_from_arrays
from tag_bench.scoring.features import PARSE_FAILURES
from tag_bench.scoring.run import ReferenceSet, score_arrays
from tag_bench.testing.corpus import mixed_corpus

CLASSES = list(CANONICAL_EMOTIONS)
#: the subset checked against the naive loop: a 7-class task, so that contempt answers are invalid labels
CLASSES7 = [c for c in CANONICAL_EMOTIONS if c != "contempt"]
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


#: The generate stage of the synthetic run: model calls and wall seconds (for throughput_samples_s).
STAGE = {"model_calls": 1_000.0, "generate_seconds": 125.0}


def _usage(rng: random.Random) -> dict[str, float | int | None]:
    """What an adapter records about one call: latency and token counts, each sometimes missing."""
    return {
        "latency_s": rng.expovariate(4.0) if rng.random() < 0.9 else None,
        "input_tokens": rng.randrange(200, 1200) if rng.random() < 0.8 else None,
        "output_tokens": rng.randrange(5, 400) if rng.random() < 0.8 else None,
    }


def _edge_state(rng: random.Random, box: list[float], score: float) -> AUState:
    """An AU judged by its score and the reference's threshold, judged by nothing, or located by its
    per-side boxes only (no merged box)."""
    kind = rng.randrange(3)
    if kind == 0:
        return AUState(score=score, box=box)
    if kind == 1:
        return AUState(box=box)
    x1, y1, x2, y2 = box
    mid = (x1 + x2) / 2
    return AUState(score=score, active=score >= 0.6, boxes=[[x1, y1, mid - 1, y2], [mid + 1, y1, x2, y2]])


def synthetic_run(n: int, seed: int = 0, *, classes: list[str] = CLASSES, edge_cases: bool = False):
    """Samples, generations and AU references for ``n`` mixed-format responses.

    ``edge_cases`` adds failed calls, references without a face or without a record, and unusual AU
    states (:func:`_edge_state`); it draws from its own generator, so the rest is the same either way.
    """
    corpus = mixed_corpus(n, seed=seed)
    rng = random.Random(seed)
    edge = random.Random(seed + 1_000_003)
    usage = random.Random(seed + 2_000_003)  # its own stream, like ``edge``
    pool: dict[tuple[int, int], list[AUReference]] = {}
    no_face: dict[tuple[int, int], AUReference] = {}
    for size in sorted({r.image_size for r in corpus}):
        w, h = size
        pool[size] = []
        for k in range(8):
            aus = {}
            for au in AUS:
                x, y = rng.uniform(0, 0.7 * w), rng.uniform(0, 0.7 * h)
                score = rng.random()
                box = [x, y, x + 0.2 * w, y + 0.2 * h]
                aus[au] = AUState(score=score, active=score >= 0.6, box=box)
                if edge_cases and edge.random() < 0.3:
                    aus[au] = _edge_state(edge, box, score)
            pool[size].append(AUReference(reference_id=REF_ID, detector="synthetic", version="1", status="ok",
                                          threshold=0.6, sample_id=f"pool{k}", aus=aus))  # fmt: skip
        no_face[size] = AUReference(reference_id=REF_ID, detector="synthetic", version="1", status="no_face",
                                    threshold=0.6, sample_id="no_face")  # fmt: skip
    samples, gens, refs = [], {}, {}
    for i, r in enumerate(corpus):
        sid = f"s{i:06d}"
        gold = r.label if (r.label in classes and rng.random() < 0.6) else rng.choice(classes)
        samples.append(
            Sample(
                id=sid, dataset="synthetic", split="test", image="/dev/null", label=gold, native_label=gold
            )
        )
        if rng.random() < 0.01:
            continue  # a few missing generations, as in real runs
        if edge_cases and edge.random() < 0.02:
            gens[sid] = Generation(
                sample_id=sid, status="error", error="connection reset", image_size=r.image_size
            )
        else:
            gens[sid] = Generation(sample_id=sid, text=r.text, frame=r.frame, image_size=r.image_size,
                                   input_size=r.input_size, finish_reason=r.finish_reason,
                                   **_usage(usage))  # fmt: skip
        refs[sid] = pool[r.image_size][i % 8]
        if edge_cases:
            roll = edge.random()
            if roll < 0.03:
                del refs[sid]  # no record for this image
            elif roll < 0.08:
                refs[sid] = no_face[r.image_size]
    return samples, gens, ReferenceSet(REF_ID, refs)


def tag_bench_pipeline(samples, gens, refs, *, resamples: int, workers: int | None, sink=None,
                       classes: list[str] = CLASSES, memory: PipelineMemory | None = None):  # fmt: skip
    """(report, scoring seconds, metrics seconds); ``memory`` receives the peak memory of each stage."""
    with memory.scoring_stage() if memory else contextlib.nullcontext():
        t0 = time.perf_counter()
        arrays = score_arrays(samples, gens, classes, refs, workers=workers, sink=sink)
        arrays.facts = RunFacts(values=dict(STAGE))
        t1 = time.perf_counter()
    with memory.metrics_stage() if memory else contextlib.nullcontext():
        t1b = time.perf_counter()
        report = metrics_from_arrays(arrays, n_resamples=resamples, seed=0)
        t2 = time.perf_counter()
    return report, t1 - t0, t2 - t1b


def _consistent(pred: str | None, cited: set[str], classes: list[str]) -> bool | None:
    """The cited AUs support ``pred`` best among the EMFACS prototypes of ``classes`` (Jaccard, ties
    allowed, above 0); neutral only with no expressive AU cited. None without a label or a cited AU."""
    if pred is None or not cited:
        return None
    expressive = bool(cited - NON_EXPRESSIVE_AUS)
    if pred == "neutral":
        return not expressive

    def jaccard(emotion: str) -> float:
        if emotion == "neutral":
            return 0.0 if expressive else 1.0
        return max((len(v & cited) / len(v | cited) for v in EMFACS_PROTOTYPES[emotion]), default=0.0)

    best = max(jaccard(c) for c in classes if c in EMFACS_PROTOTYPES)
    return jaccard(pred) > 0 and jaccard(pred) == best


def _region(state: AUState | None) -> list[float] | None:
    """The AU's merged box, else the smallest box around its per-side boxes."""
    if state is None or (state.box is None and not state.boxes):
        return None
    if state.box is not None:
        return state.box
    xs1, ys1, xs2, ys2 = zip(*state.boxes, strict=True)
    return [min(xs1), min(ys1), max(xs2), max(ys2)]


def naive_rows(samples, gens, refs, classes: list[str]) -> list[dict]:
    """One dict per sample: its status, prediction and grounding facts, by the definitions of
    docs/metrics.md, sharing only the parser and the box geometry with tag-bench's scorer."""
    rows = []
    for s in samples:
        g = gens.get(s.id)
        p = None
        if g is None:
            status = "missing"
        elif g.status == "error":
            status = "error"
        else:
            p = parse_response(g.text, g.frame, g.image_size, g.input_size, g.finish_reason, classes)
            status = "invalid_label" if p.status == "ok" and p.label not in classes else p.status
        pred = p.label if p is not None and status == "ok" else None
        evidence = p.evidence if p is not None else []
        cited = {normalise_au(a) for a in p.aus} if p is not None else set()
        cited |= {normalise_au(e.au) for e in evidence if e.au}
        ref = refs.by_sample.get(s.id)
        covered = ref is not None and ref.status == "ok"
        row = {"gold": s.label, "pred": pred, "status": status, "correct": pred == s.label,
               "box": any(e.box is not None for e in evidence), "covered": covered,
               "boxes": sum(e.box is not None or e.box_status not in ("ok", "none") for e in evidence),
               "dropped": sum(e.box is None and e.box_status not in ("ok", "none") for e in evidence),
               "consistent": _consistent(pred, cited, classes)}  # fmt: skip
        ok = g is not None and g.status == "ok"  # the cost of an answer; a failed call has none
        row.update(latency=g.latency_s if ok else None, tokens_in=g.input_tokens if ok else None,
                   tokens_out=g.output_tokens if ok else None, chars=len(g.text) if ok and g.text is not None else None)  # fmt: skip
        if covered:
            states = {normalise_au(k): v for k, v in ref.aus.items()}
            verdict = {}  # AU -> active, for the AUs the reference can judge
            for au, st in states.items():
                if st.active is not None:
                    verdict[au] = st.active
                elif st.score is not None and ref.threshold is not None:
                    verdict[au] = st.score >= ref.threshold
            claims = []  # (IoU, centre inside) per box claim; an AU without a region scores (0, False)
            for e in evidence:
                if e.au is not None and e.box is not None:
                    region = _region(states.get(normalise_au(e.au)))
                    hit = (
                        (iou(e.box, region), contains_point(region, *center(e.box)))
                        if region
                        else (0.0, False)
                    )
                    claims.append(hit)
            judged = {a for a in cited if a in verdict}
            halluc = {a for a in judged if not verdict[a]}
            on = {a for a, v in verdict.items() if v}
            row.update(claims=claims, cited=cited, judged=judged, halluc=halluc, active=on,
                       f1=2 * len(judged & on) / (len(judged) + len(on)) if judged or on else None,
                       grounded=row["correct"] and any(v >= 0.5 for v, _ in claims) and not halluc)  # fmt: skip
        rows.append(row)
    return rows


def naive_metrics(rows: list[dict], classes: list[str]) -> dict[str, float]:
    """Every metric of the table from ``rows``, NaN where its denominator is empty."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        precision_recall_fscore_support,
    )

    def share(hits, of) -> float:
        of = list(of)
        return sum(bool(hits(r)) for r in of) / len(of) if of else float("nan")

    def mean(values) -> float:
        values = list(values)
        return sum(values) / len(values) if values else float("nan")

    failed = "__failed__"  # every failure is a label outside the classes
    y_true = [r["gold"] for r in rows]
    y_pred = [r["pred"] or failed for r in rows]
    occurring = [c for c in classes if c in set(y_true) | set(y_pred)]
    out = {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "macro_f1": f1_score(y_true, y_pred, labels=occurring, average="macro")
        if occurring
        else float("nan"),
        "accuracy_parsed": share(lambda r: r["correct"], (r for r in rows if r["status"] == "ok")),
        "parse_failure_rate": share(lambda r: r["status"] in PARSE_FAILURES, rows),
        "invalid_label_rate": share(lambda r: r["status"] == "invalid_label", rows),
        "error_rate": share(lambda r: r["status"] == "error", rows),
        "missing_rate": share(lambda r: r["status"] == "missing", rows),
    }
    prec, rec, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=np.nan)
    for c, a, b, d in zip(classes, prec, rec, f1, strict=True):
        out[f"recall/{c}"], out[f"precision/{c}"], out[f"f1/{c}"] = b, a, d
    covered = [r for r in rows if r["covered"]]
    claims = [c for r in covered for c in r["claims"]]
    judged = sum(len(r["judged"]) for r in covered)
    cited = sum(len(r["cited"]) for r in covered)
    active = sum(len(r["active"]) for r in covered)
    boxes = sum(r["boxes"] for r in rows)
    out.update({
        "box_rate": share(lambda r: r["box"], rows),
        "unusable_box_rate": sum(r["dropped"] for r in rows) / boxes if boxes else float("nan"),
        "reference_coverage": share(lambda r: r["covered"], rows),
        "accuracy_covered": share(lambda r: r["correct"], covered),
        "au_box_iou": mean(v for v, _ in claims),
        "grounding_precision@0.5": share(lambda c: c[0] >= 0.5, claims),
        "grounding_precision@0.3": share(lambda c: c[0] >= 0.3, claims),
        "pointing_accuracy": share(lambda c: c[1], claims),
        "hallucinated_au_rate": sum(len(r["halluc"]) for r in covered) / judged if judged else float("nan"),
        "hallucinated_sample_rate": share(lambda r: r["halluc"], (r for r in covered if r["judged"])),
        "unjudged_au_rate": sum(len(r["cited"] - r["judged"]) for r in covered) / cited if cited else float("nan"),
        "au_recall": sum(len(r["active"] & r["cited"]) for r in covered) / active if active else float("nan"),
        "au_f1": mean(r["f1"] for r in covered if r["f1"] is not None),
        "evidence_consistency": share(lambda r: r["consistent"], (r for r in rows if r["consistent"] is not None)),
        "grounded_accuracy": share(lambda r: r["grounded"], covered),
    })  # fmt: skip
    latencies = sorted(r["latency"] for r in rows if r["latency"] is not None)
    out.update({
        "latency_mean_s": mean(latencies),
        # the order statistic of rank ceil(0.95 n)
        "latency_p95_s": latencies[-(-95 * len(latencies) // 100) - 1] if latencies else float("nan"),
        "throughput_samples_s": STAGE["model_calls"] / STAGE["generate_seconds"],
        "input_tokens_mean": mean(r["tokens_in"] for r in rows if r["tokens_in"] is not None),
        "output_tokens_mean": mean(r["tokens_out"] for r in rows if r["tokens_out"] is not None),
        "response_chars_mean": mean(r["chars"] for r in rows if r["chars"] is not None),
    })  # fmt: skip
    # faithfulness by intervention: these responses were never intervened on, so no sample is tested and
    # every metric over tested samples has an empty denominator (the stage's own numbers are checked in
    # tests/test_intervene*.py)
    out["intervention_coverage"] = share(lambda r: False, rows)
    for c in ("none", "cited", "control", "habitual", "keep"):
        for kind in ("flip_rate", "label_change_rate", "parse_loss_rate"):
            out[f"{c}_{kind}"] = float("nan")
    for name in ("faithfulness_gap", "specificity_gap", "cited_accuracy_drop"):
        out[name] = float("nan")
    for c in ("cited", "control", "habitual", "keep"):
        out[f"answer_logprob_drop_{c}"] = out[f"answer_only_logprob_drop_{c}"] = float("nan")
    return {k: float(v) for k, v in out.items()}


def naive_pipeline(samples, gens, refs, *, resamples: int, classes: list[str] = CLASSES):
    """Per-sample Python + scikit-learn on every resample: what one writes without thinking of speed."""
    rows = naive_rows(samples, gens, refs, classes)
    n = len(rows)
    point = naive_metrics(rows, classes)
    rng = np.random.default_rng(0)
    dist: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(resamples):
        m = naive_metrics([rows[i] for i in rng.integers(0, n, n)], classes)
        for k, v in m.items():
            dist[k].append(v)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (a class never predicted)
        ci = {k: (np.nanpercentile(v, 2.5), np.nanpercentile(v, 97.5)) for k, v in dist.items()}
    status: dict[str, int] = {}
    for r in rows:
        status[r["status"]] = status.get(r["status"], 0) + 1
    return point, ci, status


def check_naive(point: dict[str, float], status: dict[str, int], report: MetricsReport) -> list[str]:
    """Assert that tag-bench's point estimates and status counts equal the naive loop's; the names
    of the metrics the naive loop does not compute."""
    got_status = {k: v for k, v in report.status_counts.items() if v}
    assert got_status == status, ("status_counts", got_status, status)
    for name, want in point.items():
        assert name in report.metrics, (name, "computed by the naive loop but not reported")
        got = report.metrics[name].value
        if np.isnan(want):
            assert got is None and name in report.not_computed, (name, got, "expected not computed")
        else:
            assert got is not None and abs(got - want) < 1e-9, (name, want, report.metrics[name])
    return [name for name in report.metrics if name not in point]


def cli_inputs(root: Path, samples, gens, refs) -> tuple[Path, Path, Path]:
    """A RAF-DB official copy with one test image file per sample, each with its own bytes (a JPEG, a
    sample number after its end marker), as users have them: every image is hashed for the AU cache and
    the data identity; and the predictions and AU references of ``synthetic_run`` as JSONL keyed by its
    sample ids."""
    import io

    from PIL import Image

    from tag_bench.data._common import RAFDB_ORDER

    raf = root / "rafdb" / "basic"
    aligned = raf / "Image" / "aligned"
    aligned.mkdir(parents=True)
    buf = io.BytesIO()
    Image.new("RGB", (100, 100), (128, 100, 90)).save(buf, format="JPEG", quality=90)
    jpeg = buf.getvalue()
    native = {c: i + 1 for i, c in enumerate(RAFDB_ORDER)}
    names, lines = {}, []
    for i, s in enumerate(samples):
        stem = f"test_{i + 1:06d}"
        names[s.id] = f"rafdb/{stem}"
        (aligned / f"{stem}_aligned.jpg").write_bytes(jpeg + i.to_bytes(4, "big"))
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


def cache_inputs(root: Path, data: Path, refs) -> tuple[str, Path]:
    """The AU references in an AU cache (SQLite) as ``tag-bench au detect`` leaves it, under the default
    detector's id: one record per image file of :func:`cli_inputs`, and the image ids it remembers
    (``tag_bench.file_ids``). Returns the ``--au-reference`` spec and the cache folder (``TAG_BENCH_CACHE``)."""
    from tag_bench.au.base import DEFAULT_DETECTOR, get_detector
    from tag_bench.au.cache import CACHE_FILE, AUCache
    from tag_bench.images import image_sha256s

    det = get_detector(DEFAULT_DETECTOR)
    folder = root / "au-cache"
    paths = sorted((data / "basic" / "Image" / "aligned").iterdir())
    old = os.environ.get("TAG_BENCH_CACHE")
    os.environ["TAG_BENCH_CACHE"] = str(folder)
    try:  # the images' ids, read and remembered as `tag-bench au detect` reads them
        shas = image_sha256s([Sample(id=p.stem, dataset="rafdb", split="test", image=str(p), label="neutral",
                                     native_label=1) for p in paths])  # fmt: skip
    finally:
        if old is None:
            del os.environ["TAG_BENCH_CACHE"]
        else:
            os.environ["TAG_BENCH_CACHE"] = old
    cache = AUCache(folder / CACHE_FILE)
    pool = [r for r in refs.by_sample.values() if r.status == "ok"][:64]
    cache._conn().execute("BEGIN")  # one transaction: the bench's set-up, not what it measures
    for k, sha in enumerate(shas):
        assert isinstance(sha, str), sha
        ref = pool[k % len(pool)]
        cache.put(sha, det, AUReference(reference_id=det.reference_id, detector=det.name,
                  version=det.version, status="ok", threshold=ref.threshold, aus=ref.aus))  # fmt: skip
    cache._conn().execute("COMMIT")
    cache.close()
    return DEFAULT_DETECTOR, folder


def cli_path(root: Path, data: Path, preds: Path, refs: Path | str, resamples: int,
             cache: Path | None = None, *, memory: bool = False) -> float:  # fmt: skip
    """Seconds the command takes, or with ``memory`` the peak MB of its process tree (:class:`TreeMemory`,
    whose reads cost CPU: a run that measures one does not measure the other)."""
    out = root / ("run-cache" if cache else "run")
    cmd = [sys.executable, "-m", "tag_bench", "score", "--task", "rafdb_basic_test", "--data-root", str(data),
           "--predictions", str(preds), "--au-reference", str(refs), "--out", str(out), "--n-resamples",
           str(resamples), "--no-progress", "--json"]  # fmt: skip
    # without an AU cache, an empty cache folder: the first run on these images, which reads each one
    env = {**os.environ, "TAG_BENCH_CACHE": str(cache or root / f"empty-cache-{time.time_ns()}")}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with TreeMemory(proc.pid) if memory else contextlib.nullcontext() as tree:
        stdout, stderr = proc.communicate()
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"tag-bench score failed:\n{stderr[-2000:]}")
    report = json.loads(stdout.splitlines()[-1])
    coverage = report["metrics"]["reference_coverage"]["value"]
    assert report["au_reference"] and coverage > 0.95, (
        "the references were not read",
        report["au_reference"],
        coverage,
    )
    if tree is None:
        return elapsed
    assert tree.peak_mb > 0, "the command's memory was never read"
    return tree.peak_mb


class TreeMemory:
    """The peak, over the life of a process, of the memory it and its descendants use together: the sum
    of their PSS (``/proc/PID/smaps_rollup``), which counts a page shared by k processes as 1/k in each,
    so pages a forked worker shares with its parent are counted once. Read every ``interval`` seconds
    in a thread (a read walks the page tables: tens of ms for a GB), so a peak shorter than that can be
    missed."""

    def __init__(self, pid: int, interval: float = 0.5):
        import threading

        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, sum(map(_pss_mb, _tree(self.pid))))
            self._stop.wait(self.interval)


def _tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def io_floor(data: Path, preds: Path, ref_path: Path, run: Path, batch: int = 20_000) -> dict[str, float]:
    """CPU seconds, in this one process, of the bare library calls that reading and writing the command
    line's files takes, with the fastest decoders here: ``json.loads`` of each prediction line, each
    reference line validated into an ``AUReference`` (pydantic-core's ``model_validate_json``, faster than
    ``json.loads`` alone), each image file read, hashed (``hashlib.sha256``) and its header read by
    Pillow, and the run's ``samples.jsonl`` encoded again by pydantic (``model_dump_json``; decoding it
    first is not counted). Nothing of tag-bench's own runs in the timed parts."""
    import hashlib
    import io
    import itertools

    from PIL import Image

    from tag_bench.schema import ScoredSample

    cpu = time.process_time
    floor: dict[str, float] = {}
    t = cpu()
    with open(preds, "rb") as f:
        for line in f:
            json.loads(line)
    floor["predictions json.loads"] = cpu() - t
    t = cpu()
    with open(ref_path, "rb") as f:
        for line in f:
            AUReference.model_validate_json(line)
    floor["references model_validate_json"] = cpu() - t
    t = cpu()
    for path in (data / "basic" / "Image" / "aligned").iterdir():
        with open(path, "rb") as f:
            raw = f.read()
        hashlib.sha256(raw).hexdigest()
        with Image.open(io.BytesIO(raw)) as im:
            im.size  # noqa: B018 (the header read is what is timed)
    floor["images read + sha256 + Pillow header"] = cpu() - t
    spent = 0.0
    with open(run / "samples.jsonl", "rb") as f:
        while block := [ScoredSample.model_validate_json(line) for line in itertools.islice(f, batch)]:
            t = cpu()
            for record in block:
                record.model_dump_json()
            spent += cpu() - t
    floor["samples.jsonl model_dump_json"] = spent
    return floor


def peak_rss_mb() -> float:
    """Peak resident memory of this process since the last reset (Linux VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def smaps_mb(pid: int | str, *fields: str) -> float:
    """The sum of ``fields`` of ``/proc/PID/smaps_rollup`` in MB; 0 once the process has ended."""
    kb = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.split(":", 1)[0] in fields:
                kb += int(line.split()[1])
    except OSError:  # the process has just ended
        return 0.0
    return kb / 1024


def private_mb() -> float:
    """Memory this process owns (``Private_Clean`` + ``Private_Dirty``): in a forked worker, what it
    allocated and the parent's pages it copied, not the pages it shares."""
    return smaps_mb("self", "Private_Clean", "Private_Dirty")


def _pss_mb(pid: int) -> float:
    return smaps_mb(pid, "Pss")


@contextlib.contextmanager
def worker_memory(every_s: float = 5.0) -> Iterator[dict[int, float]]:
    """The most memory each forked scoring worker owned (MB, by pid; see :func:`private_mb`). A worker
    reads it as it returns a chunk (holding the chunk's results), at most once every ``every_s`` seconds
    (a reading walks the page tables of every page mapped, inherited ones included: tens of ms at a
    million samples), and as it exits. Its copies of this process's pages only grow as it reads more
    samples, so the last readings are the largest. Empty when scoring ran in this process."""
    import multiprocessing.util

    import tag_bench.scoring.run as scoring

    folder = Path(tempfile.mkdtemp(prefix="tag-bench-worker-memory-"))
    inner = scoring._score_chunk_in_worker
    peaks: dict[int, float] = {}
    last = [0.0]  # in each forked worker (a copy of this list): when it last read its memory

    def record() -> None:
        (folder / f"{os.getpid()}-{time.monotonic_ns()}").write_text(str(private_mb()))

    @functools.wraps(inner)
    def measured(*args, **kwargs):
        result = inner(*args, **kwargs)
        now = time.monotonic()
        if now - last[0] >= every_s and os.path.exists("/proc/self/smaps_rollup"):
            if not last[0]:
                multiprocessing.util.Finalize(None, record, exitpriority=10)  # runs as the worker exits
            last[0] = now
            record()
        return result

    scoring._score_chunk_in_worker = measured  # forked workers call it by its module name
    try:
        yield peaks
    finally:
        scoring._score_chunk_in_worker = inner
        for f in folder.iterdir():
            pid = int(f.name.split("-")[0])
            if pid != os.getpid():
                peaks[pid] = max(peaks.get(pid, 0.0), float(f.read_text()))
        shutil.rmtree(folder, ignore_errors=True)


class PipelineMemory:
    """Peak memory of scoring, then of the metrics, as one process tree, in MB over what this process held
    before scoring began (the inputs). Scoring: what this process grows by, plus the most each forked
    worker owns (they run at the same time); the metrics: what this process grows by (the workers are
    gone by then, the arrays are still held). The peak is the larger of the two."""

    def __init__(self) -> None:
        self.before = self.parent = self.scoring = self.metrics = 0.0
        self.exact = True
        self.workers: dict[int, float] = {}

    @contextlib.contextmanager
    def scoring_stage(self) -> Iterator[None]:
        gc.collect()
        self.before = peak_rss_mb()
        self.exact = reset_peak_rss()
        with worker_memory() as self.workers:
            yield
        self.parent = peak_rss_mb() - self.before
        self.scoring = self.parent + sum(self.workers.values())

    @contextlib.contextmanager
    def metrics_stage(self) -> Iterator[None]:
        reset_peak_rss()
        yield
        self.metrics = peak_rss_mb() - self.before

    @property
    def peak(self) -> float:
        return max(self.scoring, self.metrics)

    def describe(self) -> str:
        workers = ""
        if self.workers:
            each = ", ".join(f"{v:,.0f}" for v in sorted(self.workers.values(), reverse=True))
            workers = (f" + {len(self.workers)} workers owning at most {each} MB (their copies of this "
                       f"process's pages included)")  # fmt: skip
        caveat = "" if self.exact else "; the peak could not be reset: whole-run figures"
        return (f"{self.peak:,.0f} MB over the {self.before:,.0f} MB of inputs held before: scoring "
                f"{self.scoring:,.0f} MB (this process +{self.parent:,.0f} MB{workers}), metrics "
                f"{self.metrics:,.0f} MB{caveat}")  # fmt: skip


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
    ap.add_argument("--write-readme", action="store_true", help="write the figures into README.md")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    if args.smoke:
        ap.set_defaults(n=3_000, naive_n=500, resamples=200, workers=2)
        args = ap.parse_args()
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    out: list[str] = []  # the lines --write-readme writes

    def say(line: str) -> None:
        print(line)
        out.append(line)

    # 2. the naive loop and tag-bench on the same subset (edge cases included, a 7-class task)
    small = synthetic_run(args.naive_n, seed=1, classes=CLASSES7, edge_cases=True)
    t = time.perf_counter()
    naive_point, _, naive_status = naive_pipeline(*small, resamples=args.resamples, classes=CLASSES7)
    t_naive = time.perf_counter() - t
    t = time.perf_counter()
    fast, _, _ = tag_bench_pipeline(*small, resamples=args.resamples, workers=1, classes=CLASSES7)
    t_fast = time.perf_counter() - t
    unchecked = check_naive(naive_point, naive_status, fast)
    pooled, _, _ = tag_bench_pipeline(*small, resamples=args.resamples, workers=2, classes=CLASSES7)
    assert pooled.model_dump() == fast.model_dump(), "scoring in 2 processes changed metrics.json"
    say(f"naive loop vs tag-bench on {args.naive_n:,} responses x {args.resamples} resamples: "
          f"{t_naive:.2f}s vs {t_fast:.2f}s = {t_naive / t_fast:.0f}x  (target >= 20x)")  # fmt: skip
    print(f"  {len(naive_point)} point estimates and the status counts {naive_status} equal the naive loop's; "
          f"the same report scored in 2 processes")  # fmt: skip
    assert not unchecked, f"the naive loop does not compute {', '.join(unchecked)}: add them to naive_metrics"

    # 1. full size
    t = time.perf_counter()
    samples, gens, refs = synthetic_run(args.n, seed=0)
    print(f"built {len(samples):,} synthetic samples in {time.perf_counter() - t:.1f}s (not timed below)")
    memory = PipelineMemory()
    report, t_score, t_metrics = tag_bench_pipeline(
        samples, gens, refs, resamples=args.resamples, workers=args.workers, memory=memory
    )
    total = t_score + t_metrics
    say(f"tag-bench on {args.n:,} responses: parse+score {t_score:.1f}s, {len(report.metrics)} metrics with "
          f"{args.resamples}-resample CIs {t_metrics:.1f}s, total {total:.1f}s = {args.n / total:,.0f} samples/s "
          f"(target < 20 s)")  # fmt: skip
    say(f"peak memory: {memory.describe()}  (target < 2 GB)")
    m = report.metrics
    print("  accuracy {:.3f} [{:.3f}, {:.3f}]  parse_failure_rate {:.3f}  au_box_iou {:.3f}  status {}".format(
        m["accuracy"].value, m["accuracy"].ci_low, m["accuracy"].ci_high, m["parse_failure_rate"].value,
        m["au_box_iou"].value, {k: v for k, v in report.status_counts.items() if v}))  # fmt: skip
    print(f"  (cores: {os.cpu_count()})")

    # 3. the command line on the same responses and references
    if not args.skip_cli:
        root = Path(tempfile.mkdtemp(prefix="tag-bench-score-cli-"))
        try:
            t = time.perf_counter()
            data, preds, ref_path = cli_inputs(root, samples, gens, refs)
            print(
                f"wrote a {args.n:,}-image RAF-DB copy, predictions and references in {time.perf_counter() - t:.1f}s"
            )
            spec, cache = cache_inputs(root, data, refs)
            del samples, gens, refs, report
            gc.collect()
            t_cli = cli_path(root, data, preds, ref_path, args.resamples)
            mb_cli = cli_path(root, data, preds, ref_path, args.resamples, memory=True)
            say(f"tag-bench score --predictions on {args.n:,} predictions, references from a JSONL, the first run on these images: {t_cli:.1f}s "
                f"= {args.n / t_cli:,.0f} samples/s, {t_cli / total:.2f}x the in-process time (target <= 2x); "
                f"peak memory of its processes {mb_cli:,.0f} MB (PSS, workers included)")  # fmt: skip
            floor = io_floor(data, preds, ref_path, root / "run")
            cores = usable_cpus()
            spent = sum(floor.values())
            parts = ", ".join(f"{k} {v:.1f}s" for k, v in floor.items())
            say(f"  its files alone, by bare library calls in one process ({parts}): {spent:.1f}s of CPU, "
                f"{spent / cores:.1f}s on {cores} cores: in-process time + that = {(total + spent / cores) / total:.2f}x, "
                f"the least this path could take if tag-bench's own code cost nothing more than in process")  # fmt: skip
            t_cache = cli_path(root, data, preds, spec, args.resamples, cache=cache)
            mb_cache = cli_path(root, data, preds, spec, args.resamples, cache=cache, memory=True)
            say(f"  references from the SQLite AU cache ({spec}) as `tag-bench au detect` leaves it, image ids "
                f"included: {t_cache:.1f}s = {t_cache / total:.2f}x the in-process time (target <= 2x); peak "
                f"memory {mb_cache:,.0f} MB")  # fmt: skip
        finally:
            shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()
    say(f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores)")
    if args.write_readme:
        write_readme(out)


def write_readme(lines: list[str]) -> None:
    cmd = " ".join(["bench/score_bench.py", *sys.argv[1:]])
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    body = f"`.venv/bin/python {cmd}` ({when}, a 2-core machine shared with other jobs):\n\n```\n"
    write_block("score-bench", body + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
