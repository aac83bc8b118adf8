"""`tag-bench compare`: the regression gate on real scored runs (exit codes, statistics, outputs).

The runs are built the way a user builds them: a generated RAF-DB / FERPlus copy (a few hundred test
images), predictions written as TAG traces with known right and wrong answers and boxes, scored with
`tag-bench score --predictions` against an AU reference JSONL. Large enough for real significance.
"""

from __future__ import annotations

import json
import random
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench import store
from tag_bench._cli.main import main
from tag_bench.facs import EMFACS_PROTOTYPES
from tag_bench.metrics.stats import holm
from tag_bench.report.compare import CompareError, compare_runs, default_metrics, resamples_needed
from tag_bench.rundir import RunDir
from tag_bench.schema import AUReference, AUState
from tag_bench.scoring.metric_table import spec
from tag_bench.tasks import load_task

TASKS = ("rafdb_basic_test", "ferplus_test")
REF_ID = "synthetic-regions@1"
#: the AUs a synthetic model cites for each answer, and the reference marks active for each gold label
EVIDENCE = {e: sorted(v[0]) or ["AU25"] for e, v in EMFACS_PROTOTYPES.items()}
#: one 20 x 20 region per AU on a 4 x 4 grid of a 100 x 100 face (scaled for FERPlus's 48 x 48)
REGIONS = {
    au: (5 + 25 * (k % 4), 5 + 25 * (k // 4), 25 + 25 * (k % 4), 25 + 25 * (k // 4))
    for k, au in enumerate(sorted({a for aus in EVIDENCE.values() for a in aus}, key=lambda a: int(a[2:])))
}


@dataclass
class Model:
    """What a synthetic model answers: per sample index, right or wrong, good or displaced boxes."""

    correct: list[bool]
    good_boxes: list[bool]
    boxes: bool = True


def _response(label: str, size: int, good: bool, boxes: bool) -> str:
    """A TAG trace answering ``label`` and citing its prototype AUs, with boxes on their regions (or
    moved off them)."""
    k = size / 100
    steps = []
    for au in EVIDENCE[label]:
        x1, y1, x2, y2 = REGIONS[au]
        dx = 0 if good else (50 if x1 < 50 else -50)
        box = ",".join(str(round(v * k)) for v in (x1 + dx, y1, x2 + dx, y2))
        steps.append(
            f"Inspect the face → {au} is visible ({au})" + (f" → <bbox>[{box}]</bbox>" if boxes else "")
        )
    return "\n".join(
        ["Global analysis: a face.", "Verification loop:", *steps, f"<answer> {label} </answer>"]
    )


class World:
    """Generated datasets, the AU reference file, and a helper that scores a model's predictions."""

    def __init__(self, root: Path):
        from tag_bench.testing.fixtures import write_scaled_fixtures

        self.root = root
        self.data = write_scaled_fixtures(root / "data", n=1500)
        self.samples = {t: load_task(t).load(self.data[t.split("_")[0]]).samples for t in TASKS}
        self.classes = {t: load_task(t).classes for t in TASKS}
        self.size = {"rafdb_basic_test": 100, "ferplus_test": 48}
        self.refs = root / "references.jsonl"
        with open(self.refs, "w") as f:
            for t in TASKS:
                k = self.size[t] / 100
                for s in self.samples[t]:
                    active = set(EVIDENCE[s.label])
                    aus = {au: AUState(score=0.9 if au in active else 0.1, active=au in active,
                                       box=[v * k for v in box]) for au, box in REGIONS.items()}  # fmt: skip
                    ref = AUReference(reference_id=REF_ID, detector="synthetic", version="1", status="ok",
                                      threshold=0.5, sample_id=s.id, aus=aus)  # fmt: skip
                    f.write(ref.model_dump_json() + "\n")

    def model(self, task: str, seed: int = 0, accuracy: float = 0.6) -> Model:
        rng = random.Random(f"{task}/{seed}")
        n = len(self.samples[task])
        return Model([rng.random() < accuracy for _ in range(n)], [rng.random() < 0.8 for _ in range(n)])

    def score(self, name: str, task: str, model: Model, *args: str) -> Path:
        classes = self.classes[task]
        rows = []
        for i, s in enumerate(self.samples[task]):
            label = s.label if model.correct[i] else classes[(classes.index(s.label) + 1) % len(classes)]
            rows.append(
                {"id": s.id, "response": _response(label, self.size[task], model.good_boxes[i], model.boxes)}
            )
        preds = self.root / "predictions" / f"{name}.jsonl"
        preds.parent.mkdir(exist_ok=True)
        preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
        out = self.root / "runs" / name / task
        r = CliRunner().invoke(main, ["score", "--task", task, "--data-root", str(self.data[task.split("_")[0]]),
                                      "--predictions", str(preds), "--frame", "pixel", "--au-reference",
                                      str(self.refs), "--out", str(out), "--n-resamples", "0", "--no-progress",
                                      *args])  # fmt: skip
        assert r.exit_code == 0, r.output
        return out


def flip(values: list[bool], frm: bool, count: int, seed: int = 1) -> list[bool]:
    """``count`` entries equal to ``frm`` turned into ``not frm`` (seeded)."""
    idx = [i for i, v in enumerate(values) if v == frm]
    out = list(values)
    for i in random.Random(seed).sample(idx, count):
        out[i] = not frm
    return out


def swap(values: list[bool], count: int) -> list[bool]:
    """``count`` right answers made wrong and ``count`` wrong ones made right: the same accuracy."""
    worse, better = flip(values, True, count), flip(values, False, count)
    return [w if v else b for v, w, b in zip(values, worse, better, strict=True)]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("compare"))


@pytest.fixture(scope="module")
def runs(world: World) -> dict[str, Path]:
    """Folders of runs (one per task): base, regressed, improved, nochange, nobox."""
    out = {}
    for task in TASKS:
        base = world.model(task)
        n = len(base.correct)
        variants = {
            "base": base,
            "regressed": Model(flip(base.correct, True, n // 6), base.good_boxes),
            "improved": Model(flip(base.correct, False, n // 6), base.good_boxes),
            # as many new errors as new successes: accuracy unchanged, different samples right
            "nochange": Model(swap(base.correct, 4), base.good_boxes),
            "nobox": Model(base.correct, base.good_boxes, boxes=False),
        }
        for name, model in variants.items():
            out[name] = world.score(name, task, model).parent
    return out


def compare(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["compare", *map(str, args)], env=env)


def compare_json(*args: str) -> tuple[int, dict]:
    r = compare(*args, "--json")
    assert r.exit_code in (0, 1), r.output
    return r.exit_code, json.loads(r.stdout)


def rows(result: dict) -> dict[tuple[str, str], dict]:
    return {(m["task"], m["metric"]): m for t in result["tasks"] for m in t["metrics"]}


# --------------------------------------------------------------------------------------------------
# Exit codes and verdicts


def test_constructed_regression_exits_1(runs):
    code, result = compare_json(runs["base"], runs["regressed"])
    assert code == 1
    r = rows(result)
    for task in TASKS:
        acc = r[(task, "accuracy")]
        assert acc["verdict"] == "regressed" and acc["diff"] < 0 and acc["test"] == "mcnemar"
        assert acc["ci_high"] < 0  # the whole CI of NEW - BASE is below 0
        # the boxes are as good as before; wrong answers cite AUs the reference marks inactive
        assert r[(task, "au_box_iou")]["verdict"] == "no significant change"
        # lower is better: more hallucinated AUs is a regression
        hall = r[(task, "hallucinated_au_rate")]
        assert hall["diff"] > 0 and not hall["higher_is_better"] and hall["verdict"] == "regressed"
    assert {t["task"] for t in result["tasks"]} == set(TASKS)
    # the Holm family: every row with a p-value and a verdict (informational usage rows have neither)
    assert result["n_comparisons"] == sum(1 for m in r.values() if m["p_value"] is not None and m["gated"])


def test_constructed_improvement_exits_0(runs):
    code, result = compare_json(runs["base"], runs["improved"])
    assert code == 0
    r = rows(result)
    assert all(r[(t, "accuracy")]["verdict"] == "improved" for t in TASKS)
    # lower is better: fewer hallucinated AUs is an improvement
    assert all(r[(t, "hallucinated_au_rate")]["diff"] < 0 for t in TASKS)
    assert all(r[(t, "hallucinated_au_rate")]["verdict"] == "improved" for t in TASKS)
    assert not any(m["verdict"] == "regressed" for m in r.values())


def test_no_change_pair_exits_0(runs):
    code, result = compare_json(runs["base"], runs["nochange"])
    assert code == 0
    r = rows(result)
    for task in TASKS:
        acc = r[(task, "accuracy")]
        assert acc["diff"] == pytest.approx(0.0) and acc["verdict"] == "no significant change"
        mc = next(t for t in result["tasks"] if t["task"] == task)["mcnemar"]
        assert mc["new_only_correct"] == mc["base_only_correct"] == 4 and mc["p_value"] == pytest.approx(1.0)
    assert {m["verdict"] for m in r.values()} <= {"no significant change", "not computed", "informational"}


def test_a_regression_within_its_tolerance_passes(world, runs, tmp_path):
    task = "rafdb_basic_test"
    base = world.model(task)
    n = len(base.correct)
    small = world.score("small-drop", task, Model(flip(base.correct, True, 12), base.good_boxes))
    drop = 12 / n
    code, result = compare_json(runs["base"] / task, small, "--metrics", "accuracy")
    assert code == 1 and rows(result)[(task, "accuracy")]["verdict"] == "regressed"
    assert rows(result)[(task, "accuracy")]["diff"] == pytest.approx(-drop)
    code, result = compare_json(runs["base"] / task, small, "--metrics", "accuracy", "--max-drop",
                                f"accuracy={drop + 0.01:.3f}")  # fmt: skip
    acc = rows(result)[(task, "accuracy")]
    assert code == 0 and acc["verdict"] == "within tolerance" and acc["significant"]
    assert acc["tolerance"] == pytest.approx(round(drop + 0.01, 3))
    r = compare(
        runs["base"] / task, small, "--metrics", "accuracy", "--max-drop", f"accuracy={drop - 0.01:.3f}"
    )
    assert r.exit_code == 1 and "regressed (max drop" in r.stdout


def test_different_sample_sets_are_refused_unless_intersect(world, runs):
    task = "rafdb_basic_test"
    base = world.model(task)
    n = len(base.correct)
    limited = world.score("limited", task, base, "--limit", str(n - 50))
    r = compare(runs["base"] / task, limited)
    assert r.exit_code == 2
    assert (
        f"BASE has {n:,} samples, NEW {n - 50:,}: {n - 50:,} shared, 50 only in BASE, 0 only in NEW"
        in r.output
    )
    assert "--intersect" in r.output and "Traceback" not in r.output
    code, result = compare_json(runs["base"] / task, limited, "--intersect")
    assert code == 0
    t = result["tasks"][0]
    assert t["intersected"] and t["n"] == n - 50 and (t["n_base"], t["n_new"]) == (n, n - 50)
    assert rows(result)[(task, "accuracy")]["diff"] == pytest.approx(0.0)
    assert any("shared samples only" in w for w in result["warnings"])


def test_an_incomplete_run_is_refused_unless_allowed(runs, tmp_path):
    task = "rafdb_basic_test"
    interrupted = tmp_path / "interrupted"
    shutil.copytree(runs["nochange"] / task, interrupted)
    RunDir(interrupted).set_status("interrupted")
    r = compare(runs["base"] / task, interrupted)
    assert r.exit_code == 2
    assert "incomplete (interrupted)" in r.output and "--allow-incomplete" in r.output
    r = compare(runs["base"] / task, interrupted, "--allow-incomplete")
    assert r.exit_code == 0, r.output
    assert "INCOMPLETE: interrupted" in r.stdout and "incomplete (interrupted)" in r.stderr


def test_a_metric_not_computed_on_one_side_is_reported_never_zero(runs):
    code, result = compare_json(runs["base"], runs["nobox"])
    r = rows(result)
    for task in TASKS:
        iou = r[(task, "au_box_iou")]
        assert iou["verdict"] == "vanished" and iou["value_new"] is None and iou["diff"] is None
        assert iou["value_base"] is not None and iou["p_value"] is None and iou["p_holm"] is None
        assert iou["reason"].startswith("not computed in NEW:") and "box claims" in iou["reason"]
        # losing every box is a regression of the box rate, and the gate says so
        assert r[(task, "box_rate")]["verdict"] == "regressed" and r[(task, "box_rate")]["value_new"] == 0.0
    assert code == 1


def test_the_gate_fails_when_a_gated_metric_vanishes(runs, tmp_path):
    """Issue 18, 2: NEW stopped citing boxes; `compare --metrics accuracy,au_box_iou --max-drop au_box_iou=0.02`
    used to exit 0 with "OK: nothing regressed", listing au_box_iou only as "not computed"."""
    junit = tmp_path / "gate.xml"
    args = ("--metrics", "accuracy,au_box_iou", "--max-drop", "au_box_iou=0.02")
    r = compare(runs["base"], runs["nobox"], *args, "--junit", junit)
    assert r.exit_code == 1, r.output
    assert "OK: nothing regressed" not in r.stdout and "REGRESSED" in r.stdout
    assert "au_box_iou vanished" in r.stdout and "gone from NEW" in r.stdout
    failures = ET.parse(junit).getroot().findall(".//testcase[@name='au_box_iou']/failure")
    assert len(failures) == len(TASKS) and all(f.get("type") == "vanished" for f in failures)
    # opting out reports it and passes
    r = compare(runs["base"], runs["nobox"], *args, "--allow-missing")
    assert r.exit_code == 0 and "Allowed to be missing (--allow-missing)" in r.stdout
    # not computed on both sides is no verdict at all: nothing vanished
    r = compare(runs["nobox"], runs["nobox"], *args)
    assert r.exit_code == 0 and "vanished" not in r.stdout.split("Δ = NEW")[0]


# --------------------------------------------------------------------------------------------------
# Statistics


def test_holm_runs_across_tasks_and_metrics_on_the_raw_p_values(runs):
    _, result = compare_json(runs["base"], runs["regressed"], "--metrics", "all")
    tested = [m for m in rows(result).values() if m["p_value"] is not None and m["gated"]]
    assert len({m["task"] for m in tested}) == 2 and len(tested) == result["n_comparisons"]
    expected = holm([m["p_value"] for m in tested])
    assert [m["p_holm"] for m in tested] == pytest.approx(list(expected))
    assert any(m["metric"].startswith("recall/") for m in tested)
    # the family is every task x metric: more than one task's own Holm family
    per_task = max(sum(m["task"] == t for m in tested) for t in TASKS)
    assert result["n_comparisons"] > per_task
    for m in tested:
        assert m["significant"] == (m["p_holm"] <= result["alpha"])


def test_mcnemar_p_for_accuracy_is_the_exact_binomial_test(runs):
    stats = pytest.importorskip("scipy.stats")
    _, result = compare_json(runs["base"], runs["regressed"])
    for t in result["tasks"]:
        mc = t["mcnemar"]
        b, c = mc["base_only_correct"], mc["new_only_correct"]
        assert b > 0 and c == 0
        acc = next(m for m in t["metrics"] if m["metric"] == "accuracy")
        expected = stats.binomtest(b, b + c, 0.5).pvalue
        assert acc["p_value"] == pytest.approx(expected, rel=1e-9) and mc["p_value"] == acc["p_value"]
        assert acc["test"] == "mcnemar"
        # every share of all samples is tested the same exact way
        for m in t["metrics"]:
            if m["metric"] in ("parse_failure_rate", "missing_rate", "box_rate") and m["p_value"] is not None:
                assert m["test"] == "mcnemar", m["metric"]


def test_differences_read_new_minus_base_and_match_the_runs_metrics(runs):
    _, result = compare_json(runs["base"], runs["improved"])
    for t in result["tasks"]:
        base = RunDir(t["base_run"]).read_metrics().metrics
        new = RunDir(t["new_run"]).read_metrics().metrics
        for m in t["metrics"]:
            assert m["value_base"] == pytest.approx(base[m["metric"]].value)
            assert m["value_new"] == pytest.approx(new[m["metric"]].value)
            if m["diff"] is not None:
                assert m["diff"] == pytest.approx(m["value_new"] - m["value_base"])
                assert m["ci_low"] <= m["diff"] + 1e-12 and m["diff"] - 1e-12 <= m["ci_high"]


def test_default_resamples_let_a_clear_effect_pass_holm(runs):
    _, result = compare_json(runs["base"], runs["regressed"])
    family = len(TASKS) * sum(spec(name).ranked for name in default_metrics())
    assert result["n_resamples"] == max(1000, resamples_needed(family, 0.05))
    assert 2 / (result["n_resamples"] + 1) * family <= 0.05 / 2 + 1e-12
    r = compare(runs["base"], runs["regressed"], "--n-resamples", "200")
    assert r.exit_code == 1 and "no metric tested by the bootstrap can come out significant" in r.stderr


# --------------------------------------------------------------------------------------------------
# Matching runs, names, usage errors


def test_a_task_base_has_and_new_lacks_fails_the_gate(runs, tmp_path):
    """Issue 18, 2: a task present in BASE and absent from NEW used to exit 0."""
    code, result = compare_json(runs["base"], runs["improved"] / "rafdb_basic_test")
    assert code == 1 and [t["task"] for t in result["tasks"]] == ["rafdb_basic_test"]
    assert result["only_in_base"] == ["ferplus_test"] and result["only_in_new"] == []
    r = compare(runs["base"], runs["improved"] / "rafdb_basic_test")
    assert r.exit_code == 1
    assert "Only in BASE (vanished from NEW: this fails the gate): ferplus_test" in r.stdout
    assert "Tasks BASE has and NEW lacks: ferplus_test" in r.stdout
    r = compare(runs["base"], runs["improved"] / "rafdb_basic_test", "--allow-missing")
    assert r.exit_code == 0 and "allowed by --allow-missing" in r.stdout
    # a task only NEW has is new, not a failure
    r = compare(runs["base"] / "rafdb_basic_test", runs["improved"])
    assert r.exit_code == 0 and "Only in NEW, not compared: ferplus_test" in r.stdout
    r = compare(runs["base"] / "ferplus_test", runs["regressed"] / "rafdb_basic_test")
    assert r.exit_code == 2 and "no task in common" in r.output


def test_runs_scored_against_different_references_are_refused(world, runs, tmp_path):
    task = "rafdb_basic_test"
    other = world.score("no-reference", task, world.model(task), "--au-reference", "none", "--overwrite")
    r = compare(runs["base"] / task, other)
    assert r.exit_code == 2
    assert f"AU reference '{REF_ID}'" in r.output and "none (scored without one)" in r.output
    assert "--au-reference" in r.output
    # a run re-scored without the reference keeps its earlier scores: the message says how to reuse them
    rescored = tmp_path / "rescored"
    shutil.copytree(runs["nochange"] / task, rescored)
    assert (
        CliRunner()
        .invoke(main, ["score", str(rescored), "--au-reference", "none", "--n-resamples", "0"])
        .exit_code
        == 0
    )
    r = compare(runs["base"] / task, rescored)
    hint = f"tag-bench score {rescored} --au-reference {REF_ID}"
    assert r.exit_code == 2 and hint in r.output
    assert CliRunner().invoke(main, [*hint.split()[1:], "--n-resamples", "0"]).exit_code == 0
    assert compare(runs["base"] / task, rescored).exit_code == 0


def test_runs_of_another_task_version_are_refused(world, tmp_path):
    base_dir, new_dir = tmp_path / "v1", tmp_path / "v2"
    spec = load_task("rafdb_basic_test")
    for folder, version in ((base_dir, 1), (new_dir, 2)):
        folder.mkdir()
        (folder / "mytask.yaml").write_text(
            f"name: cmp_raf\nversion: {version}\ndataset: rafdb\nsplit: test\nprotocol: rafdb-basic-7\n"
            f"classes: [{', '.join(spec.classes)}]\nprompt: tag_grounded\nloader: {{variant: aligned}}\n"
        )
    world.samples["cmp_raf"], world.classes["cmp_raf"] = world.samples[spec.name], world.classes[spec.name]
    world.size["cmp_raf"] = 100
    world.data["cmp"] = world.data["rafdb"]
    model = world.model(spec.name)
    a = world.score("v1", "cmp_raf", model, "--tasks-dir", str(base_dir))
    b = world.score("v2", "cmp_raf", model, "--tasks-dir", str(new_dir))
    r = compare(a, b)
    assert r.exit_code == 2 and "task version 1" in r.output and "has 2" in r.output


def test_unknown_names_and_bad_tolerances_exit_2_with_close_matches(runs):
    r = compare(runs["base"], runs["regressed"], "--metrics", "accuracy,au_box_io")
    assert r.exit_code == 2 and "unknown metric 'au_box_io'" in r.output and "au_box_iou" in r.output
    r = compare(runs["base"], runs["regressed"], "--metrics", "recall/angr")
    assert r.exit_code == 2 and "recall/anger" in r.output
    r = compare(runs["base"], runs["regressed"], "--max-drop", "acuracy=0.01")
    assert r.exit_code == 2 and "did you mean accuracy" in r.output
    r = compare(runs["base"], runs["regressed"], "--max-drop", "accuracy=1")
    assert r.exit_code == 2 and "accuracy=0.01" in r.output
    r = compare(runs["base"], runs["regressed"], "--max-drop", "accuracy")
    assert r.exit_code == 2 and "key=value" in r.output
    r = compare(runs["base"], runs["base"] / "missing")
    assert r.exit_code == 2


def test_a_negative_tolerance_gets_its_own_message(runs):
    """Issue 18: `--max-drop accuracy=-0.01` suggested "accuracy=0.0001"; the fix is the absolute value."""
    r = compare(runs["base"], runs["regressed"], "--max-drop", "accuracy=-0.01")
    assert r.exit_code == 2
    assert "never negative" in r.output and "did you mean accuracy=0.01?" in r.output, r.output
    assert "0.0001" not in r.output
    with pytest.raises(CompareError, match="never negative"):
        compare_runs(runs["base"], runs["regressed"], max_drop={"latency_mean_s": -0.5})


def test_the_method_note_names_every_metric_tested_by_mcnemar(runs):
    """Issue 18: the footer said "McNemar for accuracy" while McNemar tests every share of all samples."""
    from tag_bench.report.compare_format import method_note
    from tag_bench.scoring.aggregate import mcnemar_metric_names

    names = mcnemar_metric_names()
    assert names == ["accuracy", "parse_failure_rate", "invalid_label_rate", "error_rate", "missing_rate",
                     "box_rate", "reference_coverage", "intervention_coverage"]  # fmt: skip
    result = compare_runs(runs["base"], runs["regressed"])
    tested = {m.metric for m in result.rows() if m.test == "mcnemar"}
    # the note and the tests agree (intervention_coverage is compared per intervention fill: these runs have none)
    assert tested == set(names) - {"intervention_coverage"}
    note = method_note(result)
    named = ", ".join(n for n in names if n in tested)
    assert f"exact McNemar test for {named} (shares of all samples" in note, note
    assert "paired bootstrap otherwise" in note
    only = compare_runs(runs["base"], runs["regressed"], metrics=["au_box_iou"])
    assert "McNemar" not in method_note(only) and "p: paired bootstrap;" in method_note(only)


def test_per_class_metrics_can_be_chosen(runs):
    _, result = compare_json(runs["base"], runs["regressed"], "--metrics", "recall/contempt,f1/anger")
    r = rows(result)
    # contempt is a FERPlus class only: on RAF-DB it is reported as not a metric of the task
    assert r[("rafdb_basic_test", "recall/contempt")]["verdict"] == "not computed"
    assert "not a metric of task rafdb_basic_test" in r[("rafdb_basic_test", "recall/contempt")]["reason"]
    assert "not a metric" not in (r[("ferplus_test", "recall/contempt")]["reason"] or "")
    assert {m for _, m in r} == {"recall/contempt", "f1/anger"}


def test_python_api_raises_compare_error(runs):
    with pytest.raises(CompareError, match="no task in common"):
        compare_runs(runs["base"] / "ferplus_test", runs["base"] / "rafdb_basic_test")
    result = compare_runs(runs["base"], runs["improved"], metrics=["accuracy"], n_resamples=200)
    assert result.exit_code == 0 and [m.verdict for m in result.rows()] == ["improved", "improved"]


# --------------------------------------------------------------------------------------------------
# Outputs


def test_junit_has_one_case_per_task_and_metric_and_a_failure_per_regression(runs, tmp_path):
    junit = tmp_path / "compare.xml"
    r = compare(runs["base"], runs["regressed"], "--junit", junit, "--json")
    assert r.exit_code == 1
    result = json.loads(r.stdout)
    all_rows = list(rows(result).values())
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    failures = root.findall("./testsuite/testcase/failure")
    skipped = root.findall("./testsuite/testcase/skipped")
    assert len(cases) == len(all_rows) == int(root.get("tests"))
    assert (
        len(failures) == sum(m["verdict"] == "regressed" for m in all_rows) == int(root.get("failures")) > 0
    )
    assert len(skipped) == sum(m["verdict"] == "not computed" for m in all_rows) == int(root.get("skipped"))
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))
    acc = root.find("./testsuite[@name='rafdb_basic_test']/testcase[@name='accuracy']/failure")
    assert acc is not None and "regressed" in acc.get("message") and "->" in acc.get("message")


def test_junit_fails_a_task_new_lacks_and_skips_it_when_allowed(runs, tmp_path):
    junit = tmp_path / "compare.xml"
    compare(runs["base"], runs["improved"] / "rafdb_basic_test", "--junit", junit)
    suite = ET.parse(junit).getroot().find("./testsuite[@name='ferplus_test']")
    assert suite is not None and suite.get("failures") == "1"
    assert "only in BASE" in suite.find("testcase/failure").get("message")
    compare(runs["base"], runs["improved"] / "rafdb_basic_test", "--junit", junit, "--allow-missing")
    suite = ET.parse(junit).getroot().find("./testsuite[@name='ferplus_test']")
    assert suite is not None and suite.get("skipped") == "1"
    assert "only in BASE" in suite.find("testcase/skipped").get("message")


def test_markdown_file_and_github_step_summary_append(runs, tmp_path):
    md = tmp_path / "compare.md"
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    r = compare(runs["base"], runs["regressed"], "--markdown", md, env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.exit_code == 1
    text = md.read_text()
    assert text.startswith("## tag-bench compare: ❌")
    assert "| metric | BASE | NEW | Δ |" in text and "| `accuracy` |" in text
    assert "Holm-adjusted across all" in text and "❌ regressed" in text
    appended = summary.read_text()
    assert appended.startswith("# earlier step\n") and appended.endswith(text + "\n")
    # without --markdown the summary is still appended, and the table printed
    r = compare(runs["base"], runs["improved"], env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.exit_code == 0 and summary.read_text().count("## tag-bench compare") == 2
    assert "✅ no regression" in summary.read_text()


def test_terminal_table_says_what_was_corrected(runs):
    _, result = compare_json(runs["base"], runs["regressed"])
    regressions = [m for m in rows(result).values() if m["verdict"] == "regressed"]
    r = compare(runs["base"], runs["regressed"])
    assert r.exit_code == 1
    out = r.stdout
    assert f"Holm-adjusted across all {result['n_comparisons']} comparisons" in out and "exact McNemar" in out
    assert f"REGRESSED: {len(regressions)} metric(s)" in out and f"and {len(regressions) - 6} more" in out
    first = regressions[0]
    assert f"{first['task']} {first['metric']} -" in out
    assert "McNemar (accuracy): NEW right where BASE is wrong on 0 samples" in out


def test_samples_file_broken_is_a_data_error(runs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(runs["nochange"] / "rafdb_basic_test", broken)
    lines = (broken / "samples.jsonl").read_text().splitlines()
    lines[3] = lines[3].replace('"status":"ok"', '"status":"great"')
    (broken / "samples.jsonl").write_text("\n".join(lines) + "\n")
    r = compare(runs["base"] / "rafdb_basic_test", broken)
    assert r.exit_code == 2 and "samples.jsonl:4" in r.output and "Traceback" not in r.output
    assert f"re-score the run: `tag-bench score {broken}`" in r.output
    assert store.read_json(broken / "metrics.json")  # nothing the user gave was rewritten
    (broken / "samples.jsonl").unlink()
    r = compare(runs["base"] / "rafdb_basic_test", broken)
    message = r.output.strip().splitlines()[-1]
    assert r.exit_code == 2 and "no scored samples (samples.jsonl)" in message
    assert f"`tag-bench score {broken}`" in message


def test_the_example_workflow_uses_only_options_that_exist():
    import shlex

    import yaml

    from tag_bench._cli.main import COMMANDS

    path = Path(__file__).parents[1] / "examples" / "github-actions" / "regression-gate.yml"
    workflow = yaml.safe_load(path.read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    script = "\n".join(s.get("run", "") for s in steps).replace("\\\n", " ")
    used: dict[str, set[str]] = {}
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["tag-bench"]:
            used.setdefault(words[1], set()).update(w.split("=")[0] for w in words[2:] if w.startswith("--"))
    assert {"compare", "score", "run"} <= set(used)
    for command, options in used.items():
        known = {o for p in COMMANDS.get(command).params for o in p.opts}
        assert options <= known, (command, options - known)
    assert {"--junit", "--markdown", "--max-drop"} <= used["compare"]
