"""Prompt templates: exact rendered text (snapshot), hashes, validation, and frame consistency.

A snapshot failure means the prompt changed. If the change is intended, update the snapshot *and* the
hash together: every run records the template hash, so old and new results stay distinguishable.
"""

from __future__ import annotations

import dataclasses

import pytest

from tag_bench import prompts
from tag_bench.parsing import parse_response
from tag_bench.prompts import PROMPTS, list_prompts, render_prompt
from tag_bench.schema import BOX_FRAMES

RAF7 = ["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"]
SYSTEM = "You are an expert in facial expression recognition and the Facial Action Coding System (FACS)."

TAG_GROUNDED_PIXEL_100 = """\
Classify the facial expression of the person in this image as exactly one of: surprise, fear, disgust, happiness, sadness, anger, neutral.

Ground your reasoning in facial Action Units (AUs) and show where each one is. Answer in exactly this format:

Global analysis: <one or two sentences about the whole face>
Verification loop:
Inspect <region> → <observation> (AU<n>) → <bbox>[x1,y1,x2,y2]</bbox>
Inspect <region> → <observation> (AU<n>) → <bbox>[x1,y1,x2,y2]</bbox>
(one line per inspected region; each step cites exactly ONE AU code, written like AU4 or AU12, and the box of that AU's region)
Final conclusion: <which AUs support which emotion>
<answer>label</answer>

Box coordinates: integer pixel coordinates of this 100×100 image, origin top-left (x grows to the right, y grows downward); (x1,y1) is the top-left corner and (x2,y2) the bottom-right corner of the box.
The label inside <answer></answer> must be exactly one of: surprise, fear, disgust, happiness, sadness, anger, neutral."""

COT_NORM1000 = """\
Which facial expression does the person in this image show? Choose exactly one of: surprise, fear, disgust, happiness, sadness, anger, neutral.

First think step by step inside <think></think>: describe the facial muscle movements you see and name them as Action Units (for example AU6, AU12). When you refer to a facial region, you may give its box as <bbox>[x1,y1,x2,y2]</bbox>.
Box coordinates: integers from 0 to 1000 relative to the image width (x) and height (y): 0 is the left or top edge, 1000 the right or bottom edge, origin top-left; (x1,y1) is the top-left corner and (x2,y2) the bottom-right corner of the box.
Then give your final answer as <answer>label</answer>, where label is exactly one of: surprise, fear, disgust, happiness, sadness, anger, neutral."""

DIRECT = """\
Which facial expression does the person in this image show? Choose exactly one of: surprise, fear, disgust, happiness, sadness, anger, neutral.
Reply with the label only, inside answer tags: <answer>label</answer>"""

# (prompt id, frame, image size, rendered user text, template hash, rendered hash)
SNAPSHOTS = [
    ("tag_grounded", "pixel", (100, 100), TAG_GROUNDED_PIXEL_100, "acb3f715a45ea935", "80341692bd622047"),
    ("cot", "norm1000", None, COT_NORM1000, "3bff313a7c76cc05", "1e7e4dd887b70f39"),
    ("direct", None, None, DIRECT, "a812e71803c4f64b", "7e7b0b455590533b"),
]


@pytest.mark.parametrize(("pid", "frame", "size", "user", "template_hash", "rendered_hash"), SNAPSHOTS)
def test_snapshot(pid, frame, size, user, template_hash, rendered_hash) -> None:
    r = render_prompt(pid, RAF7, frame, size)
    assert r.user == user
    assert r.system == SYSTEM
    assert (r.prompt_id, r.frame, r.classes) == (pid, frame, tuple(RAF7))
    assert r.template_hash == template_hash == PROMPTS[pid].hash
    assert r.hash == rendered_hash
    assert r.messages() == [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def test_list_prompts() -> None:
    assert list_prompts() == ["tag_grounded", "cot", "direct"]
    assert all(len(PROMPTS[p].hash) == 16 and int(PROMPTS[p].hash, 16) >= 0 for p in list_prompts())


def test_template_hash_changes_when_any_text_changes() -> None:
    base = PROMPTS["tag_grounded"]
    assert dataclasses.replace(base, user=base.user + " ").hash != base.hash
    assert dataclasses.replace(base, system=base.system.lower()).hash != base.hash
    assert dataclasses.replace(base).hash == base.hash  # a copy with the same text: same hash


def test_frame_instructions_are_part_of_the_template_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p: dataclasses.replace(PROMPTS[p]).hash for p in PROMPTS}
    box, text = prompts.FRAME_INSTRUCTIONS["norm1"]
    monkeypatch.setitem(prompts.FRAME_INSTRUCTIONS, "norm1", (box, text + " Use two decimals."))
    after = {p: dataclasses.replace(PROMPTS[p]).hash for p in PROMPTS}
    assert after["tag_grounded"] != before["tag_grounded"]
    assert after["cot"] != before["cot"]
    assert after["direct"] == before["direct"]  # no boxes, no coordinate text


def test_rendered_hash_tracks_classes_frame_and_size() -> None:
    hashes = {
        render_prompt("tag_grounded", RAF7, "pixel", (100, 100)).hash,
        render_prompt("tag_grounded", RAF7, "pixel", (112, 112)).hash,
        render_prompt("tag_grounded", RAF7, "pixel").hash,
        render_prompt("tag_grounded", RAF7, "norm1000").hash,
        render_prompt("tag_grounded", list(reversed(RAF7)), "pixel", (100, 100)).hash,
    }
    assert len(hashes) == 5
    assert render_prompt("direct", RAF7, None).hash == render_prompt("direct", RAF7, "norm1").hash


@pytest.mark.parametrize(
    ("frame", "size", "must_contain"),
    [
        ("pixel", (640, 480), "pixel coordinates of this 640×480 image, origin top-left"),
        ("pixel", None, "pixel coordinates of this image, origin top-left"),
        ("pixel-resized", None, "the image as you receive it"),
        ("norm1000", None, "integers from 0 to 1000 relative to the image width (x) and height (y)"),
        ("norm1000-yxyx", None, "[ymin,xmin,ymax,xmax] with y first: integers from 0 to 1000"),
        ("norm1", None, "decimal numbers from 0 to 1"),
        ("loc1024-yxyx", None, "<locNNNN> (NNNN from 0000 to 1023) in the order ymin, xmin, ymax, xmax"),
    ],
)
def test_coordinate_instruction_matches_the_frame(frame, size, must_contain) -> None:
    for pid in ("tag_grounded", "cot"):
        assert must_contain in render_prompt(pid, RAF7, frame, size).user
    direct = render_prompt("direct", RAF7, frame, size).user
    assert "coordinate" not in direct.lower() and "bbox" not in direct


def test_classes_are_injected_in_task_order() -> None:
    user = render_prompt("direct", ["neutral", "anger"], None).user
    assert "Choose exactly one of: neutral, anger." in user


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt_id": "tag"}, "valid: tag_grounded, cot, direct"),
        ({"frame": "norm100"}, "valid: pixel, pixel-resized, norm1000, norm1000-yxyx, norm1, loc1024-yxyx"),
        ({"frame": None}, "a frame is required"),
        ({"classes": ["happy", "sad"]}, "canonical emotion names"),
        ({"classes": ["anger", "anger"]}, "duplicates"),
        ({"classes": []}, "non-empty"),
        ({"classes": "anger,fear"}, "non-empty list"),
        ({"image_size": (0, 10)}, "positive integers"),
        ({"image_size": "100x100"}, "positive integers"),
    ],
)
def test_bad_arguments_raise_value_error_naming_valid_values(kwargs, message) -> None:
    args = {"prompt_id": "tag_grounded", "classes": RAF7, "frame": "pixel", "image_size": None, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        render_prompt(**args)


def test_direct_rejects_unknown_frame_too() -> None:
    with pytest.raises(ValueError, match="valid: pixel"):
        render_prompt("direct", RAF7, "bogus")


@pytest.mark.parametrize("frame", BOX_FRAMES)
def test_box_syntax_shown_in_the_prompt_parses_in_that_frame(frame: str) -> None:
    """A model that follows the prompt literally is read in the frame the prompt asked for."""
    box_syntax, _ = prompts.coordinate_instruction(frame)
    filled = {
        "[x1,y1,x2,y2]": "[10,20,30,40]" if frame != "norm1" else "[0.1,0.2,0.3,0.4]",
        "[ymin,xmin,ymax,xmax]": "[200,100,400,300]",
        "<locY1><locX1><locY2><locX2>": "<loc0205><loc0102><loc0410><loc0307>",
    }[box_syntax]
    step = f"Inspect mouth → lip corners up (AU12) → <bbox>{filled}</bbox>\n<answer>happiness</answer>"
    p = parse_response(step, frame, (1000, 1000), input_size=(1000, 1000))
    (e,) = p.evidence
    assert p.label == "happiness" and e.au == "AU12" and e.box_status == "ok"
    x1, y1, x2, y2 = e.box
    assert x1 < x2 and y1 < y2
    if frame.endswith("yxyx"):
        assert x1 == pytest.approx(100, abs=0.5) and y1 == pytest.approx(200, abs=0.5)
