"""Controls of the intervene stage: two adapters whose dependence on their evidence is known by construction.

- ``probe-faithful`` picks a face region (seeded by the sample id), cites it with its AU and a box, and
  derives its label from a statistic of exactly the pixels inside that box. Filling the box changes the
  answer (it flips unless the new statistic lands on the same label by chance); filling anything else
  leaves it alone. The intervene stage must find its ``faithfulness_gap`` and ``specificity_gap`` above 0.
- ``probe-unfaithful`` cites one region but derives its label from the pixels of another region it never
  cites. Filling what it cites changes nothing; its ``faithfulness_gap`` is at most 0.

Both answer the same image the same way every time (the region is chosen from the sample id, not the
pixels), so the ``none`` condition never flips them. Regions are fixed fractions of the image (the
datasets' faces are aligned crops), so they work on any image, the generated fixture faces included.
See docs/faithfulness.md.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from pydantic import Field

from tag_bench.models.base import (
    AdapterArgs,
    AdapterContext,
    GenerationOutput,
    GenerationRequest,
    fingerprint_of,
)
from tag_bench.models.baselines import _Baseline, _trace
from tag_bench.models.requests import rgb

PROBE_VERSION = "1"

#: (AU, region in words, box as fractions of the image: x1, y1, x2, y2); pairwise disjoint on the pixel grid.
PROBE_REGIONS: tuple[tuple[str, str, tuple[float, float, float, float]], ...] = (
    ("AU1", "inner brows", (0.36, 0.16, 0.64, 0.30)),
    ("AU2", "outer brow", (0.08, 0.16, 0.34, 0.30)),
    ("AU5", "upper eyelid", (0.20, 0.32, 0.46, 0.44)),
    ("AU6", "cheek", (0.12, 0.50, 0.36, 0.66)),
    ("AU9", "nose", (0.48, 0.40, 0.60, 0.60)),
    ("AU12", "mouth corners", (0.28, 0.66, 0.72, 0.80)),
    ("AU17", "chin", (0.36, 0.84, 0.64, 0.97)),
)
#: Grey levels per step of the statistic: a change of this much moves the label to the next class.
STAT_STEP = 0.5


def region_box(index: int, size: tuple[int, int]) -> list[float]:
    """The pixel box of region ``index`` in an image of ``size`` (W, H)."""
    x1, y1, x2, y2 = PROBE_REGIONS[index][2]
    w, h = size
    return [round(x1 * w, 2), round(y1 * h, 2), round(x2 * w, 2), round(y2 * h, 2)]


def region_statistic(image: Any, box: list[float]) -> float:
    """Mean plus twice the standard deviation of the grey levels of the pixels whose centres lie in ``box``."""
    arr = np.asarray(rgb(image), dtype=np.float64).mean(axis=2)
    h, w = arr.shape
    x0, x1 = (min(max(int(np.floor(v + 0.5)), 0), w) for v in (box[0], box[2]))
    y0, y1 = (min(max(int(np.floor(v + 0.5)), 0), h) for v in (box[1], box[3]))
    pixels = arr[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
    if pixels.size == 0:
        return 0.0
    return float(pixels.mean() + 2.0 * pixels.std())


class _Probe(_Baseline):
    class Args(AdapterArgs):
        seed: int | None = Field(None, description="seed of the region choice (default: the run's --seed)")

    args: Args

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        self.seed = self.context.seed if self.args.seed is None else self.args.seed

    def fingerprint(self) -> str:
        return fingerprint_of(self.name, PROBE_VERSION, self.seed, self.classes)

    def describe(self) -> dict[str, Any]:
        return {"version": PROBE_VERSION, "seed": self.seed}

    def regions(self, sample_id: str) -> tuple[int, int]:
        """(cited region, region the answer is read from), seeded by the sample id."""
        raise NotImplementedError

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        out = []
        for r in requests:
            cited, read = self.regions(r.sample_id)
            size = r.image.size
            box = region_box(cited, size)
            stat = region_statistic(r.image, region_box(read, size))
            label = self.classes[int(np.floor(stat / STAT_STEP)) % len(self.classes)]
            au, where, _ = PROBE_REGIONS[cited]
            analysis = f"A control model: the label is read off the {PROBE_REGIONS[read][1]} pixels."
            text = _trace(label, [(au, box)], analysis)
            out.append(
                GenerationOutput(text=text.replace("Inspect ", f"Inspect {where}: ", 1), finish_reason="stop")
            )
        return out


class FaithfulProbe(_Probe):
    """Control: cites one face region and answers from a statistic of exactly its pixels (faithful by construction)."""

    name = "probe-faithful"

    def regions(self, sample_id: str) -> tuple[int, int]:
        i = random.Random(f"{self.seed}:{sample_id}").randrange(len(PROBE_REGIONS))
        return i, i


class UnfaithfulProbe(_Probe):
    """Control: cites one face region but answers from another it never cites (unfaithful by construction)."""

    name = "probe-unfaithful"

    def regions(self, sample_id: str) -> tuple[int, int]:
        rng = random.Random(f"{self.seed}:{sample_id}")
        cited = rng.randrange(len(PROBE_REGIONS))
        read = rng.randrange(len(PROBE_REGIONS) - 1)
        return cited, read + (read >= cited)
