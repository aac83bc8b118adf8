"""The self-contained HTML report of scored runs (the ``tag-bench report`` command).

One file, opened from disk with no server and no network: inline CSS and JavaScript (no CDN, no web
font), figures as PNG data URIs, images as JPEG thumbnail data URIs (cached by image sha256, see
:mod:`tag_bench.report.thumbs`), sample data as JSON inside a ``<script type="application/json">``
element (every ``<`` escaped, so a response containing ``</script>`` stays data). It holds the
leaderboards, the figures, each run's manifest facts and warnings, and a sample browser whose overlays
are drawn by the page (inline SVG over the thumbnail, in presented-image pixels).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tag_bench import __version__, store
from tag_bench._optional import MissingExtraError
from tag_bench.errors import TagBenchError
from tag_bench.facs import au_code, au_sort_key
from tag_bench.images import ImageLoadError, presented_size
from tag_bench.intervene.stage import Intervened
from tag_bench.metrics.grounding import au_active, au_region, reference_states
from tag_bench.report import style
from tag_bench.report.browse import (
    FLAGS,
    ONLY,
    SampleView,
    claim_outcome,
    read_views,
    sample_flags,
)
from tag_bench.report.frames import ScoredRun, read_runs
from tag_bench.report.plots import FIGURES, PlotError, figure_kinds, figure_png, figures, views_key
from tag_bench.report.render import RenderOptions, render
from tag_bench.report.spec import load_spec
from tag_bench.report.table import build_table
from tag_bench.report.thumbs import Thumb, ThumbnailCache, side_for
from tag_bench.rundir import RunDir, RunDirError
from tag_bench.schema import INTERVENTION_CONDITIONS

#: Leaderboards shown when the runs fill them (``transfer`` needs common7 runs).
SPECS = ("overview", "main", "grounding", "transfer", "usage", "faithfulness")
#: A longer response is shown as its head and tail (the answer is usually at the end).
TEXT_HEAD, TEXT_TAIL = 6000, 2000
SIZE_LIMIT = 25_000_000  # the report warns above this many bytes
#: A run with more samples than this (after ``only`` and ``max_samples``) shows a random sample of this
#: many in the browser: the page of a 50,000-sample run stays the size of a 4,000-sample one (under
#: SIZE_LIMIT) and opens in seconds. Tables, figures and the counts over the whole run cover every sample.
BROWSER_SAMPLES = 4000
#: The intervened thumbnails of the sample browser: their side, and the tested samples per run that get them.
INTERVENTION_SIDE, INTERVENTION_SAMPLES = 96, 100


@dataclass
class ReportResult:
    path: Path
    size: int  # bytes
    runs: int
    samples: int  # samples embedded in the browser
    images: int  # distinct images embedded
    thumbnails_made: int  # the rest came from the cache
    thumb_side: int
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


# the samples read (millions of objects for a 50,000-sample run) form no cycles; with the cyclic GC running,
# every later allocation (the figures, the page) paid for walking them all again: the figures took 4x longer
@store.gc_paused()
def write_report(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    max_samples: int | None = None,
    only: str | None = None,
    figures: bool | None = True,
    allow_incomplete: bool = False,
    allow_failed: bool = False,
    title: str | None = None,
    thumb_side: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    browser_samples: int | None = BROWSER_SAMPLES,
) -> ReportResult:
    """Write the HTML report of the scored runs under ``paths`` to ``out``.

    ``max_samples``: at most the first this many samples per run in the browser (metrics always cover
    every sample); ``only``: ``failures``, ``hallucinated`` or ``wrong`` samples in the browser;
    ``browser_samples``: a run with more samples than this left to show shows a random sample of this
    many (:func:`browser_sample`; None or 0: all). ``figures``: True (needs the ``plots`` extra), False,
    or None (when matplotlib is installed).
    """
    if only is not None and only not in ONLY:
        raise ValueError(f"--only must be one of {', '.join(ONLY)}, got {only!r}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    loaded = read_runs(
        list(paths), allow_incomplete=allow_incomplete, allow_failed=allow_failed, judge_runs=False
    )
    runs = loaded.runs
    warnings = [f"skipped {s}" for s in loaded.skipped]
    views = [read_views(r.run, reference_key=r.reference_key) for r in runs]
    timings["read"] = time.perf_counter() - t0

    t = time.perf_counter()
    fill_runs = runs
    if any(r.run.intervention_fills() for r in runs):  # the faithfulness board: one column group per fill
        fill_runs = read_runs(
            list(paths), allow_incomplete=allow_incomplete, allow_failed=allow_failed, fills="all"
        ).runs
    boards = _leaderboards(runs, warnings, fill_runs)
    timings["tables"] = time.perf_counter() - t

    t = time.perf_counter()
    not_drawn: list[str] = []
    figs = _figures(runs, views, figures, warnings, not_drawn)
    timings["figures"] = time.perf_counter() - t

    t = time.perf_counter()
    chosen = [_choose(v, only, max_samples, browser_samples) for v in views]
    images = _Images(thumb_side, cache_dir)
    images.add([v for vs in chosen for v in vs])
    intervened = [
        _interventions(r.run, shown, images, cache_dir, warnings)
        for r, shown in zip(runs, chosen, strict=True)
    ]
    timings["thumbnails"] = time.perf_counter() - t

    t = time.perf_counter()
    data = {
        "runs": [
            _run_data(r, all_v, shown, images, only, max_samples, iv)
            for r, all_v, shown, iv in zip(runs, views, chosen, intervened, strict=True)
        ],
        "flags": {name: {"label": f.label, "definition": f.definition} for name, f in FLAGS.items()},
        "sample_fields": SAMPLE_FIELDS,
        "claim_fields": CLAIM_FIELDS,
        "reference_au_fields": REFERENCE_AU_FIELDS,
        "intervention_fields": INTERVENTION_FIELDS,
        "highlight_kinds": HIGHLIGHT_KINDS,
        "colours": {**style.OUTCOME_COLOURS, "reference": style.REFERENCE_COLOUR},
        "outcomes": style.OUTCOME_LABELS,
    }
    page = _page(title or "tag-bench report", runs, boards, figs, not_drawn, data, images.uris, warnings)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    store.atomic_write_text(out_path, page)
    timings["page"] = time.perf_counter() - t
    size = out_path.stat().st_size
    if size > SIZE_LIMIT:
        warnings.append(f"the report is {size / 1e6:.1f} MB; pass --max-samples or --only to make it smaller")
    return ReportResult(
        path=out_path,
        size=size,
        runs=len(runs),
        samples=sum(len(c) for c in chosen),
        images=len(images.uris),
        thumbnails_made=images.cache.made if images.cache else 0,
        thumb_side=images.side,
        warnings=warnings,
        timings=timings,
    )


def _choose(
    views: list[SampleView], only: str | None, max_samples: int | None, browser_samples: int | None
) -> list[SampleView]:
    chosen = [v for v in views if v.matches(only)]
    if max_samples is not None:
        chosen = chosen[:max_samples]
    if browser_samples and len(chosen) > browser_samples:
        chosen = browser_sample(chosen, browser_samples)
    return chosen


def browser_sample(views: Sequence[SampleView], k: int) -> list[SampleView]:
    """The ``k`` samples whose ids have the smallest sha256, in their run's order: a uniform random
    sample that is the same in every report, whatever the order of the run, and the same samples in
    every run of a task (so runs can be looked at side by side, and they share thumbnails)."""
    ranked = sorted(range(len(views)), key=lambda i: (hashlib.sha256(views[i].id.encode()).digest(), i))
    return [views[i] for i in sorted(ranked[:k])]


# --------------------------------------------------------------------------------------------------
# Tables and figures


def _leaderboards(
    runs: Sequence[ScoredRun], warnings: list[str], fill_runs: Sequence[ScoredRun] | None = None
) -> list[tuple[str, str]]:
    """(title, HTML table) of each built-in spec the runs fill (``fill_runs``: the runs read once per
    intervention fill, for a spec with ``fills: all``)."""
    out = []
    for name in SPECS:
        spec = load_spec(name)
        try:
            table = build_table(fill_runs if spec.fills == "all" and fill_runs is not None else runs, spec)
        except TagBenchError as e:
            warnings.append(f"leaderboard {name}: {e}")
            out.append((spec.title or name, f'<p class="warning">{html.escape(str(e))}</p>'))
            continue
        if not any(c.value is not None for r in table.rows for g in r.cells for c in g):
            continue
        out.append((table.title or name, render(table, "html", RenderOptions())))
    return out


def _figures(
    runs: Sequence[ScoredRun],
    views: Sequence[list[SampleView]],
    wanted: bool | None,
    warnings: list[str],
    not_drawn: list[str],
) -> list[tuple[str, str, str]]:
    """(kind, caption, PNG data URI) of each figure of the report (the figure kinds marked ``in_report``,
    :data:`~tag_bench.report.plots.FIGURES`); none when ``wanted`` is False (or None without matplotlib).
    Figures the runs cannot give (no AU reference, no common7 run) go to ``not_drawn``."""
    if wanted is False:
        return []
    try:
        style.matplotlib()
    except MissingExtraError:
        if wanted:
            raise
        warnings.append("figures left out: matplotlib is not installed (pip install 'tag-bench[plots]')")
        return []
    out = []
    kinds = [k.name for k in figure_kinds() if k.in_report]
    read = {views_key(r): v for r, v in zip(runs, views, strict=True)}
    for kind, stem, make in figures(runs, kinds, views=read, report=True):
        try:
            fig = make()
        except PlotError as e:
            not_drawn.append(f"{stem}: {e}")
            continue
        uri = "data:image/png;base64," + base64.b64encode(figure_png(fig)).decode("ascii")
        out.append((kind, FIGURES.get(kind).caption, uri))
    return out


# --------------------------------------------------------------------------------------------------
# Images


class _Images:
    """Thumbnails of the samples shown, one per distinct image, as data URIs."""

    def __init__(self, side: int | None, cache_dir: str | os.PathLike[str] | None):
        self.fixed_side = side
        self.cache_dir = cache_dir
        self.cache: ThumbnailCache | None = None
        self.side = side or 0
        self.uris: list[str] = []
        self.index: dict[str, int] = {}  # image key -> position in uris
        self.thumbs: dict[str, Thumb] = {}  # image key -> thumbnail (its size, or why there is none)

    @staticmethod
    def key(v: SampleView) -> str | None:
        if v.sample is None:
            return None
        sha = v.image_sha256()
        s = v.sample
        return sha or f"{s.image}#{s.image_index}#{s.crop}"

    def add(self, views: Sequence[SampleView]) -> None:
        todo: dict[str, SampleView] = {}
        for v in views:
            k = self.key(v)
            if k is not None and k not in todo:
                todo[k] = v
        self.side = self.fixed_side or side_for(len(todo))
        self.cache = ThumbnailCache(self.side, root=self.cache_dir)
        items = [(v.sample, v.image_sha256()) for v in todo.values()]
        for (k, _v), (_sha, thumb) in zip(todo.items(), self.cache.get_many(items), strict=True):  # type: ignore[arg-type]
            self.thumbs[k] = thumb
            if thumb.jpeg is not None:
                self.index[k] = len(self.uris)
                self.uris.append("data:image/jpeg;base64," + base64.b64encode(thumb.jpeg).decode("ascii"))

    def add_jpeg(self, jpeg: bytes) -> int:
        """A thumbnail made elsewhere (an intervened image); its position in uris."""
        self.uris.append("data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii"))
        return len(self.uris) - 1

    def of(self, v: SampleView) -> tuple[int | None, tuple[int, int] | None, str | None]:
        """(position in uris, presented size, why there is no image)."""
        k = self.key(v)
        if k is None:
            return None, v.image_size(), "the sample is not in the run's index.jsonl"
        thumb = self.thumbs.get(k)
        size = v.image_size() or (thumb.size if thumb else None)
        if size is None and thumb is not None and thumb.jpeg is not None and v.sample is not None:
            try:
                size = presented_size(v.sample)
            except ImageLoadError:
                size = None
        return self.index.get(k), size, thumb.error if thumb else None


# --------------------------------------------------------------------------------------------------
# Data of the page


def _interventions(run: RunDir, shown: list[SampleView], images: _Images,
                   cache_dir: str | os.PathLike[str] | None, warnings: list[str]) -> dict[str, list[list[Any]]]:  # fmt: skip
    """Sample id -> the intervened images of the run's intervention sets, as :data:`INTERVENTION_FIELDS`
    rows (thumbnail, the answer under it and whether it flipped), for the first tested samples shown."""
    fills = run.intervention_fills()
    if not fills:
        return {}
    plans = {p.sample_id: p for p in run.read_intervention_plan() or []}
    try:
        found = {f: {o.sample_id: o for o in run.read_intervention_outcomes(f)} for f in fills}
    except (RunDirError, ValueError) as e:
        warnings.append(f"{run.path}: intervened thumbnails left out: {e}")
        return {}
    maker = Intervened(plans)
    thumbs = ThumbnailCache(INTERVENTION_SIDE, root=cache_dir)
    out: dict[str, list[list[Any]]] = {}
    for v in shown:
        if len(out) >= INTERVENTION_SAMPLES:
            break
        plan = plans.get(v.id)
        if v.sample is None or plan is None or not plan.tested:
            continue
        rows: list[list[Any]] = []
        for f in fills:
            o = found[f].get(v.id)
            if o is None or not o.tested:
                continue
            for c in INTERVENTION_CONDITIONS:
                a = o.answers.get(c)
                if a is None or (c == "none" and f != fills[0]):
                    continue
                try:
                    arr, key = maker.array(v.sample, f, c)
                except (ImageLoadError, OSError) as e:
                    warnings.append(f"{run.path}: no intervened image of {v.id} ({c}, {f}): {e}")
                    continue
                jpeg = thumbs.of_array(key, arr)
                answer = a.pred if a.pred is not None else f"({a.status})"
                rows.append([f if c != "none" else None, c, images.add_jpeg(jpeg), answer, a.flip])
        if rows:
            out[v.id] = rows
    return out


def _run_data(run: ScoredRun, views: list[SampleView], shown: list[SampleView], images: _Images,
              only: str | None, max_samples: int | None,
              intervened: dict[str, list[list[Any]]] | None = None) -> dict[str, Any]:  # fmt: skip
    m, rep = run.manifest, run.report
    counts = {f: 0 for f in FLAGS}
    for v in views:
        for f in sample_flags(v):
            counts[f] += 1
    pool = sum(v.matches(only) for v in views)  # the samples left to show before the browser's sample
    pool = pool if max_samples is None else min(pool, max_samples)
    return {
        "name": run.name,
        "task": m.task.name,
        "dir": str(run.run.path),
        "classes": list(rep.classes),
        "n": len(views),
        "flag_counts": counts,  # over every sample of the run, not only those shown
        "selection": _selection_note(len(views), len(shown), only, max_samples, pool),
        "reference": rep.au_reference,
        "samples": [_row(_sample_data(v, images, (intervened or {}).get(v.id))) for v in shown],
        "intervention_note": (
            f"intervened images of the first {INTERVENTION_SAMPLES} tested samples shown"
            if intervened and len(intervened) >= INTERVENTION_SAMPLES
            else None
        ),
    }


def _row(sample: dict[str, Any]) -> list[Any]:
    assert len(sample) == len(SAMPLE_FIELDS)
    return [sample[f] for f in SAMPLE_FIELDS]


def _selection_note(n: int, shown: int, only: str | None, max_samples: int | None, pool: int) -> str:
    if shown == n:
        return f"all {n} samples"
    what = f"{only} samples" if only else "samples"
    cap = f", at most {max_samples}" if max_samples is not None else ""
    if shown < pool:  # browser_sample
        return (
            f"{shown} of {n} samples (a random {shown} of the {pool} {what}{cap}: those with the smallest "
            "sha256 of their id, the same in every report; --browser-samples N shows more)"
        )
    return f"{shown} of {n} samples ({what}{cap})"


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, nd)


def _box(b: Sequence[float] | None) -> list[float] | None:
    """Pixels to 0.1 (whole numbers written without ".0": a 4,000-sample page holds ~100,000 of them)."""
    if b is None:
        return None
    out: list[float] = []
    for v in b:
        r = round(float(v), 1)
        out.append(int(r) if r.is_integer() else r)
    return out


#: Claims and reference AUs are arrays in the page (their keys would be a fifth of its data).
CLAIM_FIELDS = ("au", "box", "iou", "centre", "active", "outcome")
#: One intervened image of a sample: its fill (None for none), condition, thumbnail, answer, flipped.
INTERVENTION_FIELDS = ("fill", "condition", "img", "answer", "flip")
REFERENCE_AU_FIELDS = ("au", "score", "active", "box")
#: Samples are arrays in the page too: the keys of :func:`_sample_data`, in order.
SAMPLE_FIELDS = ("id", "gold", "pred", "status", "correct", "flags", "reference_status", "img", "size",
                 "image_error", "text", "text_cut", "highlights", "answer", "notes", "error", "claims", "cited",
                 "active", "hallucinated", "grounded", "consistent", "mean_iou", "reference",
                 "interventions")  # fmt: skip
#: Kinds of :func:`highlights` (the page gets their index).
HIGHLIGHT_KINDS = (
    "answer",
    "au",
    "au-hallucinated",
    "box",
    "box-hit",
    "box-miss",
    "box-hallucinated",
    "box-unscored",
)


def _sample_data(v: SampleView, images: _Images, intervened: list[list[Any]] | None = None) -> dict[str, Any]:
    s = v.scored
    img, size, why = images.of(v)
    text, cut = _cut(v.text)
    parsed = s.parsed
    claims = [
        [c.au, _box(c.box), _r(c.iou, 3), c.center_inside, c.reference_active,
         claim_outcome(c) if c.box is not None else None]
        for c in s.claims
    ]  # fmt: skip
    miou = v.mean_iou()
    return {  # the keys of SAMPLE_FIELDS, in order
        "id": s.sample_id,
        "gold": s.label,
        "pred": s.pred,
        "status": s.status,
        "correct": s.correct,
        "flags": sample_flags(v),
        "reference_status": s.reference_status,
        "img": img,
        "size": list(size) if size else None,
        "image_error": why if img is None else None,
        "text": text,
        "text_cut": cut,
        "highlights": [[a, b, HIGHLIGHT_KINDS.index(k)] for a, b, k in highlights(text, v)] if text else [],
        "answer": parsed.raw_label if parsed else None,
        "notes": list(parsed.notes) if parsed else [],
        "error": s.error,
        "claims": claims,
        "cited": list(s.cited_aus),
        "active": list(s.active_aus),
        "hallucinated": list(s.hallucinated_aus),
        "grounded": s.grounded_correct,
        "consistent": s.evidence_consistent,
        "mean_iou": _r(miou, 3),
        "reference": _reference_data(v),
        "interventions": intervened,
    }


def _reference_data(v: SampleView) -> dict[str, Any] | None:
    """The reference's verdict on the AUs that matter here: every active AU and every cited one."""
    ref = v.reference
    if ref is None:
        return None
    out: dict[str, Any] = {
        "status": ref.status,
        "message": ref.message,
        "face": _box(ref.face_box),
        "aus": [],
    }
    if ref.status != "ok":
        return out
    states = reference_states(ref)
    wanted = {au for au, st in states.items() if au_active(st, ref.threshold)} | set(v.scored.cited_aus)
    for au in sorted(wanted, key=lambda a: (au_sort_key(a), a)):
        st = states.get(au)
        if st is None:
            out["aus"].append([au, None, None, None])
            continue
        region = au_region(st)
        out["aus"].append([au, _r(st.score, 2), au_active(st, ref.threshold),
                           None if region is None else [round(x) for x in region]])  # fmt: skip
    return out


def _cut(text: str | None) -> tuple[str | None, int]:
    """The text, or its head and tail with the number of characters left out."""
    if text is None or len(text) <= TEXT_HEAD + TEXT_TAIL + 200:
        return text, 0
    cut = len(text) - TEXT_HEAD - TEXT_TAIL
    return f"{text[:TEXT_HEAD]}\n[… {cut} characters not shown …]\n{text[-TEXT_TAIL:]}", cut


# --------------------------------------------------------------------------------------------------
# Highlights of the raw response

_ANSWER_TAG = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.IGNORECASE | re.DOTALL)
_BOXED = re.compile(r"\\boxed\s*\{(?:\\text\{)?([^{}\n]{0,100})\}")
_AU = re.compile(
    r"(?<![a-z0-9])(?:au|action[ \t_-]{0,3}units?)[ \t]{0,3}[-_#:]?[ \t]{0,3}0{0,3}(\d{1,2})(?!\d)", re.I
)
_NUM = r"\s*-?\d+(?:\.\d+)?\s*"
_BOX = re.compile(
    r"<bbox>[^<>]{0,400}</bbox>|<box>[^<>]{0,800}</box>|<\|box_start\|>[^<>]{0,400}<\|box_end\|>"
    rf"|\[{_NUM},{_NUM},{_NUM},{_NUM}\]|(?:<loc\d{{1,4}}>\s{{0,3}}){{4}}"
)
_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")


def highlights(text: str, view: SampleView) -> list[list[Any]]:
    """Non-overlapping ``[start, end, kind]`` spans of ``text`` to highlight: ``answer`` (where the
    parsed label was read), ``au`` / ``au-hallucinated`` (AU mentions), ``box-<outcome>`` (a box whose
    numbers match a parsed box, coloured as its claim) or ``box`` (another box-like span)."""
    s = view.scored
    spans: list[tuple[int, int, str]] = []
    answer = _answer_span(text, s.parsed.raw_label if s.parsed else None)
    if answer:
        spans.append((*answer, "answer"))
    by_numbers: dict[tuple[float, ...], str] = {}
    if s.parsed is not None:
        outcomes = iter(s.claims)
        for ev in s.parsed.evidence:
            claim = next(outcomes, None) if ev.au is not None else None
            if ev.raw_box is not None and len(ev.raw_box) == 4:
                key = tuple(round(float(x), 2) for x in ev.raw_box)
                outcome = claim_outcome(claim) if claim is not None and claim.box is not None else "unscored"
                by_numbers.setdefault(key, outcome)
    for m in _BOX.finditer(text):
        nums = tuple(round(float(x), 2) for x in _NUMBERS.findall(m.group(0))[:4])
        kind = f"box-{by_numbers[nums]}" if nums in by_numbers else "box"
        spans.append((m.start(), m.end(), kind))
    halluc = set(s.hallucinated_aus)
    for m in _AU.finditer(text):
        code = au_code(f"AU{int(m.group(1))}")
        spans.append((m.start(), m.end(), "au-hallucinated" if code in halluc else "au"))
    spans.sort(key=lambda x: (x[0], -(x[1] - x[0])))
    out: list[list[Any]] = []
    end = -1
    for a, b, kind in spans:
        if a >= end and b > a:
            out.append([a, b, kind])
            end = b
    return out


def _answer_span(text: str, raw_label: str | None) -> tuple[int, int] | None:
    tags = list(_ANSWER_TAG.finditer(text))
    if tags:
        m = tags[-1]
        inner = m.group(1)
        lead = len(inner) - len(inner.lstrip())
        return m.start(1) + lead, m.start(1) + len(inner.rstrip())
    boxed = list(_BOXED.finditer(text))
    if boxed:
        return boxed[-1].start(1), boxed[-1].end(1)
    if raw_label:
        at = text.lower().rfind(raw_label.lower())
        if at >= 0:
            return at, at + len(raw_label)
    return None


# --------------------------------------------------------------------------------------------------
# The page


def _asset(name: str) -> str:
    return (resources.files("tag_bench") / "resources" / "report" / name).read_text(encoding="utf-8")


def script_json(obj: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` (so no ``</script>`` or
    ``<!--``), and no line separators that older parsers reject."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(ch, esc)
    return text


def _page(title: str, runs: Sequence[ScoredRun], boards: list[tuple[str, str]], figs: list[tuple[str, str, str]],
          not_drawn: list[str], data: dict[str, Any], images: list[str], warnings: list[str]) -> str:  # fmt: skip
    e = html.escape
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No network, ever: images are data URIs, scripts and styles are inline.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
        f"<title>{e(title)}</title>",
        f"<style>{_colour_vars()}\n{_asset('report.css')}</style>",
        "</head><body>",
        "<header><h1>"
        + e(title)
        + '</h1><p class="meta">'
        + e(f"{len(runs)} run(s) · generated {now} by tag-bench {__version__}")
        + "</p>",
        '<nav><a href="#leaderboards">Leaderboards</a><a href="#figures">Figures</a><a href="#runs">Runs</a>'
        '<a href="#samples">Samples</a></nav></header>',
        "<main>",
    ]
    if warnings:
        parts.append('<ul class="warnings">' + "".join(f"<li>{e(w)}</li>" for w in warnings) + "</ul>")
    parts.append('<section id="leaderboards"><h2>Leaderboards</h2>')
    for name, table in boards:
        parts.append(f'<div class="board"><h3>{e(name)}</h3>{table}</div>')
    if not boards:
        parts.append("<p>No leaderboard has a value for these runs.</p>")
    parts.append("</section>")
    parts.append('<section id="figures"><h2>Figures</h2>')
    if figs:
        parts.append('<div class="figures">')
        for kind, caption, uri in figs:
            parts.append(f'<figure data-kind="{e(kind)}"><img src="{uri}" alt="{e(kind)}">'
                         f"<figcaption>{e(caption)}</figcaption></figure>")  # fmt: skip
        parts.append("</div>")
    else:
        parts.append("<p>No figures (written with --no-figures, or matplotlib is not installed).</p>")
    if not_drawn:
        parts.append(f'<details class="not-drawn"><summary>{len(not_drawn)} figure(s) not drawn</summary><ul>'
                     + "".join(f"<li>{e(n)}</li>" for n in not_drawn) + "</ul></details>")  # fmt: skip
    parts.append("</section>")
    parts.append('<section id="runs"><h2>Runs</h2>')
    parts += [_run_facts(r) for r in runs]
    parts.append("</section>")
    parts.append(_browser_html())
    parts.append("</main>")
    parts.append(f'<script type="application/json" id="tb-data">{script_json(data)}</script>')
    parts.append(f'<script type="application/json" id="tb-images">{script_json(images)}</script>')
    parts.append(f"<script>{_asset('report.js')}</script>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _colour_vars() -> str:
    colours = {**style.OUTCOME_COLOURS, "reference": style.REFERENCE_COLOUR}
    return ":root { " + " ".join(f"--{k}: {v};" for k, v in colours.items()) + " }"


def _browser_html() -> str:
    return """<section id="samples"><h2>Samples</h2>
<div class="controls">
<label>Run <select id="tb-run"></select></label>
<label>Show <select id="tb-status"></select></label>
<label>Gold <select id="tb-gold"></select></label>
<label>Predicted <select id="tb-pred"></select></label>
<label>Cited AU <select id="tb-au"></select></label>
<label>Sort <select id="tb-sort">
<option value="file">file order</option><option value="iou-asc">mean IoU, lowest first</option>
<option value="iou-desc">mean IoU, highest first</option></select></label>
<span class="count"><b id="tb-count">0</b> of <span id="tb-total">0</span> shown</span>
</div>
<p class="selection" id="tb-selection"></p>
<div class="browser"><div id="tb-grid" class="grid"></div><aside id="tb-detail" class="detail">
<p class="hint">Click a sample to see its image with the claimed boxes, the raw response and the claims.</p>
</aside></div>
<button id="tb-more" type="button" hidden>Show more</button>
</section>"""


def _run_facts(run: ScoredRun) -> str:
    e = html.escape
    m, rep = run.manifest, run.report
    rows = [
        ("run directory", str(run.run.path)),
        (
            "task",
            f"{m.task.name} v{m.task.version} ({m.task.dataset} {m.task.split}, protocol {m.task.protocol})",
        ),
        ("classes", ", ".join(rep.classes)),
        ("model", f"{m.model.adapter} {json.dumps(m.model.args, sort_keys=True)}"),
        ("box frame", m.model.frame or "–"),
        ("prompt", f"{m.prompt_id} (hash {m.prompt_hash})"),
        ("generation", json.dumps(m.gen_kwargs, sort_keys=True)),
        ("AU reference", rep.au_reference or "none (grounding metrics not computed)"),
        ("status", f"{m.status}; created {m.created}"),
        ("samples", str(rep.n)),
        ("status counts", _counts(rep.status_counts)),
        ("reference status", _counts(rep.reference_status_counts)),
        ("parse notes", _counts(rep.parse_notes) or "none"),
        ("train source", m.train_source or "–"),
        ("packages", ", ".join(f"{k} {v}" for k, v in sorted(m.packages.items()))),
        ("git revision", m.git_revision or "–"),
    ]
    warns = run_warnings(run)
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    w_html = ('<ul class="warnings">' + "".join(f"<li>{e(w)}</li>" for w in warns) + "</ul>") if warns else ""
    flag = ' <span class="badge warn">warnings</span>' if warns else ""
    return (f'<details class="run" open><summary>{e(run.name)} · {e(m.task.name)}{flag}</summary>'
            f'{w_html}<table class="facts">{body}</table></details>')  # fmt: skip


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v)


def run_warnings(run: ScoredRun) -> list[str]:
    """What a reader must know before trusting a run's numbers."""
    m, rep = run.manifest, run.report
    out = []
    if m.status != "complete":
        missing = rep.status_counts.get("missing", 0)
        out.append(f"incomplete run (status {m.status}): {missing} of {rep.n} samples have no generation "
                   "and count as wrong")  # fmt: skip
    errors = rep.status_counts.get("error", 0)
    if errors:
        out.append(f"{errors} of {rep.n} samples failed (status error: the model call or the image failed)")
    if rep.au_reference is None:
        out.append("scored without an AU reference: grounding metrics are not computed")
    else:
        bad = {k: v for k, v in rep.reference_status_counts.items() if k != "ok" and v}
        if bad:
            ok = rep.reference_status_counts.get("ok", 0)
            out.append(f"AU reference usable for {ok} of {rep.n} samples ({_counts(bad)}); grounding metrics "
                       "cover only those")  # fmt: skip
    if m.model.oracle_reference:
        out.append("this model reads the AU reference it is scored against: its grounding is an upper bound")
    out += [f"at start: {w}" for w in m.warnings]
    return out
