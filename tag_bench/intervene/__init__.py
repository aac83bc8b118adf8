"""The intervene stage: does the evidence a model cites matter to its answer? (docs/faithfulness.md)

Re-ask a finished run's model on images whose cited boxes are filled, and on controls of the same area
(regions it did not cite; another sample's habitual boxes; everything but the cited boxes), one set per
fill (blur, mean, ROAD's noisy linear imputer). The metrics are the metric table's faithfulness group,
one column group per fill.
"""

from tag_bench.intervene.fills import FILLS, FillCache, apply_fill, fill_names
from tag_bench.intervene.plan import INTERVENE_VERSION, make_plan
from tag_bench.intervene.stage import InterveneError, InterveneResult, StagePlan, intervene, prepare
from tag_bench.schema import INTERVENTION_CONDITIONS

__all__ = [
    "FILLS",
    "INTERVENE_VERSION",
    "INTERVENTION_CONDITIONS",
    "FillCache",
    "InterveneError",
    "InterveneResult",
    "StagePlan",
    "apply_fill",
    "fill_names",
    "intervene",
    "make_plan",
    "prepare",
]
