"""lmms-eval interop: tag-bench tasks inside lmms-eval, lmms-eval models inside tag-bench, one scorer.

- :mod:`~tag_bench.lmms.export`: tag-bench tasks -> lmms-eval task YAMLs (``tag_<task>``) + JSONL docs.
- :mod:`~tag_bench.lmms.hooks`: the ``!function`` targets of those YAMLs (prompt, image, scoring).
- :mod:`~tag_bench.lmms.importer`: lmms-eval's logged samples -> a scored tag-bench run directory.
- :mod:`~tag_bench.lmms.models` / :mod:`~tag_bench.lmms.registry`: tag-bench adapters as lmms-eval
  models (``tag_hf``, ``tag_openai``, ``tag_replay``) through the ``lmms_eval.models`` entry points.
- :mod:`~tag_bench.lmms.bridge`: the ``lmms-eval`` model adapter: any lmms-eval model inside tag-bench.
- :mod:`~tag_bench.lmms.worker`: the process in which that bridge adapter runs lmms-eval.

Nothing here imports lmms-eval at import time except :mod:`~tag_bench.lmms.models` and the worker.
"""
