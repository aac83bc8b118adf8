"""Parser fixtures: whole, realistic responses of every format and failure family.

Each case states the label, status, cited AUs and every evidence item (AU, box in presented-image
pixels, step) the parser must produce. Boxes are hand-computed from the frame rules in
``tag_bench.parsing.frames``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tag_bench.parsing import parse_response
from tag_bench.schema import COMMON7, Parsed

RAF7 = ["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"]


@dataclass
class Case:
    name: str
    text: str
    frame: str = "pixel"
    image_size: tuple[int, int] | None = (512, 512)
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    status: str = "ok"
    aus: list[str] | None = None  # None: not checked
    # (au, box or None, step) per evidence item, in order; None: not checked
    evidence: list[tuple[str | None, list[float] | None, int]] | None = None
    box_status: list[str] | None = None
    note: str | None = None  # a substring one of the notes must contain


# --------------------------------------------------------------------------------------------------
# TAG traces

TAG_SADNESS = """\
**Global analysis:** The face appears aged with deep wrinkles and a downward gaze, conveying a somber and introspective state.
**Verification loop:**
Inspect eye region → heavy eyelids and drooping lower lid, skin folding at the lip corners (AU14) → <bbox>[80,323,416,407]</bbox>
Inspect inner brow → subtle lift and tension between the brows (AU4) → <bbox>[235,119,345,188]</bbox>
Inspect mouth region → slight downturn and skin tension on the chin (AU17) → <bbox>[181,410,334,511]</bbox>
**Final conclusion:** Combined AU14 + AU4 + AU17 indicate a dominant emotion of sadness.
<answer> sadness </answer>"""

# Qwen2.5-VL on a 100x100 RAF-DB image: the processor resized it to 112x112, boxes are in that frame.
TAG_HAPPY_QWEN25_RAF = """\
Global analysis: A young woman with a broad, open-mouthed smile; the eyes are narrowed by raised cheeks.
Verification loop:
Inspect cheeks → cheeks lifted, crow's feet at the outer eye corners (AU6) → <bbox>[14,36,98,62]</bbox>
Inspect mouth corners → lip corners pulled up and back obliquely (AU12) → <bbox>[28,70,84,98]</bbox>
Inspect lips → lips parted showing the upper teeth (AU25) → <bbox>[35,74,77,91]</bbox>
Final conclusion: AU6 + AU12 with AU25 form a Duchenne smile, so the expression is happiness.
<answer>happiness</answer>"""

# "->" arrows, AU after the box, zero padding, spaces in the box, a step with no AU (its box must not
# borrow a neighbour's AU), and a continuation line starting with an arrow.
TAG_SURPRISE_VARIANTS = """\
Global analysis: Wide-open eyes and a dropped jaw suggest a sudden reaction.
Verification loop:
Inspect brows -> both inner and outer brows raised high -> <bbox>[ 52, 40, 180, 78 ]</bbox> (AU01)
Inspect upper eyelids -> sclera visible above the iris -> <bbox>[60,82,170,104]</bbox> AU05
Inspect forehead -> horizontal wrinkles across the forehead -> <bbox>[48,10,190,40]</bbox>
Inspect jaw -> mouth open, jaw dropped
  -> (AU26) -> <bbox>[80,150,150,215]</bbox>
Final conclusion: AU1, AU5 and AU26 together indicate surprise rather than fear.
<answer>Surprise</answer>"""

# R1-style: the whole trace inside <think>, the answer after it; 0-1000 boxes on a 640x480 image.
TAG_ANGER_IN_THINK = """\
<think>
Global analysis: The brows are drawn together and lowered, the lips pressed tightly.
Verification loop:
Inspect glabella → vertical furrows between the brows (AU4) → <bbox>[400,250,600,330]</bbox>
Inspect lips → lips pressed together, red parts narrowed (AU24) → <bbox>[380,700,620,790]</bbox>
Inspect eyes → lower lids tensed (AU7) → <bbox>[300,330,700,400]</bbox>
Could this be disgust? There is no nose wrinkling (AU9), so disgust is unlikely.
Final conclusion: AU4 + AU7 + AU24 indicate anger.
</think>
<answer>anger</answer>"""

TAG_TRUNCATED = """\
Global analysis: The mouth corners are pulled up and the cheeks are raised.
Verification loop:
Inspect cheeks → cheeks raised (AU6) → <bbox>[120,200,400,260]</bbox>
Inspect mouth → lip corners pulled up (AU12) → <bbox>[150,300,360,380]</bbox>
Inspect eyes → crow's feet wrinkles"""

# --------------------------------------------------------------------------------------------------
# Model-family grounding formats

QWEN25_JSON_FENCED = """\
Here are the facial action units I can localise:
```json
[
\t{"bbox_2d": [22, 40, 50, 58], "label": "AU6 (cheek raiser, left)"},
\t{"bbox_2d": [62, 40, 90, 58], "label": "AU6 (cheek raiser, right)"},
\t{"bbox_2d": [30, 72, 82, 96], "label": "AU12 lip corner puller"}
]
```
The raised cheeks and pulled lip corners indicate a genuine smile.
<answer>happiness</answer>"""

QWEN25_JSON_EMOTION_KEY = """\
```json
{
  "emotion": "Disgust",
  "evidence": [
    {
      "bbox_2d": [88, 70, 136, 112],
      "label": "AU9 nose wrinkler"
    },
    {
      "bbox_2d": [84, 118, 140, 140],
      "label": "Upper Lip Raiser"
    }
  ]
}
```"""

QWEN2_TOKENS = (
    "The person shows <|object_ref_start|>AU1 inner brow raiser<|object_ref_end|>"
    "<|box_start|>(300,150),(700,300)<|box_end|> and <|object_ref_start|>AU15<|object_ref_end|>"
    "<|box_start|>(350,700),(650,850)<|box_end|>.\nAnswer: sad"
)

INTERNVL_REFS = """\
<ref>AU12</ref><box>[[200, 600, 380, 720], [620, 600, 800, 720]]</box>
<ref>AU6</ref><box>[[180, 420, 400, 520], [600, 420, 820, 520]]</box>
Both lip corners are pulled up and the cheeks are raised: the expression is happiness."""

GEMINI_JSON = """\
```json
{
  "emotion": "fear",
  "action_units": [
    {"box_2d": [120, 250, 220, 750], "label": "AU1+AU2 brow raise"},
    {"box_2d": [230, 280, 300, 720], "label": "AU5 upper lid raiser"},
    {"box_2d": [600, 330, 760, 670], "label": "AU20 lip stretcher"}
  ]
}
```"""

PALIGEMMA = "<loc0300><loc0250><loc0420><loc0780> AU4 ; <loc0700><loc0330><loc0880><loc0690> AU24\nanger"

COT_THINK = """\
<think>
Let me look at the face carefully. The eyebrows are raised (AU1, AU2) and the eyes are wide open (AU5), which could suggest surprise or fear. The mouth is open with the jaw dropped (AU26) <bbox>[350,620,650,900]</bbox>. In fear, the lips would be stretched horizontally (AU20), but here they are relaxed and rounded. There's no sign of anger or sadness. So this is surprise, not fear.
</think>
<answer>surprise</answer>"""

AU_PROB_LIST = """\
Detector evidence:
AU6 0.78 [156, 208, 285, 314]
AU9 0.74 [153, 115, 242, 188]
Answer: disgust"""

MARKDOWN_HEAVY = """\
## Facial Expression Analysis

### Observations
- **Eyebrows:** Slightly lowered and drawn together (**AU4**)
- **Eyes:** Narrowed, lower lids tensed (*AU7*)
- **Nose:** Wrinkled along the bridge (**AU9**)
- **Upper lip:** Raised, exposing the upper teeth (AU10)

### Interpretation
The combination of nose wrinkling (AU9) and upper-lip raising (AU10) is the hallmark of **disgust**. While AU4 and AU7 can also appear in **anger**, the absence of lip pressing makes anger less likely.

**Final Answer:** Disgust"""

MARKDOWN_BOLD_LAST = """\
Looking at the image, I notice:

* The corners of the mouth are turned up
* Crow's feet are visible around the eyes

Based on these cues, the expression is best described as:

**Happiness** 😊"""

CASES: list[Case] = [
    # --- TAG traces
    Case(
        "tag_sadness_pixel",
        TAG_SADNESS,
        label="sadness",
        aus=["AU14", "AU4", "AU17"],
        evidence=[
            ("AU14", [80, 323, 416, 407], 0),
            ("AU4", [235, 119, 345, 188], 1),
            ("AU17", [181, 410, 334, 511], 2),
        ],
    ),
    Case(
        "tag_happy_qwen25_pixel_resized",
        TAG_HAPPY_QWEN25_RAF,
        frame="pixel-resized",
        image_size=(100, 100),
        kwargs={"input_size": (112, 112)},
        label="happiness",
        aus=["AU6", "AU12", "AU25"],
        evidence=[
            ("AU6", [12.5, 36 * 100 / 112, 87.5, 62 * 100 / 112], 0),
            ("AU12", [25.0, 62.5, 75.0, 87.5], 1),
            ("AU25", [31.25, 74 * 100 / 112, 68.75, 81.25], 2),
        ],
    ),
    Case(
        "tag_surprise_variants",
        TAG_SURPRISE_VARIANTS,
        image_size=(224, 224),
        kwargs={"classes": RAF7},
        label="surprise",
        aus=["AU1", "AU5", "AU26"],
        evidence=[
            ("AU1", [52, 40, 180, 78], 0),
            ("AU5", [60, 82, 170, 104], 1),
            (None, [48, 10, 190, 40], 2),
            ("AU26", [80, 150, 150, 215], 3),
        ],
    ),
    Case(
        "tag_anger_in_think_norm1000",
        TAG_ANGER_IN_THINK,
        frame="norm1000",
        image_size=(640, 480),
        label="anger",
        aus=["AU4", "AU24", "AU7", "AU9"],
        evidence=[
            ("AU4", [256, 120, 384, 158.4], 0),
            ("AU24", [243.2, 336, 396.8, 379.2], 1),
            ("AU7", [192, 158.4, 448, 192], 2),
            ("AU9", None, 3),
        ],
    ),
    Case(
        "tag_truncated_keeps_evidence",
        TAG_TRUNCATED,
        kwargs={"finish_reason": "length"},
        label=None,
        status="truncated",
        aus=["AU6", "AU12"],
        evidence=[("AU6", [120, 200, 400, 260], 0), ("AU12", [150, 300, 360, 380], 1)],
    ),
    Case(
        "tag_complete_but_length_limit",
        TAG_SADNESS,
        kwargs={"finish_reason": "length"},
        label="sadness",
        note="explicit answer was found",
    ),
    Case(
        "tag_conclusion_only",
        TAG_SADNESS.rsplit("\n", 1)[0],
        label="sadness",
        aus=["AU14", "AU4", "AU17"],
    ),
    # --- model-family formats
    Case(
        "qwen25_json_fenced_pixel_resized",
        QWEN25_JSON_FENCED,
        frame="pixel-resized",
        image_size=(100, 100),
        kwargs={"input_size": (112, 112)},
        label="happiness",
        aus=["AU6", "AU12"],
        evidence=[
            ("AU6", [22 * 100 / 112, 40 * 100 / 112, 50 * 100 / 112, 58 * 100 / 112], 0),
            ("AU6", [62 * 100 / 112, 40 * 100 / 112, 90 * 100 / 112, 58 * 100 / 112], 1),
            ("AU12", [30 * 100 / 112, 72 * 100 / 112, 82 * 100 / 112, 96 * 100 / 112], 2),
        ],
    ),
    Case(
        "qwen25_json_emotion_key_and_au_name",
        QWEN25_JSON_EMOTION_KEY,
        image_size=(224, 224),
        label="disgust",
        aus=["AU9", "AU10"],
        evidence=[("AU9", [88, 70, 136, 112], 0), ("AU10", [84, 118, 140, 140], 1)],
    ),
    Case(
        "qwen2_tokens_norm1000",
        QWEN2_TOKENS,
        frame="norm1000",
        image_size=(200, 100),
        label="sadness",
        aus=["AU1", "AU15"],
        evidence=[("AU1", [60, 15, 140, 30], 0), ("AU15", [70, 70, 130, 85], 1)],
    ),
    Case(
        "internvl_refs_several_boxes",
        INTERNVL_REFS,
        frame="norm1000",
        image_size=(640, 480),
        label="happiness",
        aus=["AU12", "AU6"],
        evidence=[
            ("AU12", [128, 288, 243.2, 345.6], 0),
            ("AU12", [396.8, 288, 512, 345.6], 0),
            ("AU6", [115.2, 201.6, 256, 249.6], 1),
            ("AU6", [384, 201.6, 524.8, 249.6], 1),
        ],
    ),
    Case(
        "gemini_box_2d_yxyx",
        GEMINI_JSON,
        frame="norm1000-yxyx",
        image_size=(400, 300),
        label="fear",
        aus=["AU1", "AU2", "AU5", "AU20"],
        evidence=[
            ("AU1", [100, 36, 300, 66], 0),
            ("AU2", [100, 36, 300, 66], 0),
            ("AU5", [112, 69, 288, 90], 1),
            ("AU20", [132, 180, 268, 228], 2),
        ],
        note="several AUs",
    ),
    Case(
        "paligemma_loc_tokens",
        PALIGEMMA,
        frame="loc1024-yxyx",
        image_size=(224, 224),
        label="anger",
        aus=["AU4", "AU24"],
        evidence=[
            ("AU4", [54.6875, 65.625, 170.625, 91.875], 0),
            ("AU24", [72.1875, 153.125, 150.9375, 192.5], 1),
        ],
    ),
    Case(
        "cot_think_prose_sentence_attribution",
        COT_THINK,
        frame="norm1000",
        image_size=(200, 100),
        label="surprise",
        aus=["AU1", "AU2", "AU5", "AU26", "AU20"],
        evidence=[
            ("AU1", None, 0),
            ("AU2", None, 0),
            ("AU5", None, 0),
            ("AU26", [70, 62, 130, 90], 0),
            ("AU20", None, 0),
        ],
    ),
    Case(
        "au_prob_list_plain_boxes",
        AU_PROB_LIST,
        label="disgust",
        aus=["AU6", "AU9"],
        evidence=[("AU6", [156, 208, 285, 314], 0), ("AU9", [153, 115, 242, 188], 1)],
    ),
    Case("markdown_heavy", MARKDOWN_HEAVY, label="disgust", aus=["AU4", "AU7", "AU9", "AU10"]),
    Case("markdown_bold_last_line", MARKDOWN_BOLD_LAST, label="happiness", aus=[], evidence=[]),
    # --- direct answers
    Case("direct_word", "Happiness", label="happiness"),
    Case("direct_synonym_punct", "Surprised!", label="surprise"),
    Case("direct_answer_tag_spaces_case", "< Answer >\n  Neutral \n</ANSWER>", label="neutral"),
    Case("direct_bold", "**Sad**", label="sadness"),
    Case("direct_answer_is", "The answer is: Fear", label="fear"),
    Case(
        "last_answer_tag_wins",
        "<answer>happy</answer> Wait, let me reconsider. <answer>sad</answer>",
        label="sadness",
    ),
    Case("empty_then_full_answer_tag", "<answer>anger</answer>\n<answer> </answer>", label="anger"),
    Case("boxed_latex", r"Therefore the final answer is $\boxed{\text{Disgust}}$.", label="disgust"),
    Case("json_label_key", '```json\n{"label": "sad", "confidence": 0.92}\n```', label="sadness"),
    Case("unclosed_answer_tag_stop_sequence", "Reasoning done.\n<answer>fear", label="fear"),
    Case("no_emotion_synonym", "<answer>no emotion</answer>", label="neutral"),
    # --- think-block policy
    Case(
        "think_mentions_do_not_decide",
        "<think>Happy? Maybe sad. The brows say anger.</think>\nThe final answer is fear.",
        label="fear",
    ),
    Case(
        "think_only_with_answer_tag",
        "<think>Cheeks raised (AU6), lip corners up (AU12). <answer>happiness</answer></think>",
        label="happiness",
        aus=["AU6", "AU12"],
        note="inside the reasoning block",
    ),
    Case(
        "think_only_prose_is_not_an_answer",
        "<think>The person looks happy, the mouth is smiling.</think>",
        status="no_answer",
    ),
    Case(
        "unclosed_think_truncated",
        "<think>The eyebrows are raised, suggesting surprise. However, the mouth",
        kwargs={"finish_reason": "length"},
        status="truncated",
    ),
    Case(
        "unclosed_think_not_truncated",
        "<think>The eyebrows are raised, suggesting surprise. However, the mouth",
        status="no_answer",
        note="never closed",
    ),
    Case(
        "closing_think_only_prefilled",
        "Brows lowered (AU4).</think>\n<answer>anger</answer>",
        label="anger",
        aus=["AU4"],
    ),
    # --- refusals
    Case(
        "refusal_cant_help",
        "I'm sorry, but I can't help with identifying emotions or other personal characteristics of people in images.",
        status="refusal",
    ),
    Case(
        "refusal_unable",
        "I am unable to determine the emotional state of a real person from a photograph. If you have other "
        "questions about the image, feel free to ask!",
        status="refusal",
    ),
    Case(
        "refusal_as_an_ai",
        "As an AI language model, I don't have the ability to perceive feelings. I can describe visible "
        "features: the mouth corners are raised and the eyes are narrowed.",
        status="refusal",
    ),
    Case(
        "hedge_then_answer_is_not_refusal",
        "I can't be certain about someone's feelings, but based on the visible cues the answer is happiness.",
        label="happiness",
    ),
    Case("refusal_inside_answer_tag", "<answer>I cannot determine this.</answer>", status="refusal"),
    # --- invalid labels and ambiguity
    Case(
        "contempt_on_7_classes",
        "<answer>contempt</answer>",
        kwargs={"classes": list(COMMON7)},
        status="invalid_label",
        note="not one of the task's classes",
    ),
    Case("contempt_on_8_classes", "<answer>contempt</answer>", label="contempt"),
    Case("non_emotion_answer_tag", "<answer>confused</answer>", status="invalid_label"),
    Case("non_emotion_final_answer", "Final answer: bored", status="invalid_label"),
    Case("non_emotion_lone_line", "Confused.", status="invalid_label"),
    Case("ambiguous_answer_tag", "<answer>happy or sad</answer>", status="ambiguous"),
    Case("ambiguous_slash", "Happiness/Surprise", status="ambiguous"),
    Case("ambiguous_free_text", "It could be fear or surprise, the eyes are wide.", status="ambiguous"),
    Case(
        "ambiguous_bold_candidates",
        "Candidates: **Fear** and **Surprise**, both plausible here and hard to separate",
        status="ambiguous",
    ),
    # --- negation
    Case("negation_then_label", "The person is not angry, but happy.", label="happiness"),
    Case("negation_only", "The person is not sad.", status="no_answer"),
    Case("negation_in_answer_tag", "<answer>not sad</answer>", status="no_answer"),
    Case("negation_rather_than", "Final answer: happiness rather than surprise", label="happiness"),
    Case("negation_before_final", "Definitely not fear. The answer is surprise.", label="surprise"),
    Case(
        "implied_by_last_sentence",
        "Surprise or fear? The raised brows and open mouth suggest surprise.",
        label="surprise",
    ),
    Case(
        "which_indicates",
        "The woman is smiling broadly, which typically indicates happiness.",
        label="happiness",
    ),
    Case("does_not_indicate", "The frown does not indicate anger.", status="no_answer"),
    Case("numeric_label_field", "Label: 4", status="invalid_label"),
    Case(
        "value_on_later_line", "Answer:\n\n**Surprise**", label="surprise", kwargs={"finish_reason": "length"}
    ),
    Case("negation_bold", "It is not **sad**. The smile makes it **happy**.", label="happiness"),
    # --- nothing usable
    Case("empty", "", status="no_answer", aus=[], evidence=[]),
    Case("whitespace", " \n\t ", status="no_answer"),
    Case(
        "descriptive_words_only",
        "The brow is relaxed and the content of the image is a face.",
        status="no_answer",
    ),
    Case(
        "truncated_prose", "The person's eyebrows are", kwargs={"finish_reason": "length"}, status="truncated"
    ),
]


def _check(case: Case, parsed: Parsed) -> None:
    assert parsed.status == case.status, (parsed.status, parsed.raw_label, parsed.notes)
    assert parsed.label == case.label, (parsed.label, parsed.raw_label, parsed.notes)
    if case.aus is not None:
        assert parsed.aus == case.aus
    if case.evidence is not None:
        got = [(e.au, e.box, e.step) for e in parsed.evidence]
        assert len(got) == len(case.evidence), got
        for (au, box, step), (eau, ebox, estep) in zip(got, case.evidence, strict=True):
            assert au == eau, got
            assert step == estep, got
            if ebox is None:
                assert box is None, got
            else:
                assert box == pytest.approx([float(v) for v in ebox], abs=1e-6), got
    if case.note is not None:
        assert any(case.note in n for n in parsed.notes), parsed.notes
    assert parsed.frame == case.frame


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fixture(case: Case) -> None:
    parsed = parse_response(case.text, case.frame, case.image_size, **case.kwargs)
    _check(case, parsed)
    # JSON round trip: the record persists as is.
    assert Parsed.model_validate_json(parsed.model_dump_json()) == parsed


def test_raw_label_and_raw_box_are_recorded() -> None:
    p = parse_response(TAG_HAPPY_QWEN25_RAF, "pixel-resized", (100, 100), input_size=(112, 112))
    assert p.raw_label == "happiness"
    assert p.evidence[0].raw_box == [14, 36, 98, 62]
    assert all(e.box_status == "ok" for e in p.evidence)
    gem = parse_response(GEMINI_JSON, "norm1000-yxyx", (400, 300))
    assert gem.evidence[3].raw_box == [600, 330, 760, 670]  # as written: y first
    assert parse_response("Happy.", "pixel", (10, 10)).raw_label == "Happy"


def test_box_label_of_json_object_is_not_the_answer() -> None:
    text = '[{"bbox_2d": [10, 10, 50, 50], "label": "smiling mouth (AU12)"}]'
    p = parse_response(text, "pixel", (100, 100))
    assert p.status == "no_answer" and p.label is None
    assert [(e.au, e.box) for e in p.evidence] == [("AU12", [10.0, 10.0, 50.0, 50.0])]


def test_answer_never_comes_from_think_when_an_answer_follows() -> None:
    text = "<think><answer>sadness</answer> no wait</think>\n<answer>happiness</answer>"
    assert parse_response(text, "pixel", (10, 10)).label == "happiness"
    text = "<think>It is sadness, final answer: sadness</think>\nFinal answer: anger"
    assert parse_response(text, "pixel", (10, 10)).label == "anger"


def test_classes_restrict_labels_and_synonyms_map() -> None:
    assert parse_response("<answer>joyful</answer>", "pixel", (10, 10), classes=RAF7).label == "happiness"
    p = parse_response("<answer>contempt</answer>", "pixel", (10, 10), classes=RAF7)
    assert (p.status, p.label, p.raw_label) == ("invalid_label", None, "contempt")
    # unknown class names are ignored with a note, never an exception
    p = parse_response("<answer>sad</answer>", "pixel", (10, 10), classes=["sadness", "bogus"])
    assert p.label == "sadness" and any("bogus" in n for n in p.notes)


def test_au_mentions_normalised_and_off_catalogue_noted() -> None:
    text = "Cited: Action Unit 4, au12, AU 06, AU06, AU-17, AU3 and AU99; not TAU5 nor AU123."
    p = parse_response(text, "pixel", (10, 10))
    assert p.aus == ["AU4", "AU12", "AU6", "AU17", "AU3", "AU99"]
    assert any("AU3, AU99" in n for n in p.notes)
    assert all(e.box is None and e.box_status == "none" for e in p.evidence)


def test_box_only_steps_are_unattributed_and_neighbours_untouched() -> None:
    text = (
        "Inspect brow → lowered (AU4) → <bbox>[10,10,40,20]</bbox>\nInspect chin → <bbox>[20,60,40,80]</bbox>"
    )
    p = parse_response(text, "pixel", (100, 100))
    assert [(e.au, e.step) for e in p.evidence] == [("AU4", 0), (None, 1)]


def test_several_steps_on_one_line_are_split_at_inspect() -> None:
    text = (
        "Inspect brow → <bbox>[10,10,40,20]</bbox> (AU4) Inspect mouth → (AU12) → <bbox>[20,60,40,80]</bbox> "
        "Inspect chin → <bbox>[25,85,35,95]</bbox>"
    )
    p = parse_response(text, "pixel", (100, 100))
    assert [(e.au, e.step) for e in p.evidence] == [("AU4", 0), ("AU12", 1), (None, 2)]


def test_malformed_box_is_kept_without_a_box() -> None:
    p = parse_response("Inspect brow (AU4) → <bbox>[10,20,30]</bbox>", "pixel", (100, 100))
    assert [(e.au, e.box, e.raw_box, e.box_status) for e in p.evidence] == [
        ("AU4", None, [10, 20, 30], "malformed")
    ]
    assert any("four numbers" in n for n in p.notes)


def test_au_number_lists_are_not_boxes() -> None:
    p = parse_response("Active AUs: [1, 2, 4, 5]", "pixel", (100, 100))
    assert p.evidence == []


def test_non_string_inputs_never_raise() -> None:
    assert parse_response(None, "pixel", (10, 10)).status == "no_answer"
    assert parse_response(b"<answer>sad</answer>", "pixel", (10, 10)).label == "sadness"
    p = parse_response(3, "pixel", (10, 10))  # type: ignore[arg-type]
    # a bare class index is a clear label, but not a class name
    assert (p.status, p.raw_label) == ("invalid_label", "3") and any("int" in n for n in p.notes)
    p = parse_response("<answer>sad</answer> AU4 [1,2,3,4]", "weird-frame", "not a size")  # type: ignore[arg-type]
    assert (
        p.label == "sadness" and p.evidence[0].box is None and any("unknown box frame" in n for n in p.notes)
    )


def test_huge_response_keeps_head_and_tail() -> None:
    text = "AU6 cheeks raised [1,2,3,4]\n" + "filler " * 40_000 + "\n<answer>happy</answer>"
    p = parse_response(text, "pixel", (10, 10))
    assert p.label == "happiness" and p.aus == ["AU6"]
    assert any("parsed the first" in n for n in p.notes)
