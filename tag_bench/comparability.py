"""The comparability key: when two runs' numbers mean the same thing.

Two runs may share a table column, be compared by the CI gate or drawn in one figure only when every
part of their key is equal:

=================  ================================================================================
part               where it is recorded
=================  ================================================================================
task, version,     the manifest's task (``task.name``, ``task.version``, ``task.protocol``)
protocol
samples, labels,   the manifest's ``data_identity``: hashes of the sample-id set, of the gold labels
images             and of the presented images' content (their sha256s: aligned and original RAF-DB
                   are never mixed), computed when the run is scored
prompt             the manifest's prompt id and template hash
scoring version    each set of scores (``metrics.json``): ``SCORING_VERSION`` when it was scored
AU reference       each set of scores (``metrics.json``), for the metrics that need one
stages             the settings of a later stage a column shows: the judge and anchor of a judge study's
                   rows (tag_bench.judge.rows); an intervention set's fill, conditions, --limit,
                   versions and the AU reference that placed its controls (the manifest's
                   ``interventions``), for the scores of one fill (:func:`stage_parts`)
status             the manifest (a failed or interrupted run never passes for a complete one)
=================  ================================================================================

:func:`key_of` composes the key of a run's scores; readers split what differs (naming the difference,
:func:`describe`) or refuse it (naming the runs). Nothing here reads a dataset: the hashes are computed
once by the score stage (:func:`data_identity`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from tag_bench._hashing import sha256_hex
from tag_bench.images import ImageLoadError, image_sha256s
from tag_bench.schema import DataIdentity, Generation, MetricsReport, RunManifest, Sample
from tag_bench.scoring.version import SCORING_VERSION

_HASH_CHARS = 16


@dataclass(frozen=True)
class ComparabilityKey:
    """Everything two runs' numbers must share to be put side by side (see the module docstring)."""

    task: str
    task_version: int
    protocol: str
    samples: str | None  # None: scored before tag-bench recorded it
    labels: str | None
    images: str | None
    prompt: str
    scoring_version: int
    au_reference: str | None
    stages: tuple[tuple[str, str], ...]
    status: str

    def parts(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def without(self, *names: str) -> ComparabilityKey:
        """The key with some parts blanked (e.g. the AU reference of classification-only columns)."""
        blank = {n: None if n != "stages" else () for n in names}
        return ComparabilityKey(**{**self.parts(), **blank})

    @property
    def digest(self) -> str:
        """A short stable id of the whole key (a column of ``load_runs``)."""
        return sha256_hex(repr(sorted(self.parts().items())), 12)


#: What each part is called when it sets runs apart.
PART_NAMES = {
    "task": "task",
    "task_version": "task version",
    "protocol": "protocol",
    "samples": "sample set",
    "labels": "gold labels",
    "images": "images",
    "prompt": "prompt",
    "scoring_version": "scoring version",
    "au_reference": "AU reference",
    "stages": "stage settings",
    "status": "run status",
}


def stage_parts(manifest: RunManifest, fill: str | None) -> tuple[tuple[str, str], ...]:
    """The ``stages`` part of the key of a run's scores with one intervention fill's metrics (None: the
    run's own scores, which hold none)."""
    if fill is None:
        return ()
    info = manifest.interventions
    s = info.set_of(fill) if info is not None else None
    if info is None or s is None:
        return (("intervene", f"{fill}|not run"),)
    value = "|".join(
        [
            fill,
            ",".join(s.conditions),
            f"limit={s.limit}" if s.limit is not None else "all",
            f"v{info.version}.{s.fill_version}",
            f"ref={info.au_reference_id}",
        ]
    )
    return (("intervene", value),)


def key_of(manifest: RunManifest, report: MetricsReport, fill: str | None = None) -> ComparabilityKey:
    """The key of one set of a run's scores (``fill``: those of one intervention fill)."""
    data = manifest.data_identity
    return ComparabilityKey(
        task=manifest.task.name,
        task_version=manifest.task.version,
        protocol=manifest.task.protocol,
        samples=data.samples if data else None,
        labels=data.labels if data else None,
        images=data.images if data else None,
        prompt=f"{manifest.prompt_id}@{manifest.prompt_hash}",
        scoring_version=report.scoring_version or 0,
        au_reference=report.au_reference,
        stages=stage_parts(manifest, fill),
        status=manifest.status,
    )


def differing(keys: Iterable[ComparabilityKey]) -> list[str]:
    """The parts in which ``keys`` are not all equal, in key order."""
    keys = list(keys)
    if len(keys) < 2:
        return []
    return [name for name in PART_NAMES if len({getattr(k, name) for k in keys}) > 1]


def describe(key: ComparabilityKey, part: str, *, n_samples: int | None = None) -> str:
    """How a column header names this key's value of ``part``."""
    value = getattr(key, part)
    if part == "task_version":
        return f"v{value}"
    if part == "au_reference":
        return f"ref {value}" if value else "no reference"
    if part == "scoring_version":
        return f"scoring v{value}" + (" (re-score it)" if value < SCORING_VERSION else "")
    if part == "prompt":
        return f"prompt {str(value).split('@')[0]}"
    if part == "status":
        return str(value)
    if part == "stages":
        return _describe_stages(value)
    if part in ("samples", "labels", "images"):
        if value is None:
            return "scored before data hashes (re-score it)"
        what = {"samples": "samples", "labels": "labels", "images": "images"}[part]
        count = f" ({n_samples:,})" if part == "samples" and n_samples is not None else ""
        return f"{what} {value[:6]}{count}"
    return str(value)


def _describe_stages(stages: tuple[tuple[str, str], ...]) -> str:
    if not stages:
        return "no later stage"
    out = []
    for stage, value in stages:
        if stage != "intervene":
            out.append(f"{stage} {value}")
            continue
        fill, conditions, limit, version = (value.split("|") + [""] * 4)[:4]
        if conditions == "not run":
            out.append(f"fill {fill} not run")
            continue
        text = f"fill {fill}"
        if conditions != "none,cited,control,habitual,keep":
            text += f" ({conditions.replace(',', ', ')})"
        if limit.startswith("limit="):
            text += f", first {limit[6:]} tested"
        # the AU reference that placed the controls is part of the key, not of the header: the run's own
        out.append(text + (f" {version}" if version not in ("v1.1", "") else ""))
    return "; ".join(out)


def difference_text(a: ComparabilityKey, b: ComparabilityKey) -> str:
    """ "task version 1 vs 2; gold labels 3f2a1c vs 9e81d0" for two keys."""
    parts = differing([a, b])
    return "; ".join(f"{PART_NAMES[p]} {describe(a, p)} vs {describe(b, p)}" for p in parts)


# --------------------------------------------------------------------------------------------------
# Hashes of the data a run was scored on


def image_shas(samples: Iterable[Sample], generations: Mapping[str, Generation]) -> dict[str, str | None]:
    """The sha256 of each sample's presented image: from its generation record when the generate stage
    read it, else from the file (:func:`~tag_bench.images.image_sha256s`); None when it cannot be read."""
    out: dict[str, str | None] = {}
    unread: list[Sample] = []
    for s in samples:
        g = generations.get(s.id)
        if g is not None and g.image_sha256:
            out[s.id] = g.image_sha256
        else:
            out[s.id] = None
            unread.append(s)
    for s, sha in zip(unread, image_sha256s(unread), strict=True):
        out[s.id] = None if isinstance(sha, ImageLoadError) else sha
    return out


def data_identity(samples: Iterable[Sample], generations: Mapping[str, Generation]) -> DataIdentity:
    """Hashes of the sample-id set, the gold labels and the images' content of ``samples``; an image that
    cannot be read is hashed as unreadable (and counted)."""
    ordered = sorted(samples, key=lambda x: x.id)
    shas = image_shas(ordered, generations)
    ids = [s.id for s in ordered]
    return DataIdentity(
        n=len(ids),
        samples=sha256_hex("\n".join(ids), _HASH_CHARS),
        labels=sha256_hex("\n".join(f"{s.id}\t{s.label}" for s in ordered), _HASH_CHARS),
        images=sha256_hex("\n".join(f"{i}\t{shas[i] or 'unreadable'}" for i in ids), _HASH_CHARS),
        unreadable_images=sum(v is None for v in shas.values()),
    )
