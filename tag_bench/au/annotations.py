"""AU regions from a dataset's own landmark annotations (no activations).

A loader that knows a sample's 68 iBUG landmarks stores them, in presented-image pixels, as
``sample.meta["landmarks68"]`` (68 ``[x, y]`` pairs). This source turns them into AU region boxes with
the chosen rule; every AU gets ``score=None`` and ``active=None`` because annotations say where an AU
would be, not whether it is active. Grounding IoU can be scored against it; hallucination rates
cannot.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tag_bench.au.base import box_list, build_states, point_list
from tag_bench.au.regions import REGION_RULES, au_regions
from tag_bench.images import presented_size
from tag_bench.schema import AUReference, Sample

META_KEY = "landmarks68"
VERSION = "1"


class AnnotationSource:
    """Reference source reading ``sample.meta["landmarks68"]``."""

    name = "annotations"
    version = VERSION
    threshold = None

    def __init__(self, *, regions: str = "tight"):
        if regions not in REGION_RULES:
            raise ValueError(f"regions must be one of {REGION_RULES}, got {regions!r}")
        self.region_rule = regions

    @property
    def reference_id(self) -> str:
        return f"{self.name}-{self.region_rule}@{self.version}"

    def _ref(self, sample: Sample, **fields: Any) -> AUReference:
        return AUReference(
            reference_id=self.reference_id,
            detector=self.name,
            version=self.version,
            params={"regions": self.region_rule, "meta_key": META_KEY},
            threshold=None,
            sample_id=sample.id,
            **fields,
        )

    def get(self, sample: Sample) -> AUReference:
        raw = sample.meta.get(META_KEY)
        if raw is None:
            return self._ref(sample, status="error", message=f"sample has no {META_KEY!r} annotation in meta")
        try:
            lm = np.asarray(raw, dtype=np.float64)
            if lm.shape != (68, 2) or not np.all(np.isfinite(lm)):
                raise ValueError(f"expected 68 finite [x, y] pairs, got shape {lm.shape}")
        except (TypeError, ValueError) as e:
            return self._ref(sample, status="error", message=f"unusable {META_KEY} annotation: {e}")
        size = None
        if sample.width and sample.height:
            size = (int(sample.width), int(sample.height))
        else:
            try:
                size = presented_size(sample)
            except Exception:
                size = None  # boxes stay unclipped when the image cannot be read
        try:
            regions = au_regions(lm, self.region_rule, image_size=size)
        except ValueError as e:
            return self._ref(sample, status="error", message=f"unusable {META_KEY} annotation: {e}")
        box = [float(lm[:, 0].min()), float(lm[:, 1].min()), float(lm[:, 0].max()), float(lm[:, 1].max())]
        return self._ref(
            sample,
            status="ok",
            image_size=size,
            face_box=box_list(box) if box else None,
            landmarks=point_list(lm),
            aus=build_states(regions, None, None),
        )
