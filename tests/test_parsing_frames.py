"""Coordinate frames: hand-computed conversions to presented-image pixels, and box statuses."""

from __future__ import annotations

import math

import pytest

from tag_bench.parsing import parse_response
from tag_bench.parsing.frames import CLIPPED, OUT_OF_RANGE, REVERSED, convert, make_context
from tag_bench.schema import BOX_FRAMES, Parsed


def _one(text: str, frame: str, size: object, **kw: object):
    p = parse_response(text, frame, size, **kw)  # type: ignore[arg-type]
    assert len(p.evidence) == 1, p.evidence
    return p, p.evidence[0]


# (frame, text, presented size, input size, expected box) -- every number worked out by hand
CONVERSIONS = [
    # pixels of the presented image: as written
    ("pixel", "AU4 <bbox>[10,20,30,40]</bbox>", (100, 100), None, [10, 20, 30, 40]),
    # Qwen2.5-VL on a 100x100 RAF-DB image seen as 112x112: x * 100/112
    ("pixel-resized", "AU12 <bbox>[28,56,84,112]</bbox>", (100, 100), (112, 112), [25, 50, 75, 100]),
    ("pixel-resized", "AU12 <bbox>[14,7,42,21]</bbox>", (50, 25), (56, 28), [12.5, 6.25, 37.5, 18.75]),
    # 0-1000 relative: 250/1000*200 = 50, 500/1000*100 = 50 ...
    ("norm1000", "AU6 [250, 500, 750, 1000]", (200, 100), None, [50, 50, 150, 100]),
    # Gemini [ymin, xmin, ymax, xmax]: x1 = 200/1000*200 = 40, y1 = 100/1000*100 = 10, x2 = 80, y2 = 30
    ("norm1000-yxyx", '{"box_2d": [100, 200, 300, 400], "label": "AU1"}', (200, 100), None, [40, 10, 80, 30]),
    # 0-1 floats: 0.1*200 = 20, 0.2*100 = 20, 0.5*200 = 100, 0.8*100 = 80
    ("norm1", "AU9 [0.1, 0.2, 0.5, 0.8]", (200, 100), None, [20, 20, 100, 80]),
    # PaliGemma y,x order over 1024: x1 = 512/1024*512 = 256, y1 = 256/1024*256 = 64,
    # x2 = 1023/1024*512 = 511.5, y2 = 768/1024*256 = 192
    ("loc1024-yxyx", "<loc0256><loc0512><loc0768><loc1023> AU12", (512, 256), None, [256, 64, 511.5, 192]),
    # loc frame given as numbers in a list: same arithmetic
    ("loc1024-yxyx", "AU12 [256, 512, 768, 1023]", (512, 256), None, [256, 64, 511.5, 192]),
]


@pytest.mark.parametrize(("frame", "text", "size", "input_size", "expected"), CONVERSIONS)
def test_conversion(frame: str, text: str, size, input_size, expected) -> None:
    p, e = _one(text, frame, size, input_size=input_size)
    assert e.box_status == "ok"
    assert e.box == pytest.approx([float(v) for v in expected])
    assert p.frame == frame


def test_every_declared_frame_has_a_conversion_case() -> None:
    assert {c[0] for c in CONVERSIONS} == set(BOX_FRAMES)


def test_same_numbers_mean_different_boxes_in_different_frames() -> None:
    """The frame is never guessed: the declared one is applied even when another would 'fit' better."""
    text = "AU12 <bbox>[100,200,300,400]</bbox>"
    boxes = {
        f: parse_response(text, f, (1000, 1000), input_size=(500, 500)).evidence[0].box for f in BOX_FRAMES
    }
    assert boxes["pixel"] == [100, 200, 300, 400]
    assert boxes["pixel-resized"] == [200, 400, 600, 800]
    assert boxes["norm1000"] == [100, 200, 300, 400]
    assert boxes["norm1000-yxyx"] == [200, 100, 400, 300]
    assert boxes["loc1024-yxyx"] == pytest.approx([200 / 1.024, 100 / 1.024, 400 / 1.024, 300 / 1.024])
    # read as 0-1 floats these numbers land far outside the image: no box, and a note says why
    p = parse_response(text, "norm1", (1000, 1000))
    assert (p.evidence[0].box, p.evidence[0].box_status) == (None, "outside")
    assert any("outside the norm1 range" in n for n in p.notes)


def test_reversed_box_is_swapped_and_noted() -> None:
    p, e = _one("AU4 <bbox>[30,40,10,20]</bbox>", "pixel", (100, 100))
    assert e.box == [10, 20, 30, 40] and e.raw_box == [30, 40, 10, 20] and e.box_status == "ok"
    assert any("swapped" in n for n in p.notes)


def test_clipped_to_the_image() -> None:
    p, e = _one("AU4 <bbox>[-5,10,120,50]</bbox>", "pixel", (100, 80))
    assert e.box == [0, 10, 100, 50]
    assert any("clipped" in n for n in p.notes)


@pytest.mark.parametrize(
    ("text", "frame", "status"),
    [
        ("AU4 <bbox>[10,20,10,40]</bbox>", "pixel", "degenerate"),  # zero width
        ("AU4 [0.5, 0.5, 0.5, 0.9]", "norm1", "degenerate"),
        ("AU4 <bbox>[120,20,150,40]</bbox>", "pixel", "outside"),  # right of a 100-px image
        ("AU4 <bbox>[-50,-40,-10,-5]</bbox>", "pixel", "outside"),
        ("AU4 <bbox>[100,20,150,40]</bbox>", "pixel", "outside"),  # touches the edge only
        ("AU4 <bbox>[nan,20,30,40]</bbox>", "pixel", "non_finite"),
        ("AU4 [1e999, 2, 3, 4]", "pixel", "non_finite"),
        ('{"bbox_2d": [Infinity, 1, 2, 3], "label": "AU4"}', "pixel", "non_finite"),
        ("AU4 <bbox>[1e308,0.2,1e308,0.4]</bbox>", "norm1", "non_finite"),  # overflows when scaled
    ],
)
def test_unusable_boxes_have_a_status_and_no_box(text: str, frame: str, status: str) -> None:
    p, e = _one(text, frame, (100, 100))
    assert e.box is None and e.box_status == status and e.au == "AU4"
    assert Parsed.model_validate_json(p.model_dump_json()) == p


def test_pixel_resized_without_input_size_is_flagged_not_guessed() -> None:
    p, e = _one("AU12 <bbox>[28,56,84,112]</bbox>", "pixel-resized", (100, 100))
    assert e.box is None and e.box_status == "unconvertible" and e.raw_box == [28, 56, 84, 112]
    assert any("need the model's input_size" in n for n in p.notes)


def test_unknown_image_size() -> None:
    # pixel boxes are already presented pixels: kept, unclipped, with a note
    p, e = _one("AU4 <bbox>[10,20,300,40]</bbox>", "pixel", None)
    assert e.box == [10, 20, 300, 40] and any("not clipped" in n for n in p.notes)
    # a normalised frame cannot be placed without the size
    p, e = _one("AU4 <bbox>[10,20,300,40]</bbox>", "norm1000", (0, 100))
    assert e.box is None and any("cannot be converted" in n for n in p.notes)


def test_convert_flags() -> None:
    ctx = make_context("norm1", (100, 100))
    assert convert([0.5, 0.5, 0.1, 0.1], ctx) == ([10.0, 10.0, 50.0, 50.0], "ok", REVERSED)
    box, status, flags = convert([0.5, 0.5, 2.0, 0.9], ctx)
    assert box == [50.0, 50.0, 100.0, 90.0] and status == "ok" and flags == CLIPPED | OUT_OF_RANGE
    assert convert([math.inf, 0, 1, 1], ctx) == (None, "non_finite", 0)
    bad = make_context("norm1", (100, 100), None)
    assert bad.usable
    assert not make_context("pixel-resized", (100, 100), (0, 10)).usable
    assert not make_context("furlongs", (100, 100)).usable
