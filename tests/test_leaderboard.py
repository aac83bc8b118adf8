"""Leaderboards: specs, marks, splitting, escaping, golden tables, a LaTeX table that compiles and fits."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.report.leaderboard import leaderboard
from tag_bench.report.render import RenderOptions, tex_escape
from tag_bench.report.spec import LeaderboardSpec, load_spec
from tag_bench.report.table import TableError
from tag_bench.rundir import RunDir
from tag_bench.schema import MetricsReport, MetricValue, ModelInfo, RunManifest, TaskInfo
from tag_bench.scoring.metric_table import metric_names

GOLDEN = Path(__file__).parent / "golden"
CLASSES7 = ["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"]
TASKS = {  # task -> (dataset, classes)
    "rafdb_basic_test": ("rafdb", CLASSES7),
    "ferplus_test": ("ferplus", ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"]),
    "affectnet7_val": ("affectnet", ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"]),
    "affectnet8_val": ("affectnet", ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger",
                                     "contempt"]),
    "rafdb_basic_test_common7": ("rafdb", CLASSES7),
    "ferplus_test_common7": ("ferplus", CLASSES7),
    "affectnet_val_common7": ("affectnet", CLASSES7),
}  # fmt: skip


def make_run(root: Path, model: str, task: str, values: dict[str, float | None], *, name: str | None = None,
             oracle: bool = False, status: str = "complete", train_source: str | None = None,
             version: int = 1, reference: str | None = None) -> Path:  # fmt: skip
    """A run directory with a manifest and a metrics.json holding exactly ``values`` (others not computed)."""
    dataset, classes = TASKS[task]
    path = root / f"{task}__{name or model}__v{version}__{reference or 'none'}"
    manifest = RunManifest(
        run_id=path.name, created="2026-11-28T00:00:00+00:00", name=name,
        task=TaskInfo(name=task, version=version, dataset=dataset, split="test", protocol=f"{dataset}-p",
                      classes=classes, prompt="tag_grounded"),
        model=ModelInfo(adapter=model, fingerprint="f", oracle_reference=oracle),
        prompt_id="tag_grounded", prompt_hash="h", status=status, train_source=train_source,
    )  # fmt: skip
    metrics, not_computed = {}, {}
    for m in metric_names(classes):
        v = values.get(m)
        if v is None:
            metrics[m] = MetricValue(value=None, n=0)
            not_computed[m] = "not in this constructed run"
        else:
            half = 0.02
            metrics[m] = MetricValue(value=v, ci_low=max(0.0, v - half), ci_high=min(1.0, v + half), n=100,
                                     ci_method="bootstrap")  # fmt: skip
    report = MetricsReport(
        classes=classes, n=100, metrics=metrics, confusion_matrix={}, status_counts={"ok": 100},
        status_rates={"ok": 1.0}, au_reference=reference, reference_status_counts={"ok": 100} if reference else {},
        not_computed=not_computed, bootstrap={}, run_status=status,
    )  # fmt: skip
    rd = RunDir(path)
    path.mkdir(parents=True)
    rd.write_manifest(manifest)
    rd.write_metrics(report)
    return path


@pytest.fixture()
def runs(tmp_path) -> Path:
    """Three models on RAF-DB and FERPlus (one missing there) and an oracle baseline."""
    root = tmp_path / "results"
    acc = {"qwen-7b": (0.712, 0.641), "llava-13b": (0.655, None), "gpt-4o": (0.712, 0.703)}
    for name, (raf, fer) in acc.items():
        make_run(root, "hf", "rafdb_basic_test", {"accuracy": raf, "balanced_accuracy": raf - 0.05,
                                                   "macro_f1": raf - 0.08}, name=name)  # fmt: skip
        if fer is not None:
            make_run(root, "hf", "ferplus_test", {"accuracy": fer, "balanced_accuracy": fer - 0.1,
                                                   "macro_f1": fer - 0.12}, name=name)  # fmt: skip
    make_run(root, "facs-rules", "rafdb_basic_test", {"accuracy": 0.95, "balanced_accuracy": 0.9, "macro_f1": 0.9},
             oracle=True)  # fmt: skip
    return root


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("TAG_BENCH_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; TAG_BENCH_UPDATE_GOLDEN=1 to accept"


@pytest.mark.parametrize("fmt", ["md", "latex", "csv"])
def test_golden_main_table(runs, fmt):
    opts = RenderOptions(ci="none" if fmt == "latex" else "pm", label="tab:main")
    _check_golden(f"main.{fmt}", leaderboard([runs], spec="main", fmt=fmt, options=opts).text)


def test_marks_follow_direction_ties_alike_oracle_and_missing_left_out(runs):
    t = leaderboard([runs], spec="main").table
    by = {r.name: r for r in t.rows}
    raf_acc = {n: by[n].cells[0][0] for n in by}
    assert raf_acc["qwen-7b"].mark == raf_acc["gpt-4o"].mark == "best"  # 71.2 and 71.2: a tie
    assert raf_acc["llava-13b"].mark == "second"
    assert raf_acc["facs-rules"].mark is None  # the oracle's 95.0 is never marked
    fer_acc = {n: by[n].cells[1][0] for n in by}
    assert fer_acc["gpt-4o"].mark == "best" and fer_acc["qwen-7b"].mark == "second"
    assert fer_acc["llava-13b"].value is None and fer_acc["llava-13b"].reason == "not evaluated"
    assert [r.name for r in t.rows][:2] == ["facs-rules", "gpt-4o"]  # sorted by the first column


def test_lower_is_better_metrics_mark_the_smallest(tmp_path):
    for name, rate in (("a", 0.10), ("b", 0.02), ("c", 0.05)):
        make_run(tmp_path, "hf", "rafdb_basic_test", {"parse_failure_rate": rate}, name=name)
    spec = LeaderboardSpec(
        name="x", columns=[{"tasks": ["rafdb_basic_test"], "metrics": ["parse_failure_rate"]}]
    )
    marks = {r.name: r.cells[0][0].mark for r in leaderboard([tmp_path], spec=spec).table.rows}
    assert marks == {"b": "best", "c": "second", "a": None}


def test_one_row_gets_no_marks(tmp_path):
    make_run(tmp_path, "hf", "rafdb_basic_test", {"accuracy": 0.5}, name="only")
    text = leaderboard([tmp_path], spec="main", fmt="latex").text
    assert r"\textbf" not in text and r"\underline" not in text


def test_latex_escapes_every_special_character():
    nasty = "a_b&c%d$e#f{g}h~i^j\\k<l>m|n"
    assert tex_escape(nasty) == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k\textless{}l\textgreater{}m\textbar{}n"
    )


def test_names_with_special_characters_stay_balanced_and_compile(tmp_path):
    make_run(tmp_path, "hf", "rafdb_basic_test", {"accuracy": 0.7}, name="ft_v2 {50%} & $x^2$ #1 ~ok")
    make_run(tmp_path, "hf", "rafdb_basic_test", {"accuracy": 0.6}, name="base")
    text = leaderboard([tmp_path], spec="main", fmt="latex", options=RenderOptions(ci="pm")).text
    _check_balanced(text, n_columns=3)
    _compile(tmp_path, text)


def _check_balanced(text: str, n_columns: int) -> None:
    body = text.replace(r"\{", "").replace(r"\}", "")
    assert body.count("{") == body.count("}"), "unbalanced braces"
    rows = [line for line in text.splitlines() if line.endswith(r"\\")]
    for line in rows:
        cells = re.split(r"(?<!\\)&", line[:-2])
        spans = sum(int(m) for m in re.findall(r"\\multicolumn\{(\d+)\}", line)) - len(
            re.findall(r"\\multicolumn", line)
        )
        assert len(cells) + spans == n_columns + 1, line


def _compile(tmp_path: Path, table: str) -> str:
    """``table`` in a two-column paper (article, letter paper, 0.75 in margins, booktabs and graphicx as the
    tables ask); the log. Without pdflatex the test is skipped, except under CI, which must run it."""
    if shutil.which("pdflatex") is None:
        reason = "pdflatex is not installed (CI installs texlive-latex-base and -recommended)"
        if os.environ.get("CI"):  # .ci/run installs it: a skip there would hide a table that no longer fits
            pytest.fail(f"{reason} (CI must compile the LaTeX tables)")
        pytest.skip(reason)
    assert table.startswith("% \\usepackage{booktabs,graphicx}\n"), table[:80]
    doc = (
        "\\documentclass[twocolumn,10pt]{article}\n\\usepackage[letterpaper,margin=0.75in]{geometry}\n"
        "\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n"
        + table
        + "\nText.\n\\end{document}\n"
    )
    (tmp_path / "t.tex").write_text(doc, encoding="utf-8")
    p = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert p.returncode == 0, log[-3000:]
    return log


def test_main_table_for_8_models_by_4_datasets_fits_a_two_column_page(tmp_path):
    tasks = ["rafdb_basic_test", "ferplus_test", "affectnet7_val"]
    for i in range(8):
        for task in tasks:
            v = 0.5 + 0.04 * i
            make_run(tmp_path, "hf", task, {"accuracy": v, "balanced_accuracy": v - 0.03, "macro_f1": v - 0.05},
                     name=f"Qwen2.5-VL-{i}B-Instruct")  # fmt: skip
        make_run(
            tmp_path, "hf", "affectnet7_val", {"accuracy": 0.4}, name=f"Qwen2.5-VL-{i}B-Instruct", version=2
        )
    text = leaderboard([tmp_path], spec="main", fmt="latex", options=RenderOptions(ci="none")).text
    assert r"\begin{table*}" in text and r"\cmidrule(lr){2-4}" in text
    log = _compile(tmp_path, text)
    assert "Overfull \\hbox" not in log, "the table is wider than the page"


def _paper_runs(root: Path) -> Path:
    """Eight models with long names on the seven tasks of the built-in specs, every metric set, each run
    scored against two AU references: what a paper's tables hold."""
    sources = ["rafdb", "ferplus", "affectnet"]
    for i in range(8):
        for task, (_, classes) in TASKS.items():
            values = {m: min(1.0, 0.3 + 0.07 * i + 0.001 * j) for j, m in enumerate(metric_names(classes))}
            for ref in ("mediapipe-blendshapes-tight@1-64184e22", "mediapipe-geometric@1-0a1b2c3d"):
                make_run(root / ref[:12], "hf", task, values, name=f"Qwen2.5-VL-{i + 3}B-Instruct-ft",
                         reference=ref, train_source=sources[i % 3])  # fmt: skip
    return root


@pytest.mark.parametrize("spec", ["overview", "main", "grounding", "transfer", "usage"])
def test_every_built_in_spec_fits_a_two_column_page(tmp_path, spec):
    """Issue 18: the grounding table overflowed a two-column page by 1,290 pt, transfer by 121 pt and overview
    by 155 pt, although the README said they fit. Default LaTeX (no CIs) and with intervals, in one paper."""
    root = _paper_runs(tmp_path / "runs")
    paths = [root / "mediapipe-bl", root / "mediapipe-ge"] if spec == "grounding" else [root / "mediapipe-bl"]
    tables = [leaderboard(paths, spec=spec, fmt="latex", options=RenderOptions(ci=ci)).text
              for ci in ("none", "pm", "brackets")]  # fmt: skip
    log = _compile(tmp_path, "\n\\clearpage\n".join(tables))
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox \([\d.]+pt too wide\)", log)
    assert "\\begin{table*}" in tables[0]  # none of these fits one column


def test_runs_that_may_not_be_mixed_are_split_never_merged(tmp_path):
    make_run(tmp_path, "hf", "rafdb_basic_test", {"accuracy": 0.7}, name="m1", version=1)
    make_run(tmp_path, "hf", "rafdb_basic_test", {"accuracy": 0.6}, name="m2", version=2)
    t = leaderboard([tmp_path], spec="main").table
    raf = [g for g in t.groups if g.title == "RAF-DB"]
    assert [g.detail for g in raf] == ["v1", "v2"]
    assert any("never mixed" in n for n in t.notes)
    # grounding metrics against different AU references: one column group per reference
    g = tmp_path / "g"
    make_run(g, "hf", "rafdb_basic_test", {"au_box_iou": 0.3}, name="m1", reference="ref-a@1")
    make_run(g, "hf", "rafdb_basic_test", {"au_box_iou": 0.4}, name="m2", reference="ref-b@1")
    t = leaderboard([g], spec="grounding").table
    assert sorted(x.reference for x in t.groups if x.reference) == ["ref-a@1", "ref-b@1"]


def test_two_runs_with_one_name_in_one_group_are_refused(tmp_path):
    make_run(tmp_path / "a", "hf", "rafdb_basic_test", {"accuracy": 0.7}, name="same")
    make_run(tmp_path / "b", "hf", "rafdb_basic_test", {"accuracy": 0.6}, name="same")
    with pytest.raises(TableError, match=r"two runs named 'same'.*--name"):
        leaderboard([tmp_path], spec="main")


def test_a_parent_folder_is_searched_and_non_runs_are_skipped_with_a_note(runs):
    (runs / "notes").mkdir()
    unscored = make_run(runs / "wip", "hf", "rafdb_basic_test", {"accuracy": 0.1}, name="wip")
    (unscored / "metrics.json").unlink()
    r = CliRunner().invoke(main, ["leaderboard", str(runs.parent), "--spec", "main"])
    assert r.exit_code == 0, r.output
    assert "qwen-7b" in r.stdout and "wip" not in r.stdout
    assert "not scored yet" in r.stderr


def test_transfer_table_matches_a_hand_computation(tmp_path):
    acc = {  # model -> train source, accuracies on rafdb / ferplus / affectnet (common7)
        "raf-ft": ("rafdb", (0.85, 0.60, 0.40)),
        "fer-ft": ("ferplus", (0.55, 0.80, 0.35)),
        "aff-ft": ("affectnet", (0.60, 0.50, 0.62)),
        "zero-shot": (None, (0.50, 0.45, None)),
    }
    tasks = ["rafdb_basic_test_common7", "ferplus_test_common7", "affectnet_val_common7"]
    for name, (src, values) in acc.items():
        for task, v in zip(tasks, values, strict=True):
            if v is not None:
                make_run(tmp_path, "hf", task, {"accuracy": v}, name=name, train_source=src)
    t = leaderboard([tmp_path], spec="transfer").table
    rows = {r.name: r for r in t.rows}
    derived = {n: [c.value for c in r.cells[3]] for n, r in rows.items()}
    assert derived["raf-ft"] == pytest.approx([0.85, 0.50, 0.35])
    assert derived["fer-ft"] == pytest.approx([0.80, 0.45, 0.35])
    assert derived["aff-ft"] == pytest.approx([0.62, 0.55, 0.07])
    assert derived["zero-shot"] == [None, None, None]  # no train source: in/out of domain undefined
    assert rows["zero-shot"].cells[2][0].reason == "not evaluated"
    assert rows["raf-ft"].train_source == "rafdb"
    md = leaderboard([tmp_path], spec="transfer").text
    assert "raf-ft (rafdb)" in md and "Gap" in md


def test_transfer_row_without_an_out_of_domain_column_shows_no_mean_or_gap_and_says_why(tmp_path):
    """Issue 18: a checkpoint missing its FERPlus run had an out-of-domain mean and gap of one column while
    the other rows averaged two, with no flag."""
    acc = {"raf-ft": ("rafdb", (0.85, 0.60, 0.40)), "aff-ft": ("affectnet", (0.60, None, 0.62))}
    tasks = ["rafdb_basic_test_common7", "ferplus_test_common7", "affectnet_val_common7"]
    for name, (src, values) in acc.items():
        for task, v in zip(tasks, values, strict=True):
            if v is not None:
                make_run(tmp_path, "hf", task, {"accuracy": v}, name=name, train_source=src)
    board = leaderboard([tmp_path], spec="transfer")
    rows = {r.name: r for r in board.table.rows}
    assert [c.value for c in rows["raf-ft"].cells[3]] == pytest.approx([0.85, 0.50, 0.35])
    in_domain, ood, gap = rows["aff-ft"].cells[3]
    assert in_domain.value == pytest.approx(0.62)
    assert ood.value is None and gap.value is None
    assert "'ferplus'" in (ood.reason or "") and "needs out_of_domain_mean" in (gap.reason or "")
    assert "| aff-ft (affectnet) | _60.0 ± 2.0_ | – | **62.0 ± 2.0** | _62.0_ | – | – |" in board.text, (
        board.text
    )
    assert "aff-ft: out-of-domain mean and gap not computed: no accuracy on FERPlus" in board.text


def test_a_group_of_several_tasks_needs_a_title(tmp_path):
    """Issue 18: `title = gspec.title or tasks[0]` titled the runs of a second task by the first."""
    f = tmp_path / "two.yaml"
    f.write_text("columns:\n  - {tasks: [rafdb_basic_test, rafdb_basic_test_common7], metrics: [accuracy]}\n")
    make_run(tmp_path / "runs", "hf", "rafdb_basic_test_common7", {"accuracy": 0.7}, name="m")
    r = CliRunner().invoke(main, ["leaderboard", str(tmp_path / "runs"), "--spec", str(f)])
    assert r.exit_code == 1
    assert "needs a title" in r.output and "rafdb_basic_test, rafdb_basic_test_common7" in r.output, r.output
    f.write_text("columns:\n  - {title: RAF-DB, tasks: [rafdb_basic_test, rafdb_basic_test_common7], "
                 "metrics: [accuracy]}\n  - {tasks: [rafdb_basic_test_common7], metrics: [accuracy]}\n")  # fmt: skip
    t = leaderboard([tmp_path / "runs"], spec=str(f)).table
    assert [g.title for g in t.groups] == [
        "RAF-DB",
        "rafdb_basic_test_common7",
    ]  # one task titles its own group


def test_references_all_with_classification_metrics_only_shows_a_run_once(tmp_path):
    """Issue 18: `references: all` with only classification metrics reported "two runs named 'my-model'"
    for one run directory scored against two references."""
    run = RunDir(make_run(tmp_path / "runs", "hf", "rafdb_basic_test", {"accuracy": 0.7, "au_box_iou": 0.4},
                          name="my-model", reference="ref-a@1"))  # fmt: skip
    make_run(tmp_path / "runs", "hf", "rafdb_basic_test", {"accuracy": 0.6, "au_box_iou": 0.3}, name="other",
             reference="ref-a@1")  # fmt: skip
    for key in ("ref-a@1", "ref-b@1"):  # scored against two references: both kept under references/
        run.scores_dir(key).mkdir(parents=True)
        metrics = run.read_metrics().model_copy(update={"au_reference": key})
        (run.scores_dir(key) / RunDir.METRICS).write_text(metrics.model_dump_json())
    f = tmp_path / "acc.yaml"
    f.write_text(
        "references: all\ncolumns:\n  - {title: RAF-DB, tasks: [rafdb_basic_test], metrics: [accuracy]}\n"
    )
    r = CliRunner().invoke(main, ["leaderboard", str(tmp_path / "runs"), "--spec", str(f)])
    assert r.exit_code == 0, r.output
    assert r.stdout.count("| my-model |") == 1 and "two runs named" not in r.output
    # a group with reference metrics still shows one column group per reference
    f.write_text("references: all\ncolumns:\n  - {title: RAF-DB, tasks: [rafdb_basic_test], "
                 "metrics: [accuracy, au_box_iou]}\n")  # fmt: skip
    t = leaderboard([tmp_path / "runs"], spec=str(f)).table
    assert sorted(g.reference or "" for g in t.groups) == ["ref-a@1", "ref-b@1"]


def test_a_spec_that_matches_no_run_is_an_error_naming_its_tasks_and_those_found(tmp_path):
    """Issue 18: such a spec printed an empty table and exited 0."""
    make_run(tmp_path, "hf", "rafdb_basic_test_common7", {"accuracy": 0.7}, name="m")
    r = CliRunner().invoke(main, ["leaderboard", str(tmp_path), "--spec", "main"])
    assert r.exit_code == 1, r.output
    assert "rafdb_basic_test, ferplus_test, affectnet7_val, affectnet8_val" in r.output
    assert "the runs found are of rafdb_basic_test_common7" in r.output
    f = tmp_path / "none.yaml"
    f.write_text("columns:\n  - {title: R, tasks: [rafdb_basic_test_common7], metrics: [accuracy]}\n"
                 "rows: {include: ['qwen*']}\n")  # fmt: skip
    r = CliRunner().invoke(main, ["leaderboard", str(tmp_path), "--spec", str(f)])
    assert r.exit_code == 1 and "rows filter" in r.output and "(m)" in r.output, r.output
    assert CliRunner().invoke(main, ["leaderboard", str(tmp_path), "--spec", "transfer"]).exit_code == 0


def test_incomplete_runs_are_refused_unless_allowed_then_flagged(tmp_path):
    make_run(tmp_path, "hf", "rafdb_basic_test", {"accuracy": 0.7}, name="done")
    make_run(tmp_path, "hf", "rafdb_basic_test", {"accuracy": 0.2}, name="stopped", status="interrupted")
    r = CliRunner().invoke(main, ["leaderboard", str(tmp_path), "--spec", "main"])
    assert r.exit_code == 1 and "incomplete run" in r.output
    r = CliRunner().invoke(main, ["leaderboard", str(tmp_path), "--spec", "main", "--allow-incomplete"])
    assert r.exit_code == 0 and "stopped ‡" in r.stdout


def test_every_format_and_spec_renders(runs):
    for spec in ("overview", "main", "grounding"):
        for fmt in ("md", "latex", "csv", "json", "html"):
            text = leaderboard([runs], spec=spec, fmt=fmt).text
            assert "gpt-4o" in text, (spec, fmt)
    doc = json.loads(leaderboard([runs], spec="main", fmt="json").text)
    assert doc["rows"][1]["cells"][0][0]["mark"] == "best"
    rows = list(csv.reader(io.StringIO(leaderboard([runs], spec="main", fmt="csv").text)))
    assert rows[0][:6] == ["model", "train_source", "oracle", "incomplete", "failed", "RAF-DB/accuracy"]


def test_user_spec_file_and_clear_spec_errors(tmp_path, runs):
    f = tmp_path / "mine.yaml"
    f.write_text("title: Mine\ncolumns:\n  - {title: R, tasks: [rafdb_basic_test], metrics: [accuracy]}\n"
                 "rows: {include: ['q*']}\n")  # fmt: skip
    t = leaderboard([runs], spec=str(f)).table
    assert [r.name for r in t.rows] == ["qwen-7b"]
    f.write_text("columns:\n  - {tasks: [rafdb_basic_test], metrics: [acuracy]}\n")
    with pytest.raises(Exception, match="unknown metric 'acuracy'"):
        load_spec(str(f))
    with pytest.raises(Exception, match="unknown leaderboard spec 'mian' \\(did you mean 'main'"):
        load_spec("mian")


def test_an_ordering_that_flips_between_references_is_flagged(tmp_path):
    for name, (a, b) in {"m1": (0.30, 0.50), "m2": (0.40, 0.20)}.items():
        make_run(tmp_path / "a", "hf", "rafdb_basic_test", {"au_box_iou": a}, name=name, reference="ref-a@1")
        make_run(tmp_path / "b", "hf", "rafdb_basic_test", {"au_box_iou": b}, name=name, reference="ref-b@1")
    notes = " ".join(leaderboard([tmp_path], spec="grounding").table.notes)
    assert "Box-AU IoU: the order of m2 vs m1 flips between the AU references ref-a@1 and ref-b@1" in notes


def test_score_against_several_references_keeps_each(dataset_fixtures, tmp_path):
    from tag_bench.schema import AUReference, AUState
    from tag_bench.tasks import load_task

    raf = dataset_fixtures["raf_basic"]
    samples = load_task("rafdb_basic_test").load(raf).samples
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": s.id, "response": "AU12 <bbox>[20, 40, 60, 60]</bbox> "
                                         f"<answer>{s.label}</answer>"}) + "\n" for s in samples))  # fmt: skip
    for ref_id, box in (("ref-a@1", [20, 40, 60, 60]), ("ref-b@1", [0, 0, 10, 10])):
        lines = [AUReference(reference_id=ref_id, detector=ref_id.split("@")[0], version="1", status="ok",
                             threshold=0.5, sample_id=s.id, aus={"AU12": AUState(score=0.9, active=True, box=box)})
                 .model_dump_json() for s in samples]  # fmt: skip
        (tmp_path / f"{ref_id}.jsonl").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    refs = f"{tmp_path / 'ref-a@1.jsonl'},{tmp_path / 'ref-b@1.jsonl'}"
    r = CliRunner().invoke(main, ["score", "--task", "rafdb_basic_test", "--data-root", str(raf), "--predictions",
                                  str(preds), "--frame", "pixel", "--au-reference", refs, "--out", str(run),
                                  "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (run / "references").iterdir()) == ["ref-a@1", "ref-b@1"]
    assert json.loads((run / "metrics.json").read_text())["au_reference"] == "ref-a@1"  # the first is current
    iou = {k: json.loads((run / "references" / k / "metrics.json").read_text())["metrics"]["au_box_iou"]["value"]
           for k in ("ref-a@1", "ref-b@1")}  # fmt: skip
    assert iou == {"ref-a@1": 1.0, "ref-b@1": 0.0}
    t = leaderboard([run], spec="grounding").table
    assert sorted(g.reference for g in t.groups if g.reference) == ["ref-a@1", "ref-b@1"]
