"""FACS catalogue, EMFACS prototypes and the emotion vocabulary."""

from __future__ import annotations

import pytest

from tag_bench.facs import (
    AU_CATALOGUE,
    EMFACS_PROTOTYPES,
    au_code,
    best_matching_emotions,
    canonical_emotion,
    emotion_mentions,
    prototype_aus,
    prototype_similarity,
)
from tag_bench.schema import CANONICAL_EMOTIONS, COMMON7


def test_catalogue_covers_the_issue_list_with_names_muscles_regions():
    wanted = [1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 20, 23, 24, 25, 26, 27, 28, 43, 45]
    assert [int(c[2:]) for c in AU_CATALOGUE] == wanted
    assert (
        AU_CATALOGUE["AU12"].name == "Lip Corner Puller"
        and "zygomaticus major" in AU_CATALOGUE["AU12"].muscles
    )
    assert AU_CATALOGUE["AU4"].name == "Brow Lowerer" and AU_CATALOGUE["AU4"].region == "brow"
    assert AU_CATALOGUE["AU6"].region == "cheek" and AU_CATALOGUE["AU17"].region == "chin"
    assert all(au.name and au.muscles and au.region for au in AU_CATALOGUE.values())


@pytest.mark.parametrize(
    ("text", "code"),
    [("AU01", "AU1"), ("AU 12", "AU12"), ("au12", "AU12"), ("Action Unit 4", "AU4"), ("action unit 04", "AU4"),
     ("AU-17", "AU17"), (12, "AU12"), ("AU0", None), ("AUX", None), ("12", None), ("", None), (0, None)],
)  # fmt: skip
def test_au_code_normalisation(text, code):
    assert au_code(text) == code


def test_emfacs_prototypes_match_the_spec():
    assert EMFACS_PROTOTYPES["happiness"][0] == {"AU6", "AU12"}
    assert EMFACS_PROTOTYPES["sadness"][0] == {"AU1", "AU4", "AU15"}
    assert EMFACS_PROTOTYPES["surprise"][0] == {"AU1", "AU2", "AU5", "AU26"}
    assert EMFACS_PROTOTYPES["fear"][0] == {"AU1", "AU2", "AU4", "AU5", "AU7", "AU20", "AU26"}
    assert EMFACS_PROTOTYPES["anger"][0] == {"AU4", "AU5", "AU7", "AU23"}
    assert EMFACS_PROTOTYPES["disgust"][0] == {"AU9", "AU15", "AU16"}
    assert EMFACS_PROTOTYPES["contempt"][0] == {"AU12", "AU14"}
    assert {"AU4", "AU7", "AU24"} in EMFACS_PROTOTYPES["anger"]  # a variant
    assert set(EMFACS_PROTOTYPES) == set(CANONICAL_EMOTIONS)
    assert all(au in AU_CATALOGUE for e in EMFACS_PROTOTYPES.values() for v in e for au in v)
    assert prototype_aus("happiness") == {"AU6", "AU12", "AU25"}


def test_prototype_similarity_and_best_match():
    assert prototype_similarity({"AU6", "AU12"}, "happiness") == 1.0
    assert prototype_similarity({"AU12"}, "happiness") == pytest.approx(0.5)  # best of 6+12 and 12+25
    assert prototype_similarity(set(), "neutral") == 1.0
    assert prototype_similarity({"AU12"}, "neutral") == 0.0
    assert prototype_similarity({"AU25", "AU45"}, "neutral") == 1.0  # not expressive on their own
    assert best_matching_emotions({"AU6", "AU12"}, CANONICAL_EMOTIONS) == {"happiness"}
    assert best_matching_emotions({"AU12"}, list(COMMON7)) == {"happiness"}  # contempt not in common7
    assert best_matching_emotions({"AU12"}, CANONICAL_EMOTIONS) == {"happiness", "contempt"}  # a tie
    assert best_matching_emotions({"AU1", "AU4", "AU15"}, CANONICAL_EMOTIONS) == {"sadness"}


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("happy", "happiness"), ("Joy", "happiness"), ("JOYFUL", "happiness"), ("sad", "sadness"), ("sorrow", "sadness"),
     ("angry", "anger"), ("rage", "anger"), ("surprised", "surprise"), ("astonished", "surprise"),
     ("fearful", "fear"), ("afraid", "fear"), ("scared", "fear"), ("disgusted", "disgust"), ("disgust", "disgust"),
     ("contemptuous", "contempt"), ("contempt", "contempt"), ("neutral", "neutral"), ("calm", "neutral"),
     ("no emotion", "neutral"), ("a happy face", "happiness"), ("the emotion is: Sadness.", "sadness"),
     ("happy or sad", None), ("banana", None), ("", None)],
)  # fmt: skip
def test_synonyms_map_to_canonical_names(written, canonical):
    assert canonical_emotion(written) == canonical


def test_emotion_mentions_in_order():
    assert emotion_mentions("Happy, then sad, then happy again") == ["happiness", "sadness", "happiness"]
