"""Units of metrics: how a value is scaled, printed and described. Every output formats through here.

A metric's value is stored in its unit's base form (rates in [0, 1], times in seconds, counts per
sample); tables, ``compare``, the run summary, figures and the HTML report show it through
:func:`format_value`, so a new unit is one entry of :data:`UNITS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

import numpy as np

UnitName = Literal[
    "rate", "seconds", "tokens", "chars", "samples_per_s", "count", "elo", "rate_difference", "nats"
]
_Number = TypeVar("_Number", float, np.ndarray)


@dataclass(frozen=True)
class Unit:
    """How values of one unit are shown. ``scale`` turns a stored value into the shown number."""

    name: UnitName
    symbol: str  # after the number in axis labels and headers ("%", "s", ...)
    scale: float
    decimals: int | None  # None: the table's ``decimals`` (rates); else fixed digits
    lower: float  # smallest valid value
    upper: float | None  # largest valid value (None: unbounded)
    phrase: str  # how a table note names it ("rates in %")
    diff_phrase: str  # how a difference is read ("points", "s")

    def shown(self, value: _Number) -> _Number:
        return value * self.scale

    def digits(self, decimals: int) -> int:
        return decimals if self.decimals is None else self.decimals


UNITS: dict[str, Unit] = {
    u.name: u
    for u in (
        Unit("rate", "%", 100.0, None, 0.0, 1.0, "rates in %", "points"),
        Unit("seconds", "s", 1.0, 3, 0.0, None, "times in seconds", "s"),
        Unit("tokens", "tokens", 1.0, 1, 0.0, None, "token counts per sample", "tokens"),
        Unit("chars", "chars", 1.0, 0, 0.0, None, "characters per response", "chars"),
        Unit("samples_per_s", "samples/s", 1.0, 2, 0.0, None, "throughput in samples/s", "samples/s"),
        Unit("count", "per sample", 1.0, 2, 0.0, None, "counts per sample", "per sample"),
        # Bradley-Terry ratings of `tag-bench judge` on the Elo scale: 400 / ln 10 points per unit of
        # log-odds, so 100 points apart is a 64 % chance of being preferred; anchored, hence signed
        Unit("elo", "Elo", 1.0, 0, -math.inf, None, "ratings in Elo points", "Elo points"),
        # a difference of two rates of the same samples (faithfulness_gap): points, in [-100, 100]
        Unit("rate_difference", "pt", 100.0, None, -1.0, 1.0, "rate differences in points", "points"),
        # a drop in log-probability (natural log) per sample: any real number
        Unit("nats", "nats", 1.0, 2, -math.inf, None, "log-probability drops in nats", "nats"),
    )
}


class HasUnit(Protocol):
    @property
    def unit(self) -> str: ...


def unit_of(metric: HasUnit | str) -> Unit:
    """The :class:`Unit` of a metric spec (or of a unit name)."""
    name = metric if isinstance(metric, str) else metric.unit
    return UNITS[name]


def format_value(
    metric: HasUnit | str, value: float | None, decimals: int = 1, *, signed: bool = False
) -> str:
    """``value`` as shown in every output: rates in percent with ``decimals`` places, other units with
    their own precision; "–" for no value. ``signed``: a difference, with its sign."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    u = unit_of(metric)
    return f"{u.shown(value):{'+' if signed else ''}.{u.digits(decimals)}f}"


def shown_number(metric: HasUnit | str, value: float, decimals: int = 1) -> float:
    """The number a reader sees (scaled and rounded): values equal here are tied in tables."""
    u = unit_of(metric)
    return round(u.shown(value), u.digits(decimals))


def units_note(units: list[Unit]) -> str:
    """ "Rates in %; times in seconds" for the units of a table's columns, in first-seen order."""
    phrases = list(dict.fromkeys(u.phrase for u in units)) or [UNITS["rate"].phrase]
    text = "; ".join(phrases)
    return text[0].upper() + text[1:]
