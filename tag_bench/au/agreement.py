"""Agreement between AU references on the same images (``tag-bench au agree``).

For every pair of references and every AU both give, over the images where both have status ``ok``:

- ``kappa``: Cohen's kappa of the active flags (``sklearn.metrics.cohen_kappa_score``) over the
  images where both judge the AU (flag not None), with the 2x2 counts (both active, only A, only B,
  neither) and the raw agreement;
- ``spearman``: Spearman's rank correlation of the scores (``scipy.stats.spearmanr``) over the
  images where both score it;
- ``region_iou``: the mean IoU of the two merged region boxes over the images where both have one.

A statistic that cannot be computed is None with the reason in ``not_computed`` (no image judged by
both; a constant column, for which kappa and Spearman are undefined), never 0.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from tag_bench._optional import require
from tag_bench.facs import au_sort_key
from tag_bench.geometry import iou
from tag_bench.schema import AUReference


def _stats_modules() -> tuple[Any, Any]:
    metrics = require("sklearn.metrics", "stats", "AU reference agreement (Cohen's kappa)")
    stats = require("scipy.stats", "stats", "AU reference agreement (Spearman)")
    return metrics, stats


def au_agreement(a: Sequence[AUReference], b: Sequence[AUReference], au: str) -> dict[str, Any]:
    """Agreement of one AU between two aligned lists of references (same images, same order)."""
    metrics, stats = _stats_modules()
    flags: list[tuple[bool, bool]] = []
    scores: list[tuple[float, float]] = []
    ious: list[float] = []
    n_ok = 0
    for ra, rb in zip(a, b, strict=True):
        if ra.status != "ok" or rb.status != "ok":
            continue
        n_ok += 1
        sa, sb = ra.aus.get(au), rb.aus.get(au)
        if sa is None or sb is None:
            continue
        if sa.active is not None and sb.active is not None:
            flags.append((sa.active, sb.active))
        if sa.score is not None and sb.score is not None:
            scores.append((sa.score, sb.score))
        if sa.box is not None and sb.box is not None:
            ious.append(iou(sa.box, sb.box))
    out: dict[str, Any] = {
        "n_ok": n_ok,
        "n_judged": len(flags),
        "both_active": sum(x and y for x, y in flags),
        "only_a": sum(x and not y for x, y in flags),
        "only_b": sum(y and not x for x, y in flags),
        "neither": sum(not x and not y for x, y in flags),
        "agreement": None,
        "kappa": None,
        "n_scored": len(scores),
        "spearman": None,
        "n_regions": len(ious),
        "region_iou": None,
        "not_computed": {},
    }
    why = out["not_computed"]
    if flags:
        out["agreement"] = sum(x == y for x, y in flags) / len(flags)
        fa, fb = [x for x, _ in flags], [y for _, y in flags]
        if len(set(fa)) == 1 and len(set(fb)) == 1:
            why["kappa"] = "both references give the same flag on every image (kappa is undefined)"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                k = float(metrics.cohen_kappa_score(fa, fb))
            if math.isfinite(k):
                out["kappa"] = k
            else:
                why["kappa"] = "undefined for these flags"
    else:
        why["kappa"] = why["agreement"] = "no image where both references judge this AU"
    if len(scores) >= 2:
        xa, xb = [x for x, _ in scores], [y for _, y in scores]
        if len(set(xa)) == 1 or len(set(xb)) == 1:
            why["spearman"] = "a reference gives the same score on every image (Spearman is undefined)"
        else:
            rho = float(stats.spearmanr(xa, xb).statistic)
            if math.isfinite(rho):
                out["spearman"] = rho
            else:
                why["spearman"] = "undefined for these scores"
    else:
        why["spearman"] = "fewer than 2 images where both references score this AU"
    if ious:
        out["region_iou"] = sum(ious) / len(ious)
    else:
        why["region_iou"] = "no image where both references give a region for this AU"
    return out


def agreement_report(
    references: Mapping[str, Mapping[str, AUReference]],
    sample_ids: Sequence[str],
    aus: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Pairwise per-AU agreement of several references over ``sample_ids``.

    ``references`` maps a reference label (its spec) to its records by sample id. Returns JSON-able
    ``{"n_samples", "references": [...], "pairs": [{"a", "b", "aus": {AU: ...}, "mean": ...}]}``;
    ``mean`` averages each statistic over the AUs where it was computed (``n_aus`` of them).
    """
    labels = list(references)
    if len(labels) < 2:
        raise ValueError("agreement needs at least two references")
    aligned = {lab: [references[lab][sid] for sid in sample_ids] for lab in labels}
    ref_info = []
    for lab in labels:
        counts: dict[str, int] = {}
        for r in aligned[lab]:
            counts[r.status] = counts.get(r.status, 0) + 1
        ids = sorted({r.reference_id for r in aligned[lab]})
        ref_info.append({"spec": lab, "reference_id": ids[0] if len(ids) == 1 else ids, "status": counts})
    pairs = []
    for la, lb in itertools.combinations(labels, 2):
        ra, rb = aligned[la], aligned[lb]
        given_a = {au for r in ra for au in r.aus}
        given_b = {au for r in rb for au in r.aus}
        wanted = sorted(given_a & given_b, key=au_sort_key) if aus is None else list(aus)
        per_au = {au: au_agreement(ra, rb, au) for au in wanted}
        mean: dict[str, Any] = {}
        for stat in ("agreement", "kappa", "spearman", "region_iou"):
            vals = [v[stat] for v in per_au.values() if v[stat] is not None]
            mean[stat] = sum(vals) / len(vals) if vals else None
            mean[f"n_aus_{stat}"] = len(vals)
        pairs.append({"a": la, "b": lb, "aus": per_au, "mean": mean})
    return {"n_samples": len(sample_ids), "references": ref_info, "pairs": pairs}
