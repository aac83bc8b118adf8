"""`tag-bench au topk`: TAG's AU-Prob-Bbox list (top-K activated AUs with score and box) per sample."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.au.topk import ActivatedAU, format_line, top_k_activated
from tag_bench.schema import AUReference, AUState


def _ref(status: str = "ok") -> AUReference:
    aus = {
        "AU04": AUState(score=0.46, active=True, box=[153.2, 115.4, 242.0, 187.6]),  # zero-padded key
        "AU9": AUState(score=0.74, active=True, box=[153, 115, 242, 188]),
        "AU6": AUState(score=0.78, active=True, boxes=[[156, 208, 200, 300], [240, 210, 285.4, 314]]),
        "AU12": AUState(score=0.95, active=False, box=[1, 2, 3, 4]),  # high score, but not active
        "AU25": AUState(score=None, active=True, box=[10, 10, 20, 20]),  # active without a score
        "AU26": AUState(score=0.3, box=[5, 5, 9, 9]),  # no flag: judged by the threshold, below it
        "AU1": AUState(score=0.74, box=[0, 0, 9, 9]),  # no flag: at the threshold 0.5, active
    }
    return AUReference(reference_id="r@1", detector="r", version="1", status=status, threshold=0.5,
                       aus=aus if status == "ok" else {})  # fmt: skip


def test_top_k_orders_active_aus_by_score_and_writes_the_paper_lines():
    items = top_k_activated(_ref(), 10)
    assert [i.au for i in items] == ["AU6", "AU1", "AU9", "AU4", "AU25"]  # ties (0.74) by AU number
    assert items[0].box == [156, 208, 285, 314]  # the union of the per-side boxes, rounded
    assert [format_line(i) for i in items[:4]] == [
        "AU6 0.78 [156, 208, 285, 314]",
        "AU1 0.74 [0, 0, 9, 9]",
        "AU9 0.74 [153, 115, 242, 188]",
        "AU4 0.46 [153, 115, 242, 188]",
    ]
    assert format_line(items[4]) == "AU25 - [10, 10, 20, 20]"
    assert format_line(ActivatedAU(au="AU7", score=0.5, box=None)) == "AU7 0.50 -"
    assert [i.au for i in top_k_activated(_ref(), 2)] == ["AU6", "AU1"]
    assert top_k_activated(_ref("no_face"), 3) == []
    with pytest.raises(ValueError, match="at least 1"):
        top_k_activated(_ref(), 0)


@pytest.mark.slow
def test_topk_command_on_the_demo_faces(tmp_path):
    pytest.importorskip("mediapipe")
    runner = CliRunner()
    refs_path, out = tmp_path / "refs.jsonl", tmp_path / "topk.jsonl"
    r = runner.invoke(main, ["au", "detect", "--task", "demo", "--out", str(refs_path), "--json"])
    assert r.exit_code == 0, r.output
    refs = {}
    for line in refs_path.read_text().splitlines():
        ref = AUReference.model_validate_json(line)
        refs[ref.sample_id] = ref
    r = runner.invoke(main, ["au", "topk", "--task", "demo", "-k", "2", "--out", str(out)])
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [rec["sample_id"] for rec in records] == list(refs)  # every sample, in task order
    listed = 0
    for rec in records:
        ref = refs[rec["sample_id"]]
        active = {au: s for au, s in ref.aus.items() if s.active}
        assert rec["status"] == ref.status and rec["k"] == 2 and len(rec["aus"]) == min(2, len(active))
        scores = [a["score"] for a in rec["aus"]]
        assert scores == sorted(scores, reverse=True)
        best = sorted((s.score for s in active.values()), reverse=True)[:2]
        assert scores == best
        for a, line in zip(rec["aus"], rec["text"].splitlines(), strict=True):
            assert a["au"] in active and a["box"] == [round(v) for v in active[a["au"]].box]
            assert line == f"{a['au']} {a['score']:.2f} [{', '.join(map(str, a['box']))}]"
        listed += len(rec["aus"])
    assert listed >= 4
    # the same list from the saved references, printed to standard output
    r = runner.invoke(main, ["au", "topk", "--task", "demo", "-k", "2", "--reference", str(refs_path)])
    assert r.exit_code == 0, r.output
    printed = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [p["aus"] for p in printed] == [rec["aus"] for rec in records]
    r = runner.invoke(main, ["au", "topk", "--task", "demo", "-k", "0"])
    assert r.exit_code != 0 and "-k" in r.output
