"""Classification metrics against scikit-learn and hand-computed confusion matrices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from tag_bench.metrics import classification as cl

FAILED = "__failed__"  # how a failure looks to scikit-learn: a label outside the task's classes


def _sk(y_pred):
    return [FAILED if p is None else p for p in y_pred]


def test_imbalanced_hand_made_matrix_separates_the_three_headline_metrics():
    classes = ["neutral", "happiness", "sadness"]
    # gold 6 neutral / 3 happiness / 1 sadness; confusion [[5,1,0],[1,2,0],[1,0,0]]
    y_true = ["neutral"] * 6 + ["happiness"] * 3 + ["sadness"]
    y_pred = ["neutral"] * 5 + ["happiness"] + ["happiness"] * 2 + ["neutral"] + ["neutral"]
    cm, failed = cl.confusion_matrix(y_true, y_pred, classes)
    assert cm.tolist() == [[5, 1, 0], [1, 2, 0], [1, 0, 0]]
    assert failed.tolist() == [0, 0, 0]

    acc = cl.accuracy(y_true, y_pred, classes)
    bal = cl.balanced_accuracy(y_true, y_pred, classes)
    mf1 = cl.macro_f1(y_true, y_pred, classes)
    assert acc == pytest.approx(7 / 10)
    assert bal == pytest.approx((5 / 6 + 2 / 3 + 0) / 3)  # 0.5
    assert mf1 == pytest.approx((10 / 13 + 2 / 3 + 0) / 3)
    assert len({round(acc, 6), round(bal, 6), round(mf1, 6)}) == 3

    assert acc == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert bal == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert mf1 == pytest.approx(
        skm.f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)
    )

    precision, recall, f1, support = cl.precision_recall_f1(y_true, y_pred, classes)
    assert precision[:2] == pytest.approx([5 / 7, 2 / 3])
    assert np.isnan(precision[2])  # sadness never predicted: undefined, not 0
    assert recall == pytest.approx([5 / 6, 2 / 3, 0.0])
    assert f1 == pytest.approx([10 / 13, 2 / 3, 0.0])
    assert support.tolist() == [6, 3, 1]


def test_balanced_classes_make_accuracy_equal_balanced_accuracy():
    classes = ["neutral", "happiness", "sadness"]
    y_true = ["neutral", "neutral", "happiness", "happiness", "sadness", "sadness"]
    y_pred = ["neutral", "happiness", "happiness", "happiness", "sadness", "neutral"]
    acc = cl.accuracy(y_true, y_pred, classes)
    assert acc == pytest.approx(4 / 6)
    assert cl.balanced_accuracy(y_true, y_pred, classes) == pytest.approx(acc)
    assert cl.macro_f1(y_true, y_pred, classes) != pytest.approx(acc)


def test_failures_stay_in_n_and_are_wrong():
    classes = ["happiness", "sadness"]
    y_true = ["happiness", "happiness", "sadness", "sadness"]
    y_pred = ["happiness", None, "sadness", None]
    cm, failed = cl.confusion_matrix(y_true, y_pred, classes)
    assert cm.tolist() == [[1, 0], [0, 1]]
    assert failed.tolist() == [1, 1]
    s = cl.scores_from_confusion(cm, failed)
    assert s["accuracy"] == pytest.approx(0.5)
    assert s["accuracy_parsed"] == pytest.approx(1.0)
    assert s["parse_failure_rate"] == pytest.approx(0.5)
    assert s["recall"].tolist() == pytest.approx([0.5, 0.5])
    assert s["precision"].tolist() == pytest.approx([1.0, 1.0])
    with warnings.catch_warnings():  # the failure label has no gold row: expected
        warnings.simplefilter("ignore")
        assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, _sk(y_pred)))


@pytest.mark.parametrize("seed", range(6))
def test_random_predictions_with_failures_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    classes = ["neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt"]
    n = int(rng.integers(5, 300))
    # skewed gold distribution; some classes may be absent from gold and/or predictions
    probs = rng.dirichlet(np.full(len(classes), 0.4))
    y_true = list(rng.choice(classes, size=n, p=probs))
    y_pred = [
        None if rng.random() < 0.15 else (t if rng.random() < 0.5 else str(rng.choice(classes[: 2 + seed])))
        for t in y_true
    ]
    sk_pred = _sk(y_pred)
    cm, failed = cl.confusion_matrix(y_true, y_pred, classes)
    assert np.array_equal(cm, skm.confusion_matrix(y_true, sk_pred, labels=classes))
    assert np.array_equal(cm.sum(1) + failed, [y_true.count(c) for c in classes])

    assert cl.accuracy(y_true, y_pred, classes) == pytest.approx(skm.accuracy_score(y_true, sk_pred))
    with warnings.catch_warnings():  # it warns about the failure label having no gold row: expected
        warnings.simplefilter("ignore")
        sk_bal = skm.balanced_accuracy_score(y_true, sk_pred)
    assert cl.balanced_accuracy(y_true, y_pred, classes) == pytest.approx(sk_bal)
    assert cl.macro_f1(y_true, y_pred, classes) == pytest.approx(
        skm.f1_score(y_true, sk_pred, labels=classes, average="macro", zero_division=0)
    )
    p, r, f, support = cl.precision_recall_f1(y_true, y_pred, classes)
    sk_p, sk_r, sk_f, sk_s = skm.precision_recall_fscore_support(
        y_true, sk_pred, labels=classes, zero_division=np.nan
    )
    np.testing.assert_allclose(p, sk_p, equal_nan=True)
    np.testing.assert_allclose(r, sk_r, equal_nan=True)
    np.testing.assert_array_equal(support, sk_s)
    # F1: scikit-learn's nan only when a class has neither gold nor predictions, as here
    np.testing.assert_allclose(np.nan_to_num(f), np.nan_to_num(sk_f))
    no_gold_no_pred = (support == 0) & (cm.sum(0) == 0)
    assert np.array_equal(np.isnan(f), no_gold_no_pred)


def test_macro_f1_counts_a_never_seen_class_as_zero_like_sklearn():
    classes = ["neutral", "happiness", "contempt"]
    y_true = ["neutral", "happiness"]
    y_pred = ["neutral", "happiness"]
    assert cl.macro_f1(y_true, y_pred, classes) == pytest.approx(2 / 3)
    assert cl.macro_f1(y_true, y_pred, classes) == pytest.approx(
        skm.f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)
    )
    # balanced accuracy ignores classes without gold samples (scikit-learn drops them too)
    assert cl.balanced_accuracy(y_true, y_pred, classes) == pytest.approx(1.0)


def test_batched_scores_equal_single_scores():
    rng = np.random.default_rng(3)
    mats = rng.integers(0, 9, size=(5, 4, 4))
    fails = rng.integers(0, 3, size=(5, 4))
    batch = cl.scores_from_confusion(mats, fails)
    for i in range(5):
        one = cl.scores_from_confusion(mats[i], fails[i])
        for key, val in one.items():
            np.testing.assert_allclose(batch[key][i], val, equal_nan=True)


def test_bad_labels_are_clear_errors():
    with pytest.raises(ValueError, match="not one of the task's classes"):
        cl.confusion_matrix(["happiness", "joy"], ["happiness", "happiness"], ["happiness", "sadness"])
    with pytest.raises(ValueError, match="duplicates"):
        cl.encode_labels(["happiness"], ["happiness", "happiness"])
    # a predicted label outside the classes is a failure, not an error
    cm, failed = cl.confusion_matrix(["happiness"], ["contempt"], ["happiness", "sadness"])
    assert cm.sum() == 0 and failed.tolist() == [1, 0]
    with pytest.raises(ValueError, match="pred indices"):
        cl.confusion_from_indices([0, 1], [0, 5], 2)
