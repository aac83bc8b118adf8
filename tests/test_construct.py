"""``tag_bench._construct.constructor`` makes exactly what pydantic's ``model_construct`` makes."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from tag_bench._construct import constructor
from tag_bench.schema import ClaimScore, Parsed, SampleUsage, ScoredSample


def _same(a: BaseModel, b: BaseModel) -> None:
    assert type(a) is type(b)
    assert a == b
    assert a.model_dump_json() == b.model_dump_json()
    assert list(a.__dict__) == list(b.__dict__)  # field order, as model_construct writes it
    assert a.model_fields_set == b.model_fields_set


def test_full_and_partial_values_match_model_construct():
    claim = {"au": "AU12", "box": [1.0, 2.0, 3.0, 4.0], "iou": 0.5, "center_inside": True,
             "reference_active": True, "hallucinated": False}  # fmt: skip
    _same(constructor(ClaimScore)(**claim), ClaimScore.model_construct(**claim))
    usage = {"latency_s": 0.2, "output_tokens": 12}
    _same(constructor(SampleUsage)(**usage), SampleUsage.model_construct(**usage))
    scored = {"sample_id": "s1", "label": "happiness", "pred": "happiness", "status": "ok", "correct": True,
              "parsed": Parsed(label="happiness", status="ok"), "claims": [ClaimScore.model_construct(**claim)]}  # fmt: skip
    a, b = constructor(ScoredSample)(**scored), ScoredSample.model_construct(**scored)
    _same(a, b)
    assert a.schema_version == b.schema_version  # a default filled in


def test_mutable_defaults_are_not_shared():
    class WithList(BaseModel):
        items: list[int] = Field(default_factory=list)
        tags: list[str] = []

    make = constructor(WithList)
    one, two = make(), make()
    one.items.append(1)
    one.tags.append("x")
    assert two.items == [] and two.tags == []
    _same(make(), WithList.model_construct())


def test_models_it_cannot_build_are_refused():
    class Aliased(BaseModel):
        x: int = Field(alias="y")

    with pytest.raises(TypeError, match="aliases"):
        constructor(Aliased)
