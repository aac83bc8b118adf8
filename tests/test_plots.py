"""Figures of runs made by the real pipeline: the demo (MediaPipe reference, facs-rules and random) and
common7 runs of the dataset fixtures (transfer). Files are decoded and measured; overlay pixels are read
back at the place a claimed box was drawn."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from tag_bench._cli.main import main
from tag_bench.report import plots, style
from tag_bench.report.browse import claim_outcome, read_views
from tag_bench.report.frames import read_runs

pytest.importorskip("matplotlib")


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """`tag-bench demo`: facs-rules and random on the public-domain faces, scored against MediaPipe."""
    pytest.importorskip("mediapipe")
    out = tmp_path_factory.mktemp("demo")
    r = cli("demo", "--out", str(out), "--n-resamples", "200", "--no-progress")
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def common7(tmp_path_factory, dataset_fixtures) -> Path:
    """random and majority on the three common7 tasks of the fixtures, with train sources."""
    from tag_bench.generate.evaluate import evaluate

    out = tmp_path_factory.mktemp("common7")
    for task, variant in (("rafdb_basic_test_common7", "raf_basic"), ("ferplus_test_common7", "ferplus_csv"),
                          ("affectnet_val_common7", "affectnet_csv")):  # fmt: skip
        for model, source in (("random", "rafdb"), ("majority", "ferplus")):
            evaluate(task, model, data_root=dataset_fixtures[variant], out=out / f"{task}-{model}",
                     au_reference="none", cache=False, n_resamples=200, progress=False, train_source=source)  # fmt: skip
    return out


def _pdf_page_size(path: Path) -> tuple[float, float]:
    head = path.read_bytes()
    assert head.startswith(b"%PDF-") and head.rstrip().endswith(b"%%EOF")
    m = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", head)
    assert m, "no MediaBox"
    return float(m.group(1)), float(m.group(2))


def test_every_kind_writes_decodable_png_and_pdf_of_the_figure_size(demo, tmp_path):
    out = tmp_path / "figs"
    result = plots.plot_runs([demo], out, kinds=["all"], dpi=100)
    kinds = {p.name.split("-")[0] for p in result.written}
    assert {"confusion", "recall", "au", "iou", "accuracy", "overlay"} <= kinds
    assert any("transfer" in s for s in result.skipped)  # the demo has no common7 run
    runs = read_runs([demo]).runs
    every = plots.FIGURES.in_order()
    jobs = {stem: make for _, stem, make in plots.figures(runs, every, worst=plots.DEFAULT_WORST)}
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == len(list(out.glob("*.pdf"))) == len(result.written) // 2
    for png in pngs:
        with Image.open(png) as im:
            im.verify()
        with Image.open(png) as im:
            size = im.size
        w_in, h_in = jobs[png.stem]().get_size_inches()
        assert size == (round(w_in * 100), round(h_in * 100)), (
            png.name
        )  # no tight cropping: the size is known
        pdf_w, pdf_h = _pdf_page_size(png.with_suffix(".pdf"))
        assert (pdf_w, pdf_h) == pytest.approx((w_in * 72, h_in * 72), abs=0.01)
    # single-column figures are 3.4 in wide
    for stem in ("recall-demo", "iou-hist-demo", "accuracy-vs-grounded", "confusion-counts-random-demo"):
        with Image.open(out / f"{stem}.png") as im:
            assert im.width == round(style.SINGLE_COLUMN_IN * 100)


def _edge_pixels(fig, box, dpi):
    """File pixels along the left edge of ``box`` (image coordinates) as drawn in ``fig`` at ``dpi``."""
    fig.set_dpi(dpi)
    ax = fig.axes[0]
    height = fig.get_size_inches()[1] * dpi
    x1, y1, _x2, y2 = box
    out = []
    for t in (0.3, 0.5, 0.7):
        px, py = ax.transData.transform((x1, y1 + t * (y2 - y1)))
        out.append((round(px - 0.5), round(height - py - 0.5)))
    return out


def _close(rgb, colour, tol=40):
    return all(abs(a - b) <= tol for a, b in zip(rgb, style.hex_rgb(colour), strict=True))


def test_overlay_pixels_of_a_hit_box_have_the_hit_colour(demo, tmp_path):
    (hit_view, hit) = next(
        (v, c) for v in read_views(demo / "facs-rules") for c in v.box_claims() if claim_outcome(c) == "hit"
    )
    assert hit.iou is not None and hit.iou >= 0.5
    # through the command, at a resolution of its own
    r = cli("plot", str(demo / "facs-rules"), "--kind", "overlay", "--sample", hit_view.id, "-o", str(tmp_path),
            "--dpi", "150")  # fmt: skip
    assert r.exit_code == 0, r.output
    png = Path(r.stdout.split()[0])
    assert png.suffix == ".png" and png.with_suffix(".pdf").exists()
    fig = plots.overlay_figure(hit_view, "facs-rules")
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        assert rgb.size == tuple(round(v * 150) for v in fig.get_size_inches())
        for xy in _edge_pixels(fig, hit.box, 150):
            assert _close(rgb.getpixel(xy), style.OUTCOME_COLOURS["hit"]), (xy, rgb.getpixel(xy))
    # a box of the random baseline far from its AU: the miss or hallucinated colour, never the hit one
    view, claim = next((v, c) for v in read_views(demo / "random") for c in v.box_claims())
    fig = plots.overlay_figure(view, "random")
    plots.save_figure(fig, tmp_path / "random", ("png",), dpi=120)
    with Image.open(tmp_path / "random.png") as im:
        rgb = im.convert("RGB")
        colours = {_close(rgb.getpixel(xy), style.OUTCOME_COLOURS[claim_outcome(claim)])
                   for xy in _edge_pixels(fig, claim.box, 120)}  # fmt: skip
    assert claim_outcome(claim) in ("miss", "hallucinated") and colours == {True}


def test_worst_samples_come_first(demo, tmp_path):
    views = read_views(demo / "random")
    worst = plots.plot_runs([demo / "random"], tmp_path, kinds=["overlay"], worst=2, formats=["png"])
    assert len(worst.written) == 2
    ranked = [v.id for v in sorted(views, key=lambda v: (v.scored.correct, -len(v.scored.hallucinated_aus)))]
    assert all(any(plots._slug(i) in p.name for i in ranked[:4]) for p in worst.written)


def test_figure_data_matches_the_run_metrics(demo):
    """The per-AU and IoU figures count exactly what the metrics count."""
    for name in ("facs-rules", "random"):
        metrics = json.loads((demo / name / "metrics.json").read_text())["metrics"]
        views = read_views(demo / name)
        ious = plots.claim_ious(views)
        assert sum(ious) / len(ious) == pytest.approx(metrics["au_box_iou"]["value"])
        assert len(ious) == metrics["au_box_iou"]["n"]
        assert sum(i >= 0.5 for i in ious) / len(ious) == pytest.approx(
            metrics["grounding_precision@0.5"]["value"]
        )
        per_au = plots.au_grounding(views)
        judged = sum(g.judged for g in per_au)
        assert judged == metrics["hallucinated_au_rate"]["n"]
        assert sum(g.hallucinated for g in per_au) / judged == pytest.approx(
            metrics["hallucinated_au_rate"]["value"]
        )
        assert [g.au for g in per_au] == sorted((g.au for g in per_au), key=lambda a: int(a[2:]))


def test_confusion_rows_add_up_to_the_gold_counts_with_failures(demo, tmp_path):
    run = read_runs([demo / "random"]).runs[0]
    fig = plots.confusion_figure(run)
    ax = fig.axes[0]
    classes = run.report.classes
    cells: dict[tuple[int, int], str] = {}
    for t in ax.texts:
        x, y = t.get_position()
        cells[round(y), round(x)] = t.get_text()
    samples = [json.loads(line) for line in (demo / "random" / "samples.jsonl").read_text().splitlines()]
    for i, c in enumerate(classes):
        row = [int(cells[i, j]) for j in range(len(ax.get_xticklabels()))]
        assert sum(row) == sum(s["label"] == c for s in samples)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[: len(classes)] == [plots._short(c) for c in classes]  # the task's class order


def test_transfer_heatmap_shows_common7_accuracy(common7, tmp_path):
    runs = read_runs([common7]).runs
    fig = plots.transfer_figure(runs)
    shown = {t.get_text() for t in fig.axes[0].texts}
    for r in runs:
        assert f"{100 * r.report.metrics['accuracy'].value:.1f}" in shown
    r = cli(
        "plot", str(common7), "--kind", "transfer", "--kind", "recall", "-o", str(tmp_path), "--format", "png"
    )
    assert r.exit_code == 0, r.output
    written = sorted(Path(p).name for p in r.stdout.split())
    assert written == ["recall-affectnet_val_common7.png", "recall-ferplus_test_common7.png",
                       "recall-rafdb_basic_test_common7.png", "transfer.png"]  # fmt: skip


def test_clear_errors(demo, tmp_path):
    r = cli("plot", str(demo), "--kind", "overlay", "-o", str(tmp_path))
    assert r.exit_code == 1 and "--sample ID or --worst N" in r.output
    r = cli("plot", str(demo), "--kind", "transfer", "-o", str(tmp_path))
    assert r.exit_code == 1 and "no run of a common7 task" in r.output
    r = cli("plot", str(demo), "--kind", "overlay", "--sample", "demo/astronaut", "--sample", "nope",
            "-o", str(tmp_path), "--format", "png")  # fmt: skip
    assert r.exit_code == 0 and "has no sample nope" in r.stderr
    assert len(r.stdout.split()) == 2  # the astronaut of each run


def test_without_matplotlib_the_extra_is_named(monkeypatch):
    from tag_bench._optional import MissingExtraError

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"tag-bench\[plots\]"):
        style.matplotlib()


def test_a_new_figure_kind_is_one_registry_entry(demo, tmp_path):
    from tag_bench.report.docs import kinds_table
    from tag_bench.report.html import write_report

    @plots.figure_kind("confusion-again", "run", "The confusion matrix once more.")
    def _again(runs, ctx):
        yield "", lambda: plots.confusion_figure(runs[0])

    try:
        assert plots.figure_kinds()[-1].name == "confusion-again"
        result = plots.plot_runs([demo], tmp_path, kinds=["confusion-again"], formats=["png"], dpi=50)
        assert sorted(p.name for p in result.written) == [
            "confusion-again-facs-rules-demo.png",
            "confusion-again-random-demo.png",
        ]
        assert "| `confusion-again` | The confusion matrix once more. | one per run | yes |" in kinds_table()
        page = write_report([demo], tmp_path / "r.html").path.read_text(encoding="utf-8")
        kinds = list(dict.fromkeys(re.findall(r'<figure data-kind="([^"]+)"', page)))
        # every kind the demo runs can give: no common7 run (transfer), no intervention set (intervention)
        drawn = [
            k.name for k in plots.figure_kinds() if k.in_report and k.name not in ("transfer", "intervention")
        ]
        assert kinds == drawn
        assert page.count("<figcaption>The confusion matrix once more.</figcaption>") == 2
    finally:
        plots.FIGURES.unregister("confusion-again")
