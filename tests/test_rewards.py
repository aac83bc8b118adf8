"""TAG rewards: exact values on hand-worked cases, and identity with the scores of real runs."""

from __future__ import annotations

import pytest

from tag_bench.rewards import (
    GroundingConfig,
    answer_reward,
    au_grounding_reward,
    breakdown,
    format_failures,
    format_reward,
    grounding_score,
    hallucination_penalty,
    hallucination_score,
    reward_breakdown,
    score_completion,
    tag_reward,
)
from tag_bench.schema import COMMON7, AUReference, AUState

SIZE = (100, 100)
ALL = {"format": 1.0, "answer": 1.0, "grounding": 1.0, "hallucination": 1.0}


def _ref(status: str = "ok", threshold: float | None = 0.5, scored: bool = True) -> AUReference:
    def st(score: float | None, active: bool | None, box: list[float]) -> AUState:
        return AUState(score=score if scored else None, active=active if scored else None, box=box)

    aus = {
        "AU6": st(0.9, True, [10, 10, 30, 30]),
        "AU12": st(0.8, True, [20, 40, 60, 60]),
        "AU4": st(0.1, False, [5, 5, 20, 20]),
        "AU1": AUState(box=[40, 5, 60, 20]),  # a region without an activation: unjudged
    }
    if status != "ok":
        aus = {}
    return AUReference(
        reference_id="hand@1",
        detector="hand",
        version="1",
        status=status,  # type: ignore[arg-type]
        threshold=threshold if scored else None,
        aus=aus,
    )


def _trace(steps: list[tuple[str, str]], answer: str = "<answer> happy </answer>") -> str:
    lines = ["Global analysis: the face is smiling.", "Verification loop:"]
    lines += [f"Inspect region → something moves ({au}) → <bbox>{box}</bbox>" for au, box in steps]
    lines += ["Final conclusion: these AUs indicate a dominant emotion.", answer]
    return "\n".join(lines)


TRACE = _trace([("AU6", "[10,10,30,30]"), ("AU12", "[20,40,60,70]"), ("AU4", "[5,5,20,20]")])


def test_every_reward_on_a_hand_worked_trace():
    ref = _ref()
    # AU6: IoU 1; AU12: 800 / 1200 = 2/3; AU4: IoU 1 but inactive, so it matches nothing.
    assert format_reward(TRACE, "happiness", ref, "pixel", SIZE) == 1.0
    assert answer_reward(TRACE, "happiness", ref, "pixel", SIZE) == 1.0
    assert answer_reward(TRACE, "sadness", ref, "pixel", SIZE) == 0.0
    mean_iou = au_grounding_reward(TRACE, "happiness", ref, "pixel", SIZE)
    assert mean_iou == pytest.approx((1 + 2 / 3 + 0) / 3)
    hits = au_grounding_reward(
        TRACE, "happiness", ref, "pixel", SIZE, grounding=GroundingConfig(mode="hit_rate")
    )
    assert hits == pytest.approx(2 / 3)
    strict = GroundingConfig(mode="hit_rate", iou_threshold=0.7)
    assert au_grounding_reward(TRACE, "happiness", ref, "pixel", SIZE, grounding=strict) == pytest.approx(
        1 / 3
    )
    # VLM-R1: active {AU6, AU12} both matched; position (1 + 2/3) / 2; miss 0, false alarm 1/3.
    vlm = au_grounding_reward(
        TRACE, "happiness", ref, "pixel", SIZE, grounding=GroundingConfig(mode="vlm_r1")
    )
    position, completeness = (1 + 2 / 3) / 2, 1 - (0 + 1 / 3) / 2
    assert vlm == pytest.approx(0.7 * position + 0.3 * completeness)
    assert hallucination_penalty(TRACE, "happiness", ref, "pixel", SIZE) == pytest.approx(-1 / 3)
    weights = {"format": 0.5, "answer": 2.0, "grounding": 1.0, "hallucination": 1.0}
    total = tag_reward(TRACE, "happiness", ref, "pixel", SIZE, weights=weights)
    assert total == pytest.approx(0.5 + 2.0 + (1 + 2 / 3) / 3 - 1 / 3)


def test_grounding_matches_one_claim_per_au_and_counts_unjudged_and_unknown_aus():
    ref = _ref()
    twice = _trace([("AU6", "[10,10,30,30]"), ("AU6", "[10,10,20,20]")])
    assert au_grounding_reward(twice, "happiness", ref, "pixel", SIZE) == pytest.approx((1 + 0) / 2)
    # AU1 has a region but no activation: its IoU counts, it is never a hallucination.
    unjudged = _trace([("AU1", "[40,5,60,20]")])
    assert au_grounding_reward(unjudged, "happiness", ref, "pixel", SIZE) == pytest.approx(1.0)
    assert hallucination_penalty(unjudged, "happiness", ref, "pixel", SIZE) is None
    # AU9 is not in the reference: IoU 0, counted.
    unknown = _trace([("AU6", "[10,10,30,30]"), ("AU9", "[10,10,30,30]")])
    assert au_grounding_reward(unknown, "happiness", ref, "pixel", SIZE) == pytest.approx(0.5)
    both_active = _trace([("AU6", "[10,10,30,30]"), ("AU12", "[20,40,60,60]")])
    assert hallucination_penalty(both_active, "happiness", ref, "pixel", SIZE) == 0.0


def test_no_box_and_unusable_references_have_defined_values():
    ref = _ref()
    no_box = (
        "<think>The cheeks rise (AU6) and the lip corners pull up (AU12).</think><answer>happiness</answer>"
    )
    assert au_grounding_reward(no_box, "happiness", ref, "pixel", SIZE) == 0.0
    custom = GroundingConfig(no_box=0.25)
    assert au_grounding_reward(no_box, "happiness", ref, "pixel", SIZE, grounding=custom) == 0.25
    for bad in (_ref("no_face"), _ref("error"), None):
        assert au_grounding_reward(TRACE, "happiness", bad, "pixel", SIZE) is None
        assert hallucination_penalty(TRACE, "happiness", bad, "pixel", SIZE) is None
        # not computed adds nothing to the total (as TRL's nansum does)
        assert tag_reward(TRACE, "happiness", bad, "pixel", SIZE, weights=ALL) == 2.0
    # a reference with regions but no activations cannot say which AUs VLM-R1 should find
    regions_only = _ref(scored=False)
    vlm = GroundingConfig(mode="vlm_r1")
    assert au_grounding_reward(TRACE, "happiness", regions_only, "pixel", SIZE, grounding=vlm) is None
    assert au_grounding_reward(TRACE, "happiness", regions_only, "pixel", SIZE) == pytest.approx(
        (1 + 2 / 3 + 1) / 3
    )


STEPS = "Verification loop:\nInspect cheeks → raised (AU6) → <bbox>[10,10,30,30]</bbox>\n"


@pytest.mark.parametrize(
    ("text", "failures"),
    [
        (TRACE, ()),
        (TRACE.replace("(AU4)", "(AU5)"), ()),  # the conclusion cites no AU of its own
        (TRACE.replace("these AUs", "AU6 + AU12 + AU4"), ()),  # AUs already boxed in a step
        (TRACE.replace("these AUs", "AU6 + AU17"), ("au_without_box",)),  # AU17 never inspected
        (f"<think>\n{STEPS}</think>\n<answer>happiness</answer>", ()),
        (STEPS + "Final answer: happiness", ("answer_tag",)),
        (f"<think>{STEPS}<answer>happiness</answer></think>", ("answer_tag",)),  # nothing after the block
        (STEPS + "<answer> confused </answer>", ("label",)),
        (STEPS + "<answer> happiness or sadness </answer>", ("label",)),
        (STEPS + "<answer> contempt </answer>", ("label",)),  # not one of the task's 7 classes
        ("<answer>happiness</answer>", ("steps",)),
        ("Nothing here.", ("answer_tag", "label", "steps")),
        (
            STEPS + "Inspect mouth → AU12 and AU25 → <bbox>[20,40,60,60]</bbox>\n<answer>happy</answer>",
            ("one_au_one_box",),
        ),
        (
            STEPS + "Inspect mouth → corners up → <bbox>[20,40,60,60]</bbox>\n<answer>happy</answer>",
            ("one_au_one_box",),
        ),
        (STEPS + "Inspect mouth → corners up (AU12)\n<answer>happy</answer>", ("au_without_box",)),
        (
            STEPS + "Inspect mouth → (AU12) → <bbox>[20,40,60]</bbox>\n<answer>happy</answer>",
            ("one_au_one_box",),
        ),
    ],
)
def test_format_checks_read_the_parse(text, failures):
    scored = score_completion(text, "happiness", None, "pixel", SIZE, classes=COMMON7)
    assert format_failures(text, scored, COMMON7) == failures
    assert format_reward(text, "happiness", None, "pixel", SIZE, classes=COMMON7) == (
        0.0 if failures else 1.0
    )


def test_format_needs_boxes_the_declared_frame_can_convert():
    resized = "Verification loop:\nInspect cheeks → raised (AU6) → <bbox>[10,10,30,30]</bbox>\n<answer>happy</answer>"
    assert format_reward(resized, "happiness", None, "pixel-resized", SIZE, input_size=(112, 112)) == 1.0
    # without the input size a pixel-resized box cannot be placed on the image
    assert format_reward(resized, "happiness", None, "pixel-resized", SIZE) == 0.0


def test_answer_reads_synonyms_and_respects_truncation():
    for text in ("<answer> joyful </answer>", "<answer>HAPPY</answer>", "The person looks happy."):
        assert answer_reward(text, "happiness", None, "pixel", SIZE) == 1.0
    assert answer_reward("<answer>happiness</answer>", "happy", None, "pixel", SIZE) == 1.0  # gold synonym
    assert (
        answer_reward("The person looks happy", "happiness", None, "pixel", SIZE, finish_reason="length")
        == 0.0
    )
    with pytest.raises(ValueError, match="not an emotion"):
        answer_reward("x", "purple", None, "pixel", SIZE)


def test_breakdown_computes_only_weighted_rewards():
    b = reward_breakdown(TRACE, "happiness", _ref(), "pixel", SIZE, weights={"answer": 1.0})
    assert (b.format, b.grounding, b.hallucination) == (None, None, None)
    assert b.answer == 1.0 and b.total == 1.0
    default = reward_breakdown(TRACE, "happiness", _ref(), "pixel", SIZE)  # format, answer, grounding
    assert default.hallucination is None and default.total == pytest.approx(2 + (1 + 2 / 3) / 3)
    with pytest.raises(ValueError, match="unknown reward"):
        reward_breakdown(TRACE, "happiness", None, "pixel", SIZE, weights={"accuracy": 1.0})


# --------------------------------------------------------------------------------------------------
# The fast path (format and answer from the parse, no scored record) equals the reference path

EDGE_TEXTS = (
    "",
    "   ",
    "<think><answer>sad</answer></think>",  # the answer only inside the reasoning block
    "<think>maybe sad or happy</think><answer>sadness</answer>",
    "<think>unclosed <answer>sad</answer>",
    "<answer></answer> The person looks happy.",
    "<answer>purple</answer>",
    "<answer>contempt</answer>",  # not one of COMMON7
    "<answer>sad</answer> wait, no: <answer>happy</answer>",
    "<ANSWER> Happy </ANSWER>",
    "<answer>sad",
    "\\boxed{sad}",
    "<answer>not happy</answer>",
    "<answer>AU12 lip corner puller</answer>",
    "<think><answer>fear</answer></think>The person looks happy.",
    "I cannot help with identifying emotions.",
    TRACE,
    _trace([("AU6", "[10,10,30,30]")], answer="The answer is happy."),
    _trace([("AU6 and AU12", "[10,10,30,30]"), ("AU4", "[5,5,20]")]),
)


def _fast_and_reference_cases():
    from tag_bench.testing.corpus import mixed_corpus

    for i, r in enumerate(mixed_corpus(1500, seed=3)):
        yield r.text, r.label or "neutral", r.frame, r.image_size, r.input_size, r.finish_reason, None
        if i % 5 == 0:  # the task's classes and a cut-off generation change the reading
            yield r.text, "happiness", r.frame, r.image_size, r.input_size, "length", COMMON7
    for text in EDGE_TEXTS:
        for finish in (None, "length"):
            for classes in (None, COMMON7):
                yield text, "happiness", "pixel", SIZE, None, finish, classes


def test_the_fast_path_equals_the_reference_path_over_the_corpus():
    ref = _ref()
    compared = failing_tag = 0
    for text, label, frame, size, input_size, finish, classes in _fast_and_reference_cases():
        kw = dict(input_size=input_size, classes=classes, finish_reason=finish)
        for weights in ({"format": 1.0, "answer": 1.0}, {"answer": 2.0}, {"format": 0.5}, ALL):
            fast = reward_breakdown(text, label, ref, frame, size, weights=weights, **kw)
            needs = "grounding" in weights
            scored = score_completion(text, label, ref if needs else None, frame, size, **kw)
            want = breakdown(text, scored, reference=ref, classes=classes, weights=weights)
            assert (fast.format, fast.answer, fast.grounding, fast.hallucination, fast.total) == (
                want.format, want.answer, want.grounding, want.hallucination, want.total
            ), text  # fmt: skip
            assert fast.format_failures == want.format_failures, text
            assert fast.scored.model_dump() == scored.model_dump(), text  # made on demand, the same record
            compared += 1
            failing_tag += "answer_tag" in fast.format_failures
        assert format_reward(text, label, None, frame, size, **kw) == want.format
        assert answer_reward(text, label, None, frame, size, **kw) == (1.0 if scored.correct else 0.0)
    assert compared > 7000 and 0 < failing_tag < compared  # both outcomes of the tag check were met


# --------------------------------------------------------------------------------------------------
# The rewards of a completion are the scores `tag-bench run` wrote for it


@pytest.fixture(scope="module")
def scored_runs(tmp_path_factory, dataset_fixtures):
    pytest.importorskip("mediapipe")
    from tag_bench.generate.evaluate import evaluate

    out = tmp_path_factory.mktemp("reward-runs")
    runs = []
    for task, root in (("demo", None), ("rafdb_basic_test", dataset_fixtures["raf_basic"])):
        for model in ("facs-rules", "random"):
            result = evaluate(task, model, data_root=root, out=out / f"{task}-{model}",
                              au_reference="mediapipe-geometric", cache=False, n_resamples=0,
                              progress=False)  # fmt: skip
            runs.append(result.run_dir)
    return runs


MODES = (GroundingConfig(), GroundingConfig(mode="hit_rate"), GroundingConfig(mode="vlm_r1"))


@pytest.mark.slow
def test_rewards_equal_the_scores_of_demo_and_fixture_runs(scored_runs):
    from tag_bench.rundir import RunDir
    from tag_bench.schema import ScoredSample
    from tag_bench.store import read_records

    grounded = 0
    for path in scored_runs:
        run = RunDir(path)
        classes = run.read_manifest().task.classes
        samples = {s.id: s for s in run.read_index()}
        generations = run.read_generations()
        references = {r.sample_id: r for r in run.read_references() or []}
        records = read_records(run.samples_path, ScoredSample)
        assert records and len(records) == len(samples)
        for rec in records:
            g, s, ref = generations[rec.sample_id], samples[rec.sample_id], references[rec.sample_id]
            assert g.status == "ok" and g.text is not None
            kw = dict(input_size=g.input_size, classes=classes, finish_reason=g.finish_reason)
            scored = score_completion(g.text, s.label, ref, g.frame, g.image_size, sample_id=s.id, **kw)
            assert scored.model_dump(mode="json") == rec.model_dump(mode="json")  # the very same scoring
            assert answer_reward(g.text, s.label, ref, g.frame, g.image_size, **kw) == float(rec.correct)
            for cfg in MODES:
                value = au_grounding_reward(g.text, s.label, ref, g.frame, g.image_size, grounding=cfg, **kw)
                assert value == grounding_score(rec, cfg, ref)
            assert hallucination_penalty(
                g.text, s.label, ref, g.frame, g.image_size, **kw
            ) == hallucination_score(rec)
            b = breakdown(g.text, rec, reference=ref, classes=classes, weights=ALL)
            assert b.answer == float(rec.correct)
            # Without repeated or hallucinated box claims, mean IoU is the sample's au_box_iou.
            box = [c for c in rec.claims if c.box is not None]
            plain = box and not any(c.hallucinated for c in box) and len({c.au for c in box}) == len(box)
            if rec.reference_status == "ok" and plain:
                assert b.grounding == pytest.approx(sum(c.iou or 0.0 for c in box) / len(box))
                grounded += b.grounding > 0
            if "facs-rules" in path.name and rec.reference_status == "ok" and rec.claims:
                assert b.format == 1.0 and b.answer == float(rec.correct) and b.hallucination == 0.0
    assert grounded >= 3  # real, non-trivial grounding values were compared


def test_an_unknown_frame_is_an_error_not_a_zero_reward():
    text = "<answer>happiness</answer>"
    with pytest.raises(ValueError, match=r"unknown box frame 'norm9'; valid: pixel, "):
        reward_breakdown(text, "happiness", _ref(), "norm9", SIZE, weights=ALL)
    for fn in (format_reward, answer_reward, au_grounding_reward, tag_reward):
        with pytest.raises(ValueError, match="unknown box frame 'norm9'"):
            fn(text, "happiness", _ref(), "norm9", SIZE)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_reward_weight_is_an_error_not_a_nan_total(bad):
    from tag_bench.rewards.core import RewardWeights

    with pytest.raises(ValueError, match=r"reward weights must be finite numbers; got answer="):
        reward_breakdown(
            "<answer>happiness</answer>", "happiness", _ref(), "pixel", SIZE, weights={"answer": bad}
        )
    with pytest.raises(ValueError, match="reward weights must be finite numbers; got grounding="):
        RewardWeights(grounding=bad)
