"""The free-text corpus generator (``tag_bench.testing.freetext``): reproducible, disjoint parts,
independent of the parser's lexicon."""

from __future__ import annotations

import ast
from pathlib import Path

from tag_bench.schema import CANONICAL_EMOTIONS
from tag_bench.testing import freetext
from tag_bench.testing.freetext import FreeText, freetext_corpus, measure


def test_reproducible_and_parts_disjoint():
    a = freetext_corpus(300, "tuning", seed=3)
    assert a == freetext_corpus(300, "tuning", seed=3)
    for part in freetext.PARTS[1:]:
        held = freetext_corpus(300, part, seed=3)
        assert not {x.text for x in a} & {x.text for x in held}
        assert {x.part for x in a} == {"tuning"} and {x.part for x in held} == {part}
        assert not {x.family for x in held if x.kind == "clear"} <= {x.family for x in a if x.kind == "clear"}


def test_kinds_labels_and_lengths():
    items = [x for part in freetext.PARTS for x in freetext_corpus(2000, part)]
    assert {x.kind for x in items} == {"clear", "ambiguous", "none"}
    assert all((x.label is not None) == (x.kind == "clear") for x in items)
    assert {x.label for x in items if x.label} == set(CANONICAL_EMOTIONS)
    assert set(freetext.EMOTIONS) == set(CANONICAL_EMOTIONS)
    words = [len(x.text.split()) for x in items]
    assert max(words) <= 320 and sum(w > 150 for w in words) > 50
    for trait in ("negation", "side", "revision", "distractor", "ranked", "contrast", "scores", "long"):
        assert any(trait in x.traits for x in items), trait


def test_never_imports_the_parser_or_its_lexicon():
    tree = ast.parse(Path(freetext.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not any(m and m.startswith("tag_bench") for m in imported), imported


def test_measure_counts_each_figure():
    items = [
        FreeText("a", "clear", "fear", "tuning", "f", ()),
        FreeText("b", "clear", "anger", "tuning", "f", ()),
        FreeText("c", "ambiguous", None, "tuning", "f", ()),
        FreeText("d", "none", None, "tuning", "f", ()),
    ]
    answers = {"a": ("ok", "fear"), "b": ("ambiguous", None), "c": ("ok", "fear"), "d": ("no_answer", None)}
    f = measure(items, lambda t: answers[t])
    assert (f.clear, f.recovered, f.committed, f.right_when_committed) == (2, 0.5, 2, 0.5)
    assert (f.ambiguous, f.ambiguity_kept, f.none, f.none_kept) == (1, 0.0, 1, 1.0)
