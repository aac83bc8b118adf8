"""Later stages of a run (intervene, judge) whose metrics exist only once the stage has been run.

A metric that needs a stage names it in ``MetricSpec.requires``; until the stage has been run on a run,
the metric is ``not_computed`` with the command that runs it, and ``metrics.json`` lists it under
``not_run`` so that ``compare`` can tell "cannot be computed" apart from "not run yet".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tag_bench.schema import RunManifest


@dataclass(frozen=True)
class Stage:
    """A stage that runs on a finished run and feeds some metrics."""

    need: str  # what its metrics declare in ``requires``
    name: str  # as users call it (``intervene``)
    done: Callable[[RunManifest], bool]  # whether the run's manifest records it
    command: str  # how to run it, with RUN for the run directory
    #: where its metrics are once it has run, when that is not the run's own metrics.json (the reason the
    #: run's metrics.json gives for them); None: they join the run's metrics.json
    elsewhere: str | None = None


STAGES: dict[str, Stage] = {}


def register_stage(stage: Stage) -> Stage:
    """Make a stage known; a need taken twice is a ValueError."""
    if stage.need in STAGES:
        raise ValueError(f"a stage for {stage.need!r} is already registered ({STAGES[stage.need].name})")
    STAGES[stage.need] = stage
    return stage


def unregister_stage(need: str) -> None:
    STAGES.pop(need)


def _intervened(m: RunManifest) -> bool:
    return m.interventions is not None and any(s.status == "complete" for s in m.interventions.sets)


#: Faithfulness by intervention (tag_bench.intervene): its metrics are per fill, one column group each.
INTERVENE = register_stage(
    Stage(
        "interventions",
        "intervene",
        _intervened,
        "tag-bench intervene RUN",
        elsewhere=(
            "computed per fill, in the run's intervention sets (interventions/<fill>/metrics.json): read them "
            "with `tag-bench leaderboard RUN --spec faithfulness` (one column group per fill)"
        ),
    )
)
