"""Cross-dataset transfer matrix: in-domain cell, out-of-domain mean, gap, name normalisation."""

from __future__ import annotations

import pytest

from tag_bench.metrics.transfer import TransferEntry, normalise_dataset, transfer_matrix


def test_dataset_names_normalise():
    assert {normalise_dataset(n) for n in ("RAF-DB", "rafdb", "raf_db", "RAF DB", "RAF-DB basic")} == {
        "rafdb"
    }
    assert {normalise_dataset(n) for n in ("FERPlus", "FER+", "fer-plus", "FER2013+")} == {"ferplus"}
    assert normalise_dataset("AffectNet") == "affectnet"
    assert normalise_dataset("MyData", {"my data": "rafdb"}) == "rafdb"
    with pytest.raises(ValueError, match="no letters"):
        normalise_dataset("--")


def test_matrix_in_domain_out_of_domain_and_gap():
    entries = [
        TransferEntry("model-raf", "RAF-DB", 0.90, train_source="rafdb"),
        TransferEntry("model-raf", "ferplus", 0.70),
        TransferEntry("model-raf", "AffectNet", 0.50),
        {"row": "model-fer", "dataset": "FER+", "accuracy": 0.85, "train_source": "FERPlus"},
        {"row": "model-fer", "dataset": "raf_db", "accuracy": 0.65},
        TransferEntry("zero-shot", "rafdb", 0.60),
        TransferEntry("zero-shot", "ferplus", 0.55),
    ]
    t = transfer_matrix(entries)
    assert t.rows == ["model-raf", "model-fer", "zero-shot"]
    assert t.columns == ["rafdb", "ferplus", "affectnet"]
    assert t.matrix == [[0.90, 0.70, 0.50], [0.65, 0.85, None], [0.60, 0.55, None]]
    assert t.train_source == {"model-raf": "rafdb", "model-fer": "ferplus", "zero-shot": None}
    assert t.in_domain["model-raf"] == 0.90
    assert t.out_of_domain_mean["model-raf"] == pytest.approx(0.60)
    assert t.transfer_gap["model-raf"] == pytest.approx(0.30)
    assert t.n_out_of_domain["model-raf"] == 2
    # model-fer lacks AffectNet: a mean of RAF-DB alone beside model-raf's mean of two columns would not
    # compare like with like, so it has none (issue 18)
    assert t.in_domain["model-fer"] == 0.85
    assert t.out_of_domain_mean["model-fer"] is None and t.transfer_gap["model-fer"] is None
    assert t.n_out_of_domain["model-fer"] == 0
    assert "not evaluated on 'affectnet'" in t.not_computed["model-fer/out_of_domain_mean"]
    # no train source: nothing derivable, and each None has a reason
    assert t.in_domain["zero-shot"] is None and t.transfer_gap["zero-shot"] is None
    assert "no train_source" in t.not_computed["zero-shot/in_domain"]
    assert "zero-shot/transfer_gap" in t.not_computed
    assert not any(k.startswith("model-raf/") for k in t.not_computed)


def test_train_source_not_evaluated_and_rows_as_train_sources():
    t = transfer_matrix(
        [TransferEntry("m", "ferplus", 0.7, train_source="AffectNet"), TransferEntry("m", "rafdb", 0.8)]
    )
    assert t.in_domain["m"] is None
    assert t.out_of_domain_mean["m"] == pytest.approx(0.75)
    assert "not evaluated on its train source 'affectnet'" in t.not_computed["m/in_domain"]
    assert "needs in_domain" in t.not_computed["m/transfer_gap"]

    t = transfer_matrix(
        [TransferEntry("RAF-DB", "rafdb", 0.9), TransferEntry("RAF-DB", "ferplus", 0.6)],
        rows_are_train_sources=True,
    )
    assert t.in_domain["RAF-DB"] == 0.9 and t.transfer_gap["RAF-DB"] == pytest.approx(0.3)

    only_own = transfer_matrix([TransferEntry("m", "rafdb", 0.9, train_source="RAF-DB")])
    assert only_own.in_domain["m"] == 0.9 and only_own.out_of_domain_mean["m"] is None
    assert "no dataset other than" in only_own.not_computed["m/out_of_domain_mean"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="two accuracies"):
        transfer_matrix([TransferEntry("m", "RAF-DB", 0.9), TransferEntry("m", "rafdb", 0.8)])
    with pytest.raises(ValueError, match=r"rate in \[0, 1\]"):
        transfer_matrix([TransferEntry("m", "rafdb", 90.0)])
    with pytest.raises(ValueError, match=r"rate in \[0, 1\]"):
        transfer_matrix([TransferEntry("m", "rafdb", float("nan"))])
    with pytest.raises(ValueError, match="two train sources"):
        transfer_matrix(
            [
                TransferEntry("m", "rafdb", 0.9, train_source="rafdb"),
                TransferEntry("m", "ferplus", 0.8, "ferplus"),
            ]
        )


def test_a_row_missing_an_out_of_domain_column_gets_no_mean_and_no_gap():
    """Issue 18: one checkpoint without its FERPlus run averaged one column while the others averaged two."""
    entries = [
        TransferEntry("ft-rafdb", "rafdb", 0.88, train_source="rafdb"),
        TransferEntry("ft-rafdb", "ferplus", 0.46),
        TransferEntry("ft-rafdb", "affectnet", 0.57),
        TransferEntry("ft-affectnet", "rafdb", 0.57, train_source="affectnet"),  # no FERPlus run
        TransferEntry("ft-affectnet", "affectnet", 0.83),
    ]
    t = transfer_matrix(entries)
    assert t.out_of_domain_mean["ft-rafdb"] == pytest.approx((0.46 + 0.57) / 2)
    assert t.out_of_domain_mean["ft-affectnet"] is None and t.transfer_gap["ft-affectnet"] is None
    assert t.in_domain["ft-affectnet"] == 0.83
    assert "'ferplus'" in t.not_computed["ft-affectnet/out_of_domain_mean"]
    assert "needs out_of_domain_mean" in t.not_computed["ft-affectnet/transfer_gap"]
    # a column of the table that no entry fills still counts (the spec's datasets)
    t = transfer_matrix(entries[:3], columns=["RAF-DB", "FERPlus", "AffectNet", "SFEW"])
    assert t.columns == ["rafdb", "ferplus", "affectnet", "sfew"]
    assert (
        t.out_of_domain_mean["ft-rafdb"] is None and "'sfew'" in t.not_computed["ft-rafdb/out_of_domain_mean"]
    )
