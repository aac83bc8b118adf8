"""Figures of scored runs, as PNG and PDF (the ``tag-bench plot`` command).

Every kind of figure is one entry of :data:`FIGURES` (in the section "Figure kinds" below): its name,
its scope (one figure per run, per task, of all runs, or per sample), the function that yields its
figures and its caption. ``tag-bench plot --kind``, the HTML report and the table of docs/report.md
(:mod:`tag_bench.report.docs`) read it; :func:`figure_kinds` gives the entries in order.

matplotlib is imported only here, when a figure is made (extra ``plots``); figures are
``matplotlib.figure.Figure`` objects drawn by Agg, never pyplot. The look lives in
:mod:`tag_bench.report.style`.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from tag_bench._registry import Registry
from tag_bench.comparability import describe, differing
from tag_bench.errors import TagBenchError
from tag_bench.facs import au_sort_key
from tag_bench.images import ImageLoadError, open_image
from tag_bench.intervene.outcomes import AREA_EDGES
from tag_bench.metrics.grounding import GROUNDED_IOU, au_active, reference_states
from tag_bench.metrics.stats import wilson_interval
from tag_bench.metrics.transfer import normalise_dataset
from tag_bench.report import style
from tag_bench.report.browse import SampleView, claim_outcome, read_views, worst_first
from tag_bench.report.frames import ScoredRun, read_runs
from tag_bench.report.render import row_label
from tag_bench.report.spec import load_spec
from tag_bench.report.table import Table, build_table
from tag_bench.scoring.metric_table import spec as metric_spec
from tag_bench.scoring.units import format_value, unit_of

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

FORMATS = ("png", "pdf")
LOW_IOU = 0.3  # the other threshold of the metric table (grounding_precision@0.3)
DEFAULT_WORST = 3  # overlays of ``--kind all`` without --sample / --worst
MAX_OVERLAY_HEIGHT_IN = 4.6  # a tall image is drawn narrower than the column
REPORT_MAX_CONFUSION_RUNS = 12  # the HTML report leaves confusion matrices out past this many runs


class PlotError(TagBenchError):
    """A figure cannot be made as asked; the message says why and what to do."""


@dataclass
class PlotResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what could not be drawn, and why


# --------------------------------------------------------------------------------------------------
# Entry point


def plot_runs(
    paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    kinds: Sequence[str] = ("all",),
    sample_ids: Sequence[str] = (),
    worst: int | None = None,
    formats: Sequence[str] = FORMATS,
    dpi: int = style.PAPER_DPI,
    allow_incomplete: bool = False,
    allow_failed: bool = False,
) -> PlotResult:
    """Draw ``kinds`` (names of :data:`FIGURES`, or ``all``) for the scored runs under ``paths`` into
    ``out_dir``. Overlays: the samples ``sample_ids``, or the ``worst`` N of each run (see
    :func:`~tag_bench.report.browse.worst_first`). Raises PlotError when nothing could be drawn."""
    wanted = _kinds(kinds)
    for f in formats:
        if f not in FORMATS:
            raise PlotError(f"unknown figure format {f!r}; use {', '.join(FORMATS)}")
    runs = read_runs(
        list(paths), allow_incomplete=allow_incomplete, allow_failed=allow_failed, judge_runs=False
    ).runs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = PlotResult()
    per_sample = [k for k in wanted if FIGURES.get(k).scope == "sample"]
    if per_sample and not sample_ids and worst is None:
        worst = DEFAULT_WORST if "all" in kinds else None
        if worst is None:
            raise PlotError(f"--kind {per_sample[0]} needs --sample ID or --worst N")
    for _kind, stem, make in figures(runs, wanted, sample_ids=sample_ids, worst=worst, result=result):
        with style.rc_context():
            try:
                fig = make()
            except PlotError as e:
                result.skipped.append(f"{stem}: {e}")
                continue
            result.written += save_figure(fig, out / stem, formats, dpi)
    if not result.written:
        raise PlotError("no figure could be drawn: " + "; ".join(result.skipped or ["no run"]))
    return result


def _kinds(kinds: Sequence[str]) -> list[str]:
    known = FIGURES.in_order()
    out: list[str] = []
    for k in kinds:
        if k == "all":
            out += known
        elif k in known:
            out.append(k)
        else:
            raise PlotError(f"unknown plot kind {k!r}; use one of {', '.join(known)} or all")
    return list(dict.fromkeys(out))


#: (kind, file stem, figure maker)
FigureJob = tuple[str, str, Callable[[], "Figure"]]


def figures(
    runs: Sequence[ScoredRun],
    kinds: Sequence[str],
    *,
    sample_ids: Sequence[str] = (),
    worst: int | None = None,
    result: PlotResult | None = None,
    views: dict[tuple[str, str | None], list[SampleView]] | None = None,
    report: bool = False,
) -> list[FigureJob]:
    """(kind, file stem, figure maker) of every figure ``kinds`` asks of ``runs`` (makers run lazily,
    so the HTML report and the command share one list). ``views``: samples already read, by
    :func:`views_key`; ``report``: the figures as the HTML report shows them."""
    ctx = FigureContext(runs, sample_ids, worst, result if result is not None else PlotResult(),
                        views if views is not None else {}, report)  # fmt: skip
    jobs: list[FigureJob] = []
    stems = _Stems()
    for name in kinds:
        kind = FIGURES.get(name)
        groups: list[tuple[Sequence[ScoredRun], ScoredRun | None, str | None]]
        if kind.scope == "task":
            groups = [(members, None, members[0].manifest.task.name) for members in _comparable(runs, kind)]
        elif kind.scope == "runs":
            groups = [(runs, None, None)]
        else:
            groups = [([r], r, None) for r in runs]
        for members, run, task in groups:
            for variant, make in kind.jobs(members, ctx):
                stem = stems.get(f"{name}-{variant}" if variant else name, run, task)
                jobs.append((name, stem, make))
    return jobs


def _comparable(runs: Sequence[ScoredRun], kind: FigureKind) -> list[list[ScoredRun]]:
    """The runs drawn together: one task and one comparability key (the AU reference only for figures of
    grounding), in first-seen order."""
    blank = () if kind.reference else ("au_reference",)
    groups: dict[object, list[ScoredRun]] = {}
    for r in runs:
        groups.setdefault(r.key.without(*blank), []).append(r)
    return list(groups.values())


def views_key(run: ScoredRun) -> tuple[str, str | None]:
    return str(run.run.path), run.reference_key


# --------------------------------------------------------------------------------------------------
# Figure kinds: one entry each, in the order of the HTML report (and of ``--kind all``)

Scope = Literal["run", "task", "runs", "sample"]
#: How the docs and --help say how many figures a kind draws.
SCOPE_WORDS: dict[Scope, str] = {"run": "one per run", "task": "one per task and set of comparable runs",
                                 "runs": "one for all runs", "sample": "one per sample"}  # fmt: skip


@dataclass
class FigureContext:
    """What a kind's jobs may use besides the runs of their scope."""

    runs: Sequence[ScoredRun]  # every run of the call
    sample_ids: Sequence[str]
    worst: int | None
    result: PlotResult  # where a kind reports what it left out
    views: dict[tuple[str, str | None], list[SampleView]]  # samples read so far, by views_key
    report: bool  # for the HTML report rather than ``tag-bench plot``

    def views_of(self, run: ScoredRun) -> list[SampleView]:
        key = views_key(run)
        if key not in self.views:
            self.views[key] = read_views(run.run, reference_key=run.reference_key)
        return self.views[key]


#: A kind's figures for one unit of its scope (one run, the runs of a task, all runs): (variant, maker)
#: each; the file stem is the kind, the variant if any, then the run or task.
Variants = Iterable[tuple[str, Callable[[], "Figure"]]]
Jobs = Callable[[Sequence[ScoredRun], FigureContext], Variants]


@dataclass(frozen=True)
class FigureKind:
    """One kind of figure: ``tag-bench plot --kind NAME``, a figure of the HTML report, a row of the docs."""

    name: str
    scope: Scope  # one figure per run, per task, of all runs together, or per chosen sample
    jobs: Jobs
    caption: str  # the HTML report's caption, the first sentence in the docs and in --help
    details: str = ""  # what the docs add to the caption
    in_report: bool = True  # overlays are drawn by the report's sample browser instead
    reference: bool = False  # shows grounding: runs judged against different AU references are apart


FIGURES: Registry[FigureKind] = Registry("plot kind")


def figure_kind(name: str, scope: Scope, caption: str, details: str = "", in_report: bool = True,
                reference: bool = False) -> Callable[[Jobs], Jobs]:  # fmt: skip
    """Register the decorated jobs function as the figure kind ``name``."""

    def add(jobs: Jobs) -> Jobs:
        FIGURES.register(name, FigureKind(name, scope, jobs, caption, details, in_report, reference),
                         source=f"{jobs.__module__}:{jobs.__qualname__}")  # fmt: skip
        return jobs

    return add


def figure_kinds() -> list[FigureKind]:
    """Every figure kind, in order."""
    return [FIGURES.get(name) for name in FIGURES.in_order()]


P = functools.partial


@figure_kind(
    "accuracy-vs-grounded",
    "runs",
    "Accuracy against grounded accuracy (right label, a box with IoU ≥ 0.5, no hallucinated AU), both over "
    "the samples with a usable AU reference.",
    "One point per model, with 95 % intervals; the distance below the diagonal is the share right for the "
    "wrong reasons. Models that read the reference (†) are drawn hollow.",
)
def _accuracy_vs_grounded(runs: Sequence[ScoredRun], ctx: FigureContext) -> Variants:
    yield "", P(accuracy_grounded_figure, runs)


@figure_kind(
    "recall",
    "task",
    "Per-class recall with 95 % Wilson intervals.",
    "Models side by side, classes in the task's order; `n` under each class is its gold count.",
)
def _recall(runs: Sequence[ScoredRun], ctx: FigureContext) -> Variants:
    yield "", P(recall_figure, runs)


@figure_kind(
    "confusion",
    "run",
    "Confusion matrix (rows gold, columns predicted; failed = no usable answer).",
    "In the task's class order, as counts and row-normalised (% of each gold class): two files per run. "
    "Every row, the failed column included, adds up to the gold count printed beside it. The HTML report shows the row-normalised "
    f"matrices, of up to {REPORT_MAX_CONFUSION_RUNS} runs.",
)
def _confusion(runs: Sequence[ScoredRun], ctx: FigureContext) -> Variants:
    if ctx.report and len(ctx.runs) > REPORT_MAX_CONFUSION_RUNS:
        return
    for normalise in (False, True) if not ctx.report else (True,):  # the row labels give the counts
        yield "rownorm" if normalise else "counts", P(confusion_figure, runs[0], normalise=normalise)


@figure_kind(
    "iou-hist",
    "task",
    "IoU of every box claim with the reference region of its AU.",
    "0.3 and 0.5 marked; several models as outlines, in % of their claims.",
    reference=True,
)
def _iou_hist(runs: Sequence[ScoredRun], ctx: FigureContext) -> Variants:
    yield "", lambda: iou_histogram_figure([(r, ctx.views_of(r)) for r in runs])


@figure_kind(
    "au-grounding",
    "run",
    "Per cited AU: IoU of its box claims (number of claims above), and the share of samples citing it where "
    "the reference marks it inactive (hallucinated / judged samples above; n/j: never judged).",
    "Top: a box plot; bottom: bars with Wilson intervals. Counted as `hallucinated_au_rate` counts: once per "
    "sample, over the samples with a usable AU reference.",
)
def _au_grounding(runs: Sequence[ScoredRun], ctx: FigureContext) -> Variants:
    run = runs[0]
    yield "", lambda: au_grounding_figure(run, ctx.views_of(run))


@figure_kind(
    "intervention",
    "run",
    "Faithfulness by intervention: the share of answers that flip under each condition, per fill, with 95 % "
    "Wilson intervals (left), and against the filled area (right).",
    "Runs of the intervene stage only (`tag-bench intervene RUN`). Left: none (the unmodified image asked "
    "again), cited, control, habitual and keep, one bar per fill, the two gaps with their intervals in the "
    "title. Right: the flip rate of each condition among the samples whose filled area (share of the image) "
    "falls in a bin, one line per condition and fill, so that a reader can see whether area explains the gap.",
)
def _intervention(runs: Sequence[ScoredRun], ctx: FigureContext) -> Variants:
    run = runs[0]
    if not run.run.intervention_fills():
        ctx.result.skipped.append(
            f"intervention: {run.name} ({run.run.path}) has no intervention set: run `tag-bench intervene {run.run.path}`"
        )
        return
    yield "", P(intervention_figure, run)


@figure_kind(
    "transfer",
    "runs",
    "Cross-dataset transfer, common7 accuracy; the cell of each model's train source is outlined.",
    "Models × evaluation datasets, as in the `transfer` leaderboard (runs of common7 tasks); the train "
    "source is the run's `--train-source`.",
)
def _transfer(runs: Sequence[ScoredRun], ctx: FigureContext) -> Variants:
    yield "", P(transfer_figure, runs)


@figure_kind(
    "overlay",
    "sample",
    "A sample's presented image with each claimed box (solid, labelled with its AU and IoU, coloured by "
    "outcome) and the reference region of the same AU (dashed blue), predicted and gold label above.",
    "The samples: `--sample ID`, or the `--worst N` of each run (the HTML report's sample browser draws "
    "its own).",
    in_report=False,
)
def _overlay(runs: Sequence[ScoredRun], ctx: FigureContext) -> Variants:
    run = runs[0]
    for v in _overlay_samples(run, ctx.views_of(run), ctx.sample_ids, ctx.worst, ctx.result):
        yield _slug(v.id), P(overlay_figure, v, run.name)


def _overlay_samples(
    run: ScoredRun, views: list[SampleView], ids: Sequence[str], worst: int | None, result: PlotResult
) -> list[SampleView]:
    if ids:
        by_id = {v.id: v for v in views}
        missing = [i for i in ids if i not in by_id]
        if missing:
            result.skipped.append(f"overlay: {run.name} has no sample {', '.join(missing)}")
        return [by_id[i] for i in ids if i in by_id]
    return [v for v in worst_first(views) if v.sample is not None][: worst or 0]


class _Stems:
    """File stems: kind, run name and task, made safe and unique."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def get(self, kind: str, run: ScoredRun | None = None, task: str | None = None) -> str:
        parts = [kind]
        if run is not None:
            parts += [_slug(run.name), _slug(run.manifest.task.name)]
            if run.reference_key:
                parts.append(_slug(run.reference_key))
        elif task:
            parts.append(_slug(task))
        stem, k = "-".join(parts), 2
        while stem in self.seen:
            stem, k = f"{'-'.join(parts)}-{k}", k + 1
        self.seen.add(stem)
        return stem


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_.") or "x"


def save_figure(
    fig: Figure, stem: Path, formats: Sequence[str] = FORMATS, dpi: int = style.PAPER_DPI
) -> list[Path]:
    """Write ``stem.png`` (at ``dpi``) and ``stem.pdf``; the pixel size is the figure size × dpi."""
    out = []
    with style.rc_context():
        for f in formats:
            path = stem.with_name(f"{stem.name}.{f}")
            fig.savefig(path, format=f, dpi=dpi, metadata=_metadata(f))
            out.append(path)
    return out


def figure_png(fig: Figure, dpi: int = style.SCREEN_DPI) -> bytes:
    """The figure as PNG bytes (for the HTML report)."""
    import io

    buf = io.BytesIO()
    with style.rc_context():
        fig.savefig(buf, format="png", dpi=dpi, metadata=_metadata("png"))
    return buf.getvalue()


F = TypeVar("F", bound=Callable[..., Any])


def _styled(fn: F) -> F:
    """Run a figure maker inside the tag-bench rc settings (text sizes are read when artists are made)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with style.rc_context():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _metadata(fmt: str) -> dict[str, Any]:
    # no creation date: the same runs give the same files
    return {"Software": "tag-bench"} if fmt == "png" else {"Creator": "tag-bench", "CreationDate": None}


# --------------------------------------------------------------------------------------------------
# Confusion matrix


@_styled
def confusion_figure(run: ScoredRun, *, normalise: bool = False) -> Figure:
    """The run's confusion matrix in the task's class order (rows gold, columns predicted), with a
    ``failed`` column when samples had no usable answer: counts, or shares of each gold row."""
    import numpy as np

    cm = run.report.confusion_matrix
    classes = list(cm["classes"])
    matrix = np.asarray(cm["matrix"], dtype=float)
    failed = np.asarray(cm.get("failed") or [0] * len(classes), dtype=float)
    columns = list(classes)
    if failed.any():
        matrix = np.column_stack([matrix, failed])
        columns.append("failed")
    support = matrix.sum(axis=1)
    values = 100 * matrix / np.where(support > 0, support, np.nan)[:, None] if normalise else matrix
    k = len(classes)
    fig = style.new_figure(style.SINGLE_COLUMN_IN, 1.0 + 0.25 * k)
    ax = fig.add_subplot()
    vmax = 100.0 if normalise else max(1.0, float(np.nanmax(values)) if values.size else 1.0)
    im = ax.imshow(
        np.ma.masked_invalid(values), cmap=style.SEQUENTIAL_CMAP, vmin=0, vmax=vmax, aspect="equal"
    )
    cmap = im.get_cmap()
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if math.isnan(v):
                text, colour = "–", "#555555"
            else:
                text = f"{v:.0f}"
                colour = style.text_colour(_hex(cmap(v / vmax)))
            ax.text(j, i, text, ha="center", va="center", fontsize=5.5 if k > 7 else 6, color=colour)
    ax.set_xticks(range(len(columns)), [_short(c) for c in columns], rotation=45, ha="right",
                  rotation_mode="anchor")  # fmt: skip
    ax.set_yticks(range(k), [f"{_short(c)} ({int(n)})" for c, n in zip(classes, support, strict=True)])
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold (samples)")
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    what = "% of each gold row" if normalise else "counts"
    ax.set_title(f"{run.name} on {run.manifest.task.name} ({what})")
    bar = fig.colorbar(im, ax=ax, shrink=0.75, pad=0.02, aspect=25)
    if not normalise:
        from matplotlib.ticker import MaxNLocator

        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    bar.outline.set_visible(False)
    return fig


def _hex(rgba: Sequence[float]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*(round(255 * c) for c in rgba[:3]))


def _short(name: str) -> str:
    return {"happiness": "happy", "surprise": "surprise", "sadness": "sad", "neutral": "neutral"}.get(
        name, name
    )


# --------------------------------------------------------------------------------------------------
# Per-class recall


@_styled
def recall_figure(runs: Sequence[ScoredRun]) -> Figure:
    """Per-class recall with its 95 % interval, one bar per model, classes in the task's order."""
    import numpy as np

    if not runs:
        raise PlotError("no run")
    classes = list(runs[0].report.classes)
    support = []
    for c in classes:
        v = runs[0].report.metrics.get(f"recall/{c}")
        support.append(v.n if v is not None else 0)
    n_models = len(runs)
    width = 0.8 / n_models
    fig = style.new_figure(style.SINGLE_COLUMN_IN if n_models <= 4 else style.DOUBLE_COLUMN_IN, 2.3)
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    for i, r in enumerate(runs):
        vals, lo, hi = [], [], []
        for c in classes:
            m = r.report.metrics.get(f"recall/{c}")
            shown = unit_of(metric_spec(f"recall/{c}")).shown
            value = m.value if m is not None and m.value is not None else math.nan
            vals.append(shown(value))
            lo.append(shown(value - m.ci_low) if m is not None and m.ci_low is not None else 0.0)
            hi.append(shown(m.ci_high - value) if m is not None and m.ci_high is not None else 0.0)
        pos = x - 0.4 + width * (i + 0.5)
        colour = style.SERIES[i % len(style.SERIES)]
        ax.bar(pos, vals, width * 0.92, color=colour, label=r.name, zorder=2)
        ok = ~np.isnan(vals)
        ax.errorbar(pos[ok], np.asarray(vals)[ok], yerr=[np.asarray(lo)[ok], np.asarray(hi)[ok]], fmt="none",
                    ecolor="#333333", elinewidth=0.6, capsize=1.2, zorder=3)  # fmt: skip
    ax.set_xticks(x, [f"{_short(c)}\n(n={n})" for c, n in zip(classes, support, strict=True)])
    ax.set_ylim(0, 100)
    ax.set_ylabel("recall (%)")
    ax.yaxis.grid(True, linewidth=0.4, color="#dddddd", zorder=0)
    ax.set_axisbelow(True)
    ax.set_title(f"Per-class recall on {runs[0].manifest.task.name} (95 % CI)")
    if n_models > 1:
        ax.legend(ncols=min(n_models, 4), loc="upper center", bbox_to_anchor=(0.5, -0.22))
    return fig


# --------------------------------------------------------------------------------------------------
# Per-AU grounding


@dataclass
class AUGrounding:
    """Claims of one AU over the samples with a usable reference."""

    au: str
    ious: list[float] = field(default_factory=list)  # one per box claim
    judged: int = 0  # samples citing the AU where the reference can judge it
    hallucinated: int = 0  # of those, samples where the reference marks it inactive

    @property
    def hallucination_rate(self) -> float | None:
        return self.hallucinated / self.judged if self.judged else None


def au_grounding(views: Iterable[SampleView]) -> list[AUGrounding]:
    """Per cited AU (FACS order), over samples with a usable AU reference: the IoU of each box claim
    and the hallucination rate counted once per sample, as ``hallucinated_au_rate`` counts it."""
    per: dict[str, AUGrounding] = {}
    for v in views:
        s = v.scored
        if s.reference_status != "ok":
            continue
        for c in s.claims:
            if c.au is not None and c.box is not None and c.iou is not None:
                per.setdefault(c.au, AUGrounding(c.au)).ious.append(c.iou)
        states = reference_states(v.reference) if v.reference is not None else None
        for au in dict.fromkeys(s.cited_aus):
            if states is not None:
                judged = au_active(states.get(au), v.reference.threshold if v.reference else None) is not None
            else:  # no reference record kept: what the scored claims say
                judged = any(c.au == au and c.reference_active is not None for c in s.claims)
            g = per.setdefault(au, AUGrounding(au))
            if judged or au in s.hallucinated_aus:
                g.judged += 1
                g.hallucinated += au in s.hallucinated_aus
    return sorted(per.values(), key=lambda g: (au_sort_key(g.au), g.au))


@_styled
def au_grounding_figure(run: ScoredRun, views: Sequence[SampleView]) -> Figure:
    """Top: IoU of the box claims of each cited AU (box plot; the number of claims above); bottom: share
    of the samples citing it where the reference marks it inactive (Wilson 95 % interval; hallucinated /
    judged samples above, ``n/j`` when the reference never judged it)."""
    rows = au_grounding(views)
    if not rows:
        raise PlotError(f"{run.name}: no cited AU on a sample with a usable AU reference")
    import numpy as np

    fig = style.new_figure(max(style.SINGLE_COLUMN_IN, 0.3 * len(rows) + 0.8), 3.3)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1.3, 1])
    x = np.arange(len(rows))
    with_boxes = [(i, g.ious) for i, g in enumerate(rows) if g.ious]
    if with_boxes:
        top.boxplot([d for _, d in with_boxes], positions=[i for i, _ in with_boxes], widths=0.55,
                    showfliers=True, patch_artist=True,
                    boxprops={"facecolor": style.OKABE_ITO["sky_blue"], "linewidth": 0.6},
                    medianprops={"color": style.OKABE_ITO["black"], "linewidth": 0.9},
                    whiskerprops={"linewidth": 0.6}, capprops={"linewidth": 0.6},
                    flierprops={"markersize": 2, "markeredgewidth": 0.4})  # fmt: skip
    top.axhline(GROUNDED_IOU, color=style.OUTCOME_COLOURS["hit"], linestyle="--", linewidth=0.7)
    top.set_ylim(-0.02, 1.1)
    top.set_ylabel("IoU of box claims")
    for i, g in enumerate(rows):
        top.text(i, 1.04, f"{len(g.ious)}", ha="center", va="bottom", fontsize=5.5, color="#444444")
    top.set_title(f"{run.name} on {run.manifest.task.name}: grounding per cited AU")
    shown = unit_of(metric_spec("hallucinated_au_rate")).shown
    rates = [shown(g.hallucination_rate or 0.0) for g in rows]
    lo, hi = [], []
    for g in rows:
        if g.judged:
            a, b = wilson_interval(g.hallucinated, g.judged)
            rate = g.hallucinated / g.judged
            lo.append(shown(rate - a))
            hi.append(shown(b - rate))
        else:
            lo.append(0.0)
            hi.append(0.0)
    judged = np.array([g.judged > 0 for g in rows])
    bottom.bar(x[judged], np.asarray(rates)[judged], 0.6, color=style.OUTCOME_COLOURS["hallucinated"])
    bottom.errorbar(x[judged], np.asarray(rates)[judged], yerr=[np.asarray(lo)[judged], np.asarray(hi)[judged]],
                    fmt="none", ecolor="#333333", elinewidth=0.6, capsize=1.2)  # fmt: skip
    for i, g in enumerate(rows):
        label = f"{g.hallucinated}/{g.judged}" if g.judged else "n/j"
        bottom.text(i, 102, label, ha="center", va="bottom", fontsize=5, rotation=90 if len(rows) > 10 else 0)
    bottom.set_ylim(0, 118)
    bottom.set_yticks([0, 25, 50, 75, 100])
    bottom.set_ylabel("hallucinated (%)")
    bottom.set_xticks(x, [g.au for g in rows], rotation=90 if len(rows) > 12 else 0)
    bottom.set_xlabel("cited AU")
    return fig


# --------------------------------------------------------------------------------------------------
# IoU histogram


def claim_ious(views: Iterable[SampleView]) -> list[float]:
    """IoU of every box claim of the samples with a usable AU reference (what ``au_box_iou`` averages)."""
    return [
        c.iou
        for v in views
        if v.scored.reference_status == "ok"
        for c in v.scored.claims
        if c.box is not None and c.iou is not None
    ]


@_styled
def iou_histogram_figure(runs: Sequence[tuple[ScoredRun, Sequence[SampleView]]]) -> Figure:
    """Histogram of the IoU of all box claims, 0.3 and 0.5 marked; several models as outlines (shares)."""
    import numpy as np

    data = [(r, claim_ious(v)) for r, v in runs]
    data = [(r, d) for r, d in data if d]
    if not data:
        raise PlotError("no box claim on a sample with a usable AU reference")
    fig = style.new_figure(style.SINGLE_COLUMN_IN, 2.2)
    ax = fig.add_subplot()
    bins = [i / 20 for i in range(21)]
    share = len(data) > 1
    for i, (r, ious) in enumerate(data):
        weights = np.full(len(ious), 100 / len(ious)) if share else None
        colour = style.SERIES[i % len(style.SERIES)]
        ax.hist(ious, bins=bins, weights=weights, histtype="step" if share else "bar", color=colour,
                linewidth=1.0, label=f"{r.name} (n={len(ious)})",
                edgecolor=colour if share else "white")  # fmt: skip
    for t, name in ((LOW_IOU, "0.3"), (GROUNDED_IOU, "0.5")):
        ax.axvline(
            t, color=style.OKABE_ITO["black"], linestyle="--" if t == GROUNDED_IOU else ":", linewidth=0.8
        )
        ax.text(t, 1.0, f" IoU {name}", transform=ax.get_xaxis_transform(), ha="left", va="top", fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_xlabel("IoU of the claimed box with the reference region of its AU")
    ax.set_ylabel("box claims (%)" if share else "box claims")
    ax.set_title(f"Box claims on {data[0][0].manifest.task.name}")
    fig.legend(loc="outside lower center", ncols=min(len(data), 3))
    return fig


# --------------------------------------------------------------------------------------------------
# Transfer


def transfer_table(runs: Sequence[ScoredRun]) -> Table:
    return build_table(runs, load_spec("transfer"))


@_styled
def transfer_figure(runs: Sequence[ScoredRun]) -> Figure:
    """Heatmap of the ``transfer`` leaderboard: models × evaluation datasets, common7 accuracy (%)."""
    import numpy as np

    table = transfer_table(runs)
    datasets = [g for g in table.groups if g.title != "Transfer"]
    values = np.array([[row.cells[j][0].value if row.cells[j][0].value is not None else np.nan
                        for j in range(len(datasets))] for row in table.rows], dtype=float)  # fmt: skip
    if not table.rows or np.isnan(values).all():
        raise PlotError(
            "no run of a common7 task (rafdb_basic_test_common7, ferplus_test_common7, affectnet_val_common7)"
        )
    fig = style.new_figure(style.SINGLE_COLUMN_IN, 0.9 + 0.28 * len(table.rows))
    ax = fig.add_subplot()
    metric = table.groups[0].columns[0].metric
    shown = unit_of(metric_spec(metric)).shown
    im = ax.imshow(
        np.ma.masked_invalid(shown(values)), cmap=style.SEQUENTIAL_CMAP, vmin=0, vmax=100, aspect="auto"
    )
    cmap = im.get_cmap()
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if math.isnan(v):
                ax.text(j, i, "–", ha="center", va="center", color="#555555")
                continue
            colour = style.text_colour(_hex(cmap(v)))
            ax.text(j, i, format_value(metric_spec(metric), v), ha="center", va="center", color=colour)
    from matplotlib.patches import Rectangle

    names = [normalise_dataset(g.dataset or "") for g in load_spec("transfer").columns]
    for i, row in enumerate(table.rows):
        if row.train_source and normalise_dataset(row.train_source) in names:
            j = names.index(normalise_dataset(row.train_source))
            ax.add_patch(Rectangle((j - 0.47, i - 0.45), 0.94, 0.9, fill=False, edgecolor=style.OKABE_ITO["orange"],
                                   linewidth=1.5))  # fmt: skip
    ax.set_xticks(range(len(datasets)), [g.title for g in datasets])
    ax.set_yticks(range(len(table.rows)), [row_label(r) for r in table.rows])
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_xlabel("evaluated on (outlined: the model's train source)")
    ax.set_title("Cross-dataset transfer: common7 accuracy (%)")
    fig.colorbar(im, ax=ax, shrink=0.9, pad=0.02)
    return fig


# --------------------------------------------------------------------------------------------------
# Accuracy vs grounded accuracy


@_styled
def accuracy_grounded_figure(runs: Sequence[ScoredRun]) -> Figure:
    """Each model at (accuracy, grounded accuracy) on the samples with a usable AU reference, with 95 %
    intervals; the distance below the diagonal is the share right for the wrong reasons."""
    points = []
    for r in runs:
        a = r.report.metrics.get("accuracy_covered")
        g = r.report.metrics.get("grounded_accuracy")
        if a is not None and g is not None and a.value is not None and g.value is not None:
            points.append((r, a, g, a.value, g.value))
    if not points:
        raise PlotError("no run has grounded accuracy (score runs against an AU reference)")
    several_tasks = len({p[0].manifest.task.name for p in points}) > 1
    # runs of one task that are not comparable say how they differ, next to their name
    apart = [part for part in differing(p[0].key for p in points) if part != "task"]
    fig = style.new_figure(style.SINGLE_COLUMN_IN, 3.0)
    ax = fig.add_subplot()
    ax.plot([0, 100], [0, 100], color="#999999", linewidth=0.7, linestyle="--", zorder=1)
    ax.text(97, 99, "grounded = accuracy", rotation=45, ha="right", va="top", fontsize=5.5, color="#777777",
            transform_rotates_text=True, rotation_mode="anchor")  # fmt: skip
    for i, (r, a, g, acc, grounded) in enumerate(points):
        colour = style.SERIES[i % len(style.SERIES)]
        oracle = r.manifest.model.oracle_reference
        xerr = _err(a)
        yerr = _err(g)
        ax.errorbar(_pct(acc), _pct(grounded), xerr=xerr, yerr=yerr, fmt="o", color=colour, markersize=4,
                    markerfacecolor="white" if oracle else colour, elinewidth=0.6, capsize=1.2, zorder=3)  # fmt: skip
        detail = [r.manifest.task.name] if several_tasks else []
        detail += [describe(r.key, part) for part in apart]
        label = r.name + (" †" if oracle else "") + (f" ({', '.join(detail)})" if detail else "")
        ax.annotate(label, (_pct(acc), _pct(grounded)), xytext=(4, -8), textcoords="offset points",
                    fontsize=6, color=colour)  # fmt: skip
    ax.set_xlim(-3, 103)
    ax.set_ylim(-3, 103)
    ax.set_aspect("equal")
    ax.set_xlabel("accuracy (%), samples with an AU reference")
    ax.set_ylabel("grounded accuracy (%)")
    ax.set_title("Right, and for the right reasons?")
    if any(p[0].manifest.model.oracle_reference for p in points):
        ax.text(
            0.02,
            0.98,
            "† reads the AU reference (upper bound)",
            transform=ax.transAxes,
            va="top",
            fontsize=5.5,
        )
    return fig


#: accuracy and grounded accuracy are rates: drawn in percent
_pct = unit_of("rate").shown


def _err(m: Any) -> list[list[float]] | None:
    if m.ci_low is None or m.ci_high is None:
        return None
    return [[_pct(m.value - m.ci_low)], [_pct(m.ci_high - m.value)]]


# --------------------------------------------------------------------------------------------------
# Sample overlay


@_styled
def overlay_figure(view: SampleView, name: str = "") -> Figure:
    """The presented image with each claimed box (solid, labelled with its AU, coloured by
    :func:`~tag_bench.report.browse.claim_outcome`) and the reference region of the same AU (dashed),
    plus the predicted and gold label. Raises PlotError when the image cannot be read."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    if view.sample is None:
        raise PlotError(f"sample {view.id} is not in the run's index.jsonl")
    try:
        image = open_image(view.sample)
    except ImageLoadError as e:
        raise PlotError(f"sample {view.id}: {e}") from None
    w, h = image.size
    s = view.scored
    # Fixed layout (no layout engine): the image fills its axes exactly, so that pixel (x, y) of the
    # image is at a known place of the file.
    title_in, legend_in = 0.36, 0.34
    img_w = style.SINGLE_COLUMN_IN
    img_h = img_w * h / w
    if img_h > MAX_OVERLAY_HEIGHT_IN:
        img_w, img_h = img_w * MAX_OVERLAY_HEIGHT_IN / img_h, MAX_OVERLAY_HEIGHT_IN
    fig_h = img_h + title_in + legend_in
    fig = style.new_figure(style.SINGLE_COLUMN_IN, fig_h, layout=None)
    ax = fig.add_axes(((1 - img_w / style.SINGLE_COLUMN_IN) / 2, legend_in / fig_h, img_w / style.SINGLE_COLUMN_IN,
                       img_h / fig_h))  # fmt: skip
    ax.imshow(image, aspect="auto", interpolation="antialiased")
    ax.set_axis_off()
    font = 6.5
    cited = list(dict.fromkeys(c.au for c in view.box_claims() if c.au))
    for au in cited:
        region = view.reference_region(au)
        if region is None:
            continue
        x1, y1, x2, y2 = region
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=style.REFERENCE_COLOUR,
                               linewidth=1.0, linestyle=(0, (3, 2)), zorder=2))  # fmt: skip
        if all(claim_outcome(c) == "hit" for c in view.box_claims() if c.au == au):
            continue  # a hit lies on its region: its own label names the AU
        ax.text(x2, y2, f"{au} ref", ha="right", va="top", fontsize=font - 1, color=style.REFERENCE_COLOUR,
                zorder=2, clip_on=True,
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})  # fmt: skip
    for c in view.box_claims():
        assert c.box is not None
        outcome = claim_outcome(c)
        colour = style.OUTCOME_COLOURS[outcome]
        x1, y1, x2, y2 = c.box
        ax.add_patch(
            Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=1.6, zorder=3)
        )
        label = c.au or "?"
        if c.iou is not None:
            label += f" {c.iou:.2f}"
        ax.text(x1, y1, label, ha="left", va="bottom", fontsize=font, color=style.text_colour(colour), zorder=4,
                clip_on=True, bbox={"boxstyle": "square,pad=0.15", "facecolor": colour, "edgecolor": "none"})  # fmt: skip
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    mark = "✓" if s.correct else "✗"
    pred = s.pred if s.pred is not None else f"({s.status})"
    head = f"pred: {pred} {mark}   gold: {s.label}"
    sub = " · ".join(x for x in (name, s.sample_id) if x)
    no_box = [c.au for c in s.claims if c.box is None and c.au]
    if no_box:
        sub += f" · cited without a box: {', '.join(dict.fromkeys(no_box))}"
    if s.reference_status != "ok":
        sub += f" · AU reference: {s.reference_status}"
    fig.text(0.02, 1 - 0.04 / fig_h, f"{head}\n{sub}", ha="left", va="top", fontsize=font)
    present = {claim_outcome(c) for c in view.box_claims()}
    handles = [Line2D([], [], color=style.OUTCOME_COLOURS[o], linewidth=1.6, label=style.OUTCOME_LABELS[o])
               for o in style.OUTCOME_COLOURS if o in present or o != "unscored"]  # fmt: skip
    handles.append(Line2D([], [], color=style.REFERENCE_COLOUR, linewidth=1.0, linestyle=(0, (3, 2)),
                          label="reference region of the AU"))  # fmt: skip
    fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=2, fontsize=font - 0.5,
               handlelength=1.6, borderaxespad=0.2)  # fmt: skip
    return fig


# --------------------------------------------------------------------------------------------------
# Faithfulness by intervention

_CONDITION_ORDER = ("none", "cited", "control", "habitual", "keep")
_FILL_HATCH = {"blur": "", "mean": "//", "noise": ".."}
_FILL_LINE = {"blur": "-", "mean": "--", "noise": ":"}


@_styled
def intervention_figure(run: ScoredRun) -> Figure:
    """Flip rates per condition and fill with Wilson intervals, and flips against the filled area."""
    import numpy as np

    fills = run.run.intervention_fills()
    if not fills:
        raise PlotError(f"{run.name} has no intervention set")
    reports = {f: run.run.read_intervention_metrics(f) for f in fills}
    summary = run.run.read_intervention_summary()
    fig = style.new_figure(style.DOUBLE_COLUMN_IN, 2.6 + 0.16 * len(fills))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    edges = list(AREA_EDGES)
    x = np.arange(len(_CONDITION_ORDER))
    width = 0.8 / len(fills)
    colours = dict(zip(_CONDITION_ORDER, style.SERIES, strict=False))
    for i, f in enumerate(fills):
        vals, lo, hi = [], [], []
        for c in _CONDITION_ORDER:
            m = reports[f].metrics.get(f"{c}_flip_rate")
            v = m.value if m is not None and m.value is not None else math.nan
            vals.append(100 * v)
            lo.append(100 * (v - m.ci_low) if m is not None and m.ci_low is not None else 0.0)
            hi.append(100 * (m.ci_high - v) if m is not None and m.ci_high is not None else 0.0)
        pos = x - 0.4 + width * (i + 0.5)
        left.bar(pos, vals, width * 0.92, color=[colours[c] for c in _CONDITION_ORDER], hatch=_FILL_HATCH.get(f, "xx"),
                 edgecolor="white", linewidth=0.3, label=f, zorder=2)  # fmt: skip
        ok = ~np.isnan(vals)
        left.errorbar(pos[ok], np.asarray(vals)[ok], yerr=[np.asarray(lo)[ok], np.asarray(hi)[ok]], fmt="none",
                      ecolor="#333333", elinewidth=0.6, capsize=1.2, zorder=3)  # fmt: skip
    left.set_xticks(x, list(_CONDITION_ORDER))
    left.set_ylim(0, 100)
    left.set_ylabel("answers that flip (%)")
    left.yaxis.grid(True, linewidth=0.4, color="#dddddd", zorder=0)
    left.set_axisbelow(True)
    if len(fills) > 1:
        left.legend(title="fill", fontsize="small", loc="upper right")
    gaps = []
    for f in fills:
        parts = []
        for name, short in (("faithfulness_gap", "faithfulness"), ("specificity_gap", "specificity")):
            m, unit = reports[f].metrics.get(name), metric_spec(name)
            if m is not None and m.value is not None:
                ci = (
                    f" [{format_value(unit, m.ci_low)}, {format_value(unit, m.ci_high)}]"
                    if m.ci_low is not None
                    else ""
                )
                parts.append(f"{short} {format_value(unit, m.value, signed=True)}{ci}")
        if parts:
            gaps.append(f"{f}: " + ", ".join(parts))
    drawn = False
    for fs in summary.fills if summary else []:
        if fs.fill not in fills:
            continue
        for c in ("cited", "control", "habitual", "keep"):
            bins = [b for b in fs.area_bins if b.condition == c and b.rate is not None]
            if not bins:
                continue
            centres = [edges.index(b.low) for b in bins if b.low in edges]
            right.plot(centres, [100 * (b.rate or 0.0) for b in bins], _FILL_LINE.get(fs.fill, "-."), marker="o",
                       markersize=2.5, color=colours[c], label=f"{c} ({fs.fill})" if len(fills) > 1 else c)  # fmt: skip
            drawn = True
    right.set_xticks(
        range(len(edges) - 1), [f"{100 * a:g}–{100 * b:g}" for a, b in itertools.pairwise(edges)]
    )
    right.set_xlim(-0.5, len(edges) - 1.5)
    right.set_xlabel("filled area (% of the image)")
    right.set_ylabel("answers that flip (%)")
    right.set_ylim(0, 100)
    right.yaxis.grid(True, linewidth=0.4, color="#dddddd", zorder=0)
    if drawn:
        right.legend(fontsize="x-small", ncols=2 if len(fills) > 1 else 1)
    head = f"{run.name} on {run.manifest.task.name}: faithfulness by intervention"
    fig.suptitle("\n".join([head, *(f"gaps in points, {g}" for g in gaps)]), fontsize="small")
    return fig
