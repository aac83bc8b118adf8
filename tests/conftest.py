"""Session-wide test set-up: offline hubs, an isolated cache, shared generated fixtures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Caches (generations, AU references, demo images) go to a per-session folder, never ~/.cache."""
    path = tmp_path_factory.mktemp("tag-bench-cache")
    old = os.environ.get("TAG_BENCH_CACHE")
    os.environ["TAG_BENCH_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("TAG_BENCH_CACHE", None)
    else:
        os.environ["TAG_BENCH_CACHE"] = old


@pytest.fixture(scope="session")
def dataset_fixtures(tmp_path_factory):
    """Every dataset layout of specs/datasets.md §8, generated once per session."""
    from tag_bench.testing.fixtures import write_fixtures

    root = tmp_path_factory.mktemp("datasets")
    return write_fixtures(root, seed=0)


@pytest.fixture(scope="session")
def tiny_qwen(tmp_path_factory):
    """A tiny random Qwen2.5-VL saved to disk (built offline from a config)."""
    from tag_bench.testing.tiny_models import build_tiny_qwen2_5_vl

    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny-qwen"), seed=0)


#: Every RAF-DB fixture train sample, as a task (the fixture's test split is small).
RAF_TRAIN_TASK = """
name: raf_train_small
version: 1
dataset: rafdb
split: train
protocol: rafdb-basic-7
classes: [surprise, fear, disgust, happiness, sadness, anger, neutral]
prompt: tag_grounded
"""


@pytest.fixture
def raf_root(dataset_fixtures, tmp_path) -> Path:
    """A private copy of the RAF-DB fixture (tests may corrupt it)."""
    dst = tmp_path / "raf"
    shutil.copytree(dataset_fixtures["raf_basic"], dst)
    return dst


@pytest.fixture
def raf_train_tasks(tmp_path) -> Path:
    """A tasks folder (``--tasks-dir``) holding ``raf_train_small``."""
    d = tmp_path / "tasks"
    d.mkdir()
    (d / "raf_train_small.yaml").write_text(RAF_TRAIN_TASK)
    return d
