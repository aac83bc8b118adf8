"""lmms-eval's logged samples -> a tag-bench run directory, scored by tag-bench.

Input: an lmms-eval output folder (``<output_path>/<model>/<date>_samples_<task>.jsonl`` beside
``<date>_results.json``) or one samples JSONL. Each logged line becomes a prediction
``{"id", "response"}`` for :func:`tag_bench.generate.predictions.score_predictions`, which writes the
manifest, index and generations and scores them like any run; samples of the task without a logged
line are scored ``missing`` and stay in every denominator.

Which tag-bench sample a line answers, in order of preference: the ``tag_sample_id`` that the exported
task's ``process_results`` logs; a key the user names (``id_key``); a ``doc_id -> sample id`` mapping
file (``id_map``); the exported task's own JSONL, row ``doc_id`` (runs with ``--predict_only``, which
skip ``process_results``). Responses come from ``resps`` when logged (raw text: lmms-eval writes it
only when its reasoning-tag filter changed the text) else ``filtered_resps``; both are accepted nested
(``[[x]]``, lmms-eval < 0.7) or flat (``[x]`` or ``x``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tag_bench import store
from tag_bench.errors import TagBenchError
from tag_bench.generate.predictions import score_predictions
from tag_bench.lmms.hooks import SAMPLE_ID_KEY
from tag_bench.lmms.rows import TASK_PREFIX, TaskRow
from tag_bench.metrics.stats import check_n_resamples
from tag_bench.store import iter_jsonl
from tag_bench.tasks import discover_tasks

_SAMPLES_RE = re.compile(r"^(?P<date>.+?)_samples_(?P<task>.+)\.jsonl$")
PREDICTIONS_FILE = "lmms_eval_predictions.jsonl"


class LmmsImportError(TagBenchError, ValueError):
    """lmms-eval output that cannot be imported; the message says what to give instead."""


@dataclass
class LoggedRun:
    """One lmms-eval task's logged samples, with the run's results file when there is one."""

    task: str  # lmms-eval task name
    samples_path: Path
    results: dict[str, Any] = field(default_factory=dict)  # the <date>_results.json, or {}

    @property
    def config(self) -> dict[str, Any]:
        """The task's config as lmms-eval logged it (``configs.<task>``)."""
        return dict((self.results.get("configs") or {}).get(self.task) or {})

    @property
    def tag_bench(self) -> dict[str, Any]:
        """The ``metadata.tag_bench`` block of a task written by ``tag-bench lmms-eval export``."""
        meta = self.config.get("metadata") or {}
        return dict(meta.get("tag_bench") or {}) if isinstance(meta, dict) else {}


@dataclass
class ImportResult:
    run: Any  # tag_bench.generate.evaluate.RunResult
    logged: LoggedRun
    n_lines: int
    warnings: list[str]


# --------------------------------------------------------------------------------------------------
# Finding the logged samples


def find_logged(source: str | Path, task: str | None = None) -> LoggedRun:
    """The logged samples of one task under ``source`` (a folder or a samples JSONL)."""
    path = Path(source)
    if path.is_file():
        m = _SAMPLES_RE.match(path.name)
        name = task or (m.group("task") if m else None)
        if name is None:
            raise LmmsImportError(
                f"{path} is not named <date>_samples_<task>.jsonl; pass the lmms-eval task with --lmms-task"
            )
        return LoggedRun(name, path, _results_beside(path, m.group("date") if m else None))
    if not path.is_dir():
        raise LmmsImportError(
            f"{path} does not exist: give lmms-eval's --output_path folder or a samples JSONL"
        )
    found = sorted(p for p in path.rglob("*_samples_*.jsonl") if _SAMPLES_RE.match(p.name))
    if task is not None:
        found = [p for p in found if _SAMPLES_RE.match(p.name).group("task") == task]  # type: ignore[union-attr]
    if not found:
        what = f"for task {task!r} " if task else ""
        raise LmmsImportError(
            f"no lmms-eval samples file {what}under {path} (<date>_samples_<task>.jsonl); run lmms-eval "
            "with --log_samples --output_path"
        )
    if len(found) > 1:
        listing = ", ".join(str(p.relative_to(path)) for p in found[:6])
        raise LmmsImportError(
            f"{len(found)} samples files under {path} ({listing}); give one file, or --lmms-task to pick one"
        )
    m = _SAMPLES_RE.match(found[0].name)
    assert m is not None
    return LoggedRun(m.group("task"), found[0], _results_beside(found[0], m.group("date")))


def _results_beside(samples: Path, date: str | None) -> dict[str, Any]:
    if date is None:
        return {}
    results = samples.with_name(f"{date}_results.json")
    if not results.is_file():
        return {}
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise LmmsImportError(f"cannot read {results}: {e}") from e
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------------------------------
# Lines -> predictions


def response_text(line: dict[str, Any]) -> tuple[str | None, bool]:
    """(the response of a logged line, whether it had several) from ``resps`` or ``filtered_resps``."""
    value = line["resps"] if "resps" in line else line.get("filtered_resps")
    several = False
    while isinstance(value, list):  # [[x]] (lmms-eval < 0.7), [x], or [x, y] with --repeats
        several = several or len(value) > 1
        value = value[0] if value else None
    if value is not None and not isinstance(value, str):
        value = json.dumps(value)
    return value, several


def read_id_map(path: str | Path) -> dict[int, str]:
    """``doc_id -> sample id`` from a JSONL (``{"doc_id": 0, "id": "..."}``) or a two-column CSV."""
    import csv

    path = Path(path)
    if not path.is_file():
        raise LmmsImportError(f"id map not found: {path}")
    rows: list[dict[str, Any]]
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    else:
        rows = list(iter_jsonl(path))
    out: dict[int, str] = {}
    for n, r in enumerate(rows, 1):
        try:
            out[int(r["doc_id"])] = str(r["id"])
        except (KeyError, TypeError, ValueError):
            raise LmmsImportError(f"{path}:{n}: each row needs a doc_id (integer) and an id") from None
    return out


def exported_rows(logged: LoggedRun) -> list[TaskRow] | None:
    """The exported task's docs (its JSONL, as lmms-eval resolved it), when the run names one."""
    files = (logged.config.get("dataset_kwargs") or {}).get("data_files")
    test = files.get(logged.config.get("test_split") or "test") if isinstance(files, dict) else files
    if isinstance(test, list) and len(test) == 1:
        test = test[0]
    if not isinstance(test, str) or not Path(test).is_file():
        return None
    return [TaskRow.model_validate(r) for r in iter_jsonl(test)]


def predictions_of(
    logged: LoggedRun, *, id_key: str | None = None, id_map: dict[int, str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """One ``{"id", "response"}`` per logged line, plus warnings."""
    lines = list(iter_jsonl(logged.samples_path))
    rows: list[TaskRow] | None = None
    preds, unmapped, several = [], 0, 0
    for n, line in enumerate(lines, 1):
        sid = _sample_id(line, id_key, id_map)
        if sid is None and "doc_id" in line:
            if rows is None:
                rows = exported_rows(logged) or []
            doc_id = int(line["doc_id"])
            sid = rows[doc_id].sample_id if 0 <= doc_id < len(rows) else None
        if sid is None:
            unmapped += 1
            if unmapped == 1 and not (id_key or id_map or rows):
                raise LmmsImportError(
                    f"{logged.samples_path}:{n}: no tag-bench sample id (no {SAMPLE_ID_KEY}, and the task's "
                    "docs are not a tag-bench export): pass --id-map FILE (doc_id -> id) or --id-key KEY"
                )
            continue
        text, many = response_text(line)
        several += many
        preds.append({"id": sid, "response": text})
    warnings = []
    if unmapped:
        warnings.append(
            f"{unmapped} logged line(s) of {logged.samples_path.name} name no known sample: not imported"
        )
    if several:
        warnings.append(
            f"{several} logged line(s) hold several responses (--repeats): the first one is scored"
        )
    return preds, warnings


def _sample_id(line: dict[str, Any], id_key: str | None, id_map: dict[int, str] | None) -> str | None:
    if id_key is not None and line.get(id_key) is not None:
        return str(line[id_key])
    if line.get(SAMPLE_ID_KEY) is not None:
        return str(line[SAMPLE_ID_KEY])
    if id_map is not None and "doc_id" in line:
        return id_map.get(int(line["doc_id"]))
    return None


def provenance(logged: LoggedRun) -> dict[str, Any]:
    """What the manifest records about the lmms-eval run (its ``extra.lmms_eval``)."""
    from importlib import metadata

    r = logged.results
    config = r.get("config") or {}
    try:
        installed = metadata.version("lmms-eval")
    except metadata.PackageNotFoundError:
        installed = None
    keep = ("model", "model_args", "model_backend", "batch_size", "device", "limit", "gen_kwargs",
            "random_seed", "numpy_seed", "torch_seed", "fewshot_seed")  # fmt: skip
    task_config = logged.config
    return {
        "lmms_eval": {
            "task": logged.task,
            "samples_file": str(logged.samples_path.resolve()),
            "version_logged": r.get("lmms_eval_version"),
            "version_installed": installed,
            "config": {k: config[k] for k in keep if k in config},
            "generation_kwargs": task_config.get("generation_kwargs"),
            "date": r.get("date"),
            "results": (r.get("results") or {}).get(logged.task),
            "tag_bench_export": logged.tag_bench or None,
        }
    }


# --------------------------------------------------------------------------------------------------
# The import


def import_run(
    source: str | Path,
    out: str | Path,
    *,
    lmms_task: str | None = None,
    task: str | None = None,
    frame: str | None = None,
    data_root: str | Path | None = None,
    id_key: str | None = None,
    id_map: str | Path | None = None,
    au_reference: str | None = "auto",
    tasks_dirs: list[str] | None = None,
    loader_options: dict[str, Any] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> ImportResult:
    """Import one lmms-eval task's logged samples into the run directory ``out`` and score it.

    For a task written by ``tag-bench lmms-eval export`` the tag-bench task, frame, data root and
    loader options come from the export (arguments given here win). For any other FER task give
    ``task``, ``frame``, ``data_root`` and ``id_map`` or ``id_key``.
    """
    check_n_resamples(n_resamples)
    logged = find_logged(source, lmms_task)
    meta = logged.tag_bench
    task = task or meta.get("task") or _task_from_name(logged.task, tasks_dirs)
    if task is None:
        raise LmmsImportError(
            f"lmms-eval task {logged.task!r} is not a tag-bench export: pass --task (the tag-bench task "
            "its docs are samples of), --frame and --id-map/--id-key"
        )
    frame = frame or meta.get("frame")
    if frame is None:
        raise LmmsImportError(
            f"the box frame of {logged.task!r}'s responses is unknown: pass --frame (tag-bench never guesses one)"
        )
    preds, warnings = predictions_of(logged, id_key=id_key, id_map=read_id_map(id_map) if id_map else None)
    if not preds:
        raise LmmsImportError(f"{logged.samples_path} holds no logged sample to import")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pred_path = out / PREDICTIONS_FILE
    store.write_jsonl(pred_path, preds)
    result = score_predictions(
        task,
        pred_path,
        frame=frame,
        provenance=provenance(logged),
        data_root=data_root if data_root is not None else meta.get("data_root"),
        loader_options=loader_options if loader_options is not None else meta.get("loader_options"),
        tasks_dirs=tasks_dirs,
        out=out,
        au_reference=au_reference,
        n_resamples=n_resamples,
        seed=seed,
        overwrite=overwrite,
        progress=progress,
        limit=meta.get("limit"),
    )
    result.warnings[:0] = warnings
    return ImportResult(result, logged, len(preds), list(result.warnings))


def _task_from_name(lmms_task: str, tasks_dirs: list[str] | None) -> str | None:
    """``tag_rafdb_basic_test`` -> ``rafdb_basic_test`` when that is a tag-bench task."""
    if not lmms_task.startswith(TASK_PREFIX):
        return None
    name = lmms_task[len(TASK_PREFIX) :]
    return name if name in discover_tasks(tasks_dirs) else None
