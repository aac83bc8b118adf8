"""Does the judge agree with people, or with another judge? (``tag-bench judge export`` / ``judge agree``)

**Export.** Every comparison of a judge run that was sent to the judge becomes one item of a blinded CSV:
the question, the two canonical traces exactly as the judge read them (boxes in pixels of the image, in
``[A1: ...]`` syntax), the image with the boxes drawn (a PNG beside the CSV), and empty ``verdict`` and
``rater`` columns. Which candidate is shown as A is drawn at random per item (seeded), the rows are
shuffled, and no model name appears: an item's id is a salted hash (the judge run's ``blind_salt``) of
the sample, the candidate shown as A and the one shown as B, which only ``agree`` can resolve.

**Agreement.** ``verdict`` is A, B or C (a tie; ``tie`` and ``[[A]]`` are read too); an empty verdict is
an item not rated; anything else is an error naming the row (never guessed). The judge's side of an item
is its combined verdict on the comparison (preferred in both orders, else a tie), turned to the order the
person saw. Items the judge has no verdict for (``judge_failed``) are left out and counted.

- ``agreement``: share of items where the judge and the person (the majority of the raters, with
  several) give the same verdict; Wilson interval.
- ``cohen_kappa``: Cohen's kappa of the same pairs of verdicts (``sklearn.metrics.cohen_kappa_score``),
  percentile bootstrap over items.
- with several raters (a ``rater`` column naming more than one): ``krippendorff_alpha`` over every rater
  and the judge, and ``krippendorff_alpha_people`` over the people alone (how much they agree among
  themselves: the ceiling a judge can be held to); items whose raters have no majority are left out of
  the two above and counted.

Between two judges (``judge agree RUN_A RUN_B``, the same candidates and samples) the items are the
comparisons both judged, verdicts in the order of RUN_A's candidate list.
"""

from __future__ import annotations

import csv
import os
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tag_bench._hashing import sha256_hex
from tag_bench._optional import require
from tag_bench.errors import TagBenchError
from tag_bench.judge.candidates import Candidate, load_candidates, load_outputs
from tag_bench.judge.canonical import canonical_trace, draw_judge_image, judge_scale, judge_size
from tag_bench.judge.report import outcomes
from tag_bench.judge.templates import BOXES_SHOWN, QUESTION
from tag_bench.metrics.agreement import cohen_kappa_bootstrap, krippendorff_alpha
from tag_bench.metrics.stats import wilson_interval
from tag_bench.rundir import JudgeRunDir
from tag_bench.schema import AgreementReport, JudgeManifest, MetricValue

LABELS = ("A", "B", "C")
COLUMNS = ("item", "image", "question", "response_a", "response_b", "verdict", "rater")
_READ = {"a": "A", "b": "B", "c": "C", "tie": "C", "[[a]]": "A", "[[b]]": "B", "[[c]]": "C"}


class AgreementError(TagBenchError):
    """A rated CSV or a pair of judge runs cannot be compared; the message says what to fix."""


def item_id(manifest: JudgeManifest, sample_id: str, a: str, b: str) -> str:
    """The blinded id of a comparison shown with ``a`` as Response A."""
    return sha256_hex(f"{manifest.blind_salt}\x00{sample_id}\x00{a}\x00{b}", 12)


def _candidates(manifest: JudgeManifest) -> list[Candidate]:
    cands = load_candidates([c.run_dir for c in manifest.candidates])
    for c, rec in zip(cands, manifest.candidates, strict=True):
        c.name = rec.name
        load_outputs(c)
    return cands


def export_items(
    judge_run: str | os.PathLike[str], out: str | os.PathLike[str], *, limit: int | None = None, seed: int = 0,
    images: bool = True,
) -> int:  # fmt: skip
    """Write the blinded CSV (and its images in ``<out stem>_images/``); returns the number of items."""
    run = JudgeRunDir(judge_run)
    manifest = run.read_manifest()
    outs = [o for o in outcomes(manifest, run.read_judgements()) if o.kind in ("ok", "judge_failed")]
    if not outs:
        raise AgreementError(f"{judge_run} has no comparison sent to the judge: nothing to export")
    rng = random.Random(seed)
    rng.shuffle(outs)
    if limit is not None:
        outs = outs[:limit]
    cands = _candidates(manifest)
    classes = ", ".join(manifest.task.classes)
    out_path = Path(out)
    img_dir = out_path.with_name(out_path.stem + "_images")
    if images:
        img_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for o in outs:
        sid = manifest.sample_ids[o.sample]
        first, second = (o.i, o.j) if rng.random() < 0.5 else (o.j, o.i)
        ca, cb = cands[first], cands[second]
        ga, gb = ca.generations[sid], cb.generations[sid]
        ta, tb = canonical_trace(ga, ca.manifest.model.frame), canonical_trace(gb, cb.manifest.model.frame)
        assert ta is not None and tb is not None
        size = tuple(ga.image_size or gb.image_size or (1, 1))
        scale = judge_scale(size)  # type: ignore[arg-type]
        shown = judge_size(size)  # type: ignore[arg-type]
        item = item_id(manifest, sid, ca.name, cb.name)
        image = ""
        if images:
            from tag_bench.images import open_image

            path = img_dir / f"{item}.png"
            draw_judge_image(open_image(ca.samples[sid]), ta, tb, scale).save(path)
            image = str(path.relative_to(out_path.parent)) if out_path.parent in path.parents else str(path)
        question = QUESTION.format(classes=classes) + "\n" + BOXES_SHOWN.format(size=f"{shown[0]}×{shown[1]}")
        rows.append([item, image, question, ta.render("A", scale), tb.render("B", scale), "", ""])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(rows)
    return len(rows)


def _judge_verdicts(
    manifest: JudgeManifest, run: JudgeRunDir
) -> tuple[dict[str, str | None], dict[str, str]]:
    """(item id -> the judge's verdict as shown in that item's order, None when it has none; item id ->
    comparison key) for every comparison in both orders."""
    names = [c.name for c in manifest.candidates]
    verdicts: dict[str, str | None] = {}
    keys: dict[str, str] = {}
    for o in outcomes(manifest, run.read_judgements()):
        sid = manifest.sample_ids[o.sample]
        for first, second in ((o.i, o.j), (o.j, o.i)):
            item = item_id(manifest, sid, names[first], names[second])
            keys[item] = f"{sid}|{names[o.i]}|{names[o.j]}"
            if o.kind != "ok" or o.y is None:
                verdicts[item] = None
                continue
            y = o.y if first == o.i else 1.0 - o.y
            verdicts[item] = "A" if y == 1.0 else "B" if y == 0.0 else "C"
    return verdicts, keys


def _read_csv(path: str | os.PathLike[str]) -> list[tuple[int, str, str, str]]:
    """(row number, item, rater, verdict) of every rated row."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            missing = [c for c in ("item", "verdict") if c not in fields]
            if missing:
                raise AgreementError(
                    f"{path} has no column {', '.join(missing)}: give the CSV `tag-bench judge export` wrote, with "
                    "the verdict column filled"
                )
            out = []
            for n, row in enumerate(reader, start=2):
                raw = (row.get("verdict") or "").strip()
                if not raw:
                    continue
                verdict = _READ.get(raw.lower())
                if verdict is None:
                    raise AgreementError(
                        f"{path} line {n}: verdict {raw!r} is not A, B or C (a tie): correct it or leave it empty"
                    )
                out.append((n, (row.get("item") or "").strip(), (row.get("rater") or "").strip(), verdict))
            return out
    except (OSError, UnicodeDecodeError) as e:
        raise AgreementError(f"cannot read {path}: {e}") from None


def _metric(value: float | None, low: float | None, high: float | None, n: int) -> MetricValue:
    """A bootstrap statistic with its interval (which always holds the estimate)."""
    if value is None or np.isnan(value):
        return MetricValue(value=None, n=n)
    if low is None or high is None:
        return MetricValue(value=float(value), n=n)
    return MetricValue(
        value=float(value), ci_low=min(low, value), ci_high=max(high, value), n=n, ci_method="bootstrap"
    )


def _pairwise(
    judge: list[str], other: list[str], n_resamples: int, seed: int
) -> tuple[dict[str, MetricValue], dict[str, str], list[list[int]]]:
    metrics: dict[str, MetricValue] = {}
    reasons: dict[str, str] = {}
    n = len(judge)
    conf = [[0] * 3 for _ in LABELS]
    for a, b in zip(judge, other, strict=True):
        conf[LABELS.index(a)][LABELS.index(b)] += 1
    if not n:
        reasons["agreement"] = reasons["cohen_kappa"] = "no item has a verdict on both sides"
        metrics["agreement"] = metrics["cohen_kappa"] = MetricValue(value=None, n=0)
        return metrics, reasons, conf
    same = sum(a == b for a, b in zip(judge, other, strict=True))
    lo, hi = wilson_interval(same, n)
    metrics["agreement"] = MetricValue(value=same / n, ci_low=lo, ci_high=hi, n=n, ci_method="wilson")
    sk = require("sklearn.metrics", "stats", "Cohen's kappa of `tag-bench judge agree`")
    ia = [LABELS.index(x) for x in judge]
    ib = [LABELS.index(x) for x in other]
    kappa = float(sk.cohen_kappa_score(judge, other, labels=list(LABELS)))
    _point, klo, khi = cohen_kappa_bootstrap(ia, ib, 3, n_resamples=n_resamples, seed=seed)
    if np.isnan(kappa):
        reasons["cohen_kappa"] = "undefined: both sides give one and the same verdict on every item"
        metrics["cohen_kappa"] = MetricValue(value=None, n=n)
    else:
        metrics["cohen_kappa"] = _metric(kappa, klo, khi, n)
    return metrics, reasons, conf


def agree_with_human(
    judge_run: str | os.PathLike[str],
    human_csv: str | os.PathLike[str],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> AgreementReport:
    """Agreement of a judge run with the people who rated its exported CSV (see the module docstring)."""
    run = JudgeRunDir(judge_run)
    manifest = run.read_manifest()
    verdicts, _keys = _judge_verdicts(manifest, run)
    rows = _read_csv(human_csv)
    by_item: dict[str, dict[str, str]] = {}
    for n, item, rater, verdict in rows:
        if item not in verdicts:
            raise AgreementError(
                f"{human_csv} line {n}: item {item!r} is not a comparison of {judge_run}: was the CSV exported from "
                "another judge run?"
            )
        raters = by_item.setdefault(item, {})
        if rater in raters:
            who = f"rater {rater!r}" if rater else "the rater"
            raise AgreementError(f"{human_csv} line {n}: {who} rated item {item} twice: keep one verdict")
        raters[rater] = verdict
    rater_names = sorted({r for raters in by_item.values() for r in raters})
    left_out: Counter[str] = Counter()
    judge_side: list[str] = []
    people_side: list[str] = []
    for item, raters in by_item.items():
        j = verdicts[item]
        if j is None:
            left_out["judge_failed"] += 1
            continue
        counts = Counter(raters.values()).most_common()
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            left_out["no_majority"] += 1
            continue
        judge_side.append(j)
        people_side.append(counts[0][0])
    metrics, reasons, conf = _pairwise(judge_side, people_side, n_resamples, seed)
    if len(rater_names) > 1:
        items = [(item, raters) for item, raters in by_item.items() if verdicts[item] is not None]
        grid = np.full((len(items), len(rater_names) + 1), -1, dtype=np.int64)
        for u, (item, raters) in enumerate(items):
            for r, name in enumerate(rater_names):
                if name in raters:
                    grid[u, r] = LABELS.index(raters[name])
            grid[u, -1] = LABELS.index(str(verdicts[item]))
        for name, cols in (("krippendorff_alpha", grid), ("krippendorff_alpha_people", grid[:, :-1])):
            value, lo, hi = krippendorff_alpha(cols, 3, n_resamples=n_resamples, seed=seed)
            metrics[name] = _metric(value, lo, hi, len(items))
            if metrics[name].value is None:
                reasons[name] = "undefined: fewer than two labels per item, or a single verdict throughout"
    return AgreementReport(
        source="human", judge_run=str(judge_run), other=str(human_csv), labels=list(LABELS),
        n_items=len(judge_side), n_left_out=dict(left_out), metrics=metrics, not_computed=reasons,
        confusion=conf, raters=[r or "(unnamed)" for r in rater_names],
        bootstrap={"n_resamples": n_resamples, "seed": seed, "ci": 0.95, "unit": "item"},
    )  # fmt: skip


def agree_with_judge(
    run_a: str | os.PathLike[str], run_b: str | os.PathLike[str], *, n_resamples: int = 1000, seed: int = 0
) -> AgreementReport:
    """Agreement of two judge runs of the same study, comparison by comparison."""
    ra, rb = JudgeRunDir(run_a), JudgeRunDir(run_b)
    ma, mb = ra.read_manifest(), rb.read_manifest()
    names_a, names_b = [c.name for c in ma.candidates], [c.name for c in mb.candidates]
    if set(names_a) != set(names_b) or ma.data_identity.images != mb.data_identity.images:
        raise AgreementError(
            f"{run_a} and {run_b} are not judge runs of the same study (candidates {', '.join(names_a)} vs "
            f"{', '.join(names_b)}; or other images): compare judges on the same runs"
        )
    index_a = {n: k for k, n in enumerate(names_a)}

    def combined(m: JudgeManifest, run: JudgeRunDir) -> dict[tuple[str, str, str], str | None]:
        names = [c.name for c in m.candidates]
        out: dict[tuple[str, str, str], str | None] = {}
        for o in outcomes(m, run.read_judgements()):
            if o.kind == "no_response":
                continue
            x, y = names[o.i], names[o.j]
            verdict = None if o.kind != "ok" or o.y is None else o.y
            if index_a[x] > index_a[y]:
                x, y = y, x
                verdict = None if verdict is None else 1.0 - verdict
            out[(m.sample_ids[o.sample], x, y)] = (
                None if verdict is None else "A" if verdict == 1.0 else "B" if verdict == 0.0 else "C"
            )
        return out

    va, vb = combined(ma, ra), combined(mb, rb)
    shared = sorted(set(va) & set(vb))
    if not shared:
        raise AgreementError(f"{run_a} and {run_b} share no comparison (other samples or pairs)")
    left_out: Counter[str] = Counter()
    sa: list[str] = []
    sb: list[str] = []
    for key in shared:
        x, y = va[key], vb[key]
        if x is None or y is None:
            left_out["judge_failed"] += 1
            continue
        sa.append(x)
        sb.append(y)
    metrics, reasons, conf = _pairwise(sa, sb, n_resamples, seed)
    return AgreementReport(
        source="judge", judge_run=str(run_a), other=str(run_b), labels=list(LABELS), n_items=len(sa),
        n_left_out=dict(left_out), metrics=metrics, not_computed=reasons, confusion=conf,
        bootstrap={"n_resamples": n_resamples, "seed": seed, "ci": 0.95, "unit": "item"},
    )  # fmt: skip


def format_agreement(report: AgreementReport) -> str:
    """The terminal view of an agreement report."""
    who = "people" if report.source == "human" else "the other judge"
    lines = [f"agreement of {report.judge_run} with {who} ({report.other}): {report.n_items} items"]
    for name, v in report.metrics.items():
        if v.value is None:
            lines.append(f"  {name:<27} –  ({report.not_computed.get(name, 'not computed')})")
            continue
        pct = name == "agreement"
        fmt = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.3f}")
        ci = f" [{fmt(v.ci_low)}, {fmt(v.ci_high)}]" if v.ci_low is not None and v.ci_high is not None else ""
        lines.append(f"  {name:<27} {fmt(v.value)}{ci}")
    if report.n_left_out:
        lines.append(
            "  left out: " + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in report.n_left_out.items())
        )
    side = "people" if report.source == "human" else "other"
    lines.append(f"  confusion (rows: judge, columns: {side}; A, B, C = tie):")
    for label, row in zip(report.labels, report.confusion, strict=True):
        lines.append(f"    {label}  " + "  ".join(f"{n:>5}" for n in row))
    if report.raters:
        lines.append(f"  raters: {', '.join(report.raters)}")
    return "\n".join(lines)


def known_items(manifest: JudgeManifest, keys: Sequence[tuple[str, str, str]]) -> list[str]:
    """The item ids of comparisons shown as ``(sample, a, b)`` (for tests and tools building rated CSVs)."""
    return [item_id(manifest, s, a, b) for s, a, b in keys]
