"""Shared text helpers: emotion words with negation, refusals, reasoning blocks, size caps.

Every pattern here is linear-time: no nested unbounded quantifiers, and every variable-length piece
that could run across a huge input is bounded (``{0,N}``), so adversarial inputs cannot make the
regex engine backtrack catastrophically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tag_bench.facs import SYNONYM_TO_EMOTION, canonical_emotion
from tag_bench.schema import CANONICAL_EMOTIONS

#: Longest response parsed as a whole; longer ones keep their head and tail (the answer is at the end).
MAX_CHARS = 100_000
HEAD_CHARS = 40_000


def trie_pattern(words: list[str]) -> str:
    """A regex alternation shaped as a trie (much faster than a flat list of ~100 words in ``re``).
    Spaces inside a word match any run of whitespace, hyphens or underscores."""
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        alts = [(r"[\s\-_]+" if k == " " else re.escape(k)) + build(v) for k, v in sorted(node.items()) if k]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 and "" not in node else "(?:" + "|".join(alts) + ")"
        return body + "?" if "" in node else body

    return build(root)


def _emotion_regex() -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z])(?:{trie_pattern(list(SYNONYM_TO_EMOTION))})(?![a-z])")


EMOTION_RE = _emotion_regex()
_SPACE_RE = re.compile(r"[\s\-_]+")

# Negation scope: look back at most a few words, never across punctuation or a contrastive word.
SCOPE_END_RE = re.compile(r"[,.;:!?()\[\]\n|]|\b(?:but|however|yet|whereas|while|although|though)\b")
WORD_RE = re.compile(r"[a-z']+")
#: words that negate an emotion named a few words after them (the free-text reader adds more)
NEGATORS = frozenset(
    {"not", "no", "never", "neither", "nor", "without", "isn't", "isnt", "aren't", "arent", "wasn't",
     "doesn't", "doesnt", "don't", "dont", "didn't", "hardly", "barely", "lacks", "lacking", "absent",
     "absence", "excluding", "except", "unlike", "than", "cannot", "can't", "nothing", "none", "ruled",
     "ruling", "rule", "n't", "non"}
)  # fmt: skip
_POST_NEG_RE = re.compile(
    r"[ \t]+(?:(?:is|was|are|seems|appears)[ \t]+(?:not|absent|unlikely)\b"
    r"|(?:absent|unlikely|excluded)\b|ruled[ \t]+out\b"
    r"|not[ \t]+(?:present|visible|shown|evident|displayed|expressed|indicated|the[ \t]+(?:answer|case))\b)"
)
_LOOKBACK = 48


def _negated(low: str, start: int, end: int) -> bool:
    pre = low[max(0, start - _LOOKBACK) : start]
    cut = 0
    for m in SCOPE_END_RE.finditer(pre):
        cut = m.end()
    words = WORD_RE.findall(pre[cut:])[-4:]
    for i, w in enumerate(words):
        if w in NEGATORS or w.endswith("n't"):
            return True
        if w == "instead" and i + 1 < len(words) and words[i + 1] == "of":
            return True
    return _POST_NEG_RE.match(low, end, end + 48) is not None


@dataclass(frozen=True)
class Decision:
    """What a piece of text says about the label."""

    kind: str  # "one", "several", "negated" (only negated labels), "none"
    emotions: tuple[str, ...]  # distinct non-negated canonical names, in order


_DECIDE_CACHE: dict[tuple[str, bool], Decision] = {}
_DECIDE_CACHE_MAX = 8192  # short label phrases ("Happiness", "sad") repeat across a benchmark


def decide(phrase: str, lowered: bool = False) -> Decision:
    """Distinct non-negated emotions of a label-position phrase ("not angry, but happy"; ``lowered``:
    the phrase is already lower case). Free text is read by ``prose.read_prose``."""
    if len(phrase) > 64:
        return _decide(phrase, lowered)
    key = (phrase, lowered)
    d = _DECIDE_CACHE.get(key)
    if d is None:
        d = _decide(phrase, lowered)
        if len(_DECIDE_CACHE) < _DECIDE_CACHE_MAX:
            _DECIDE_CACHE[key] = d
    return d


def _decide(phrase: str, lowered: bool) -> Decision:
    low = phrase if lowered else phrase.lower()
    if "’" in low:
        low = low.replace("’", "'")
    found: list[str] = []
    negated = False
    for m in EMOTION_RE.finditer(low):
        word = m.group(0)
        key = word if word in SYNONYM_TO_EMOTION else _SPACE_RE.sub(" ", word)
        emotion = SYNONYM_TO_EMOTION[key]
        if emotion in found:
            continue  # already decided for this emotion; its negation no longer matters
        if _negated(low, m.start(), m.end()):
            negated = True
            continue
        found.append(emotion)
        if len(found) > 3:
            break
    if len(found) == 1:
        return Decision("one", tuple(found))
    if found:
        return Decision("several", tuple(found))
    return Decision("negated" if negated else "none", ())


# --------------------------------------------------------------------------------------------------
# Refusals

_REFUSAL_RE = re.compile(
    r"(?<![a-z])(?:i[ \t]*'?[ \t]*m[ \t]+(?:sorry|unable|not[ \t]+able)"
    r"|i[ \t]+am[ \t]+(?:sorry|unable|not[ \t]+able)"
    r"|i[ \t]+(?:cannot|can[ \t]*not|can'?t|won'?t|will[ \t]+not|must[ \t]+decline"
    r"|have[ \t]+to[ \t]+decline|do[ \t]+not|don'?t)[ \t]+"
    r"(?:help|assist|identify|determine|provide|analy[sz]e|make|infer|classify|recogni[sz]e|comply"
    r"|speculate|tell|judge|answer|detect|assess|evaluate|guess)"
    r"|as[ \t]+an[ \t]+(?:ai|artificial[ \t]+intelligence|language[ \t]+model)(?![a-z])"
    r"|(?:unable|not[ \t]+able)[ \t]+to[ \t]+(?:determine|identify|help|assist|analy[sz]e|classify|tell"
    r"|recogni[sz]e|infer|assess|answer|provide)"
    r"|cannot[ \t]+be[ \t]+determined"
    r"|(?:it[ \t]+is|it'?s)[ \t]+not[ \t]+possible[ \t]+to[ \t]+(?:determine|tell|identify|say|infer))"
)
#: Every refusal pattern contains one of these; a cheap substring test skips the regex otherwise.
_REFUSAL_KEYS = ("sorry", "unable", "not able", "cannot", "can not", "can't", "cant", "won't", "wont",
                 "will not", "decline", "do not", "don't", "dont", "as an", "possible")  # fmt: skip


def is_refusal(low: str) -> bool:
    """Whether lower-cased text refuses the task ("I can't help identify...", "As an AI...")."""
    if "’" in low:
        low = low.replace("’", "'")
    if not any(k in low for k in _REFUSAL_KEYS):
        return False
    return _REFUSAL_RE.search(low) is not None


def lower_same_length(text: str) -> str:
    """``text.lower()`` with every character keeping its position (a few Unicode letters grow)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(lc := c.lower()) != 1 else lc for c in text)


# --------------------------------------------------------------------------------------------------
# Reasoning blocks and size caps

_THINK_OPEN_RE = re.compile(r"<\s*think(?:ing)?\s*>", re.IGNORECASE)
_THINK_CLOSE_RE = re.compile(r"<\s*/\s*think(?:ing)?\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Split:
    """A response split into its reasoning block and the text that follows it."""

    answer: str  # text after the last </think> (or the whole text when there is no think block)
    think: str  # reasoning text ("" when none)
    think_closed: bool  # False when <think> was opened and never closed
    start: int = 0  # ``answer`` is text[start:end]
    end: int | None = None


@lru_cache(maxsize=256)  # the parser and the format reward split the same completion: computed once
def split_think(text: str) -> Split:
    """Separate ``<think>…</think>`` reasoning from the answer that follows it.

    A lone ``</think>`` (chat templates that pre-fill the opening tag) closes everything before it.
    An unclosed ``<think>`` makes everything after it reasoning.
    """
    if "hink" not in text and "HINK" not in text:
        return Split(text, "", True)
    last_close = None
    for m in _THINK_CLOSE_RE.finditer(text):
        last_close = m
    if last_close is not None:
        think = _THINK_OPEN_RE.sub(" ", text[: last_close.start()], count=1)
        return Split(text[last_close.end() :], think, True, last_close.end())
    opened = _THINK_OPEN_RE.search(text)
    if opened is None:
        return Split(text, "", True)
    return Split(text[: opened.start()], text[opened.end() :], False, 0, opened.start())


def cap(text: str) -> tuple[str, str | None]:
    """Keep at most MAX_CHARS: the head and the tail (the answer is at the end)."""
    n = len(text)
    if n <= MAX_CHARS:
        return text, None
    tail = MAX_CHARS - HEAD_CHARS
    note = f"response-cut: response has {n} chars: parsed the first {HEAD_CHARS} and the last {tail}"
    return text[:HEAD_CHARS] + "\n" + text[-tail:], note


@lru_cache(maxsize=256)
def resolve_classes(classes: tuple[str, ...] | None) -> tuple[frozenset[str], tuple[str, ...]]:
    """(allowed canonical names, notes). None means all eight canonical emotions."""
    if classes is None:
        return frozenset(CANONICAL_EMOTIONS), ()
    allowed: set[str] = set()
    unknown = []
    for c in classes:
        name = c if c in CANONICAL_EMOTIONS else canonical_emotion(str(c))
        if name is None:
            unknown.append(str(c))
        else:
            allowed.add(name)
    notes: list[str] = []
    if unknown:
        notes.append(f"classes: ignored class names that are not emotions: {unknown}")
    if not allowed:
        notes.append("classes: no usable class names: using all canonical emotions")
        return frozenset(CANONICAL_EMOTIONS), tuple(notes)
    return frozenset(allowed), tuple(notes)
