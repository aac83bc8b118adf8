"""Task discovery (built-in folder, user folders, entry points, clashes) and tasks over the loaders."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from tag_bench.data.base import DATASETS
from tag_bench.tasks import Task, TaskError, builtin_tasks_dir, discover_tasks, load_task

BUILTIN = {
    "affectnet7_val",
    "affectnet8_val",
    "affectnet_val_common7",
    "demo",
    "ferplus_test",
    "ferplus_test_common7",
    "rafdb_basic_test",
    "rafdb_basic_test_common7",
}

USER_TASK = """\
name: ferplus_train_common7
dataset: ferplus
split: train
protocol: ferplus-majority-official
classes: [neutral, happiness, sadness, surprise, fear, disgust, anger]
loader: {protocol: majority, labels_source: fer2013new}
"""


@pytest.fixture(autouse=True)
def _no_env_tasks(monkeypatch):
    monkeypatch.delenv("TAG_BENCH_TASKS_DIR", raising=False)


def test_builtin_tasks(monkeypatch):
    tasks = discover_tasks()
    assert set(tasks) >= BUILTIN
    for name in BUILTIN:
        t = tasks[name]
        assert t.dataset in DATASETS
        assert str(builtin_tasks_dir()) in t.source


def test_user_folder_and_environment(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text(USER_TASK)
    assert "ferplus_train_common7" in discover_tasks([tmp_path])
    monkeypatch.setenv("TAG_BENCH_TASKS_DIR", str(tmp_path))
    assert discover_tasks()["ferplus_train_common7"].source.endswith("mine.yaml")
    assert load_task(str(tmp_path / "mine.yaml")).name == "ferplus_train_common7"


def _plugin(tmp_path, monkeypatch, module: str, body: str) -> None:
    dist = tmp_path / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[tag_bench.tasks]\nplugin_tasks = {module}:TASKS\n")
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()


def test_entry_point_tasks(tmp_path, monkeypatch):
    _plugin(
        tmp_path,
        monkeypatch,
        "tb_plugin_ok",
        """
        TASKS = [{"name": "plugin_rafdb", "dataset": "rafdb", "split": "train", "protocol": "rafdb-basic-7",
                  "classes": ["happiness", "sadness"]}]
        """,
    )
    tasks = discover_tasks()
    assert "plugin_rafdb" in tasks
    assert tasks["plugin_rafdb"].source == "entry point plugin_tasks (tb_plugin_ok:TASKS)"
    sys.modules.pop("tb_plugin_ok", None)


def test_entry_point_name_clash_is_an_error(tmp_path, monkeypatch):
    _plugin(
        tmp_path,
        monkeypatch,
        "tb_plugin_clash",
        """
        TASKS = {"name": "rafdb_basic_test", "dataset": "rafdb", "split": "test", "protocol": "x",
                 "classes": ["happiness", "sadness"]}
        """,
    )
    with pytest.raises(
        TaskError,
        match=r"'rafdb_basic_test' is registered twice: by .*rafdb_basic_test.yaml and by entry point",
    ):
        discover_tasks()
    sys.modules.pop("tb_plugin_clash", None)


def test_user_folder_clash_is_an_error(tmp_path):
    (tmp_path / "dup.yaml").write_text(USER_TASK.replace("ferplus_train_common7", "demo"))
    with pytest.raises(TaskError, match="'demo' is registered twice"):
        discover_tasks([tmp_path])


def test_tasks_over_fixture_data(dataset_fixtures):
    tasks = discover_tasks()
    raf = tasks["rafdb_basic_test_common7"].load(dataset_fixtures["raf_basic"])
    assert len(raf.samples) == 7 and raf.layout == "rafdb-official"
    assert raf.samples[0].label == "surprise"
    aff7 = tasks["affectnet7_val"].load(dataset_fixtures["affectnet_csv"])
    assert len(aff7.samples) == 14 and aff7.info["excluded_by_class_list"] == 0
    assert aff7.info["protocol"] == "affectnet-7"
    aff8 = tasks["affectnet8_val"].load(dataset_fixtures["affectnet_npy"], limit=5)
    assert len(aff8.samples) == 5
    fer = tasks["ferplus_test"].load(dataset_fixtures["ferplus"])
    assert fer.info["labels_source"] == "label.csv"
    assert tasks["ferplus_test"].info(fer).labels_source == "label.csv"
    assert tasks["ferplus_test"].info(fer).n_samples == 2


def test_class_list_filter_and_loader_options_from_yaml(dataset_fixtures, tmp_path):
    (tmp_path / "mine.yaml").write_text(USER_TASK)
    t = discover_tasks([tmp_path])["ferplus_train_common7"]
    data = t.load(dataset_fixtures["ferplus"])
    assert data.info["labels_source"] == "fer2013new.csv"  # from the task's loader options
    assert data.info["excluded_by_class_list"] == 1  # the contempt-majority image
    assert "contempt" not in {s.label for s in data.samples}
    # overrides beat the YAML's loader options
    assert t.load(dataset_fixtures["ferplus"], labels_source="label_csv").info["labels_source"] == "label.csv"


def test_demo_task(tmp_path, monkeypatch):
    monkeypatch.setenv("TAG_BENCH_CACHE", str(tmp_path))
    data = load_task("demo").load()
    assert {s.label for s in data.samples} <= set(load_task("demo").classes)
    assert len(data.samples) >= 2


def test_task_validation():
    with pytest.raises(ValueError, match="canonical emotion names"):
        Task(name="x", dataset="rafdb", split="test", protocol="p", classes=["happy", "sad"])
