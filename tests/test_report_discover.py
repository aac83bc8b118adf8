"""discover_runs on folder trees: every run found once, a run inside another named, in linear time (the
check for nested runs walks each run's ancestors, not every run found before it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tag_bench.report.discover import discover_runs
from tag_bench.rundir import NestedRunError


def make_run(path: Path, *, scored: bool = True) -> Path:
    """The two files discovery looks at (what they hold is read later, by read_runs)."""
    path.mkdir(parents=True)
    (path / "manifest.json").write_text("{}")
    if scored:
        (path / "metrics.json").write_text("{}")
    return path


def test_every_run_is_found_once_in_order(tmp_path):
    root = tmp_path / "runs"
    made = [make_run(root / f"model-{m}" / task) for m in ("a", "ab", "b") for task in ("t1", "t2")]
    make_run(root / "model-c" / "t1", scored=False)
    (root / ".hidden").mkdir()
    make_run(root / ".hidden" / "t1")  # hidden folders are not searched
    (tmp_path / "link").symlink_to(root / "model-a")  # the same runs reached by a second path
    found = discover_runs([root, tmp_path / "link"])
    assert [r.path for r in found.runs] == made
    assert found.skipped == [
        f"{root / 'model-c' / 't1'}: not scored yet (run `tag-bench score {root / 'model-c' / 't1'}`)"
    ]
    # spelt differently: a trailing slash, a relative path
    assert [r.path for r in discover_runs([str(root) + os.sep]).runs] == made
    cwd = Path.cwd()
    try:
        os.chdir(root)
        assert [r.path.resolve() for r in discover_runs(["."]).runs] == made
    finally:
        os.chdir(cwd)


def test_a_folder_without_runs_is_noted(tmp_path):
    make_run(tmp_path / "runs" / "a")
    (tmp_path / "empty" / "deep").mkdir(parents=True)
    found = discover_runs([tmp_path / "runs", tmp_path / "empty"])
    assert [r.path for r in found.runs] == [tmp_path / "runs" / "a"]
    assert found.skipped == [f"{tmp_path / 'empty'}: no run directory (no manifest.json) in it or below it"]


@pytest.mark.parametrize("inner", ["b", "x/y/b"])
def test_a_run_inside_another_is_named_at_any_depth(tmp_path, inner):
    root = tmp_path / "runs"
    make_run(root / "a1")  # a sibling whose name starts like the outer run's
    outer = make_run(root / "a")
    make_run(root / "a" / inner)
    make_run(root / "z")
    with pytest.raises(NestedRunError) as e:
        discover_runs([root])
    assert str(e.value).startswith(f"{outer / inner} is a run directory inside the run directory {outer};")


def test_siblings_are_not_nested(tmp_path):
    root = tmp_path / "runs"
    runs = [make_run(root / name) for name in ("a", "a-b", "a.b", "ab")]
    assert [r.path for r in discover_runs([root]).runs] == sorted(runs)
