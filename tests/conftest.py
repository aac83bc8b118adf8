"""Session-wide test set-up: offline hubs, an isolated cache, shared generated fixtures."""

from __future__ import annotations

import os

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
