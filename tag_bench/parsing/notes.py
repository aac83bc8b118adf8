"""Parser notes: ``"<code>: <what happened>"``, with a stable code per kind so a run can count them.

A note never changes a result by itself: it says what the parser did or noticed, for a person to
check (a likely frame mistake, two answers that disagree, a box cut to the image ...).
"""

from __future__ import annotations

#: code -> what it means (published in docs/metrics.md with the per-run counts).
NOTE_CODES: dict[str, str] = {
    "answer-conflict": "several explicit answers (`<answer>`, `\\boxed{}`) disagree; the last one is used",
    "answer-empty-tags": "empty `<answer>` tags were skipped",
    "answer-unclosed": "an `<answer>` tag is never closed",
    "answer-free-text": "no explicit answer: the label was read from free text",
    "answer-from-conclusion": "free text: the label was read from a concluding part (a Conclusion section, "
    '"overall", "in the end" ...) or a later sentence that revises the earlier ones',
    "answer-final-statement": 'free text: a decision ("the emotion is X", "classified as X", "I\'d say X") '
    "outranked emotions mentioned along the way",
    "answer-primary-cue": 'free text: a primary cue or a plain statement ("mainly X") outranked side or hedged '
    'mentions ("hints of Y", "could be Y")',
    "answer-negation-skipped": 'free text: negated emotions ("not X", "no sign of X", "rather than X") '
    "were set aside",
    "answer-not-emotion-use": 'free text: emotion words not said of the face ("happy to help", "a neutral '
    'background", an echoed class list) were set aside',
    "answer-synonym": 'free text: the label was written as a synonym or derived form ("joyful", "revulsion")',
    "answer-score-list": "free text: the label is the highest score of a score list",
    "answer-tie": "free text: two emotions stay equally supported after every rule (the answer is ambiguous)",
    "answer-in-reasoning": "the answer was taken from inside the reasoning block",
    "answer-not-emotion": "the answer is not an emotion label",
    "think-unclosed": "the `<think>` block is never closed",
    "length-limit": "the generation hit the length limit but an explicit answer was found",
    "empty-response": "the response is empty",
    "response-cut": "a very long response was cut to its head and tail before parsing",
    "response-not-text": "the response was not text and was parsed as its string form",
    "classes": "the class list given to the parser was unusable or partly unusable",
    "frame-unusable": "boxes could not be converted (unknown frame, missing image or input size)",
    "frame-hint": "box values suggest the declared frame may be wrong (never changed automatically)",
    "box-out-of-range": "box values outside the declared frame's range",
    "box-clipped": "boxes were clipped to the image",
    "box-far-outside": "boxes reaching far beyond the image were marked outside, not clipped",
    "box-reversed": "reversed box corners were swapped",
    "box-malformed": "boxes not made of four numbers were kept without a box",
    "box-non-finite": "boxes with non-finite numbers",
    "box-several-aus": "one box was cited for several AUs and kept for each",
    "box-au-pairing": "a step's boxes were tied to their nearest AUs",
    "box-loc-tokens": "`<loc>` tokens were read in the declared frame, not as PaliGemma's",
    "box-2d-order": "Gemini-style box_2d read in the declared frame (x first)",
    "evidence-capped": "more evidence items than kept",
    "au-unknown": "AU codes not in the FACS catalogue",
    "parser-error": "the parser failed on this response (please report it)",
}

#: The notes that say a box the reply wrote was dropped (no claim with a box was made of it): the run
#: summary counts every one of them. Boxes dropped for zero area or no overlap with the image carry no note;
#: ``unusable_box_rate`` counts every dropped box, noted or not.
DROPPED_BOX_NOTES: tuple[str, ...] = ("box-non-finite", "box-malformed", "box-far-outside", "frame-unusable")


def note(code: str, text: str) -> str:
    """A note of a known kind."""
    assert code in NOTE_CODES, code
    return f"{code}: {text}"


def note_code(text: str) -> str:
    """The kind of a note (``other`` for a note written without a code)."""
    code = text.split(":", 1)[0]
    return code if code in NOTE_CODES else "other"
