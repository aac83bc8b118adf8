"""Issue 18, run side: outputs that looked valid and were not. Each test reproduces one red-team case.

Whole `tag-bench run` / `tag-bench score` processes (subprocess or click's CliRunner), the loopback chat
server for servers that fail, generated dataset fixtures.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.testing.chat_server import ChatServer, Fault


def _cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "TB_KEY": "sk-test-secret-0123456789", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
            **extra}  # fmt: skip


def _openai_run(tasks: Path, root: Path, base_url: str, out: Path, *extra: str) -> list[str]:
    args = f"model=tiny-chat,base_url={base_url},api_key_env=TB_KEY,backoff=0.01,max_retries=1,timeout=5"
    return [sys.executable, "-m", "tag_bench", "run", "--model", "openai", "--model-args", args,
            "--tasks", "raf_train_small", "--tasks-dir", str(tasks), "--data-root", str(root),
            "--au-reference", "none", "--no-cache", "--n-resamples", "0", "--no-progress", "--out", str(out),
            *extra]  # fmt: skip


def _manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"  # nothing listens there any more


# --------------------------------------------------------------------------------------------------
# 1. Failed runs look complete


def test_a_run_against_a_server_that_is_down_is_marked_failed(raf_train_tasks, raf_root, tmp_path):
    out = tmp_path / "run"
    p = subprocess.run(_openai_run(raf_train_tasks, raf_root, _closed_port_url(), out), env=_env(),
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    assert "every one of the 14 samples failed" in p.stderr and "Traceback" not in p.stderr
    assert "FAILED run: 14 of 14 samples failed" in p.stdout and "INCOMPLETE" not in p.stdout
    manifest = _manifest(out)
    assert manifest["status"] == "failed"
    assert "every one of the 14 samples failed" in manifest["status_reason"]
    # still scored, the failures in the denominator
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 14 and metrics["status_counts"]["error"] == 14
    assert metrics["metrics"]["accuracy"]["value"] == 0.0 and metrics["run_status"] == "failed"


def test_a_run_whose_server_answers_500_every_time_is_marked_failed(raf_train_tasks, raf_root, tmp_path):
    with ChatServer() as server:
        server.add_fault(Fault.error(500, message="internal error"), times=None)
        out = tmp_path / "run"
        p = subprocess.run(_openai_run(raf_train_tasks, raf_root, server.base_url, out), env=_env(),
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    assert _manifest(out)["status"] == "failed"
    assert json.loads((out / "metrics.json").read_text())["metrics"]["error_rate"]["value"] == 1.0
    # the leaderboard used to show it as a plain 0.0 row: it is refused, or flagged when allowed
    board = subprocess.run([sys.executable, "-m", "tag_bench", "leaderboard", str(out), "--spec", "main"],
                           env=_env(), capture_output=True, text=True)  # fmt: skip
    assert board.returncode == 1 and "is a failed run (every one of the 14 samples failed" in board.stderr
    assert "--allow-failed" in board.stderr
    board = subprocess.run([sys.executable, "-m", "tag_bench", "leaderboard", str(out), "--spec", "overview",
                            "--allow-failed"], env=_env(), capture_output=True, text=True)  # fmt: skip
    assert board.returncode == 0, board.stderr
    row = next(line for line in board.stdout.splitlines() if line.startswith("| tiny-chat"))
    assert "✗" in row and "✗ failed run" in board.stdout


def test_max_error_rate_marks_the_run_failed_and_a_tolerated_one_complete(
    raf_train_tasks, raf_root, tmp_path
):
    with ChatServer() as server:
        server.add_fault(Fault.error(400, message="unsupported image"), times=3)  # 3 of 14 samples fail
        strict = tmp_path / "strict"
        p = subprocess.run(_openai_run(raf_train_tasks, raf_root, server.base_url, strict, "--max-error-rate", "0.1"),
                           env=_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
        assert p.returncode == 1, p.stdout + p.stderr
        assert "3 of 14 samples failed (21.4% > --max-error-rate 0.1)" in p.stderr
        assert _manifest(strict)["status"] == "failed"
        assert "3 of 14 samples failed" in _manifest(strict)["status_reason"]
        server.add_fault(Fault.error(400, message="unsupported image"), times=3)
        lenient = tmp_path / "lenient"
        p = subprocess.run(_openai_run(raf_train_tasks, raf_root, server.base_url, lenient, "--max-error-rate", "0.5"),
                           env=_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert _manifest(lenient)["status"] == "complete" and _manifest(lenient)["status_reason"] is None


def test_evaluate_marks_a_run_whose_every_call_failed_failed(
    raf_train_tasks, raf_root, tmp_path, monkeypatch
):
    import tag_bench

    monkeypatch.setenv("TB_KEY", "sk-test")
    args = f"model=tiny-chat,base_url={_closed_port_url()},api_key_env=TB_KEY,backoff=0.01,max_retries=0"
    result = tag_bench.evaluate("raf_train_small", "openai", args, data_root=raf_root, out=tmp_path / "run",
                                tasks_dirs=[str(raf_train_tasks)], au_reference="none", cache=False,
                                n_resamples=0, progress=False)  # fmt: skip
    assert result.manifest.status == "failed" and "every one of the 14" in (
        result.manifest.status_reason or ""
    )
    assert result.report is not None and result.report.run_status == "failed"
    assert _manifest(tmp_path / "run")["status"] == "failed"
    # resumed and accepted: the same run becomes complete
    again = tag_bench.evaluate("raf_train_small", "openai", args, data_root=raf_root, out=tmp_path / "run",
                               tasks_dirs=[str(raf_train_tasks)], au_reference="none", cache=False,
                               n_resamples=0, progress=False, max_error_rate=1.0)  # fmt: skip
    assert again.manifest.status == "complete" and again.manifest.status_reason is None


def test_an_lmms_eval_worker_whose_model_fails_to_load_marks_the_run_failed(tmp_path):
    pytest.importorskip("lmms_eval", reason="the lmms extra is not installed")
    from tag_bench.generate.evaluate import evaluate

    result = evaluate("demo", "lmms-eval", "model=no_such_lmms_model", out=tmp_path / "run", limit=2, batch_size=2,
                      au_reference="none", cache=False, n_resamples=0, progress=False)  # fmt: skip
    assert result.report is not None and result.report.status_counts["error"] == 2
    assert result.manifest.status == "failed" and _manifest(tmp_path / "run")["status"] == "failed"
    assert "every one of the 2 samples failed" in (result.manifest.status_reason or "")


# --------------------------------------------------------------------------------------------------
# 2. Interrupted scoring is marked running


_SIGINT_AT = """
import os, signal, importlib
module, name = os.environ["TB_SIGINT_AT"].rsplit(":", 1)
mod = importlib.import_module(module)
real = getattr(mod, name)
def interrupted(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered at this boundary
    return real(*args, **kwargs)
setattr(mod, name, interrupted)
"""


@pytest.mark.parametrize(
    "boundary",
    [
        "tag_bench.generate.predictions:presented_sizes_and_ids",  # while the predictions are written
        "tag_bench.scoring.run:score_arrays",  # while they are scored
    ],
)
def test_ctrl_c_during_score_predictions_marks_the_run_interrupted(dataset_fixtures, tmp_path, boundary):
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent(_SIGINT_AT))
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": f"rafdb/test_{i:04d}", "response": "<answer>happiness</answer>"}) + "\n"
                             for i in range(1, 8)))  # fmt: skip
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "tag_bench", "score", "--task", "rafdb_basic_test", "--data-root",
           str(dataset_fixtures["raf_basic"]), "--predictions", str(preds), "--au-reference", "none",
           "--out", str(out), "--no-progress"]  # fmt: skip
    path = os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])
    p = subprocess.run(cmd, env=_env(PYTHONPATH=path, TB_SIGINT_AT=boundary), capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert p.returncode == 130, p.stdout + p.stderr
    assert "run the same command again" in p.stderr
    manifest = _manifest(out)
    assert manifest["status"] == "interrupted" and "run the same command again" in manifest["status_reason"]
    assert not (out / "metrics.json").exists()
    # a reader's hint is the original command, never `tag-bench score DIR` (every sample missing)
    r = _cli("leaderboard", out)
    assert r.exit_code == 1
    assert (
        "status is interrupted" in r.output
        and f"`cd {os.getcwd()} && tag-bench score --task rafdb_basic_test" in r.output
    )
    assert f"run `tag-bench score {out}`" not in r.output
    # and the same command finishes it
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert _manifest(out)["status"] == "complete" and _manifest(out)["status_reason"] is None
    assert json.loads((out / "metrics.json").read_text())["status_counts"]["ok"] == 7


# --------------------------------------------------------------------------------------------------
# 3. Runs vanish behind a nested run


def _baseline(out_flag: str, where: Path, tasks: str, root: Path, *extra: object):
    return _cli("run", "--model", "majority", "--tasks", tasks, "--data-root", root, out_flag, where,
                "--au-reference", "none", "--no-cache", "--no-progress", "--n-resamples", "0", *extra)  # fmt: skip


def test_a_run_over_two_earlier_runs_is_refused(dataset_fixtures, tmp_path):
    root, x = dataset_fixtures["raf_basic"], tmp_path / "X"
    r = _baseline("--out-dir", x, "rafdb_basic_test,rafdb_basic_test_common7", root)
    assert r.exit_code == 0, r.output
    assert (x / "rafdb_basic_test" / "metrics.json").exists()
    assert (x / "rafdb_basic_test_common7" / "metrics.json").exists()
    r = _baseline("--out", x, "rafdb_basic_test", root)
    assert r.exit_code == 1
    assert f"{x} holds the run directory {x / 'rafdb_basic_test'}" in r.output and "Traceback" not in r.output
    assert not (x / "manifest.json").exists()
    # nor inside one
    r = _baseline("--out", x / "rafdb_basic_test" / "inner", "rafdb_basic_test", root)
    assert r.exit_code == 1 and f"lies inside the run directory {x / 'rafdb_basic_test'}" in r.output
    assert not (x / "rafdb_basic_test" / "inner").exists()
    # both earlier runs are still in every table
    lb = _cli("leaderboard", x)
    assert lb.exit_code == 0, lb.output
    assert (
        "rafdb\\_basic\\_test<br>Acc." in lb.output and "rafdb\\_basic\\_test\\_common7<br>Acc." in lb.output
    )


def test_out_with_several_tasks_says_what_changed(dataset_fixtures, tmp_path):
    x = tmp_path / "X"
    r = _baseline("--out", x, "rafdb_basic_test,rafdb_basic_test_common7", dataset_fixtures["raf_basic"])
    assert r.exit_code == 2
    assert "--out is the run directory of one task" in r.output and f"--out-dir {x}" in r.output
    assert "what --out used to mean" in r.output and not x.exists()


def test_discovery_reports_a_run_below_another_run(dataset_fixtures, tmp_path):
    root = dataset_fixtures["raf_basic"]
    a, b = tmp_path / "runs" / "a", tmp_path / "b"
    assert _baseline("--out", a, "rafdb_basic_test", root).exit_code == 0
    assert _baseline("--out", b, "rafdb_basic_test_common7", root).exit_code == 0
    shutil.move(str(b), str(a / "b"))  # as an older tag-bench let it happen
    for cmd in (("leaderboard", tmp_path / "runs"), ("leaderboard", a), ("report", tmp_path / "runs", "-o",
                                                                         tmp_path / "r.html")):  # fmt: skip
        r = _cli(*cmd)
        assert r.exit_code == 1, r.output
        assert f"{a / 'b'} is a run directory inside the run directory {a}" in r.output
    r = _cli("leaderboard", a / "b")  # a path given inside a run directory
    assert r.exit_code == 1 and f"inside the run directory {a}" in r.output


# --------------------------------------------------------------------------------------------------
# 4. Work before a typo is caught


def test_an_unknown_task_after_a_known_one_stops_before_anything_runs(dataset_fixtures, tmp_path):
    out = tmp_path / "runs"
    r = _baseline("--out-dir", out, "rafdb_basic_test,nope", dataset_fixtures["raf_basic"])
    assert r.exit_code == 1 and "unknown task 'nope'" in r.output
    assert not out.exists()


def test_an_empty_task_list_is_a_usage_error(dataset_fixtures, tmp_path):
    r = _baseline("--out-dir", tmp_path / "runs", ",", dataset_fixtures["raf_basic"])
    assert r.exit_code == 2 and "names no task" in r.output


def test_a_missing_comma_in_model_args_is_refused_before_any_request(raf_train_tasks, raf_root, tmp_path):
    with ChatServer() as server:
        args = f"model=tiny-chat base_url={server.base_url},api_key_env=TB_KEY"
        r = subprocess.run([sys.executable, "-m", "tag_bench", "run", "--model", "openai", "--model-args", args,
                            "--tasks", "raf_train_small", "--tasks-dir", str(raf_train_tasks), "--data-root",
                            str(raf_root), "--out", str(tmp_path / "run"), "--no-progress"],
                           env=_env(OPENAI_API_KEY="sk-must-not-be-used"), capture_output=True, text=True,
                           timeout=60)  # fmt: skip
        assert server.requests == []
    assert r.returncode == 2, r.stderr
    assert (
        "'base_url=' after a space" in r.stderr and f"model=tiny-chat,base_url={server.base_url}" in r.stderr
    )
    assert not (tmp_path / "run").exists()


def test_missing_commas_are_refused_in_every_key_value_option():
    from tag_bench.generate.evaluate import normalise_gen_kwargs
    from tag_bench.options import OptionError, parse_kv, parse_pairs
    from tag_bench.rundir import RunConfigError

    with pytest.raises(RunConfigError, match=r"--gen-kwargs: .*separate the pairs with a comma: "
                                             r"max_new_tokens=64,temperature=0"):  # fmt: skip
        normalise_gen_kwargs("max_new_tokens=64 temperature=0")
    with pytest.raises(
        OptionError, match=r"give each KEY=VALUE on its own: protocol=majority and labels_source"
    ):
        parse_pairs(["protocol=majority labels_source=fer2013new"])
    with pytest.raises(OptionError, match="separate the pairs with a comma"):
        parse_kv("accuracy=0.02 macro_f1=0.01")  # compare --max-drop
    # a local path with spaces is one value; so are spaces inside a JSON value
    assert parse_kv("pretrained=/data/my models/qwen,dtype=bfloat16") == {
        "pretrained": "/data/my models/qwen", "dtype": "bfloat16"}  # fmt: skip
    assert parse_kv('stop=["a b=c"]') == {"stop": ["a b=c"]}


# --------------------------------------------------------------------------------------------------
# 5. FERPlus: the published protocol's labels file


def _plurality8(votes: list[int]) -> str:
    from tag_bench.data._common import FERPLUS_ORDER

    return FERPLUS_ORDER[max(range(8), key=lambda i: (votes[i], -i))]  # the first argmax of the 8 emotions


def test_plurality8_all_reads_fer2013new_when_label_csv_disagrees(tmp_path):
    from tag_bench.tasks import load_task
    from tag_bench.testing.fixtures import FERPLUS_ROWS, FaceBank, write_ferplus_official

    # label.csv disagrees with fer2013new.csv on three test images, each in its plurality label
    disagree = {"fer0000014.png": [0, 0, 0, 0, 0, 0, 0, 9, 1, 0], "fer0000016.png": [0, 8, 1, 0, 1, 0, 0, 0, 0, 0],
                "fer0000018.png": [0, 0, 9, 0, 0, 0, 1, 0, 0, 0]}  # fmt: skip
    root = write_ferplus_official(tmp_path / "FERPlus", FaceBank(0, "procedural"), disagree)
    published = {name: _plurality8(v) for usage, name, v in FERPLUS_ROWS if usage == "PrivateTest" and name}
    from_label_csv = {n: _plurality8(v) for n, v in disagree.items()}
    assert all(published[n] != from_label_csv[n] for n in disagree)  # the fixture really disagrees

    task = load_task("ferplus_test_plurality8_all")
    data = task.load(root)
    assert {s.meta["file"]: s.label for s in data.samples} == published
    assert data.info["labels_source"] == "fer2013new.csv" and data.info["label_file"].endswith(
        "fer2013new.csv"
    )
    # the other FERPlus tasks keep the official label.csv
    assert load_task("ferplus_test").load(root).info["labels_source"] == "label.csv"
    # the run says which file it read, and scores against the published labels
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": s.id, "response": f"<answer>{s.label}</answer>"}) + "\n"
                             for s in data.samples))  # fmt: skip
    r = _cli("score", "--task", "ferplus_test_plurality8_all", "--data-root", root, "--predictions", preds,
             "--au-reference", "none", "--out", tmp_path / "run", "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    manifest = _manifest(tmp_path / "run")
    assert manifest["task"]["labels_source"] == "fer2013new.csv" and manifest["task"]["version"] == 2
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["metrics"]["accuracy"]["value"] == 1.0


def test_plurality8_all_without_fer2013new_reads_label_csv_and_says_so(dataset_fixtures):
    from tag_bench.tasks import load_task

    data = load_task("ferplus_test_plurality8_all").load(dataset_fixtures["ferplus_esr"])  # label.csv only
    assert data.info["labels_source"] == "label.csv"
    assert any("takes its labels from fer2013new.csv" in w and "not comparable" in w for w in data.warnings)


def test_the_readme_labels_source_example_works_or_says_what_to_fix(dataset_fixtures):
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "--option labels_source=fer2013new" not in readme.split("# FERPlus:", 1)[1].split("\n")[1]
    for layout in ("ferplus", "ferplus_csv"):  # label.csv + fer2013new.csv, and fer2013.csv + fer2013new.csv
        r = _cli("inspect", "ferplus_test", "--data-root", dataset_fixtures[layout], "--limit", 3,
                 "--option", "labels_source=fer2013new")  # fmt: skip
        assert r.exit_code == 0, r.output
    r = _cli("inspect", "ferplus_test", "--data-root", dataset_fixtures["ferplus_esr"], "--limit", 3,
             "--option", "labels_source=fer2013new")  # fmt: skip
    assert r.exit_code == 1
    assert (
        "labels_source=fer2013new but no fer2013new.csv under" in r.output and "drop the option" in r.output
    )


# --------------------------------------------------------------------------------------------------
# 7. Unclear messages


def test_a_local_checkpoint_path_that_does_not_exist_is_named(tmp_path):
    for model, args in (("hf", "pretrained=/nonexistent"), ("vllm", "model=./my models/qwen"),
                        ("hf", f"pretrained={tmp_path}/ckpt/qwen-7b")):  # fmt: skip
        r = _cli("run", "--model", model, "--model-args", args, "--tasks", "demo", "--out", tmp_path / "run",
                 "--no-progress")  # fmt: skip
        assert r.exit_code == 1, r.output
        assert "does not exist" in r.output and "local path" in r.output and "repo id" not in r.output.lower()
        assert len(r.output.strip().splitlines()) == 1
    from tag_bench.models._identity import check_checkpoint

    assert check_checkpoint("Qwen/Qwen2.5-VL-7B-Instruct") == "Qwen/Qwen2.5-VL-7B-Instruct"  # a hub id
    assert check_checkpoint(str(tmp_path)) == str(tmp_path)


def _score_predictions(dataset_fixtures, preds: str | Path, out: Path, **kw):
    return subprocess.run([sys.executable, "-m", "tag_bench", "score", "--task", "rafdb_basic_test", "--data-root",
                           str(dataset_fixtures["raf_basic"]), "--predictions", str(preds), "--au-reference", "none",
                           "--out", str(out), "--no-progress"], env=_env(), capture_output=True, text=True,
                          timeout=60, **kw)  # fmt: skip


def test_predictions_from_stdin_must_be_a_regular_file(dataset_fixtures, tmp_path):
    line = json.dumps({"id": "rafdb/test_0001", "response": "<answer>happiness</answer>"}) + "\n"
    p = _score_predictions(dataset_fixtures, "/dev/stdin", tmp_path / "run", input=line)
    assert p.returncode == 1
    assert "/dev/stdin is not a regular file" in p.stderr and "save them to a .jsonl file first" in p.stderr
    assert "not found" not in p.stderr and not (tmp_path / "run").exists()


def test_a_json_array_of_predictions_says_json_lines(dataset_fixtures, tmp_path):
    preds = tmp_path / "p.json"
    preds.write_text("\n  " + json.dumps([{"id": "rafdb/test_0001", "response": "<answer>happiness</answer>"}],
                                         indent=2))  # fmt: skip
    p = _score_predictions(dataset_fixtures, preds, tmp_path / "run")
    assert p.returncode == 1
    assert "holds a JSON array; predictions must be JSON Lines, one object per line" in p.stderr
    assert "needs an 'id'" not in p.stderr


def test_non_utf8_bytes_in_samples_jsonl_name_the_file_and_line(dataset_fixtures, tmp_path):
    run = tmp_path / "run"
    assert _baseline("--out", run, "rafdb_basic_test", dataset_fixtures["raf_basic"]).exit_code == 0
    lines = (run / "samples.jsonl").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"sample_id"', b'"sample_\xff\xfeid"', 1)
    (run / "samples.jsonl").write_bytes(b"\n".join(lines))
    from tag_bench.rundir import RunDir, RunDirError

    with pytest.raises(RunDirError, match=r"samples.jsonl:3: not UTF-8 text \(byte 0xff at column \d+\)"):
        RunDir(run).read_scored()
    r = _cli("compare", run, run)
    assert r.exit_code != 0 and f"{run / 'samples.jsonl'}:3: not UTF-8 text" in r.output


def _jsonl_reference(path: Path, ids: list[str], name: str) -> Path:
    from tag_bench.schema import AUReference, AUState

    path.write_text("".join(AUReference(reference_id=f"{name}@1", detector=name, version="1", status="ok",
                                        sample_id=i, aus={"AU12": AUState(score=0.9, active=True)}).model_dump_json()
                            + "\n" for i in ids))  # fmt: skip
    return path


def test_au_agree_with_references_of_other_samples_is_an_error(dataset_fixtures, tmp_path):
    root = dataset_fixtures["raf_basic"]
    ids = [f"rafdb/test_{i:04d}" for i in range(1, 8)]
    good = _jsonl_reference(tmp_path / "good.jsonl", ids, "good")
    other = _jsonl_reference(tmp_path / "other.jsonl", ["img_001.jpg", "img_002.jpg"], "other")
    r = _cli(
        "au", "agree", "--task", "rafdb_basic_test", "--data-root", root, "--au-reference", f"{good},{other}"
    )
    assert r.exit_code == 1
    assert f"no sample of rafdb_basic_test has a record in {other}" in r.output
    assert "'img_001.jpg'" in r.output and "'rafdb/test_0001'" in r.output
    again = _jsonl_reference(tmp_path / "again.jsonl", ids, "again")
    ok = _cli(
        "au", "agree", "--task", "rafdb_basic_test", "--data-root", root, "--au-reference", f"{good},{again}"
    )
    assert ok.exit_code == 0, ok.output


def test_au_validate_refuses_unknown_aus_and_paths_outside_images(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (8, 8)).save(images / "a.png")
    (tmp_path / "secret.png").write_bytes(b"")
    ref = _jsonl_reference(tmp_path / "ref.jsonl", ["a.png"], "hand")
    labels = tmp_path / "labels.csv"
    for text, why in (("image,AU12,AU99\na.png,1,0\n", "unknown AU code(s) 'AU99'"),
                      ("image,AU12\n../secret.png,1\n", "image '../secret.png' lies outside --images"),
                      (f"image,AU12\n{tmp_path / 'secret.png'},1\n", "lies outside --images")):  # fmt: skip
        labels.write_text(text)
        r = _cli("au", "validate", "--labels", labels, "--images", images, "--au-reference", ref)
        assert r.exit_code == 1 and why in r.output, r.output
    labels.write_text("image,AU12\na.png,1\n")
    assert (
        _cli("au", "validate", "--labels", labels, "--images", images, "--au-reference", ref).exit_code == 0
    )
