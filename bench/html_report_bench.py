"""The HTML report of a 4,000-sample run, against decoding its images once.

A run of N distinct face images (half 100x100 like RAF-DB's aligned faces, half 448x448 like AffectNet
crops; JPEG) is scored from TAG-style replies against a references file, then:

1. baseline: decode every presented image once (``tag_bench.images.open_image``), nothing else;
2. ``write_report`` with an empty thumbnail cache (everything included: reading the run, tables,
   figures, thumbnails, the page);
3. the same again, thumbnails now from the cache.

Targets (issue 11): the report in under 15 s on the 2-core dev machine and under 25 MB; printed as
well as ratios to the baseline measured in the same run. Checked: every sample and image is in the
page, the first pass makes every thumbnail, the second none, and both pages are byte-identical but
for the minute they say they were made in.

    .venv/bin/python bench/html_report_bench.py [--n 4000] [--keep DIR] [--smoke]

``--smoke``: 40 faces (seconds; ``make bench-smoke``).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tag_bench.schema import AUReference, AUState

CLASSES = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"]
AUS = ["AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU12", "AU14", "AU15", "AU17", "AU20",
       "AU23", "AU24", "AU25", "AU26"]  # fmt: skip
TASK = """
name: bench_faces
version: 1
dataset: folder
split: test
protocol: folder-names
classes: [neutral, happiness, sadness, surprise, fear, disgust, anger]
prompt: tag_grounded
loader: {class_order: names}
"""
# the page says when it was made, to the minute: two passes may straddle a minute
STAMP = re.compile(rb"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC")
STEPS = {
    "AU4": "Inspect brows → inner brows lowered and drawn together",
    "AU6": "Inspect cheeks → cheeks raised, crow's feet at the eye corners",
    "AU12": "Inspect mouth corners → lip corners pulled up",
    "AU15": "Inspect mouth corners → lip corners depressed",
    "AU25": "Inspect lips → lips parted",
    "AU1": "Inspect inner brow → inner brow ends raised",
    "AU9": "Inspect nose → skin along the nose wrinkled",
    "AU20": "Inspect lips → lips stretched sideways",
}


def write_dataset(root: Path, n: int, seed: int = 0) -> list[tuple[str, str, tuple[int, int]]]:
    """N distinct JPEG faces in class folders: (relative path, label, size) each. A pool of augmented
    public-domain faces, each copy shifted in brightness and noise so that no two files are equal."""
    from tag_bench.testing.fixtures.faces import FaceBank

    bank = FaceBank(seed)
    rng = np.random.default_rng(seed)
    pool = {side: [np.asarray(bank.face(f"pool{side}/{k}", (side, side)), dtype=np.int16) for k in range(24)]
            for side in (100, 448)}  # fmt: skip
    out = []
    for i in range(n):
        side = 100 if i % 2 == 0 else 448
        label = CLASSES[i % len(CLASSES)]
        base = pool[side][i % 24]
        noise = rng.integers(-6, 7, size=base.shape, dtype=np.int16)
        img = Image.fromarray(np.clip(base + noise + int(rng.integers(-10, 11)), 0, 255).astype(np.uint8))
        rel = f"test/{label}/img_{i:05d}.jpg"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(root / rel, quality=90)
        out.append((rel, label, (side, side)))
    for label in CLASSES:
        (root / "train" / label).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / out[0][0], root / "train" / label / "x.jpg")
    return out


def reply(rng: random.Random, size: tuple[int, int], label: str) -> str:
    """A TAG-style reply with 2-4 grounded steps (about 500-800 characters)."""
    w, h = size
    steps = []
    cited = rng.sample(list(STEPS), rng.randint(2, 4))
    for au in cited:
        x, y = rng.uniform(0, 0.7 * w), rng.uniform(0, 0.7 * h)
        box = [round(x), round(y), round(x + rng.uniform(0.1, 0.3) * w), round(y + rng.uniform(0.1, 0.3) * h)]
        steps.append(f"{STEPS[au]} ({au}) → <bbox>[{box[0]},{box[1]},{box[2]},{box[3]}]</bbox>")
    answer = label if rng.random() < 0.6 else rng.choice(CLASSES)
    return (
        "Global analysis: The face shows a clear expression; each cue is checked at its facial region.\n"
        "Verification loop:\n" + "\n".join(steps) + "\n"
        f"Final conclusion: Combined {' + '.join(cited)} indicate a dominant emotion of {answer}.\n"
        f"<answer>{answer}</answer>"
    )


def reference(rng: random.Random, sample_id: str, size: tuple[int, int]) -> AUReference:
    """A reference record of realistic size: face box, 68 landmarks, 17 AUs with scores and regions."""
    w, h = size
    aus = {}
    for au in AUS:
        x, y = rng.uniform(0.2 * w, 0.6 * w), rng.uniform(0.2 * h, 0.7 * h)
        score = round(rng.random(), 4)
        left = [round(x, 2), round(y, 2), round(x + 0.12 * w, 2), round(y + 0.1 * h, 2)]
        right = [round(x + 0.15 * w, 2), round(y, 2), round(x + 0.27 * w, 2), round(y + 0.1 * h, 2)]
        aus[au] = AUState(score=score, active=score >= 0.5, box=[left[0], left[1], right[2], right[3]],
                          boxes=[left, right], source=f"synthetic:{au}", threshold=0.5)  # fmt: skip
    marks = [(round(rng.uniform(0.2, 0.8) * w, 2), round(rng.uniform(0.2, 0.9) * h, 2)) for _ in range(68)]
    return AUReference(reference_id="bench-synthetic@1", detector="bench", version="1", status="ok",
                       sample_id=sample_id, image_size=size, face_box=[0.15 * w, 0.1 * h, 0.85 * w, 0.95 * h],
                       landmarks=marks, aus=aus)  # fmt: skip


def build_run(work: Path, n: int) -> Path:
    from tag_bench.generate.predictions import score_predictions
    from tag_bench.tasks import load_task

    data = work / "data"
    files = write_dataset(data, n)
    tasks = work / "tasks"
    tasks.mkdir()
    (tasks / "bench_faces.yaml").write_text(TASK)
    samples = load_task("bench_faces", [str(tasks)]).load(data).samples
    size_of = {str(data / rel): size for rel, _, size in files}
    rng = random.Random(0)
    with open(work / "preds.jsonl", "w") as p, open(work / "refs.jsonl", "w") as r:
        for s in samples:
            size = size_of[s.image]
            p.write(json.dumps({"id": s.id, "response": reply(rng, size, s.label)}) + "\n")
            r.write(reference(rng, s.id, size).model_dump_json() + "\n")
    out = work / "run"
    score_predictions("bench_faces", work / "preds.jsonl", frame="pixel", data_root=data, out=out,
                      au_reference=str(work / "refs.jsonl"), tasks_dirs=[str(tasks)], n_resamples=1000,
                      progress=False, name="bench-model")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--keep", type=Path, help="Build the run here and keep it (default: a temporary folder).")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    if args.smoke:
        ap.set_defaults(n=40)
        args = ap.parse_args()

    from tag_bench.images import open_image
    from tag_bench.report.html import write_report
    from tag_bench.rundir import RunDir

    work = args.keep or Path(tempfile.mkdtemp(prefix="html-report-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        run = build_run(work, args.n)
        print(f"built and scored a run of {args.n:,} distinct JPEG faces in {time.perf_counter() - t:.1f}s "
              "(not timed below)")  # fmt: skip
        samples = RunDir(run).read_index()

        t = time.perf_counter()
        for s in samples:
            open_image(s)
        t_decode = time.perf_counter() - t
        print(f"baseline: decode the {len(samples):,} images once: {t_decode:.2f}s")

        cache = work / "thumbs"
        timings, pages = [], []
        for label in ("empty thumbnail cache", "thumbnails from the cache"):
            t = time.perf_counter()
            result = write_report([run], work / "report.html", cache_dir=cache)
            elapsed = time.perf_counter() - t
            timings.append(elapsed)
            pages.append(STAMP.sub(b"generated <time>", result.path.read_bytes()))
            assert result.samples == args.n and result.images == args.n, (result.samples, result.images)
            assert result.thumbnails_made == (result.images if len(pages) == 1 else 0), result.thumbnails_made
            stages = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
            print(f"report, {label}: {elapsed:.2f}s = {elapsed / t_decode:.2f}x the decode ({stages}); "
                  f"{result.thumbnails_made:,} thumbnails made, side {result.thumb_side}px")  # fmt: skip
        assert pages[0] == pages[1], (
            "the page made with cached thumbnails differs from the first (time aside)"
        )
        print(f"report size: {result.size / 1e6:.1f} MB for {result.samples:,} samples and {result.images:,} images "
              "(target < 25 MB)")  # fmt: skip
        print(
            f"target: under 15 s with an empty cache: {timings[0]:.1f}s "
            f"({'met' if timings[0] < 15 and result.size < 25e6 else 'MISSED'})"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
