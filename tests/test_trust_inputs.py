"""Numbers users can trust (inputs): what users hand us is checked, reported and never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.tasks import load_task


def _cli(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def raf(dataset_fixtures) -> Path:
    return dataset_fixtures["raf_basic"]


def _score(raf: Path, preds: Path, out: Path, *extra: object):
    return _cli("score", "--task", "rafdb_basic_test", "--data-root", raf, "--predictions", preds,
                "--au-reference", "none", "--out", out, "--no-progress", *extra)  # fmt: skip


def test_unknown_prediction_ids_are_counted_with_a_suggestion(raf, tmp_path):
    ids = [s.id for s in load_task("rafdb_basic_test").load(raf).samples]
    lines = [{"id": ids[0], "response": "<answer>happiness</answer>"},
             {"id": ids[1].split("/", 1)[1], "response": "<answer>fear</answer>"},  # prefix left out
             {"id": "rafdb/test_9999", "response": "<answer>fear</answer>"}]  # fmt: skip
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = _score(raf, preds, tmp_path / "run")
    assert r.exit_code == 0, r.output
    assert f"2 of 3 prediction ids in {preds} are not samples of rafdb_basic_test and are ignored" in r.output
    assert f"did you mean '{ids[1]}'?" in r.output
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert any("are not samples of rafdb_basic_test" in w for w in manifest["warnings"])
    # none matching, or nothing at all: an error, not 0 %
    preds.write_text(json.dumps(lines[1]) + "\n")
    r = _score(raf, preds, tmp_path / "run2")
    assert r.exit_code == 1 and "none of the 1 ids" in r.output and f"did you mean '{ids[1]}'?" in r.output
    preds.write_text("\n")
    r = _score(raf, preds, tmp_path / "run3")
    assert r.exit_code == 1 and "holds no predictions" in r.output


def test_inspect_json_lists_every_sample(raf):
    n = len(load_task("rafdb_basic_test").load(raf).samples)
    r = _cli("inspect", "rafdb_basic_test", "--data-root", raf, "--json")
    assert len(r.stdout.strip().splitlines()) == n  # the table shows 10; JSON used to stop there too
    two = _cli("inspect", "rafdb_basic_test", "--data-root", raf, "--json", "--limit", "2")
    assert len(two.stdout.splitlines()) == 2


def test_predictions_are_utf8_with_or_without_a_bom_and_a_bad_line_is_named(raf, tmp_path):
    sid = load_task("rafdb_basic_test").load(raf).samples[0].id
    preds = tmp_path / "p.jsonl"
    preds.write_bytes(
        b"\xef\xbb\xbf" + json.dumps({"id": sid, "response": "<answer>joie</answer>"}).encode() + b"\n"
    )
    assert _score(raf, preds, tmp_path / "run").exit_code == 0
    preds.write_bytes(
        json.dumps({"id": sid, "response": "ok"}).encode() + b'\n{"id": "x", "response": "caf\xe9"}\n'
    )
    r = _score(raf, preds, tmp_path / "run2")
    assert (
        r.exit_code == 1
        and f"{preds}:2: line is not valid utf-8" in r.output
        and "save the file as UTF-8" in r.output
    )
    assert "Traceback" not in r.output


def test_a_frame_is_needed_only_when_a_box_must_be_converted(raf, tmp_path):
    ids = [s.id for s in load_task("rafdb_basic_test").load(raf).samples]
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": i, "response": "cheeks raised (AU6) <answer>happiness</answer>"}) + "\n"
                             for i in ids))  # fmt: skip
    r = _score(raf, preds, tmp_path / "run")  # no --frame: no box anywhere, nothing to convert
    assert r.exit_code == 0, r.output
    boxed = {"id": ids[3], "response": "AU12 <bbox>[30, 60, 70, 80]</bbox> <answer>happiness</answer>"}
    with preds.open("a") as f:
        f.write(json.dumps(boxed) + "\n")
    r = _score(raf, preds, tmp_path / "run2")
    assert r.exit_code == 1
    assert f"{preds}:{len(ids) + 1} (id '{ids[3]}') cites a box" in r.output and "--frame" in r.output
    assert _score(raf, preds, tmp_path / "run3", "--frame", "pixel").exit_code == 0


def test_a_corrupt_generation_cache_is_named_and_the_run_goes_on(raf, tmp_path):
    cache = tmp_path / "generations.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    out = tmp_path / "run"
    r = _cli("run", "--model", "random", "--tasks", "rafdb_basic_test", "--data-root", raf, "--out", out,
             "--au-reference", "none", "--cache", cache, "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"cache {cache} cannot be read" in r.output and f"mv '{cache}' '{cache}.broken'" in r.output
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert cache.read_bytes().startswith(b"this is not a database")  # the user's file is not touched


@pytest.mark.parametrize(
    ("damage", "named", "fix"),
    [
        ("samples", "samples.jsonl:", "re-score the run"),
        ("manifest", "manifest.json: not valid JSON", "manifest is damaged"),
        ("metrics", "metrics.json: not a MetricsReport record", "re-score the run"),
    ],
)
def test_a_damaged_run_file_is_named_with_the_fix(raf, tmp_path, damage, named, fix):
    samples = load_task("rafdb_basic_test").load(raf).samples
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": s.id, "response": "<answer> happy </answer>"}) + "\n" for s in samples)
    )
    run = tmp_path / "run"
    assert _score(raf, preds, run).exit_code == 0
    if damage == "samples":
        with open(run / "samples.jsonl", "a") as f:
            f.write('{"sample_id": "x"}\n')
        commands = [
            ("report", run, "-o", tmp_path / "r.html"),
            ("plot", run, "--kind", "iou-hist", "-o", tmp_path),
            ("compare", run, run),
        ]
    elif damage == "manifest":
        (run / "manifest.json").write_text('{"run_id":')
        commands = [("leaderboard", run), ("score", run)]
    else:
        (run / "metrics.json").write_text('{"n": 3}')
        commands = [("leaderboard", run), ("compare", run, run)]
    for args in commands:
        r = _cli(*args)
        assert r.exit_code != 0, (args, r.output)
        message = r.output.strip().splitlines()[-1]
        assert message.startswith("Error: ") and named in message and fix in message, (args, r.output)
