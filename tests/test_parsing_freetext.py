"""The free-text reader (``tag_bench/parsing/prose.py``): the frozen hand-written cases, each rule and
each note code, explicit cues left alone, the corpus figures, and pathological inputs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.facs import EMOTION_LEXICON, EMOTION_NAMES, EMOTION_SYNONYMS, SYNONYM_TO_EMOTION
from tag_bench.parsing import explicit_answer_cue, parse_response
from tag_bench.parsing.notes import NOTE_CODES, note_code
from tag_bench.schema import COMMON7, Parsed
from tag_bench.tasks import load_task
from tag_bench.testing.freetext import freetext_corpus, measure

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "freetext_cases.jsonl").open()]


def read(text: str, **kwargs) -> Parsed:
    return parse_response(text, None, None, **kwargs)


def outcome(p: Parsed) -> str | None:
    """A label, "ambiguous", or None (no answer), as the case file writes it."""
    if p.status == "ok":
        return p.label
    return "ambiguous" if p.status == "ambiguous" else None if p.status == "no_answer" else p.status


def codes(p: Parsed) -> set[str]:
    return {note_code(n) for n in p.notes}


@pytest.mark.parametrize("case", CASES, ids=[f"{c['kind']}-{i}" for i, c in enumerate(CASES)])
def test_hand_written_case(case):
    p = read(case["text"])
    assert outcome(p) == case["expected"], (case["why"], p.status, p.label, p.notes)
    assert all(note_code(n) != "other" for n in p.notes if n.startswith("answer")), p.notes


def test_the_case_file_is_the_frozen_one():
    assert len(CASES) == 145 and {c["kind"] for c in CASES} >= {"discourse", "negation", "ranking", "synonym",
                                                                "scores", "ambiguous", "non_emotion"}  # fmt: skip
    assert sum(c["expected"] == "ambiguous" for c in CASES) >= 15


# --------------------------------------------------------------------------------------------------
# One test per rule, each with its note code


def test_discourse_conclusion_section_outranks_earlier_mentions():
    p = read(
        "### Interpretation\nThe raised brows could hint at fear.\n\n### Conclusion\nThe person is surprised by something."
    )
    assert p.label == "surprise" and {"answer-free-text", "answer-from-conclusion"} <= codes(p)
    p = read("At first glance the eyes suggest fear. In the end, the expression reads as sadness.")
    assert p.label == "sadness" and "answer-from-conclusion" in codes(p)


def test_discourse_a_later_revision_outranks_the_same_rank():
    p = read("The person looks angry. Actually, looking again, the person looks disgusted.")
    assert p.label == "disgust" and "answer-from-conclusion" in codes(p)
    # two plain statements and nothing that revises: not a reading, a contradiction
    assert read("The person looks angry. The person looks disgusted.").status == "ambiguous"


def test_discourse_decision_statements():
    for text in ("The label I would assign is fear, though the brows also occur in surprise.",
                 "Several cues fit; this face would be categorized as fear rather than surprise.",
                 "Surprise is possible, but I'd classify this expression as fear.",
                 "If I had to pick one label, it would be fear; surprise is a distant second."):  # fmt: skip
        p = read(text)
        assert p.label == "fear", (text, p.notes)
    assert "answer-final-statement" in codes(
        read("Hints of surprise, but the emotion is best classified as fear.")
    )


def test_negation_scope():
    for text, label in [
        ("The face is free of any anger; it looks cheerful.", "happiness"),
        ("This is not fear but surprise, judging by the brows.", "surprise"),
        ("She looks sad rather than angry.", "sadness"),
        ("There is no sign of joy; the face looks gloomy.", "sadness"),
        ("Devoid of fear, the face is calm and neutral.", "neutral"),
        ("Instead of anger, the face shows disgust.", "disgust"),
        ("Contempt is absent. The person looks happy.", "happiness"),
        ("Neither anger nor sadness; the person is happy.", "happiness"),
        ("No sign of fear or anger. The face is expressionless.", "neutral"),
    ]:
        p = read(text)
        assert p.label == label, (text, p.notes)
        assert "answer-negation-skipped" in codes(p), (text, p.notes)
    p = read("Neither fear nor surprise shows in this face.")
    assert (p.status, p.label) == ("no_answer", None) and "answer-negation-skipped" in codes(p)


def test_indecision_is_not_negation():
    assert read("I can't settle on fear versus surprise.").status == "ambiguous"
    assert read("I'm not sure whether it is fear or surprise.").status == "ambiguous"


def test_ranking_primary_cue_wins_over_side_mentions():
    for text, label in [
        ("The person mostly conveys delight, with some surprise in the raised brows.", "happiness"),
        ("Predominantly fearful, mixed with surprise.", "fear"),
        ("Traces of disgust, but the face mostly shows anger.", "anger"),
        ("Most likely surprise, possibly with a bit of fear.", "surprise"),
        ("A largely cheerful face with a hint of sadness.", "happiness"),
    ]:
        p = read(text)
        assert p.label == label and "answer-primary-cue" in codes(p), (text, p.notes)
    # the same primary cue on both: no reading
    assert read("Mainly fear, but it is mainly surprise as well.").status == "ambiguous"


def test_synonyms_and_derived_forms_are_noted():
    for text, label in [("He looks gleeful as he turns to the camera.", "happiness"),
                        ("A look of revulsion crosses the face.", "disgust"),
                        ("She stares fearfully at something out of frame.", "fear"),
                        ("The man glares angrily at the lens, jaw set.", "anger"),
                        ("The man regards the camera with disdain.", "contempt"),
                        ("Her face is stoic and impassive, the mouth closed.", "neutral")]:  # fmt: skip
        p = read(text)
        assert p.label == label and "answer-synonym" in codes(p), (text, p.notes)
    assert "answer-synonym" not in codes(read("The woman looks happy, her cheeks raised."))


def test_score_lists_give_the_argmax_and_a_tie_is_ambiguous():
    p = read("happiness: 0.7, surprise: 0.2, neutral: 0.1")
    assert p.label == "happiness" and "answer-score-list" in codes(p)
    p = read("Probabilities:\n- Fear: 62%\n- Surprise: 30%\n- Neutral: 8%")  # a score line is no lone label
    assert p.label == "fear" and "answer-score-list" in codes(p)
    assert read("I'd estimate fear at about 70%, surprise at 20%, and anger at 10%.").label == "fear"
    assert (
        read("The lips are stretched. There is a 70% chance this is fear, versus 30% for surprise.").label
        == "fear"
    )
    p = read("anger 0.45, disgust 0.45, sadness 0.10")
    assert p.status == "ambiguous" and "answer-tie" in codes(p)
    # an item that is no known emotion may not tie or beat the winner
    assert read("surprise: 0.45, chipper: 0.45").status == "ambiguous"


def test_non_emotion_uses_are_set_aside():
    for text, label in [
        ("I'm happy to help! The person looks astonished.", "surprise"),
        ("The content of the image is a face. The person looks frightened.", "fear"),
        ("A neutral background; the face shows clear disgust.", "disgust"),
        ("Options: happiness, sadness, anger, fear. The brows are lowered: anger.", "anger"),
    ]:
        p = read(text)
        assert p.label == label and "answer-not-emotion-use" in codes(p), (text, p.notes)
    assert read("Surprisingly, the face is expressionless.").label == "neutral"  # not a lexicon word
    assert read("The brow is relaxed and the content of the image is a face.").status == "no_answer"


def test_equally_supported_emotions_stay_ambiguous():
    for text in ("It could be fear or surprise.", "The face shows anger and sadness.",
                 "The expression is a mix of anger and disgust.", "The man looks sad, but he could just as well be afraid.",
                 "### Conclusion\nEither fear or surprise.", "Anger? Disgust? Hard to say."):  # fmt: skip
        p = read(text)
        assert p.status == "ambiguous" and "answer-tie" in codes(p), (text, p.notes)
    # left open after the only known word: never a guess
    p = read("Chirpiness and astonishment are about equally likely here.")
    assert p.status == "ambiguous" and "leaves the answer open" in p.notes[0], p.notes


def test_a_claim_on_an_unknown_word_is_not_replaced_by_a_side_mention():
    p = read("This reads most naturally as disbelief. A subtle layer of distaste may sit underneath.")
    assert (p.status, p.label) == ("no_answer", None) and "answer-not-emotion" in codes(p)


def test_the_standard_of_a_comparison_is_not_the_answer():
    p = read("Compared with a typical angry face, the brows are raised here. It matches astonishment better.")
    assert p.label == "surprise" and "answer-negation-skipped" in codes(p), p.notes
    assert read("Compared to an afraid face, the mouth is closed.").status == "no_answer"
    assert read("The face looks happy, as opposed to sad.").label == "happiness"


def test_a_first_thought_is_a_hedge():
    for text in ("Anger crossed my mind first. However, the brows are raised. The person looks surprised.",
                 "Fear was my initial guess. The person looks surprised.",
                 "My initial impression was gloom. Still, the person looks surprised."):  # fmt: skip
        p = read(text)
        assert p.label == "surprise" and "answer-primary-cue" in codes(p), (text, p.notes)
    # a first thought, revised to a word the lexicon lacks: no guess
    p = read("Shock crossed my mind first. However, the neck is tight. The subject appears to be on edge.")
    assert p.status == "no_answer" and "answer-not-emotion" in codes(p), p.notes


def test_more_ways_of_leaving_the_answer_open():
    for text in ("The man could be downtrodden or alarmed; I can't narrow it down.",
                 "It's genuinely unclear whether this is wistfulness or fear.",
                 "Both disdainfulness and joy fit the evidence about equally.",
                 "Fear works equally well, and so does disbelief."):  # fmt: skip
        p = read(text)
        assert p.status == "ambiguous" and "answer-tie" in codes(p), (text, p.notes)


def test_more_claims_on_unknown_words():
    for text in ("These are typical signs of disbelief. A hint of anger is possible.",
                 "It matches disbelief better. There is a hint of fear.",
                 "Reasoning: the lip is raised. Possibly a trace of joy as well. It matches nausea better than anything else.",
                 "The subject appears to be disparaging. Possibly a trace of joy as well.",
                 "Disbelief.\nThe eyes are wide. There is a slight undercurrent of joy.",
                 "Pretty clearly chipper. There's also a faint sense of disdain.",
                 "It's disbelief rather than despondency. Possibly a trace of disgust as well.",
                 "It reads as chirpiness instead of sadness. There is a slight undercurrent of frustration.",
                 "Despair crossed my mind first. Above all, this is chirpiness, with a secondary note of repugnance."):  # fmt: skip
        p = read(text)
        assert p.status == "no_answer" and "answer-not-emotion" in codes(p), (text, p.notes)
    # a one-word sentence that names nothing is no claim; a known claim still decides
    assert read("Okay. There is a hint of sadness in the eyes.").label == "sadness"
    assert read("These are typical signs of disgust. A hint of anger is possible.").label == "disgust"
    assert read("The person appears to be an adult. She looks frightened.").label == "fear"
    assert read("It's joy rather than fear. A hint of anger is possible.").label == "happiness"
    assert read("It is certainly not shock. There is a slight undercurrent of anger.").label == "anger"


def test_a_side_mention_that_may_be_mixed_in():
    p = read("One cheek is dimpled. A little bewildered surprise may be mixed in. This face shows derision.")
    assert p.label == "contempt" and "answer-primary-cue" in codes(p), p.notes


def test_common_words_added_to_the_lexicon():
    for text, label in [("I believe this is equanimity.", "neutral"), ("Emotion detected: a flat affect", "neutral"),
                        ("It matches woe better than anything else.", "sadness"), ("She looks exuberant.", "happiness"),
                        ("Exuberance is what I see.", "happiness"), ("He seems jittery.", "fear"),
                        ("The subject looks snooty.", "contempt"), ("This face shows scornfulness.", "contempt"),
                        ("The main emotion is disdainfulness.", "contempt")]:  # fmt: skip
        assert read(text).label == label, text


def test_descriptive_words_count_only_when_said_of_the_person():
    assert read("She looks calm.").label == "neutral"
    assert read("The brows are relaxed. The person looks sad.").label == "sadness"
    assert read("The brows are relaxed and the mouth is closed.").status == "no_answer"
    # a comparison is a claim
    assert (
        read("At a glance one might say astonishment. The gaze is steady. More blank than fearful.").label
        == "neutral"
    )


def test_refusal_before_a_bare_word_but_not_before_a_statement():
    assert read("I can't determine emotions. Happy to help with anything else!").status == "refusal"
    p = read("I'm sorry, I can't be sure, but the person appears to be mainly happy.")
    assert p.label == "happiness"


def test_labels_outside_the_task_are_invalid_not_dropped():
    p = read("The man regards the camera with disdain.", classes=list(COMMON7))
    assert (p.status, p.label) == ("invalid_label", None)


def test_the_conclusion_cue_reads_its_section_with_the_same_rules():
    p = read("Final conclusion: the face mainly shows disgust, with touches of surprise.")
    assert p.label == "disgust" and "answer-primary-cue" in codes(p)
    p = read("Final conclusion: fear or surprise, hard to say.")
    assert p.status == "ambiguous"


# --------------------------------------------------------------------------------------------------
# Explicit cues are left alone


@pytest.mark.parametrize(
    ("text", "label", "cue"),
    [("Mostly delight, some surprise. <answer>surprise</answer>", "surprise", "answer_tag"),
     ("The face mainly shows joy. Final answer: anger", "anger", "final_answer"),
     ('Mainly joy.\n```json\n{"emotion": "fear"}\n```', "fear", "json"),
     ("Primarily happy. \\boxed{sad}", "sadness", "boxed"),
     ("Mostly happy.\nEmotion: sad", "sadness", "field"),
     ("<think>mostly happy <answer>sad</answer></think>", "sadness", "answer_in_reasoning"),
     ("Sad", "sadness", "last_line")],
)  # fmt: skip
def test_explicit_cues_decide_and_are_named(text, label, cue):
    assert read(text).label == label
    assert explicit_answer_cue(text) == cue


def test_free_text_has_no_explicit_cue():
    for text in ("The person mostly conveys delight, with some surprise.", "Happiness with a touch of surprise.",
                 "- Fear: unlikely.\n- Surprise: the best fit.", "Neutral: 8%", "Conclusion: sad", ""):  # fmt: skip
        assert explicit_answer_cue(text) is None, text


# --------------------------------------------------------------------------------------------------
# The lexicon, notes, the corpus, and per-run counts


def test_one_lexicon_with_forms():
    assert all(SYNONYM_TO_EMOTION[w] == e for e, ws in EMOTION_SYNONYMS.items() for w in ws)
    assert all(ws[:2] == EMOTION_LEXICON[e].names for e, ws in EMOTION_SYNONYMS.items())
    assert {"joyful", "gleeful", "delight", "happily"} <= set(EMOTION_SYNONYMS["happiness"])
    assert {"revulsion", "sorrowful", "astonished", "frightened", "irritation", "disdain"} <= set(
        SYNONYM_TO_EMOTION
    )
    assert "happy" in EMOTION_NAMES and "joyful" not in EMOTION_NAMES


def test_every_reader_note_is_coded_and_documented():
    seen: set[str] = set()
    items = [c["text"] for c in CASES] + [x.text for x in freetext_corpus(400, "tuning")]
    items.append("This reads most naturally as disbelief. A subtle layer of distaste may sit underneath.")
    for text in items:
        for n in read(text).notes:
            code = note_code(n)
            assert code in NOTE_CODES, n
            seen.add(code)
    reader_codes = {c for c in NOTE_CODES if c.startswith("answer-") and c not in
                    ("answer-conflict", "answer-empty-tags", "answer-unclosed", "answer-in-reasoning")}  # fmt: skip
    assert reader_codes <= seen, reader_codes - seen


@pytest.mark.parametrize(
    "part", ["tuning", "heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6", "heldout7"]
)
def test_corpus_figures(part):
    """The parts the rules were tuned on (heldout8 is measured by bench/parse_bench.py only); texts
    with words the lexicon lacks (heldout2, heldout3, heldout4) are refused, never guessed."""
    f = measure(freetext_corpus(600, part), lambda t: (lambda p: (p.status, p.label))(read(t)))
    assert f.right_when_committed is not None and f.right_when_committed >= 0.99, f
    assert f.ambiguity_kept is not None and f.ambiguity_kept >= 0.95, f
    assert f.recovered is not None and f.recovered >= (0.85 if part in ("heldout2", "heldout3") else 0.95), f


def test_a_run_counts_the_reader_notes(dataset_fixtures, tmp_path):
    raf = dataset_fixtures["raf_basic"]
    samples = load_task("rafdb_basic_test").load(raf).samples[:3]
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(
        json.dumps({"id": s.id, "response": f"The face mainly shows {s.label}, with a hint of contempt."}) + "\n"
        for s in samples
    ))  # fmt: skip
    r = CliRunner().invoke(main, ["score", "--task", "rafdb_basic_test", "--data-root", str(raf), "--predictions",
                                  str(preds), "--au-reference", "none", "--out", str(tmp_path / "run"),
                                  "--no-progress"])  # fmt: skip
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["parse_notes"]["answer-free-text"] == 3
    assert metrics["parse_notes"]["answer-primary-cue"] == 3


# --------------------------------------------------------------------------------------------------
# Ranked lists, other score notations, intensity words, more ways of leaving the answer open
# (rules written from heldout5's failures)


def test_a_ranked_list_is_decided_by_its_first_rank():
    p = read("The jaw is clenched.\n\nCandidates, from most to least likely:\n1. Annoyance (strongest match)\n"
             "2. Distaste\n3. Grief")  # fmt: skip
    assert (p.status, p.label) == ("ok", "anger"), p.notes
    assert read("1. Sadness (most likely)\n2. Fear\n3. Neutral").label == "sadness"
    # two emotions at the first rank stay tied; a first rank the lexicon lacks is never replaced
    assert (
        read("Ranking the likely emotions:\n1. Shock / Apprehension (tied)\n2. Happiness").status
        == "ambiguous"
    )
    assert read("My ranking:\n1. Fear\n1. Surprise\n3. Anger").status == "ambiguous"
    p = read("My ranking:\n1. Chipper (strongest match)\n2. Fear\n3. Anger")
    assert p.status == "no_answer" and "answer-not-emotion" in codes(p), p.notes
    # numbered steps are no ranking, and a last numbered item is no lone label
    p = read("Steps:\n1. The brows are lowered.\n2. Anger shows in the jaw.\n3. The lips are pressed.")
    assert p.label == "anger", p.notes
    assert read("Candidates:\n1. Fear (possible)\n2. Surprise (possible)").status != "ok"


def test_a_chain_of_ranks_is_decided_by_its_first():
    assert read("Ranked from most to least likely: Anxiety > Frustration > Dejection.").label == "fear"
    assert read("Ranked by likelihood: Anger = Disgust > Fear.").status == "ambiguous"


def test_other_score_notations():
    assert read("Wrath 6/10, Sadness 0/10, Happiness 1/10").label == "anger"
    assert read("- Fear: 7 out of 10\n- Surprise: 3 out of 10").label == "fear"
    assert read("Likelihoods:\n* Anger — 60%\n* Surprise — 12%").label == "anger"
    assert read("Probability estimates: Neutral 7% · Anger 16% · Fear 11%").label == "anger"
    assert read("Fear 5/10, Surprise 5/10, Anger 1/10").status == "ambiguous"
    # a table, "label · score": the last row is no lone label
    assert read("| Emotion | Probability |\n|---|---|\n| Fear | 70% |\n| Surprise | 20% |").label == "fear"
    assert (
        read("| Emotion | Probability |\n|---|---|\n| Fear | 40% |\n| Surprise | 40% |").status == "ambiguous"
    )
    assert read("Joy · 72%\nFear · 20%").label == "happiness"
    # an item the lexicon lacks scoring highest: never a guess
    p = read("Probability estimates: Neutral 7% · Anger 6% · Fear 11% · Chipper 65%")
    assert p.status == "no_answer" and "answer-not-emotion" in codes(p), p.notes


def test_intensity_words_are_a_score_list():
    p = read("Emotion levels:\n- Fear: high\n- Anger: low\n- Sadness: minimal")
    assert (p.label, "answer-score-list" in codes(p)) == ("fear", True), p.notes
    assert (
        read("| Emotion | Likelihood |\n|---|---|\n| Disgust | Very high |\n| Anger | Low |").label
        == "disgust"
    )
    assert read("Emotion levels:\n- Fear: moderate\n- Anger: moderate\n- Sadness: low").status == "ambiguous"
    assert read("Emotion levels:\n- Chipper: high\n- Anger: low").status == "no_answer"


def test_more_ways_of_leaving_the_answer_open_round3():
    for text in ("Without more context, I can't tell whether this is anxiety or sorrow.",
                 "Irritation or sorrow? Honestly, it's a coin flip.",
                 "The man seems cheerful and smug in roughly equal parts.",
                 "Both anxiety and sadness are reasonable readings; the image doesn't settle it."):  # fmt: skip
        p = read(text)
        assert p.status == "ambiguous" and "answer-tie" in codes(p), (text, p.notes)
    # a true refusal is still one
    assert read("I'm sorry, I can't tell emotions from photos.").status == "refusal"


def test_options_set_aside_and_side_hints():
    assert read("The jaw is clenched. It would be a stretch to call this fear.").status == "no_answer"
    assert read("I'd go with sadness over neutrality.").label == "sadness"
    assert (
        read("The gaze is lowered. Secondary cues hint at mild scorn. The person looks sad.").label
        == "sadness"
    )
    assert read("Sure, happy to help with this one. The person looks disgusted.").label == "disgust"


def test_claims_on_unknown_words_round3():
    for text in ("These features are characteristic of chirpiness, which is my answer. A bit of fear too.",
                 "All of this adds up to chirpiness. Perhaps a small amount of distaste too.",
                 "* Frustration is not what this face shows.\n* A faint suggestion of gloom.\n\n"
                 "**Overall impression:** In my view, this individual is on edge."):  # fmt: skip
        p = read(text)
        assert p.status == "no_answer", (text, p.notes)


def test_common_words_added_to_the_lexicon_round3():
    for word, emotion in (("cheery", "happiness"), ("in high spirits", "happiness"), ("low spirits", "sadness"),
                          ("sorrowfulness", "sadness"), ("nauseous", "disgust"), ("scoffing", "contempt"),
                          ("a resting face", "neutral"), ("taken by surprise", "surprise"), ("jumpy", "fear")):  # fmt: skip
        assert read(f"In my view, the person shows {word}.").label == emotion, word


# --------------------------------------------------------------------------------------------------
# (rules written from heldout6's failures)


def test_telling_two_emotions_apart_is_left_open():
    for text in ("The gaze is lowered. There's no way to tell apprehension from heartbreak in this frame.",
                 "The subject looks irate, or maybe heartbroken; I really can't say which.",
                 "Whether this is joy or disdain is impossible to say from one image.",
                 "The woman looks both fearful and gloomy, and neither wins out."):  # fmt: skip
        p = read(text)
        assert p.status == "ambiguous" and "answer-tie" in codes(p), (text, p.notes)
    assert read("There's no way she is afraid: the face is plainly joyful.").label == "happiness"


def test_likelihood_words_are_levels_of_a_table():
    table = (
        "| Emotion | Likelihood |\n|---|---|\n| Irritation | Low |\n| {} | Unlikely |\n| Dejection | Likely |"
    )
    assert read(table.format("Joy")).label == "sadness"
    assert (
        read("| Emotion | Likelihood |\n|---|---|\n| Fear | Likely |\n| Anger | Likely |").status
        == "ambiguous"
    )
    assert (
        read("| Emotion | Likelihood |\n|---|---|\n| Chirpiness | Likely |\n| Anger | Low |").status
        == "no_answer"
    )


def test_a_score_item_after_a_colon_counts():
    p = read("Ratings:\nConfidence: Scorn 40 %; Chirpiness 80 %")
    assert p.status == "no_answer" and "answer-not-emotion" in codes(p), p.notes
    assert read("Ratings:\nConfidence: Scorn 40 %; Joy 80 %").label == "happiness"


def test_a_claim_said_of_the_person_names_the_answer():
    p = read("At first I thought of surprise. The jaw is clenched. I'm not sure, but she looks chirpy.")
    assert p.status == "no_answer" and "answer-not-emotion" in codes(p), p.notes
    assert read("It might be fear. She looks at the camera, and she looks frightened.").label == "fear"


def test_a_chain_headed_by_an_unknown_word_never_decides():
    p = read("Ranked by likelihood: Chirpiness = Amazement > Annoyance.")
    assert p.status == "ambiguous" and "answer-tie" in codes(p), p.notes
    p = read("Ranked from most to least likely: Chirpiness > Shock > Scorn.")
    assert p.status == "no_answer" and "answer-not-emotion" in codes(p), p.notes
    assert read("Ranked from most to least likely: Joy > Shock > Scorn.").label == "happiness"


def test_an_inline_ranking_decides_by_its_first_rank():
    p = read(
        "The forehead is smooth.\n\nRanked by likelihood: **Irritation** first, then condescension, then terror."
    )
    assert (p.label, "answer-final-statement" in codes(p)) == ("anger", True), p.notes
    assert (
        read("Ranked by likelihood: **Chirpiness** first, then derision, then shock.").status == "no_answer"
    )
    assert read("I looked at the eyes first, then the mouth. She looks sad.").label == "sadness"


def test_a_sentence_after_final_answer_is_read_by_the_reader():
    p = read("**Final answer:** The dominant emotion is alarm, with a slight undertone of surprise.")
    assert (p.status, p.label) == ("ok", "fear"), p.notes
    p = read("**Final answer:** What stands out most is chirpiness, with a slight undertone of astonishment.")
    assert p.status == "no_answer" and "answer-not-emotion" in codes(p), p.notes
    assert read("Final answer: sad").label == "sadness"


def test_a_stated_answer_without_a_known_emotion_outranks_side_mentions():
    p = read("You could argue for a little dread as well, but it's secondary. I'd say he looks on edge.")
    assert p.status == "no_answer" and "answer-not-emotion" in codes(p), p.notes
    assert read("It could be fear. I'd say that is the most natural reading.").label == "fear"


def test_common_words_added_to_the_lexicon_round4():
    for word, emotion in (("good cheer", "happiness"), ("lightheartedness", "happiness"),
                          ("in a good mood", "happiness"), ("low-spirited", "sadness"), ("brokenhearted", "sadness"),
                          ("on the verge of tears", "sadness")):  # fmt: skip
        assert read(f"In my view, the person shows {word}.").label == emotion, word


# --------------------------------------------------------------------------------------------------
# Pathological prose stays fast (the reader reads at most the last prose.MAX_MENTIONS mentions)

MB = 1_000_000
HUGE = {
    name: frag * (MB // len(frag))
    for name, frag in {
        "ranked": "mainly happy, with a hint of sad. ",
        "negations": "not happy, no sign of fear, ",
        "concluding": "overall, in conclusion, so ",
        "scores": "happy: 0.5, sad: 0.4, ",
        "candidates": "- Fear: unlikely.\n- Surprise: the best fit.\n",
        "headings": "### Conclusion\nfear or surprise\n",
        "ties": "it could be fear or surprise, equally likely, ",
        "claims": "this reads as disbelief. mostly nothing. ",
        "inline ranks": "ranked by likelihood: fear first, then anger, ",
        "stated": "it could be fear, but i'd say ",
        "unknown chains": "ranking: glee > fear = zest > ",
    }.items()
}


@pytest.mark.parametrize("name", list(HUGE))
def test_one_megabyte_of_prose_is_fast(name):
    start = time.perf_counter()
    p = read(HUGE[name])
    assert time.perf_counter() - start < 1.0, name
    assert any("parsed the first" in n for n in p.notes)


# --------------------------------------------------------------------------------------------------
# docs/parsing.md's examples are what the parser does

DOC = Path(__file__).resolve().parents[1] / "docs" / "parsing.md"


def _doc_examples() -> list[tuple[str, str, set[str]]]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- checked-examples -->", 1)[1].split("<!-- /checked-examples -->", 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        response = cells[1].strip("`").replace("\\n", "\n")
        notes = {c.strip().strip("`") for c in cells[3].split(",") if c.strip()} if len(cells) > 3 else set()
        rows.append((response, cells[2].strip("`"), notes))
    return rows


@pytest.mark.parametrize(("response", "result", "notes"), _doc_examples())
def test_documented_examples(response, result, notes):
    p = read(response)
    assert " ".join(x for x in (p.status, p.label) if x) == result, (p.status, p.label, p.notes)
    assert codes(p) == notes, p.notes


def test_every_reader_note_code_has_a_documented_example():
    documented = set().union(*(n for _, _, n in _doc_examples()))
    reader = {c for c in NOTE_CODES if c.startswith("answer-")} - {
        "answer-conflict", "answer-empty-tags", "answer-unclosed", "answer-in-reasoning"
    }  # fmt: skip
    assert reader <= documented, reader - documented


def test_the_readme_free_text_example_is_real_output():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("is read like a careful annotator", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    text = block.split("echo '", 1)[1].split("'", 1)[0]
    result = CliRunner().invoke(
        main, ["parse", "--frame", "pixel", "--image-size", "100x100"], input=text + "\n"
    )
    out = json.loads(result.output)
    assert (out["label"], out["status"]) == ("disgust", "ok")
    for note in out["notes"]:
        assert note in block.replace("\n#  ", " "), note


# (rules written from heldout7's failures)


def test_probability_notation_is_a_score_list():
    p = read("Estimates: P(sadness) = 0.15, P(disgust) = 0.70, P(fear) = 0.15")
    assert p.label == "disgust" and "answer-score-list" in codes(p), p.notes
    assert read("Estimates: P(fear) = 0.4; P(anger) = 0.4").status == "ambiguous"
    assert read("Estimates: P(chirpy) = 0.8; P(anger) = 0.2").status == "no_answer"


def test_role_labels_inside_one_line():
    p = read("Top choice: sadness. Runner-up: fear. Ruled out: anger. The lids droop.")
    assert p.label == "sadness" and "answer-negation-skipped" in codes(p), p.notes
    assert read("Second pick: fear. Top pick: sadness.").label == "sadness"


def test_an_inline_ranking_decides_by_its_first_item():
    assert read("The lids droop. Ranking (most likely first): Sadness, fear, anger.").label == "sadness"
    assert read("Ranked by likelihood: disgust, contempt.").label == "disgust"
    # a plain list of three emotions is still no answer, and a ranking headed by an unknown word decides nothing
    assert read("Emotions considered: anger, fear and sadness.").status == "no_answer"
    assert read("Ranking (most to least likely): chirpiness, fear, anger.").label != "fear"


def test_a_verdict_in_a_table_cell_negates_its_row():
    table = (
        "| Option | Verdict |\n|---|---|\n| Anger | Ruled out |\n| Disgust | Ruled out |\n| Fear | Strong |"
    )
    p = read(table)
    assert p.label == "fear" and "answer-negation-skipped" in codes(p), p.notes


def test_a_descriptive_word_said_of_a_face_part_is_no_answer():
    assert (
        read("The cheek muscles look relaxed. I can't name an emotion from that alone.").status == "no_answer"
    )
    assert read("He looks relaxed and at ease.").label == "neutral"


def test_nothing_can_be_read_is_no_neutral_face():
    p = read("The photo is too dark; no emotion can be determined.")
    assert p.status == "no_answer", p.notes
    assert read("The man shows no emotion at all.").label == "neutral"


def test_a_sentence_that_is_only_a_hedged_label_asserts_it():
    p = read("The face is still. Probably calm, though a touch of fear can't be excluded.")
    assert p.label == "neutral", p.notes
