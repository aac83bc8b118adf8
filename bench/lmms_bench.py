"""lmms-eval interop: the bridge adapter's overhead, and what the interop costs ``import tag_bench``.

Ratios against a baseline measured in the same run (these machines are noisy):

1. bridge    = wall time of `tag-bench run --model lmms-eval` (model=qwen2_5_vl) / wall time of
               lmms-eval's own CLI (`lmms-eval eval --model qwen2_5_vl`) on the exported task: same tiny
               Qwen2.5-VL, same samples, prompt and max_new_tokens, both whole commands (start-up,
               imports, weight load, generation, writing results; tag-bench also scores). Target <= 1.10
               at a bridge batch size that amortises lmms-eval's per-call set-up (--bridge-batch).
2. import    = `import tag_bench` plus every interop module / `import tag_bench` alone (best of 5
               fresh interpreters each, --import-repeat). Target ~1.00, and neither lmms_eval nor torch gets imported.

The bridge's responses (at the first --bridge-batch) must equal the CLI's, sample for sample (asserted).

    .venv/bin/python bench/lmms_bench.py [--n 32] [--tokens 32] [--bridge-batch 1 16] [--rounds 2] [--smoke]

``--smoke``: 2 samples, 4 tokens, bridge batch 2, one round, imports best of 2 (under a minute, most of
it lmms-eval's start-up; ``make bench-smoke``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASK = """
name: bench_raf
version: 1
dataset: rafdb
split: train
protocol: rafdb-basic-7
classes: [surprise, fear, disgust, happiness, sadness, anger, neutral]
prompt: tag_grounded
"""
QWEN_ARGS = "device_map=cpu,attn_implementation=sdpa,min_pixels=3136,max_pixels=50176"
INTEROP = "tag_bench.lmms.bridge, tag_bench.lmms.export, tag_bench.lmms.importer, tag_bench.lmms.hooks, tag_bench._cli.lmms"


def env(tmp: Path) -> dict[str, str]:
    e = dict(os.environ)
    e.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
              "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false", "HF_HOME": str(tmp / "hf-home"),
              "TAG_BENCH_CACHE": str(tmp / "tag-bench-cache"),
              "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), e.get("PYTHONPATH")) if p)})  # fmt: skip
    return e


def timed(cmd: list[str], e: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=e, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return time.perf_counter() - t0


def bridge_vs_cli(tmp: Path, n: int, tokens: int, batches: list[int], rounds: int) -> None:
    from tag_bench.lmms.export import export_tasks
    from tag_bench.testing.fixtures import write_fixtures
    from tag_bench.testing.tiny_models import build_tiny_qwen2_5_vl

    e = env(tmp)
    os.environ.update({k: e[k] for k in ("HF_HOME", "TAG_BENCH_CACHE")})
    model = build_tiny_qwen2_5_vl(tmp / "tiny-qwen")
    raf = write_fixtures(tmp / "data")["raf_basic"]
    tasks_dir = tmp / "tasks"
    tasks_dir.mkdir()
    (tasks_dir / "bench_raf.yaml").write_text(TASK)
    (exp,) = export_tasks(["bench_raf"], tmp / "exported", data_root=raf, tasks_dirs=[str(tasks_dir)],
                          limit=n, gen_kwargs={"max_new_tokens": tokens})  # fmt: skip
    n = exp.n_samples
    cli = [sys.executable, "-m", "lmms_eval", "eval", "--model", "qwen2_5_vl", "--model_args",
           f"pretrained={model},{QWEN_ARGS}", "--tasks", exp.name, "--include_path", str(exp.yaml_path.parent),
           "--batch_size", "1", "--device", "cpu", "--log_samples", "--verbosity", "DEBUG", "--timezone", "UTC"]  # fmt: skip

    def bridge(batch: int, out: Path) -> list[str]:
        return [sys.executable, "-m", "tag_bench", "run", "--model", "lmms-eval", "--model-args",
                f"model=qwen2_5_vl,pretrained={model},device=cpu,{QWEN_ARGS}", "--tasks", "bench_raf",
                "--tasks-dir", str(tasks_dir), "--data-root", str(raf), "--limit", str(n), "--gen-kwargs",
                f"max_new_tokens={tokens}", "--box-frame", "pixel", "--au-reference", "none", "--no-cache",
                "--batch-size", str(batch), "--out", str(out), "--no-progress"]  # fmt: skip

    print(f"bridge vs lmms-eval CLI: {n} RAF-DB fixture faces, tiny Qwen2.5-VL, max_new_tokens={tokens}, CPU")
    for rep in range(rounds):  # alternate, so drift in machine load hits both sides
        base = timed([*cli, "--output_path", str(tmp / f"cli{rep}")], e, tmp)
        for b in batches:
            t = timed(bridge(b, tmp / f"bridge{rep}-{b}"), e, tmp)
            print(
                f"  run {rep}: lmms-eval CLI {base:6.1f} s | bridge --batch-size {b:<3} {t:6.1f} s | ratio {t / base:.2f}"
            )
        same = _same_texts(tmp / f"cli{rep}", exp.docs_path, tmp / f"bridge{rep}-{batches[0]}")
        print(f"  run {rep}: bridge responses identical to the CLI's: {same}")
        assert same, f"the bridge's responses (--batch-size {batches[0]}) differ from lmms-eval's CLI"


def _same_texts(cli_out: Path, docs: Path, run: Path) -> bool:
    ids = [json.loads(x)["sample_id"] for x in docs.read_text().splitlines()]
    (samples,) = cli_out.rglob("*_samples_*.jsonl")
    cli = {
        ids[d["doc_id"]]: d.get("resps", d["filtered_resps"])
        for d in map(json.loads, samples.read_text().splitlines())
    }
    ours = {
        g["sample_id"]: g["text"]
        for g in map(json.loads, (run / "generations.jsonl").read_text().splitlines())
    }
    return cli == ours


def import_cost(tmp: Path, repeat: int) -> None:
    e = env(tmp)
    check = "import sys; assert 'lmms_eval' not in sys.modules and 'torch' not in sys.modules"

    def best(code: str) -> float:
        return min(timed([sys.executable, "-c", code], e, tmp) for _ in range(repeat))

    base = best("import tag_bench, sys; assert not any(m.startswith('tag_bench.lmms') for m in sys.modules)")
    full = best(f"import tag_bench, {INTEROP}; {check}")
    print(f"import: tag_bench {base * 1000:.0f} ms | + interop modules {full * 1000:.0f} ms | ratio {full / base:.2f} "
          "(no lmms_eval, no torch imported)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--bridge-batch", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--rounds", type=int, default=2, help="rounds of CLI + bridge runs")
    ap.add_argument("--import-repeat", type=int, default=5, help="fresh interpreters per import timing")
    ap.add_argument(
        "--smoke", action="store_true", help="small sizes that run in under a minute (make bench-smoke)"
    )
    a = ap.parse_args()
    if a.smoke:
        ap.set_defaults(n=2, tokens=4, bridge_batch=[2], rounds=1, import_repeat=2)
        a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lmms-bench-") as d:
        tmp = Path(d)
        import_cost(tmp, a.import_repeat)
        bridge_vs_cli(tmp, a.n, a.tokens, a.bridge_batch, a.rounds)


if __name__ == "__main__":
    main()
