"""`tag-bench score` (predictions from elsewhere, re-scoring), `run` errors, `models`, `leaderboard`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench import store
from tag_bench._cli.main import main

TRACE = """Global analysis: The face is relaxed.
Verification loop:
Inspect mouth corners → lip corners pulled up (AU12) → <bbox>[20,60,45,80]</bbox>
Final conclusion: AU12 indicates {label}.
<answer> {label} </answer>"""


def _write_predictions(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _ids(raf: Path) -> list[str]:
    from tag_bench.tasks import load_task

    return [s.id for s in load_task("rafdb_basic_test").load(raf).samples]


@pytest.fixture
def raf(dataset_fixtures) -> Path:
    return dataset_fixtures["raf_basic"]


def test_score_predictions_counts_missing_and_failures(raf, tmp_path):
    ids = _ids(raf)
    rows = [
        {"id": ids[0], "response": TRACE.format(label="surprise")},  # correct (RAF test_0001 = surprise)
        {"id": ids[1], "response": TRACE.format(label="happiness")},  # wrong
        {"id": ids[2], "response": "I cannot help with identifying emotions of people."},
        {"id": ids[3], "response": "Global analysis: the brows", "finish_reason": "length"},
        {"id": "rafdb/not_a_sample", "response": "<answer>fear</answer>"},
    ]  # ids[4:] missing
    preds = _write_predictions(tmp_path / "p.jsonl", rows)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["score", "--task", "rafdb_basic_test", "--data-root", str(raf),
                                  "--predictions", str(preds), "--frame", "pixel", "--au-reference", "none",
                                  "--out", str(out), "--n-resamples", "200", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads(r.output.strip().splitlines()[-1])
    assert report["n"] == 7
    counts = report["status_counts"]
    assert (
        counts["missing"] == 3 and counts["ok"] == 2 and counts["refusal"] == 1 and counts["truncated"] == 1
    )
    assert report["metrics"]["accuracy"]["value"] == pytest.approx(1 / 7)
    assert report["metrics"]["accuracy_parsed"]["value"] == pytest.approx(1 / 2)
    scored = {d["sample_id"]: d for d in store.iter_jsonl(out / "samples.jsonl")}
    assert len(scored) == 7 and scored[ids[6]]["status"] == "missing"
    # each answered image was read once for its size and its id, as the generate stage records them
    from tag_bench.images import image_sha256, presented_size
    from tag_bench.tasks import load_task

    samples = {s.id: s for s in load_task("rafdb_basic_test").load(raf).samples}
    gens = list(store.iter_jsonl(out / "generations.jsonl"))
    assert [g["sample_id"] for g in gens] == ids[:4]
    for g in gens:
        s = samples[g["sample_id"]]
        assert g["image_sha256"] == image_sha256(s) and tuple(g["image_size"]) == presented_size(s)


def test_score_requires_a_frame_and_never_guesses(raf, tmp_path):
    ids = _ids(raf)
    preds = _write_predictions(tmp_path / "p.jsonl", [{"id": ids[0], "response": TRACE.format(label="fear")}])
    r = CliRunner().invoke(main, ["score", "--task", "rafdb_basic_test", "--data-root", str(raf),
                                  "--predictions", str(preds), "--au-reference", "none", "--out", str(tmp_path / "o")])  # fmt: skip
    assert r.exit_code != 0
    assert "frame" in r.output and "never guesses" in r.output
    assert "Traceback" not in r.output


def test_malformed_predictions_file_is_a_clear_error(raf, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "response": "ok"}\n{not json\n')
    r = CliRunner().invoke(main, ["score", "--task", "rafdb_basic_test", "--data-root", str(raf),
                                  "--predictions", str(bad), "--frame", "pixel", "--out", str(tmp_path / "o")])  # fmt: skip
    assert r.exit_code != 0 and "bad.jsonl:2" in r.output and "Traceback" not in r.output


def test_rescoring_a_run_is_identical_and_can_drop_the_reference(raf, tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["run", "--model", "random", "--tasks", "rafdb_basic_test", "--data-root", str(raf),
                                  "--out", str(out), "--no-cache", "--n-resamples", "200", "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    before = json.loads((out / "metrics.json").read_text())
    r = CliRunner().invoke(main, ["score", str(out), "--n-resamples", "200"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text()) == before
    r = CliRunner().invoke(main, ["score", str(out), "--n-resamples", "200", "--au-reference", "none"])
    assert r.exit_code == 0, r.output
    after = json.loads((out / "metrics.json").read_text())
    assert after["metrics"]["accuracy"] == before["metrics"]["accuracy"]
    assert "au_box_iou" in after["not_computed"] and after["au_reference"] is None


def test_scoring_a_run_never_imports_torch(raf, tmp_path):
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["run", "--model", "random", "--tasks", "rafdb_basic_test", "--data-root", str(raf),
                                  "--out", str(out), "--no-cache", "--au-reference", "none", "--n-resamples", "200",
                                  "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    code = (
        "import sys\n"
        "from tag_bench._cli.main import main\n"
        f"main(['score', {str(out)!r}, '--n-resamples', '200'], standalone_mode=False)\n"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'lmms_eval', 'feat', 'mediapipe') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "import tag_bench\n"
        "print('clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "clean" in proc.stdout


def test_run_reports_user_errors_without_traceback(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["run", "--model", "nope", "--tasks", "demo"])
    assert r.exit_code != 0 and "unknown model adapter" in r.output
    r = runner.invoke(main, ["run", "--model", "random", "--tasks", "no_such_task"])
    assert r.exit_code != 0 and "unknown task" in r.output
    r = runner.invoke(
        main, ["run", "--model", "hf", "--model-args", "pretrained=/x,colour=blue", "--tasks", "demo"]
    )
    assert r.exit_code != 0 and "colour" in r.output
    for res in (r,):
        assert "Traceback" not in res.output


def test_models_lists_adapters_with_frames():
    r = CliRunner().invoke(main, ["models", "--json"])
    assert r.exit_code == 0, r.output
    adapters = {a["name"]: a for a in json.loads(r.output)["adapters"]}
    assert {"hf", "vllm", "openai", "replay", "facs-rules", "random", "majority"} <= set(adapters)
    assert "qwen2_5_vl=pixel-resized" in adapters["hf"]["frame"]


def test_leaderboard_markdown_and_latex(raf, tmp_path):
    runs = []
    for model in ("random", "majority"):
        out = tmp_path / model
        r = CliRunner().invoke(main, ["run", "--model", model, "--tasks", "rafdb_basic_test", "--data-root", str(raf),
                                      "--out", str(out), "--no-cache", "--au-reference", "none",
                                      "--n-resamples", "200", "--no-progress"])  # fmt: skip
        assert r.exit_code == 0, r.output
        runs.append(str(out))
    r = CliRunner().invoke(main, ["leaderboard", *runs])
    assert r.exit_code == 0, r.output
    assert (
        "| majority |" in r.stdout and "| random |" in r.stdout and "rafdb\\_basic\\_test<br>Acc." in r.stdout
    )
    tex = tmp_path / "t.tex"
    r = CliRunner().invoke(main, ["leaderboard", *runs, "--format", "latex", "-o", str(tex)])
    assert r.exit_code == 0, r.output
    text = tex.read_text()
    assert r"\begin{tabular}" in text and r"\textbf{" in text and "rafdb\\_basic\\_test" in text
