"""lmms-eval interop against the real lmms-eval 0.7.3, offline, on CPU.

- export -> the ``lmms-eval`` CLI runs the exported task with its own ``qwen2_5_vl`` chat model on the
  tiny random Qwen2.5-VL -> ``tag-bench lmms-eval import`` -> metrics identical to scoring the same
  responses with ``tag-bench score --predictions`` (replay), and to lmms-eval's own ``tag_accuracy``;
- the bridge adapter (``--model lmms-eval``) end to end on the demo task: the same responses as the
  lmms-eval CLI, resume and cache as for any adapter, two batches through one reused model instance;
- ``lmms-eval --model tag_hf`` (an entry-point model) answers exactly as ``tag-bench run --model hf``;
  ``tag_replay`` survives two evaluations with one instance.

lmms-eval runs in subprocesses (its CLI, the bridge's worker), so its process-wide side effects never
reach the test session. The CLI exits 0 on any exception unless ``--verbosity DEBUG``: used throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

try:
    metadata.version("lmms-eval")
except metadata.PackageNotFoundError:
    pytest.skip(
        "the lmms extra is not installed (pip install -e '.[lmms]'; `make test` installs it)",
        allow_module_level=True,
    )

from tag_bench._cli.main import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
N = 3  # demo samples
MAX_NEW = 16
QWEN_ARGS = "device_map=cpu,attn_implementation=sdpa,min_pixels=3136,max_pixels=50176"


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    """Environment of every lmms-eval process: no network, caches inside the test's temp folder."""
    env = dict(os.environ)
    env.update({
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled",
        "HF_HOME": str(tmp_path_factory.mktemp("hf-home")), "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    })  # fmt: skip
    return env


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from tag_bench.lmms.export import export_tasks

    out = tmp_path_factory.mktemp("lmms-tasks")
    (e,) = export_tasks(["demo"], out, limit=N, gen_kwargs={"max_new_tokens": MAX_NEW})
    return e


def _lmms_eval(args: list[str], env: dict[str, str], cwd: Path) -> None:
    cmd = [sys.executable, "-m", "lmms_eval", "eval", *args, "--verbosity", "DEBUG", "--timezone", "UTC"]
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:] + r.stdout[-4000:]


def _samples_file(folder: Path) -> Path:
    (path,) = folder.rglob("*_samples_tag_demo.jsonl")
    return path


def _texts_by_id(samples: Path, docs: Path) -> dict[str, str]:
    """Independently of the importer: doc_id -> the export's row -> sample id."""
    ids = [json.loads(line)["sample_id"] for line in docs.read_text().splitlines()]
    out = {}
    for line in samples.read_text().splitlines():
        d = json.loads(line)
        text = d.get("resps", d["filtered_resps"])
        while isinstance(text, list):
            text = text[0]
        out[ids[d["doc_id"]]] = text
    return out


@pytest.fixture(scope="module")
def cli_run(exported, tiny_qwen, offline_env, tmp_path_factory):
    """lmms-eval's own CLI and qwen2_5_vl chat model on the exported demo task."""
    out = tmp_path_factory.mktemp("lmms-out")
    _lmms_eval(["--model", "qwen2_5_vl", "--model_args", f"pretrained={tiny_qwen},{QWEN_ARGS}",
                "--tasks", "tag_demo", "--include_path", str(exported.yaml_path.parent), "--batch_size", "1",
                "--device", "cpu", "--log_samples", "--output_path", str(out)], offline_env, out)  # fmt: skip
    return out


def test_cli_round_trip_scores_identical_to_replay(cli_run, exported, tmp_path):
    samples = _samples_file(cli_run)
    lines = [json.loads(x) for x in samples.read_text().splitlines()]
    assert len(lines) == N
    ids = [json.loads(x)["sample_id"] for x in exported.docs_path.read_text().splitlines()]
    assert [x["tag_sample_id"] for x in lines] == [ids[x["doc_id"]] for x in lines]  # our process_results ran

    r = CliRunner().invoke(main, ["lmms-eval", "import", str(cli_run), "--out", str(tmp_path / "run"),
                                  "--au-reference", "none", "--n-resamples", "200", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    imported = json.loads((tmp_path / "run" / "metrics.json").read_text())

    preds = tmp_path / "preds.jsonl"
    texts = _texts_by_id(samples, exported.docs_path)
    preds.write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in texts.items()))
    r = CliRunner().invoke(main, ["score", "--task", "demo", "--predictions", str(preds), "--frame", "pixel",
                                  "--limit", str(N), "--au-reference", "none", "--out", str(tmp_path / "replay"),
                                  "--n-resamples", "200"])  # fmt: skip
    assert r.exit_code == 0, r.output
    replayed = json.loads((tmp_path / "replay" / "metrics.json").read_text())
    assert imported["metrics"] == replayed["metrics"]
    assert imported["status_counts"] == replayed["status_counts"] and imported["n"] == N

    # lmms-eval's own aggregate of our process_results is tag-bench's accuracy
    (results,) = cli_run.rglob("*_results.json")
    lmms_acc = json.loads(results.read_text())["results"]["tag_demo"]["tag_accuracy,none"]
    assert lmms_acc == pytest.approx(imported["metrics"]["accuracy"]["value"])

    generations = [json.loads(x) for x in (tmp_path / "run" / "generations.jsonl").read_text().splitlines()]
    assert {g["sample_id"]: g["text"] for g in generations} == texts
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    lmms = manifest["extra"]["lmms_eval"]
    assert lmms["config"]["model"] == "qwen2_5_vl" and lmms["version_installed"] == metadata.version(
        "lmms-eval"
    )
    assert lmms["tag_bench_export"]["prompt_hash"] == manifest["prompt_hash"]


def test_bridge_adapter_end_to_end(cli_run, exported, tiny_qwen, offline_env, tmp_path, monkeypatch):
    from tag_bench.generate.evaluate import evaluate

    for k in ("HF_HOME", "HF_DATASETS_OFFLINE", "WANDB_MODE"):
        monkeypatch.setenv(k, offline_env[k])
    args = f"model=qwen2_5_vl,pretrained={tiny_qwen},device=cpu,{QWEN_ARGS}"
    run = dict(data_root=None, limit=N, gen_kwargs={"max_new_tokens": MAX_NEW}, au_reference="none",
               box_frame="pixel", n_resamples=200, progress=False)  # fmt: skip
    cache = tmp_path / "cache.sqlite"
    # batch_size 2: two simple_evaluate calls on one model instance (lmms-eval's clean() must not bite)
    first = evaluate("demo", "lmms-eval", args, out=tmp_path / "a", batch_size=2, cache=cache, **run)
    assert first.stats.generated == N and first.stats.errors == 0
    generations = [json.loads(x) for x in (tmp_path / "a" / "generations.jsonl").read_text().splitlines()]
    bridge = {g["sample_id"]: g["text"] for g in generations}
    assert bridge == _texts_by_id(_samples_file(cli_run), exported.docs_path)  # what lmms-eval's CLI said
    assert all(g["output_tokens"] and g["frame"] == "pixel" for g in generations)
    manifest = first.manifest
    assert manifest.model.adapter == "lmms-eval" and manifest.model.frame == "pixel"
    assert manifest.model.args["lmms_eval"] == metadata.version("lmms-eval")

    again = evaluate("demo", "lmms-eval", args, out=tmp_path / "a", batch_size=2, cache=cache, **run)
    assert again.stats.skipped_done == N and again.stats.generated == 0  # resumed: nothing left to do
    cached = evaluate("demo", "lmms-eval", args, out=tmp_path / "b", batch_size=2, cache=cache, **run)
    assert cached.stats.from_cache == N
    assert cached.report.metrics["accuracy"] == first.report.metrics["accuracy"]


def test_bridge_frame_is_declared_per_family(tiny_qwen):
    from tag_bench.models.base import AdapterContext, get_model

    qwen = get_model("lmms-eval", f"model=qwen2_5_vl,pretrained={tiny_qwen}")
    assert qwen.frame == "pixel-resized" and any("pixel-resized" in w for w in qwen.warnings)
    assert get_model("lmms-eval", "model=qwen3_vl,pretrained=Org/none").frame == "norm1000"
    assert get_model("lmms-eval", "model=openai,model_version=gpt-4o").frame == "pixel"
    unknown = get_model("lmms-eval", "model=fuyu,pretrained=Org/none")
    assert unknown.frame == "pixel" and any("no known box convention" in w for w in unknown.warnings)
    override = get_model(
        "lmms-eval", f"model=qwen2_5_vl,pretrained={tiny_qwen}", AdapterContext(box_frame="norm1000")
    )
    assert override.frame == "norm1000" and not override.warnings
    assert (
        qwen.fingerprint()
        != get_model("lmms-eval", f"model=qwen2_5_vl,pretrained={tiny_qwen},batch_size=2").fingerprint()
    )
    assert "sk-x" not in json.dumps(get_model("lmms-eval", "model=openai,api_key=sk-x").describe())


def test_tag_hf_inside_lmms_eval_answers_like_tag_bench_run(exported, tiny_qwen, offline_env, tmp_path):
    from tag_bench.generate.evaluate import evaluate

    out = tmp_path / "lmms"
    out.mkdir()
    _lmms_eval(["--model", "tag_hf", "--model_args", f"pretrained={tiny_qwen},min_pixels=3136,max_pixels=50176",
                "--tasks", "tag_demo", "--include_path", str(exported.yaml_path.parent), "--batch_size", "1",
                "--device", "cpu", "--log_samples", "--output_path", str(out)], offline_env, out)  # fmt: skip
    inside = _texts_by_id(_samples_file(out), exported.docs_path)
    ours = evaluate("demo", "hf", f"pretrained={tiny_qwen},device_map=cpu,min_pixels=3136,max_pixels=50176",
                    limit=N, gen_kwargs={"max_new_tokens": MAX_NEW}, au_reference="none", box_frame="pixel",
                    out=tmp_path / "run", cache=False, n_resamples=0, progress=False)  # fmt: skip
    assert ours.stats.generated == N
    generations = [json.loads(x) for x in (tmp_path / "run" / "generations.jsonl").read_text().splitlines()]
    assert inside == {g["sample_id"]: g["text"] for g in generations}


REUSE_SCRIPT = """
import json, sys
from lmms_eval.evaluator import simple_evaluate
from lmms_eval.models import get_model, list_available_models
from lmms_eval.tasks import TaskManager
names = list_available_models()
assert {"tag_hf", "tag_openai", "tag_replay"} <= set(names), names
lm = get_model("tag_replay").create_from_arg_string(f"predictions={sys.argv[2]},frame=pixel", {})
accs = []
for _ in range(2):  # one instance, two evaluations: clean() must keep it usable
    tm = TaskManager(include_path=sys.argv[1], include_defaults=False)
    r = simple_evaluate(model=lm, tasks=["tag_demo"], task_manager=tm, bootstrap_iters=0, process_docs_parallel=1)
    accs.append(r["results"]["tag_demo"]["tag_accuracy,none"])
print(json.dumps(accs))
"""


def test_tag_replay_instance_survives_two_evaluations(exported, offline_env, tmp_path):
    rows = [json.loads(x) for x in exported.docs_path.read_text().splitlines()]
    preds = tmp_path / "preds.jsonl"  # the first sample right, the others wrong
    preds.write_text("".join(
        json.dumps({"id": r["sample_id"], "response": f"<answer>{r['label'] if i == 0 else 'fear' if r['label'] != 'fear' else 'anger'}</answer>"}) + "\n"
        for i, r in enumerate(rows)
    ))  # fmt: skip
    r = subprocess.run([sys.executable, "-c", REUSE_SCRIPT, str(exported.yaml_path.parent), str(preds)],
                       env=offline_env, cwd=tmp_path, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-4000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [pytest.approx(1 / N)] * 2
