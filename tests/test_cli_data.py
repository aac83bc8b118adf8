"""``tag-bench tasks``, ``doctor`` and ``inspect`` on the generated fixtures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main

# variant -> (name, layout, {split: count}, has errors)
DOCTOR = {
    "raf_basic": ("rafdb", "rafdb-official", {"train": 14, "test": 7}, False),
    "raf_nobasic": ("rafdb", "rafdb-official", {"train": 14, "test": 7}, False),
    "raf_partition": ("rafdb", "rafdb-official", {"train": 14, "test": 7}, False),
    "raf_zip": ("rafdb", "rafdb-official", {}, True),
    "raf_kaggle": ("rafdb", "rafdb-kaggle", {"train": 14, "test": 7}, False),
    "raf_manet": ("folder", "folder-numeric", {}, True),
    "ferplus": ("ferplus", "ferplus-official", {"train": 3, "valid": 2, "test": 2}, False),
    "ferplus_csv": ("ferplus", "ferplus-csv", {"train": 3, "valid": 2, "test": 2}, False),
    "ferplus_icml": ("ferplus", "ferplus-csv", {"train": 3, "valid": 2, "test": 2}, False),
    "ferplus_repo": ("ferplus", "ferplus-csv", {"train": 3, "valid": 2, "test": 2}, False),
    "ferplus_esr": ("ferplus", "ferplus-esr", {"train": 3, "valid": 2, "test": 2}, False),
    "ferplus_traincsv": ("ferplus", "ferplus-official", {}, True),
    "fer2013_msambare": ("fer2013", "fer2013-folders", {"test": 7, "train": 14}, False),
    "affectnet_csv": ("affectnet", "affectnet-csv", {"train": 10, "val": 16}, False),
    "affectnet_csv_noheader": ("affectnet", "affectnet-csv", {"train": 10, "val": 16}, False),
    "affectnet_csv_nested": ("affectnet", "affectnet-csv", {"train": 10, "val": 16}, False),
    "affectnet_rar": ("affectnet", "affectnet-csv", {}, True),
    "affectnet_escape": ("affectnet", "affectnet-csv", {}, True),
    "affectnet_npy": ("affectnet", "affectnet-npy", {"train": 11, "val": 16}, False),
    "affectnet_yolo": ("affectnet", "affectnet-yolo", {"train": 8, "val": 8, "test": 4}, False),
    "affectnet_dan": ("folder", "folder-numeric", {}, True),
}


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("variant", sorted(DOCTOR))
def test_doctor_json_on_every_layout(dataset_fixtures, variant):
    result = run("doctor", "--data-root", str(dataset_fixtures[variant]), "--json")
    report = json.loads(result.stdout)
    assert list(report) == ["datasets"] and len(report["datasets"]) == 1
    (d,) = report["datasets"]
    assert list(d) == ["name", "layout", "root", "splits", "warnings", "errors"]
    name, layout, splits, has_errors = DOCTOR[variant]
    assert (d["name"], d["layout"], d["splits"]) == (name, layout, splits)
    assert bool(d["errors"]) == has_errors
    assert result.exit_code == (1 if has_errors else 0)


@pytest.mark.parametrize("variant", sorted(DOCTOR))
def test_doctor_human_on_every_layout(dataset_fixtures, variant):
    result = run("doctor", "--data-root", str(dataset_fixtures[variant]))
    name, layout, splits, has_errors = DOCTOR[variant]
    out = result.stdout
    assert f"{name}  [{layout}]" in out and "Found 1 dataset(s)." in out
    for split, n in splits.items():
        assert any(line.split()[:2] == [split, f"{n:,}"] for line in out.splitlines() if line.strip())
    assert ("problem:" in out) == has_errors
    assert "Traceback" not in out


def test_doctor_explains_problems_and_official_counts(dataset_fixtures):
    out = run("doctor", "--data-root", str(dataset_fixtures["raf_zip"])).stdout
    assert "unzip -q" in out and "aligned.zip" in out
    out = run("doctor", "--data-root", str(dataset_fixtures["raf_basic"])).stdout
    lines = [line.split() for line in out.splitlines()]
    assert ["test", "7", "3,068"] in lines and ["train", "14", "12,271"] in lines
    assert "warning: test: RAF-DB test: found 7 samples, but the official split has 3,068" in out
    out = run("doctor", "--data-root", str(dataset_fixtures["ferplus"])).stdout
    assert ["test", "2", "3,137"] in [line.split() for line in out.splitlines()]


def test_doctor_on_the_whole_fixture_tree(dataset_fixtures):
    root = dataset_fixtures["raf_basic"].parent
    result = run("doctor", "--data-root", str(root), "--json")
    report = json.loads(result.stdout)["datasets"]
    assert len(report) == len(DOCTOR) and result.exit_code == 1


def test_doctor_empty_and_missing_roots(tmp_path):
    result = run("doctor", "--data-root", str(tmp_path))
    assert result.exit_code == 1 and "No dataset found" in result.stdout
    result = run("doctor", "--data-root", str(tmp_path), "--json")
    assert json.loads(result.stdout) == {"datasets": []} and result.exit_code == 1
    result = run("doctor", "--data-root", str(tmp_path / "nope"))
    assert result.exit_code == 1 and "does not exist" in result.stderr and "Traceback" not in result.output
    result = run("doctor", env={"TAG_BENCH_DATA": ""})
    assert result.exit_code == 2 and "--data-root" in result.stderr


def test_doctor_reads_data_root_from_environment(dataset_fixtures):
    result = run("doctor", "--json", env={"TAG_BENCH_DATA": str(dataset_fixtures["affectnet_npy"])})
    assert json.loads(result.stdout)["datasets"][0]["splits"] == {"train": 11, "val": 16}


def test_tasks_without_data(monkeypatch, tmp_path):
    monkeypatch.delenv("TAG_BENCH_DATA", raising=False)
    monkeypatch.setenv("TAG_BENCH_CACHE", str(tmp_path))
    result = run("tasks")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TASK", "DATASET", "SPLIT", "CLASSES", "N"]
    assert any(line.startswith("rafdb_basic_test ") and line.rstrip().endswith("- [1]") for line in lines)
    assert any(line.startswith("demo ") and line.rstrip().endswith(" 6") for line in lines)
    assert "[1] no --data-root given" in result.stdout


def test_tasks_json_with_data_and_user_folder(dataset_fixtures, tmp_path, monkeypatch):
    monkeypatch.setenv("TAG_BENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "extra.yaml").write_text(
        "name: raf_train_pos\ndataset: rafdb\nsplit: train\nprotocol: rafdb-basic-7\nclasses: [happiness, surprise]\n"
    )
    result = run("tasks", "--data-root", str(dataset_fixtures["raf_basic"]), "--tasks-dir", str(tmp_path / "t"),
                 "--json")  # fmt: skip
    tasks = {t["name"]: t for t in json.loads(result.stdout)["tasks"]}
    assert tasks["rafdb_basic_test"]["n"] == 7 and tasks["rafdb_basic_test"]["layout"] == "rafdb-official"
    assert tasks["raf_train_pos"]["n"] == 4  # 2 happiness + 2 surprise of 14
    assert (
        tasks["ferplus_test"]["n"] is None and "no FERPlus dataset found" in tasks["ferplus_test"]["why_not"]
    )
    assert tasks["rafdb_basic_test"]["classes"][0] == "surprise"


def test_inspect_json_lines(dataset_fixtures):
    result = run("inspect", "affectnet7_val", "--data-root", str(dataset_fixtures["affectnet_csv"]), "--limit", "4",
                 "--json")  # fmt: skip
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4 and all(list(r) == ["id", "image", "label", "native_label"] for r in rows)
    assert rows[0]["label"] == "neutral" and rows[0]["native_label"] == 0
    assert "official split has 3,500" in result.stderr


def test_inspect_table_and_options(dataset_fixtures):
    result = run("inspect", "ferplus_test", "--data-root", str(dataset_fixtures["ferplus"]), "--option",
                 "labels_source=fer2013new", "--option", "protocol=crossentropy")  # fmt: skip
    out = result.stdout
    assert result.exit_code == 0
    assert out.splitlines()[0].startswith("Task ferplus_test: ferplus test")
    assert "Loader protocol ferplus-crossentropy" in out
    assert "ferplus/test/fer0000016  sadness" in out  # fer2013new votes
    csv = run(
        "inspect", "ferplus_test", "--data-root", str(dataset_fixtures["ferplus_csv"]), "--limit", "1"
    ).stdout
    assert "fer2013.csv [row 14]" in csv


def test_inspect_class_order(dataset_fixtures):
    root = str(dataset_fixtures["raf_manet"])
    bad = run("inspect", "rafdb_basic_test", "--data-root", root)
    assert bad.exit_code == 1 and "--class-order" in bad.stderr and "Traceback" not in bad.output
    good = run("inspect", "rafdb_basic_test", "--data-root", root, "--class-order", "affectnet", "--json")
    rows = [json.loads(line) for line in good.stdout.splitlines()]
    assert {r["id"]: r["label"] for r in rows}["rafdb/test_0001"] == "surprise"


def test_inspect_errors_are_clean(dataset_fixtures, tmp_path):
    result = run("inspect", "no_such_task")
    assert result.exit_code == 1 and "unknown task 'no_such_task'" in result.stderr
    result = run(
        "inspect", "rafdb_basic_test", "--data-root", str(dataset_fixtures["raf_basic"]), "--option", "x"
    )
    assert result.exit_code == 2 and "expected key=value" in result.stderr
    result = run("inspect", "rafdb_basic_test", "--data-root", str(dataset_fixtures["raf_basic"]), "--option",
                 "colour=red")  # fmt: skip
    assert result.exit_code == 1 and "unknown RAF-DB loader option(s): colour" in result.stderr
    assert "Traceback" not in result.output


def test_command_module_is_light():
    code = (
        "import sys, tag_bench._cli.data; print([m for m in ('tag_bench.data.rafdb', 'tag_bench.data.detect', "
        "'PIL', 'torch', 'transformers', 'mediapipe', 'pandas', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_console_script_runs(dataset_fixtures):
    exe = subprocess.run([sys.executable, "-m", "tag_bench", "doctor", "--data-root",
                          str(dataset_fixtures["raf_zip"])], capture_output=True, text=True)  # fmt: skip
    assert exe.returncode == 1 and "problem:" in exe.stdout and "Traceback" not in exe.stderr
