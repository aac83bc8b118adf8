"""A realistic corpus of free-text answers (no ``<answer>`` tag, no ``\\boxed{}``, no JSON), each with
the label a careful reader takes from it, to measure how well the parser reads prose.

The texts imitate what VLMs write when they answer in prose: markdown reports with "Observations /
Interpretation / Conclusion" sections, plain paragraphs, thinking aloud with self-corrections,
numbered steps, score lists, one-liners; several emotions per text, negations, hedges and ranks,
synonyms and derived forms, non-emotion uses of emotion words ("happy to help", "surprisingly", "the
content of the image", "a neutral background"), lengths up to about 300 words.

Every response is *clear* (a careful person reads one label without hesitation: ``label`` is set),
*ambiguous* (two emotions stay equally supported: ``label`` is None and the parser must refuse), or
*none* (no emotion is asserted at all).

Independence: the vocabulary and phrasing below are written here, for this corpus, and never taken from
the parser's lexicon (``tag_bench.facs``) or its rules; this module imports nothing of the parser.
Otherwise the figures would measure the lexicon against itself.

Three parts: ``tuning`` (what the parser's rules were developed against), ``heldout`` (other template
families, other phrasings of every cue, words of its own per emotion and another seed range; measured
once before any of its texts was looked at, then used for tuning too) and ``heldout2`` (written and
frozen after that first measurement and before any held-out text was looked at: yet other families,
phrasings and words), ``heldout3`` (written and frozen after the first measurement of ``heldout2`` and
before any of its texts was looked at), ``heldout4`` (written and frozen after the rules were tuned
on ``heldout3``; tuning material once measured), ``heldout5`` (written and frozen before any text
or failure of ``heldout4`` was looked at and before the rules tuned on ``heldout4``; tuning
material since its first measurement), ``heldout6`` (written and
frozen before any text or failure of ``heldout5`` was read and before any rule was tuned on it: a
markdown report with a bold answer line, a likelihood table, ranked lists and scores in other notations,
a hedged conclusion, question-and-answer layouts, tied ranks and tables, refusals; words of its own;
tuning material since its first measurement), ``heldout7`` (written and frozen before any text or
failure of ``heldout6`` was read and before any rule was tuned on it: a generator of its own, with its
own words, facial signs,
families and phrasing of every cue: prose with revised first impressions, markdown sections, ranked and
inline lists, fit and probability tables, score notations, hedged conclusions, refusals, genuinely
ambiguous texts), ``heldout8`` (written and frozen before any text or failure of ``heldout7`` was
read and before any rule was tuned on it: a generator of its own in the same manner, with its own words,
facial cues, families and phrasing of every cue). Each held-out part is tuning material once its failures have been read; the
commit log says when.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

EMOTIONS: tuple[str, ...] = (
    "neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt"
)  # fmt: skip
PARTS: tuple[str, ...] = (
    "tuning", "heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6", "heldout7",
    "heldout8",
)  # fmt: skip
_T = TypeVar("_T")
#: each part draws from its own seed range, so that no held-out text is ever a tuning text
_SEED_OFFSET = {
    "tuning": 0,
    "heldout": 1_000_000,
    "heldout2": 2_000_000,
    "heldout3": 3_000_000,
    "heldout4": 4_000_000,
    "heldout5": 5_000_000,
    "heldout6": 6_000_000,
    "heldout7": 7_000_000,
    "heldout8": 8_000_000,
}


@dataclass(frozen=True)
class FreeText:
    """One free-text response and what a careful reader takes from it."""

    text: str
    kind: str  # "clear", "ambiguous" or "none"
    label: str | None  # the intended label of a clear text; None otherwise
    part: str  # "tuning" or "heldout"
    family: str  # the template family (style) that wrote it
    traits: tuple[str, ...]  # what it contains: "side", "negation", "revision", "distractor", ...


# --------------------------------------------------------------------------------------------------
# Vocabulary: adjectives, nouns and adverbs per emotion. The last words of each list are held out:
# only the held-out part uses them.


@dataclass(frozen=True)
class _Words:
    adj: tuple[str, ...]
    noun: tuple[str, ...]
    adv: tuple[str, ...]
    held_adj: tuple[str, ...]
    held_noun: tuple[str, ...]


# fmt: off
_WORDS: dict[str, _Words] = {
    "happiness": _Words(
        ("happy", "joyful", "cheerful", "delighted", "pleased", "glad", "elated", "amused", "gleeful", "content"),
        ("happiness", "joy", "delight", "cheerfulness", "pleasure", "amusement", "contentment", "elation"),
        ("happily", "joyfully", "cheerfully"),
        ("jovial", "merry", "beaming", "overjoyed"),
        ("glee", "joyfulness"),
    ),
    "sadness": _Words(
        ("sad", "sorrowful", "unhappy", "downcast", "melancholic", "gloomy", "dejected", "mournful", "tearful",
         "heartbroken"),
        ("sadness", "sorrow", "grief", "melancholy", "despair", "unhappiness", "dejection", "gloom"),
        ("sadly", "sorrowfully", "mournfully"),
        ("forlorn", "crestfallen", "glum", "despondent"),
        ("misery", "heartache"),
    ),
    "surprise": _Words(
        ("surprised", "astonished", "amazed", "startled", "stunned", "shocked", "astounded"),
        ("surprise", "astonishment", "amazement", "shock"),
        ("in surprise", "in astonishment"),
        ("dumbfounded", "flabbergasted", "taken aback", "thunderstruck"),
        ("bewildered surprise", "stupefaction"),
    ),
    "fear": _Words(
        ("afraid", "fearful", "scared", "frightened", "terrified", "anxious", "alarmed", "panicked", "nervous",
         "apprehensive", "horrified"),
        ("fear", "terror", "fright", "anxiety", "alarm", "panic", "dread", "apprehension"),
        ("fearfully", "anxiously", "nervously"),
        ("petrified", "panic-stricken", "worried"),
        ("trepidation", "horror"),
    ),
    "disgust": _Words(
        ("disgusted", "repulsed", "revolted", "nauseated", "grossed out"),
        ("disgust", "revulsion", "repugnance", "distaste", "aversion"),
        ("in disgust", "with revulsion"),
        ("sickened", "repelled"),
        ("loathing", "abhorrence"),
    ),
    "anger": _Words(
        ("angry", "furious", "enraged", "irritated", "annoyed", "irate", "hostile", "frustrated", "resentful"),
        ("anger", "rage", "fury", "irritation", "annoyance", "hostility", "wrath", "frustration"),
        ("angrily", "furiously"),
        ("livid", "fuming", "outraged", "incensed"),
        ("indignation", "resentment"),
    ),
    "contempt": _Words(
        ("contemptuous", "scornful", "disdainful", "smug", "condescending", "sneering"),
        ("contempt", "scorn", "disdain", "derision", "condescension"),
        ("contemptuously", "scornfully", "disdainfully"),
        ("derisive", "haughty", "sardonic", "supercilious"),
        ("smugness", "superciliousness"),
    ),
    "neutral": _Words(
        ("neutral", "expressionless", "impassive", "blank", "composed", "emotionless", "stoic"),
        ("a neutral expression", "neutrality", "a blank expression", "composure", "no particular emotion"),
        ("impassively", "blankly"),
        ("deadpan", "unemotional", "poker-faced"),
        ("a poker face", "an unreadable calm"),
    ),
}
# fmt: on

#: words only ``heldout2`` uses (with the held-out words above)
_WORDS2: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "happiness": (("radiant", "chipper", "exuberant", "blissful"), ("exuberance", "cheer")),
    "sadness": (("wistful", "downtrodden", "woebegone", "sorrowing"), ("woe", "despondency")),
    "surprise": (("agog", "incredulous", "caught off guard"), ("disbelief", "astonishment")),
    "fear": (("jittery", "terror-struck", "spooked", "on edge"), ("fearfulness", "alarm")),
    "disgust": (("appalled", "queasy", "put off"), ("repulsion", "nausea")),
    "anger": (("irked", "cross", "bristling", "seething"), ("ire", "exasperation")),
    "contempt": (("snooty", "disparaging", "mocking"), ("scornfulness", "disdainfulness")),
    "neutral": (("unruffled", "matter-of-fact", "unmoved"), ("equanimity", "a flat affect")),
}

#: words only ``heldout5`` uses (common words a careful annotator reads at once)
_WORDS5: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "happiness": (
        ("cheery", "good-humored", "contented", "in high spirits"),
        ("cheer", "gladness", "good humor"),
    ),
    "sadness": (
        ("teary-eyed", "dispirited", "heavy-hearted", "woeful"),
        ("sorrowfulness", "low spirits", "woe"),
    ),
    "surprise": (("taken by surprise", "awestruck", "startled-looking"), ("astonishment", "a startled look")),
    "fear": (("fear-stricken", "uneasy", "on edge", "jumpy"), ("fright", "unease", "nervousness")),
    "disgust": (("repelled", "revolted", "nauseous"), ("revulsion", "repugnance", "a look of disgust")),
    "anger": (("cross", "riled up", "indignant", "fuming"), ("indignation", "fury", "ire")),
    "contempt": (("sneering", "dismissive", "scoffing", "derisive"), ("scorn", "derision", "disdain")),
    "neutral": (
        ("unexpressive", "straight-faced", "expressionless"),
        ("a resting face", "no visible emotion"),
    ),
}

#: facial signs per emotion (no emotion words: these are what the model saw)
_SIGNS: dict[str, tuple[str, ...]] = {
    "happiness": ("the lip corners are pulled up and back", "the cheeks are raised", "crow's feet wrinkles "
                  "appear at the outer eye corners", "the mouth is open in a broad smile showing the upper "
                  "teeth", "the eyes are narrowed by the lifted cheeks", "the lower eyelids are pushed up"),
    "sadness": ("the inner corners of the eyebrows are raised", "the lip corners are pulled down", "the gaze "
                "is lowered", "the chin is pushed up and slightly wrinkled", "the upper eyelids droop",
                "the eyes look moist"),
    "surprise": ("the eyebrows are raised high and curved", "the eyes are wide open with white showing above "
                 "the iris", "the jaw has dropped", "the mouth hangs open in an oval shape", "long horizontal "
                 "wrinkles run across the forehead"),
    "fear": ("the eyebrows are raised and pulled together", "the upper eyelids are raised while the lower lids "
             "are tense", "the lips are stretched horizontally toward the ears", "the mouth is slightly open "
             "and tense", "the neck muscles are tight"),
    "disgust": ("the nose is wrinkled", "the upper lip is raised", "the lower lip is pushed up and out", "the "
                "cheeks are raised and the eyes narrowed", "the furrow from the nose to the lip corners deepens"),
    "anger": ("the eyebrows are lowered and drawn together", "the lips are pressed firmly together", "the eyes "
              "glare, with tightened lower lids", "the nostrils are flared", "the jaw is clenched",
              "vertical lines form between the brows"),
    "contempt": ("one lip corner is tightened and raised", "the mouth is asymmetric, with a one-sided smirk",
                 "the head is tilted back slightly", "the eyes look down along the nose", "one cheek is "
                 "dimpled by a tight lip corner"),
    "neutral": ("the facial muscles show no visible activity", "the mouth is closed without tension", "the "
                "eyebrows sit in their resting position", "the eyes are open normally", "the gaze is straight "
                "ahead", "the forehead is smooth"),
}  # fmt: skip

_PEOPLE = (
    ("the person", "this person", "their"), ("the woman", "she", "her"), ("the man", "he", "his"),
    ("the subject", "the subject", "the subject's"), ("the child", "the child", "the child's"),
    ("the individual", "this individual", "their"), ("the young woman", "she", "her"), ("the older man", "he", "his"),
)  # fmt: skip
_SCENES = (
    "The image shows a close-up of a face against a plain background.",
    "This is a cropped photograph of a face, lit evenly from the front.",
    "The photo shows a head-and-shoulders portrait, slightly grainy.",
    "The face is seen from the front, with the hair pulled back.",
    "The picture is a small grayscale crop of a face.",
)
#: emotion words in other senses, and the task's class list echoed: never the answer
_DISTRACTORS = {
    "tuning": (
        "I'm happy to help analyze this image.",
        "Surprisingly, the image quality is quite good for such a small crop.",
        "The content of the image is a single face.",
        "The background is a neutral gray.",
        "The possible categories are neutral, happiness, sadness, surprise, fear, disgust, anger and contempt.",
        "Sure, I'd be glad to take a look.",
        "The lighting is neutral and even.",
    ),
    "heldout": (
        "Happy to walk through my reasoning.",
        "Unsurprisingly for a studio portrait, the face is well lit.",
        "The image content is limited to the face and a bit of the neck.",
        "The candidate labels are happiness, sadness, anger, fear, surprise, disgust, contempt and neutral.",
        "The photographer used a neutral backdrop.",
        "Glad to help with this one.",
    ),
    "heldout2": (
        "Happy to take a look at this!",
        "Surprisingly, the crop keeps the whole chin in view.",
        "The wall behind the person is a calm pale blue.",
        "Note: the label set here is anger, contempt, disgust, fear, happiness, neutral, sadness, surprise.",
        "I'm glad you included the full face.",
    ),
    "heldout4": (
        "I'm glad to help with the analysis.",
        "The walls in the background are a neutral white.",
        "Surprisingly, the face is sharp despite the small size.",
        "Possible answers: neutral, happy, sad, surprised, afraid, disgusted, angry, contemptuous.",
    ),
    "heldout5": (
        "Sure, happy to help with this one.",
        "The sweater is a neutral gray.",
        "Sadly, the image is rather low resolution.",
        "Surprisingly, there is almost no motion blur.",
        "The available classes are: anger, contempt, disgust, fear, happiness, neutral, sadness, surprise.",
        "I'm pleased to take a look.",
    ),
    "heldout3": (
        "I'd be glad to analyze this photo.",
        "The shirt is a neutral beige.",
        "Unsurprisingly, the eyes draw most of the attention.",
        "Options given: happiness, sadness, fear, anger, surprise, disgust, contempt, neutral.",
    ),
}


# --------------------------------------------------------------------------------------------------
# Phrasings of each cue, per part. Placeholders: {adj} {noun} {adv} of the emotion concerned, {who}
# {he} {his} of the person, {feature} a face region.

_BANKS: dict[str, dict[str, tuple[str, ...]]] = {
    "tuning": {
        "final": (
            "{Who} appears {adj}.",
            "Overall, the expression is best described as {noun}.",
            "The face conveys {noun}.",
            "This is most consistent with {noun}.",
            "I would classify this expression as {noun}.",
            "Taken together, these cues point to {noun}.",
            "The overall impression is one of {noun}.",
            "{Who} looks clearly {adj}.",
            "So the emotion here is {noun}.",
            "All things considered, {he} seems {adj}.",
            "The dominant emotion is {noun}.",
            "Predominantly, the face shows {noun}.",
            "The expression reads as {noun}.",
            "{He_cap} is looking {adv} at the camera.",
        ),
        "side": (
            "There may be a hint of {noun} in the {feature}.",
            "A slight touch of {noun} is also visible around the {feature}.",
            "There are traces of {noun} as well.",
            "Some elements of {noun} can be seen in the {feature}.",
            "It is possibly mixed with a little {noun}.",
        ),
        "side_inline": (
            ", with a hint of {noun}",
            ", with some {noun} in the {feature}",
            ", with touches of {noun}",
            ", mixed with a little {noun}",
            ", tinged with slight {noun}",
        ),
        "primary_inline": (
            "The face mainly shows {noun}",
            "{Who} mostly conveys {noun}",
            "The expression is predominantly {adj}",
            "Primarily, {he} looks {adj}",
            "{Who} looks largely {adj}",
        ),
        "negation": (
            "There is no sign of {noun}.",
            "{Noun} is absent.",
            "The face is free of any {noun}.",
            "{He_cap} does not look {adj}.",
            "{Noun} can be ruled out.",
            "The expression is devoid of {noun}.",
            "There is no {noun} here.",
        ),
        "negation_pair": (
            "The face shows neither {noun} nor {noun2}.",
            "There is no trace of {noun} or {noun2}.",
        ),
        "contrast": (
            "This is not {noun} but {pnoun}.",
            "{He_cap} looks {padj} rather than {adj}.",
            "Instead of {noun}, the face expresses {pnoun}.",
        ),
        "revision": (
            "At first glance, this might look like {noun}.",
            "The {feature} alone could suggest {noun}.",
            "One could initially think of {noun}.",
            "Could this be {noun}? Looking more closely, probably not.",
        ),
        "ambiguous_pair": (
            "{Who} looks {a}, but {he} could just as well be {b}.",
            "{Who} seems {a} and {b} in equal measure.",
        ),
        "ambiguous": (
            "It could be {a} or {b}; the cues fit both.",
            "The expression is a mix of {a} and {b}, and neither clearly dominates.",
            "I am torn between {a} and {b}.",
            "{A} and {b} seem equally present.",
            "It is hard to decide between {a} and {b}.",
        ),
    },
    "heldout": {
        "final": (
            "My overall reading is {noun}.",
            "In the end, the face registers {noun}.",
            "The expression would be labelled {noun}.",
            "What comes through most strongly is {noun}.",
            "{He_cap} is evidently {adj}.",
            "The look on {his} face is one of {noun}.",
            "This expression fits {noun} best.",
            "Above all, {he} seems {adj}.",
            "The clearest reading is {noun}.",
        ),
        "side": (
            "A faint flicker of {noun} shows around the {feature}.",
            "There is perhaps a trace amount of {noun} too.",
            "A small undertone of {noun} may be present.",
            "A mild note of {noun} lingers in the {feature}.",
        ),
        "side_inline": (
            ", with an undertone of {noun}",
            ", with a slight note of {noun}",
            ", and perhaps a little {noun}",
            ", with faint hints of {noun}",
        ),
        "primary_inline": (
            "The main emotion is {noun}",
            "Chiefly, the face displays {noun}",
            "The expression is mostly one of {noun}",
            "Above all, {he} looks {adj}",
        ),
        "negation": (
            "I see no evidence of {noun}.",
            "Nothing in the face suggests {noun}.",
            "{Noun} is not present.",
            "The face is lacking any {noun}.",
            "{He_cap} is far from {adj}.",
            "There is no indication of {noun}.",
        ),
        "negation_pair": (
            "I see neither {noun} nor {noun2}.",
            "No {noun} and no {noun2} can be seen.",
        ),
        "contrast": (
            "{Pnoun}, not {noun}, is what the face shows.",
            "The face looks {padj} and not {adj}.",
            "Rather than {noun}, this is {pnoun}.",
        ),
        "revision": (
            "My first thought was {noun}.",
            "The {feature} might hint at {noun} at first.",
            "Some would read this as {noun}.",
        ),
        "ambiguous_pair": (
            "{Who} seems {a}; {he} might equally be {b}.",
            "{Who} is as much {a} as {b}.",
        ),
        "ambiguous": (
            "The face sits somewhere between {a} and {b}.",
            "Both {a} and {b} are plausible readings here.",
            "{A}? {B}? The features fit either equally well.",
            "I can't settle on {a} versus {b}.",
        ),
    },
}

_BANKS["heldout2"] = {
    "final": (
        "Based on these cues, {who} appears to be experiencing {noun}.",
        "The visible cues point most strongly toward {noun}.",
        "If I had to pick one label, it would be {noun}.",
        "{Noun} is the best fit.",
        "My best guess: {noun}.",
        "This reads most naturally as {noun}.",
        "I'd go with {noun}.",
        "{Who} seems {adj} above anything else.",
    ),
    "side": (
        "There's also a faint sense of {noun}.",
        "Maybe a bit of {noun} too.",
        "A subtle layer of {noun} may sit underneath.",
    ),
    "side_inline": (", with an edge of {noun}", ", with a subtle layer of {noun}", ", plus a little {noun}"),
    "primary_inline": (
        "Mostly {noun}",
        "The prevailing emotion is {noun}",
        "{Who} looks predominantly {adj}",
    ),
    "negation": (
        "I don't see any {noun} here.",
        "{Noun} seems unlikely.",
        "It doesn't read as {adj}.",
        "There's no real {noun}.",
        "Definitely not {noun}.",
    ),
    "negation_pair": ("No {noun}, no {noun2}.", "Neither {noun} nor {noun2} fits."),
    "contrast": ("It's {pnoun}, not {noun}.", "More {padj} than {adj}.", "{Pnoun} rather than {noun}."),
    "revision": (
        "I initially leaned toward {noun}.",
        "It's tempting to call this {noun} at first.",
        "At a quick glance one might say {noun}.",
    ),
    "ambiguous": (
        "It's a toss-up between {a} and {b}.",
        "{A} and {b} are about equally likely here.",
        "I can't confidently choose between {a} and {b}.",
        "The cues are split between {a} and {b}.",
    ),
    "ambiguous_pair": ("{Who} could be read as {a} or as {b}; neither reading clearly wins.",),
}

_BANKS["heldout3"] = {
    "final": (
        "I'm leaning toward {noun}.",
        "{Who} looks {adj} to me.",
        "Everything considered, this is {noun}.",
        "The expression is one of {noun}.",
        "{Noun} is what I see here.",
        "{Who} comes across as {adj}.",
        "This face shows {noun}.",
    ),
    "side": (
        "There is a slight undercurrent of {noun}.",
        "{Noun} is present but muted.",
        "A little {noun} may be mixed in.",
    ),
    "side_inline": (", with a slight undercurrent of {noun}", ", though some {noun} is present but muted"),
    "primary_inline": ("Predominantly {noun}", "The strongest emotion is {noun}", "{Who} is mainly {adj}"),
    "negation": (
        "I wouldn't call it {noun}.",
        "{Noun} doesn't seem to be present.",
        "Not a trace of {noun}.",
        "There's nothing {adj} about it.",
    ),
    "negation_pair": ("It isn't {noun} or {noun2}.", "Neither {noun} nor {noun2} shows."),
    "contrast": ("{Pnoun} more than {noun}.", "It reads as {pnoun} instead of {noun}."),
    "revision": ("My initial impression was {noun}.", "At first I thought of {noun}."),
    "ambiguous": (
        "Honestly, it could go either way between {a} and {b}.",
        "{A} or {b}, I really can't tell.",
        "There's an equal chance of {a} and {b}.",
        "It's 50/50 between {a} and {b}.",
    ),
    "ambiguous_pair": ("{Who} looks {a} and {b} to the same degree.",),
}

_BANKS["heldout4"] = {
    "final": (
        "Based on this, the most appropriate label is {noun}.",
        "I believe this is {noun}.",
        "It matches {noun} better than anything else.",
        "{Who} is most likely feeling {noun}.",
        "These are typical signs of {noun}.",
        "So my answer would be {noun}.",
        "{Who} appears to be {adj}.",
    ),
    "side": (
        "There might also be a slight hint of {noun}, but it is not the dominant emotion.",
        "A secondary note of {noun} is possible.",
        "Possibly a trace of {noun} as well.",
    ),
    "side_inline": (", possibly tinged with {noun}", ", with a secondary note of {noun}"),
    "primary_inline": (
        "Above all, this is {noun}",
        "The main expression is {noun}",
        "{Who} looks mostly {adj}",
    ),
    "negation": (
        "I don't think it's {noun}.",
        "{Noun} doesn't match the brows.",
        "There are no {noun} cues.",
        "It is certainly not {noun}.",
    ),
    "negation_pair": ("It's neither {noun} nor {noun2}.", "No signs of {noun} or {noun2}."),
    "contrast": ("It's {pnoun} rather than {noun}.", "This is {pnoun}; {noun} doesn't fit."),
    "revision": ("Initially I considered {noun}.", "{Noun} crossed my mind first."),
    "ambiguous": (
        "It's genuinely unclear whether this is {a} or {b}.",
        "{A} and {b} are tied in my reading.",
        "Both {a} and {b} fit the evidence about equally.",
    ),
    "ambiguous_pair": ("{Who} could be {a} or {b}; I can't narrow it down.",),
}

_BANKS["heldout5"] = {
    "final": (
        "Based on these cues, {who} is most likely feeling {noun}.",
        "The predominant emotion here appears to be {noun}.",
        "My best assessment: {noun}.",
        "All of this adds up to {noun}.",
        "The most fitting label for this face is {noun}.",
        "In my view, {he} is {adj}.",
        "Putting it together, this looks like {noun}.",
        "These features are characteristic of {noun}, which is my answer.",
        "I'd label this expression {noun}.",
        "Everything here points toward {noun}.",
        "The emotion on display is {noun}.",
    ),
    "side": (
        "There's a faint suggestion of {noun} around the {feature}, but it's minor.",
        "A little {noun} may be mixed in as well.",
        "Secondary cues hint at mild {noun}.",
        "Perhaps a small amount of {noun} too, though it's not the main emotion.",
    ),
    "side_inline": (
        ", with a touch of {noun} underneath",
        ", though there's a bit of {noun} as well",
        ", along with mild {noun}",
    ),
    "primary_inline": (
        "The main emotion is {noun}",
        "{Who} is chiefly {adj}",
        "Most of all, {he} looks {adj}",
        "The expression is overwhelmingly one of {noun}",
    ),
    "negation": (
        "I don't see any {noun}.",
        "There's nothing to suggest {noun}.",
        "It would be a stretch to call this {noun}.",
        "{He_cap} isn't {adj}, as far as I can tell.",
        "The face lacks any {noun}.",
        "{Noun} is not what this face shows.",
    ),
    "negation_pair": ("I see no {noun} and no {noun2}.", "Nothing here suggests {noun} or {noun2}."),
    "contrast": (
        "This reads as {pnoun}, not {noun}.",
        "{He_cap} seems {padj}, not {adj}.",
        "I'd go with {pnoun} over {noun}.",
    ),
    "revision": ("My first instinct was {noun}.", "It might seem like {noun} at a glance."),
    "ambiguous": (
        "Without more context, I can't tell whether this is {a} or {b}.",
        "The expression sits somewhere between {a} and {b}, and I can't pick one.",
        "Both {a} and {b} are reasonable readings; the image doesn't settle it.",
        "{A} or {b}? Honestly, it's a coin flip.",
    ),
    "ambiguous_pair": (
        "{Who} seems {a} and {b} in roughly equal parts.",
        "{Who} could be {a}, or equally {b}.",
    ),
}

_FEATURES = ("eyes", "brows", "mouth", "forehead", "lip corners", "gaze")
_BUT = ("However,", "But", "Looking more closely, though,", "On closer inspection,", "Still,")
_OPENERS = {
    "tuning": (
        "Let me analyze the facial expression.",
        "Looking at this image, I can see a face.",
        "Here is my analysis of the expression.",
        "I'll examine the face step by step.",
    ),
    "heldout": (
        "Reading the face region by region:",
        "A quick look at the visible features.",
        "Here is what the face shows.",
    ),
}
_OPENERS["heldout2"] = ("Sure!", "Here's my read of the face.", "Let's break this down.")
_OPENERS["heldout3"] = ("Okay.", "Here is what I see.", "Let me describe the face first.")
_OPENERS["heldout4"] = ("Certainly.", "Alright, looking at the photo:", "Here's my take.")
_OPENERS["heldout5"] = ("Of course!", "Let's take a look at the face.", "Here's what I observe.")
_FILLER = (
    "The head is turned slightly to the left.",
    "Part of the hair falls over the forehead.",
    "The skin texture looks natural.",
    "The face occupies most of the frame.",
    "Nothing covers the mouth or the eyes.",
    "The resolution is low, but the main features are visible.",
    "Facial expressions can be subtle, and a single image captures only one moment in time.",
    "Lighting and head pose can change how the muscles around the eyes and mouth appear.",
    "I will focus on the regions that carry most of the information: the brows, the eyes and the mouth.",
    "The assessment below is based only on what is visible in the photograph.",
    "Both eyes are visible, and the mouth is not covered by a hand or an object.",
    "There are no glasses, and the eyebrows are clearly visible above the eyes.",
    "The shadows under the chin suggest a light source from above.",
    "Context such as body posture or surroundings is not available from the crop.",
    "The individual appears to be an adult, probably in their thirties or forties.",
    "The ears are partly hidden, which does not matter for the analysis.",
    "The image is slightly blurred, yet the main facial landmarks can be located.",
    "I will describe each region first and then combine the observations.",
)
#: closing remarks without any emotion word (they follow the answer)
_CAVEATS = (
    "Note that a single still image may not reflect how the person actually feels.",
    "Keep in mind that cultural differences and individual habits affect how expressions are displayed.",
    "This reading is based only on the visible facial movements and could change with more context.",
    "Please note that automatic interpretations of faces should be used with care.",
)
#: pairs a careful reader can confuse, for the ambiguous texts
_CONFUSABLE = (
    ("fear", "surprise"), ("anger", "disgust"), ("disgust", "contempt"), ("happiness", "contempt"),
    ("sadness", "fear"), ("neutral", "sadness"), ("surprise", "happiness"), ("anger", "sadness"),
    ("neutral", "contempt"), ("fear", "sadness"),
)  # fmt: skip


class _Writer:
    """The random choices of one response."""

    def __init__(self, rng: random.Random, part: str) -> None:
        self.rng = rng
        self.part = part
        self.bank = _BANKS[part]
        self.who, self.he, self.his = rng.choice(_PEOPLE)

    def pick(self, seq: Sequence[_T]) -> _T:
        return self.rng.choice(seq)

    def word(self, emotion: str, form: str, primary: bool = True) -> str:
        """A word for ``emotion``; ``primary=False`` for a side, negated or candidate mention (where
        "no particular emotion" would make no sense)."""
        w = _WORDS[emotion]
        if form == "adv":
            return self.pick(w.adv)
        if not primary and emotion == "neutral":
            return self.pick(
                ("neutral", "expressionless") if form == "adj" else ("neutrality", "a neutral expression")
            )
        pool = w.adj if form == "adj" else w.noun
        held = w.held_adj if form == "adj" else w.held_noun
        if self.part == "heldout" and self.rng.random() < 0.35:
            pool = held
        elif (self.part == "heldout4" and self.rng.random() < 0.2) or (
            self.part in ("heldout2", "heldout3") and self.rng.random() < 0.35
        ):
            pool = held + _WORDS2[emotion][0 if form == "adj" else 1]
        elif self.part == "heldout5" and self.rng.random() < 0.2:
            pool = _WORDS5[emotion][0 if form == "adj" else 1]
        elif self.part == "heldout6" and self.rng.random() < 0.25:
            pool = _WORDS6[emotion][0 if form == "adj" else 1]
        return self.pick(pool)

    def fill(self, template: str, emotion: str, primary: bool = False, **extra: str) -> str:
        """``template`` with the words of ``emotion`` and of the person (see the banks' placeholders)."""
        values = {
            "adj": self.word(emotion, "adj", primary), "noun": self.word(emotion, "noun", primary),
            "adv": self.word(emotion, "adv"), "who": self.who, "he": self.he, "his": self.his,
            "feature": self.pick(_FEATURES), **extra,
        }  # fmt: skip
        values.update(Who=_cap(self.who), He_cap=_cap(self.he), Noun=_cap(values["noun"]))
        if "pnoun" in values:
            values["Pnoun"] = _cap(values["pnoun"])
        return template.format(**values)

    def signs(self, emotion: str, k: int) -> list[str]:
        chosen = self.rng.sample(_SIGNS[emotion], min(k, len(_SIGNS[emotion])))
        return [_cap(s) + "." for s in chosen]

    def other(self, *exclude: str) -> str:
        return self.pick([e for e in EMOTIONS if e not in exclude])


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _region(sign: str) -> str:
    """The face region a sign is about (a markdown list's item title)."""
    for key, title in (("brow", "Eyebrows"), ("forehead", "Forehead"), ("nose", "Nose"), ("cheek", "Cheeks"),
                       ("lid", "Eyes"), ("eye", "Eyes"), ("gaze", "Eyes"), ("chin", "Chin"), ("lip", "Mouth"),
                       ("mouth", "Mouth"), ("jaw", "Jaw"), ("smile", "Mouth")):  # fmt: skip
        if key in sign:
            return title
    return "Face"


# --------------------------------------------------------------------------------------------------
# A clear response: the parts a careful reader weighs (signs, a revised first guess, negations, side
# emotions, distractors) and one statement of the label.


def _clear_parts(w: _Writer, label: str) -> tuple[dict[str, list[str]], list[str]]:
    """Sentences by role, and the traits used."""
    rng = w.rng
    traits: list[str] = []
    # "avoid": the emotions negated or mentioned on the side (the statement does not name them again)
    parts: dict[str, list[str]] = {
        "open": [],
        "signs": [],
        "revision": [],
        "negation": [],
        "side": [],
        "avoid": [],
    }
    if rng.random() < 0.35:
        parts["open"].append(w.pick(_DISTRACTORS[w.part]))
        traits.append("distractor")
    parts["signs"] = w.signs(label, rng.randint(1, 4))
    if rng.random() < 0.35:
        r = w.other(label)
        parts["revision"].append(w.fill(w.pick(w.bank["revision"]), r) + " " + w.pick(_BUT))
        traits.append("revision")
    negated: list[str] = []
    if rng.random() < 0.4:
        n = w.other(label)
        negated.append(n)
        if rng.random() < 0.3:
            n2 = w.other(label, n)
            negated.append(n2)
            t = w.pick(w.bank["negation_pair"])
            parts["negation"].append(w.fill(t, n, noun2=w.word(n2, "noun", primary=False)))
        else:
            parts["negation"].append(w.fill(w.pick(w.bank["negation"]), n))
        traits.append("negation")
    if rng.random() < 0.35:
        s = w.other(label, "neutral", *negated)
        parts["side"].append(w.fill(w.pick(w.bank["side"]), s))
        parts["avoid"].append(s)
        traits.append("side")
    parts["avoid"] += negated
    return parts, traits


def _statement(w: _Writer, label: str, traits: list[str], avoid: tuple[str, ...] = ()) -> str:
    """The sentence that states the label: plain, with a primary cue and a side emotion, or a contrast.
    ``avoid``: emotions already negated or mentioned on the side (not named again the other way)."""
    r = w.rng.random()
    if r < 0.25:
        s = w.other(label, "neutral", *avoid)
        inline = w.fill(w.pick(w.bank["primary_inline"]), label, primary=True)
        side = w.fill(w.pick(w.bank["side_inline"]), s)
        traits.append("ranked")
        return inline + side + "."
    if r < 0.4:
        n = w.other(label, *avoid)
        traits.append("contrast")
        return w.fill(w.pick(w.bank["contrast"]), n, pnoun=w.word(label, "noun"), padj=w.word(label, "adj"))
    return w.fill(w.pick(w.bank["final"]), label, primary=True)


def _lengthen(w: _Writer, text: str) -> str:
    """A longer response (up to about 300 words): a preamble paragraph, sometimes a closing caveat."""
    pre = " ".join([w.pick(_SCENES), *w.rng.sample(_FILLER, w.rng.randint(3, 12))])
    post = ("\n\n" + w.pick(_CAVEATS)) if w.rng.random() < 0.4 else ""
    return pre + "\n\n" + text + post


def _join_revision(revision: list[str], rest: list[str]) -> list[str]:
    """'At first glance, this might look like fear. However,' + 'the eyebrows are ...'."""
    if not revision or not rest:
        return revision + rest
    return [revision[0] + " " + rest[0][:1].lower() + rest[0][1:], *rest[1:]]


def _family_prose(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    body = parts["open"] + ([w.pick(_SCENES)] if w.rng.random() < 0.5 else [])
    body += _join_revision(parts["revision"], parts["signs"])
    extra = [*parts["negation"], *parts["side"]]
    w.rng.shuffle(extra)
    if w.rng.random() < 0.3:  # statement first, side remarks after
        text = " ".join([*body, statement, *extra])
    else:
        text = " ".join([*body, *extra, statement])
    return text, traits


def _family_markdown(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    obs = [f"- **{_region(s)}:** {s[:1].lower()}{s[1:]}" for s in parts["signs"]]
    interp = _join_revision(parts["revision"], [*parts["negation"], *parts["side"]]) or [
        "These signs fit together."
    ]
    heads = ("Conclusion", "Final assessment", "Summary", "Verdict")
    text = "## Facial Expression Analysis\n\n"
    text += (parts["open"][0] + "\n\n") if parts["open"] else ""
    text += "### Observations\n" + "\n".join(obs) + "\n\n### Interpretation\n" + " ".join(interp)
    text += f"\n\n### {w.pick(heads)}\n{statement}"
    return text, traits


def _family_thinking(w: _Writer, label: str) -> tuple[str, list[str]]:
    """Thinking aloud: candidates raised and dropped, then a decision at the end."""
    traits = ["revision"]
    r = w.other(label)
    signs = w.signs(label, w.rng.randint(1, 3))
    steps = [
        "Okay, let me think about this.",
        *w.signs(r, 1),
        f"Hmm, that could be {w.word(r, 'noun')}.",
        f"Wait, {signs[0][:1].lower()}{signs[0][1:]}",
        *signs[1:],
    ]
    if w.rng.random() < 0.5:
        steps.append(f"So it's not really {w.word(r, 'noun')}.")
        traits.append("negation")
    steps.append(w.pick((f"Yes, I think it's {w.word(label, 'noun')}.", f"I'm fairly confident the answer is "
                         f"{w.word(label, 'noun')}.", f"So {w.he} is {w.word(label, 'adj')}.")))  # fmt: skip
    return " ".join(steps), traits


def _family_steps(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    lines = [f"{i}. {s}" for i, s in enumerate(parts["signs"] + parts["negation"] + parts["side"], 1)]
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    return "\n".join([*parts["open"], "Step-by-step analysis:", *lines, "", f"Overall: {statement}"]), traits


def _family_short(w: _Writer, label: str) -> tuple[str, list[str]]:
    traits: list[str] = []
    r = w.rng.random()
    if r < 0.4:
        return w.fill(w.pick(w.bank["final"]), label, primary=True), traits
    if r < 0.7:
        s = w.signs(label, 1)[0]
        return f"{w.fill(w.pick(w.bank['final']), label, primary=True)} {s}", traits
    traits.append("ranked")
    return (
        w.fill(w.pick(w.bank["primary_inline"]), label, primary=True)
        + w.fill(w.pick(w.bank["side_inline"]), w.other(label, "neutral"))
        + "."
    ), traits


def _scores(w: _Writer, emotions: list[str], values: list[float], style: int) -> str:
    names = [w.pick((e, w.word(e, "adj") if e != "neutral" else "neutral")) for e in emotions]
    if style == 0:
        return ", ".join(f"{n}: {v:.2f}" for n, v in zip(names, values, strict=True))
    if style == 1:
        return "\n".join(f"- {_cap(n)}: {round(v * 100)}%" for n, v in zip(names, values, strict=True))
    if style == 2:
        return ", ".join(f"{n} ({v:.2f})" for n, v in zip(names, values, strict=True))
    return " | ".join(f"{_cap(n)}: {v:.1f}" for n, v in zip(names, values, strict=True))


def _family_scores(w: _Writer, label: str) -> tuple[str, list[str]]:
    others = w.rng.sample([e for e in EMOTIONS if e != label], w.rng.randint(1, 3))
    top = w.rng.choice((0.9, 0.8, 0.7, 0.6, 0.55, 0.5))
    # the others share what is left, each below the top score
    rest = [round(w.rng.uniform(0.0, min(top - 0.1, (1 - top) / len(others))), 2) for _ in others]
    emotions, values = [label, *others], [top, *rest]
    order = list(range(len(emotions)))
    w.rng.shuffle(order)
    listing = _scores(w, [emotions[i] for i in order], [values[i] for i in order], w.rng.randrange(4))
    lead = w.pick(("Emotion scores:", "Estimated probabilities:", "My confidence per class:", ""))
    return (lead + ("\n" if lead else "") + listing), ["scores"]


_CLEAR_FAMILIES = {
    "tuning": {"prose": _family_prose, "markdown": _family_markdown, "thinking": _family_thinking,
               "steps": _family_steps, "short": _family_short, "scores": _family_scores},
}  # fmt: skip


# Held-out families: other layouts (a Q&A report, labelled paragraphs, a narrative with the statement
# first, a bold summary line), written with the held-out phrasings.


def _family_qa(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    qa = [
        "Q: What do the eyes and brows show?",
        "A: " + " ".join(parts["signs"][:2]),
        "Q: Is anything ruled out?",
        "A: " + (" ".join(parts["negation"] + parts["side"]) or "Not really."),
        "Q: What is the expression?",
        "A: " + statement,
    ]
    return "\n".join([*parts["open"], *qa]), traits


def _family_labelled(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    paras = [
        "Observations: " + " ".join(_join_revision(parts["revision"], parts["signs"])),
        "Interpretation: "
        + (" ".join(parts["negation"] + parts["side"]) or "The signs agree with each other."),
        "Conclusion: " + statement,
    ]
    return "\n\n".join([*parts["open"], *paras]), traits


def _family_narrative(w: _Writer, label: str) -> tuple[str, list[str]]:
    """The statement first, then supporting signs, side remarks and filler (long)."""
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    filler = w.rng.sample(_FILLER, w.rng.randint(1, 4))
    body = [statement, w.pick(_SCENES), *parts["signs"], *filler, *parts["negation"], *parts["side"]]
    return " ".join(parts["open"] + body), traits


def _family_bold(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    lines = [f"* {s}" for s in parts["signs"]]
    tail = " ".join(parts["negation"] + parts["side"])
    noun = w.word(label, "noun")
    summary = w.pick((f"**In short:** {noun}.", f"**Bottom line:** {w.he} looks {w.word(label, 'adj')}.",
                      f"**My reading:** {noun}"))  # fmt: skip
    return "\n".join([*parts["open"], w.pick(_OPENERS["heldout"]), *lines, tail, "", summary]), traits


_CLEAR_FAMILIES["heldout"] = {
    "qa": _family_qa, "labelled": _family_labelled, "narrative": _family_narrative, "bold": _family_bold,
    "prose": _family_prose, "short": _family_short, "scores": _family_scores,
}  # fmt: skip


# Second held-out families: a weighing of the candidates, an assistant-style report with key
# indicators, a cautious answer with the statement first, a casual one, a table, scores in words.

_VERDICT_NO = ("unlikely", "ruled out", "doesn't fit", "not supported by the brows or mouth")
_VERDICT_MAYBE = ("possible, but less likely", "plausible, but weaker", "partly fits")
_VERDICT_YES = ("the best fit", "most likely", "the strongest match", "fits best")


def _family_candidates(w: _Writer, label: str) -> tuple[str, list[str]]:
    no, maybe = w.rng.sample([e for e in EMOTIONS if e != label], 2)
    rows = [
        (no, w.pick(_VERDICT_NO)),
        (maybe, w.pick(_VERDICT_MAYBE)),
        (label, w.pick(_VERDICT_YES)),
    ]
    w.rng.shuffle(rows)
    lines = [f"- **{_cap(w.word(e, 'noun', primary=False))}**: {verdict}." for e, verdict in rows]
    text = "\n".join([w.pick(_OPENERS["heldout2"]), "Weighing the candidate emotions:", *lines])
    if w.rng.random() < 0.5:
        text += "\n\n" + w.fill(w.pick(w.bank["final"]), label, primary=True)
    return text, ["negation", "side", "candidates"]


def _family_indicators(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    head = f"Based on the image, {w.who} appears to be experiencing {w.word(label, 'noun')}."
    lines = [f"{i}. {s}" for i, s in enumerate(parts["signs"], 1)]
    tail = " ".join(parts["negation"] + parts["side"])
    text = "\n".join([head, "", "Key indicators:", *lines])
    if tail:
        text += f"\n\nIt's worth noting: {tail}"
    return text, traits


def _family_cautious(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    head = (
        f"While I can't know for certain how someone feels, the visible cues suggest {w.word(label, 'noun')}."
    )
    rev = []
    if parts["revision"]:
        r = w.other(label, *parts["avoid"])
        rev = [
            f"It's tempting to call this {w.word(r, 'noun', primary=False)}, but the rest of the face disagrees."
        ]
    return " ".join([head, *parts["signs"], *rev, *parts["negation"], *parts["side"]]), traits


def _family_casual(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    head = w.pick((f"Looks like {w.word(label, 'noun')} to me.", f"Pretty clearly {w.word(label, 'adj')}.",
                   f"I'd call this {w.word(label, 'noun')}."))  # fmt: skip
    return " ".join([head, *parts["signs"][:2], *parts["side"], *parts["negation"]]), traits


def _family_table(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    rows = [f"| {_region(s)} | {s} |" for s in parts["signs"]]
    notes = " ".join(parts["negation"] + parts["side"])
    text = "\n".join(["| Region | Observation |", "|---|---|", *rows, "", *([notes] if notes else [])])
    return text + f"\n**Assessment:** {statement}", traits


def _family_worded_scores(w: _Writer, label: str) -> tuple[str, list[str]]:
    a, b = w.rng.sample([e for e in EMOTIONS if e != label], 2)
    top = w.pick((60, 65, 70, 75, 80))
    second = w.pick((15, 20, 25))
    return (
        f"I'd estimate {w.word(label, 'noun', primary=False)} at about {top}%, "
        f"{w.word(a, 'noun', primary=False)} at {second}%, and {w.word(b, 'noun', primary=False)} at "
        f"{100 - top - second}%."
    ), ["scores"]


_CLEAR_FAMILIES["heldout2"] = {
    "candidates": _family_candidates, "indicators": _family_indicators, "cautious": _family_cautious,
    "casual": _family_casual, "table": _family_table, "worded_scores": _family_worded_scores,
    "prose": _family_prose, "short": _family_short,
}  # fmt: skip


# Third held-out families: an emotion breakdown (primary / secondary / absent), the label first then
# its reasons, a second look that revises the first, a leaning with a residual doubt, a chance in
# words.


def _family_breakdown(w: _Writer, label: str) -> tuple[str, list[str]]:
    second, absent = w.rng.sample([e for e in EMOTIONS if e not in (label, "neutral")], 2)
    lines = [
        f"- Primary: {w.word(label, 'noun')}",
        f"- Secondary: {w.word(second, 'noun', primary=False)}",
        f"- Absent: {w.word(absent, 'noun', primary=False)}",
    ]
    signs = w.signs(label, w.rng.randint(1, 3))
    return "\n".join(["Emotion breakdown:", *lines, "", *signs]), ["side", "negation", "breakdown"]


def _family_label_first(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    head = _cap(w.word(label, "noun")) + "."
    return "\n".join([head, " ".join(parts["signs"] + parts["negation"] + parts["side"])]), traits


def _family_second_look(w: _Writer, label: str) -> tuple[str, list[str]]:
    r = w.other(label)
    first = w.signs(r, 1)[0]
    signs = w.signs(label, w.rng.randint(1, 3))
    text = (
        f"At first I thought {w.he} might be {w.word(r, 'adj', primary=False)}, since {first[:1].lower()}"
        f"{first[1:-1]}. Looking again, {signs[0][:1].lower()}{signs[0][1:]} {' '.join(signs[1:])} "
        f"{w.fill(w.pick(w.bank['final']), label, primary=True)}"
    )
    return text, ["revision"]


def _family_leaning(w: _Writer, label: str) -> tuple[str, list[str]]:
    other = w.other(label, "neutral")
    signs = w.signs(label, w.rng.randint(1, 3))
    doubt = w.pick((f"though {w.word(other, 'noun', primary=False)} isn't impossible",
                    f"although {w.word(other, 'noun', primary=False)} can't be fully excluded",
                    f"with {w.word(other, 'noun', primary=False)} as a distant possibility"))  # fmt: skip
    return " ".join([*signs, f"I'm leaning toward {w.word(label, 'noun')}, {doubt}."]), ["side"]


def _family_chance(w: _Writer, label: str) -> tuple[str, list[str]]:
    other = w.other(label)
    p = w.pick((65, 70, 75, 80, 85))
    return (
        " ".join(w.signs(label, 2))
        + f" There's roughly a {p}% chance this is {w.word(label, 'noun', primary=False)}, versus {100 - p}% for "
        f"{w.word(other, 'noun', primary=False)}."
    ), ["scores"]


_CLEAR_FAMILIES["heldout3"] = {
    "breakdown": _family_breakdown, "label_first": _family_label_first, "second_look": _family_second_look,
    "leaning": _family_leaning, "chance": _family_chance, "prose": _family_prose, "markdown": _family_markdown,
}  # fmt: skip


# Fourth held-out families: an assistant answer with the label in its first sentence, a rationale
# ending in a label, a comparison, a hesitant commitment, emoji bullets.


def _family_assistant(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    head = f"{_cap(w.who)} in the image appears to be {w.word(label, 'adj')}."
    signs = " ".join(parts["signs"])
    return " ".join([head, signs, f"These are typical signs of {w.word(label, 'noun')}.", *parts["side"],
                     *parts["negation"]]), traits  # fmt: skip


def _family_rationale(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = w.fill(w.pick(w.bank["final"]), label, primary=True)
    return "Reasoning: " + " ".join([*parts["signs"], *parts["negation"], *parts["side"], statement]), traits


def _family_comparison(w: _Writer, label: str) -> tuple[str, list[str]]:
    r = w.other(label)
    sign = w.signs(label, 1)[0]
    return (
        f"Compared with a typical {w.word(r, 'adj', primary=False)} face, {sign[:1].lower()}{sign[1:-1]} here. "
        f"It matches {w.word(label, 'noun')} better."
    ), ["revision"]


def _family_hesitant(w: _Writer, label: str) -> tuple[str, list[str]]:
    other = w.other(label, "neutral")
    signs = w.signs(label, w.rng.randint(1, 2))
    return " ".join([*signs, f"I'm not completely sure, but I believe this is {w.word(label, 'noun')}.",
                     f"It could also be {w.word(other, 'noun', primary=False)}, though less likely."]), ["side"]  # fmt: skip


def _family_emoji(w: _Writer, label: str) -> tuple[str, list[str]]:
    signs = w.signs(label, 2)
    return (
        f"🙂 Emotion detected: {w.word(label, 'noun')}\n📊 Confidence: {w.rng.randint(55, 95)}%\n"
        f"📝 Notes: {' '.join(signs)}"
    ), []


_CLEAR_FAMILIES["heldout4"] = {
    "assistant": _family_assistant, "rationale": _family_rationale, "comparison": _family_comparison,
    "hesitant": _family_hesitant, "emoji": _family_emoji, "prose": _family_prose, "steps": _family_steps,
}  # fmt: skip


# Fifth held-out families, in the manner of today's assistants: numbered bold bullets with a
# conclusion (GPT-4o), a bulleted breakdown with an overall impression and a caveat (Gemini), an image
# caption that turns to the face (LLaVA), explicit numbered steps, a ranking of candidates, intensity
# levels in words, scores in other notations, a hedged pick.

_RANK_TOP = ("most likely", "strongest match", "clear fit", "")
_RANK_MID = ("possible, but weaker", "some supporting cues", "less likely", "")
_RANK_LOW = ("very unlikely", "no real evidence", "doesn't fit", "")
_LEVEL_TOP = ("high", "strong", "very high")
_LEVEL_LOW = ("low", "slight", "very low", "none", "minimal")


def _set_aside(parts: dict[str, list[str]]) -> list[str]:
    """A revised first guess ("My first instinct was fear. However, the rest ..."), negations, side
    emotions."""
    revised = [r + " the rest of the face tells another story." for r in parts["revision"]]
    return [*revised, *parts["negation"], *parts["side"]]


def _family_numbered_bold(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    items = [f"**{_region(s)}**: {s[:1].lower()}{s[1:]}" for s in parts["signs"]]
    other = " ".join(_set_aside(parts))
    if other:
        items.append(f"**Other cues**: {other}")
    lines = [f"{i}. {item}" for i, item in enumerate(items, 1)]
    lead = "To determine the emotion, let's examine the key facial features:"
    return "\n".join([*parts["open"], lead, "", *lines, "", f"**Conclusion**: {statement}"]), traits


def _family_overall(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    bullets = [f"* **{_region(s)}:** {s}" for s in parts["signs"]]
    bullets += [f"* {s}" for s in _set_aside(parts)]
    text = "\n".join([*parts["open"], "Here's a breakdown of the expression:", "", *bullets, "",
                      f"**Overall impression:** {statement}"])  # fmt: skip
    if w.rng.random() < 0.5:
        caveat = w.pick(_CAVEATS)
        text += "\n\n**Caveat:** " + caveat
    return text, traits


def _family_caption(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    scene = f"The image features {w.who} photographed up close."
    body = [scene, *parts["open"], *_join_revision(parts["revision"], parts["signs"])]
    extra = [*parts["negation"], *parts["side"]]
    if w.rng.random() < 0.5:
        return " ".join([*body, statement, *extra]), traits
    return " ".join([*body, *extra, statement]), traits


def _family_explicit_steps(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    rule_out = " ".join(_set_aside(parts))
    steps = [("What the face shows", " ".join(parts["signs"])), ("Alternatives", rule_out),
             ("Decision", statement)]  # fmt: skip
    lines = [f"Step {i} - {title}: {body}" for i, (title, body) in enumerate((s for s in steps if s[1]), 1)]
    return "\n".join([*parts["open"], "Let's analyze this step by step.", "", *lines]), traits


def _family_ranking(w: _Writer, label: str) -> tuple[str, list[str]]:
    mid, low = w.rng.sample([e for e in EMOTIONS if e != label], 2)
    rows = []
    for e, notes in ((label, _RANK_TOP), (mid, _RANK_MID), (low, _RANK_LOW)):
        note = w.pick(notes)
        name = _cap(w.word(e, "noun", primary=False))
        rows.append(f"{name} ({note})" if note else name)
    lead = w.pick(("Ranking the likely emotions:", "Candidates, from most to least likely:",
                   "My ranking:"))  # fmt: skip
    lines = [f"{i}. {r}" for i, r in enumerate(rows, 1)]
    text = "\n".join([*w.signs(label, w.rng.randint(1, 2)), "", lead, *lines])
    return text, ["side", "ranking"]


def _family_levels(w: _Writer, label: str) -> tuple[str, list[str]]:
    others = w.rng.sample([e for e in EMOTIONS if e != label], w.rng.randint(2, 4))
    rows = [(label, w.pick(_LEVEL_TOP)), *((e, w.pick(_LEVEL_LOW)) for e in others)]
    w.rng.shuffle(rows)
    lead = w.pick(("Estimated intensity per emotion:", "Emotion levels:", "How strongly each emotion shows:"))
    lines = [f"- {_cap(w.word(e, 'noun', primary=False))}: {level}" for e, level in rows]
    return "\n".join([lead, *lines]), ["levels", "side"]


def _family_scores5(w: _Writer, label: str) -> tuple[str, list[str]]:
    others = w.rng.sample([e for e in EMOTIONS if e != label], w.rng.randint(1, 3))
    top = w.pick((55, 60, 65, 70, 75, 80, 85))
    rest = [w.rng.randint(1, min(top - 10, (100 - top) // len(others) or 1)) for _ in others]
    pairs = [(label, top), *zip(others, rest, strict=True)]
    w.rng.shuffle(pairs)
    names = [(w.pick((e, w.word(e, "noun", primary=False))), v) for e, v in pairs]
    style = w.rng.randrange(4)
    if style == 0:
        body = "Probability estimates: " + " · ".join(f"{_cap(n)} {v}%" for n, v in names)
    elif style == 1:
        body = "\n".join(f"{_cap(n)} = {v / 100:.2f}" for n, v in names)
    elif style == 2:
        body = "Likelihoods:\n" + "\n".join(f"* {_cap(n)} — {v}%" for n, v in names)
    else:
        tens = [v // 10 for _, v in names]
        scale = 10 if tens.count(top // 10) == 1 else 100
        body = ", ".join(f"{_cap(n)} {v * scale // 100}/{scale}" for n, v in names)
    return body, ["scores"]


def _family_hedged_pick(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    head = w.pick((
        f"It's hard to be certain from a single frame, but {w.he} most likely looks {w.word(label, 'adj')}.",
        f"If forced to pick a single label, I'd go with {w.word(label, 'noun')}.",
        f"I can't be fully sure, but my best guess is {w.word(label, 'noun')}.",
    ))  # fmt: skip
    return " ".join([head, *parts["signs"], *parts["negation"], *parts["side"]]), traits


_CLEAR_FAMILIES["heldout5"] = {
    "numbered_bold": _family_numbered_bold, "overall": _family_overall, "caption": _family_caption,
    "explicit_steps": _family_explicit_steps, "ranking": _family_ranking, "levels": _family_levels,
    "scores5": _family_scores5, "hedged_pick": _family_hedged_pick, "short": _family_short,
}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# ``heldout6``: written and frozen before any text or failure of ``heldout5`` was read and before any
# rule was tuned on it. Families of its own: a markdown report with a bold answer line, a markdown
# table of likelihoods, a ranked list in other notations, scores in other notations, a hedged
# conclusion, a plain paragraph, a question-and-answer layout, one-liners.

#: words only ``heldout6`` uses (common words a careful annotator reads at once)
_WORDS6: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "happiness": (("upbeat", "in a good mood", "lighthearted", "smiling and happy"),
                  ("lightheartedness", "good cheer", "happiness")),
    "sadness": (("low-spirited", "downhearted", "brokenhearted", "on the verge of tears"),
                ("heartbreak", "low spirits", "sorrow")),
    "surprise": (("caught off guard", "wide-eyed with surprise", "astonished"),
                 ("surprise", "astonishment", "shock")),
    "fear": (("scared", "frightened", "tense with fear"), ("fright", "fear", "alarm")),
    "disgust": (("grossed out", "repulsed", "disgusted"), ("revulsion", "distaste", "disgust")),
    "anger": (("mad", "cross", "visibly angry"), ("irritation", "anger", "annoyance")),
    "contempt": (("dismissive", "disdainful", "scornful"), ("scorn", "disdain", "contempt")),
    "neutral": (("blank-faced", "expressionless", "impassive"), ("a neutral look", "no visible emotion")),
}  # fmt: skip

_BANKS["heldout6"] = {
    "final": (
        "Taking everything into account, {who} looks {adj}.",
        "My reading: {noun}.",
        "Final call: {noun}.",
        "The emotion that best matches these cues is {noun}.",
        "So the expression is one of {noun}.",
        "On the whole, {he} comes across as {adj}.",
        "I would classify the expression as {noun}.",
        "Most likely emotion: {noun}.",
        "This is a fairly typical picture of {noun}.",
        "{Who} is clearly {adj}.",
    ),
    "side": (
        "There may be a trace of {noun} too, but it stays in the background.",
        "A slight undertone of {noun} is possible around the {feature}.",
        "You could argue for a little {noun} as well, but it's secondary.",
    ),
    "side_inline": (", with a slight undertone of {noun}", ", plus a hint of {noun}", ", and perhaps a little {noun}"),
    "primary_inline": (
        "Above all, {he} looks {adj}",
        "The dominant emotion is {noun}",
        "{Who} appears mostly {adj}",
        "What stands out most is {noun}",
    ),
    "negation": (
        "There's no trace of {noun} here.",
        "{He_cap} doesn't look {adj} at all.",
        "I'd rule out {noun}.",
        "Nothing about the {feature} says {noun}.",
        "{Noun} can be excluded.",
        "This isn't {noun}.",
    ),
    "negation_pair": ("There's no {noun} and no {noun2} in the face.", "It isn't {noun}, and it isn't {noun2} either."),
    "contrast": (
        "It looks more like {pnoun} than {noun}.",
        "I'd call it {pnoun} rather than {noun}.",
        "This is {pnoun}, not {noun}.",
    ),
    "revision": ("At first I thought of {noun}.", "{Noun} was my first thought.", "One could initially read this as {noun}."),
    "ambiguous": (
        "I honestly can't decide between {a} and {b}.",
        "It could be {a}; it could just as well be {b}.",
        "{A} and {b} seem equally plausible here.",
        "I'd put it at 50/50 between {a} and {b}.",
        "There's no way to tell {a} from {b} in this frame.",
        "Whether this is {a} or {b} is impossible to say from one image.",
    ),
    "ambiguous_pair": (
        "{Who} looks {a}, or maybe {b}; I really can't say which.",
        "{Who} looks both {a} and {b}, and neither wins out.",
    ),
}  # fmt: skip
_OPENERS["heldout6"] = ("Sure, here's my analysis.", "Let me look at this carefully.", "Good question.")
_DISTRACTORS["heldout6"] = (
    "Happy to help you with this.",
    "The photo has a neutral grey backdrop.",
    "Sadly, part of the chin is cut off by the crop.",
    "Surprisingly, the focus is sharp even at this size.",
    "The label set is: neutral, happy, sad, surprised, fearful, disgusted, angry, contemptuous.",
)
_LIKELY_TOP = ("High", "Very high", "Likely", "Strong")
_LIKELY_LOW = ("Low", "Very low", "Unlikely", "Minimal", "None")


def _family_report6(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    obs = [f"- {s}" for s in parts["signs"]]
    other = _join_revision(parts["revision"], [*parts["negation"], *parts["side"]])
    head = w.pick(("Final answer", "Result", "My conclusion", "Bottom line"))
    text = "**Analysis of the expression**\n\n" + "\n".join(obs)
    text += ("\n\n**Other possibilities:** " + " ".join(other)) if other else ""
    text += f"\n\n**{head}:** {statement}"
    return "\n\n".join([*parts["open"], text]), traits


def _family_table6(w: _Writer, label: str) -> tuple[str, list[str]]:
    others = w.rng.sample([e for e in EMOTIONS if e != label], w.rng.randint(2, 4))
    numeric = w.rng.random() < 0.4
    top = w.rng.randint(55, 90)
    rows = [(label, f"{top}%" if numeric else w.pick(_LIKELY_TOP))]
    rows += [(e, f"{w.rng.randint(1, 100 - top)}%" if numeric else w.pick(_LIKELY_LOW)) for e in others]
    w.rng.shuffle(rows)
    col = w.pick(("Likelihood", "Confidence", "Evidence"))
    table = [
        f"| Emotion | {col} |",
        "|---|---|",
        *(f"| {_cap(w.word(e, 'noun', primary=False))} | {v} |" for e, v in rows),
    ]
    lead = w.pick(("Here is how the candidate emotions compare:", "Summary table:", ""))
    signs = w.signs(label, w.rng.randint(1, 2))
    return "\n".join([*signs, "", *([lead] if lead else []), *table]), ["scores", "side"]


def _family_ranked6(w: _Writer, label: str) -> tuple[str, list[str]]:
    mid, low = w.rng.sample([e for e in EMOTIONS if e != label], 2)
    names = [_cap(w.word(e, "noun", primary=False)) for e in (label, mid, low)]
    style = w.rng.randrange(3)
    if style == 0:
        lead = w.pick(("Top guesses, in order of likelihood:", "My ranking (most to least likely):"))
        body = "\n".join([lead, *(f"{i}) {n}" for i, n in enumerate(names, 1))])
    elif style == 1:
        body = f"Ranked from most to least likely: {names[0]} > {names[1]} > {names[2]}."
    else:
        body = (
            f"Ranked by likelihood: **{names[0]}** first, then {names[1].lower()}, then {names[2].lower()}."
        )
    return "\n".join([*w.signs(label, w.rng.randint(1, 2)), "", body]), ["side", "ranking"]


def _family_scores6(w: _Writer, label: str) -> tuple[str, list[str]]:
    others = w.rng.sample([e for e in EMOTIONS if e != label], w.rng.randint(1, 3))
    top = w.rng.randint(6, 9)
    rest = [w.rng.randint(0, top - 2) for _ in others]
    pairs = [(label, top), *zip(others, rest, strict=True)]
    w.rng.shuffle(pairs)
    names = [(_cap(w.word(e, "noun", primary=False)), v) for e, v in pairs]
    style = w.rng.randrange(3)
    if style == 0:
        body = "\n".join(f"- {n}: {v} out of 10" for n, v in names)
    elif style == 1:
        body = "Confidence: " + "; ".join(f"{n} {v * 10} %" for n, v in names)
    else:
        body = "\n".join(f"{n} — {v}/10" for n, v in names)
    return w.pick(("How strongly each emotion shows:\n", "Ratings:\n", "")) + body, ["scores"]


def _family_hedged6(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    close = w.pick((
        f"I can't be completely sure from a still image, but I'd say {w.he} looks {w.word(label, 'adj')}.",
        f"It's hard to tell with certainty; my best estimate is {w.word(label, 'noun')}.",
        f"With some caution, I'd go with {w.word(label, 'noun')}.",
    ))  # fmt: skip
    body = [
        *parts["open"],
        *_join_revision(parts["revision"], parts["signs"]),
        *parts["negation"],
        *parts["side"],
    ]
    return " ".join([*body, close]), traits


def _family_paragraph6(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    body = [w.pick(_OPENERS["heldout6"]), *parts["open"], *_join_revision(parts["revision"], parts["signs"])]
    extra = [*parts["negation"], *parts["side"]]
    return " ".join([*body, *extra]) + "\n\n" + statement, traits


def _family_qa6(w: _Writer, label: str) -> tuple[str, list[str]]:
    parts, traits = _clear_parts(w, label)
    statement = _statement(w, label, traits, tuple(parts["avoid"]))
    why = " ".join([*_join_revision(parts["revision"], parts["signs"]), *parts["negation"], *parts["side"]])
    q = w.pick(("**What emotion is shown?**", "**Which emotion fits best?**"))
    return "\n".join([*parts["open"], q, statement, "", "**Why?**", why]), traits


def _family_short6(w: _Writer, label: str) -> tuple[str, list[str]]:
    adj, noun = w.word(label, "adj"), w.word(label, "noun")
    return w.pick((f"Looks {adj} to me.", f"Definitely {noun}.", f"{_cap(adj)}, by the look of it.",
                   f"I'd say {noun}.")), []  # fmt: skip


_CLEAR_FAMILIES["heldout6"] = {
    "report6": _family_report6, "table6": _family_table6, "ranked6": _family_ranked6, "scores6": _family_scores6,
    "hedged6": _family_hedged6, "paragraph6": _family_paragraph6, "qa6": _family_qa6, "short6": _family_short6,
}  # fmt: skip


def _ambiguous6(w: _Writer, a: str, b: str, style: float) -> tuple[str, str, list[str]] | None:
    """``heldout6``'s own ambiguous layouts: tied ranks, equal table rows, equal scores."""
    na, nb = _cap(w.word(a, "noun", primary=False)), _cap(w.word(b, "noun", primary=False))
    c = _cap(w.word(w.other(a, b), "noun", primary=False))
    if style < 0.83:
        text = w.pick((f"Top guesses:\n1) {na} (joint first)\n1) {nb} (joint first)\n3) {c}",
                       f"Ranked by likelihood: {na} = {nb} > {c}."))  # fmt: skip
        return text, "ambiguous_ranked6", ["ambiguous"]
    if style < 0.89:
        level = w.pick(("High", "Moderate"))
        rows = [f"| {na} | {level} |", f"| {nb} | {level} |", f"| {c} | Low |"]
        return "\n".join(["| Emotion | Likelihood |", "|---|---|", *rows]), "ambiguous_table6", ["ambiguous"]
    if style < 0.94:
        v = w.rng.randint(4, 6)
        text = "\n".join([f"- {na}: {v} out of 10", f"- {nb}: {v} out of 10", f"- {c}: 1 out of 10"])
        return text, "ambiguous_scores6", ["ambiguous", "scores"]
    return None


# --------------------------------------------------------------------------------------------------
# Genuinely ambiguous responses and responses that assert no emotion


def _ambiguous(w: _Writer) -> tuple[str, str, list[str]]:
    a, b = w.pick(_CONFUSABLE)
    if w.rng.random() < 0.5:
        a, b = b, a
    style = w.rng.random()
    signs = w.signs(a, 1) + w.signs(b, 1)
    if style < 0.2:  # a score list with a tie at the top
        others = w.rng.sample([e for e in EMOTIONS if e not in (a, b)], w.rng.randint(0, 2))
        top = w.rng.choice((0.45, 0.4, 0.35))
        values = [
            top,
            top,
            *[round(w.rng.uniform(0.0, (1 - 2 * top) / max(1, len(others))), 2) for _ in others],
        ]
        lead = w.pick(("Emotion scores:", "Estimated probabilities:", ""))
        listing = _scores(w, [a, b, *others], values, w.rng.randrange(4))
        return lead + ("\n" if lead else "") + listing, "scores_tie", ["scores"]
    na, nb = w.word(a, "noun", primary=False), w.word(b, "noun", primary=False)
    statement = w.pick(w.bank["ambiguous"]).format(a=na, b=nb, A=_cap(na), B=_cap(nb))
    traits = ["ambiguous"]
    if style < 0.5:
        return " ".join([*signs, statement]), "ambiguous_prose", traits
    if style < 0.75:
        neg = w.other(a, b)
        extra = w.fill(w.pick(w.bank["negation"]), neg)
        traits.append("negation")
        text = (
            "### Observations\n"
            + "\n".join(f"- {s}" for s in signs)
            + f"\n\n### Conclusion\n{extra} {statement}"
        )
        return text, "ambiguous_sections", traits
    if w.part == "heldout6" and style >= 0.75:
        own = _ambiguous6(w, a, b, style)
        if own is not None:
            return own
    if w.part == "heldout3" and style < 0.85:  # a breakdown that ties
        text = f"Emotion breakdown:\n- Primary: {na} / {nb} (tied)\n- Absent: {w.word(w.other(a, b), 'noun', primary=False)}"
        return text, "ambiguous_breakdown", traits
    if w.part == "heldout5" and style < 0.84:  # two candidates ranked alike
        third = _cap(w.word(w.other(a, b), "noun", primary=False))
        text = "\n".join(
            ["Ranking the likely emotions:", f"1. {_cap(na)} / {_cap(nb)} (tied)", f"2. {third}"]
        )
        return text, "ambiguous_ranking", traits
    if w.part == "heldout5" and style < 0.93:  # the same level for two emotions
        level = w.pick(("moderate", "high"))
        c = _cap(w.word(w.other(a, b), "noun", primary=False))
        text = "\n".join(
            ["Emotion levels:", f"- {_cap(na)}: {level}", f"- {_cap(nb)}: {level}", f"- {c}: low"]
        )
        return text, "ambiguous_levels", traits
    if w.part == "heldout2" and style < 0.85:  # two candidates weighed alike, none chosen
        rows = [f"- **{_cap(na)}**: plausible.", f"- **{_cap(nb)}**: equally plausible."]
        text = "\n".join(["Weighing the candidate emotions:", *rows, "", "I can't pick one over the other."])
        return text, "ambiguous_candidates", traits
    # both asserted in one breath, neither above the other
    pair = w.pick(w.bank["ambiguous_pair"]).format(
        Who=_cap(w.who), he=w.he, a=w.word(a, "adj", primary=False), b=w.word(b, "adj", primary=False)
    )
    return " ".join([*signs, pair]), "ambiguous_pair", traits


def _none(w: _Writer) -> tuple[str, str, list[str]]:
    """Signs only, or only negated emotions: no label is asserted (``heldout5``: also a refusal or an
    unreadable face)."""
    if w.part == "heldout5" and w.rng.random() < 0.3:
        return w.pick((
            "I'm sorry, but I can't identify how a person feels from a photo.",
            "I'm not able to determine people's emotions from images.",
            "The face is too small and blurry for me to read an expression reliably.",
            "Most of the face is hidden behind a hand, so I can't judge the expression.",
        )), "none_refusal", []  # fmt: skip
    if w.part == "heldout6" and w.rng.random() < 0.3:
        return w.pick((
            "I'm unable to assess emotions from facial images.",
            "Sorry, I can't help with identifying emotions from a face.",
            "The face is turned away from the camera, so I can't read the expression.",
            "The image is too dark to make out the face, so I won't guess.",
        )), "none_refusal6", []  # fmt: skip
    e = w.pick(EMOTIONS)
    signs = w.signs(e, w.rng.randint(1, 3))
    if w.rng.random() < 0.5:
        n = w.other()
        return " ".join([*signs, w.fill(w.pick(w.bank["negation"]), n)]), "none_negated", ["negation"]
    if w.part == "heldout5":
        return "\n".join(["What I can see:", *(f"- {s}" for s in signs)]), "none_signs", []
    return " ".join(signs), "none_signs", []


# --------------------------------------------------------------------------------------------------
# heldout7: written and frozen before any text or failure of heldout6 was read and before any rule was
# tuned on it. A generator of its own (its own words, signs, families and phrasing of every cue); it
# shares nothing with the parts above but the label set.

# fmt: off
#: (adjectives, nouns) per emotion, everyday words an annotator reads without hesitation
_W7: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "happiness": (("happy", "cheerful", "joyful", "delighted", "pleased", "upbeat", "glad"),
                  ("happiness", "joy", "delight", "cheer", "good humour")),
    "sadness": (("sad", "unhappy", "downcast", "gloomy", "sorrowful", "glum", "tearful"),
                ("sadness", "sorrow", "grief", "gloom", "unhappiness")),
    "surprise": (("surprised", "astonished", "amazed", "startled", "stunned"),
                 ("surprise", "astonishment", "amazement")),
    "fear": (("afraid", "scared", "frightened", "fearful", "terrified", "panicked"),
             ("fear", "fright", "terror", "panic", "dread")),
    "disgust": (("disgusted", "revolted", "repulsed", "grossed out", "sickened"),
                ("disgust", "revulsion", "repulsion", "distaste")),
    "anger": (("angry", "furious", "irritated", "annoyed", "enraged", "irate"),
              ("anger", "rage", "fury", "irritation", "annoyance")),
    "contempt": (("contemptuous", "scornful", "disdainful", "sneering"),
                 ("contempt", "scorn", "disdain")),
    "neutral": (("neutral", "expressionless", "blank", "impassive"),
                ("a neutral expression", "neutrality", "a blank, neutral look")),
}
#: facial signs per emotion, without any emotion word
_SIGNS7: dict[str, tuple[str, ...]] = {
    "happiness": ("the cheeks are raised and the eyes crinkle at the corners", "a wide smile shows the upper teeth",
                  "the corners of the mouth are pulled up and back", "small crow's-feet lines appear by the eyes"),
    "sadness": ("the inner ends of the eyebrows are drawn up", "the lip corners sag downward",
                "the eyelids droop and the gaze is lowered", "the chin is slightly raised and puckered"),
    "surprise": ("the eyebrows are lifted high and curved", "the eyes are opened wide, showing white above the iris",
                 "the jaw has dropped, leaving the mouth open", "horizontal lines run across the forehead"),
    "fear": ("the brows are raised and pulled together", "the upper eyelids are lifted and the lower lids tense",
             "the lips are stretched back toward the ears", "the eyes are wide and fixed"),
    "disgust": ("the nose is wrinkled", "the upper lip is pulled up", "the cheeks are pushed up under the eyes",
                "the lower lip is pushed out slightly"),
    "anger": ("the brows are lowered and knitted together", "the lips are pressed firmly together",
              "the eyes are narrowed into a hard stare", "the nostrils are flared and the jaw is set"),
    "contempt": ("one corner of the mouth is tightened and raised", "the smirk is lopsided, on one side only",
                 "the head is tilted back slightly with a sidelong look", "only one lip corner moves"),
    "neutral": ("the facial muscles look relaxed", "the mouth is closed and level",
                "the brows sit in their resting position", "the gaze is steady and the face at rest"),
}
#: pairs a face can honestly leave undecided
_PAIRS7 = (("fear", "surprise"), ("anger", "disgust"), ("disgust", "contempt"), ("sadness", "fear"),
           ("happiness", "surprise"), ("sadness", "neutral"), ("anger", "contempt"), ("sadness", "disgust"))
_WHO7 = ("the person", "the woman", "the man", "the subject", "the child", "the older man", "the young woman")
_FILL7 = (
    "The photo is fairly sharp and the face is lit from the left.",
    "Only one frame is available, so there is no motion to go on.",
    "The background is plain and gives no extra context.",
    "Glasses partly cover the eyes, but the brows are visible.",
    "The head is turned a little to the side.",
    "Happy to walk through the reasoning in more detail if useful.",
    "Surprisingly, the image quality is good for a webcam shot.",
    "The content of the picture is a close-up portrait.",
    "A neutral grey wall fills the background.",
)
# fmt: on


class _Gen7:
    """The random choices of one heldout7 response."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.who = rng.choice(_WHO7)

    def pick(self, seq: Sequence[_T]) -> _T:
        return self.rng.choice(seq)

    def adj(self, e: str) -> str:
        return self.pick(_W7[e][0])

    def noun(self, e: str, side: bool = False) -> str:
        if side and e == "neutral":
            return "neutrality"
        return self.pick(_W7[e][1])

    def signs(self, e: str, k: int) -> list[str]:
        return [_cap(s) + "." for s in self.rng.sample(_SIGNS7[e], k)]

    def others(self, label: str, k: int) -> list[str]:
        return self.rng.sample([e for e in EMOTIONS if e != label and e != "neutral"], k)

    def negation(self, e: str) -> str:
        return self.pick((
            f"Nothing here suggests {self.noun(e, True)}.",
            f"I don't see any {self.noun(e, True)} in the face.",
            f"{_cap(self.noun(e, True))} can be excluded: the signs for it are missing.",
            f"It isn't {self.adj(e) if e != 'neutral' else 'neutral'}, though.",
            f"There is no hint of {self.noun(e, True)}.",
        ))  # fmt: skip

    def side(self, e: str) -> str:
        return self.pick((
            f"There may be a slight undertone of {self.noun(e, True)} as well.",
            f"A little {self.noun(e, True)} shows around the eyes too, but it is secondary.",
            f"Some faint {self.noun(e, True)} is mixed in, though much weaker.",
        ))  # fmt: skip

    def verdict(self, e: str) -> str:
        a, n = self.adj(e), self.noun(e)
        return self.pick((
            f"All things considered, I'd call this expression {a}.",
            f"My read: {n}.",
            f"The emotion on display is {n}.",
            f"So {self.who} looks {a}.",
            f"Putting it together, this is {n}.",
            f"Bottom line: {self.who} is {a}.",
            f"This face reads as {a}.",
        ))  # fmt: skip

    def body(self, label: str) -> list[str]:
        """Signs, maybe a negated and a side emotion, in an order a model would write them."""
        out = self.signs(label, self.rng.randint(1, 3))
        r = self.rng.random()
        if r < 0.35:
            out.append(self.negation(self.pick([e for e in EMOTIONS if e != label])))
        if self.rng.random() < 0.3 and label != "neutral":
            out.append(self.side(self.others(label, 1)[0]))
        if self.rng.random() < 0.25:
            out.insert(0, self.pick(_FILL7))
        return out


def _h7_prose(g: _Gen7, label: str) -> str:
    parts = g.body(label)
    if g.rng.random() < 0.3:  # a first impression, then revised
        first = g.others(label, 1)[0]
        parts.insert(0, g.pick((
            f"At first glance this could pass for {g.noun(first, True)}.",
            f"My first thought was {g.noun(first, True)}.",
        )))  # fmt: skip
        parts.append(g.pick((
            f"On a closer look, though, it is {g.noun(label)} rather than {g.noun(first, True)}.",
            f"Looking again, that first impression was wrong: the face is {g.adj(label)}.",
        )))  # fmt: skip
    else:
        parts.append(g.verdict(label))
    return " ".join(parts)


def _h7_markdown(g: _Gen7, label: str) -> str:
    head = g.pick((("### What I see", "### What it suggests", "### Verdict"),
                   ("**Facial cues**", "**Reading**", "**Final call**"),
                   ("## Observations", "## Analysis", "## Result")))  # fmt: skip
    cues = "\n".join(f"- {s}" for s in g.signs(label, g.rng.randint(2, 3)))
    mid = [f"Together these cues point to {g.noun(label)}."]
    if g.rng.random() < 0.4:
        mid.append(g.negation(g.pick([e for e in EMOTIONS if e != label])))
    side = g.others(label, 1)[0] if label != "neutral" and g.rng.random() < 0.4 else None
    if side:
        mid.append(g.side(side))
    n = g.noun(label)
    final = g.pick((
        f"**{_cap(n)}**" + (f", with a little {g.noun(side, True)}." if side else "."),
        f"{_cap(g.adj(label))}.",
        f"The expression is best described as {g.adj(label)}.",
    ))  # fmt: skip
    return f"{head[0]}\n{cues}\n\n{head[1]}\n{' '.join(mid)}\n\n{head[2]}\n{final}"


def _h7_ranked(g: _Gen7, label: str) -> str:
    rest = g.others(label, 2)
    style = g.rng.randrange(4)
    if style == 0:
        notes = (g.pick(("strongest cues", "fits best", "clearest match")),
                 g.pick(("possible", "a weaker fit", "some overlap")),
                 g.pick(("unlikely", "barely any support", "doesn't match")))  # fmt: skip
        lines = [f"{i}. **{_cap(e)}** – {note}" if i == 1 else f"{i}. {_cap(e)} – {note}"
                 for i, (e, note) in enumerate(zip([label, *rest], notes, strict=True), 1)]  # fmt: skip
        return "Candidates, most to least likely:\n" + "\n".join(lines)
    if style == 1:
        return " ".join(g.signs(label, 2)) + f" In order of likelihood: {label} > {rest[0]} > {rest[1]}."
    if style == 2:
        return (
            " ".join(g.signs(label, 1)) + f" Ranking (most to least likely): {_cap(label)}, {rest[0]}, "
            f"{rest[1]}."
        )
    return f"Top pick: {label}. Runner-up: {rest[0]}. Ruled out: {rest[1]}. " + " ".join(g.signs(label, 1))


def _h7_table(g: _Gen7, label: str) -> str:
    rest = g.others(label, g.rng.randint(2, 3))
    if g.rng.random() < 0.5:
        top, low = ("Strong",), ("Moderate", "Weak", "Unlikely", "Ruled out")
        head = "| Candidate | Fit |\n|---|---|"
        rows = [f"| {_cap(label)} | {g.pick(top)} |"] + [f"| {_cap(e)} | {g.pick(low[1:])} |" for e in rest]
    else:
        vals = sorted((g.rng.randint(3, 20) for _ in rest), reverse=True)
        head = "| Emotion | Probability |\n|:--|--:|"
        rows = [f"| {_cap(label)} | {100 - sum(vals)}% |"] + [f"| {_cap(e)} | {v}% |" for e, v in
                                                              zip(rest, vals, strict=True)]  # fmt: skip
    if g.rng.random() < 0.5:
        g.rng.shuffle(rows)
    lead = g.pick(("How well each emotion fits the face:", "Assessment:", ""))
    tail = g.pick(("", "", f"\n\nMost probable: {label}."))
    return (lead + "\n\n" if lead else "") + head + "\n" + "\n".join(rows) + tail


def _h7_scores(g: _Gen7, label: str) -> str:
    rest = g.others(label, g.rng.randint(1, 3))
    top = g.rng.randint(50, 85)
    cap = min((100 - top) // len(rest), top - 15)
    vals = [top, *sorted((g.rng.randint(0, cap) for _ in rest), reverse=True)]
    pairs = list(zip([label, *rest], vals, strict=True))
    style = g.rng.randrange(5)
    if style == 0:
        items = [f"{e}={v / 100:.2f}" for e, v in pairs]
    elif style == 1:
        items = [f"{e} ({v}%)" for e, v in pairs]
    elif style == 2:
        items = [f"P({e}) = {v / 100:.2f}" for e, v in pairs]
    elif style == 3:
        items = [f"{e}: {round(v / 10)}/10" for e, v in pairs]
        if len({round(v / 10) for _, v in pairs[:2]}) < 2:
            items[0] = f"{label}: {round(top / 10) + 1}/10"
    else:
        items = [f"{e} — {v} out of 100" for e, v in pairs]
    lead = g.pick(("Scores:", "Estimated likelihoods:", "Confidence per emotion:", ""))
    sep = g.pick((", ", "; ", "\n"))
    return (lead + (" " if lead and sep != "\n" else "\n" if lead else "")) + sep.join(items)


def _h7_hedged(g: _Gen7, label: str) -> str:
    side = g.others(label, 1)[0]
    a, n = g.adj(label), g.noun(label)
    end = g.pick((
        f"It's hard to be certain from a single frame, but I'd lean towards {n}.",
        f"If I had to pick one, {n}.",
        f"Probably {a}, though a bit of {g.noun(side, True)} can't be fully excluded.",
        f"My best guess is {n}, with moderate confidence.",
        f"I'm not completely sure, but the face seems {a}.",
    ))  # fmt: skip
    return " ".join([*g.signs(label, g.rng.randint(1, 2)), end])


def _h7_short(g: _Gen7, label: str) -> str:
    a, n = g.adj(label), g.noun(label)
    return g.pick((
        f"{_cap(a)}.", f"Emotion: {label} (moderate confidence).", f"{_cap(g.who)} appears {a}.",
        f"Looks {a} to me.", f"I'd say {n}.", f"Expression → {label}",
    ))  # fmt: skip


_FAMILIES7: dict[str, Callable[[_Gen7, str], str]] = {
    "prose7": _h7_prose, "markdown7": _h7_markdown, "ranked7": _h7_ranked, "table7": _h7_table,
    "scores7": _h7_scores, "hedged7": _h7_hedged, "short7": _h7_short,
}  # fmt: skip


def _h7_ambiguous(g: _Gen7) -> tuple[str, str]:
    a, b = g.pick(_PAIRS7)
    if g.rng.random() < 0.5:
        a, b = b, a
    na, nb = g.noun(a, True), g.noun(b, True)
    signs = " ".join(g.signs(a, 1) + g.signs(b, 1))
    style = g.rng.randrange(6)
    if style == 0:
        return signs + " " + g.pick((
            f"It's a toss-up between {na} and {nb}.",
            f"The cues fit {na} and {nb} equally well; I can't separate them.",
            f"Somewhere between {na} and {nb}, and neither clearly wins.",
            f"Could be {na} or {nb}; the face supports both about equally.",
        )), "ambiguous_prose7"  # fmt: skip
    if style == 1:
        return (
            f"### What I see\n- {g.signs(a, 1)[0]}\n- {g.signs(b, 1)[0]}\n\n### Verdict\n"
            f"{_cap(na)} or {nb}: the evidence is split evenly."
        ), "ambiguous_markdown7"
    if style == 2:
        level = g.pick(("Strong", "Moderate"))
        rest = g.others(a, 3)
        rest = [e for e in rest if e != b][:2]
        rows = [f"| {_cap(a)} | {level} |", f"| {_cap(b)} | {level} |"] + [
            f"| {_cap(e)} | Weak |" for e in rest
        ]
        return "| Candidate | Fit |\n|---|---|\n" + "\n".join(rows), "ambiguous_table7"
    if style == 3:
        v = g.pick((40, 45, 35))
        return (f"Estimated likelihoods: {a} ({v}%), {b} ({v}%), other ({100 - 2 * v}%)"), "ambiguous_scores7"
    if style == 4:
        third = g.pick([e for e in EMOTIONS if e not in (a, b)])
        return (
            f"1. {_cap(a)} / {_cap(b)} (tied) – both fit the face\n2. {_cap(third)} – weak",
            "ambiguous_ranked7",
        )
    return (
        signs + f" {_cap(g.who)} looks both {g.adj(a)} and {g.adj(b)}, and I can't say which is stronger.",
        "ambiguous_both7",
    )


def _h7_none(g: _Gen7) -> tuple[str, str]:
    r = g.rng.random()
    if r < 0.4:
        return g.pick((
            "I can't tell what this person is feeling: the face is turned away from the camera.",
            "There is no face in this image, so I can't name an emotion.",
            "I'm unable to judge emotions of real people from photos.",
            "The face is heavily blurred; no expression can be read from it.",
        )), "none_refusal7"  # fmt: skip
    if r < 0.7:
        e1, e2 = g.rng.sample([e for e in EMOTIONS if e != "neutral"], 2)
        return (
            f"{g.pick(_FILL7)} I don't see any {g.noun(e1, True)}, and nothing here suggests "
            f"{g.noun(e2, True)}. The lower half of the face is hidden, so I won't guess."
        ), "none_negated7"
    return (
        " ".join(g.signs(g.pick(EMOTIONS), 1))
        + " "
        + g.pick(_FILL7)
        + " That alone isn't enough for me to name an emotion."
    ), "none_signs7"


def _make_heldout7(rng: random.Random) -> FreeText:
    """One heldout7 response (80 % clear, 13 % ambiguous, 7 % without any emotion asserted)."""
    g = _Gen7(rng)
    r = rng.random()
    if r < 0.13:
        text, family = _h7_ambiguous(g)
        return FreeText(text, "ambiguous", None, "heldout7", family, ("ambiguous",))
    if r < 0.2:
        text, family = _h7_none(g)
        return FreeText(text, "none", None, "heldout7", family, ())
    label = rng.choice(EMOTIONS)
    family = rng.choice(sorted(_FAMILIES7))
    text = _FAMILIES7[family](g, label)
    traits: tuple[str, ...] = ()
    if family in ("prose7", "markdown7", "hedged7") and rng.random() < 0.3:
        text = " ".join(rng.sample(_FILL7, 2)) + "\n\n" + text
        traits = ("long",)
    return FreeText(text, "clear", label, "heldout7", family, traits)


# --------------------------------------------------------------------------------------------------
# heldout8: written and frozen before any text or failure of heldout7 was read and before any rule was
# tuned on it. A generator of its own (its own words, facial cues, families and phrasing of every cue);
# it shares nothing with the parts above but the label set.

# fmt: off
#: (adjectives, nouns) per emotion: everyday words an annotator reads without hesitation
_W8: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "happiness": (("happy", "joyful", "cheerful", "delighted", "smiling and happy", "overjoyed"),
                  ("happiness", "joy", "delight", "glee")),
    "sadness": (("sad", "unhappy", "sorrowful", "miserable", "heartbroken", "downhearted"),
                ("sadness", "sorrow", "grief", "misery")),
    "surprise": (("surprised", "astonished", "amazed", "shocked", "taken aback"),
                 ("surprise", "astonishment", "amazement", "shock")),
    "fear": (("scared", "frightened", "terrified", "afraid", "fearful"),
             ("fear", "terror", "fright", "dread")),
    "disgust": (("disgusted", "repulsed", "revolted", "nauseated"),
                ("disgust", "revulsion", "repugnance")),
    "anger": (("angry", "furious", "enraged", "livid", "mad"),
              ("anger", "rage", "fury", "hostility")),
    "contempt": (("contemptuous", "scornful", "disdainful", "condescending"),
                 ("contempt", "scorn", "disdain", "derision")),
    "neutral": (("neutral", "expressionless", "emotionless", "deadpan"),
                ("neutrality", "a neutral expression", "a neutral state")),
}
#: what the face shows, without any emotion word
_CUES8: dict[str, tuple[str, ...]] = {
    "happiness": ("a broad grin", "lifted cheeks that narrow the eyes", "upturned lip corners"),
    "sadness": ("downturned lip corners", "heavy, lowered eyelids", "inner brows pulled upward"),
    "surprise": ("eyebrows shot high on the forehead", "a dropped jaw", "eyes opened very wide"),
    "fear": ("wide eyes with tense lower lids", "lips stretched back toward the ears", "brows raised and knit"),
    "disgust": ("a wrinkled nose", "a raised upper lip", "narrowed eyes and a pulled-back mouth"),
    "anger": ("brows lowered and pressed together", "a hard, glaring stare", "tightly pressed lips"),
    "contempt": ("one lip corner raised on a single side", "a half-smirk", "a head tilted back, looking down"),
    "neutral": ("relaxed brows", "a closed, level mouth", "a steady, unremarkable gaze"),
}
_OPEN8 = ("Looking at this photo:", "Here is my assessment.", "Based on the image provided:",
          "Let me walk through what I notice.", "")
_FILL8 = ("The lighting is soft and the face is in sharp focus.", "The person appears to be indoors.",
          "The photo is cropped close around the head and shoulders.",
          "Expressions can be subtle, so I focus on the eyes and mouth.",
          "Hair partly covers the forehead, but the features are visible.")
# fmt: on


class _Gen8:
    """The random choices of one heldout8 response."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, seq: Sequence[_T]) -> _T:
        return self.rng.choice(seq)

    def adj(self, e: str) -> str:
        return self.pick(_W8[e][0])

    def noun(self, e: str) -> str:
        return self.pick(_W8[e][1])

    def cues(self, e: str) -> str:
        a, b = self.rng.sample(_CUES8[e], 2)
        return f"{a} and {b}"

    def other(self, e: str, k: int = 1) -> list[str]:
        return self.rng.sample([x for x in EMOTIONS if x != e and x != "neutral"], k)

    def side(self, e: str, s: str) -> str:
        """A subordinate mention of ``s`` beside the main emotion."""
        return self.pick(
            (
                f"There might be a faint trace of {self.noun(s)} as well, but it is minor.",
                f"A slight hint of {self.noun(s)} is possible, though it is secondary.",
                f"Some might read a little {self.noun(s)} in it, but that is not the main signal.",
            )
        )

    def negated(self, s: str) -> str:
        return self.pick(
            (
                f"I don't see any {self.noun(s)} here.",
                f"Nothing about the face suggests {self.noun(s)}.",
                f"It does not look {self.adj(s)}.",
                f"There is no sign of {self.noun(s)}.",
            )
        )

    def verdict(self, e: str) -> str:
        return self.pick(
            (
                f"The emotion shown is {self.noun(e)}.",
                f"This person looks {self.adj(e)}.",
                f"I would classify this expression as {self.noun(e)}.",
                f"Overall, the expression is best described as {self.noun(e)}.",
                f"The person is clearly {self.adj(e)}.",
            )
        )

    def name(self, e: str) -> str:
        """A row or list name: a noun, or the bare word for a neutral face."""
        return "Neutral" if e == "neutral" else _cap(self.noun(e))


def _h8_prose(g: _Gen8, e: str) -> str:
    s = g.other(e)[0]
    body = [g.pick(_OPEN8), f"The face shows {g.cues(e)}."]
    body.append(g.pick((g.side(e, s), g.negated(s), "")))
    body.append(g.verdict(e))
    return " ".join(x for x in body if x)


def _h8_sections(g: _Gen8, e: str) -> str:
    s = g.other(e)[0]
    head = g.pick(("###", "**", "##"))

    def h(t: str) -> str:
        return f"**{t}**" if head == "**" else f"{head} {t}"

    a, b = g.rng.sample(_CUES8[e], 2)
    return "\n".join(
        [
            h("Facial cues"),
            f"- {a}",
            f"- {b}",
            "",
            h("Interpretation"),
            f"These cues point to {g.noun(e)}. {g.pick((g.negated(s), g.side(e, s)))}",
            "",
            h(g.pick(("Verdict", "Final answer", "Result"))),
            g.pick((f"**{_cap(g.noun(e))}**", f"{_cap(g.adj(e))}.", f"Emotion: {g.noun(e)}")),
        ]
    )


def _h8_ranked(g: _Gen8, e: str) -> str:
    s, t = g.other(e, 2)
    if g.rng.random() < 0.5:
        return "\n".join(
            [
                "Top candidates:",
                f"1. {g.name(e)} - {g.cues(e)}",
                f"2. {g.name(s)} - possible, but much less convincing",
                f"3. {g.name(t)} - unlikely",
                "",
                f"So my pick is {g.noun(e)}.",
            ]
        )
    return g.pick(
        (
            f"Ranking (most to least likely): {g.noun(e)} > {g.noun(s)} > {g.noun(t)}.",
            f"From most to least likely: {g.noun(e)}, then {g.noun(s)}, then {g.noun(t)}.",
        )
    )


def _h8_table(g: _Gen8, e: str) -> str:
    s, t = g.other(e, 2)
    hi = g.rng.randint(65, 90)
    mid = g.rng.randint(5, 100 - hi - 2)
    rows = [(e, hi), (s, mid), (t, 100 - hi - mid)]
    g.rng.shuffle(rows)
    return "\n".join(
        [
            "| Emotion | Confidence |",
            "|---|---|",
            *[f"| {g.name(x)} | {v}% |" for x, v in rows],
            "",
            g.pick((f"The most probable emotion is {g.noun(e)}.", "The highest-confidence row wins.", "")),
        ]
    )


def _h8_scores(g: _Gen8, e: str) -> str:
    s, t = g.other(e, 2)
    hi = g.rng.randint(55, 85) / 100
    mid = round(g.rng.uniform(0.05, 1 - hi - 0.03), 2)
    lo = round(1 - hi - mid, 2)
    trio = [(e, hi), (s, mid), (t, lo)]
    g.rng.shuffle(trio)
    style = g.rng.randrange(3)
    if style == 0:
        return "Scores: " + "; ".join(f"{x}={v:.2f}" for x, v in trio)
    if style == 1:
        return "Estimated probabilities: " + ", ".join(f"{x} ({round(v * 100)}%)" for x, v in trio) + "."
    return "\n".join(f"{_cap(x)} - {round(v * 10)}/10" for x, v in trio)


def _h8_hedged(g: _Gen8, e: str) -> str:
    return " ".join(
        [
            f"I notice {g.cues(e)}.",
            g.pick(
                (
                    f"I'm not entirely certain, but I'd lean toward {g.noun(e)}.",
                    f"It is hard to be sure from a single frame; my best guess is {g.noun(e)}.",
                    f"With moderate confidence, I'd say the person is {g.adj(e)}.",
                    f"Probably {g.noun(e)}, though the image is small.",
                )
            ),
        ]
    )


def _h8_short(g: _Gen8, e: str) -> str:
    return g.pick(
        (
            f"{_cap(g.adj(e))}.",
            f"The person appears {g.adj(e)}.",
            f"Emotion detected: {g.noun(e)}",
            f"Looks {g.adj(e)} to me.",
        )
    )


_FAMILIES8: dict[str, Callable[[_Gen8, str], str]] = {
    "prose8": _h8_prose, "sections8": _h8_sections, "ranked8": _h8_ranked, "table8": _h8_table,
    "scores8": _h8_scores, "hedged8": _h8_hedged, "short8": _h8_short,
}  # fmt: skip


def _h8_ambiguous(g: _Gen8) -> tuple[str, str]:
    a, b = g.rng.sample(EMOTIONS, 2)
    style = g.rng.randrange(4)
    if style == 0:
        return (
            f"The face shows {g.cues(a)}, but also {g.cues(b)}. It could be {g.noun(a)} or "
            f"{g.noun(b)}; I can't tell which from this image.",
            "either8",
        )
    if style == 1:
        v = g.rng.randint(35, 48)
        return "\n".join(
            ["| Emotion | Confidence |", "|---|---|", f"| {g.name(a)} | {v}% |", f"| {g.name(b)} | {v}% |"]
        ), "tie_table8"
    if style == 2:
        p = g.rng.randint(3, 5) / 10
        return f"Scores: {a}={p:.2f}; {b}={p:.2f}", "tie_scores8"
    return (f"I'm torn between {g.noun(a)} and {g.noun(b)}: the evidence supports both equally.", "torn8")


def _h8_none(g: _Gen8) -> tuple[str, str]:
    return g.pick(
        (
            "I can't determine an emotion: the face is turned away from the camera.",
            "The image is too blurry to judge any facial expression.",
            "No face is visible in this picture, so I can't answer.",
            "Sorry, I'm unable to assess the emotion in this image.",
        )
    ), "refusal8"


def _make_heldout8(rng: random.Random) -> FreeText:
    """One heldout8 response (80 % clear, 13 % ambiguous, 7 % without any emotion asserted)."""
    g = _Gen8(rng)
    r = rng.random()
    if r < 0.13:
        text, family = _h8_ambiguous(g)
        return FreeText(text, "ambiguous", None, "heldout8", family, ("ambiguous",))
    if r < 0.2:
        text, family = _h8_none(g)
        return FreeText(text, "none", None, "heldout8", family, ())
    label = rng.choice(EMOTIONS)
    family = rng.choice(sorted(_FAMILIES8))
    text = _FAMILIES8[family](g, label)
    traits: tuple[str, ...] = ()
    if family in ("prose8", "sections8", "hedged8") and rng.random() < 0.3:
        text = " ".join(rng.sample(_FILL8, 2)) + "\n\n" + text
        traits = ("long",)
    return FreeText(text, "clear", label, "heldout8", family, traits)


# --------------------------------------------------------------------------------------------------


def make_freetext(rng: random.Random, part: str = "tuning") -> FreeText:
    """One response of ``part`` (80 % clear, 15 % ambiguous, 5 % without any emotion asserted)."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; valid: {', '.join(PARTS)}")
    if part == "heldout7":
        return _make_heldout7(rng)
    if part == "heldout8":
        return _make_heldout8(rng)
    w = _Writer(rng, part)
    r = rng.random()
    if r < 0.15:
        text, family, traits = _ambiguous(w)
        return FreeText(text, "ambiguous", None, part, family, tuple(traits))
    if r < 0.2:
        text, family, traits = _none(w)
        return FreeText(text, "none", None, part, family, tuple(traits))
    label = rng.choice(EMOTIONS)
    families = _CLEAR_FAMILIES[part]
    family = rng.choice(sorted(families))
    text, traits = families[family](w, label)
    if rng.random() < 0.3 and family not in ("short", "scores"):  # a longer response
        text = _lengthen(w, text)
        traits.append("long")
    return FreeText(text, "clear", label, part, family, tuple(dict.fromkeys(traits)))


def freetext_corpus(n: int, part: str = "tuning", seed: int = 0) -> list[FreeText]:
    """``n`` responses of ``part``, reproducible from ``seed`` (each part has its own seed range)."""
    rng = random.Random(_SEED_OFFSET[part] + seed)
    return [make_freetext(rng, part) for _ in range(n)]


@dataclass(frozen=True)
class Figures:
    """How well a reader did on a corpus (shares in [0, 1]; None when the denominator is empty)."""

    clear: int  # clear texts
    recovered: float | None  # clear texts whose intended label was returned
    committed: int  # texts given a label (clear, ambiguous and none alike)
    right_when_committed: float | None  # among them, the intended label (ambiguous / none: never right)
    ambiguous: int  # genuinely ambiguous texts
    ambiguity_kept: float | None  # among them, the share left ``ambiguous``
    none: int  # texts that assert no emotion
    none_kept: float | None  # among them, the share given no label


def measure(items: list[FreeText], read: Callable[[str], tuple[str, str | None]]) -> Figures:
    """The figures of ``read`` (text -> (status, label)) on ``items``."""

    def share(num: int, den: int) -> float | None:
        return num / den if den else None

    clear = recovered = committed = right = amb = amb_kept = none = none_kept = 0
    for item in items:
        status, label = read(item.text)
        given = status == "ok" and label is not None
        committed += given
        right += given and label == item.label
        if item.kind == "clear":
            clear += 1
            recovered += given and label == item.label
        elif item.kind == "ambiguous":
            amb += 1
            amb_kept += status == "ambiguous"
        else:
            none += 1
            none_kept += not given
    return Figures(clear, share(recovered, clear), committed, share(right, committed), amb,
                   share(amb_kept, amb), none, share(none_kept, none))  # fmt: skip
