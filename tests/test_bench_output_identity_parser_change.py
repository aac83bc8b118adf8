"""``bench/output_identity.py --parser-change``: free text re-read by a new parser is accepted and
reported; every other change still fails."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "output_identity.py"


@pytest.fixture(scope="module")
def oi():
    spec = importlib.util.spec_from_file_location("output_identity_pc", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def sample(sid, pred, status="ok", label="happiness", **extra):
    parsed = {"label": pred, "status": status, "raw_label": pred, "notes": []}
    return {"sample_id": sid, "label": label, "pred": pred, "status": status,
            "correct": status == "ok" and pred == label, "parsed": parsed, "claims": [], **extra}  # fmt: skip


RESPONSES = {
    "free": "The face mainly shows delight, with some surprise in the raised brows.",
    "tagged": "Some prose first. <answer>surprise</answer>",
    "free2": "The face mainly shows delight, with some surprise.",
}


def write(root: Path, case: str, metrics: dict, samples: list[dict], responses: bool = True) -> None:
    (root / case).mkdir(parents=True)
    (root / case / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (root / case / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    if responses:
        gens = [{"sample_id": s["sample_id"], "text": RESPONSES[s["sample_id"]]} for s in samples]
        (root / case / "generations.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gens))


def metrics(version: int, accuracy: float) -> dict:
    return {"scoring_version": version, "metrics": {"accuracy": {"value": accuracy}}, "parse_notes": {}}


def test_free_text_re_read_is_accepted_with_what_follows(oi, tmp_path):
    write(tmp_path / "old", "run", metrics(1, 0.0), [sample("free", "surprise")])
    new = sample("free", "happiness")
    new["parsed"]["notes"] = ["answer-primary-cue: ..."]
    write(tmp_path / "new", "run", {**metrics(2, 1.0), "parse_notes": {"answer-primary-cue": 1}}, [new])
    result = oi.compare_dirs(tmp_path / "old", tmp_path / "new", parser_change=True)
    text = "\n".join(oi.summary(result, "BASE", strict=False))
    assert result.exit_code(strict=False) == 0, text
    assert result.reread == {"run": 1}
    assert (
        "re-read free text" in text
        and "ok surprise -> ok happiness" in text
        and "mainly shows delight" in text
    )
    assert "follow from re-read samples: 1" in text and "metrics.accuracy.value: 0.0 -> 1.0" in text
    assert "scoring_version went up in 1 files" in text
    assert text.endswith(
        "parser change only: every difference is free text re-read, follows from it, or expected"
    )
    # without the option the same difference fails
    assert oi.compare_dirs(tmp_path / "old", tmp_path / "new").exit_code(strict=False) == 1


def test_explicit_answers_and_other_fields_still_fail(oi, tmp_path):
    write(tmp_path / "old", "run", metrics(1, 0.0),
          [sample("tagged", "happiness"), sample("free2", "surprise")])  # fmt: skip
    moved = sample("free2", "happiness")
    moved["claims"] = [{"au": "AU12", "iou": 0.5}]  # not a field a label follows
    write(tmp_path / "new", "run", metrics(2, 1.0), [sample("tagged", "surprise"), moved])
    result = oi.compare_dirs(tmp_path / "old", tmp_path / "new", parser_change=True)
    text = "\n".join(oi.summary(result, "BASE", strict=False))
    assert result.exit_code(strict=False) == 1
    assert not result.reread
    assert "run/samples.jsonl:1  pred" in text  # the answer-tag sample
    assert "claims" in text
    assert "run/metrics.json  metrics.accuracy.value" in text  # no re-read sample: it does not follow


def test_without_responses_nothing_is_accepted(oi, tmp_path):
    write(tmp_path / "old", "run", metrics(1, 0.0), [sample("free", "surprise")], responses=False)
    write(tmp_path / "new", "run", metrics(1, 0.0), [sample("free", "happiness")], responses=False)
    result = oi.compare_dirs(tmp_path / "old", tmp_path / "new", parser_change=True)
    assert result.exit_code(strict=False) == 1 and not result.reread
