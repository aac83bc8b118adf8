"""The process in which the ``lmms-eval`` bridge adapter runs lmms-eval (``python -m tag_bench.lmms.worker``).

Why a separate process: importing and running lmms-eval changes its host process (loguru's handlers
removed, filelock's metaclass and ``ssl.SSLContext.__reduce__`` patched, the global ``random`` /
numpy / torch seeds reset by every ``simple_evaluate``) and costs ~7 s and ~1 GB before any model
loads. The worker keeps all of that away from tag-bench and keeps the model loaded across batches.

Protocol: one JSON object per line on stdin, one reply per line on the original stdout (lmms-eval's
own prints and logs are sent to stderr). Requests:

- ``{"op": "load", "model", "model_args", "batch_size", "device"}`` -> ``{"ok", "info"}``
- ``{"op": "generate", "rows": [TaskRow], "gen_kwargs": {...}}`` -> ``{"ok", "outputs": [...]}``,
  one ``{"sample_id", "text", "output_tokens", "input_tokens"}`` per row, in order
- ``{"op": "close"}``

Each batch is written as an exported task (``tag_bridge``) into a temporary folder and run with
``simple_evaluate(model=<the loaded instance>, predict_only=True, log_samples=True,
bootstrap_iters=0)``; the in-process logged samples keep each doc's ``sample_id``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import IO, Any

from tag_bench.lmms.export import write_task
from tag_bench.lmms.rows import TaskRow

BRIDGE_TASK = "tag_bridge"


class Worker:
    def __init__(self) -> None:
        self.lm: Any = None
        self.settings: dict[str, Any] = {}
        self.batches = 0

    def load(self, req: dict[str, Any]) -> dict[str, Any]:
        from importlib import metadata

        import lmms_eval.models

        cls = lmms_eval.models.get_model(req["model"])
        device = req.get("device")
        if not device:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        extra = {"batch_size": req.get("batch_size"), "max_batch_size": None, "device": device}
        self.lm = cls.create_from_arg_string(req.get("model_args") or "", extra)
        # evaluate() calls lm.clean() after every batch; the default deletes the model's torch modules
        self.lm.clean = lambda: None
        self.settings = {"batch_size": req.get("batch_size"), "device": device}
        return {
            "lmms_eval": metadata.version("lmms-eval"),
            "model_class": f"{type(self.lm).__module__}.{type(self.lm).__name__}",
            "is_simple": bool(getattr(self.lm, "is_simple", True)),
            "device": device,
        }

    def generate(self, req: dict[str, Any]) -> list[dict[str, Any]]:
        from lmms_eval.evaluator import simple_evaluate
        from lmms_eval.tasks import TaskManager

        if self.lm is None:
            raise RuntimeError("no model loaded")
        rows = [TaskRow.model_validate(r) for r in req["rows"]]
        folder = Path(tempfile.mkdtemp(prefix="tag-bench-lmms-batch-"))
        try:
            write_task(folder, BRIDGE_TASK, rows, req.get("gen_kwargs") or {}, {"version": 1},
                       dataset_kwargs={"cache_dir": str(folder / "datasets-cache")})  # fmt: skip
            manager = TaskManager(verbosity="WARNING", include_path=str(folder), include_defaults=False)
            results = simple_evaluate(
                model=self.lm,
                tasks=[BRIDGE_TASK],
                task_manager=manager,
                batch_size=self.settings.get("batch_size"),
                device=self.settings.get("device"),
                predict_only=True,
                log_samples=True,
                bootstrap_iters=0,
                process_docs_parallel=1,
                verbosity="WARNING",
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.batches += 1
        by_id: dict[str, dict[str, Any]] = {}
        for s in (results or {}).get("samples", {}).get(BRIDGE_TASK, []):
            sid = (s.get("doc") or {}).get("sample_id")
            text = s.get("resps")
            while isinstance(text, list):  # [[text]] in-process
                text = text[0] if text else None
            counts = (s.get("token_counts") or [None])[0] or {}
            by_id[str(sid)] = {
                "sample_id": sid,
                "text": text,
                "output_tokens": counts.get("output_tokens"),
                "input_tokens": counts.get("input_tokens"),
            }
        return [by_id.get(r.sample_id, {"sample_id": r.sample_id, "text": None}) for r in rows]


def serve(stdin: IO[str], out: IO[str]) -> None:
    worker = Worker()
    for line in stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        op = req.get("op")
        if op == "close":
            break
        try:
            if op == "load":
                reply: dict[str, Any] = {"ok": True, "info": worker.load(req)}
            elif op == "generate":
                reply = {"ok": True, "outputs": worker.generate(req)}
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            traceback.print_exc(file=sys.stderr)
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main() -> None:
    # Replies go to the original stdout; everything lmms-eval prints goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # the batch docs are a local JSONL
    serve(sys.stdin, out)


if __name__ == "__main__":
    main()
