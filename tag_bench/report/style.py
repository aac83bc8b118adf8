"""The one look of every figure and overlay: colour-blind-safe colours, sizes, matplotlib settings.

Colours are the Okabe–Ito palette (distinguishable with every common colour-vision deficiency). The
outcome colours of a claimed box are shared by the matplotlib overlays and the HTML report's overlays.
Figures are sized for a single column of a two-column paper (3.4 in) with 7 pt text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from tag_bench._optional import require

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Colours of series (models) in order: black and yellow last (black is for text, yellow is faint).
SERIES = tuple(OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "vermillion", "reddish_purple",
                                      "sky_blue", "black", "yellow"))  # fmt: skip

#: Outcome of a claimed box (see :func:`tag_bench.report.browse.claim_outcome`) -> colour.
OUTCOME_COLOURS: dict[str, str] = {
    "hit": OKABE_ITO["bluish_green"],  # IoU >= 0.5 with the reference region of its AU
    "miss": OKABE_ITO["orange"],  # IoU < 0.5
    "hallucinated": OKABE_ITO["vermillion"],  # the reference marks the AU inactive
    "unscored": "#999999",  # no usable reference: the box cannot be judged
}
#: The reference region of a cited AU (drawn dashed).
REFERENCE_COLOUR = OKABE_ITO["blue"]
OUTCOME_LABELS: dict[str, str] = {
    "hit": "hit (IoU ≥ 0.5)",
    "miss": "miss (IoU < 0.5)",
    "hallucinated": "hallucinated AU",
    "unscored": "not scored (no reference)",
}
#: Sequential colour map for matrices (perceptually uniform and colour-blind safe).
SEQUENTIAL_CMAP = "cividis"

SINGLE_COLUMN_IN = 3.4
DOUBLE_COLUMN_IN = 7.0
PAPER_DPI = 300  # PNG files for papers
SCREEN_DPI = 110  # figures embedded in the HTML report

RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: no system font needed
    "font.size": 7,
    "axes.titlesize": 7.5,
    "axes.labelsize": 7,
    "xtick.labelsize": 6.5,
    "ytick.labelsize": 6.5,
    "legend.fontsize": 6.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.0,
    "patch.linewidth": 0.6,
    "axes.prop_cycle": None,  # set in rc() (needs matplotlib's cycler)
    "pdf.fonttype": 42,  # TrueType in PDFs: text stays editable and searchable
    "svg.fonttype": "none",
}


def matplotlib() -> Any:
    """matplotlib, or MissingExtraError naming the ``plots`` extra."""
    return require("matplotlib", "plots", "Plots and the HTML report's figures")


def rc() -> dict[str, Any]:
    """matplotlib rc settings of every tag-bench figure."""
    from cycler import cycler

    return {**RC, "axes.prop_cycle": cycler(color=list(SERIES))}


def new_figure(
    width: float = SINGLE_COLUMN_IN,
    height: float = 2.4,
    layout: Literal["constrained"] | None = "constrained",
) -> Figure:
    """A Figure rendered by Agg (never pyplot: no global state, no interactive backend)."""
    matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context():
        fig = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def rc_context() -> Any:
    return matplotlib().rc_context(rc())


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (#RRGGBB)."""
    r, g, b = (int(background[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "#FFFFFF"


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """``#RRGGBB`` -> (r, g, b)."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
