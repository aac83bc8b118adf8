"""Round trip: known label, AUs and pixel boxes, written in each model family's own syntax and frame,
must come back from ``parse_response`` exactly (boxes to 1e-6 px)."""

from __future__ import annotations

import random

import pytest

from tag_bench.parsing import parse_response
from tag_bench.testing.corpus import FORMATS, make_response, mixed_corpus


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(fmt: str) -> None:
    rng = random.Random(f"round-trip-{fmt}")
    for _ in range(60):
        r = make_response(fmt, rng)
        p = parse_response(r.text, r.frame, r.image_size, r.input_size, r.finish_reason)
        assert (p.status, p.label) == (r.status, r.label), (r.text, p.notes)
        boxed = [(e.au, e.box) for e in p.evidence if e.box is not None]
        assert [au for au, _ in boxed] == [au for au, _ in r.evidence], r.text
        for (_, got), (_, want) in zip(boxed, r.evidence, strict=True):
            assert got == pytest.approx(list(want), abs=1e-6), r.text
        assert all(e.box_status == "ok" for e in p.evidence if e.raw_box is not None)
        assert set(p.aus) >= {au for au, _ in r.evidence}


def test_records_built_without_validation_are_what_validation_gives() -> None:
    from test_parsing_fuzz import assert_as_validated

    corpus = mixed_corpus(3000, seed=11)
    for r in corpus:
        assert_as_validated(parse_response(r.text, r.frame, r.image_size, r.input_size, r.finish_reason))
    assert sum(len(parse_response(r.text, r.frame, r.image_size).evidence) for r in corpus[:200]) > 200


def test_mixed_corpus_is_reproducible_and_covers_every_format() -> None:
    a, b = mixed_corpus(48, seed=7), mixed_corpus(48, seed=7)
    assert a == b
    assert {r.fmt for r in a} == set(FORMATS)
    assert mixed_corpus(48, seed=8) != a
    with pytest.raises(ValueError, match="valid: tag"):
        make_response("nonsense", random.Random(0))


def test_measure_throughput_runs_on_the_mixed_corpus() -> None:
    """The benchmark helper works and every response parses as expected (no timing asserted)."""
    from tag_bench.testing.corpus import measure_throughput

    r = measure_throughput(n=48, seed=3, repeat=1)
    assert r["responses"] == 48 and r["status_as_expected"] == 1.0
    assert r["parser_per_s"] > 0 and r["baseline_per_s"] > 0 and r["mean_chars"] > 10
