"""Label extraction: which emotion the model answered, and how clearly it answered it.

Cues are tried from the most to the least explicit; the first cue family that decides wins, and within
a family the last occurrence wins (models revise themselves):

1. decisive: ``<answer>…</answer>`` (the last non-empty one), ``\\boxed{…}``, a JSON ``"emotion"`` /
   ``"label"`` value (never the ``label`` of a box object), "final answer: …" / "the answer is …",
   the ``Final conclusion:`` section, an "Emotion: …" field;
2. weak: an unclosed ``<answer>``, a lone label on the last line;
3. free text, read like a careful annotator (``prose.py``): statements about the face, ranks,
   conclusions, negations (docs/parsing.md); a refusal ("I can't help identify …", "As an AI …")
   comes before an answer that rests on a bare emotion word. The ``Final conclusion:`` section of 1.
   is read by the same reader.

Negated labels never become answers ("not angry, but happy" is happiness; "not sad" alone is no
answer). A label that is clear but outside the task's classes ("contempt" on a 7-class task, or
"confused") is ``invalid_label``; several distinct labels, or two emotions equally supported, are
``ambiguous``. ``explicit_cue`` says whether a response has an answer that the free-text reader can
never change.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from tag_bench.parsing.prose import Reading, read_prose
from tag_bench.parsing.text import EMOTION_RE, WORD_RE, Decision, decide, is_refusal, lower_same_length
from tag_bench.schema import CANONICAL_EMOTIONS

# Every scan below runs on a lower-cased copy of the text with case-sensitive patterns that start with
# a literal (``re`` then skips ahead with a fast substring search; IGNORECASE patterns are several
# times slower). Positions are shared with the original text, which the values are sliced from.
_ANS_OPEN_RE = re.compile(r"<[ \t]*answer[ \t]*>")
_ANS_CLOSE_RE = re.compile(r"<[ \t]*/[ \t]*answer[ \t]*>")
_BOXED_RE = re.compile(
    r"\\boxed[ \t]*\{[ \t]*(?:\\(?:text|mathrm|textbf|mathbf)[ \t]*\{)?(?P<v>[^{}\n]{0,100})\}"
)
_JSON_KEY_RE = re.compile(
    r"[\"'](?P<k>emotion|expression|facial[_ ]expression|answer|final[_ ]answer|prediction"
    r"|predicted[_ ](?:emotion|label|class|expression)|label|class|category)[\"'][ \t]*:[ \t]*"
    r"[\"'](?P<v>[^\"'\n]{0,100})[\"']"
)
_WEAK_JSON_KEYS = frozenset({"label", "class", "category"})
_BOX_KEY_HINT_RE = re.compile(r"[\"'](?:bbox_2d|box_2d|bbox|box|bounding_box)[\"']")
_AU_HINT_RE = re.compile(r"(?<![a-z0-9])(?:au|action[ \t]*units?)[ \t]*[-_#:]?[ \t]*\d", re.IGNORECASE)

_SEP = r"[ \t]*(?:is\b|would[ \t]+be\b|:|=|-|–)[ \t:]*(?:\n[ \t]*){0,2}"
_VALUE = r"(?P<v>[^\n.;!?<]{1,120})"
#: "final answer: X", "the answer is X", "Answer - X", "final label: X", "prediction: X"
_CUE_FINAL_RES = (
    re.compile(r"answer" + _SEP + _VALUE),
    re.compile(
        r"final[ \t]+(?:label|prediction|classification|emotion|expression|decision|verdict)" + _SEP + _VALUE
    ),
    re.compile(r"predict(?:ion|ed[ \t]+(?:emotion|label|class|expression))" + _SEP + _VALUE),
)
_CUE_FIELD_RE = re.compile(
    r"^[ \t>*-]*(?:(?:facial|predicted|dominant|primary)[ \t]+)?(?:emotion|expression|label|class)"
    r"[ \t]*[:=][ \t]*" + _VALUE,
    re.MULTILINE,
)
#: an answer of more words than this after "Final answer:" is a sentence, read by the free-text reader
_PROSE_ANSWER_WORDS = 4
_CONCLUSION_RE = re.compile(r"conclusion[ \t]*[:,\-][ \t]*(?P<v>[^<]{1,600})")
_MARKDOWN_RE = re.compile(r"\*+|`+|__+|^[ \t]*#+[ \t]*", re.MULTILINE)
_LABEL_PREFIX_RE = re.compile(
    r"^(?:final[ \t]+)?(?:answer|label|emotion|expression|prediction|class|classification)[ \t]*[:=\-][ \t]*",
    re.IGNORECASE,
)
_STRIP_CHARS = " \t\r\n.,:;!?-–—\"'“”‘’`*_#>()[]{}"
_LABELISH_RE = re.compile(r"[^\W_][^\W_ '\-]{0,30}(?:[ '\-][^\W\d_]{1,30}){0,3}$")
_SCORED_LINE_RE = re.compile(
    r"[^\W\d_][ \t]*[:=(\-–—|·]?[ \t]*(?:\d{1,3}(?:\.\d+)?|\.\d+)[ \t]*(?:%|/[ \t]*\d{1,3}|out[ \t]+of[ \t]+\d{1,3})?"
    r"[ \t)|]*$"
)
#: "3. Condescension": an item of a numbered list (a ranking), not a lone label
_LIST_ITEM_RE = re.compile(r"[ \t>*\-•]*\d{1,2}[.)][ \t]")
#: "Neutrality: possible, but less likely": an item of a list of candidates, not a lone label
_VERDICT_LINE_RE = re.compile(r"[a-z][a-z' \-]{1,30}[ \t]*(?::|[ \t]-|–|—)[ \t]*[a-z]")
_NOISE_LINE_RE = re.compile(r"^[\s`{}\[\],]*$|^\s*(?:<[^<>]{0,40}>\s*)+$")


@dataclass
class Answer:
    """The label decision for one response."""

    label: str | None
    status: str  # a schema.ParseStatus
    raw_label: str | None
    decisive: bool  # an explicit answer marker (survives a length-truncated generation)
    source: str  # which cue decided
    notes: list[str] = field(default_factory=list)


def extract_answer(
    region: str, allowed: frozenset[str], decisive_only: bool = False, low: str | None = None
) -> Answer:
    """Decide the label of ``region`` (the text after any reasoning block).

    ``decisive_only`` stops after the explicit cues (used for length-truncated generations, where a
    weak cue would be discarded anyway). ``low``: ``lower_same_length(region)`` when already known.
    """
    if low is None:
        low = lower_same_length(region)
    for explicit in (_answer_tag, _boxed, _json_answer):
        r = explicit(region, low, allowed)
        if r is not None:
            return r
    if "*" in region or "`" in region or "#" in region:
        plain = _MARKDOWN_RE.sub("", region)
        plain_low = lower_same_length(plain)
    else:
        plain, plain_low = region, low
    for cue in (_cue_final, _conclusion, _cue_field):
        r = cue(plain, plain_low, allowed)
        if r is not None:
            return r
    if decisive_only:
        return Answer(None, "no_answer", None, False, "none")
    for weak in (_unclosed_answer_tag, _last_line):
        r = weak(plain, plain_low, allowed)
        if r is not None:
            return r
    reading = read_prose(plain, plain_low)
    # "I can't tell whether this is X or Y" leaves the answer open: ambiguous, not a refusal
    if not (reading.kind == "one" and reading.asserted) and reading.kind != "tie" and is_refusal(low):
        return Answer(None, "refusal", _snippet(region), False, "refusal")
    return _from_reading(reading, allowed, "free_text", False)


def explicit_cue(text: str, classes: frozenset[str] | None = None) -> str | None:
    """The explicit cue that decides the answer of ``text`` (the text after any reasoning block),
    or None when only the free-text reader can: ``answer_tag``, ``boxed``, ``json``,
    ``final_answer``, ``field``, ``unclosed_answer_tag`` or ``last_line``. The ``Final conclusion:``
    section is prose (read by the free-text reader), not an explicit cue."""
    allowed = frozenset(CANONICAL_EMOTIONS) if classes is None else classes
    low = lower_same_length(text)
    for explicit, name in ((_answer_tag, "answer_tag"), (_boxed, "boxed"), (_json_answer, "json")):
        if explicit(text, low, allowed) is not None:
            return name
    plain = _MARKDOWN_RE.sub("", text) if ("*" in text or "`" in text or "#" in text) else text
    plain_low = lower_same_length(plain)
    for cue, name in ((_cue_final, "final_answer"), (_cue_field, "field"),
                      (_unclosed_answer_tag, "unclosed_answer_tag"), (_last_line, "last_line")):  # fmt: skip
        if cue(plain, plain_low, allowed) is not None:
            return name
    return None


def extract_answer_tag(text: str, allowed: frozenset[str]) -> Answer | None:
    """The label of an ``<answer>`` tag, the one explicit marker the ``tag_grounded`` format asks for."""
    return _answer_tag(text, lower_same_length(text), allowed)


def extract_explicit(text: str, allowed: frozenset[str]) -> Answer | None:
    """Only explicit markers (``<answer>`` tags, ``\\boxed{}``): used on reasoning blocks."""
    low = lower_same_length(text)
    return _answer_tag(text, low, allowed) or _boxed(text, low, allowed)


# --------------------------------------------------------------------------------------------------
# Turning a piece of text into a decision


def clean_label(text: str) -> str:
    s = text.strip().strip(_STRIP_CHARS)
    s = _LABEL_PREFIX_RE.sub("", s)
    return s.strip(_STRIP_CHARS)[:300]


def _from_decision(
    d: Decision, raw: str, allowed: frozenset[str], source: str, decisive: bool
) -> Answer | None:
    if d.kind == "one":
        e = d.emotions[0]
        if e in allowed:
            return Answer(e, "ok", raw, decisive, source)
        return Answer(
            None, "invalid_label", raw, decisive, source, [f"label {e!r} is not one of the task's classes"]
        )
    if d.kind == "several":
        return Answer(
            None,
            "ambiguous",
            raw,
            decisive,
            source,
            [f"several labels in the answer: {', '.join(d.emotions)}"],
        )
    return None


def _classify(
    content: str,
    allowed: frozenset[str],
    source: str,
    decisive: bool,
    invalid_max_words: int | None,
    negated_is_final: bool = False,
) -> Answer | None:
    """Classify a label-position text. ``invalid_max_words``: longest non-emotion text that is taken as
    a clear (invalid) label; None = any length. Returns None when this text does not decide."""
    raw = clean_label(content)
    if not raw:
        return None
    d = decide(raw)
    r = _from_decision(d, raw, allowed, source, decisive)
    if r is not None:
        return r
    if d.kind == "negated":
        if negated_is_final:
            return Answer(None, "no_answer", raw, decisive, source, ["the answer only negates labels"])
        return None
    if is_refusal(raw.lower()):
        return Answer(None, "refusal", raw, decisive, source)
    if invalid_max_words is None or (len(raw.split()) <= invalid_max_words and _LABELISH_RE.match(raw)):
        return Answer(
            None,
            "invalid_label",
            raw,
            decisive,
            source,
            [f"answer-not-emotion: {raw[:60]!r} is not an emotion label"],
        )
    return None


# --------------------------------------------------------------------------------------------------
# Decisive cues


def _answer_tag(text: str, low: str, allowed: frozenset[str]) -> Answer | None:
    if "answer" not in low:
        return None
    opens = [m.end() for m in _ANS_OPEN_RE.finditer(low)]
    if not opens:
        return None
    closes = [m.start() for m in _ANS_CLOSE_RE.finditer(low)]
    empty = 0
    for c in reversed(closes):
        i = bisect_right(opens, c) - 1
        if i < 0:
            break
        content = text[opens[i] : c]
        if not content.strip():
            empty += 1
            continue
        r = _classify(content, allowed, "answer_tag", True, None, negated_is_final=True)
        if r is not None:
            if empty:
                r.notes.append(f"answer-empty-tags: skipped {empty} empty <answer> tag(s) after it")
            _note_conflict(r, [text[opens[j] : c2] for c2 in closes for j in [bisect_right(opens, c2) - 1] if j >= 0],
                           allowed)  # fmt: skip
            return r
    return None


def _note_conflict(chosen: Answer, contents: list[str], allowed: frozenset[str]) -> None:
    """Say so when several explicit answers name different labels (the last one is kept)."""
    labels = []
    for content in contents:
        if content.strip():
            r = _classify(content, allowed, "answer_tag", True, None, negated_is_final=True)
            if r is not None and r.label is not None and r.label not in labels:
                labels.append(r.label)
    if len(labels) > 1:
        chosen.notes.append(
            f"answer-conflict: {len(contents)} explicit answers disagree ({', '.join(labels)}); "
            f"the last one ({chosen.label}) is used"
        )


def _boxed(text: str, low: str, allowed: frozenset[str]) -> Answer | None:
    if "\\boxed" not in text:
        return None
    found = list(_BOXED_RE.finditer(text))
    for m in reversed(found):
        r = _classify(m.group("v"), allowed, "boxed", True, None, negated_is_final=True)
        if r is not None:
            _note_conflict(r, [x.group("v") for x in found], allowed)
            return r
    return None


def _json_answer(text: str, low: str, allowed: frozenset[str]) -> Answer | None:
    if ":" not in text or ('"' not in text and "'" not in text):
        return None
    strong: list[re.Match[str]] = []
    weak: list[re.Match[str]] = []
    for m in _JSON_KEY_RE.finditer(low):
        if _AU_HINT_RE.search(m.group("v")):
            continue  # an AU label ("AU12 lip corner puller"), not an emotion
        if m.group("k") in _WEAK_JSON_KEYS:
            lb = low.rfind("{", max(0, m.start() - 600), m.start())
            rb = low.find("}", m.end(), m.end() + 600)
            obj = low[lb if lb >= 0 else m.start() : rb if rb >= 0 else m.end()]
            if _BOX_KEY_HINT_RE.search(obj):
                continue  # the label of a box object names the region, not the answer
            weak.append(m)
        else:
            strong.append(m)
    for group in (strong, weak):
        for m in reversed(group):
            r = _classify(text[m.start("v") : m.end("v")], allowed, "json", True, None, negated_is_final=True)
            if r is not None:
                return r
    return None


def _cue_final(text: str, low: str, allowed: frozenset[str]) -> Answer | None:
    if "answer" not in low and "final" not in low and "predict" not in low:
        return None
    found = [
        m
        for rx in _CUE_FINAL_RES
        for m in rx.finditer(low)
        if not (m.start() and low[m.start() - 1].isalpha())
    ]
    for m in sorted(found, key=lambda m: m.start(), reverse=True):
        value = text[m.start("v") : m.end("v")]
        if len(value.split()) > _PROSE_ANSWER_WORDS:
            # a sentence after "Final answer:" ("The dominant emotion is X, with a hint of Y") is read as a
            # concluding part: its side mentions never decide nor tie
            reading = read_prose(value, low[m.start("v") : m.end("v")], conclusion=True)
            if reading.kind in ("one", "tie") or any(
                n.startswith("answer-not-emotion") for n in reading.notes
            ):
                return _from_reading(reading, allowed, "final_answer", True)
        r = _classify(value, allowed, "final_answer", True, 2)
        if r is not None:
            return r
    return None


def _cue_field(text: str, low: str, allowed: frozenset[str]) -> Answer | None:
    if ":" not in text and "=" not in text:
        return None
    for m in reversed(list(_CUE_FIELD_RE.finditer(low))):
        r = _classify(text[m.start("v") : m.end("v")], allowed, "field", True, 2)
        if r is not None:
            return r
    return None


def _conclusion(text: str, low: str, allowed: frozenset[str]) -> Answer | None:
    """The ``Conclusion:`` section, read by the free-text reader as a concluding part."""
    if "conclusion" not in low:
        return None
    for m in reversed(list(_CONCLUSION_RE.finditer(low))):
        v_low = m.group("v").split("\n\n", 1)[0]
        v = text[m.start("v") : m.start("v") + len(v_low)]
        reading = read_prose(v, v_low, conclusion=True)
        if reading.kind in ("one", "tie"):
            r = _from_reading(reading, allowed, "conclusion", True)
            r.raw_label = v.strip()[:300]
            if r.status == "ok" and not any(n.startswith("answer-from-conclusion") for n in r.notes):
                r.notes.insert(0, "answer-from-conclusion: read from the 'Conclusion:' section")
            return r
    return None


def _from_reading(reading: Reading, allowed: frozenset[str], source: str, decisive: bool) -> Answer:
    """The answer of a free-text reading (``source``: "free_text" or "conclusion")."""
    notes = list(reading.notes)
    if reading.kind == "one":
        e = reading.emotions[0]
        if e not in allowed:
            notes.append(f"label {e!r} is not one of the task's classes")
            return Answer(None, "invalid_label", reading.raw, decisive, source, notes)
        if source == "free_text":
            notes.insert(0, "answer-free-text: label inferred from free text (no explicit answer)")
        return Answer(e, "ok", reading.raw, decisive, source, notes)
    if reading.kind == "tie":
        return Answer(None, "ambiguous", reading.raw, decisive, source, notes)
    if reading.kind == "negated":
        return Answer(None, "no_answer", None, decisive, source, notes)
    return Answer(None, "no_answer", None, False, "none", notes)


# --------------------------------------------------------------------------------------------------
# Weak cues


def _unclosed_answer_tag(text: str, low: str, allowed: frozenset[str]) -> Answer | None:
    """``<answer> happy`` with no closing tag (a stop sequence ate it, or the output was cut)."""
    if "answer" not in low:
        return None
    last_open = None
    for m in _ANS_OPEN_RE.finditer(low):
        last_open = m
    if last_open is None or _ANS_CLOSE_RE.search(low, last_open.end()) is not None:
        return None
    content = text[last_open.end() : last_open.end() + 200].split("<", 1)[0]
    first = next((ln for ln in content.splitlines() if ln.strip()), "")
    r = _classify(first, allowed, "unclosed_answer_tag", False, 3)
    if r is not None:
        r.notes.append("answer-unclosed: <answer> tag is not closed")
    return r


def _last_line(text: str, low: str, allowed: frozenset[str]) -> Answer | None:
    end = len(text)
    for _ in range(4):  # skip up to 3 trailing fences / brace-only / tag-only lines
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end]
        if line.strip() and not _NOISE_LINE_RE.match(line):
            break
        if start == 0:
            return None
        end = start - 1
    else:
        return None
    if _LIST_ITEM_RE.match(line) or (line.lstrip().startswith("|") and line.count("|") >= 3):
        return None  # the free-text reader reads the list or table it belongs to
    raw = clean_label(line)
    words = raw.split()
    if not words or len(words) > 5:
        return None
    d = decide(raw)
    if d.kind == "several" or _SCORED_LINE_RE.search(raw) or _VERDICT_LINE_RE.match(raw.lower()):
        # "Happiness with a touch of surprise", "Neutral: 8%", "Derision: unlikely": prose, for the
        # free-text reader
        return None
    if d.kind == "one" and text[:start].strip() and not _is_lone_label(raw):
        return None  # "A hint of sadness." after other text: a remark, for the free-text reader
    r = _from_decision(d, raw, allowed, "last_line", False)
    if r is None and not text[:start].strip():  # the whole response is this one short line
        r = _classify(raw, allowed, "last_line", False, 3)
    return r


#: words that may frame a lone label on the last line ("So, the person is happy.", "Overall: sad")
_LABEL_FRAME_WORDS = frozenset(
    {"the", "a", "an", "is", "it", "it's", "its", "this", "that", "person", "face", "expression", "emotion",
     "answer", "label", "final", "so", "overall", "looks", "look", "appears", "seems", "clearly", "very",
     "definitely", "he", "she", "they", "are", "i", "think", "would", "say", "probably", "likely", "most",
     "shows", "displays", "subject", "man", "woman", "child", "individual", "expresses", "conveys", "be"}
)  # fmt: skip


def _is_lone_label(raw: str) -> bool:
    """Whether a short line is a label in a frame ("The person is happy.") and nothing more."""
    words = WORD_RE.findall(EMOTION_RE.sub(" ", raw.lower()))
    return all(w in _LABEL_FRAME_WORDS for w in words)


def _snippet(text: str) -> str:
    return " ".join(text.split())[:120]
