"""``bench/output_identity.py``'s comparison: additions told from removals, changes and reorderings."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "output_identity.py"


@pytest.fixture(scope="module")
def oi():
    spec = importlib.util.spec_from_file_location("output_identity", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


METRICS = {
    "n": 3,
    "metrics": {
        "accuracy": {"value": 0.5, "n": 3},
        "grounding_precision@0.5": {"value": None, "n": 0},
        "au_f1": {"value": 0.25, "n": 2},
    },
    "not_computed": {"grounding_precision@0.5": "no box claims"},
}
SAMPLES = [
    {"sample_id": "a", "status": "ok", "correct": True, "claims": [{"au": "AU4", "iou": 0.5}]},
    {"sample_id": "b", "status": "refusal", "correct": False, "claims": []},
]


def write(root: Path, case: str, metrics: dict, samples: list[dict]) -> None:
    (root / case).mkdir(parents=True)
    (root / case / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (root / case / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))


def copy(value):
    return json.loads(json.dumps(value))


def compare(oi, tmp_path, new_metrics, new_samples, cases=("run1", "run2")):
    for case in cases:
        write(tmp_path / "old", case, METRICS, SAMPLES)
        write(tmp_path / "new", case, new_metrics, new_samples)
    result = oi.compare_dirs(tmp_path / "old", tmp_path / "new")
    return result, "\n".join(oi.summary(result, "BASE", strict=False))


def test_byte_identical(oi, tmp_path):
    result, text = compare(oi, tmp_path, METRICS, SAMPLES)
    assert (result.files, result.identical) == (4, 4)
    assert result.exit_code(strict=True) == 0
    assert "identical: every file byte for byte the same as BASE" in text


def test_additions_are_reported_by_key_path_and_pass_unless_strict(oi, tmp_path):
    metrics = copy(METRICS)
    items = list(metrics["metrics"].items())
    items.insert(1, ("latency_mean_s", {"value": 1.5, "n": 3}))  # in the middle: no reordering
    metrics["metrics"] = dict(items)
    metrics["not_computed"]["latency_p95_s"] = "no latencies"
    samples = copy(SAMPLES)
    for s in samples:
        s["latency_s"] = 0.1
    samples[0]["claims"][0]["score"] = 0.9
    result, text = compare(oi, tmp_path, metrics, samples)
    assert result.exit_code(strict=False) == 0
    assert result.exit_code(strict=True) == 1
    assert len(result.additions_only) == 4
    assert result.groups[("added", "metrics.json", "metrics.latency_mean_s")].files == {
        "run1/metrics.json",
        "run2/metrics.json",
    }
    assert result.groups[("added", "samples.jsonl", "latency_s")].records == 4
    assert result.groups[("added", "samples.jsonl", "claims[].score")].records == 2
    assert "metrics.latency_mean_s" in text and "2 files" in text
    assert "4 records in 2 files" in text
    assert "every existing value identical; only additions" in text
    assert not any(kind != "added" for kind, _, _ in result.groups)


def test_removed_changed_and_reordered_fail_with_examples(oi, tmp_path):
    metrics = copy(METRICS)
    del metrics["metrics"]["au_f1"]
    metrics["metrics"]["accuracy"]["value"] = 0.5000001
    metrics["n"] = 3.0  # same number, another type: the bytes would differ
    metrics["metrics"]["grounding_precision@0.5"]["value"] = 0.0
    metrics["metrics"] = dict(reversed(list(metrics["metrics"].items())))
    samples = copy(SAMPLES)
    samples[1]["correct"] = True
    result, text = compare(oi, tmp_path, metrics, samples, cases=("run1",))
    assert result.exit_code(strict=False) == 1
    kinds = {(kind, path) for kind, _, path in result.groups}
    assert ("removed", "metrics.au_f1") in kinds
    assert ("changed", "metrics.accuracy.value") in kinds
    assert ("changed", "n") in kinds
    assert ("changed", "correct") in kinds
    assert ("reordered", "metrics") in kinds
    assert "run1/metrics.json  metrics.accuracy.value: 0.5 -> 0.5000001" in text
    assert "run1/samples.jsonl:2  correct: false -> true" in text
    assert 'metrics["grounding_precision@0.5"].value: null -> 0.0' in text
    assert 'metrics.au_f1: {"value": 0.25, "n": 2} -> (absent)' in text
    assert text.endswith("DIFFERENT: existing outputs were removed, changed or reordered")


def test_lines_must_line_up(oi, tmp_path):
    result, text = compare(oi, tmp_path, METRICS, list(reversed(SAMPLES)), cases=("run1",))
    assert result.exit_code(strict=False) == 1
    assert "run1/samples.jsonl:1: sample 'a' -> 'b'" in text
    result, text = compare(oi, tmp_path / "short", METRICS, SAMPLES[:1], cases=("run1",))
    assert result.exit_code(strict=False) == 1
    assert "run1/samples.jsonl: 2 lines -> 1 lines" in text


def test_missing_run_and_formatting(oi, tmp_path):
    write(tmp_path / "old", "gone", METRICS, SAMPLES)
    write(tmp_path / "old", "same", METRICS, SAMPLES)
    (tmp_path / "new" / "same").mkdir(parents=True)
    (tmp_path / "new" / "same" / "metrics.json").write_text(json.dumps(METRICS))  # no indent
    (tmp_path / "new" / "same" / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    result = oi.compare_dirs(tmp_path / "old", tmp_path / "new")
    assert result.formatting == ["same/metrics.json"]
    assert "gone/metrics.json: only in" in result.mismatched[0]
    assert result.exit_code(strict=False) == 1


def test_key_paths(oi):
    assert (
        oi.render(("metrics", "grounding_precision@0.5", "value"))
        == 'metrics["grounding_precision@0.5"].value'
    )
    assert oi.render(("metrics", "recall/neutral", "ci_low")) == "metrics.recall/neutral.ci_low"
    assert oi.render(("claims", 3, "iou")) == "claims[3].iou"
    assert oi.render(("claims", 3, "iou"), generic=True) == "claims[].iou"
