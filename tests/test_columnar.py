"""The columnar copy of samples.jsonl: the same arrays as the JSONL, and never used for another file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.report.compare import compare_runs
from tag_bench.rundir import RunDir
from tag_bench.scoring import columnar
from tag_bench.scoring.aggregate import build_arrays
from tag_bench.scoring.columnar import read_sidecar, sidecar_path
from tag_bench.tasks import load_task
from tag_bench.testing.fixtures import write_scaled_fixtures

TASK = "rafdb_basic_test"


def _score(root: Path, data: Path, name: str, shift: int) -> Path:
    task = load_task(TASK)
    samples = task.load(data).samples
    classes = task.classes
    rows = []
    for i, s in enumerate(samples):
        label = s.label if (i + shift) % 3 else classes[(classes.index(s.label) + 1) % len(classes)]
        box = f"<bbox>[{10 + i % 7}, 20, 60, 70]</bbox>" if i % 2 else ""
        rows.append({"id": s.id, "response": f"AU12 {box} smile.\n<answer> {label} </answer>"})
    preds = root / f"{name}.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = root / "runs" / name
    r = CliRunner().invoke(main, ["score", "--task", TASK, "--data-root", str(data), "--predictions", str(preds),
                                  "--frame", "pixel", "--au-reference", "none", "--out", str(out),
                                  "--n-resamples", "0", "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("columnar")
    data = write_scaled_fixtures(root / "data", n=600)["rafdb"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(columnar, "MIN_SAMPLES", 50)  # the fixture's test split is far below the real size
        return _score(root, data, "a", 0), _score(root, data, "b", 1)


def test_small_runs_get_no_copy(tmp_path):
    data = write_scaled_fixtures(tmp_path / "data", n=600)["rafdb"]
    run = RunDir(_score(tmp_path, data, "small", 0))
    assert not sidecar_path(run.samples_path).exists()


def _same(x, y) -> None:
    assert x.sample_ids == y.sample_ids and x.classes == y.classes and x.au_reference == y.au_reference
    for name in ("gold", "pred", "status", "rows"):
        got, want = getattr(x, name), getattr(y, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    assert x.reference_status_counts == y.reference_status_counts and x.note_counts == y.note_counts


def test_scoring_writes_the_arrays_of_the_jsonl(scored):
    run = RunDir(scored[0])
    classes = list(run.read_manifest().task.classes)
    assert sidecar_path(run.samples_path).is_file()
    from_copy = read_sidecar(run.samples_path, classes, None)
    assert from_copy is not None
    _same(from_copy, build_arrays(run.iter_scored(), classes, au_reference_id=None))


def test_a_changed_jsonl_or_other_question_is_never_served(scored, tmp_path):
    run = RunDir(scored[0])
    classes = list(run.read_manifest().task.classes)
    assert read_sidecar(run.samples_path, classes[::-1], None) is None  # other class order
    assert read_sidecar(run.samples_path, classes, "synthetic@1") is None  # other AU reference
    copy = tmp_path / "samples.jsonl"
    lines = run.samples_path.read_text().splitlines(keepends=True)
    record = json.loads(lines[0])
    record["correct"] = not record["correct"]
    copy.write_text(json.dumps(record) + "\n" + "".join(lines[1:]))
    sidecar_path(copy).write_bytes(sidecar_path(run.samples_path).read_bytes())
    assert read_sidecar(copy, classes, None) is None  # the file it mirrored was edited
    sidecar_path(copy).write_bytes(b"not an npz")
    assert read_sidecar(copy, classes, None) is None


def test_compare_reads_the_copy_and_gets_what_the_jsonl_gives(scored, monkeypatch):
    from tag_bench.report import compare

    a, b = scored
    with monkeypatch.context() as m:  # both copies usable: neither JSONL is read
        m.setattr(compare, "build_arrays", lambda *_, **__: pytest.fail("read a JSONL despite its copy"))
        fast = compare_runs(a, b, metrics="all", n_resamples=200)
    sidecar_path(RunDir(b).samples_path).unlink()  # one copy, one JSONL
    mixed = compare_runs(a, b, metrics="all", n_resamples=200)
    sidecar_path(RunDir(a).samples_path).unlink()  # two JSONLs (read in two processes)
    slow = compare_runs(a, b, metrics="all", n_resamples=200)
    assert fast.model_dump() == mixed.model_dump() == slow.model_dump()
