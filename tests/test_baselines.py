"""Built-in baselines and the offline demo (real MediaPipe references on public-domain faces)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from tag_bench._cli.main import main
from tag_bench.models.base import AdapterContext, GenerationRequest, get_model
from tag_bench.models.baselines import facs_rules_label
from tag_bench.parsing import parse_response
from tag_bench.schema import COMMON7, AUReference, AUState


def _ref(active: dict[str, float]) -> AUReference:
    aus = {au: AUState(score=s, active=True, box=[10, 10, 30, 30], boxes=[]) for au, s in active.items()}
    aus["AU4"] = aus.get("AU4") or AUState(score=0.1, active=False, box=[5, 5, 20, 20])
    return AUReference(reference_id="t@1", detector="t", version="1", status="ok", aus=aus)


@pytest.mark.parametrize(
    ("active", "label"),
    [
        ({"AU6": 0.9, "AU12": 0.8}, "happiness"),
        ({"AU1": 0.7, "AU2": 0.8, "AU5": 0.6, "AU26": 0.9}, "surprise"),
        ({"AU1": 0.6, "AU4": 0.7, "AU15": 0.8}, "sadness"),
        ({}, "neutral"),
        ({"AU25": 0.9}, "neutral"),  # lips apart alone is not an expression
    ],
)
def test_facs_rules_picks_the_matching_prototype(active, label):
    assert facs_rules_label(active, list(COMMON7)) == label


def test_facs_rules_trace_parses_back_to_its_own_evidence():
    adapter = get_model("facs-rules", context=AdapterContext(classes=list(COMMON7)))
    ref = _ref({"AU6": 0.9, "AU12": 0.8})
    req = GenerationRequest(sample_id="s", image=Image.new("RGB", (64, 64)), prompt="", reference=ref)
    out = adapter.generate([req])[0]
    parsed = parse_response(out.text, frame="pixel", image_size=(64, 64), classes=list(COMMON7))
    assert parsed.status == "ok" and parsed.label == "happiness"
    assert set(parsed.aus) == {"AU6", "AU12"}
    assert all(e.box == [10.0, 10.0, 30.0, 30.0] for e in parsed.evidence)
    no_face = ref.model_copy(update={"status": "no_face", "aus": {}})
    out = adapter.generate([GenerationRequest(sample_id="s", image=req.image, prompt="", reference=no_face)])[
        0
    ]
    assert parse_response(out.text, frame="pixel", image_size=(64, 64), classes=list(COMMON7)).status != "ok"


def test_random_baseline_is_seeded_and_boxes_stay_in_the_image():
    ctx = AdapterContext(classes=list(COMMON7), seed=3)
    reqs = [
        GenerationRequest(sample_id=f"s{i}", image=Image.new("RGB", (90, 60)), prompt="") for i in range(20)
    ]
    a = [o.text for o in get_model("random", context=ctx).generate(reqs)]
    b = [o.text for o in get_model("random", context=ctx).generate(reqs)]
    c = [
        o.text
        for o in get_model("random", context=AdapterContext(classes=list(COMMON7), seed=4)).generate(reqs)
    ]
    assert a == b and a != c
    labels = set()
    for text in a:
        p = parse_response(text, frame="pixel", image_size=(90, 60), classes=list(COMMON7))
        labels.add(p.label)
        assert p.evidence and all(e.box_status == "ok" for e in p.evidence)
    assert len(labels) > 2


def test_majority_baseline_uses_the_split_label_counts():
    ctx = AdapterContext(classes=list(COMMON7), label_counts={"sadness": 3, "happiness": 9})
    out = get_model("majority", context=ctx).generate(
        [GenerationRequest(sample_id="x", image=Image.new("RGB", (8, 8)), prompt="")]
    )
    assert "happiness" in out[0].text
    with pytest.raises(ValueError, match="label counts"):
        get_model("majority", context=AdapterContext(classes=list(COMMON7)))


@pytest.mark.slow
def test_demo_puts_facs_rules_above_random(tmp_path):
    pytest.importorskip("mediapipe")
    out = tmp_path / "demo"
    r = CliRunner().invoke(main, ["demo", "--out", str(out), "--n-resamples", "200", "--no-progress"])
    assert r.exit_code == 0, r.output
    board = (out / "leaderboard.md").read_text()
    assert "| facs-rules † |" in board and "| random |" in board and "demo<br>Acc." in board
    assert (out / "leaderboard.tex").exists()
    m = {
        name: json.loads((out / name / "metrics.json").read_text())["metrics"]
        for name in ("facs-rules", "random")
    }
    for metric in ("accuracy", "au_box_iou", "grounding_precision@0.5", "grounded_accuracy"):
        assert m["facs-rules"][metric]["value"] > m["random"][metric]["value"], metric
    assert m["facs-rules"]["hallucinated_au_rate"]["value"] < m["random"]["hallucinated_au_rate"]["value"]
    manifest = json.loads((out / "facs-rules" / "manifest.json").read_text())
    assert manifest["model"]["oracle_reference"] is True
    assert manifest["au_reference"] == "mediapipe-blendshapes"
