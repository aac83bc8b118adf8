"""``tag-bench au agree``: per-AU kappa, Spearman and region IoU between references, checked by hand."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from tag_bench._cli.au import au_group
from tag_bench.au.agreement import agreement_report, au_agreement
from tag_bench.data.base import SplitData, register_loader
from tag_bench.schema import AUReference, AUState, Sample

LOADER = "au-agree-test-images"
N = 7


def _load(data_root, split, **options) -> SplitData:
    root = Path(data_root)
    samples = [
        Sample(id=p.stem, dataset=LOADER, split=split, image=str(p), label="neutral", native_label="neutral")
        for p in sorted(root.glob("*.png"))
    ]
    return SplitData(dataset=LOADER, split=split, layout="flat", root=root, samples=samples)


with contextlib.suppress(ValueError):
    register_loader(LOADER, _load)

# AU12 on 6 images both references judge (the 7th has no face in B):
#   A flags 1 1 0 0 1 0, B flags 1 0 0 0 1 1 -> agreement 4/6; p_o = 2/3, p_e = .5*.5 + .5*.5 = .5,
#   kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
#   A scores .9 .8 .1 .2 .7 .3 (ranks 6 5 1 2 4 3), B scores .6 .4 .1 .2 .9 .8 (ranks 4 3 1 2 6 5):
#   sum d^2 = 4+4+0+0+4+4 = 16, rho = 1 - 6*16 / (6*35) = 0.542857...
#   boxes [0,0,10,10] vs [5,0,15,10]: intersection 50, union 150, IoU 1/3 on each image.
FLAGS_A = [1, 1, 0, 0, 1, 0, 1]
FLAGS_B = [1, 0, 0, 0, 1, 1, 1]
SCORES_A = [0.9, 0.8, 0.1, 0.2, 0.7, 0.3, 0.9]
SCORES_B = [0.6, 0.4, 0.1, 0.2, 0.9, 0.8, 0.9]


def _ref(name: str, sid: str, status: str, au12: tuple[float, bool], box, au1_active: bool) -> AUReference:
    aus = {}
    if status == "ok":
        aus = {
            "AU12": AUState(
                score=au12[0], active=au12[1], box=box, boxes=[box, box], source="x", threshold=0.5
            ),
            "AU1": AUState(
                score=0.1, active=au1_active, box=box, boxes=[box, box], source="x", threshold=0.5
            ),
            "AU6": AUState(box=box, boxes=[box, box]),  # a region only: never judged
        }
    return AUReference(
        reference_id=f"{name}-tight@1",
        detector=name,
        version="1",
        status=status,
        sample_id=sid,
        aus=aus,
        message=None if status == "ok" else "no face",
    )


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path, Path]:
    root = tmp_path / "imgs"
    root.mkdir()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    with open(a, "w") as fa, open(b, "w") as fb:
        for i in range(N):
            Image.new("RGB", (8, 8), (i, i, i)).save(root / f"s{i}.png")
            sid = f"s{i}"
            ref_a = _ref("refa", sid, "ok", (SCORES_A[i], bool(FLAGS_A[i])), [0, 0, 10, 10], False)
            status_b = "no_face" if i == N - 1 else "ok"
            ref_b = _ref("refb", sid, status_b, (SCORES_B[i], bool(FLAGS_B[i])), [5, 0, 15, 10], False)
            fa.write(ref_a.model_dump_json() + "\n")
            fb.write(ref_b.model_dump_json() + "\n")
    return root, a, b


def test_au_agreement_matches_the_hand_computed_values(files):
    from tag_bench.au.sources import JsonlSource

    _, a, b = files
    ra, rb = JsonlSource(a), JsonlSource(b)
    ids = [f"s{i}" for i in range(N)]
    r = au_agreement([ra.by_sample[i] for i in ids], [rb.by_sample[i] for i in ids], "AU12")
    assert (r["n_ok"], r["n_judged"], r["n_scored"], r["n_regions"]) == (6, 6, 6, 6)
    assert (r["both_active"], r["only_a"], r["only_b"], r["neither"]) == (2, 1, 1, 2)
    assert r["agreement"] == pytest.approx(4 / 6)
    assert r["kappa"] == pytest.approx(1 / 3)
    assert r["spearman"] == pytest.approx(1 - 6 * 16 / (6 * 35))
    assert r["region_iou"] == pytest.approx(1 / 3)
    assert r["not_computed"] == {}


def test_undefined_statistics_are_not_computed_with_a_reason(files):
    from tag_bench.au.sources import JsonlSource

    _, a, b = files
    ra, rb = JsonlSource(a), JsonlSource(b)
    ids = [f"s{i}" for i in range(N)]
    au1 = au_agreement([ra.by_sample[i] for i in ids], [rb.by_sample[i] for i in ids], "AU1")
    assert au1["agreement"] == 1.0 and au1["kappa"] is None and "undefined" in au1["not_computed"]["kappa"]
    assert au1["spearman"] is None and "same score" in au1["not_computed"]["spearman"]
    au6 = au_agreement([ra.by_sample[i] for i in ids], [rb.by_sample[i] for i in ids], "AU6")
    assert au6["n_judged"] == 0 and au6["kappa"] is None and au6["agreement"] is None
    assert au6["region_iou"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="two references"):
        agreement_report({"a": ra.by_sample}, ids)


def test_cli_table_and_json(files):
    root, a, b = files
    args = ["agree", "--task", LOADER, "--data-root", str(root), "--references", f"{a},{b}"]
    task_yaml = root.parent / "tasks"
    task_yaml.mkdir()
    (task_yaml / f"{LOADER}.yaml").write_text(
        f"name: {LOADER}\nversion: 1\ndataset: {LOADER}\nsplit: test\nprotocol: test\n"
        "classes: [neutral, happiness]\nprompt: tag_grounded\n"
    )
    args += ["--tasks-dir", str(task_yaml)]
    res = CliRunner().invoke(au_group, [*args, "--json", "--out", str(root.parent / "r.json")])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report == json.loads((root.parent / "r.json").read_text())
    assert report["n_samples"] == N
    assert [r["reference_id"] for r in report["references"]] == ["refa-tight@1", "refb-tight@1"]
    assert report["references"][1]["status"] == {"no_face": 1, "ok": 6}
    (pair,) = report["pairs"]
    assert list(pair["aus"]) == ["AU1", "AU6", "AU12"]
    assert pair["aus"]["AU12"]["kappa"] == pytest.approx(1 / 3)
    assert pair["mean"]["kappa"] == pytest.approx(1 / 3) and pair["mean"]["n_aus_kappa"] == 1
    text = CliRunner().invoke(au_group, [*args, "--aus", "au12"])
    assert text.exit_code == 0, text.output
    row = next(line.split() for line in text.output.splitlines() if line.strip().startswith("AU12"))
    assert row == ["AU12", "6", "2", "1", "1", "0.67", "0.33", "6", "0.54", "0.33"]
    bad = CliRunner().invoke(au_group, [*args[:-4], "--references", str(a), *args[-2:]])
    assert bad.exit_code != 0 and "two or more" in bad.output


def test_geometric_against_blendshapes_on_the_demo():
    """The acceptance check: the two offline references on the demo faces give a sensible table."""
    pytest.importorskip("mediapipe")
    pytest.importorskip("skimage")
    res = CliRunner().invoke(
        au_group,
        ["agree", "--task", "demo", "--references", "mediapipe-geometric,mediapipe-blendshapes", "--json"],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    (pair,) = report["pairs"]
    assert all(r["status"].get("ok") == report["n_samples"] for r in report["references"])
    # both see the smiles and the open mouths alike; regions from two meshes overlap closely
    assert pair["aus"]["AU12"]["agreement"] == 1.0 and pair["aus"]["AU25"]["agreement"] == 1.0
    assert pair["aus"]["AU12"]["spearman"] > 0.5
    assert all(r["region_iou"] > 0.7 for r in pair["aus"].values())
    # AUs one of the two leaves unjudged are counted, not scored
    assert pair["aus"]["AU6"]["n_judged"] == 0 and pair["aus"]["AU6"]["kappa"] is None
