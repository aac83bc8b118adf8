"""Dataset loading speed: index build and image decode, each against a bare baseline in the same run.

Generates a scaled fixture (``--n`` samples each of RAF-DB official, FERPlus official folders and the
AffectNet CSV release; images are hard links to a few encoded files), then for each dataset prints:

- index build: samples/s of ``load_split`` over all its splits (layout detection, label parsing, path
  resolution, missing-file check, Sample records), and the ratio against a baseline that only reads
  the label files with ``csv`` and ``os.stat``s every image;
- image decode: samples/s of ``tag_bench.images.open_image`` (decode, RGB, dataset crop) over the
  first ``--decode-n`` samples, and the ratio against plain PIL ``open().convert("RGB")`` of the
  same files;
- peak traced memory of the index build (tracemalloc, a separate pass) and bytes per sample.

Before timing, the decoded images of the subset are checked to equal the baseline's pixel for pixel.

Run: ``.venv/bin/python bench/load_bench.py [--n 20000] [--decode-n 2000] [--smoke]`` (``--smoke``: 500
samples per dataset, 100 decoded, one pass; seconds, for ``make bench-smoke``).
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tag_bench.data import load_split
from tag_bench.images import open_image
from tag_bench.testing.fixtures import write_scaled_fixtures

SPLITS = {"rafdb": ("train", "test"), "ferplus": ("train", "valid", "test"), "affectnet": ("train", "val")}


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def index_all(dataset: str, root: Path) -> list:
    samples = []
    for split in SPLITS[dataset]:
        # argmax8 keeps nearly every FER+ image, so the three datasets index comparable numbers of samples
        opts = {"protocol": "argmax8"} if dataset == "ferplus" else {}
        samples += load_split(dataset, root, split, **opts).samples
    return samples


def baseline_index(dataset: str, root: Path) -> int:
    """The floor: read the label files with csv and stat every image they name."""
    n = 0
    if dataset == "rafdb":
        base = root / "basic"
        for line in (base / "EmoLabel" / "list_patition_label.txt").read_text().splitlines():
            name, _label = line.split()
            os.stat(base / "Image" / "aligned" / f"{name.split('.')[0]}_aligned.jpg")
            n += 1
    elif dataset == "ferplus":
        for folder in ("FER2013Train", "FER2013Valid", "FER2013Test"):
            with open(root / folder / "label.csv", newline="") as f:
                for row in csv.reader(f):
                    os.stat(root / folder / row[0])
                    n += 1
    else:
        for name in ("training.csv", "validation.csv"):
            with open(root / "Manually_Annotated_file_lists" / name, newline="") as f:
                rows = csv.reader(f)
                next(rows)
                for row in rows:
                    os.stat(root / "Manually_Annotated_Images" / row[0])
                    n += 1
    return n


def baseline_decode(samples: list) -> int:
    for s in samples:
        _bare_decode(s)
    return len(samples)


def _bare_decode(s):
    from PIL import Image

    with Image.open(s.image) as im:
        img = im.convert("RGB")
        if s.crop is not None:
            img = img.crop(tuple(int(round(v)) for v in s.crop))
    return img


def check_decode(samples: list) -> None:
    """Assert that ``open_image`` gives the baseline's pixels for every sample."""
    import numpy as np

    for s in samples:
        assert np.array_equal(np.asarray(open_image(s)), np.asarray(_bare_decode(s))), s.id


def decode(samples: list) -> int:
    for s in samples:
        open_image(s)
    return len(samples)


def peak_index_memory(dataset: str, root: Path) -> tuple[int, int]:
    gc.collect()
    tracemalloc.start()
    samples = index_all(dataset, root)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, len(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="samples per dataset (default 20000)")
    ap.add_argument("--decode-n", type=int, default=2000, help="samples decoded per dataset (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed repetitions; the best is reported")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    if args.smoke:
        ap.set_defaults(n=500, decode_n=100, repeat=1)
        args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="tag-bench-load-") as tmp:
        t = time.perf_counter()
        paths = write_scaled_fixtures(tmp, n=args.n)
        gen_s = time.perf_counter() - t
        print(
            f"fixture: {args.n:,} samples x 3 datasets written in {gen_s:.1f} s ({3 * args.n / gen_s:,.0f} files/s)"
        )
        print(f"python {sys.version.split()[0]}, best of {args.repeat}\n")
        header = (
            f"{'dataset':<10} {'indexed':>8} {'index/s':>10} {'baseline/s':>11} {'ratio':>6}   "
            f"{'decoded':>7} {'decode/s':>9} {'baseline/s':>11} {'ratio':>6}   {'peak MiB':>8} {'B/sample':>9}"
        )
        print(header)
        print("-" * len(header))
        for dataset in ("rafdb", "ferplus", "affectnet"):
            root = paths[dataset]
            base_s, base_n = best_of(lambda d=dataset, r=root: baseline_index(d, r), args.repeat)
            idx_s, samples = best_of(lambda d=dataset, r=root: index_all(d, r), args.repeat)
            n = len(samples)
            subset = samples[: args.decode_n]
            check_decode(subset)
            dbase_s, _ = best_of(lambda s=subset: baseline_decode(s), args.repeat)
            dec_s, _ = best_of(lambda s=subset: decode(s), args.repeat)
            peak, _ = peak_index_memory(dataset, root)
            print(
                f"{dataset:<10} {n:>8,} {n / idx_s:>10,.0f} {base_n / base_s:>11,.0f} {idx_s / base_s * base_n / n:>6.2f}   "
                f"{len(subset):>7,} {len(subset) / dec_s:>9,.0f} {len(subset) / dbase_s:>11,.0f} "
                f"{dec_s / dbase_s:>6.2f}   {peak / 2**20:>8.1f} {peak / max(n, 1):>9,.0f}"
            )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        "\nratio = time per sample relative to the baseline (1.00 = as fast as the bare baseline).\n"
        "index baseline: csv read of the label files + os.stat of every image; decode baseline: PIL open + "
        "convert('RGB') (+ crop); open_image's pixels equal the baseline's (checked before timing).\n"
        f"process peak RSS: {rss:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
