"""``tag-bench judge`` end to end: real baseline runs on generated RAF-DB faces (real MediaPipe), a real
loopback chat server as the judge (tag_bench.testing.chat_server's deterministic judge behaviours)."""

from __future__ import annotations

import csv
import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.errors import TagBenchError
from tag_bench.judge import judge_runs
from tag_bench.judge.agree import _judge_verdicts, agree_with_human
from tag_bench.judge.candidates import CandidateError
from tag_bench.judge.templates import TemplateError
from tag_bench.report.leaderboard import leaderboard
from tag_bench.rundir import JudgeRunDir, RunConfigError, RunDir
from tag_bench.testing.chat_server import (
    ChatServer,
    Fault,
    constant_judge,
    flaky_judge,
    message_text,
    placed_boxes_judge,
)

N_SAMPLES = 40


@pytest.fixture(scope="module")
def candidates(tmp_path_factory) -> dict[str, Path]:
    """facs-rules (well-placed boxes), random (boxes anywhere) and majority (no trace of boxes) on the same
    40 generated RAF-DB test faces."""
    from tag_bench.generate.evaluate import evaluate
    from tag_bench.testing.fixtures.scaled import write_scaled_fixtures

    root = tmp_path_factory.mktemp("judge-candidates")
    data = write_scaled_fixtures(root / "data", n=5 * N_SAMPLES, seed=3, pool=8)["rafdb"]  # 1 in 5 is test
    out = {}
    for model in ("facs-rules", "random", "majority"):
        evaluate("rafdb_basic_test", model, data_root=data, out=root / model, progress=False, n_resamples=0,
                 au_reference="mediapipe-blendshapes")  # fmt: skip
        out[model] = root / model
    return out


def _args(srv: ChatServer, **extra: object) -> dict[str, object]:
    # JPEG: encoding a 512-pixel PNG per call is what a test would mostly wait for
    return {
        "model": "judge-model",
        "base_url": srv.base_url,
        "concurrency": 4,
        "max_retries": 0,
        "image_format": "jpeg",
        **extra,
    }


def _rating(report, name: str, metric: str = "bt_rating"):
    return next(c for c in report.candidates if c.name == name).metrics[metric]


def test_better_run_ranks_above_with_separated_cis(candidates, tmp_path):
    announced: list[str] = []
    with ChatServer(reply=placed_boxes_judge) as srv:
        result = judge_runs(
            [candidates["facs-rules"], candidates["random"]], "openai", _args(srv), out=tmp_path / "j",
            progress=False, cache=False, announce=announced.append, n_resamples=500,
        )  # fmt: skip
        calls = len([r for r in srv.requests if r.body is not None])
    assert calls == 2 * N_SAMPLES and f"= {2 * N_SAMPLES} judge calls" in announced[0]
    good, bad = _rating(result.report, "facs-rules"), _rating(result.report, "random")
    assert good.value > bad.value
    assert good.ci_low > bad.ci_high  # separated
    assert good.ci_low <= good.value <= good.ci_high
    assert good.value == pytest.approx(-bad.value)  # mean-zero anchor
    assert result.report.study["position_consistency"].value == 1.0
    assert result.report.study["judge_failure_rate"].value == 0.0
    lines = (tmp_path / "j" / "judgements.jsonl").read_text().splitlines()
    assert len(lines) == 2 * N_SAMPLES and all(json.loads(x)["text"] for x in lines)  # raw judge text kept
    manifest = JudgeRunDir(tmp_path / "j").read_manifest()
    assert manifest.gen_kwargs["temperature"] == 0.0 and manifest.judge.adapter == "openai"
    assert [c.name for c in manifest.candidates] == ["facs-rules", "random"]

    board = leaderboard([tmp_path / "j"], spec="preference")
    rows = {r.name: r for r in board.table.rows}
    assert set(rows) == {"facs-rules", "random"}
    assert rows["facs-rules"].cells[0][0].ci_low == good.ci_low
    assert "BT rating" in board.text and "[" in board.text


def test_judge_command_and_leaderboard_cli(candidates, tmp_path):
    runner = CliRunner()
    with ChatServer(reply=placed_boxes_judge) as srv:
        res = runner.invoke(main, [
            "judge", str(candidates["facs-rules"]), str(candidates["random"]), str(candidates["majority"]),
            "--judge", "openai", "--judge-args", f"model=judge-model,base_url={srv.base_url},image_format=jpeg", "--out",
            str(tmp_path / "j"), "--samples", "10", "--no-cache", "--no-progress", "--n-resamples", "200",
        ])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 pair(s) × 10 sample(s) × 2 orders = 60 judge calls" in res.output
    assert "facs-rules" in res.output and "BT rating" in res.output
    res = runner.invoke(main, ["leaderboard", str(tmp_path / "j"), "--spec", "preference"])
    assert res.exit_code == 0, res.output
    assert "facs-rules" in res.output and "majority" in res.output and "BT rating" in res.output
    # readers of per-sample scores skip a judge run with a note; score refuses it by name
    res = runner.invoke(main, ["score", str(tmp_path / "j")])
    assert res.exit_code != 0 and "judge run directory" in res.output


def test_always_a_judge_gives_ties_zero_consistency_equal_ratings(candidates, tmp_path):
    with ChatServer(reply=constant_judge("Response A is better. [[A]]")) as srv:
        result = judge_runs([candidates["facs-rules"], candidates["random"]], "openai", _args(srv),
                            out=tmp_path / "j", samples=12, progress=False, cache=False, n_resamples=200)  # fmt: skip
    rep = result.report
    assert rep.status_counts["position_inconsistent"] == 12 and rep.status_counts["consistent"] == 0
    assert rep.study["position_consistency"].value == 0.0
    assert rep.study["first_position_rate"].value == 1.0
    assert rep.study["tie_rate"].value == 1.0
    a, b = _rating(rep, "facs-rules"), _rating(rep, "random")
    assert a.value == pytest.approx(0.0, abs=1e-9) and b.value == pytest.approx(0.0, abs=1e-9)
    assert _rating(rep, "facs-rules", "win_rate").value == 0.5


def test_garbage_verdicts_are_counted_and_left_out_of_the_fit(candidates, tmp_path):
    judge = flaky_judge(placed_boxes_judge, every=4, garbage="Hard to say. [[A]] or maybe [[B]]")
    with ChatServer(reply=judge) as srv:
        result = judge_runs([candidates["facs-rules"], candidates["random"]], "openai", _args(srv),
                            out=tmp_path / "j", progress=False, cache=False, n_resamples=200)  # fmt: skip
        garbage = sum(1 for r in srv.requests if r.body is not None and judge(r.body).startswith("Hard"))
    rep = result.report
    assert garbage > 0 and rep.failure_counts == {"conflicting_verdicts": garbage}
    failed = rep.status_counts["judge_failed"]
    assert 0 < failed <= garbage
    ok = rep.status_counts["consistent"] + rep.status_counts["position_inconsistent"]
    assert ok + failed == N_SAMPLES  # every comparison counted, none dropped
    assert rep.study["judge_failure_rate"].value == pytest.approx(failed / N_SAMPLES)
    assert rep.study["judge_failure_rate"].n == N_SAMPLES
    assert _rating(rep, "facs-rules").n == ok  # a comparison with a failed order is not in the fit
    flagged = [c for c in rep.candidates if any("judge failure rate" in f for f in c.flags)]
    assert (rep.study["judge_failure_rate"].value > 0.1) == bool(flagged)


def test_human_csv_with_a_known_kappa(candidates, tmp_path):
    with ChatServer(reply=placed_boxes_judge) as srv:
        judge_runs([candidates["facs-rules"], candidates["random"]], "openai", _args(srv), out=tmp_path / "j",
                   progress=False, cache=False, n_resamples=200)  # fmt: skip
    res = CliRunner().invoke(
        main, ["judge", "export", str(tmp_path / "j"), "--out", str(tmp_path / "items.csv")]
    )
    assert res.exit_code == 0, res.output
    with open(tmp_path / "items.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == N_SAMPLES
    text = (tmp_path / "items.csv").read_text()
    assert "facs-rules" not in text and "majority" not in text  # blinded (random's own trace says "random")
    assert list(rows[0]) == ["item", "image", "question", "response_a", "response_b", "verdict", "rater"]
    assert all((tmp_path / r["image"]).is_file() for r in rows)
    run = JudgeRunDir(tmp_path / "j")
    verdicts, _ = _judge_verdicts(run.read_manifest(), run)
    # the person agrees on the first 30 items and answers the next label (A->B->C->A) on the rest
    nxt = {"A": "B", "B": "C", "C": "A"}
    for k, r in enumerate(rows):
        j = verdicts[r["item"]]
        r["verdict"] = j if k < 30 else nxt[j]
    with open(tmp_path / "rated.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    judge_side = [verdicts[r["item"]] for r in rows]
    human = [r["verdict"] for r in rows]
    n = len(rows)
    labels = "ABC"
    po = Fraction(sum(a == b for a, b in zip(judge_side, human, strict=True)), n)
    pe = sum(Fraction(judge_side.count(c), n) * Fraction(human.count(c), n) for c in labels)
    expected = (po - pe) / (1 - pe)
    report = agree_with_human(tmp_path / "j", tmp_path / "rated.csv", n_resamples=200)
    assert report.n_items == n
    assert report.metrics["agreement"].value == pytest.approx(30 / 40, abs=1e-15)
    assert report.metrics["cohen_kappa"].value == pytest.approx(float(expected), abs=1e-12)
    assert (
        report.metrics["cohen_kappa"].ci_low
        <= report.metrics["cohen_kappa"].value
        <= report.metrics["cohen_kappa"].ci_high
    )
    assert sum(map(sum, report.confusion)) == n
    res = CliRunner().invoke(
        main, ["judge", "agree", str(tmp_path / "j"), "--human", str(tmp_path / "rated.csv")]
    )
    assert res.exit_code == 0 and "cohen_kappa" in res.output, res.output

    # several raters: Krippendorff's alpha, as the krippendorff package computes it
    krippendorff = pytest.importorskip("krippendorff")
    import numpy as np

    many = []
    for k, r in enumerate(rows):
        many.append({**r, "rater": "ann", "verdict": verdicts[r["item"]]})
        many.append(
            {**r, "rater": "bob", "verdict": verdicts[r["item"]] if k % 3 else nxt[verdicts[r["item"]]]}
        )
    with open(tmp_path / "many.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(many[0]))
        w.writeheader()
        w.writerows(many)
    rep2 = agree_with_human(tmp_path / "j", tmp_path / "many.csv", n_resamples=200)
    grid = np.array([[labels.index(verdicts[r["item"]]) for r in rows],
                     [labels.index(m["verdict"]) for m in many[1::2]],
                     [labels.index(verdicts[r["item"]]) for r in rows]], dtype=float)  # fmt: skip
    want = krippendorff.alpha(reliability_data=grid, level_of_measurement="nominal")
    assert rep2.metrics["krippendorff_alpha"].value == pytest.approx(want, abs=1e-12)
    assert rep2.raters == ["ann", "bob"]

    bad = tmp_path / "bad.csv"
    bad.write_text("item,verdict\nnot-an-item,A\n")
    res = CliRunner().invoke(main, ["judge", "agree", str(tmp_path / "j"), "--human", str(bad)])
    assert res.exit_code == 1 and "not a comparison of" in res.output


def test_interrupted_judging_resumes(candidates, tmp_path):
    runs = [candidates["facs-rules"], candidates["random"], candidates["majority"]]
    with ChatServer(reply=placed_boxes_judge) as srv:
        full = judge_runs(runs, "openai", _args(srv), out=tmp_path / "full", samples=8, progress=False, cache=False,
                          n_resamples=200)  # fmt: skip
        cut = tmp_path / "cut"
        shutil.copytree(tmp_path / "full", cut)
        lines = (cut / "judgements.jsonl").read_text().splitlines(keepends=True)
        (cut / "judgements.jsonl").write_text("".join(lines[:20]) + lines[20][:37])  # a crash mid-line
        (cut / "metrics.json").unlink()
        before = len(srv.requests)
        resumed = judge_runs(runs, "openai", _args(srv), out=cut, samples=8, progress=False, cache=False,
                             n_resamples=200)  # fmt: skip
        assert len(srv.requests) - before == len(lines) - 20  # only what was lost
        with pytest.raises(RunConfigError, match="another configuration"):
            judge_runs(runs, "openai", _args(srv), out=cut, samples=9, progress=False, cache=False)
    assert resumed.report.model_dump(exclude={"run_status"}) == full.report.model_dump(exclude={"run_status"})
    assert JudgeRunDir(cut).read_manifest().resumed_at


def test_failed_calls_are_counted_then_retried(candidates, tmp_path):
    runs = [candidates["facs-rules"], candidates["random"]]
    with ChatServer(reply=placed_boxes_judge) as srv:
        srv.add_fault(Fault.error(500), times=3)
        first = judge_runs(runs, "openai", _args(srv), out=tmp_path / "j", samples=5, progress=False, cache=False,
                           n_resamples=200)  # fmt: skip
        assert first.report.failure_counts == {"call_error": 3}
        assert first.report.status_counts["judge_failed"] >= 2
        second = judge_runs(runs, "openai", _args(srv), out=tmp_path / "j", samples=5, progress=False, cache=False,
                            n_resamples=200)  # fmt: skip
    assert second.calls == 3 and second.report.failure_counts == {}


def test_judge_cache_serves_a_repeated_study(candidates, tmp_path):
    runs = [candidates["facs-rules"], candidates["random"]]
    with ChatServer(reply=placed_boxes_judge) as srv:
        judge_runs(runs, "openai", _args(srv), out=tmp_path / "a", samples=4, progress=False,
                   cache=tmp_path / "c.sqlite", n_resamples=200)  # fmt: skip
        n = len(srv.requests)
        again = judge_runs(runs, "openai", _args(srv), out=tmp_path / "b", samples=4, progress=False,
                           cache=tmp_path / "c.sqlite", n_resamples=200)  # fmt: skip
        assert len(srv.requests) == n and again.from_cache == 8


def test_custom_template_with_mt_bench_verdicts_end_to_end(candidates, tmp_path):
    template = tmp_path / "rubric.txt"
    template.write_text(
        "RUBRIC-X. Classes: {classes}. Correct: {gold}.\nQ: {question}\n<<A>>\n{response_a}\n<<B>>\n{response_b}\n"
        "Literal braces {{like this}}. Answer [[A]], [[B]] or [[C]].\n"
    )
    runner = CliRunner()
    with ChatServer(reply=placed_boxes_judge) as srv:
        args = ["judge", str(candidates["facs-rules"]), str(candidates["random"]), "--judge", "openai",
                "--judge-args", f"model=judge-model,base_url={srv.base_url}", "--out", str(tmp_path / "j"),
                "--samples", "6", "--no-cache", "--no-progress", "--template", str(template), "--n-resamples", "200"]  # fmt: skip
        res = runner.invoke(main, args)
        assert res.exit_code == 1 and "--show-gold" in res.output  # {gold} needs --show-gold
        res = runner.invoke(main, [*args, "--show-gold"])
        assert res.exit_code == 0, res.output
        texts = [message_text(r.body) for r in srv.requests if r.body is not None]
    assert len(texts) == 12 and all(
        "RUBRIC-X" in t and "{like this}" in t and "Correct: " in t for t in texts
    )
    assert all("[A1:" in t or "[B1:" in t for t in texts)  # canonical boxes
    manifest = JudgeRunDir(tmp_path / "j").read_manifest()
    assert manifest.template_source == str(template) and manifest.show_gold
    report = JudgeRunDir(tmp_path / "j").read_metrics()
    assert report.status_counts["judge_failed"] == 0


def test_template_errors_are_one_line(tmp_path):
    from tag_bench.judge.templates import load_template

    bad = tmp_path / "t.txt"
    bad.write_text("{response_a} {response_b} {respons_c}")
    with pytest.raises(TemplateError, match=r"unknown placeholder.*respons_c"):
        load_template(bad).check(show_gold=False)
    bad.write_text("only {response_a}")
    with pytest.raises(TemplateError, match="response_b"):
        load_template(bad).check(show_gold=False)


def test_no_image_judge_sees_text_only(candidates, tmp_path):
    with ChatServer(reply=placed_boxes_judge) as srv:
        result = judge_runs([candidates["facs-rules"], candidates["random"]], "openai", _args(srv),
                            out=tmp_path / "j", samples=3, show_image=False, progress=False, cache=False,
                            n_resamples=200)  # fmt: skip
        bodies = [r.body for r in srv.requests if r.body is not None]
    assert bodies and all(
        part["type"] == "text"
        for b in bodies
        for m in b["messages"]
        if isinstance(m["content"], list)
        for part in m["content"]
    )
    assert all("you are not shown the image" in message_text(b) for b in bodies)
    assert not result.manifest.show_image
    with pytest.raises(TagBenchError, match="cannot be asked without an image"):
        judge_runs([candidates["facs-rules"], candidates["random"]], "majority", "label=happiness", out=tmp_path / "k",
                   show_image=False, progress=False)  # fmt: skip


def test_max_calls_and_refusals(candidates, tmp_path):
    with ChatServer(reply=placed_boxes_judge) as srv:
        with pytest.raises(TagBenchError, match="more than --max-calls 5"):
            judge_runs([candidates["facs-rules"], candidates["random"]], "openai", _args(srv), out=tmp_path / "j",
                       max_calls=5, progress=False, cache=False)  # fmt: skip
        assert not [r for r in srv.requests if r.body is not None]
        # runs on other samples are refused, naming both
        from tag_bench.generate.evaluate import evaluate

        data = RunDir(candidates["random"]).read_manifest().data_root
        evaluate("rafdb_basic_test", "random", data_root=data, out=tmp_path / "few", limit=5, progress=False,
                 n_resamples=0)  # fmt: skip
        with pytest.raises(CandidateError, match="sample set"):
            judge_runs([candidates["random"], tmp_path / "few"], "openai", _args(srv), out=tmp_path / "k",
                       progress=False)  # fmt: skip


def test_baseline_anchors_and_compare_two_judge_runs(candidates, tmp_path):
    runs = [candidates["random"], candidates["majority"]]
    with ChatServer(reply=placed_boxes_judge) as srv:
        a = judge_runs(runs, "openai", _args(srv), out=tmp_path / "a", baseline=candidates["facs-rules"], samples=12,
                       progress=False, cache=False, n_resamples=200)  # fmt: skip
    assert a.report.anchor == "facs-rules"
    anchor = _rating(a.report, "facs-rules")
    assert anchor.value == 0.0 and anchor.ci_low is None
    assert {(w.a, w.b) for w in a.report.win_rates} == {("facs-rules", "random"), ("facs-rules", "majority")}
    with ChatServer(reply=constant_judge("[[C]]")) as srv:
        judge_runs(runs, "openai", _args(srv), out=tmp_path / "b", baseline=candidates["facs-rules"], samples=12,
                   progress=False, cache=False, n_resamples=200)  # fmt: skip
    res = CliRunner().invoke(
        main, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--n-resamples", "200"]
    )
    assert res.exit_code in (0, 1), res.output
    assert "bt_rating" in res.output and "they differ in judge" in res.output
    res = CliRunner().invoke(main, ["compare", str(tmp_path / "a"), str(candidates["random"])])
    assert res.exit_code == 2 and "is a judge run" in res.output
    # two judges of one study, comparison by comparison: the always-tie judge agrees on the ties only
    from tag_bench.judge.agree import agree_with_judge

    rep = agree_with_judge(tmp_path / "a", tmp_path / "b", n_resamples=200)
    ties = sum(w.ties for w in a.report.win_rates)
    assert rep.n_items == 24 and rep.metrics["agreement"].value == pytest.approx(ties / 24)
    assert [row[2] for row in rep.confusion] == [sum(r) for r in rep.confusion]  # b said C throughout
