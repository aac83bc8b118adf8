"""Property-based fuzzing of the parser, and a catastrophic-backtracking guard on huge inputs."""

from __future__ import annotations

import math
import random
import re
import string
import time
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tag_bench.parsing import parse_response
from tag_bench.schema import BOX_FRAMES, CANONICAL_EMOTIONS, COMMON7, Parsed, ParseStatus

STATUSES = set(get_args(ParseStatus))
AU_CODE = re.compile(r"AU[1-9][0-9]?")

FRAGMENTS = [
    "<answer>", "</answer>", "<think>", "</think>", "AU", "AU12", "AU 06", "au4", "Action Unit 9", "AU0",
    "[", "]", ",", " ", "\n", "<bbox>", "</bbox>", "→", "->", "Inspect ", "happy", "sad", "not ", "but ",
    "contempt", "confused", "neutral", "{", "}", '"bbox_2d": ', '"box_2d": ', '"label": ', '"emotion": ',
    '"', "<loc0123>", "<loc1023>", "<|box_start|>", "<|box_end|>", "<|object_ref_start|>",
    "<|object_ref_end|>", "(", ")", "<ref>", "</ref>", "<box>", "</box>", "**", "nan", "inf", "-",
    "1e999", "0.5", "1000", "Final answer:", "Final conclusion:", "I can't help", "\\boxed{", ";", ".",
    "```json", "The expression is ", "or ",
]  # fmt: skip

numbers = st.one_of(
    st.integers(-2000, 3000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(0, 1).map(lambda v: f"{v:.3f}"),
)
box_text = st.lists(numbers, min_size=3, max_size=5).map(lambda v: "[" + ", ".join(v) + "]")
structured = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), box_text, numbers, st.text(max_size=8)), max_size=60
).map("".join)
frames = st.sampled_from([*BOX_FRAMES, "bogus-frame"])
sizes = st.one_of(st.none(), st.tuples(st.integers(1, 4000), st.integers(1, 4000)))
class_lists = st.sampled_from([None, list(CANONICAL_EMOTIONS), list(COMMON7), ["happiness", "sadness"]])
finish = st.sampled_from([None, "stop", "length", "max_tokens"])


def _check_invariants(p: Parsed, frame: str, size, classes) -> None:
    assert isinstance(p, Parsed)
    assert p.status in STATUSES
    allowed = set(classes or CANONICAL_EMOTIONS)
    if p.status == "ok":
        assert p.label in allowed
    else:
        assert p.label is None
    assert len(set(p.aus)) == len(p.aus)
    for au in p.aus:
        assert AU_CODE.fullmatch(au), au
    for e in p.evidence:
        assert e.au is None or e.au in p.aus
        assert isinstance(e.step, int) and e.step >= 0
        assert (e.box is not None) == (e.box_status == "ok")
        if e.box is not None:
            x1, y1, x2, y2 = e.box
            assert all(math.isfinite(v) for v in e.box)
            assert x1 < x2 and y1 < y2
            if size is not None and frame in BOX_FRAMES:
                assert x1 >= 0 and y1 >= 0 and x2 <= size[0] and y2 <= size[1]
    assert Parsed.model_validate_json(p.model_dump_json()).status == p.status
    assert_as_validated(p)


def assert_as_validated(p: Parsed) -> None:
    """The parser builds its records without validation: validating one changes nothing, types
    included (a float field holding an int would serialise differently, and warn)."""
    again = Parsed.model_validate(p.model_dump())
    assert again == p
    assert again.model_dump_json() == p.model_dump_json(warnings="error")
    for e in p.evidence:
        assert e.box is None or all(type(v) is float for v in e.box)
        assert e.raw_box is None or all(type(v) is float for v in e.raw_box)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=structured, frame=frames, size=sizes, input_size=sizes, finish_reason=finish, classes=class_lists)
def test_structured_noise_never_raises(text, frame, size, input_size, finish_reason, classes) -> None:
    p = parse_response(text, frame, size, input_size=input_size, finish_reason=finish_reason, classes=classes)
    _check_invariants(p, frame, size, classes)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=400), frame=frames, size=sizes, classes=class_lists)
def test_arbitrary_unicode_never_raises(text, frame, size, classes) -> None:
    p = parse_response(text, frame, size, classes=classes)
    _check_invariants(p, frame, size, classes)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=4, max_size=4),
    frame=st.sampled_from(BOX_FRAMES),
    size=st.tuples(st.integers(1, 2000), st.integers(1, 2000)),
)
def test_any_box_numbers_end_inside_the_image_or_flagged(values, frame, size) -> None:
    text = f"Inspect mouth (AU12) → <bbox>[{', '.join(map(repr, values))}]</bbox>"
    p = parse_response(text, frame, size, input_size=(448, 336))
    _check_invariants(p, frame, size, None)
    (e,) = p.evidence
    assert e.au == "AU12"
    if all(math.isfinite(v) for v in values):
        assert e.raw_box == values  # numbers as written (repr round-trips floats exactly)
    else:  # JSON has no NaN/inf: raw numbers go to a note, the record stays round-trippable
        assert e.box_status == "non_finite" and e.raw_box is None
        assert any("non-finite" in n for n in p.notes)


# --------------------------------------------------------------------------------------------------
# Catastrophic-backtracking guard: 1 MB inputs must parse in well under a second each.

MB = 1_000_000
_rng = random.Random(1234)
HUGE = {
    "printable_garbage": "".join(_rng.choice(string.printable) for _ in range(MB)),
    "unicode_garbage": "".join(chr(_rng.randrange(32, 0x3000)) for _ in range(MB)),
}
for _frag in [
    "<answer>", "</answer>", "[", "AU", "AU1 ", "<bbox>", "**", '{"bbox_2d": [', "not happy ", "no sad, ",
    "<think>", "\n→", "<loc0001>", "[1,2,3,", "[1, 2, 3, 4]", "Final answer: ", "<ref>", "<box>[[",
    "\\boxed{", '{"emotion": "', "conclusion: ", "happy or sad ", "inspect ", "1e9999,", "the person looks ",
    "I am ", '"label": "', "<|box_start|>(1,2),(3,4)<|box_end|>", "a" * 7 + ". ",
]:  # fmt: skip
    HUGE[repr(_frag)] = _frag * (MB // len(_frag))


# Structures that would be quadratic with a naive pairing: thousands of boxes and AUs in one step.
HUGE["au_box_pairs_one_line"] = "".join(f"AU{i % 40 + 1} [1,2,3,4] " for i in range(MB // 15))
HUGE["json_box_objects"] = "".join(
    f'{{"bbox_2d": [1,2,3,4], "label": "AU{i % 40 + 1}"}}, ' for i in range(MB // 40)
)
HUGE["bold_labels"] = "**happy** **sad** " * (MB // 18)


@pytest.mark.parametrize("name", list(HUGE))
def test_one_megabyte_inputs_are_fast(name: str) -> None:
    text = HUGE[name]
    start = time.perf_counter()
    p = parse_response(text, "norm1000", (640, 480), finish_reason="stop")
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{name}: {elapsed:.2f}s"
    _check_invariants(p, "norm1000", (640, 480), None)
    assert any("parsed the first" in n for n in p.notes) or not text.strip()
