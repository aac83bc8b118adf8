"""The HTML report of a 50,000-sample run, against reading its files and decoding its images once.

A run of N distinct face images (half 100x100 like RAF-DB's aligned faces, half 448x448 like AffectNet
crops; JPEG) is scored from TAG-style replies against a references file, then:

1. baselines: ``json.loads`` of every line of the files the report reads (samples, generations, AU
   references, index; the cyclic GC paused, as the report reads), and decoding each image the sample
   browser shows once (``tag_bench.images.open_image``);
2. ``write_report`` with an empty thumbnail cache (everything included: reading the run, tables,
   figures, thumbnails, the page);
3. the same again, thumbnails now from the cache;
4. the page in headless Chromium through Playwright: its load, and each filter change of the sample
   browser (every status, gold class, predicted class and cited AU, one after another) timed from the
   change to the next frame drawn after it, in the page (``performance.now``) and around Playwright's
   ``select_option`` (its round trip to the browser included).

A run of more than ``BROWSER_SAMPLES`` (4,000) samples shows a random sample of that many in the
browser (``tag_bench.report.html.browser_sample``); every table, figure and count covers all N.

Targets (issue 22): the report in under 60 s with an empty cache and under 60 MB; a filter change in
under 200 ms. Printed as well as ratios to the baselines measured in the same run. Checked: the
browser holds the sample ``browser_sample`` picks, each with its image; the status counts over the
whole run and the run facts count all N; the page says the browser holds a sample; the first pass
makes every thumbnail, the second none, and both pages are byte-identical but for the minute they say
they were made in; in Chromium, each filter shows as many cards as the embedded data says.

    .venv/bin/python bench/html_report_bench.py [--n 50000] [--browser-samples 4000] [--keep DIR]
                                                [--no-chromium] [--write-readme] [--smoke]

``--keep DIR``: build the run there, or reuse the one built there before (building 50,000 JPEGs and
scoring them takes minutes). ``--write-readme``: the figures into README.md's
``<!-- generated:html-report-bench -->`` block. ``--smoke``: 40 faces, a browser of 16 (seconds;
``make bench-smoke``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from readme_block import write_block

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


def built_run(work: Path, n: int) -> Path:
    """The run of ``n`` faces under ``work``: the one built there before (``--keep``), else a new one."""
    run = work / "run"
    if (run / "metrics.json").exists():
        have = json.loads((run / "metrics.json").read_text())["n"]
        if have == n:
            print(f"reusing the run of {n:,} faces in {run} (--keep)")
            return run
        raise SystemExit(f"{work} holds a run of {have:,} faces, not {n:,}: pass another --keep folder")
    t = time.perf_counter()
    run = build_run(work, n)
    print(
        f"built and scored a run of {n:,} distinct JPEG faces in {time.perf_counter() - t:.1f}s (not timed below)"
    )
    return run


def read_baseline(run: Path) -> float:
    """Seconds to ``json.loads`` every line of the files the report reads (the GC paused, as it reads)."""
    from tag_bench.rundir import RunDir
    from tag_bench.store import gc_paused

    rd = RunDir(run)
    files = [rd.samples_path, rd.generations_path, rd.references_path, rd.index_path]
    gc.collect()
    t = time.perf_counter()
    with gc_paused():
        for path in files:
            with open(path, "rb") as f:
                records = [json.loads(line) for line in f]
            del records
    return time.perf_counter() - t


def page_data(path: Path) -> dict:
    """The page's sample data, samples as dicts (as the page's script makes them)."""
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="tb-data">(.*?)</script>', text, re.S)
    assert m, "no sample data in the page"
    doc = json.loads(m.group(1))
    for run in doc["runs"]:
        run["samples"] = [dict(zip(doc["sample_fields"], s, strict=True)) for s in run["samples"]]
    return doc


# Time from a filter's change to the next frame drawn after it, in the page.
IN_PAGE = """async ([id, value]) => {
  const select = document.getElementById(id);
  const t0 = performance.now();
  select.value = value;
  select.dispatchEvent(new Event("change", { bubbles: true }));
  document.getElementById("tb-grid").offsetHeight;  // style and layout now
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return performance.now() - t0;
}"""
NEXT_FRAME = "() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)))"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def chromium_filters(path: Path, run: dict) -> dict[str, float] | None:
    """Open the page in headless Chromium and time every filter change of the sample browser (see the
    module docstring); checks each count against ``run``'s embedded samples. None when Chromium or
    Playwright is missing (outside CI)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        if os.environ.get("CI"):
            raise SystemExit(
                "Chromium and playwright are needed (apt-get install chromium; pip install -e '.[test]')"
            )
        print("Chromium: skipped (needs /usr/bin/chromium and playwright)")
        return None
    samples = run["samples"]
    rules = {
        "tb-status": lambda s, v: v in s["flags"],
        "tb-gold": lambda s, v: s["gold"] == v,
        "tb-pred": lambda s, v: s["pred"] is None if v == "__none__" else s["pred"] == v,
        "tb-au": lambda s, v: v in s["cited"],
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            t = time.perf_counter()
            page.goto(path.resolve().as_uri())
            page.wait_for_selector(".tb-card")
            page.evaluate(NEXT_FRAME)
            t_load = time.perf_counter() - t
            in_page, round_trip = [], []
            for select, matches in rules.items():
                values = page.eval_on_selector_all(f"#{select} option", "os => os.map(o => o.value)")
                for value in [v for v in values if v]:
                    want = sum(matches(s, value) for s in samples)
                    in_page.append(page.evaluate(IN_PAGE, [select, value]))
                    assert int(page.inner_text("#tb-count")) == want, (select, value)
                    assert page.locator(".tb-card").count() == min(want, 60), (select, value)
                    in_page.append(page.evaluate(IN_PAGE, [select, ""]))
                    t = time.perf_counter()
                    page.select_option(f"#{select}", value)
                    page.evaluate(NEXT_FRAME)
                    round_trip.append((time.perf_counter() - t) * 1000)
                    assert int(page.inner_text("#tb-count")) == want, (select, value)
                    page.select_option(f"#{select}", "")
            assert int(page.inner_text("#tb-count")) == len(samples)
            assert errors == [], errors
        finally:
            browser.close()
    return {
        "load_s": t_load,
        "changes": len(round_trip),
        "in_page_median_ms": statistics.median(in_page),
        "in_page_max_ms": max(in_page),
        "round_trip_median_ms": statistics.median(round_trip),
        "round_trip_max_ms": max(round_trip),
    }


def expected_page(run_dir: Path, n: int, k: int) -> tuple[list[str], dict[str, int]]:
    """(the ids the browser must hold, in order: browser_sample's pick; each status count over all ``n``)."""
    from tag_bench.report.browse import FLAGS, read_views
    from tag_bench.report.html import browser_sample

    views = read_views(run_dir)
    assert len(views) == n
    shown = browser_sample(views, k) if n > k else views
    return [v.id for v in shown], {f: sum(flag.selects(v.scored) for v in views) for f, flag in FLAGS.items()}


def check_page(path: Path, n: int, k: int, ids: list[str], counts: dict[str, int]) -> dict:
    """The browser holds the samples ``ids``, each with its image; the counts and facts cover all ``n``."""
    data = page_data(path)
    (run,) = data["runs"]
    assert [s["id"] for s in run["samples"]] == ids
    assert all(s["img"] is not None for s in run["samples"])
    assert run["n"] == n and run["flag_counts"] == counts, (run["n"], run["flag_counts"], counts)
    text = path.read_text(encoding="utf-8")
    assert f"<th>samples</th><td>{n}</td>" in text  # the run facts count every sample
    if n > k:
        assert run["selection"].startswith(f"{k} of {n} samples (a random {k} of the {n} samples"), run[
            "selection"
        ]
    return run


def main() -> None:
    from tag_bench.report.html import BROWSER_SAMPLES

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--browser-samples", type=int, default=BROWSER_SAMPLES)
    ap.add_argument(
        "--keep", type=Path, help="Build the run here, or reuse it (default: a temporary folder)."
    )
    ap.add_argument("--no-chromium", action="store_true", help="leave out the filter timings in Chromium")
    ap.add_argument("--write-readme", action="store_true", help="write the figures into README.md")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    if args.smoke:
        ap.set_defaults(n=40, browser_samples=16)
        args = ap.parse_args()

    from tag_bench.images import open_image
    from tag_bench.report.html import write_report
    from tag_bench.rundir import RunDir

    k = args.browser_samples
    work = args.keep or Path(tempfile.mkdtemp(prefix="html-report-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run = built_run(work, args.n)
        load = os.getloadavg()
        t_json = read_baseline(run)
        print(
            f"baseline: json.loads of every line of the run's samples, generations, AU references and index: {t_json:.2f}s"
        )
        ids, counts = expected_page(run, args.n, k)
        shown = set(ids)
        samples = [s for s in RunDir(run).read_index() if s.id in shown]
        t = time.perf_counter()
        for s in samples:
            open_image(s)
        t_decode = time.perf_counter() - t
        print(f"baseline: decode the {len(samples):,} images the browser shows once: {t_decode:.2f}s")

        cache = work / "thumbs"
        shutil.rmtree(cache, ignore_errors=True)
        timings, pages = [], []
        for label in ("empty thumbnail cache", "thumbnails from the cache"):
            t = time.perf_counter()
            result = write_report([run], work / "report.html", cache_dir=cache, browser_samples=k)
            elapsed = time.perf_counter() - t
            timings.append(elapsed)
            pages.append(STAMP.sub(b"generated <time>", result.path.read_bytes()))
            assert result.samples == min(args.n, k) == result.images, (result.samples, result.images)
            assert result.thumbnails_made == (result.images if len(pages) == 1 else 0), result.thumbnails_made
            stages = ", ".join(f"{name} {v:.2f}s" for name, v in result.timings.items())
            print(f"report, {label}: {elapsed:.2f}s = {elapsed / t_json:.2f}x the json.loads, "
                  f"{elapsed / t_decode:.1f}x the decode ({stages}); {result.thumbnails_made:,} thumbnails made, "
                  f"side {result.thumb_side}px")  # fmt: skip
        assert pages[0] == pages[1], (
            "the page made with cached thumbnails differs from the first (time aside)"
        )
        page_run = check_page(result.path, args.n, k, ids, counts)
        print(f"report size: {result.size / 1e6:.1f} MB; the browser holds {result.samples:,} of the {args.n:,} "
              f"samples ({'a random sample' if args.n > k else 'all'}), tables and counts cover all")  # fmt: skip
        browser = None if args.no_chromium else chromium_filters(result.path, page_run)
        if browser:
            print(f"Chromium: page loaded in {browser['load_s']:.2f}s; {browser['changes']} filter changes: "
                  f"{browser['in_page_median_ms']:.0f} ms median, {browser['in_page_max_ms']:.0f} ms max in the page; "
                  f"{browser['round_trip_median_ms']:.0f} ms median, {browser['round_trip_max_ms']:.0f} ms max "
                  "through Playwright's select_option")  # fmt: skip
        # the target is on the redraw in the page; Playwright's round trip to the browser is printed beside it
        met = timings[0] < 60 and result.size < 60e6 and (browser is None or browser["in_page_max_ms"] < 200)
        print(f"target: under 60 s with an empty cache, under 60 MB, a filter change under 200 ms: "
              f"{timings[0]:.1f}s, {result.size / 1e6:.1f} MB ({'met' if met else 'MISSED'})")  # fmt: skip
        if args.write_readme:
            write_readme(args, load, t_json, t_decode, timings, result, browser)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def write_readme(args, load, t_json, t_decode, timings, result, browser) -> None:
    """The figures of this run into README.md's generated:html-report-bench block."""
    lines = [
        f"- HTML report of a {args.n:,}-sample run (`bench/html_report_bench.py --n {args.n}`; load average "
        f"{load[0]:.1f} on {os.cpu_count()} cores): {timings[0]:.1f} s with an empty thumbnail cache "
        f"({timings[0] / t_json:.2f}× a bare `json.loads` of the run's files, {t_json:.1f} s), {timings[1]:.1f} s "
        f"with a warm one; {result.size / 1e6:.1f} MB, the browser holding a random {result.samples:,} of the "
        f"samples (tables, figures and counts over all {args.n:,}). Target: < 60 s, < 60 MB.",
    ]
    if browser:
        lines.append(
            f"- In headless Chromium (Playwright): the page loads in {browser['load_s']:.1f} s; a filter change "
            f"redraws in {browser['in_page_median_ms']:.0f} ms median, {browser['in_page_max_ms']:.0f} ms max "
            f"({browser['round_trip_max_ms']:.0f} ms max through Playwright's `select_option`) over "
            f"{browser['changes']} changes. Target: < 200 ms."
        )
    write_block("html-report-bench", "\n".join(lines))


if __name__ == "__main__":
    main()
