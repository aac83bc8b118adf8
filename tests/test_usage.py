"""Usage metrics (latency, throughput, tokens, response length): one meaning of latency for every
adapter, the generate stage recorded in the manifest, cached generations keeping their cost, untimed
adapters not computed with the reason, informational in tables and in ``compare``.

Real parts: the openai adapter against the loopback chat server (a real HTTP server whose replies take a
known time), the built-in baselines on generated dataset fixtures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tag_bench import evaluate
from tag_bench._cli.main import main
from tag_bench.metrics.stats import quantile_interval
from tag_bench.report.compare import compare_runs
from tag_bench.report.compare_format import render_text
from tag_bench.report.leaderboard import leaderboard
from tag_bench.rundir import RunDir
from tag_bench.testing.chat_server import ChatServer

SERVER_LATENCY = 0.15  # seconds every reply of the chat server takes
CONCURRENCY = 2


def _evaluate(setup, server: ChatServer, out: Path, *, cache: object = False, limit: int = 12, **kw):
    tasks, root = setup
    args = {
        "model": "tiny-chat",
        "base_url": server.base_url,
        "api_key_env": "TB_KEY",
        "concurrency": CONCURRENCY,
    }
    return evaluate(
        "raf_train_small", "openai", args, data_root=root, tasks_dirs=[str(tasks)], au_reference="none",
        out=out, cache=cache, n_resamples=200, progress=False, limit=limit, **kw,
    )  # fmt: skip


@pytest.fixture
def setup(raf_train_tasks, raf_root, monkeypatch):
    monkeypatch.setenv("TB_KEY", "sk-test-usage")
    return raf_train_tasks, raf_root


@pytest.fixture
def timed_run(setup, tmp_path):
    with ChatServer(latency=SERVER_LATENCY) as server:
        return _evaluate(setup, server, tmp_path / "timed")


def test_latency_is_the_calls_time_amortised_over_the_samples_it_served(timed_run):
    run = RunDir(timed_run.run_dir)
    gens = list(run.read_generations().values())
    assert len(gens) == 12 and all(g.status == "ok" for g in gens)
    # two requests in flight, answered after SERVER_LATENCY each: a call of two takes at least that long
    # and each of its samples is charged half of it
    for g in gens:
        assert g.latency_s is not None and g.latency_s >= SERVER_LATENCY / CONCURRENCY - 1e-3
    per_call = [round(g.latency_s, 9) for g in gens]  # type: ignore[arg-type]
    assert all(per_call[i] == per_call[i + 1] for i in range(0, 12, 2))  # one value per call of two
    info = timed_run.manifest.generation
    assert info is not None and info.timed and info.batch_size == CONCURRENCY == info.concurrency
    assert info.device and "remote" in info.device and info.world_size == 1
    assert info.model_calls == 12 and info.cached == 0 and info.sessions == 1
    assert info.seconds >= 6 * SERVER_LATENCY - 1e-3  # six calls, one after the other


def test_usage_metrics_equal_their_definitions(timed_run):
    run = RunDir(timed_run.run_dir)
    gens = [g for g in run.read_generations().values()]
    m = timed_run.report.metrics
    lat = np.array([g.latency_s for g in gens])
    assert m["latency_mean_s"].value == pytest.approx(lat.mean()) and m["latency_mean_s"].n == 12
    assert m["latency_p95_s"].value == pytest.approx(np.sort(lat)[math.ceil(0.95 * 12) - 1])
    assert m["latency_p95_s"].ci_low is None  # 12 values cannot bound a 95th percentile at 95 %
    assert quantile_interval(lat, 0.95)[1] is None
    info = timed_run.manifest.generation
    assert (
        m["throughput_samples_s"].value == pytest.approx(12 / info.seconds)
        and m["throughput_samples_s"].n == 12
    )
    assert m["input_tokens_mean"].value == pytest.approx(np.mean([g.input_tokens for g in gens]))
    assert m["output_tokens_mean"].value == pytest.approx(np.mean([g.output_tokens for g in gens]))
    assert m["response_chars_mean"].value == pytest.approx(np.mean([len(g.text or "") for g in gens]))
    scored = run.read_scored()
    assert all(s.usage is not None and s.usage.latency_s is not None for s in scored)


def test_a_cached_generation_keeps_its_latency_and_the_manifest_counts_it(setup, tmp_path):
    cache = tmp_path / "gen_cache.sqlite"
    with ChatServer(latency=SERVER_LATENCY) as server:
        first = _evaluate(setup, server, tmp_path / "first", cache=cache)
        again = _evaluate(setup, server, tmp_path / "again", cache=cache)
        calls = len(server.requests)
    assert calls == 12  # the second run never reached the server
    a, b = RunDir(first.run_dir).read_generations(), RunDir(again.run_dir).read_generations()
    assert all(g.cached for g in b.values())
    assert {k: g.latency_s for k, g in a.items()} == {k: g.latency_s for k, g in b.items()}
    info = again.manifest.generation
    assert info is not None and info.cached == 12 and info.model_calls == 0
    assert again.report.metrics["latency_mean_s"].value == first.report.metrics["latency_mean_s"].value
    assert again.report.metrics["throughput_samples_s"].value is None
    assert "no sample was sent to the model" in again.report.not_computed["throughput_samples_s"]


def test_a_resumed_run_sums_the_stage_over_its_sessions(setup, tmp_path):
    with ChatServer(latency=0.01) as server:
        half = _evaluate(setup, server, tmp_path / "run", limit=6)
        whole = _evaluate(setup, server, tmp_path / "run")
    a, b = half.manifest.generation, whole.manifest.generation
    assert a is not None and b is not None and b.sessions == 2 and b.model_calls == 12
    assert b.seconds > a.seconds


@pytest.mark.parametrize("model", ["majority", "random"])
def test_untimed_adapters_get_no_latency_and_say_why(dataset_fixtures, tmp_path, model):
    r = evaluate("rafdb_basic_test", model, data_root=dataset_fixtures["raf_basic"], au_reference="none",
                 out=tmp_path / model, cache=False, n_resamples=0, progress=False)  # fmt: skip
    assert r.report is not None and r.manifest.generation is not None and not r.manifest.generation.timed
    for name in ("latency_mean_s", "latency_p95_s", "throughput_samples_s"):
        assert r.report.metrics[name].value is None
        assert f"the {model} adapter is not timed" in r.report.not_computed[name]
    for name in ("input_tokens_mean", "output_tokens_mean"):
        assert r.report.not_computed[name].startswith("no generation records")
    assert r.report.metrics["response_chars_mean"].value is not None  # the answer text exists


def test_replayed_predictions_are_not_timed(dataset_fixtures, tmp_path):
    from tag_bench.generate.predictions import score_predictions
    from tag_bench.tasks import load_task

    samples = load_task("rafdb_basic_test").load(dataset_fixtures["raf_basic"]).samples
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": s.id, "response": "<answer>happiness</answer>"}) + "\n" for s in samples)
    )
    r = score_predictions("rafdb_basic_test", preds, data_root=dataset_fixtures["raf_basic"], out=tmp_path / "replay",
                          au_reference="none", n_resamples=0, progress=False)  # fmt: skip
    assert r.report is not None and r.manifest.generation is None
    assert "nothing was timed" in r.report.not_computed["latency_mean_s"]
    assert r.report.metrics["response_chars_mean"].value == pytest.approx(len("<answer>happiness</answer>"))


def test_usage_table_shows_units_no_marks_and_the_hardware_note(setup, tmp_path):
    with ChatServer(latency=0.05) as server:
        fast = _evaluate(setup, server, tmp_path / "fast", name="fast")
    with ChatServer(latency=0.2) as server:
        slow = _evaluate(setup, server, tmp_path / "slow", name="slow")
    md = leaderboard([fast.run_dir, slow.run_dir], spec="usage").text
    assert "**" not in md.split("\n\n")[1]  # informational: no best marks
    assert "Latency (s)" in md and "measured on each run's own hardware" in md
    assert "Times in seconds" in md or "times in seconds" in md
    lat = f"{fast.report.metrics['latency_mean_s'].value:.3f}"
    assert lat in md
    # compare: shown with its difference, informational (no verdict, outside the Holm family)
    cmp = compare_runs(fast.run_dir, slow.run_dir, n_resamples=1000)
    row = next(m for m in cmp.rows() if m.metric == "latency_mean_s")
    assert row.verdict == "informational" and row.diff is not None and row.diff > 0 and row.p_holm is None
    assert cmp.exit_code == 0
    text = render_text(cmp)
    assert "latency_mean_s" in text and f"{row.diff:+.3f}" in text and "times in seconds" in text
    # a tolerance that names it gates it, in its own unit
    gated = compare_runs(fast.run_dir, slow.run_dir, max_drop={"latency_mean_s": 0.01}, n_resamples=1000)
    row = next(m for m in gated.rows() if m.metric == "latency_mean_s")
    assert row.gated and row.verdict == "regressed" and gated.exit_code == 1
    assert "max drop 0.010 s" in render_text(gated)
    lenient = compare_runs(fast.run_dir, slow.run_dir, max_drop={"latency_mean_s": 5.0}, n_resamples=1000)
    assert next(m for m in lenient.rows() if m.metric == "latency_mean_s").verdict == "within tolerance"


def test_compare_refuses_a_negative_tolerance_in_any_unit(setup, tmp_path):
    with ChatServer() as server:
        r = _evaluate(setup, server, tmp_path / "r")
    res = CliRunner().invoke(
        main, ["compare", str(r.run_dir), str(r.run_dir), "--max-drop", "latency_mean_s=-1"]
    )
    assert res.exit_code == 2 and "never negative" in res.output and "latency_mean_s=1?" in res.output
