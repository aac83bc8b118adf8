"""Intervention sets answered outside tag-bench: export the intervened images, bring the answers back.

``tag-bench intervene RUN --export DIR`` writes every intervened image of the plan as a lossless PNG
(``DIR/images/<fill>/<condition>/<sample>.png``; the unmodified ``none`` image once, under ``none/``) and a
predictions template, ``DIR/predictions.jsonl``: one line per image with ``id``, ``image``, ``condition``,
``fill`` (null for ``none``), the ``prompt`` and ``system`` text the run's model was asked with, and an empty
``response`` to fill in. ``tag-bench intervene RUN --predictions FILE`` reads such lines back (``response``
set; ``finish_reason`` optional), stores them as the sets' answers and scores them like answers tag-bench
asked for itself. A tested sample without an answer under some condition is left untested, with the
reason; it stays in the coverage's denominator.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from tag_bench import store
from tag_bench.errors import TagBenchError
from tag_bench.intervene.fills import FILL_VERSION, fill_key, fill_names
from tag_bench.intervene.plan import INTERVENE_VERSION, plan_digest
from tag_bench.intervene.stage import Intervened, InterveneResult, StagePlan, finish, prepare
from tag_bench.metrics.stats import check_n_resamples
from tag_bench.prompts import render_prompt
from tag_bench.schema import INTERVENTION_CONDITIONS, Generation, InterventionSet, InterventionsInfo

TEMPLATE = "predictions.jsonl"
IMAGES = "images"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ExchangeError(TagBenchError, ValueError):
    """An export folder or a predictions file cannot be used; the message says which line and why."""


@dataclass
class ExportResult:
    folder: Path
    template: Path
    images: int
    plan: StagePlan


def _file_name(sample_id: str) -> str:
    return (_UNSAFE.sub("_", sample_id).strip("._") or "sample") + ".png"


def export_sets(
    run_dir: str | Path,
    out: str | Path,
    *,
    fills: Sequence[str] = ("blur", "mean", "noise"),
    conditions: Sequence[str] = INTERVENTION_CONDITIONS,
    per_au: bool = False,
    limit: int | None = None,
) -> ExportResult:
    """Write the intervened images of ``run_dir`` and the predictions template into ``out``."""
    plan = prepare(run_dir, fills=fills, conditions=conditions, per_au=per_au, limit=limit, extend=False)
    manifest = plan.manifest
    folder = Path(out)
    if folder.exists() and any(folder.iterdir()):
        raise ExchangeError(f"{folder} is not empty: export into a new folder")
    by_id = {p.sample_id: p for p in plan.plans}
    samples = {s.id: s for s in plan.samples}
    images = Intervened(by_id)
    classes = list(manifest.task.classes)
    frame = manifest.model.frame
    lines: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for sid in plan.tested:  # one file name per sample id, never two ids on one name
        name = _file_name(sid)
        while name in names.values():
            name = name[:-4] + "_.png"
        names[sid] = name
    done_none = False
    for f in plan.fills:
        for c in plan.conditions[f]:
            if c == "none":
                if done_none:
                    continue
                done_none = True
            sub = (
                folder
                / IMAGES
                / ("none" if c == "none" else f)
                / ("" if c == "none" else c.replace(":", "-"))
            )
            for sid in plan.tested:
                if by_id[sid].placement(c) is None:
                    continue
                arr, _ = images.array(samples[sid], f, c)
                path = sub / names[sid]
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(arr).save(path, format="PNG", compress_level=1)
                rendered = render_prompt(manifest.prompt_id, classes, frame, (arr.shape[1], arr.shape[0]))
                lines.append(
                    {
                        "id": sid,
                        "image": str(path.relative_to(folder)),
                        "condition": c,
                        "fill": None if c == "none" else f,
                        "prompt": rendered.user,
                        "system": rendered.system,
                        "response": None,
                    }
                )
    template = folder / TEMPLATE
    store.write_jsonl(template, lines)
    return ExportResult(folder, template, len(lines), plan)


def _read_answers(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise ExchangeError(f"predictions file not found: {path}")
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ExchangeError(f"{path}:{n}: not JSON ({e})") from None
            if not isinstance(row, dict):
                raise ExchangeError(f"{path}:{n}: expected an object with id, condition, fill and response")
            out.append((n, row))
    return out


def import_predictions(
    run_dir: str | Path, predictions: str | Path, *, n_resamples: int = 1000, seed: int | None = None
) -> InterveneResult:
    """Store the answers of a filled-in predictions template as the run's intervention sets and score them."""
    check_n_resamples(n_resamples)
    path = Path(predictions)
    rows = _read_answers(path)
    known_fills = fill_names()
    seen: set[tuple[str, str, str | None]] = set()
    wanted: dict[str, set[str]] = {}
    parsed: list[tuple[int, str, str, str | None, dict[str, Any]]] = []
    for n, row in rows:
        sid, cond, fill = row.get("id"), row.get("condition"), row.get("fill")
        if not isinstance(sid, str) or not isinstance(cond, str):
            raise ExchangeError(f"{path}:{n}: id and condition must be text")
        if cond not in INTERVENTION_CONDITIONS and not cond.startswith("drop:"):
            raise ExchangeError(
                f"{path}:{n}: unknown condition {cond!r}; use {', '.join(INTERVENTION_CONDITIONS)} or drop:AU"
            )
        if cond == "none":
            fill = None
        elif fill not in known_fills:
            raise ExchangeError(f"{path}:{n}: unknown fill {fill!r}; use {', '.join(known_fills)}")
        key = (sid, cond, fill)
        if key in seen:
            raise ExchangeError(
                f"{path}:{n}: a second answer for {sid} under {cond}{'/' + fill if fill else ''}"
            )
        seen.add(key)
        if fill is not None:
            wanted.setdefault(fill, set()).add(cond)
        parsed.append((n, sid, cond, fill, row))
    if not wanted:
        raise ExchangeError(
            f"{path}: no answer under a filled condition (cited, control, ...): nothing to score"
        )
    with_none = any(c == "none" for _, _, c, _, _ in parsed)
    fills = sorted(wanted, key=known_fills.index)
    conditions = sorted({c for cs in wanted.values() for c in cs if not c.startswith("drop:")} | ({"none"} if with_none else set()),
                        key=INTERVENTION_CONDITIONS.index)  # fmt: skip
    per_au = any(c.startswith("drop:") for cs in wanted.values() for c in cs)
    plan = prepare(run_dir, fills=fills, conditions=conditions or ["cited"], per_au=per_au)
    run, manifest = plan.run, plan.manifest
    before = {s.fill: s.conditions for s in (plan.info.sets if plan.info else [])}
    for f in fills:  # each fill: what the file answers for it (and the shared none), plus what it had
        have = wanted[f] | ({"none"} if with_none else set()) | set(before.get(f, []))
        standard = [c for c in INTERVENTION_CONDITIONS if c in have]
        plan.conditions[f] = standard + sorted(c for c in have if c.startswith("drop:"))
    by_id = {p.sample_id: p for p in plan.plans}
    tested = set(plan.tested)
    records: dict[tuple[str, str], list[Generation]] = {}
    for n, sid, cond, fill, row in parsed:
        if sid not in by_id:
            raise ExchangeError(f"{path}:{n}: {sid!r} is not a sample of {run.path}")
        if sid not in tested:
            raise ExchangeError(
                f"{path}:{n}: {sid!r} is not tested ({by_id[sid].reason}); export again to get the images"
            )
        p = by_id[sid]
        placement = p.placement(cond)
        if placement is None:
            raise ExchangeError(f"{path}:{n}: {sid!r} has no {cond} condition")
        text = row.get("response")
        if text is None:
            continue  # not answered: the sample is left untested, with the reason
        if not isinstance(text, str):
            raise ExchangeError(f"{path}:{n}: response must be text or null")
        size = (int(p.image_size[0]), int(p.image_size[1])) if p.image_size else None
        sha = (
            p.image_sha256
            if cond == "none" or size is None
            else fill_key(p.image_sha256 or "", placement, size, fill or "")
        )
        finish_reason = row.get("finish_reason")
        record = Generation(
            sample_id=sid,
            text=text,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            image_sha256=sha,
            image_size=size,
            frame=manifest.model.frame,
        )
        records.setdefault((fill or fills[0], cond), []).append(record)
    if plan.fresh and run.interventions_dir.exists():
        shutil.rmtree(run.interventions_dir)  # sets of a discarded run
    if not run.intervention_plan_path.exists():
        run.write_intervention_plan(plan.plans)
    for (fill, cond), recs in records.items():
        target = run.intervention_set(fill, cond)
        target.path.mkdir(parents=True, exist_ok=True)
        store.append_jsonl(target.generations_path, recs)
    m = run.read_manifest()
    info = m.interventions or InterventionsInfo(
        version=INTERVENE_VERSION,
        au_reference_id=m.au_reference_id,
        plan_sha256=plan_digest(plan.plans),
        model_fingerprint=m.model.fingerprint,
    )
    for f in fills:
        if info.set_of(f) is None:
            info.sets.append(InterventionSet(fill=f, conditions=[], status="interrupted", source="predictions",
                                             fill_version=FILL_VERSION))  # fmt: skip
    m.interventions = info
    run.write_manifest(m)
    why = "answers brought back with --predictions are not scored (no model here to score them)"
    return finish(plan, n_resamples=n_resamples, seed=manifest.seeds.get("seed", 0) if seed is None else seed,
                  scoring=why, source="predictions")  # fmt: skip
