"""``tag-bench au validate``: readers for CSV, DISFA and BP4D labels and per-AU metrics, by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from tag_bench._cli.au import au_group
from tag_bench.au.validation import LabelError, frame_key, load_labels, validate
from tag_bench.schema import AUReference, AUState


def _ref(sid: str, scores: dict[str, tuple[float, bool] | None], status: str = "ok") -> AUReference:
    aus = {
        au: AUState(score=v[0], active=v[1], source="x", threshold=0.5) if v else AUState()
        for au, v in scores.items()
    }
    return AUReference(
        reference_id="hand-tight@1", detector="hand", version="1", status=status, sample_id=sid, aus=aus
    )


def _png(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (shade, 0, 0)).save(path)


# AU12 over five images: labels 1 1 0 0 1, flags 1 0 0 1 1, scores .9 .4 .1 .6 .8
#   tp 2 (a, e), fp 1 (d), fn 1 (b), tn 1 (c): precision 2/3, recall 2/3, F1 2/3, base rate 3/5;
#   ROC-AUC: positives .9 .4 .8 vs negatives .1 .6 -> pairs won 2 + 1 + 2 = 5 of 6.
LABELS12 = {"a": 1, "b": 1, "c": 0, "d": 0, "e": 1}
FLAGS12 = {"a": (0.9, True), "b": (0.4, False), "c": (0.1, False), "d": (0.6, True), "e": (0.8, True)}


def test_metrics_match_the_hand_computed_values():
    labels = {k: {"AU12": v} for k, v in LABELS12.items()}
    refs = {k: _ref(k, {"AU12": FLAGS12[k]}) for k in LABELS12}
    r = validate(labels, refs)["AU12"]
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (2, 1, 1, 1)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 / 3)
    assert r["roc_auc"] == pytest.approx(5 / 6)
    assert r["base_rate"] == pytest.approx(3 / 5)
    assert (r["labelled"], r["judged"], r["coverage"]) == (5, 5, 1.0)


def test_failures_and_unjudged_aus_are_counted_not_dropped():
    labels = {"a": {"AU12": 1, "AU6": 1}, "b": {"AU12": 0, "AU6": 0}, "c": {"AU12": 1}}
    refs = {
        "a": _ref("a", {"AU12": (0.9, True), "AU6": None}),
        "b": _ref("b", {"AU12": (0.2, False), "AU6": None}),
        "c": _ref("c", {}, status="no_face"),
    }
    out = validate(labels, refs)
    assert out["AU12"]["judged"] == 2 and out["AU12"]["reference_failed"] == 1
    assert out["AU12"]["coverage"] == pytest.approx(2 / 3)
    assert out["AU12"]["roc_auc"] == 1.0 and out["AU12"]["f1"] == 1.0
    assert out["AU6"]["judged"] == 0 and out["AU6"]["unjudged"] == 2 and out["AU6"]["f1"] is None
    assert "no labelled image judged" in out["AU6"]["not_computed"]["f1"]
    # one class only: ROC-AUC is undefined, precision undefined without a positive flag
    one = validate({"a": {"AU1": 0}, "b": {"AU1": 0}}, {k: _ref(k, {"AU1": (0.1, False)}) for k in "ab"})
    assert one["AU1"]["roc_auc"] is None and "same class" in one["AU1"]["not_computed"]["roc_auc"]
    assert one["AU1"]["precision"] is None and one["AU1"]["base_rate"] == 0.0


def test_csv_labels_through_the_cli(tmp_path):
    images = tmp_path / "images"
    for i, k in enumerate(LABELS12):
        _png(images / "sub" / f"{k}.png", i)
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "image,AU01,AU12\n"
        + "".join(f"sub/{k}.png,{'9' if k == 'a' else 0},{v}\n" for k, v in LABELS12.items())
        + "sub/absent.png,1,1\n"
    )
    ref = tmp_path / "ref.jsonl"
    ref.write_text(
        "".join(_ref(f"sub/{k}.png", {"AU12": FLAGS12[k]}).model_dump_json() + "\n" for k in FLAGS12)
    )
    args = ["validate", "--labels", str(labels), "--images", str(images), "--reference", str(ref)]
    res = CliRunner().invoke(au_group, [*args, "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert (report["labelled_images"], report["checked_images"], report["missing_images"]) == (6, 5, 1)
    assert report["reference_id"] == "hand-tight@1"
    au12 = report["aus"]["AU12"]
    assert au12["f1"] == pytest.approx(2 / 3) and au12["roc_auc"] == pytest.approx(5 / 6)
    assert report["aus"]["AU1"]["labelled"] == 4  # "9" is not coded; the reference gives no AU1
    assert report["aus"]["AU1"]["unjudged"] == 4
    text = CliRunner().invoke(au_group, args)
    assert text.exit_code == 0
    row = next(line.split() for line in text.output.splitlines() if line.strip().startswith("AU12"))
    assert row == ["AU12", "5", "1.00", "0.60", "0.67", "0.67", "0.67", "0.83"]


def test_disfa_intensity_files(tmp_path):
    labels = tmp_path / "ActionUnit_Labels" / "SN001"
    labels.mkdir(parents=True)
    (labels / "SN001_au12.txt").write_text("1,0\n2,3\n3,2\n4,1\n")
    (labels / "SN001_au1.txt").write_text("1,5\n2,0\n3,0\n4,0\n")
    images = tmp_path / "frames"
    for f in range(4):  # extracted counting from 0: frame_0000.png is label frame 1
        _png(images / "SN001" / f"frame_{f:04d}.png", f)
    lab = load_labels(tmp_path / "ActionUnit_Labels", "disfa", images, frame_offset=1)
    assert lab.by_key["SN001/2"] == {"AU12": 1, "AU1": 0} and lab.by_key["SN001/4"]["AU12"] == 0
    assert lab.by_key["SN001/3"]["AU12"] == 1  # intensity 2 counts as active
    assert lab.images["SN001/1"].name == "frame_0000.png" and lab.missing_images == []
    unshifted = load_labels(tmp_path / "ActionUnit_Labels", "disfa", images)
    assert unshifted.missing_images == ["SN001/4"]
    (labels / "SN001_au9.txt").write_text("1,7\n")
    with pytest.raises(LabelError, match="0-5"):
        load_labels(tmp_path / "ActionUnit_Labels", "disfa", images)


def test_bp4d_occurrence_csvs(tmp_path):
    occ = tmp_path / "AU_OCC"
    occ.mkdir()
    (occ / "F001_T1.csv").write_text("0,1,2,12\n100,1,9,0\n101,0,0,1\n102,9,1,1\n")
    images = tmp_path / "2D"
    for f in (100, 101, 102):
        _png(images / "F001" / "T1" / f"{f}.jpg", f % 255)
    lab = load_labels(occ, "bp4d", images)
    assert lab.by_key == {
        "F001/T1/100": {"AU1": 1, "AU12": 0},
        "F001/T1/101": {"AU1": 0, "AU2": 0, "AU12": 1},
        "F001/T1/102": {"AU2": 1, "AU12": 1},
    }
    assert len(lab.images) == 3
    (occ / "bad.csv").write_text("0,1\n1,1\n")
    with pytest.raises(LabelError, match="<subject>_<task>"):
        load_labels(occ, "bp4d", images)


def test_frame_keys_and_bad_inputs(tmp_path):
    assert frame_key(Path("SN001/0042.png")) == "SN001/42"
    assert frame_key(Path("F001/T1/frame_7.jpg"), 1) == "F001/T1/8"
    assert frame_key(Path("x/nonumber.png")) is None
    bad = tmp_path / "l.csv"
    bad.write_text("image,AU12\na.png,2\n")
    with pytest.raises(LabelError, match="expected 0, 1 or 9"):
        load_labels(bad, "csv", tmp_path)
    res = CliRunner().invoke(
        au_group, ["validate", "--labels", str(bad), "--images", str(tmp_path), "--reference", "x.jsonl"]
    )
    assert res.exit_code != 0 and "expected 0, 1 or 9" in res.output
    good = tmp_path / "g.csv"
    good.write_text("image,AU12\nnothere.png,1\n")
    res = CliRunner().invoke(
        au_group, ["validate", "--labels", str(good), "--images", str(tmp_path), "--reference", "x.jsonl"]
    )
    assert res.exit_code != 0 and "none of the 1 labelled images was found" in res.output
