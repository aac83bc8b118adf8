"""Classification metrics over a task's class list, all from one confusion matrix.

Predictions that are not a class of the task (unparsed answers, refusals, failed calls: ``None`` or
index -1) are **failures**: they stay in N and in each gold class's support, and are counted in a
separate ``failed`` column instead of a matrix column. The K x K matrix is therefore exactly
``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=classes)`` and every score equals its
scikit-learn counterpart with failures mapped to a label outside ``classes``:

- ``accuracy`` = correct / N (failures are wrong);
- ``recall`` per class = tp / (gold support incl. failures); ``balanced_accuracy`` = mean recall over
  the classes that have gold samples (== ``balanced_accuracy_score``);
- ``precision`` per class = tp / predictions of that class;
- ``f1`` per class = 2 tp / (2 tp + fp + fn); ``macro_f1`` is the unweighted mean over **all** task
  classes, a class with no gold and no predicted samples counting 0
  (== ``f1_score(labels=classes, average="macro", zero_division=0)``).

Per-class values that divide by zero are NaN here (the aggregate reports them as "not computed").
Functions are vectorised over leading batch dimensions so the bootstrap can use them unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def encode_labels(
    labels: Sequence[str | None], classes: Sequence[str], *, failures_allowed: bool = True
) -> np.ndarray:
    """Class indices of ``labels``; None (or, when ``failures_allowed``, any non-class label) -> -1.

    With ``failures_allowed=False`` (gold labels) a label outside ``classes`` raises ValueError.
    """
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError(f"classes contain duplicates: {list(classes)}")
    out = np.empty(len(labels), dtype=np.int64)
    for i, lab in enumerate(labels):
        k = index.get(lab, -1) if lab is not None else -1
        if k < 0 and not failures_allowed:
            raise ValueError(f"label {lab!r} is not one of the task's classes {list(classes)}")
        out[i] = k
    return out


def confusion_from_indices(gold: ArrayLike, pred: ArrayLike, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(matrix K x K, failed K) from gold indices in [0, K) and predicted indices in [-1, K)."""
    g = np.asarray(gold, dtype=np.int64)
    p = np.asarray(pred, dtype=np.int64)
    if g.shape != p.shape:
        raise ValueError(f"gold and pred differ in shape: {g.shape} vs {p.shape}")
    if g.size and (g.min() < 0 or g.max() >= n_classes):
        raise ValueError("gold indices must lie in [0, n_classes)")
    if p.size and (p.min() < -1 or p.max() >= n_classes):
        raise ValueError("pred indices must lie in [-1, n_classes)")
    cells = np.bincount(g * (n_classes + 1) + (p + 1), minlength=n_classes * (n_classes + 1))
    cells = cells.reshape(n_classes, n_classes + 1)
    return cells[:, 1:].copy(), cells[:, 0].copy()


def confusion_matrix(
    y_true: Sequence[str], y_pred: Sequence[str | None], classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows = gold, columns = predicted, in ``classes`` order; plus failures per gold class."""
    return confusion_from_indices(
        encode_labels(y_true, classes, failures_allowed=False), encode_labels(y_pred, classes), len(classes)
    )


def scores_from_confusion(matrix: ArrayLike, failed: ArrayLike) -> dict[str, np.ndarray]:
    """Every classification score from (..., K, K) matrices and (..., K) failure counts.

    Returns arrays with the batch shape (scalars per batch) or batch + (K,) (per class):
    accuracy, accuracy_parsed, parse_failure_rate, balanced_accuracy, macro_f1, precision, recall,
    f1, support, predicted. Undefined values (division by zero) are NaN.
    """
    cm = np.asarray(matrix, dtype=float)
    fail = np.asarray(failed, dtype=float)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1) + fail
    predicted = cm.sum(axis=-2)
    n = support.sum(axis=-1)
    n_parsed = predicted.sum(axis=-1)
    correct = tp.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), np.nan)
        has_gold = support > 0
        n_gold_classes = has_gold.sum(axis=-1)
        balanced = np.where(
            n_gold_classes > 0, np.where(has_gold, recall, 0.0).sum(axis=-1) / n_gold_classes, np.nan
        )
        return {
            "accuracy": np.where(n > 0, correct / n, np.nan),
            "accuracy_parsed": np.where(n_parsed > 0, correct / n_parsed, np.nan),
            "parse_failure_rate": np.where(n > 0, fail.sum(axis=-1) / n, np.nan),
            "balanced_accuracy": balanced,
            "macro_f1": np.where(n > 0, np.nan_to_num(f1, nan=0.0).mean(axis=-1), np.nan),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
            "predicted": predicted,
        }


def _scores(y_true: Sequence[str], y_pred: Sequence[str | None], classes: Sequence[str]) -> dict:
    return scores_from_confusion(*confusion_matrix(y_true, y_pred, classes))


def accuracy(y_true: Sequence[str], y_pred: Sequence[str | None], classes: Sequence[str]) -> float:
    """correct / N, failures counted as wrong (WAR)."""
    return float(_scores(y_true, y_pred, classes)["accuracy"])


def balanced_accuracy(y_true: Sequence[str], y_pred: Sequence[str | None], classes: Sequence[str]) -> float:
    """Mean per-class recall over classes with gold samples (UAR)."""
    return float(_scores(y_true, y_pred, classes)["balanced_accuracy"])


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str | None], classes: Sequence[str]) -> float:
    """Unweighted mean F1 over all ``classes`` (a class never seen nor predicted counts 0)."""
    return float(_scores(y_true, y_pred, classes)["macro_f1"])


def precision_recall_f1(
    y_true: Sequence[str], y_pred: Sequence[str | None], classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class (precision, recall, f1, support) in ``classes`` order; NaN where undefined."""
    s = _scores(y_true, y_pred, classes)
    return s["precision"], s["recall"], s["f1"], s["support"].astype(np.int64)
