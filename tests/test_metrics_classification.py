"""Classification metrics of the metric table against scikit-learn and hand-computed matrices.

Everything goes through the one implementation (score_sample -> compute_metrics); scikit-learn is the
reference, with failures mapped to a label outside the task's classes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from tag_bench.schema import Generation, Parsed, Sample
from tag_bench.scoring import compute_metrics, score_sample

FAILED = "__failed__"  # how a failure looks to scikit-learn: a label outside the task's classes


def _sk(y_pred):
    return [FAILED if p is None else p for p in y_pred]


class _Scores:
    """The metrics of one run given gold and predicted labels (None = unparsed answer)."""

    def __init__(self, y_true, y_pred, classes):
        scored = []
        for i, (t, p) in enumerate(zip(y_true, y_pred, strict=True)):
            s = Sample(id=f"s{i}", dataset="x", split="t", image="x.jpg", label=t, native_label=t)
            g = Generation(sample_id=s.id, text="...")
            parsed = Parsed(label=p, status="ok" if p is not None else "no_answer")
            scored.append(score_sample(s, g, parsed, None, classes))
        self.report = compute_metrics(scored, classes, au_reference_id=None, n_resamples=0)
        self.classes = classes

    def __getitem__(self, name):
        v = self.report.metrics[name].value
        return np.nan if v is None else v

    def per_class(self, kind):
        return np.array([self[f"{kind}/{c}"] for c in self.classes])

    @property
    def matrix(self):
        return np.array(self.report.confusion_matrix["matrix"]), np.array(
            self.report.confusion_matrix["failed"]
        )


def test_imbalanced_hand_made_matrix_separates_the_three_headline_metrics():
    classes = ["neutral", "happiness", "sadness"]
    # gold 6 neutral / 3 happiness / 1 sadness; confusion [[5,1,0],[1,2,0],[1,0,0]]
    y_true = ["neutral"] * 6 + ["happiness"] * 3 + ["sadness"]
    y_pred = ["neutral"] * 5 + ["happiness"] + ["happiness"] * 2 + ["neutral"] + ["neutral"]
    sc = _Scores(y_true, y_pred, classes)
    cm, failed = sc.matrix
    assert cm.tolist() == [[5, 1, 0], [1, 2, 0], [1, 0, 0]]
    assert failed.tolist() == [0, 0, 0]

    acc, bal, mf1 = sc["accuracy"], sc["balanced_accuracy"], sc["macro_f1"]
    assert acc == pytest.approx(7 / 10)
    assert bal == pytest.approx((5 / 6 + 2 / 3 + 0) / 3)  # 0.5
    assert mf1 == pytest.approx((10 / 13 + 2 / 3 + 0) / 3)
    assert len({round(acc, 6), round(bal, 6), round(mf1, 6)}) == 3

    assert acc == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert bal == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert mf1 == pytest.approx(skm.f1_score(y_true, y_pred, labels=classes, average="macro"))

    precision, recall, f1 = sc.per_class("precision"), sc.per_class("recall"), sc.per_class("f1")
    assert precision[:2] == pytest.approx([5 / 7, 2 / 3])
    assert np.isnan(precision[2])  # sadness never predicted: undefined, not 0
    assert "precision/sadness" in sc.report.not_computed
    assert recall == pytest.approx([5 / 6, 2 / 3, 0.0])
    assert f1 == pytest.approx([10 / 13, 2 / 3, 0.0])
    assert [sc.report.metrics[f"recall/{c}"].n for c in classes] == [6, 3, 1]


def test_balanced_classes_make_accuracy_equal_balanced_accuracy():
    classes = ["neutral", "happiness", "sadness"]
    y_true = ["neutral", "neutral", "happiness", "happiness", "sadness", "sadness"]
    y_pred = ["neutral", "happiness", "happiness", "happiness", "sadness", "neutral"]
    sc = _Scores(y_true, y_pred, classes)
    acc = sc["accuracy"]
    assert acc == pytest.approx(4 / 6)
    assert sc["balanced_accuracy"] == pytest.approx(acc)
    assert sc["macro_f1"] != pytest.approx(acc)


def test_failures_stay_in_n_and_are_wrong():
    classes = ["happiness", "sadness"]
    y_true = ["happiness", "happiness", "sadness", "sadness"]
    y_pred = ["happiness", None, "sadness", None]
    s = _Scores(y_true, y_pred, classes)
    cm, failed = s.matrix
    assert cm.tolist() == [[1, 0], [0, 1]]
    assert failed.tolist() == [1, 1]
    assert s["accuracy"] == pytest.approx(0.5)
    assert s["accuracy_parsed"] == pytest.approx(1.0)
    assert s["parse_failure_rate"] == pytest.approx(0.5)
    assert s.per_class("recall").tolist() == pytest.approx([0.5, 0.5])
    assert s.per_class("precision").tolist() == pytest.approx([1.0, 1.0])
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
    sc = _Scores(y_true, y_pred, classes)
    cm, failed = sc.matrix
    assert np.array_equal(cm, skm.confusion_matrix(y_true, sk_pred, labels=classes))
    assert np.array_equal(cm.sum(1) + failed, [y_true.count(c) for c in classes])

    assert sc["accuracy"] == pytest.approx(skm.accuracy_score(y_true, sk_pred))
    with warnings.catch_warnings():  # it warns about the failure label having no gold row: expected
        warnings.simplefilter("ignore")
        sk_bal = skm.balanced_accuracy_score(y_true, sk_pred)
    assert sc["balanced_accuracy"] == pytest.approx(sk_bal)
    occurring = [c for c in classes if c in y_true or c in y_pred]  # where f1/<class> is defined
    assert sc["macro_f1"] == pytest.approx(skm.f1_score(y_true, sk_pred, labels=occurring, average="macro"))
    p, r, f = sc.per_class("precision"), sc.per_class("recall"), sc.per_class("f1")
    support = np.array([sc.report.metrics[f"f1/{c}"].n for c in classes])
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


def test_macro_f1_leaves_out_a_class_that_never_occurs_like_its_per_class_f1():
    classes = ["neutral", "happiness", "contempt"]
    y_true = ["neutral", "happiness"]
    y_pred = ["neutral", "happiness"]
    sc = _Scores(y_true, y_pred, classes)
    assert sc["macro_f1"] == pytest.approx(1.0)  # contempt: not in gold, never predicted -> left out
    assert sc["f1/contempt"] is np.nan or np.isnan(sc["f1/contempt"])
    assert "f1/contempt" in sc.report.not_computed
    assert sc["macro_f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"))
    # balanced accuracy ignores classes without gold samples (scikit-learn drops them too)
    assert sc["balanced_accuracy"] == pytest.approx(1.0)


def test_bad_labels_are_clear_errors():
    with pytest.raises(ValueError, match="not one of the task's classes"):
        _Scores(["happiness", "sadness"], ["happiness", "happiness"], ["happiness", "anger"])
    # a predicted label outside the classes is an invalid label: a failure, not an error
    sc = _Scores(["happiness"], ["contempt"], ["happiness", "sadness"])
    cm, failed = sc.matrix
    assert cm.sum() == 0 and failed.tolist() == [1, 0]
    assert sc.report.status_counts["invalid_label"] == 1
