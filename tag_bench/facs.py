"""FACS catalogue: Action Units, EMFACS emotion prototypes and the emotion vocabulary.

AU codes are written ``AU1`` … ``AU45`` internally (no zero padding). Prototypes follow
``docs/au-reference.md``, "EMFACS prototypes" (EMFACS-7 / FACS Investigator's Guide, as tabulated by
OpenDBM and Wikipedia, with the variants and Du, Tao & Martinez 2014).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tag_bench.schema import CANONICAL_EMOTIONS


@dataclass(frozen=True)
class ActionUnit:
    number: int
    name: str
    muscles: str
    region: str  # brow, eye, cheek, nose, mouth, chin, jaw

    @property
    def code(self) -> str:
        return f"AU{self.number}"


_AUS = [
    ActionUnit(1, "Inner Brow Raiser", "frontalis (pars medialis)", "brow"),
    ActionUnit(2, "Outer Brow Raiser", "frontalis (pars lateralis)", "brow"),
    ActionUnit(4, "Brow Lowerer", "corrugator supercilii, depressor supercilii, procerus", "brow"),
    ActionUnit(5, "Upper Lid Raiser", "levator palpebrae superioris", "eye"),
    ActionUnit(6, "Cheek Raiser", "orbicularis oculi (pars orbitalis)", "cheek"),
    ActionUnit(7, "Lid Tightener", "orbicularis oculi (pars palpebralis)", "eye"),
    ActionUnit(9, "Nose Wrinkler", "levator labii superioris alaeque nasi", "nose"),
    ActionUnit(10, "Upper Lip Raiser", "levator labii superioris", "mouth"),
    ActionUnit(11, "Nasolabial Deepener", "zygomaticus minor", "cheek"),
    ActionUnit(12, "Lip Corner Puller", "zygomaticus major", "mouth"),
    ActionUnit(14, "Dimpler", "buccinator", "mouth"),
    ActionUnit(15, "Lip Corner Depressor", "depressor anguli oris (triangularis)", "mouth"),
    ActionUnit(16, "Lower Lip Depressor", "depressor labii inferioris", "mouth"),
    ActionUnit(17, "Chin Raiser", "mentalis", "chin"),
    ActionUnit(20, "Lip Stretcher", "risorius, platysma", "mouth"),
    ActionUnit(23, "Lip Tightener", "orbicularis oris", "mouth"),
    ActionUnit(24, "Lip Pressor", "orbicularis oris", "mouth"),
    ActionUnit(
        25, "Lips Part", "depressor labii inferioris, relaxation of mentalis or orbicularis oris", "mouth"
    ),
    ActionUnit(26, "Jaw Drop", "masseter, relaxed temporalis and internal pterygoid", "jaw"),
    ActionUnit(27, "Mouth Stretch", "pterygoids, digastric", "jaw"),
    ActionUnit(28, "Lip Suck", "orbicularis oris", "mouth"),
    ActionUnit(
        43,
        "Eyes Closed",
        "relaxation of levator palpebrae superioris; orbicularis oculi (pars palpebralis)",
        "eye",
    ),
    ActionUnit(
        45, "Blink", "relaxation of levator palpebrae superioris; orbicularis oculi (pars palpebralis)", "eye"
    ),
]

#: The AU catalogue keyed by code ("AU12").
AU_CATALOGUE: dict[str, ActionUnit] = {au.code: au for au in _AUS}
AU_CODES: tuple[str, ...] = tuple(AU_CATALOGUE)

#: AUs that are not evidence of an emotion on their own (eye closure, blink, lips apart at rest).
NON_EXPRESSIVE_AUS: frozenset[str] = frozenset({"AU25", "AU43", "AU45"})

_AU_RE = re.compile(r"^\s*(?:action\s*unit|au)\s*[-_#:]?\s*0*(\d{1,2})\s*$", re.IGNORECASE)


def au_code(value: str | int) -> str | None:
    """Normalise an AU mention to ``AU<n>``: ``AU01``, ``AU 12``, ``au12``, ``Action Unit 4``, 12.

    Returns None for anything that is not an AU code. Numbers outside FACS (0, > 46, 3, 8 …) are
    still returned as codes when written as AUs; catalogue membership is the caller's decision.
    """
    if isinstance(value, int):
        return f"AU{value}" if 0 < value < 100 else None
    return _au_code_str(value)


@lru_cache(maxsize=4096)  # scoring normalises the same few dozen spellings millions of times
def _au_code_str(value: str) -> str | None:
    m = _AU_RE.match(value)
    if not m:
        return None
    n = int(m.group(1))
    return f"AU{n}" if n > 0 else None


def au_sort_key(code: str) -> int:
    return int(code[2:]) if code[2:].isdigit() else 999


# --------------------------------------------------------------------------------------------------
# EMFACS prototypes: the first set of each emotion is the most-cited form, the rest are variants.

EMFACS_PROTOTYPES: dict[str, tuple[frozenset[str], ...]] = {
    "happiness": (
        frozenset({"AU6", "AU12"}),
        frozenset({"AU6", "AU12", "AU25"}),
        frozenset({"AU12", "AU25"}),
    ),
    "sadness": (
        frozenset({"AU1", "AU4", "AU15"}),
        frozenset({"AU1", "AU4", "AU6", "AU15"}),
        frozenset({"AU1", "AU4", "AU15", "AU17"}),
        frozenset({"AU4", "AU15"}),
    ),
    "surprise": (
        frozenset({"AU1", "AU2", "AU5", "AU26"}),
        frozenset({"AU1", "AU2", "AU25", "AU26"}),
        frozenset({"AU1", "AU2", "AU5", "AU25", "AU26"}),
    ),
    "fear": (
        frozenset({"AU1", "AU2", "AU4", "AU5", "AU7", "AU20", "AU26"}),
        frozenset({"AU1", "AU2", "AU4", "AU5", "AU20", "AU26"}),
        frozenset({"AU1", "AU2", "AU4", "AU5", "AU20", "AU25"}),
        frozenset({"AU1", "AU4", "AU20", "AU25"}),
    ),
    "anger": (
        frozenset({"AU4", "AU5", "AU7", "AU23"}),
        frozenset({"AU4", "AU5", "AU7", "AU24"}),
        frozenset({"AU4", "AU7", "AU24"}),
    ),
    "disgust": (
        frozenset({"AU9", "AU15", "AU16"}),
        frozenset({"AU4", "AU10", "AU17"}),
        frozenset({"AU9", "AU10", "AU17"}),
    ),
    "contempt": (frozenset({"AU12", "AU14"}),),
    "neutral": (frozenset(),),
}


def prototype_aus(emotion: str) -> frozenset[str]:
    """Every AU that appears in any prototype or variant of ``emotion``."""
    out: set[str] = set()
    for variant in EMFACS_PROTOTYPES.get(emotion, ()):
        out |= variant
    return frozenset(out)


def prototype_similarity(cited: set[str] | frozenset[str], emotion: str) -> float:
    """Best Jaccard overlap between ``cited`` AUs and any prototype variant of ``emotion``.

    Neutral scores 1.0 only when no expressive AU is cited, else 0.0.
    """
    return _prototype_similarity(frozenset(cited), emotion)


@lru_cache(maxsize=65536)  # few distinct AU sets occur in practice; scoring asks again and again
def _prototype_similarity(cited: frozenset[str], emotion: str) -> float:
    expressive = cited - NON_EXPRESSIVE_AUS
    if emotion == "neutral":
        return 1.0 if not expressive else 0.0
    best = 0.0
    for variant in EMFACS_PROTOTYPES.get(emotion, ()):
        union = variant | cited
        if union:
            best = max(best, len(variant & cited) / len(union))
    return best


def best_matching_emotions(
    cited: set[str] | frozenset[str], classes: list[str] | tuple[str, ...]
) -> set[str]:
    """The emotions among ``classes`` whose prototypes overlap ``cited`` the most (ties kept)."""
    return set(_best_matching(frozenset(cited), tuple(classes)))


@lru_cache(maxsize=65536)
def _best_matching(cited: frozenset[str], classes: tuple[str, ...]) -> frozenset[str]:
    scores = {c: _prototype_similarity(cited, c) for c in classes if c in EMFACS_PROTOTYPES}
    if not scores:
        return frozenset()
    top = max(scores.values())
    return frozenset(c for c, s in scores.items() if s == top)


# --------------------------------------------------------------------------------------------------
# Emotion vocabulary: what models actually write, mapped to the canonical names. This is the one
# lexicon: answer labels ("<answer>joyful</answer>"), dataset folder names and the free-text reader
# (tag_bench/parsing/prose.py) all read it; docs/parsing.md lists it (generated from here).


@dataclass(frozen=True)
class EmotionWords:
    """The words of one canonical emotion, by form. Several-word entries match any run of spaces,
    hyphens or underscores between their words."""

    names: tuple[str, str]  # the canonical name and its plain adjective: read without a synonym note
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    adverbs: tuple[str, ...]
    #: words that describe a face as often as they name a feeling ("relaxed brow", "smiling mouth",
    #: "the content of the image"): in prose they count only when said of the person and nothing
    #: stronger is named; as an answer label they map like any other word
    descriptive: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys((*self.names, *self.adjectives, *self.nouns, *self.adverbs, *self.descriptive))
        )


# fmt: off
EMOTION_LEXICON: dict[str, EmotionWords] = {
    "neutral": EmotionWords(
        ("neutral", "neutrality"),
        adjectives=("expressionless", "emotionless", "impassive", "indifferent", "stoic", "deadpan", "unemotional",
                    "poker-faced", "straight-faced", "composed", "placid", "unexpressive"),
        nouns=("no emotion", "no expression", "neutral expression", "neutral face", "blank expression",
               "no particular emotion", "no clear emotion", "no discernible emotion", "no strong emotion",
               "no visible emotion", "no apparent emotion", "no obvious emotion", "no specific emotion",
               "poker face", "composure", "impassivity", "equanimity", "flat affect", "resting face",
               "resting expression"),
        adverbs=("impassively", "stoically", "expressionlessly"),
        descriptive=("calm", "blank", "relaxed", "calmly", "blankly"),
    ),
    "happiness": EmotionWords(
        ("happiness", "happy"),
        adjectives=("joyful", "joyous", "glad", "pleased", "delighted", "cheerful", "amused", "elated", "gleeful",
                    "jovial", "merry", "overjoyed", "ecstatic", "euphoric", "thrilled", "jubilant", "blissful",
                    "upbeat", "lighthearted", "light-hearted", "beaming", "happier", "happiest", "exuberant",
                    "cheery", "good-humored", "good-humoured", "contented", "in high spirits", "in a good mood"),
        nouns=("joy", "delight", "cheerfulness", "glee", "elation", "amusement", "contentment", "pleasure",
               "joyfulness", "merriment", "bliss", "euphoria", "jubilation", "exuberance", "gladness",
               "good humor", "good humour", "high spirits", "cheer", "good cheer", "lightheartedness",
               "light-heartedness"),
        adverbs=("happily", "joyfully", "cheerfully", "gleefully", "joyously", "merrily", "delightedly"),
        descriptive=("content", "smiling", "grinning", "laughing"),
    ),
    "sadness": EmotionWords(
        ("sadness", "sad"),
        adjectives=("sorrowful", "unhappy", "grieving", "melancholic", "downcast", "dejected", "depressed",
                    "gloomy", "upset", "mournful", "tearful", "heartbroken", "despondent", "forlorn",
                    "crestfallen", "glum", "miserable", "woeful", "downhearted", "disheartened",
                    "disappointed", "somber", "sombre", "saddened", "sadder", "saddest", "grief-stricken",
                    "anguished", "despairing", "doleful", "morose", "teary-eyed", "dispirited", "heavy-hearted",
                    "low-spirited", "brokenhearted", "broken-hearted", "on the verge of tears", "close to tears"),
        nouns=("sorrow", "unhappiness", "grief", "melancholy", "despair", "dejection", "gloom", "misery",
               "heartbreak", "heartache", "anguish", "despondency", "disappointment", "mourning", "woe",
               "sorrowfulness", "low spirits"),
        adverbs=("sadly", "sorrowfully", "mournfully", "unhappily", "dejectedly", "gloomily", "glumly",
                 "despondently"),
        descriptive=("crying",),
    ),
    "surprise": EmotionWords(
        ("surprise", "surprised"),
        adjectives=("astonished", "amazed", "startled", "shocked", "stunned", "astounded", "dumbfounded",
                    "flabbergasted", "thunderstruck", "awestruck", "incredulous", "stupefied", "taken aback",
                    "caught off guard", "taken by surprise"),
        nouns=("astonishment", "amazement", "stupefaction", "shock", "startled look"),
        adverbs=(),
    ),
    "fear": EmotionWords(
        ("fear", "fearful"),
        adjectives=("afraid", "scared", "frightened", "terrified", "anxious", "panicked", "alarmed", "nervous",
                    "apprehensive", "horrified", "petrified", "worried", "uneasy", "panic-stricken",
                    "terror-stricken", "spooked", "jittery", "fear-stricken", "jumpy"),
        nouns=("terror", "anxiety", "fright", "dread", "apprehension", "alarm", "horror", "trepidation", "worry",
               "unease", "nervousness", "fearfulness", "panic"),
        adverbs=("fearfully", "anxiously", "nervously", "apprehensively", "worriedly"),
    ),
    "disgust": EmotionWords(
        ("disgust", "disgusted"),
        adjectives=("disgusting", "repulsed", "revolted", "grossed out", "nauseated", "sickened", "repelled",
                    "nauseous"),
        nouns=("revulsion", "repugnance", "distaste", "loathing", "abhorrence", "repulsion", "aversion"),
        adverbs=("disgustedly",),
    ),
    "anger": EmotionWords(
        ("anger", "angry"),
        adjectives=("enraged", "furious", "irritated", "annoyed", "irate", "hostile", "frustrated", "livid",
                    "fuming", "outraged", "incensed", "indignant", "resentful", "infuriated", "exasperated",
                    "irritable", "seething", "vexed", "irked", "grumpy", "wrathful", "angered", "angrier", "riled up"),
        nouns=("rage", "fury", "hostility", "wrath", "irritation", "annoyance", "frustration", "outrage",
               "indignation", "resentment", "exasperation", "ire"),
        adverbs=("angrily", "furiously", "irritably", "resentfully", "indignantly"),
        descriptive=("mad", "scowling"),
    ),
    "contempt": EmotionWords(
        ("contempt", "contemptuous"),
        adjectives=("scornful", "disdainful", "smug", "condescending", "derisive", "haughty", "sardonic",
                    "supercilious", "dismissive", "mocking", "snide", "snooty", "scoffing"),
        nouns=("scorn", "disdain", "derision", "condescension", "smugness", "haughtiness", "superciliousness",
               "scornfulness", "disdainfulness"),
        adverbs=("contemptuously", "scornfully", "disdainfully", "derisively", "smugly", "condescendingly",
                 "haughtily", "mockingly", "dismissively"),
        descriptive=("sneer", "sneering"),
    ),
}
# fmt: on

#: canonical name -> every word of it (lower case): the canonical name first, its plain adjective second
EMOTION_SYNONYMS: dict[str, tuple[str, ...]] = {e: w.words for e, w in EMOTION_LEXICON.items()}
#: synonym (lower case) -> canonical name
SYNONYM_TO_EMOTION: dict[str, str] = {
    syn: emotion for emotion, syns in EMOTION_SYNONYMS.items() for syn in syns
}
#: the canonical names and their plain adjectives ("happiness", "happy"): not reported as synonyms
EMOTION_NAMES: frozenset[str] = frozenset(n for w in EMOTION_LEXICON.values() for n in w.names)
#: words that may describe a face rather than name a feeling (see ``EmotionWords.descriptive``)
DESCRIPTIVE_WORDS: frozenset[str] = frozenset(d for w in EMOTION_LEXICON.values() for d in w.descriptive)
#: nouns (and several-word nouns) of every emotion: "a hint of <noun>" is a side mention
EMOTION_NOUNS: frozenset[str] = frozenset(
    n for w in EMOTION_LEXICON.values() for n in (w.names[0], *w.nouns)
) | {"sneer"}
assert set(EMOTION_SYNONYMS) == set(CANONICAL_EMOTIONS) == set(EMOTION_LEXICON)
assert len(SYNONYM_TO_EMOTION) == sum(map(len, EMOTION_SYNONYMS.values())), "a word names two emotions"


def render_lexicon() -> str:
    """The lexicon as a Markdown table (docs/parsing.md)."""
    rows = ["| emotion | names | adjectives | nouns | adverbs | descriptive |", "|---|---|---|---|---|---|"]
    for emotion, w in EMOTION_LEXICON.items():
        cells = [
            ", ".join(words) or "—" for words in (w.names, w.adjectives, w.nouns, w.adverbs, w.descriptive)
        ]
        rows.append(f"| {emotion} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def _norm_words(text: str) -> str:
    return re.sub(r"[^a-z]+", " ", text.lower()).strip()


def canonical_emotion(text: str) -> str | None:
    """Map a label as written (``Happy``, ``joyful``, ``no emotion``, ``ANGER``) to a canonical name."""
    key = _norm_words(text)
    if not key:
        return None
    if key in SYNONYM_TO_EMOTION:
        return SYNONYM_TO_EMOTION[key]
    # "a happy face", "the emotion is sadness": a phrase with exactly one emotion word in it.
    hits = {SYNONYM_TO_EMOTION[w] for w in _emotion_words_in(key)}
    return hits.pop() if len(hits) == 1 else None


@lru_cache(maxsize=1)
def _synonym_pattern() -> re.Pattern[str]:
    alternatives = sorted(SYNONYM_TO_EMOTION, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(a) for a in alternatives) + r")\b")


def _emotion_words_in(normalised: str) -> list[str]:
    return _synonym_pattern().findall(normalised)


def emotion_mentions(text: str) -> list[str]:
    """Canonical emotions mentioned in free text, in order of appearance (repeats kept)."""
    return [SYNONYM_TO_EMOTION[w] for w in _emotion_words_in(_norm_words(text))]
