"""Published results as reference rows (issue 23): the files, placement by protocol, refusals, marks,
LaTeX with \\cite compiled against the generated BibTeX, and the `published` command."""

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
from tag_bench.metrics.stats import wilson_interval
from tag_bench.report.leaderboard import leaderboard
from tag_bench.report.published import (
    PublishedError,
    bib_entries,
    builtin_published_dir,
    load_sources,
    select,
)
from tag_bench.report.render import RenderOptions
from tag_bench.report.spec import LeaderboardSpec
from tag_bench.report.table import PublishedCell, Table
from tag_bench.rundir import RunDir
from tag_bench.schema import MetricsReport, MetricValue, ModelInfo, RunManifest, TaskInfo
from tag_bench.scoring.metric_table import metric_names
from tag_bench.tasks import load_task

#: The sample count of each task's full split (the runs a paper's number may stand beside).
FULL = {
    "rafdb_basic_test": 3068,
    "rafdb_basic_test_common7": 3068,
    "ferplus_test": 3137,
    "ferplus_test_common7": 3079,
    "ferplus_test_plurality8_all": 3573,
    "affectnet7_val": 3500,
    "affectnet8_val": 4000,
    "affectnet_val_common7": 3500,
}


def make_run(root: Path, name: str, task: str, acc: float, *, n: int | None = None, version: int | None = None,
             limit: int | None = None) -> Path:  # fmt: skip
    """A scored run of a built-in task as the manifest records it (its real protocol and classes), over ``n``
    samples (default: the full split), with accuracy ``acc`` and UAR / macro-F1 a little lower."""
    t = load_task(task)
    n = FULL[task] if n is None else n
    path = root / f"{task}__{name}__v{version or t.version}"
    manifest = RunManifest(
        run_id=path.name, created="2026-11-28T00:00:00+00:00", name=name, limit=limit,
        task=TaskInfo(name=t.name, version=version or t.version, dataset=t.dataset, split=t.split,
                      protocol=t.protocol, classes=t.classes, prompt=t.prompt),
        model=ModelInfo(adapter="hf", fingerprint="f"), prompt_id="tag_grounded", prompt_hash="h", status="complete",
    )  # fmt: skip
    values = {"accuracy": acc, "balanced_accuracy": acc - 0.05, "macro_f1": acc - 0.08}
    metrics, not_computed = {}, {}
    for m in metric_names(t.classes):
        v = values.get(m)
        if v is None:
            metrics[m] = MetricValue(value=None, n=0)
            not_computed[m] = "not in this constructed run"
        else:
            metrics[m] = MetricValue(value=v, ci_low=v - 0.015, ci_high=v + 0.015, n=n, ci_method="bootstrap")
    report = MetricsReport(
        classes=t.classes, n=n, metrics=metrics, confusion_matrix={}, status_counts={"ok": n},
        status_rates={"ok": 1.0}, reference_status_counts={}, not_computed=not_computed, bootstrap={},
        run_status="complete",
    )  # fmt: skip
    path.mkdir(parents=True)
    RunDir(path).write_manifest(manifest)
    RunDir(path).write_metrics(report)
    return path


@pytest.fixture()
def runs(tmp_path) -> Path:
    """Two models on every task of the main and transfer specs, over the full splits."""
    root = tmp_path / "runs"
    for task in FULL:
        make_run(root, "qwen-7b", task, 0.70)
        make_run(root, "llava-13b", task, 0.60)
    return root


def _row(table: Table, model: str):
    return next(r for r in table.rows if r.published and r.published.model == model)


def _note(table: Table, start: str) -> str:
    return next(n for n in table.notes if n.startswith(start))


def _placed(table: Table, model: str) -> dict[str, str]:
    """{group title / metric: value as printed} of a published row's placed cells."""
    row = _row(table, model)
    out = {}
    for g, cells in zip(table.groups, row.cells, strict=True):
        for col, c in zip(g.columns, cells, strict=True):
            if c.value is not None:
                assert isinstance(c, PublishedCell)
                out[f"{g.title}/{col.metric}"] = f"{100 * c.value:.{c.decimals}f}"
    return out


# --------------------------------------------------------------------------------------------------
# The files


def test_every_published_file_loads_with_its_bibtex_and_known_tasks_and_metrics():
    sources = load_sources()
    keys = {s.key for s in sources}
    assert keys == {"lian2023explainable", "Zhao_2025_WACV", "wu2025facialr1", "mao2023poster"}
    folder = builtin_published_dir()
    assert sorted(p.stem for p in folder.glob("*.yaml")) == sorted(keys)
    assert set(bib_entries((folder / "references.bib").read_text())) == keys
    values = {(s.key, m.model, r.task or r.dataset, r.metric): r.value for s in sources for m in s.models
              for r in m.results}  # fmt: skip
    # the numbers of specs/published.md, as the sources printed them
    assert values["lian2023explainable", "GPT-4V", "affectnet8_val", "accuracy"] == "42.77"
    assert values["Zhao_2025_WACV", "Exp-CLIP ViT-L/14", "rafdb_basic_test", "balanced_accuracy"] == "58.70"
    assert values["Zhao_2025_WACV", "Exp-CLIP ViT-L/14", "ferplus", "accuracy"] == "55.42"
    assert values["wu2025facialr1", "Facial-R1", "affectnet", "accuracy"] == "65.2"
    assert values["mao2023poster", "POSTER++", "affectnet8_val", "accuracy"] == "63.77"
    gpt4v = [r for s in sources for m in s.models if m.model == "GPT-4V" for r in m.results]
    # Table 3's 75.81 and 64.25 are over the images GPT-4V answered: subsets, with their real n
    assert {(r.value, r.n) for r in gpt4v if r.subset} == {("75.81", 3067), ("64.25", 3572)}
    assert {(r.task, r.value, r.n) for r in gpt4v if not r.subset} == {
        ("rafdb_basic_test", "75.78", 3068), ("ferplus_test_plurality8_all", "64.23", 3573),
        ("affectnet8_val", "42.77", 4000),
    }  # fmt: skip
    assert all(r.k is not None for r in gpt4v)  # each is k/n for a whole k


def _source_dir(tmp_path: Path, result: str, *, key: str = "me2026", bib: bool = True) -> Path:
    d = tmp_path / "mine"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{key}.yaml").write_text(
        f"key: {key}\nunit: percent\nmodels:\n  - model: M\n    setting: zero-shot\n    where: Table 1\n"
        f"    results:\n      - {result}\n"
    )
    if bib:
        (d / "references.bib").write_text(
            f"@misc{{{key},\n  title={{Mine}},\n  author={{Me, A.}},\n  year={{2026}}\n}}\n"
        )
    return d


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ('{task: rafdb_basic_test, version: 1, metric: acuracy, value: "50.0", protocol: stated}',
         r"results\[0: rafdb_basic_test/acuracy\]\.metric: .*unknown metric 'acuracy'"),
        ('{task: rafdb_test, version: 1, metric: accuracy, value: "50.0", protocol: stated}',
         r"unknown task 'rafdb_test'; known: .*rafdb_basic_test"),
        ('{task: rafdb_basic_test, version: 3, metric: accuracy, value: "50.0", protocol: stated}',
         r"has no version 3 \(its current version is 1\)"),
        ('{task: rafdb_basic_test, version: 1, metric: accuracy, value: 58.70, protocol: stated}',
         r"write the value in quotes exactly as the source printed it"),
        ('{task: rafdb_basic_test, version: 1, metric: au_box_iou, value: "50.0", protocol: stated}',
         r"only classification rates can"),
        ('{task: rafdb_basic_test, version: 1, metric: accuracy, value: "50.0", protocol: maybe}',
         r"protocol: Input should be 'stated', 'inferred' or 'unknown'"),
        ('{task: rafdb_basic_test, version: 1, metric: accuracy, value: "50.0", protocol: unknown, note: x}',
         r"protocol is unknown names no task"),
        ('{dataset: ferplus, metric: accuracy, value: "50.0", protocol: unknown}', r"needs a note"),
        ('{dataset: fer, metric: accuracy, value: "50.0", protocol: unknown, note: x}', r"unknown dataset 'fer'"),
        ('{task: rafdb_basic_test, version: 1, metric: accuracy, value: "50.0", protocol: inferred}',
         r"inferred needs a note"),
        # Exp-CLIP's RAF-DB WAR is not a proportion over the 3,068 test images
        ('{task: rafdb_basic_test, version: 1, metric: accuracy, value: "65.37", n: 3068, protocol: stated}',
         r"65.37 % is not k/3068 for any whole k .*2005/3068 = 65.3520 %, 2006/3068 = 65.3846 %"),
    ],
)  # fmt: skip
def test_an_invalid_result_is_an_error_naming_the_file_and_the_field(tmp_path, result, message):
    d = _source_dir(tmp_path, result)
    with pytest.raises(PublishedError, match=message) as e:
        load_sources([d])
    assert str(d / "me2026.yaml") in str(e.value) and "\n" not in str(e.value)


def test_a_source_needs_its_bibtex_entry_and_one_key(tmp_path):
    ok = '{task: rafdb_basic_test, version: 1, metric: accuracy, value: "50.0", protocol: stated}'
    d = _source_dir(tmp_path, ok, bib=False)
    with pytest.raises(PublishedError, match=r"has published results but no references.bib"):
        load_sources([d], builtin=False)
    (d / "references.bib").write_text("@misc{other,\n title={X}\n}\n")
    with pytest.raises(PublishedError, match=r"no BibTeX entry me2026 in .*references.bib: add it there"):
        load_sources([d], builtin=False)
    d2 = _source_dir(tmp_path / "b", ok, key="lian2023explainable")
    with pytest.raises(PublishedError, match=r"source lian2023explainable is defined twice"):
        load_sources([d2])
    with pytest.raises(PublishedError, match=r"unknown published source nope; known: all, Zhao_2025_WACV"):
        select(load_sources(), "nope")


# --------------------------------------------------------------------------------------------------
# Placement


def test_gpt4v_appears_only_under_its_three_tasks_with_wilson_on_its_n(runs):
    table = leaderboard([runs], spec="main", published="all").table
    assert _placed(table, "GPT-4V") == {
        "RAF-DB/accuracy": "75.78",  # rafdb_basic_test
        "AffectNet-8/accuracy": "42.77",  # affectnet8_val
        "FERPlus (all 3,573)/accuracy": "64.23",  # ferplus_test_plurality8_all, never FERPlus (majority)
    }
    cell = _row(table, "GPT-4V").cells[0][0]
    assert (cell.ci_low, cell.ci_high) == wilson_interval(2325, 3068) and cell.n == 3068
    assert cell.ci_method == "wilson-published"
    assert _row(table, "POSTER++").cells[0][0].ci_low is None  # no n, no interval
    # the majority-protocol FERPlus column holds runs only
    fer = next(i for i, g in enumerate(table.groups) if g.title == "FERPlus")
    assert all(c.value is None for r in table.rows if r.published for c in r.cells[fer])
    text = leaderboard([runs], spec="main", published="all", options=RenderOptions(ci="brackets")).text
    assert "| GPT-4V (zero-shot) [lian2023explainable] § | 75.78 [74.23, 77.27] |" in text
    assert "Wilson on the source's n for § rows that give it" in text
    # the paper's own numbers are over the images answered: listed, never placed
    assert "over a subset, only the 3,067 of the 3,068 test images GPT-4V answered" in text
    assert "GPT-4V Acc. 75.81 [lian2023explainable]" in text and "| 75.81" not in text
    assert "| 64.25" not in text and "GPT-4V Acc. 64.25 [lian2023explainable]" in text


def test_a_run_on_the_majority_protocol_never_gets_the_plurality_number(tmp_path):
    make_run(tmp_path, "qwen-7b", "ferplus_test", 0.8)
    make_run(tmp_path, "llava-13b", "ferplus_test", 0.7)
    table = leaderboard([tmp_path], spec="main", published="lian2023explainable").table
    assert not any(r.published for r in table.rows)
    assert "64.2" not in leaderboard([tmp_path], spec="main", published="all").text


def test_placement_is_by_protocol_and_class_list_pinned_by_the_version(runs, tmp_path):
    """rafdb_basic_test_common7 has RAF-DB's samples and labels, affectnet_val_common7 AffectNet-7's:
    they take the numbers of those tasks; AffectNet-8 and FERPlus (majority) ones never."""
    table = leaderboard([runs], spec="transfer", published="all").table
    assert _placed(table, "Exp-CLIP ViT-L/14") == {"RAF-DB/accuracy": "65.37", "AffectNet/accuracy": "44.27"}
    assert _placed(table, "GPT-4V") == {"RAF-DB/accuracy": "75.78"}  # its AffectNet number is 8-class
    # a transfer row is one model across datasets: supervised / fine-tuned papers train one per dataset
    assert not any(r.published and r.published.setting != "zero-shot" for r in table.rows)
    assert "supervised, while a transfer row is one model evaluated on every dataset: POSTER++" in " ".join(
        table.notes
    )
    # another version of a task is another definition: nothing is placed beside it
    other = tmp_path / "v2"
    make_run(other, "qwen-7b", "rafdb_basic_test", 0.7, version=2)
    make_run(other, "llava-13b", "rafdb_basic_test", 0.6, version=2)
    assert not any(r.published for r in leaderboard([other], spec="main", published="all").table.rows)


def test_unknown_protocols_are_listed_with_their_reason_and_never_placed(runs):
    table = leaderboard([runs], spec="main", published="all").table
    placed = {v for r in table.rows if r.published for v in _placed(table, r.published.model).values()}
    assert not placed & {"55.42", "48.28", "46.67", "48.14", "48.9", "65.2"}
    fer = _note(table, "Not placed, protocol unknown, the FERPlus test protocol is not stated")
    assert "Exp-CLIP ViT-L/14 UAR 48.28 / Acc. 55.42, CLIP ViT-L/14 UAR 33.82 / Acc. 46.67" in fer
    assert _note(table, "Not placed, protocol unknown, the AffectNet class count, 7 or 8, is not stated") == (
        "Not placed, protocol unknown, the AffectNet class count, 7 or 8, is not stated: GPT-4o Acc. 48.9, "
        "Facial-R1 Acc. 65.2 \x1fwu2025facialr1\x1f."
    )


def test_no_published_number_stands_beside_a_partial_copy_of_a_dataset(dataset_fixtures, tmp_path):
    """A real run scored on the RAF-DB fixture (a few test images): the loader warns that the split is not the
    official one, the manifest keeps the warning, and no published number is placed beside the run."""
    raf = dataset_fixtures["raf_basic"]
    samples = load_task("rafdb_basic_test").load(raf).samples
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": s.id, "response": f"<answer>{s.label}</answer>"}) + "\n"
                             for s in samples))  # fmt: skip
    r = CliRunner().invoke(main, ["score", "--task", "rafdb_basic_test", "--data-root", str(raf), "--predictions",
                                  str(preds), "--frame", "pixel", "--au-reference", "none", "--name", "answers",
                                  "--out", str(tmp_path / "runs" / "run"), "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    table = leaderboard([tmp_path / "runs"], spec="main", published="all").table
    assert not any(r.published for r in table.rows) and [r.name for r in table.rows] == ["answers"]
    note = _note(table, "Not placed, the runs beside it are of a dataset copy that is not the official split")
    assert "POSTER++ Acc. 92.21 \x1fmao2023poster\x1f" in note and "GPT-4V Acc. 75.78" in note


def test_a_number_with_n_stands_only_beside_runs_over_as_many_samples(tmp_path):
    make_run(tmp_path / "a", "qwen-7b", "rafdb_basic_test", 0.7, n=3000)
    table = leaderboard([tmp_path / "a"], spec="main", published="all").table
    assert "GPT-4V" not in {r.published.model for r in table.rows if r.published}
    assert _placed(table, "POSTER++") == {"RAF-DB/accuracy": "92.21"}  # no n given: not checked
    assert (
        "Not placed, over 3,068 samples, the runs beside it over 3,000: GPT-4V Acc. 75.78" in table.notes[-1]
    )
    make_run(tmp_path / "b", "qwen-7b", "rafdb_basic_test", 0.7, n=100, limit=100)
    table = leaderboard([tmp_path / "b"], spec="main", published="all").table
    assert not any(r.published for r in table.rows)
    assert "POSTER++ Acc. 92.21" in _note(table, "Not placed, the runs beside it cover a --limit subset")


def test_a_per_class_number_is_over_its_class_not_the_split(tmp_path):
    """``n`` of a per-class recall counts the class's samples: never compared with the runs' sample count."""
    make_run(tmp_path / "runs", "qwen-7b", "rafdb_basic_test", 0.7)
    mine = _source_dir(tmp_path, '{task: rafdb_basic_test, version: 1, metric: recall/happiness, value: "90.1", '
                                 'n: 1185, protocol: stated}')  # fmt: skip
    spec = LeaderboardSpec(name="x", columns=[{"title": "R", "tasks": ["rafdb_basic_test"],
                                               "metrics": ["recall/happiness"]}])  # fmt: skip
    table = leaderboard([tmp_path / "runs"], spec=spec, published="me2026", published_dirs=[mine]).table
    assert _placed(table, "M") == {"R/recall/happiness": "90.1"}
    assert _row(table, "M").cells[0][0].ci_low is None  # not a proportion over the samples: no interval


def test_grounding_columns_never_take_a_published_number(runs):
    table = leaderboard([runs], spec="grounding", published="all").table
    assert not any(r.published for r in table.rows) and not table.cited


# --------------------------------------------------------------------------------------------------
# Marks


def test_published_rows_take_no_marks_unless_mark_published(tmp_path):
    make_run(tmp_path, "qwen-7b", "rafdb_basic_test", 0.921)  # prints 92.1, like Facial-R1's
    make_run(tmp_path, "llava-13b", "rafdb_basic_test", 0.60)
    plain = leaderboard([tmp_path], spec="main").table
    table = leaderboard([tmp_path], spec="main", published="all").table

    def marks(t: Table) -> dict[str, str | None]:
        return {(r.published.model if r.published else r.name): r.cells[0][0].mark for r in t.rows}

    assert {k: v for k, v in marks(table).items() if k in ("qwen-7b", "llava-13b")} == marks(plain)
    assert marks(plain) == {"qwen-7b": "best", "llava-13b": "second"}
    assert all(r.cells[0][0].mark is None for r in table.rows if r.published)
    assert "oracle and published rows excluded" in leaderboard([tmp_path], spec="main", published="all").text
    # with --mark-published, compared at the coarsest precision printed in the column: 92.21 is 92.2, best;
    # the run's 92.1 and Facial-R1's printed 92.1 tie for second
    m = marks(leaderboard([tmp_path], spec="main", published="all", mark_published=True).table)
    assert m["POSTER++"] == "best" and m["qwen-7b"] == m["Facial-R1"] == "second"
    assert m["llava-13b"] is None and m["GPT-4V"] is None


# --------------------------------------------------------------------------------------------------
# Formats, LaTeX with \cite and the BibTeX written beside it


def test_every_format_shows_published_rows_with_their_source(runs):
    md = leaderboard([runs], spec="main", published="all").text
    assert "| POSTER++ (supervised) [mao2023poster] § | 92.21 |" in md
    assert "§ published, not re-run" in md and "\x1f" not in md
    rows = list(csv.reader(io.StringIO(leaderboard([runs], spec="main", published="all", fmt="csv").text)))
    assert rows[0][:7] == [
        "model",
        "train_source",
        "oracle",
        "incomplete",
        "failed",
        "published",
        "RAF-DB/accuracy",
    ]
    poster = next(r for r in rows if r[0] == "POSTER++")
    assert poster[5:7] == ["mao2023poster", "92.21"]
    doc = json.loads(leaderboard([runs], spec="main", published="all", fmt="json").text)
    row = next(r for r in doc["rows"] if r["name"] == "GPT-4V")
    assert row["published"]["key"] == "lian2023explainable" and row["cells"][0][0]["decimals"] == 2
    assert "published" not in next(r for r in doc["rows"] if r["name"] == "qwen-7b")
    html = leaderboard([runs], spec="main", published="all", fmt="html").text
    assert "GPT-4V (zero-shot) [lian2023explainable] §" in html and "\x1f" not in html


def _tools() -> None:
    missing = [t for t in ("pdflatex", "bibtex") if shutil.which(t) is None]
    if missing:
        reason = f"{' and '.join(missing)} not installed (CI installs texlive-latex-base and -recommended)"
        if os.environ.get("CI"):  # .ci/run installs them: a skip would hide a table that fails to compile
            pytest.fail(f"{reason} (CI must compile the LaTeX tables)")
        pytest.skip(reason)


def test_latex_cites_its_sources_and_compiles_against_the_written_bibtex(runs, tmp_path):
    """`tag-bench leaderboard RUNS --spec main --published all --format latex --bib refs.bib` in a two-column
    paper: pdflatex, bibtex, pdflatex twice; every citation resolved, nothing overfull."""
    _tools()
    out = tmp_path / "paper"
    out.mkdir()
    r = CliRunner().invoke(main, ["leaderboard", str(runs), "--spec", "main", "--published", "all", "--format",
                                  "latex", "--bib", str(out / "refs.bib"), "-o", str(out / "table.tex")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "written: " in r.stderr and "(4 BibTeX entries)" in r.stderr
    table = (out / "table.tex").read_text()
    assert r"GPT-4V (zero-shot) \cite{lian2023explainable} $^\S$ & 75.78" in table
    assert r"\cite{Zhao_2025_WACV}" in table and r"\midrule" in table
    assert sorted(bib_entries((out / "refs.bib").read_text())) == sorted(
        ["lian2023explainable", "Zhao_2025_WACV", "mao2023poster", "wu2025facialr1"]
    )
    (out / "paper.tex").write_text(
        "\\documentclass[twocolumn,10pt]{article}\n\\usepackage[letterpaper,margin=0.75in]{geometry}\n"
        "\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n"
        "\\input{table.tex}\nText.\n\\bibliographystyle{plain}\n\\bibliography{refs}\n\\end{document}\n"
    )

    def run(*cmd: str) -> None:
        p = subprocess.run(list(cmd), cwd=out, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]

    run("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex")
    run("bibtex", "paper")
    run("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex")
    run("pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex")
    log = (out / "paper.log").read_text(errors="replace")
    assert "undefined" not in log.lower(), re.findall(r".*undefined.*", log)
    assert "Overfull \\hbox" not in log
    assert len(re.findall(r"\\bibitem", (out / "paper.bbl").read_text())) == 4


# --------------------------------------------------------------------------------------------------
# The command line


def test_published_command_lists_each_task_with_sources_and_protocol_status():
    r = CliRunner().invoke(main, ["published", "--task", "ferplus_test_plurality8_all"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.startswith(
        "ferplus_test_plurality8_all v2: ferplus test, protocol ferplus-plurality8-all, 8 classes"
    )
    assert re.search(
        r"GPT-4V \(gpt-4-vision-preview\) +zero-shot +Acc\. +64\.25 +3,572 +stated +lian2023explainable, Table 3",
        out,
    )
    assert "not placed: over a subset, only the 3,572 of the 3,573" in out
    assert "ferplus, protocol unknown (never placed):" in out and "Exp-CLIP ViT-L/14" in out
    assert "lian2023explainable  Lian et al. (2023), GPT-4V with Emotion" in out
    assert "POSTER++" not in out  # no FERPlus number
    doc = json.loads(
        CliRunner().invoke(main, ["published", "--task", "rafdb_basic_test_common7", "--json"]).stdout
    )
    assert {e["via"] for e in doc["tasks"][0]["results"]} == {"rafdb_basic_test"}  # same samples and labels
    r = CliRunner().invoke(main, ["published", "--task", "rafdb"])
    assert r.exit_code == 1 and "unknown task 'rafdb'; known:" in r.output and r.output.count("\n") == 1


def test_leaderboard_flags_say_what_to_fix(runs, tmp_path):
    r = CliRunner().invoke(main, ["leaderboard", str(runs), "--spec", "main", "--published", "gpt4v"])
    assert r.exit_code == 1 and "unknown published source gpt4v; known: all, Zhao_2025_WACV" in r.output
    r = CliRunner().invoke(
        main, ["leaderboard", str(runs), "--spec", "main", "--bib", str(tmp_path / "x.bib")]
    )
    assert r.exit_code == 2 and "--bib works with published rows: add --published all" in r.output
    mine = _source_dir(
        tmp_path, '{task: rafdb_basic_test, version: 1, metric: accuracy, value: "80.0", protocol: stated}'
    )
    r = CliRunner().invoke(main, ["leaderboard", str(runs), "--spec", "main", "--published", "me2026",
                                  "--published-dir", str(mine)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "| M (zero-shot) [me2026] § | 80.0 |" in r.stdout


def test_the_readme_shows_the_published_listing_as_the_command_prints_it(monkeypatch):
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    r = CliRunner().invoke(main, ["published", "--task", "ferplus_test_plurality8_all"])
    assert r.exit_code == 0, r.output
    readme = (root / "README.md").read_text(encoding="utf-8").split("## Comparing with published results")[1]
    assert f"$ tag-bench published --task ferplus_test_plurality8_all\n{r.stdout}```" in readme, (
        f"README out of date; the command now prints:\n{r.stdout}"
    )
