"""The intervene stage: placements, fills, the command (resume, cache, refusals, sets kept), export and
import, reports (leaderboard, compare, figure), the loopback server and the tiny Qwen2.5-VL.

Everything runs for real: generated fixture faces, the probes and baselines as adapters, the loopback chat
server, a tiny transformers model built from a config. The few things that cannot run here are said where
they are (scipy missing is simulated by hiding its module; Ctrl-C by an adapter that raises it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from tag_bench import store
from tag_bench._cli.main import main
from tag_bench._optional import MissingExtraError
from tag_bench.intervene import intervene
from tag_bench.intervene.fills import FillCache, apply_fill, fill_key
from tag_bench.intervene.placement import (
    AREA_TOLERANCE,
    MAX_OVERLAP,
    SampleBoxes,
    box_mask,
    place_all,
)
from tag_bench.metrics.stats import newcombe_paired_interval, wilson_interval
from tag_bench.models.base import AdapterContext, GenerationRequest, get_model, register_adapter
from tag_bench.models.probes import FaithfulProbe
from tag_bench.rundir import RunDir
from tag_bench.schema import AnswerScore, Placement
from tag_bench.testing.chat_server import ChatServer, expected_label, image_sizes, message_text
from tag_bench.testing.fixtures import write_scaled_fixtures

# --------------------------------------------------------------------------------------------------
# Placements


def _boxes(sid: str, regions: dict | None = None, cited=None, face=None, size=(100, 100)) -> SampleBoxes:
    cited = cited if cited is not None else [("AU12", [30.0, 66.0, 70.0, 80.0])]
    return SampleBoxes(sid, size, cited, frozenset(a for a, _ in cited if a), face or [0.0, 0.0, *map(float, size)],
                       regions or {})  # fmt: skip


REGIONS = {"AU1": [36.0, 16.0, 64.0, 30.0], "AU6": [12.0, 50.0, 36.0, 66.0], "AU12": [28.0, 66.0, 72.0, 80.0],
           "AU17": [36.0, 84.0, 64.0, 97.0], "AU25": [40.0, 70.0, 60.0, 82.0]}  # fmt: skip


def _check(p: list[Placement], s: SampleBoxes) -> None:
    by = {q.condition: q for q in p}
    union = box_mask(s.boxes, s.size)
    area = float(union.sum())
    for c in ("control", "habitual"):
        mask = box_mask(by[c].boxes, s.size)
        assert abs(float(mask.sum()) - area) <= AREA_TOLERANCE * area
    assert (
        float((box_mask(by["control"].boxes, s.size) & union).sum())
        <= MAX_OVERLAP * by["control"].filled_area
    )


def test_placements_are_seeded_area_matched_and_apart_from_the_cited_boxes():
    a, b = _boxes("a", REGIONS), _boxes("b", REGIONS, cited=[("AU1", [36.0, 16.0, 64.0, 30.0])])
    first, why = place_all(a, [a, b], 1)
    assert why is None and first == place_all(a, [a, b], 1)[0]  # seeded: the same every time
    _check(first, a)
    by = {q.condition: q for q in first}
    assert by["control"].method == "reference" and "AU12" not in (by["control"].source or "")  # not cited
    assert by["habitual"].source == "b" and by["keep"].inverse and by["none"].boxes == []
    assert [q.condition for q in first][5:] == ["drop:AU12"]
    # without a reference: random places inside the face, still area-matched and apart
    face = [20.0, 10.0, 90.0, 95.0]
    c = _boxes("c", {}, face=face)
    placed, why = place_all(c, [c, b], 1)
    assert why is None
    ctrl = next(q for q in placed if q.condition == "control")
    assert ctrl.method == "random" and all(face[0] <= x0 and x1 <= face[2] for x0, _, x1, _ in ctrl.boxes)
    _check(placed, c)
    # other ids, other places
    places = {tuple(next(q for q in place_all(_boxes(f"s{i}", {}), [b], 1)[0] if q.condition == "control").boxes[0])
              for i in range(8)}  # fmt: skip
    assert len(places) > 1


def test_a_sample_without_room_for_a_control_or_another_sample_is_untested_with_its_reason():
    whole = _boxes("w", {}, cited=[("AU12", [0.0, 0.0, 100.0, 95.0])])
    assert place_all(whole, [whole, _boxes("x")], 1)[1].startswith("no control placement")
    alone = _boxes("a")
    assert place_all(alone, [alone], 1)[1].startswith("no habitual placement")


# --------------------------------------------------------------------------------------------------
# Fills


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    from tag_bench.testing.fixtures import FaceBank

    return np.asarray(FaceBank(0).face("iv/0", (120, 110)))


@pytest.mark.parametrize("fill", ["blur", "mean", "noise"])
def test_a_fill_changes_only_the_filled_pixels(face, fill):
    cited = Placement(condition="cited", boxes=[[20.0, 30.0, 60.0, 70.0], [70.0, 80.0, 100.0, 100.0]])
    keep = cited.model_copy(update={"condition": "keep", "inverse": True})
    for p in (cited, keep):
        out = apply_fill(face, p, fill)
        mask = box_mask(p.boxes, (120, 110))
        mask = ~mask if p.inverse else mask
        assert out.shape == face.shape and out.dtype == np.uint8
        assert np.array_equal(out[~mask], face[~mask])  # nothing outside the filled pixels moves
        assert (out[mask] != face[mask]).any()
        assert np.array_equal(out, apply_fill(face, p, fill))  # seeded: the same pixels every time
    if fill == "mean":
        out = apply_fill(face, cited, "mean")
        assert (out[40, 30] == np.round(face.reshape(-1, 3).mean(axis=0))).all()
    else:  # blur and ROAD's imputer smooth the region: less detail inside than before
        inside = box_mask(cited.boxes[:1], (120, 110))
        grad = lambda a: np.abs(np.diff(a.astype(float), axis=1))[inside[:, 1:]].mean()  # noqa: E731
        assert grad(apply_fill(face, cited, fill)) < grad(face)


def test_fills_are_cached_per_image_mask_and_fill(face, tmp_path):
    cache = FillCache(tmp_path)
    p = Placement(condition="cited", boxes=[[10.0, 10.0, 50.0, 40.0]])
    first = cache.filled(face, "sha", p, "noise")
    assert cache.misses == 1 and cache.path(fill_key("sha", p, (120, 110), "noise")).is_file()
    again = cache.filled(face, "sha", p, "noise")
    assert cache.hits == 1 and np.array_equal(first, again)
    other = cache.filled(face, "sha", p, "blur")  # another fill: its own entry
    assert cache.misses == 2 and not np.array_equal(other, first)


def test_the_noise_fill_without_scipy_names_the_extra(face, monkeypatch):
    # scipy is installed here (the test extra); hiding its modules is the only way to see the message
    for name in [m for m in sys.modules if m == "scipy" or m.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(MissingExtraError, match=r"tag-bench\[intervene\]"):
        apply_fill(face, Placement(condition="cited", boxes=[[0.0, 0.0, 9.0, 9.0]]), "noise")


def test_newcombe_paired_interval_has_width_where_the_bootstrap_has_none():
    low, high = newcombe_paired_interval(0, 0, 0, 300)  # both rates 0 on 300 pairs: random's gaps
    w = wilson_interval(0, 300)
    assert (low, high) == pytest.approx((-w[1], w[1]))  # no correlation: Newcombe's square-and-add
    low, high = newcombe_paired_interval(40, 25, 5, 30)
    assert low < 0.2 < high and low >= -1 and high <= 1  # contains the estimate (65 - 45) / 100
    low, high = newcombe_paired_interval(10, 0, 0, 0)  # both rates 1: a width of its own, within [-1, 1]
    assert low < 0 < high


# --------------------------------------------------------------------------------------------------
# The command on generated fixtures


def _cli(*args: str) -> str:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


def _fail(*args: str) -> str:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    return r.output


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """40 RAF-DB test samples (a fifth of the scaled fixture)."""
    return write_scaled_fixtures(tmp_path_factory.mktemp("iv-data"), n=200, pool=20)["rafdb"]


def _run(data: Path, out: Path, model: str, *extra: str) -> Path:
    _cli("run", "--model", model, "--tasks", "rafdb_basic_test", "--data-root", data, "--out", out,
         "--au-reference", "none", "--no-progress", "--n-resamples", "200", *extra)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def faithful(data, tmp_path_factory) -> Path:
    return _run(data, tmp_path_factory.mktemp("pf") / "run", "probe-faithful")


def _fill_metrics(run: Path, fill: str) -> dict:
    return json.loads((run / "interventions" / fill / "metrics.json").read_text())


def test_a_run_without_the_stage_says_not_run_with_the_command(data, tmp_path):
    run = _run(data, tmp_path / "r", "random")
    m = json.loads((run / "metrics.json").read_text())
    assert m["not_run"]["faithfulness_gap"] == "tag-bench intervene RUN"
    assert "tag-bench intervene RUN" in m["not_computed"]["faithfulness_gap"]
    out = _cli("leaderboard", run, "--spec", "faithfulness")
    assert "intervene not run" not in out or "–" in out  # one group, every cell "–"
    _cli("intervene", run, "--fills", "blur", "--no-progress")
    _cli("score", run, "--n-resamples", "200")
    m = json.loads((run / "metrics.json").read_text())  # the run's own scores point at the sets
    assert "faithfulness_gap" not in m["not_run"] and "per fill" in m["not_computed"]["faithfulness_gap"]


def test_a_run_without_boxes_gets_every_intervention_metric_not_computed_with_the_reason(data, tmp_path):
    run = _run(data, tmp_path / "maj", "majority")
    out = _cli("intervene", run, "--fills", "blur", "--no-progress")
    assert "0 of 40 samples tested" in out and "model calls: 0" in out
    m = _fill_metrics(run, "blur")
    assert m["metrics"]["intervention_coverage"]["value"] == 0.0
    for name, v in m["metrics"].items():
        if name.endswith(("_flip_rate", "_gap", "_drop")) or "logprob" in name:
            assert v["value"] is None, name
            assert (
                "no tested sample (40 untested: 40 the original answer cites no usable box)"
                in m["not_computed"][name]
            )


def test_sets_are_kept_and_joined_when_other_fills_or_conditions_run(faithful, tmp_path):
    run = Path(shutil.copytree(faithful, tmp_path / "run"))
    out = _cli(
        "intervene",
        run,
        "--fills",
        "blur",
        "--conditions",
        "none,cited,control",
        "--limit",
        "5",
        "--no-progress",
    )
    assert "model calls: 15" in out  # 5 samples x (none, cited, control), printed before any call
    blur = _fill_metrics(run, "blur")
    assert blur["metrics"]["habitual_flip_rate"]["value"] is None
    assert blur["not_run"]["specificity_gap"] == "tag-bench intervene RUN --fills blur --conditions habitual"
    # more samples and another condition: the earlier answers are kept, only the rest is asked
    out = _cli("intervene", run, "--fills", "blur", "--conditions", "habitual", "--no-progress")
    assert (
        "model calls: 145 (15 answered in earlier sessions)" in out
    )  # 40 x (none, cited, control, habitual) - 15
    # another fill never deletes the first
    before = (run / "interventions" / "blur" / "metrics.json").read_text()
    _cli("intervene", run, "--fills", "mean", "--no-progress")
    assert (run / "interventions" / "blur" / "metrics.json").read_text() == before
    manifest = RunDir(run).read_manifest()
    assert manifest.interventions is not None
    assert [(s.fill, s.conditions, s.status) for s in manifest.interventions.sets] == [
        ("blur", ["none", "cited", "control", "habitual"], "complete"),
        ("mean", ["none", "cited", "control", "habitual", "keep"], "complete"),
    ]
    assert _fill_metrics(run, "blur")["metrics"]["specificity_gap"]["ci_low"] > 0
    # everything answered: asked again, nothing is called (blur has no keep yet: asking for it costs 40)
    assert "model calls: 0" in _cli("intervene", run, "--fills", "mean", "--no-progress")
    assert "model calls: 40" in _cli("intervene", run, "--fills", "blur,mean", "--no-progress")


def test_refusals_say_what_to_do(faithful, tmp_path):
    run = Path(shutil.copytree(faithful, tmp_path / "run"))
    out = _fail("intervene", run, "--fills", "blur", "--max-calls", "3", "--no-progress")
    assert "more than --max-calls 3" in out and not (run / "interventions" / "blur").exists()
    out = _fail("intervene", run, "--fills", "smear")
    assert "unknown fill 'smear'" in out
    m = json.loads((run / "manifest.json").read_text())
    m["model"]["fingerprint"] = "another-model"
    store.write_json(run / "manifest.json", m)
    out = _fail("intervene", run, "--fills", "blur", "--no-progress")
    assert "--allow-model-change" in out and "another-model" in out
    _cli("intervene", run, "--fills", "blur", "--conditions", "none,cited", "--limit", "2", "--allow-model-change",
         "--no-progress")  # fmt: skip
    # planned on other scores (here: a sample's answer changed) -> refused, --fresh starts again
    gens = [json.loads(x) for x in (run / "generations.jsonl").read_text().splitlines()]
    gens[0]["text"] = "<answer> anger </answer>"
    store.write_jsonl(run / "generations.jsonl", gens)
    _cli("score", run, "--n-resamples", "200")
    out = _fail("intervene", run, "--fills", "blur", "--allow-model-change", "--no-progress")
    assert "--fresh" in out and "planned on other scores" in out


class _Interrupting(FaithfulProbe):
    """probe-faithful that raises KeyboardInterrupt (what Ctrl-C does) at its Nth request, when armed."""

    name = "interrupting-probe"
    armed: int | None = None

    def generate(self, requests):
        if type(self).armed is not None:
            type(self).armed -= len(requests)
            if type(self).armed < 0:
                raise KeyboardInterrupt
        return super().generate(requests)


def test_an_interrupted_stage_keeps_its_answers_and_resumes(data, tmp_path):
    register_adapter("interrupting-probe", _Interrupting)
    run = _run(data, tmp_path / "run", "interrupting-probe")
    _Interrupting.armed = 30
    with pytest.raises(KeyboardInterrupt):
        intervene(run, fills=["blur"], progress=False, n_resamples=200)
    _Interrupting.armed = None
    manifest = RunDir(run).read_manifest()
    assert manifest.interventions is not None and manifest.interventions.sets[0].status == "interrupted"
    assert not (run / "interventions" / "blur" / "metrics.json").exists()
    calls = []
    result = intervene(
        run, fills=["blur"], progress=False, n_resamples=200, on_plan=lambda p: calls.append(p.calls)
    )
    assert calls == [200 - 30] and result.model_calls == 170  # 40 x 5, less the 30 answered before Ctrl-C
    assert RunDir(run).read_manifest().interventions.sets[0].status == "complete"  # type: ignore[union-attr]


def test_per_au_conditions_attribute_flips_to_single_aus(faithful, tmp_path):
    run = Path(shutil.copytree(faithful, tmp_path / "run"))
    out = _cli("intervene", run, "--fills", "mean", "--per-au", "--no-progress")
    assert "mean/drop:AU" in out
    summary = json.loads((run / "interventions" / "summary.json").read_text())
    per_au = summary["fills"][0]["per_au"]
    assert per_au and sum(a["n"] for a in per_au) == 40  # the probe cites one AU per sample
    # one AU per sample: leaving it out is filling every cited box, so it flips as often as cited
    cited = _fill_metrics(run, "mean")["metrics"]["cited_flip_rate"]["value"]
    assert sum(a["flips"] for a in per_au) / 40 == pytest.approx(cited)


# --------------------------------------------------------------------------------------------------
# Outputs from elsewhere: export and import


def test_a_replayed_run_is_refused_then_exported_answered_and_imported(data, tmp_path):
    direct = _run(data, tmp_path / "direct", "probe-unfaithful")
    _cli("intervene", direct, "--fills", "blur", "--no-progress")
    preds = tmp_path / "preds.jsonl"
    store.write_jsonl(preds, [{"id": g["sample_id"], "response": g["text"]}
                              for g in map(json.loads, (direct / "generations.jsonl").read_text().splitlines())])  # fmt: skip
    replay = tmp_path / "replay"
    _cli("score", "--task", "rafdb_basic_test", "--predictions", preds, "--data-root", data, "--out", replay,
         "--au-reference", "none", "--frame", "pixel", "--n-resamples", "200")  # fmt: skip
    assert "--export DIR" in _fail("intervene", replay, "--fills", "blur")
    out = _cli("intervene", replay, "--fills", "blur", "--export", tmp_path / "exported")
    assert "wrote 200 intervened images" in out
    lines = [json.loads(x) for x in (tmp_path / "exported" / "predictions.jsonl").read_text().splitlines()]
    assert {(x["condition"], x["fill"]) for x in lines} == {("none", None)} | {
        (c, "blur") for c in ("cited", "control", "habitual", "keep")
    }
    # answer the exported images elsewhere: here, the same probe reading the PNG files
    adapter = get_model(
        "probe-unfaithful", {}, AdapterContext(classes=RunDir(replay).read_manifest().task.classes)
    )
    for x in lines:
        with Image.open(tmp_path / "exported" / x["image"]) as im:
            req = GenerationRequest(sample_id=x["id"], image=im.convert("RGB"), prompt=x["prompt"])
            x["response"] = adapter.generate([req])[0].text
    lines[0]["response"] = None  # one image left unanswered: that sample is left untested
    store.write_jsonl(tmp_path / "answers.jsonl", lines)
    out = _cli("intervene", replay, "--predictions", tmp_path / "answers.jsonl")
    assert "faithfulness_gap" in out
    imported, asked = _fill_metrics(replay, "blur"), _fill_metrics(direct, "blur")
    assert imported["metrics"]["intervention_coverage"]["value"] == pytest.approx(39 / 40)
    assert "no answer under none" in json.loads((replay / "interventions" / "summary.json").read_text())[
        "fills"][0]["untested"]  # fmt: skip
    # the same answers as tag-bench's own re-asking, on one sample fewer
    assert (
        asked["metrics"]["cited_flip_rate"]["value"] == 0.0 == imported["metrics"]["cited_flip_rate"]["value"]
    )
    found = {o.sample_id: o for o in RunDir(replay).read_intervention_outcomes("blur")}
    ref = {o.sample_id: o for o in RunDir(direct).read_intervention_outcomes("blur")}
    for sid, o in found.items():
        if o.tested:
            assert {c: a.pred for c, a in o.answers.items()} == {
                c: a.pred for c, a in ref[sid].answers.items()
            }
    assert RunDir(replay).read_manifest().interventions.sets[0].source == "predictions"  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------------
# Reports


def test_leaderboard_compare_plot_and_report_show_the_sets(faithful, data, tmp_path):
    pf = Path(shutil.copytree(faithful, tmp_path / "pf"))
    pu = _run(data, tmp_path / "pu", "probe-unfaithful")
    for run in (pf, pu):
        _cli("intervene", run, "--fills", "blur,mean", "--no-progress")
    board = _cli("leaderboard", pf, pu, "--spec", "faithfulness")
    assert (
        "fill blur" in board
        and "fill mean" in board
        and "Faithfulness gap" in board
        and "Specificity gap" in board
    )
    row = next(line for line in board.splitlines() if line.startswith("| probe-faithful"))
    assert row.count("[") >= 4  # intervals on both gaps of both fills
    # compare gates the gaps of each fill: the unfaithful probe is a regression of the faithful one
    r = CliRunner().invoke(main, ["compare", str(pf), str(pu)])
    assert r.exit_code == 1 and "rafdb_basic_test (fill blur) faithfulness_gap" in r.output, r.output
    # a fill NEW has not run is "not run", with the command
    only_blur = _run(data, tmp_path / "pu2", "probe-unfaithful")
    _cli("intervene", only_blur, "--fills", "blur", "--no-progress")
    r = CliRunner().invoke(main, ["compare", str(pf), str(only_blur), "--metrics", "faithfulness_gap"])
    assert r.exit_code == 1 and f"tag-bench intervene {only_blur} --fills mean" in r.output, r.output
    # the figure
    figs = tmp_path / "figs"
    _cli("plot", pf, pu, "--kind", "intervention", "--out", figs)
    assert (figs / "intervention-probe-faithful-rafdb_basic_test.png").is_file()
    # the HTML report: the faithfulness board and the thumbnails' data
    from tag_bench.report.html import write_report

    rep = write_report([pf, pu], tmp_path / "report.html")
    page = rep.path.read_text()
    assert "Faithfulness by intervention" in page
    data_json = json.loads(
        page.split('<script type="application/json" id="tb-data">')[1].split("</script>")[0]
    )
    fields = data_json["sample_fields"]
    first = dict(zip(fields, data_json["runs"][0]["samples"][0], strict=True))
    conditions = [row[1] for row in first["interventions"]]
    assert conditions == [
        "none",
        "cited",
        "control",
        "habitual",
        "keep",
        "cited",
        "control",
        "habitual",
        "keep",
    ]


# --------------------------------------------------------------------------------------------------
# The loopback server and the tiny Qwen2.5-VL


def _one_box_reply(body: dict) -> str:
    """The server's deterministic label (from the prompt), citing one mouth box in the image it was sent."""
    w, h = image_sizes(body)[0]
    label = expected_label(message_text(body))
    box = [round(0.3 * w), round(0.66 * h), round(0.7 * w), round(0.8 * h)]
    return f"Inspect mouth → lip corners (AU12) → <bbox>[{','.join(map(str, box))}]</bbox>\n<answer> {label} </answer>"


def test_the_openai_adapter_against_the_loopback_server(raf_train_tasks, raf_root, tmp_path, monkeypatch):
    monkeypatch.setenv("TAG_BENCH_TEST_KEY", "sk-loopback")
    with ChatServer(reply=_one_box_reply) as server:
        run = tmp_path / "run"
        _cli("run", "--model", "openai", "--model-args",
             f"model=tiny-chat,base_url={server.base_url},api_key_env=TAG_BENCH_TEST_KEY", "--tasks", "raf_train_small",
             "--tasks-dir", raf_train_tasks, "--data-root", raf_root, "--out", run, "--au-reference", "none",
             "--no-progress", "--n-resamples", "200")  # fmt: skip
        before = len(server.requests)
        out = _cli("intervene", run, "--fills", "blur", "--no-progress")
        calls = int(out.split("model calls: ")[1].split()[0])
        made = int(out.split("answered: ")[1].split()[0])
        cached = int(out.split("model calls, ")[1].split()[0])
        assert made + cached == calls and len(server.requests) - before == made
        # every sample cites the same mouth box, so another sample's box (habitual) fills the same pixels as
        # cited: the generation cache answers those (the same image, the same question)
        assert cached == 14
        # none is asked again although the generation cache holds the run's answers: its non-determinism
        assert "14 of 14 samples tested" in out and calls == 5 * 14
        assert "model calls: 0" in _cli("intervene", run, "--fills", "blur", "--no-progress")
    m = _fill_metrics(run, "blur")
    assert m["metrics"]["none_flip_rate"]["value"] == 0.0  # the server's answer depends on the prompt only
    assert "openai adapter cannot score text" in m["not_computed"]["answer_logprob_drop_cited"]


def test_tiny_qwen_plumbing_and_answer_log_probabilities(raf_train_tasks, raf_root, tiny_qwen, tmp_path):
    run = tmp_path / "run"
    _cli("run", "--model", "hf", "--model-args", f"pretrained={tiny_qwen}", "--tasks", "raf_train_small",
         "--tasks-dir", raf_train_tasks, "--data-root", raf_root, "--out", run, "--au-reference", "none", "--limit", "3",
         "--gen-kwargs", "max_new_tokens=6", "--no-progress", "--n-resamples", "200")  # fmt: skip
    out = _cli("intervene", run, "--fills", "blur", "--no-progress")
    assert "0 of 3 samples tested" in out and "model calls: 0" in out  # it never answers with a box
    reason = _fill_metrics(run, "blur")["not_computed"]["faithfulness_gap"]
    assert reason.startswith("no tested sample (3 untested: ")
    # give the run answers with boxes (as a model that answers would): the stage re-asks the tiny model and
    # scores the original answers' log-probabilities with it (hf can score text)
    gens = [json.loads(x) for x in (run / "generations.jsonl").read_text().splitlines()]
    for g in gens:
        g["text"] = ("Inspect mouth → lips parted (AU25) → <bbox>[10,40,60,70]</bbox>\n"
                     "Final conclusion: a dominant emotion of happiness.\n<answer> happiness </answer>")  # fmt: skip
        g["frame"] = "pixel"
    store.write_jsonl(run / "generations.jsonl", gens)
    _cli("score", run, "--n-resamples", "200")
    out = _cli(
        "intervene", run, "--fills", "blur", "--conditions", "none,cited,control", "--fresh", "--no-progress"
    )
    assert "3 of 3 samples tested" in out and "answer scoring requests: 9" in out
    m = _fill_metrics(run, "blur")
    for name in (
        "answer_logprob_drop_cited",
        "answer_only_logprob_drop_cited",
        "answer_logprob_drop_control",
    ):
        v = m["metrics"][name]
        assert v["value"] is not None and np.isfinite(v["value"]) and v["n"] == 3, (
            name,
            m["not_computed"].get(name),
        )
    assert m["metrics"]["answer_logprob_drop_keep"]["value"] is None  # keep was not asked
    scores = store.read_records(run / "interventions" / "none" / "scores.jsonl", AnswerScore)
    assert all(s.logprob is not None and s.logprob < 0 for s in scores)


def test_the_report_shows_original_and_intervened_thumbnails_in_chromium(faithful, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "Chromium is not installed (apt-get install chromium)"
        )
    playwright = pytest.importorskip("playwright.sync_api")
    from tag_bench.report.html import write_report

    run = Path(shutil.copytree(faithful, tmp_path / "pf"))
    _cli("intervene", run, "--fills", "blur", "--no-progress")
    out = write_report([run], tmp_path / "report.html")
    outcomes = {o.sample_id: o for o in RunDir(run).read_intervention_outcomes("blur")}
    first = next(iter(outcomes))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(out.path.resolve().as_uri())
        page.click(f'.tb-card[data-id="{first}"]')
        strip = page.locator("#tb-detail .interventions figure.iv")
        captions = [strip.nth(i).locator("figcaption").inner_text() for i in range(strip.count())]
        sources = [strip.nth(i).locator("img").get_attribute("src") for i in range(strip.count())]
        flipped = page.locator("#tb-detail .interventions figure.iv.flip").count()
        browser.close()
    o = outcomes[first]
    assert [c.split("\n")[0] for c in captions] == [
        "original",
        "none (asked again)",
        "cited",
        "control",
        "habitual",
        "keep",
    ]
    assert all(src and src.startswith("data:image/jpeg;base64,") for src in sources)
    assert len(set(sources[1:])) == 5  # none (the original, smaller) and four different intervened images
    answers = [c.split("\n")[1].replace("flip", "").strip() for c in captions]
    assert answers[2:] == [
        o.answers[c].pred or f"({o.answers[c].status})" for c in ("cited", "control", "habitual", "keep")
    ]
    assert flipped == sum(a.flip for c, a in o.answers.items() if c != "none") + o.answers["none"].flip
    assert errors == []


def test_a_gap_every_sample_gives_alike_gets_newcombe_not_a_zero_width_interval(tmp_path):
    """probe-faithful on 12 generated faces with a MediaPipe reference: every tested sample flips under
    cited and none under control, so every paired resample gives a gap of 100 points; the interval must
    still have width (Newcombe's, as for random's 0)."""
    data = write_scaled_fixtures(tmp_path / "data", n=60)["rafdb"]
    run = tmp_path / "run"
    _cli("run", "--model", "probe-faithful", "--tasks", "rafdb_basic_test", "--data-root", data, "--out", run,
         "--no-progress", "--n-resamples", "200")  # fmt: skip
    _cli("intervene", run, "--fills", "mean", "--no-progress")
    (test,) = [t for t in json.loads((run / "interventions" / "summary.json").read_text())["tests"]
               if t["metric"] == "faithfulness_gap"]  # fmt: skip
    assert test["n"] > 0 and test["cited_only"] == test["n"] and test["other_only"] == 0, test
    gap = _fill_metrics(run, "mean")["metrics"]["faithfulness_gap"]
    assert gap["value"] == 1.0 and gap["ci_method"] == "newcombe-paired", gap
    assert gap["ci_low"] < 1.0 and gap["ci_high"] == 1.0, gap
