"""The TRL adapter: reward functions with GRPOTrainer's signature, references, and a real 2-step run."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

from tag_bench.rewards import (
    GroundingConfig,
    RewardReferenceError,
    load_references,
    reward_breakdown,
    trl_reward_funcs,
)
from tag_bench.schema import COMMON7, AUReference, AUState

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "train_grpo_tag.py"


def _ref(sample_id: str, status: str = "ok") -> AUReference:
    aus = {
        "AU6": AUState(score=0.9, active=True, box=[10, 10, 30, 30]),
        "AU12": AUState(score=0.8, active=True, box=[20, 40, 60, 60]),
        "AU4": AUState(score=0.1, active=False, box=[5, 5, 20, 20]),
    }
    return AUReference(reference_id="hand@1", detector="hand", version="1", status=status, threshold=0.5,
                       sample_id=sample_id, aus=aus if status == "ok" else {})  # fmt: skip


GOOD = (
    "Global analysis: smiling.\nVerification loop:\n"
    "Inspect cheeks → raised (AU6) → <bbox>[10,10,30,30]</bbox>\n"
    "Inspect mouth → corners up (AU12) → <bbox>[20,40,60,70]</bbox>\n"
    "Final conclusion: AU6 + AU12 indicate happiness.\n<answer> happiness </answer>"
)
HALLUCINATED = GOOD.replace("(AU12) → <bbox>[20,40,60,70]", "(AU4) → <bbox>[5,5,20,20]")
COLUMNS = {
    "sample_id": ["a", "a", "b", "b"],
    "label": ["happiness", "happiness", "sadness", "sadness"],
    "image_size": [[100, 100]] * 4,
    "classes": [list(COMMON7)] * 4,
    "frame": ["pixel"] * 4,
}


def _funcs(**kw):
    refs = {"a": _ref("a"), "b": _ref("b", status="no_face")}
    weights = kw.pop("weights", {"format": 1.0, "answer": 2.0, "grounding": 1.0, "hallucination": 0.5})
    return trl_reward_funcs(refs, frame="pixel", weights=weights, **kw)


def test_reward_funcs_return_weighted_rewards_of_one_scoring():
    funcs = _funcs()
    assert [f.__name__ for f in funcs] == ["tag_format", "tag_answer", "tag_grounding", "tag_hallucination"]
    # TRL's two completion forms: plain strings and lists of chat messages
    completions = [
        [{"role": "assistant", "content": GOOD}],
        [{"role": "assistant", "content": [{"type": "text", "text": HALLUCINATED}]}],
        GOOD,
        "<answer>sad</answer>",
    ]
    logged: dict[str, list] = {}
    columns = {**COLUMNS, "log_extra": lambda name, values: logged.setdefault(name, []).extend(values)}
    values = {
        f.__name__: f(prompts=["p"] * 4, completions=completions, completion_ids=None, **columns)
        for f in funcs
    }
    texts = [GOOD, HALLUCINATED, GOOD, "<answer>sad</answer>"]
    refs = [_ref("a"), _ref("a"), _ref("b", "no_face"), _ref("b", "no_face")]
    for i, text in enumerate(texts):
        b = reward_breakdown(text, COLUMNS["label"][i], refs[i], "pixel", (100, 100), classes=COMMON7,
                             weights={"format": 1, "answer": 1, "grounding": 1, "hallucination": 1})  # fmt: skip
        expected = {"tag_format": b.format, "tag_answer": 2 * b.answer, "tag_grounding": b.grounding,
                    "tag_hallucination": None if b.hallucination is None else 0.5 * b.hallucination}  # fmt: skip
        assert {k: v[i] for k, v in values.items()} == pytest.approx(expected)
    assert values["tag_grounding"][:2] == pytest.approx([(1 + 2 / 3) / 2, (1 + 0) / 2])
    assert values["tag_hallucination"] == pytest.approx(
        [0.0, -0.5 / 3, None, None]
    )  # AU6, AU12 (conclusion), AU4 judged
    assert values["tag_answer"] == [2.0, 2.0, 0.0, 2.0]
    # the batch was scored once: one set of extra log columns, whatever the number of functions
    assert logged["sample_id"] == ["a", "a", "b", "b"]
    assert logged["tag_format_failures"] == ["", "au_without_box", "", "steps"]  # AU12 lost its box
    scorer = funcs[0].scorer
    assert all(f.scorer is scorer for f in funcs)
    first = scorer._last
    funcs[1](completions=completions, **COLUMNS)
    assert scorer._last is first
    funcs[1](completions=list(completions), **COLUMNS)  # a new batch is scored anew
    assert scorer._last is not first


def test_eos_ids_mark_cut_completions_as_truncated():
    funcs = _funcs(weights={"answer": 1.0}, eos_token_ids=[99])
    columns = {k: v[:2] for k, v in COLUMNS.items()}
    text = "The person looks happy"
    assert funcs[0](completions=[text, text], completion_ids=[[5, 6, 99], [5, 6, 7]], **columns) == [1.0, 0.0]


def test_reward_funcs_say_what_is_missing():
    with pytest.raises(RewardReferenceError, match="need AU references"):
        trl_reward_funcs(frame="pixel")
    answer_only = trl_reward_funcs(frame="pixel", weights={"format": 1, "answer": 1})
    assert [f.__name__ for f in answer_only] == ["tag_format", "tag_answer"]
    with pytest.raises(ValueError, match="column 'label'"):
        answer_only[0](completions=["x"], sample_id=["a"])
    funcs = _funcs()
    with pytest.raises(RewardReferenceError, match="no AU reference for sample 'zz'"):
        funcs[0](completions=["x"], sample_id=["zz"], label=["happiness"])
    with pytest.raises(ValueError, match="norm1000"):
        funcs[0](completions=["x"], sample_id=["a"], label=["happiness"], frame=["norm1000"])
    with pytest.raises(ValueError, match="unknown box frame"):
        trl_reward_funcs(frame="pixels", weights={"answer": 1})
    with pytest.raises(ValueError, match="at least one nonzero"):
        trl_reward_funcs(frame="pixel", weights={"format": 0, "answer": 0, "grounding": 0})
    with pytest.raises(ValueError):
        trl_reward_funcs(frame="pixel", weights={"answer": 1}, grounding={"mode": "giou"})
    assert isinstance(_funcs(grounding={"mode": "vlm_r1"})[0].scorer.grounding, GroundingConfig)


def test_references_come_from_jsonl_or_the_au_cache(tmp_path):
    pytest.importorskip("mediapipe")
    from tag_bench.au.cache import AUCache
    from tag_bench.tasks import load_task

    samples = load_task("demo").load(None).samples[:2]
    cache = tmp_path / "au.sqlite"
    with pytest.raises(RewardReferenceError, match="tag-bench au detect"):
        load_references("mediapipe-geometric", samples, cache=cache)
    with pytest.raises(RewardReferenceError, match="pass the samples"):
        load_references("mediapipe-geometric")
    computed = load_references("mediapipe-geometric", samples, cache=cache, compute_missing=True)
    assert len(AUCache(cache)) == 2
    cached = load_references("mediapipe-geometric", samples, cache=cache)
    assert {k: v.model_dump() for k, v in cached.items()} == {k: v.model_dump() for k, v in computed.items()}
    assert all(r.status == "ok" and r.sample_id == sid for sid, r in cached.items())
    path = tmp_path / "refs.jsonl"
    path.write_text("".join(r.model_dump_json() + "\n" for r in computed.values()))
    assert load_references(path).keys() == computed.keys()
    assert load_references(list(computed.values())).keys() == computed.keys()


# --------------------------------------------------------------------------------------------------
# TRL for real: the README example, two optimisation steps on the tiny random Qwen2.5-VL (CPU)


def _load_example():
    spec = importlib.util.spec_from_file_location("train_grpo_tag", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pytest.importorskip("trl")
    pytest.importorskip("mediapipe")
    torch = pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("grpo")
    # py-feat 2.1.5's RetinaFace constructor calls torch.set_grad_enabled(False) for the whole process,
    # and tests/test_au_pyfeat.py builds one earlier in the session: training needs autograd back.
    with torch.enable_grad():
        return out, _load_example().main(str(out))


@pytest.mark.slow
def test_grpo_two_steps_log_the_rewards_tag_bench_computes(trained):
    import pandas as pd

    out, trainer = trained
    assert trainer.state.global_step == 2
    scorer = trainer.reward_funcs[0].scorer
    rows = {row["sample_id"]: row for row in trainer.train_dataset}
    assert rows["demo/astronaut"]["input_size"] == [224, 224]  # 512x512 under the tiny model's pixel cap
    tables = [pd.read_parquet(p) for p in sorted((out / "completions").glob("completions_*.parquet"))]
    assert len(tables) == 2
    history = [h for h in trainer.state.log_history if "rewards/tag_format/mean" in h]
    assert len(history) == 2
    for table, logged in zip(tables, history, strict=True):
        assert len(table) == 2  # batch size 2: one prompt, two generations
        recomputed = {name: [] for name in ("format", "answer", "grounding")}
        for _, r in table.iterrows():
            text = "".join(m["content"] for m in r["completion"])
            row = rows[r["sample_id"]]
            b = reward_breakdown(text, row["label"], scorer.references[row["sample_id"]], row["frame"],
                                 row["image_size"], input_size=row["input_size"], classes=row["classes"],
                                 finish_reason=r["tag_finish_reason"])  # fmt: skip
            for name in recomputed:
                value = getattr(b, name)
                logged_value = r[f"tag_{name}"]
                if value is None:
                    assert math.isnan(logged_value)
                else:
                    assert logged_value == pytest.approx(value, abs=1e-6)
                    recomputed[name].append(value)
        for name, values in recomputed.items():
            mean = logged[f"rewards/tag_{name}/mean"]
            assert mean == pytest.approx(
                sum(values) / len(values) if values else math.nan, abs=1e-6, nan_ok=True
            )


@pytest.mark.slow
def test_trainer_reward_path_gives_tag_bench_rewards_on_real_traces(trained):
    """TRL's own reward call (the pinned GRPOTrainer._calculate_rewards) on TAG traces built from the
    AU references: the random model's gibberish earns 0, so this checks the nonzero values too."""
    _, trainer = trained
    scorer = trainer.reward_funcs[0].scorer
    inputs = [dict(row) for row in trainer.train_dataset]
    completions, expected = [], []
    for row in inputs:
        ref = scorer.references[row["sample_id"]]
        (w, h), (iw, ih) = row["image_size"], row["input_size"]
        steps = []
        for au in sorted(ref.active_aus())[:3]:
            x1, y1, x2, y2 = ref.aus[au].box
            box = f"[{round(x1 * iw / w)},{round(y1 * ih / h)},{round(x2 * iw / w)},{round(y2 * ih / h)}]"
            steps.append(f"Inspect region → visible ({au}) → <bbox>{box}</bbox>")
        text = "\n".join(
            ["Global analysis: a face.", "Verification loop:", *steps, f"<answer> {row['label']} </answer>"]
        )
        completions.append([{"role": "assistant", "content": text}])
        b = reward_breakdown(text, row["label"], ref, row["frame"], row["image_size"], input_size=row["input_size"],
                             classes=row["classes"])  # fmt: skip
        expected.append([b.format, b.answer, b.grounding])
    prompts = [row["prompt"] for row in inputs]
    ids = [
        trainer.processing_class.tokenizer(c[0]["content"])["input_ids"] + [trainer.eos_token_ids[0]]
        for c in completions
    ]
    rewards = trainer._calculate_rewards(inputs, prompts, completions, ids).tolist()
    for got, want in zip(rewards, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-6)
    with_steps = [
        r for r, row in zip(rewards, inputs, strict=True) if scorer.references[row["sample_id"]].active_aus()
    ]
    assert len(with_steps) >= 2, "the demo faces should have active AUs to cite"
    assert all(r[0] == 1.0 and r[1] == 1.0 and r[2] > 0.5 for r in with_steps), rewards
    # a face the reference marks with no active AU gets a trace without steps: not the TAG format, no box
    assert all(r[0] == 0.0 and r[2] == 0.0 for r in rewards if r not in with_steps), rewards


def test_readme_section_runs_as_written(capsys):
    """The README section links the example script (run by the 2-step test above) and shows a snippet
    that prints the rewards it says it prints."""
    section = (
        (ROOT / "README.md").read_text().split("## Training with TAG rewards", 1)[1].split("\n## ", 1)[0]
    )
    assert f"]({EXAMPLE.relative_to(ROOT).as_posix()})" in section
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    snippet = next(b for b in blocks if "reward_breakdown(" in b)
    exec(compile(snippet, "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    match = re.search(r"# (1\.0 1\.0 [\d.]+ [\d.]+)", snippet)
    assert match and printed == match.group(1)
