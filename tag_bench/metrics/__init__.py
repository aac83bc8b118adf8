"""Metric primitives (numpy only): per-claim grounding checks, statistics, the transfer matrix.

The metrics themselves (names, definitions, denominators, directions, CI methods) are declared once
in :mod:`tag_bench.scoring.metric_table`.
"""

from tag_bench.metrics.grounding import (
    GROUNDED_IOU,
    au_active,
    au_region,
    au_set_f1,
    claim_iou,
    claim_pointing,
    evidence_consistency,
    normalise_au,
    reference_states,
)
from tag_bench.metrics.stats import (
    McNemarResult,
    bootstrap_distribution,
    bootstrap_p_value,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    percentile_interval,
    resample_weights,
    weighted_mean,
    wilson_interval,
)
from tag_bench.metrics.transfer import TransferEntry, TransferTable, normalise_dataset, transfer_matrix

__all__ = [
    "GROUNDED_IOU",
    "McNemarResult",
    "TransferEntry",
    "TransferTable",
    "au_active",
    "au_region",
    "au_set_f1",
    "bootstrap_distribution",
    "bootstrap_p_value",
    "claim_iou",
    "claim_pointing",
    "evidence_consistency",
    "holm",
    "mcnemar_exact",
    "normalise_au",
    "normalise_dataset",
    "paired_bootstrap",
    "percentile_interval",
    "reference_states",
    "resample_weights",
    "transfer_matrix",
    "weighted_mean",
    "wilson_interval",
]
