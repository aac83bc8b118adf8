"""AU reference speed: the default reference (``mediapipe-blendshapes``) uncached on 100x100 aligned
faces, 48x48 faces and 512x512 photos, and the speed-up of a cached second pass over the same samples
(ratios measured side by side in one run). ``--detector mediapipe-geometric`` measures the heuristic.

Run: ``.venv/bin/python bench/au_bench.py [--n 200] [--smoke]`` (``--smoke``: 10 images, one run each;
seconds, for ``make bench-smoke``). Targets on a 2-core CPU: >= 40 img/s uncached
at 100x100; cached pass >= 100x faster than the first pass.

The first pass is what a benchmark pays once per image (decode, sha256, detect, store); the cached pass
is a later run over the same samples with fresh objects on the same cache file (SQLite lookups in
batches, as ``resolve_reference_source(...).get_many`` does for the scorer).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tag_bench.au.base import DEFAULT_DETECTOR, BaseAUDetector, get_detector
from tag_bench.au.cache import AUCache, detect_cached
from tag_bench.au.sources import DetectorSource
from tag_bench.schema import Sample
from tag_bench.testing.sample_faces import LABELS, load_face, pyfeat_test_data


def faces() -> list[Image.Image]:
    names = ["astronaut", "grace_hopper"] + (["single_face", *LABELS] if pyfeat_test_data() else [])
    return [load_face(n) for n in names]


def aligned(img: Image.Image, det: BaseAUDetector, side: int) -> Image.Image:
    """A RAF-DB-style aligned crop: a square around the landmarks, resized to ``side``."""
    lm = np.array(det.detect(img).landmarks)
    (x1, y1), (x2, y2) = lm.min(0), lm.max(0)
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 0.6
    return img.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half))).resize(
        (side, side), Image.BILINEAR
    )


def square(img: Image.Image, side: int) -> Image.Image:
    w, h = img.size
    s = min(w, h)
    return img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)).resize((side, side))


def rate(det: BaseAUDetector, images: list[np.ndarray], n: int, repeats: int) -> tuple[float, int]:
    """Best of ``repeats`` runs (the machine is shared: the best run is the least disturbed one)."""
    best, ok = 0.0, 0
    for _ in range(repeats):
        ok = 0
        t0 = time.perf_counter()
        for i in range(n):
            ok += det.detect(images[i % len(images)]).status == "ok"
        best = max(best, n / (time.perf_counter() - t0))
    return best, ok


def cached_passes(
    det: BaseAUDetector, images: list[np.ndarray], n: int, root: Path, repeats: int
) -> tuple[float, float, float]:
    """Best-of-``repeats`` (first-pass, cached get_many, cached per-sample) img/s over ``n`` files."""
    rng = np.random.default_rng(0)
    samples = []
    for i in range(n):
        img = images[i % len(images)].copy()
        img[0, 0] = rng.integers(0, 256, 3)  # a distinct file (and sha256) per sample
        path = root / f"{i:05d}.png"
        Image.fromarray(img).save(path)
        samples.append(
            Sample(id=str(i), dataset="b", split="t", image=str(path), label="neutral", native_label=0)
        )
    t_first = t_many = t_single = float("inf")
    for r in range(repeats):
        path = root / f"cache{r}.sqlite"
        t0 = time.perf_counter()
        first = DetectorSource(det, AUCache(path)).get_many(samples)
        t_first = min(t_first, time.perf_counter() - t0)
        for _ in range(repeats):
            t0 = time.perf_counter()
            second = DetectorSource(det, AUCache(path)).get_many(samples)
            t_many = min(t_many, time.perf_counter() - t0)
            cache = AUCache(path)
            t0 = time.perf_counter()
            third = [detect_cached(det, s, cache) for s in samples]
            t_single = min(t_single, time.perf_counter() - t0)
            assert cache.hits == n
        assert [first[s.id].model_dump() for s in samples] == [second[s.id].model_dump() for s in samples]
        assert [x.model_dump() for x in third] == [second[s.id].model_dump() for s in samples]
    return n / t_first, n / t_many, n / t_single


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200, help="images per measurement")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best is reported")
    ap.add_argument("--detector", default=DEFAULT_DETECTOR, help="AU detector name")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    if args.smoke:
        ap.set_defaults(n=10, repeats=1)
        args = ap.parse_args()
    det: Any = get_detector(args.detector)
    base = faces()
    sets = {
        "100x100 aligned": [np.asarray(aligned(f, det, 100)) for f in base],
        "48x48 aligned": [np.asarray(aligned(f, det, 48)) for f in base],
        "512x512 photo": [np.asarray(square(f, 512)) for f in base],
    }
    for imgs in sets.values():
        det.detect(imgs[0])  # warm-up (graph construction)

    print(f"{det.reference_id}: {len(base)} distinct faces, {args.n} images per row, best of {args.repeats}")
    print("  uncached detect (in-memory images)")
    for label, imgs in sets.items():
        r, ok = rate(det, imgs, args.n, args.repeats)
        print(f"    {label:16s} {r:8.1f} img/s   ok {ok}/{args.n}")
    print("  first pass vs cached pass (PNG files on disk, SQLite cache)")
    for label in ("100x100 aligned", "512x512 photo"):
        with tempfile.TemporaryDirectory() as tmp:
            first, many, single = cached_passes(det, sets[label], args.n, Path(tmp), args.repeats)
        print(
            f"    {label:16s} first {first:7.1f} img/s | cached {many:8.1f} img/s (get_many), "
            f"{single:8.1f} img/s (per sample) | speed-up {many / first:6.1f}x (get_many), "
            f"{single / first:6.1f}x (per sample)"
        )


if __name__ == "__main__":
    main()
