"""Reading a free-text answer the way a careful annotator does.

Used only where no explicit answer marks the label (``answer.py``): a model that answers in prose
names several emotions along the way, negates some, hedges others, ranks them, and concludes. Every
emotion word of the lexicon (``tag_bench.facs.EMOTION_LEXICON``) is a *mention*; the rules below say
which mentions can be the answer and which one is. The order of the rules (docs/parsing.md):

1. Not an answer: a negated mention ("not X", "no sign of X", "devoid of X", "rather than X",
   "instead of X", "X is absent", "neither X nor Y", "compared with a typical X face"); a non-emotion use ("happy to help", "the
   content of the image", "a neutral background", "Sadly, ..."); an echoed list of three or more
   class names; a descriptive word ("relaxed", "smiling") when something stronger is named or when it
   describes a feature ("the brow is relaxed").
2. A score list ("happiness: 0.7, surprise: 0.2", "Anger 7/10", "- Fear: high") gives its argmax; a tie
   at the top is ambiguous ("| Fear | Likely |" too). A ranked list ("Ranking:\\n1. Sadness\\n2. Fear",
   "X > Y > Z", "X first, then Y") makes its first rank a decision and the lower ranks side mentions;
   tied first ranks stay ambiguous, an unknown first rank never decides.
3. Discourse position: the last concluding part (a "Conclusion" / "Summary" / "Overall:" section, a
   sentence from "in conclusion", "overall", "in the end", "therefore", "so" ... on) that makes a claim
   outranks everything before it.
4. Rank of each mention: a decision ("the answer/label/emotion is X", "classified as X", "I'd say
   X") > a primary cue ("mainly", "predominantly", "most likely", "dominant") > a plain statement >
   a hedge ("could be", "might", "at first glance", "X crossed my mind first", a question, a concession,
   general knowledge such as "often associated with") > a side mention ("hints / traces / touches of Y", "mixed with Y").
   Plain and hedged mentions of one clause count alike ("fear or surprise", "anger and sadness").
5. The highest rank wins; two emotions at that rank stay ambiguous, unless the later one is in a
   sentence that revises the earlier ("however", "actually", "in the end", "so" ...).
6. Never guess past a word the lexicon does not know: a text that leaves the answer open after the
   winner ("equally likely", "a toss-up between", "I can't narrow it down", "no way to tell X from Y")
   is ambiguous; side or hedged
   mentions never decide when the main claim names an unknown word ("this reads as disbelief", "these
   are typical signs of X", a one-word sentence "Disbelief."); nor does an earlier winner when a short
   concluding line names one.

Each decision says which rules made the difference, as coded notes (``notes.NOTE_CODES``).
Everything is linear in the text: each mention looks at bounded windows around itself.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import pairwise

from tag_bench.facs import DESCRIPTIVE_WORDS, EMOTION_NAMES, EMOTION_NOUNS, SYNONYM_TO_EMOTION
from tag_bench.parsing.text import EMOTION_RE, NEGATORS, SCOPE_END_RE, WORD_RE, trie_pattern

#: Only the last mentions of a very long text are read (the answer is at the end).
MAX_MENTIONS = 400

_SPACE_RE = re.compile(r"[\s\-_]+")

# Sentences end at . ! ? followed by a space (not "0.7") and at line ends; clauses also at ; : and at
# contrastive words, which start a new clause (and belong to it).
_SENT_END_RE = re.compile(r"[.!?]+(?=[\s\"')\]*]|$)|\n")
_CLAUSE_RE = re.compile(r"[;:,]|\b(?:but|however|yet|whereas|although|though|while|despite)\b")
_CONCESSIVE = frozenset({"although", "though", "while", "whereas", "despite"})

# --- negation
_NEGATORS = NEGATORS | {"lack", "lacked", "rules", "excludes", "devoid", "nowhere"}
# "free of X", "far from X"; the standard of a comparison: "compared with a typical X face", "as opposed to X"
_NEGATOR_PAIRS = {"free": ("of", "from"), "stretch": ("to",), "far": ("from",), "instead": ("of",), "compared": ("with", "to"),
                  "opposed": ("to",), "contrast": ("to", "with")}  # fmt: skip
_NOT_NEGATING = {("no", "doubt"), ("no", "way"), ("not", "only"), ("not", "just"), ("not", "merely"), ("nothing", "but"),
                 ("no", "wonder"), ("without", "a"), ("never", "been")}  # fmt: skip
# after a negator, a word of indecision: a hedge, not a negation
_UNDECIDED = frozenset(
    {"settle", "decide", "choose", "tell", "pick", "determine", "sure", "certain", "clear"}
)
_POST_NEG_RE = re.compile(
    r"[ \t]*[,:\-–—|]?[ \t]*(?:not[ \t]+supported\b|no[ \t]+(?:match|fit)\b|(?:is|was|are|seems|appears|looks)[ \t]+(?:not|absent|unlikely|excluded)\b"
    r"|(?:absent|unlikely|excluded)\b|(?:is[ \t]+|are[ \t]+|can[ \t]+be[ \t]+|could[ \t]+be[ \t]+)?ruled[ \t]+out\b"
    r"|(?:can|could|may)[ \t]+be[ \t]+(?:excluded|dismissed|discounted)\b|is[ \t]+out[ \t]+of[ \t]+the[ \t]+question"
    r"|(?:is[ \t]+)?less[ \t]+likely|(?:does[ \t]+not|doesn'?t)[ \t]+(?:fit|apply|match)\b"
    r"|plays[ \t]+no[ \t]+(?:part|role)|(?:does[ \t]+not|doesn'?t|do[ \t]+not|don'?t)[ \t]+(?:seem|appear)[ \t]+to"
    r"[ \t]+be[ \t]+(?:present|there|visible|shown)\b|(?:is[ \t]+not|isn'?t)[ \t]+present\b|not[ \t]+(?:present|visible|shown|evident|displayed|expressed|indicated"
    r"|the[ \t]+(?:answer|case))\b|\?[ \t]*no\b)"
)
# the option not chosen: "I'd go with X over Y", "I'd pick X over Y"
_OVER_RE = re.compile(
    r"\b(?:go(?:ing)?[ \t]+with|pick|choose|prefer|favou?r|opt[ \t]+for)[ \t]+[a-z'\- \t]{1,40}?[ \t]over[ \t]+"
    r"(?:(?:a|an|the)[ \t]+)?$"
)
# "X or Y", "X, Y", "X nor any Y" after a negated X: one negation covers the list
_COORD_RE = re.compile(r"[ \t]*(?:,|/)?[ \t]*(?:(?:or|nor|and)[ \t]+)?(?:(?:any|a|an)[ \t]+)?$")

# a line labelled with the mention's role ("- Primary: X", "- Secondary: Y", "- Absent: Z")
_LINE_ROLE_RE = re.compile(
    r"(?:^|\n|(?<=[.!?;])[ \t]+)[ \t>*\-•]*(?:(?P<primary>primary|main|dominant|top)"
    r"(?:[ \t]+(?:emotion|label|pick|choice|guess|candidate))?"
    r"|(?P<side>secondary|minor|also[ \t]+present|other|subtle|trace|runner[ \t\-]+up|second[ \t]+(?:pick|choice|guess))"
    r"(?:[ \t]+(?:emotions?|labels?))?"
    r"|(?P<absent>absent|ruled[ \t]+out|excluded|not[ \t]+present|unlikely|none))[ \t]*:"
)
_ROLE_GAP_RE = re.compile(r"[ \t]*(?:(?:a|an|the)[ \t]+)?(?:[a-z'\-]+[ \t]+){0,2}")

# a line that holds one label and nothing more ("Disgust.", "An unreadable calm.")
_LONE_LINE_RE = re.compile(
    r"[ \t>*\-•]*(?:(?:a|an|the|clear|clearly|pure|mostly|mainly)[ \t]+)?(?:[a-z'\-]+[ \t]+)?(?:"
    + trie_pattern(list(SYNONYM_TO_EMOTION))
    + r")[ \t]*[.!]?[ \t]*\n?"
)

# --- non-emotion uses
_HELP_PRE_RE = re.compile(r"(?:i'?m|i[ \t]+am|i'?d[ \t]+be|i[ \t]+would[ \t]+be|i'?ll[ \t]+be|we'?re|we[ \t]+are"
                          r"|more[ \t]+than|always|be)[ \t]+$")  # fmt: skip
# "Sure, happy to help", "Of course! Glad to help"
_HELP_LEAD_RE = re.compile(
    r"(?:^|[.!?\n])[ \t*\-#>]*(?:sure|certainly|of[ \t]+course|absolutely|okay|ok|yes)[ \t]*[,!.]?[ \t]+$"
)
_HELP_WORDS = frozenset({"happy", "glad", "pleased", "delighted", "thrilled"})
_CONTENT_NOUN_RE = re.compile(
    r"[ \t]+(?:of|is|was|are|shown|here|itself)\b|[ \t]+in[ \t]+(?:the|this|that|an?)\b|-"
)
_CONTENT_PRE_RE = re.compile(
    r"(?:the|this|that|its|image|visual|such|any|no|media|video|photo|picture|emotional|facial)[ \t]+$"
)
_THING_RE = re.compile(
    r"[\s\-]+(?:background|backdrop|lighting|light|tones?|colou?rs?|gr[ae]y|wall|setting|position|pose|angle"
    r"|stance|territory|point|ground|palette|state[ \t]+of[ \t]+the[ \t]+image"
    r"|(?:(?:pale|light|dark|soft|muted|warm|cool)[ \t]+)?(?:blue|green|beige|white|black|brown|red|yellow|pink"
    r"|purple|orange|pastel|tan|cream))\b"
)
_PART_RE = re.compile(
    r"\b(?:brows?|eyebrows?|eyes?|eyelids?|lids?|mouth|lips?|forehead|cheeks?|jaw|chin|nose|nostrils?|gaze"
    r"|corners?|side|left|right|half|muscles?|features?|region|area)\b"
)
# a face part as the subject of the word ("the facial muscles look relaxed", "her eyes seem calm")
_PART_SAID_RE = re.compile(
    _PART_RE.pattern + r"[ \t]+(?:looks?|seems?|appears?|is|are|remains?|stays?)"
    r"(?:[ \t]+(?:quite|fairly|very|rather|pretty|mostly|completely|fully|totally))?[ \t]+$"
)
# a sentence that is only a hedged label ("Probably blank, though ..."): the label is said of the face
_LEAD_HEDGE_RE = re.compile(r"[\s>*\-•]*(?:probably|likely|most[ \t]+likely|possibly|perhaps|maybe)[ \t]+")
# a "no <emotion>" noun that says nothing can be read ("no expression can be read from it")
_NOT_READ_RE = re.compile(
    r"[ \t]+(?:can|could|may)[ \t]+be[ \t]+(?:read|determined|identified|made[ \t]+out|discerned|inferred|judged"
    r"|named|recogni[sz]ed|assessed|told)\b"
)
_PERSON_RE = re.compile(
    r"\b(?:person|face|expression|he|she|they|subject|individual|man|woman|child|boy|girl|look|demeanou?r"
    r"|mood|emotion|overall|impression|state|feeling|i|seems?|appears?|this|it)\b"
)
# "the lighting is neutral", "a calm blue background"
_THING_PRE_RE = re.compile(
    r"\b(?:lighting|light|background|backdrop|tones?|colou?rs?|wall|setting|palette|framing|composition)"
    r"(?:[ \t]+[a-z]+){0,3}?(?:[ \t]+(?:is|are|was|looks|seems|appears|remains|stays))(?:[ \t]+(?:a|an))?"
    r"(?:[ \t]+(?:quite|fairly|very|rather|pretty|mostly))?"
    r"[ \t]+$"
)
_FACE_NOUN_RE = re.compile(r"[ \t\-]+(?:expression|face|look|impression|demeanou?r|state|mood|appearance)\b")
_DISJUNCT_WORDS = frozenset({"sadly", "happily"})  # "Sadly, the image is blurred."

# --- ranks (searched in the clause before a mention, or right after it)
_SIDE_PRE_RE = re.compile(
    r"(?:\b(?:hints?|touch(?:es)?|traces?|elements?|nuances?|notes?|undertones?|flickers?|tinges?|shades?"
    r"|whispers?|bit|degree|amount|glimmers?|suggestions?|sprinkling|dash|modicum|streaks?|twinge|spark"
    r"|chance|possibility|likelihood|undercurrents?|edges?|tints?|echo(?:es)?)"
    r"[ \t]+of[ \t]+(?:[a-z'\-]+[ \t]+){0,2}"
    r"|\b(?:faint|slight|subtle|mild|small|little|minor|weak|light)[ \t]+(?:sense|layer|feeling|air|tone|level"
    r"|amount|degree|measure)[ \t]+of[ \t]+(?:[a-z'\-]+[ \t]+){0,2}"
    r"|\b(?:mixed|tinged|blended|combined|laced|coupled|paired|along)[ \t]+with[ \t]+"
    r"(?:(?:a|an|some|slight|mild|faint|subtle|little|bit|of|touch|hint|possible|perhaps|maybe)[ \t]+){0,3}"
    r"|\b(?:hints?|hinting)[ \t]+at[ \t]+(?:(?:a|an|some|mild|slight|faint|subtle|possible)[ \t]+){0,2}"
    r"|\bwith[ \t]+(?:(?:a|an|little|bit|of|perhaps|maybe|possibly)[ \t]+){0,3}"
    r"(?:some|little|slight|mild|faint|subtle|minor|possible|light)[ \t]+(?:(?:of|degree[ \t]+of)[ \t]+)?)$"
)
# before a noun only ("slight surprise" is a side mention; "slightly surprised" is a mild statement)
_SIDE_NOUN_PRE_RE = re.compile(
    r"\b(?:some|a[ \t]+little|a[ \t]+bit[ \t]+of|slight|mild|faint|subtle|minor|secondary|residual|lingering"
    r"|small|tiny)[ \t]+$"
)
_SIDE_POST_RE = re.compile(
    r"[ \t]*,?[ \t]*(?:(?:is|are|seems|appears|remains|(?:may|might|could|can)[ \t]+be)[ \t]+)?(?:also[ \t]+)?"
    r"(?:only[ \t]+)?"
    r"(?:weaker|secondary|minor|less[ \t]+(?:pronounced|prominent|evident|marked|intense|strong|visible)"
    r"|(?:a[ \t]+)?(?:distant[ \t]+)?second\b|mixed[ \t]+in|present[ \t]+(?:only[ \t]+)?to[ \t]+a[ \t]+lesser"
    r"|present[ \t]+but[ \t]+(?:muted|faint|weak|subtle|slight|mild)|muted|barely[ \t]+(?:there|visible|present))"
)
_HEDGE_RE = re.compile(
    r"\b(?:could|might|may|possibly|perhaps|maybe|potentially|at[ \t]+first|initially|(?:first|initial)[ \t]+(?:thought"
    r"|glance|impression|sight|guess|instinct|reaction)|some[ \t]+(?:would|might|could|may|observers|viewers|people)|one[ \t]+(?:could"
    r"|might|would)|others?[ \t]+(?:might|could|would)|if|expect\w*|although|though|despite|whereas|while"
    r"|either|whether|wonder\w*|alone|tempting|tempted|can(?:not)?[ \t]+(?:also[ \t]+)?(?:indicate|suggest|mean|signal|appear"
    r"|occur|accompany|reflect|be[ \t]+(?:seen|read|interpreted|associated|linked|found|confused)))\b"
)
# general knowledge and conditionals: a hedge unless the clause decides ("I would say X")
_WEAK_HEDGE_RE = re.compile(
    r"\b(?:would|often|commonly|typically|usually|generally|sometimes|associated[ \t]+with|linked[ \t]+to"
    r"|seen[ \t]+in|occurs?[ \t]+in|appears?[ \t]+in|shared[ \t]+by|common[ \t]+in|found[ \t]+in)\b"
)
_DET = r"(?:(?:a|an|the|one[ \t]+of|pure|clear|clearly|primarily|predominantly|mainly|mostly|largely|chiefly" \
       r"|likely|probably|definitely|most[ \t]+likely|genuine|genuinely|strong|obvious|simply|just|that" \
       r"|of|this|it'?s|it[ \t]+is)[ \t]+)*"  # fmt: skip
_DECISION_CORE = (
    r"(?:\b(?:label|answer|emotion|expression|classification|category|class|verdict|reading|diagnosis"
    r"|impression|assessment|interpretation|conclusion|guess|choice|look)\b(?:[ \t]+[\w']+){0,5}?[ \t]*"
    r"(?:\bis|\bwould[ \t]+be|=|:)"
    r"|\b(?:classif(?:y|ied|ies)|categori[sz](?:e|ed|es)|label(?:l?ed|s)?|identif(?:y|ied|ies)|describ(?:e|ed|es)"
    r"|characteri[sz](?:e|ed|es)|interpret(?:ed|s)?|reads?|code[ds]?|rated?)"
    r"(?:[ \t]+(?:this|it|the|that|here|expression|face|emotion|image|person|facial|overall))*[ \t]+as"
    r"|\blabell?ed|\bbest[ \t]+(?:described|classified|categori[sz]ed|characteri[sz]ed|read|labell?ed|summari[sz]ed"
    r"|captured)[ \t]+(?:as|by)|\bmost[ \t]+(?:consistent|compatible|in[ \t]+line)[ \t]+with"
    r"|\bi(?:[ \t]+would|'d|[ \t]+will|'ll)?[ \t]+(?:say|classify|label|call|go[ \t]+with|choose|pick|opt[ \t]+for"
    r"|select|settle[ \t]+on|lean[ \t]+towards?)"
    r"|\bi(?:'m|[ \t]+am)?[ \t]+(?:think|believe|conclude|(?:fairly[ \t]+|quite[ \t]+)?(?:confident|sure|certain))"
    r"(?:[ \t]+(?:that|it'?s|it[ \t]+is|this[ \t]+is|the[ \t]+(?:person|expression|face)[ \t]+(?:is|looks|shows)))?"
    r"|\bthe[ \t]+(?:best|closest)[ \t]+(?:fit|match)[ \t]+is|\bpoints?[ \t]+(?:clearly[ \t]+)?to"
    r"|\blean(?:s|ing)?[ \t]+towards?)"
)
_DECISION_RE = re.compile(_DECISION_CORE + r"[ \t]*" + _DET + r"(?:[a-z'\-]+[ \t]+){0,2}$")
# a statement about the face with a short object: "This face shows scornfulness.", "She comes across as X."
_STATEMENT_RE = re.compile(
    r"\b(?:face|expression|person|he|she|subject|individual|man|woman|child|this)[ \t]+(?:shows|displays|conveys"
    r"|expresses|registers|comes[ \t]+across[ \t]+as|is[ \t]+one[ \t]+of|is[ \t]+mainly|is[ \t]+mostly)\b"
    r"|\bi'?m[ \t]+leaning[ \t]+towards?\b|\bleaning[ \t]+towards?\b|\bis[ \t]+what[ \t]+i[ \t]+see\b"
)
# a forced choice is a decision, not a conditional
_FORCED_RE = re.compile(
    r"\bif[ \t]+(?:i|you|we)[ \t]+(?:had|have|were|must)[ \t]+(?:to[ \t]+)?(?:pick|choose|name|say|give|select)"
    r"(?:[ \t]+[\w']+){0,4}?[ \t]*,?[ \t]+(?:it[ \t]+would[ \t]+be|it'?d[ \t]+be|i'?d[ \t]+(?:say|pick|choose|go[ \t]+with"
    r"|name))[ \t]*" + _DET + "$"
)
_PRIMARY_RE = re.compile(
    r"\b(?:primarily|predominantly|mainly|mostly|largely|chiefly|principally|overwhelmingly|essentially"
    r"|above[ \t]+all|most[ \t]+(?:likely|probably|strongly)|clearly|unmistakabl[ey]|obviously|plainly|definitely"
    r"|evidently|undoubtedly|dominant(?:ly)?|predominant|main|primary|principal|strongest|prevailing|overriding"
    r"|most[ \t]+(?:prominent|evident|visible|noticeable|striking|apparent)|overall|clear|unmistakable|obvious)\b"
)
_PRIMARY_POST_RE = re.compile(
    r"[ \t]*[,:\-–—]?[ \t]*(?:is[ \t]+|being[ \t]+)?(?:clearly[ \t]+)?(?:dominates|dominant|prevails|predominates"
    r"|the[ \t]+(?:main|dominant|primary|strongest|prevailing|overriding|best|closest)\b|most[ \t]+(?:prominent"
    r"|evident|apparent|likely|plausible)|fits[ \t]+best|(?:the[ \t]+)?best[ \t]+(?:fit|match|candidate)"
    r"|above[ \t]+(?:anything|everything|all)(?:[ \t]+else)?)\b"
)
# a first thought set aside: "X crossed my mind first", "X was my initial guess"
_FIRST_THOUGHT_RE = re.compile(
    r"[ \t]+(?:(?:crossed|came[ \t]+to|sprang[ \t]+to|comes[ \t]+to)[ \t]+(?:my[ \t]+)?mind"
    r"|(?:was|is)[ \t]+my[ \t]+(?:very[ \t]+)?(?:first|initial)[ \t]+(?:thought|guess|impression|instinct|idea|reading))\b"
)
_HEDGE_POST_RE = re.compile(
    r"[ \t]*[:\-–—][ \t]*(?:possible|plausible|partly|partially|somewhat|maybe|perhaps|less[ \t]+likely|weaker"
    r"|secondary|a[ \t]+(?:weaker|partial)[ \t]+(?:fit|match))\b"
)
_ASSERT_RE = re.compile(
    r"\b(?:is|are|looks?|appears?|seems?|shows?|displays?|express(?:es)?|conveys?|exhibits?|indicat\w*|suggest\w*"
    r"|reflects?|reveals?|signal\w*|points?|wears?|feels?|registers?|fits?|match(?:es)?|reads?|speaks?|betrays?"
    r"|radiates?)\b"
)
# two emotions held equal in one sentence ("she looks X, but could just as well be Y")
_TIE_RE = re.compile(
    r"\b(?:just[ \t]+as[ \t]+(?:well|likely|much|easily)|equally|in[ \t]+equal[ \t]+measure|as[ \t]+much[ \t]+\w+"
    r"[ \t]+as|hard[ \t]+to[ \t]+(?:say|tell|decide|choose)|difficult[ \t]+to[ \t]+(?:say|tell|decide|choose)"
    r"|(?:can'?t|cannot|could[ \t]+not|couldn'?t)[ \t]+(?:decide|settle|tell|choose)|torn[ \t]+between"
    r"|(?:somewhere|split)[ \t]+between|(?:mix|mixture|blend|combination)[ \t]+of|both|either|at[ \t]+the[ \t]+same[ \t]+time"
    r"|versus|vs|equal[ \t]+parts|coin[ \t\-]?(?:flip|toss))\b"
)
# a later sentence that revises or concludes outranks an earlier one of the same rank
_REVISION_RE = re.compile(
    r"\b(?:however|but|actually|instead|rather|yet|still|nevertheless|nonetheless|on[ \t]+(?:closer|second)"
    r"[ \t]+(?:inspection|look|thought)|looking[ \t]+(?:more[ \t]+)?(?:closely|again|closer)|wait|in[ \t]+the"
    r"[ \t]+end|overall|ultimately|so|therefore|thus|hence|consequently|all[ \t]+things[ \t]+considered"
    r"|taken[ \t]+together|in[ \t]+(?:conclusion|summary|short|sum)|to[ \t]+(?:conclude|summari[sz]e|sum[ \t]+up)"
    r"|on[ \t]+balance|yes|no)\b"
)

# --- concluding parts: a section heading, a labelled line, or a concluding phrase (from there on)
_HEAD_RE = re.compile(
    r"^[ \t>\-]*(?:\d+[.)][ \t]*)?(?:(?:final|overall|my)[ \t]+(?:assessment|thoughts?|verdict|reading|answer"
    r"|impression|conclusion|decision|interpretation|classification|evaluation|judge?ment|take)|conclusions?"
    r"|in[ \t]+conclusion|summary|in[ \t]+summary|verdict|overall|bottom[ \t]+line|in[ \t]+short|tl;?dr"
    r"|result|decision|assessment)[ \t]*(?::|-|–|—|$)",
    re.MULTILINE,
)
_CONCLUDING_PHRASES = (
    "in conclusion", "to conclude", "in summary", "to summarize", "to summarise", "to sum up", "to sum it up",
    "summing up", "overall", "all in all", "all things considered", "taken together", "putting it together",
    "putting it all together", "putting this together", "putting this all together", "putting everything together",
    "putting these together", "in the end", "ultimately", "therefore", "thus", "hence", "consequently",
    "on balance", "in short", "in sum",
)  # fmt: skip
# a trie of the phrases (``re`` skips ahead much faster than over a flat alternation), and "so" / "yes"
# at the start of a sentence or after a comma
_CONCLUDE_RE = re.compile(
    rf"(?<![a-z])(?:{trie_pattern(list(_CONCLUDING_PHRASES))})(?![a-z])"
    r"|(?:^|[.!?][ \t]+|\n[ \t]*|,[ \t]+)(?:so|yes)\b",
    re.MULTILINE,
)
# a score after or before a mention: "happiness: 0.7", "fear (62%)", "70 % happiness"
_SCALE = r"(%|/[ \t]*(?:10|100|5)\b|[ \t]*out[ \t]+of[ \t]+(?:10|100|5)\b)?"
_SCORE_POST_RE = re.compile(
    r"[ \t]*\)?[ \t]*(?:[:=(|·]|-|–|—|(?:at|of|with)(?:[ \t]+(?:about|around|roughly|approximately|approx\.?|~))?)?[ \t]*"
    r"(\d{1,3}(?:\.\d+)?|\.\d+)[ \t]*" + _SCALE
)
# an intensity word as the score of a list item ("- Fear: high", "| Anger | Low |")
_LEVELS = {"very high": 0.95, "very strong": 0.95, "high": 0.8, "strong": 0.8, "moderate": 0.5, "medium": 0.5,
           "mild": 0.3, "slight": 0.2, "low": 0.2, "weak": 0.2, "very low": 0.1, "very weak": 0.1, "minimal": 0.05,
           "none": 0.0, "very likely": 0.9, "likely": 0.7, "unlikely": 0.1, "very unlikely": 0.05}  # fmt: skip
_LEVEL_RE = r"(very[ \t]+high|very[ \t]+strong|high|strong|moderate|medium|mild|slight|low|weak|very[ \t]+low" \
            r"|very[ \t]+weak|minimal|none|very[ \t]+likely|likely|very[ \t]+unlikely|unlikely)[ \t]*(?=[|.,;(\n]|$)"  # fmt: skip
_LEVEL_POST_RE = re.compile(r"[ \t]*(?:[:=|\-–—][ \t]*)" + _LEVEL_RE)
# the start of a list item's line: bullets, a number, a table cell
_ITEM_START_RE = re.compile(
    r"(?:^|\n)[ \t>*\-•|]*(?:\d{1,2}[.)][ \t]*)?(?:(?:a|an|the)[ \t]+)?(?:look[ \t]+of[ \t]+)?$"
)
_SCORE_PRE_RE = re.compile(
    r"(\d{1,3}(?:\.\d+)?)[ \t]*%[ \t]*(?:(?:chance|probability|likelihood|confidence)[ \t]+)?"
    r"(?:(?:of|for|that|this|it|is|it's|being|on|in|a|an|the)[ \t]+){0,4}$"
)
# any "<label>: <number>" item of a score list, known emotion or not
_SCORE_ITEM_PRE_RE = re.compile(
    r"(\d{1,3}(?:\.\d+)?)[ \t]*%[ \t]*(?:(?:chance|probability|likelihood|confidence)[ \t]+)?"
    r"(?:(?:of|for|that|this|it|is|it's|being|on|in|a|an|the)[ \t]+){0,4}([a-z][a-z'\-]+)"
)
_SCORE_ITEM_RE = re.compile(
    r"(?:^|[,|;:\n·]|[-*•][ \t])[ \t]*(?:p[ \t]*\([ \t]*)?([a-z][a-z' \-]{1,30}?)[ \t]*\)?[ \t]*(?:[:=(—–|·]|[ \t]at[ \t](?:about[ \t])?)[ \t]*"
    r"(\d{1,3}(?:\.\d+)?|\.\d+)[ \t]*"
    + _SCALE
    + r"|(?:^|[,|;:\n·]|[-*•][ \t])[ \t]*([a-z][a-z' \-]{1,30}?)[ \t]+"
    r"(\d{1,3}(?:\.\d+)?)[ \t]*(%|/[ \t]*(?:10|100|5)\b|[ \t]*out[ \t]+of[ \t]+(?:10|100|5)\b)",
    re.MULTILINE,
)
_LEVEL_ITEM_RE = re.compile(
    r"(?:^|\n)[ \t>*\-•|]*([a-z][a-z' \-]{1,30}?)" + _LEVEL_POST_RE.pattern, re.MULTILINE
)
# the answer is left open: after the winner, "I can't pick one", "neither reading wins", ...
_UNDECIDED_RE = re.compile(
    r"(?:can'?t|cannot|could[ \t]+not|unable[ \t]+to)[ \t]+(?:confidently[ \t]+|really[ \t]+|clearly[ \t]+)?"
    r"(?:pick|choose|decide|settle|tell|narrow|say[ \t]+which)\b|no[ \t]+way[ \t]+to[ \t]+(?:tell|know|say|decide)\b"
    r"|impossible[ \t]+to[ \t]+(?:say|tell|decide)\b|neither[ \t]+(?:clearly[ \t]+)?(?:wins|dominates|prevails)\b|(?:unclear|uncertain|unsure|not[ \t]+(?:clear|sure|certain))[ \t]+"
    r"(?:whether|if)\b|(?:about|roughly|almost|nearly|more[ \t]+or[ \t]+less)[ \t]+equally\b|equally[ \t]+well\b|hard[ \t]+to[ \t]+(?:say|tell)[ \t]+which|either[ \t]+way|toss-?up|coin[ \t\-]?(?:flip|toss)|50[ \t]*/[ \t]*50"
    r"|(?:roughly|about|in)[ \t]+equal[ \t]+(?:parts|proportions?|amounts?)|(?:doesn'?t|does[ \t]+not|can'?t|cannot)[ \t]+settle[ \t]+it"
    r"|neither[ \t]+(?:reading|option|one|label|interpretation|candidate)[ \t]+(?:clearly[ \t]+)?(?:wins|dominates"
    r"|prevails|stands[ \t]+out)|equally[ \t]+(?:likely|plausible|possible|present|strong)|just[ \t]+as[ \t]+(?:well|likely)"
    r"|\(tied\)|\btied\b|in[ \t]+equal[ \t]+measure|(?:an[ \t]+)?equal[ \t]+(?:chance|odds)|to[ \t]+the[ \t]+same[ \t]+degree|(?:torn|split|choose|decide|somewhere)[ \t]+between"
)
# a claim of the answer: when its emotion is not one the lexicon knows, side mentions must not decide
_CLAIM_RE = re.compile(
    r"\b(?:reads?[ \t]+(?:most[ \t]+naturally[ \t]+)?as|appears?[ \t]+to[ \t]+be[ \t]+(?:experiencing|feeling)"
    r"|looks?[ \t]+like|best[ \t]+guess|i'?d[ \t]+(?:go[ \t]+with|call[ \t]+(?:this|it))"
    r"|(?:cues|signs|features|evidence)[ \t]+(?:suggest|point[ \t]+to|indicate)"
    r"|predominantly|primarily|mainly|mostly|chiefly|largely|overwhelmingly"
    r"|points?[ \t]+(?:most[ \t]+)?(?:strongly[ \t]+|clearly[ \t]+)?(?:towards?|to)"
    r"|(?:main|dominant|prevailing|primary|strongest)[ \t]+emotion[ \t]+is|would[ \t]+be|match(?:es)?"
    r"|(?:typical|classic|clear|telltale|characteristic)[ \t]+(?:signs?|markers?|indicators?|features?)[ \t]+of"
    r"|(?:are|is)[ \t]+(?:typical|characteristic)[ \t]+of|adds?[ \t]+up[ \t]+to"
    r"|(?:appears?|seems?)[ \t]+to[ \t]+be(?=[ \t]+(?!(?:an?|the|of|to|looking|about)\b)[a-z])"
    r"|(?:looks?|seems?|appears?)[ \t]+(?:[a-z\-]+[ \t]+){0,2}(?:above|to[ \t]+me)"
    r"|(?:she|he|they|person|subject|individual|man|woman|child)[ \t]+(?:looks|seems|appears)"
    r"(?=[ \t]+(?!(?:at|to|up|down|away|into|toward|towards|straight|directly|off|like|as|out|over|back|around)\b)[a-z]))\b"
    r"|(?:^|\n)[ \t>*\-•]*(?:primary|main|dominant|top)(?:[ \t]+(?:emotion|label))?[ \t]*:"
    r"|(?:^|(?<=[.!?])[ \t]+|\n)more\b",
    re.MULTILINE,
)

# a sentence that is one word, perhaps with an intensifier ("Cheer.", "Pretty clearly chipper."): it names the
# answer; side or hedged mentions never outrank it
_WORD_SENTENCE_RE = re.compile(
    r"(?:^|(?<=[.!?])[ \t]+|\n)[ \t>*\-•]*(?:(?:pretty|quite|very|clearly|mostly|mainly|definitely|probably"
    r"|likely|simply|most[ \t]+likely)[ \t]+){0,2}([a-z][a-z'\-]*)[ \t]*(?:[.!](?=[ \t\n]|$)|(?=\n|$))",
    re.MULTILINE,
)
#: one-word sentences and lines that name nothing ("Okay.", "Sure!", a heading "Observations")
_INTERJECTIONS = frozenset({"ok", "okay", "sure", "certainly", "alright", "yes", "no", "hmm", "well", "right", "thanks",
                            "done", "great", "indeed", "absolutely", "correct", "interesting", "noted", "understood",
                            "hello", "hi", "so", "wait", "fine", "good", "observations", "reasoning", "analysis",
                            "conclusion", "summary", "notes", "interpretation", "assessment", "overview", "breakdown",
                            "explanation", "answer", "result", "evidence", "details"})  # fmt: skip
# a claim with its contrast or its side emotion: "It's disbelief rather than despondency", "It reads as cheer
# instead of sadness", "Above all, this is cheer, with a note of Y"
_CONTRAST_CLAIM_RE = re.compile(
    r"\b(?:it'?s|it[ \t]+is|this[ \t]+is|reads?[ \t]+as|(?:emotion|expression|feeling|mood|most)[ \t]+is)[ \t]+"
    r"(?:(?:a|an)[ \t]+)?([a-z'\-]+(?:[ \t]+[a-z'\-]+)?)"
    r"[ \t]*(?:,[ \t]*(?:with|plus|mixed[ \t]+with|tinged[ \t]+with)|rather[ \t]+than|instead[ \t]+of)\b"
)
#: words that make an object no label ("it's certainly rather than ...", "it is more X than Y")
_NOT_OBJECT = frozenset({"certainly", "definitely", "clearly", "probably", "surely", "really", "simply", "just",
                         "obviously", "possibly", "likely", "maybe", "perhaps", "more", "mostly", "mainly", "less",
                         "something", "nothing", "one", "that", "this", "what", "not", "also"})  # fmt: skip
_DECISION_SCAN_RE = re.compile(_DECISION_CORE)
# claims of a label so strong that only a decision may stand against them
_STRONG_CLAIM_RE = re.compile(
    r"\b(?:is[ \t]+one[ \t]+of|best[ \t]+(?:described|classified|categori[sz]ed|characteri[sz]ed)[ \t]+as"
    r"|(?:classified|categori[sz]ed|labell?ed)[ \t]+as|most[ \t]+consistent[ \t]+with|(?:i'?m[ \t]+)?leaning[ \t]+towards?"
    r"|i'?d[ \t]+(?:say|go[ \t]+with|pick|choose)|my[ \t]+(?:best[ \t]+)?guess[ \t]*:?|the[ \t]+(?:answer|label|verdict)"
    r"[ \t]+is)\b|(?:^|\n)[ \t>*\-•]*(?:primary|main|dominant|top)(?:[ \t]+(?:emotion|label))?[ \t]*:",
    re.MULTILINE,
)
# the object of a claim: at most two words after determiners, then the end of the clause
_SHORT_OBJECT_RE = re.compile(
    r"[ \t]*(?::[ \t]*)?" + _DET + r"[a-z'\-]+(?:[ \t]+[a-z'\-]+)?"
    r"(?:[ \t]+(?:to[ \t]+me|than[ \t]+[a-z'\-]+(?:[ \t]+else)?|above[ \t]+(?:anything|everything|all)(?:[ \t]+else)?))?"
    r"[ \t]*(?:[.!?;,\n]|$)"
)
# between a claim and the emotion it names: at most three words, no punctuation
_OBJECT_GAP_RE = re.compile(r"[ \t]*(?:[:\-–][ \t]*)?(?:[a-z'\-]+[ \t]+){0,3}")
# ... and one that follows its subject ("Disbelief: fits best", "X is the best fit")
_CLAIM_AFTER_RE = re.compile(
    r"[ \t]*[:\-–—][ \t]*(?:most[ \t]+(?:likely|plausible)\b|(?:the[ \t]+)?(?:best|strongest|closest)[ \t]+(?:fit|match)"
    r"|fits[ \t]+best)"
    r"|[ \t]+is[ \t]+the[ \t]+(?:best|strongest|closest)[ \t]+(?:fit|match)|[ \t]+above[ \t]+(?:anything|everything|all)"
    r"[ \t]+else"
)
#: words a short concluding line may hold besides the emotion ("Assessment: clearly not anger")
_FILLER_WORDS = frozenset({"a", "an", "the", "not", "no", "rather", "than", "instead", "of", "neither", "nor", "but",
                           "and", "or", "clearly", "definitely", "it", "is", "this", "just", "more", "mostly"})  # fmt: skip
#: score-list items that are not labels
_META_LABELS = frozenset({"confidence", "certainty", "probability", "score", "intensity", "valence", "arousal",
                          "total", "overall", "step", "au", "action unit", "likelihood"})  # fmt: skip

# --- ranked lists: "Ranking:\n1. Sadness (most likely)\n2. Fear", "Anxiety > Frustration > Dejection"
_RANK_ITEM_RE = re.compile(
    r"^[ \t>*\-•]*(\d{1,2})[.)][ \t]+(?:(?:a|an|the)[ \t]+)?(?:look[ \t]+of[ \t]+)?", re.MULTILINE
)
_RANK_LEAD_RE = re.compile(
    r"\b(?:rank(?:ing|ings|ed|s)?|most[ \t]+to[ \t]+least|order[ \t]+of[ \t]+(?:likelihood|probability|confidence)"
    r"|most[ \t]+likely[ \t]+first|top[ \t]+(?:\d[ \t]+)?(?:guesses|candidates|choices|picks|predictions))\b"
)
# the first item says it is the top one: "1. Sadness (most likely)"
_RANK_TOP_RE = re.compile(
    r"[ \t]*[(:\-–—,][ \t]*(?:most[ \t]+likely|strongest|best[ \t]+(?:fit|match)|clear[ \t]+fit|top|highest)\b"
)
_TIED_RE = re.compile(r"\b(?:tied?|joint(?:ly)?|equal(?:ly)?|same[ \t]+(?:rank|level))\b")
# an unknown word linked to the mention that follows ("glee > fear"), and a link before it ("x > glee")
_CHAIN_UNKNOWN_RE = re.compile(r"([a-z][a-z'\-]+)[ \t]*(>|≫|=|≈)[ \t]*(?:(?:a|an|the)[ \t]+)?$")
_FIRST_THEN_RE = re.compile(
    r"([a-z][a-z'\-]*)[ \t]+first[ \t]*,?[ \t]*(?:and[ \t]+)?(?:then|followed[ \t]+by|next)\b"
)
# the colon after a ranking's lead, and the separators of its inline items ("Ranking (most likely first): X, Y")
_RANK_COLON_RE = re.compile(
    r"[ \t]*(?:(?:by|of)[ \t]+[a-z]+[ \t]*)?(?:\([^()\n]{0,40}\)[ \t]*)?:[ \t]*(?:(?:a|an|the)[ \t]+)?"
)
_RANK_SEP_RE = re.compile(r"[ \t]*[,;][ \t]*(?:(?:then|and|or)[ \t]+)?(?:(?:a|an|the)[ \t]+)?")
_CHAIN_LINK_RE = re.compile(r"(?:>|≫|=|≈)[ \t]*(?:(?:a|an|the)[ \t]+)?$")
_CHAIN_GAP_RE = re.compile(r"[ \t]*(?:(?P<gt>>|≫)|(?P<eq>=|≈))[ \t]*(?:(?:a|an|the)[ \t]+)?")

SIDE, HEDGE, PLAIN, PRIMARY, DECISION = 1, 2, 3, 4, 5
_RANK_NAMES = {SIDE: "side", HEDGE: "hedged", PLAIN: "plain", PRIMARY: "primary", DECISION: "decision"}


@dataclass(frozen=True)
class Reading:
    """What a free text says about the label."""

    kind: str  # "one", "tie" (several equally supported), "negated" (only negated labels), "none"
    emotions: tuple[str, ...]  # "one": the label; "tie": the emotions equally supported
    raw: str | None = None  # the sentence that decided, as written (at most 120 characters)
    asserted: bool = False  # decided by a statement, a rank, a conclusion or a score: not a bare word
    notes: tuple[str, ...] = ()  # coded notes: the rules that made the difference


class _Mention:
    __slots__ = ("asserted", "descriptive", "emotion", "end", "rank", "region", "revises", "score", "sent", "skip",
                 "start", "word")  # fmt: skip

    def __init__(self, emotion: str, word: str, start: int, end: int, sent: int) -> None:
        self.emotion = emotion
        self.word = word
        self.start = start
        self.end = end
        self.sent = sent
        self.skip = ""  # why it cannot be the answer: "negated", "not-emotion", "list", "descriptive"
        self.rank = PLAIN
        self.score: float | None = None
        self.revises = False
        self.descriptive = word in DESCRIPTIVE_WORDS
        self.asserted = False
        self.region = False


class _Text:
    """Sentence and clause boundaries of one text, computed once."""

    def __init__(self, low: str) -> None:
        self.low = low
        self.ends = [m.end() for m in _SENT_END_RE.finditer(low)]

    def sentence(self, pos: int) -> tuple[int, int, int]:
        """(index, start, end) of the sentence holding ``pos``."""
        i = bisect_right(self.ends, pos)
        start = self.ends[i - 1] if i else 0
        end = self.ends[i] if i < len(self.ends) else len(self.low)
        return i, start, end


def read_prose(text: str, low: str, *, conclusion: bool = False) -> Reading:
    """Read the label of a free text. ``low`` is ``text`` lower-cased, with the same length (markdown
    removed from both). ``conclusion``: the whole text is a concluding section."""
    if "’" in low:
        low = low.replace("’", "'")
    found = list(EMOTION_RE.finditer(low))
    if not found:
        return Reading("none", ())
    t = _Text(low)
    found = found[-MAX_MENTIONS:]
    ms: list[_Mention] = []
    for f in found:
        word = f.group(0)
        key = word if word in SYNONYM_TO_EMOTION else _SPACE_RE.sub(" ", word)
        sent = t.sentence(f.start())[0]
        ms.append(_Mention(SYNONYM_TO_EMOTION[key], key, f.start(), f.end(), sent))
    _mark_lists(low, ms)
    prev: _Mention | None = None
    for m in ms:
        _classify(t, m, prev)
        prev = m
    if ":" in low and ("rank" in low or "least" in low or "order of" in low or "top " in low):
        _inline_rankings(t, ms)
    if "1." in low or "1)" in low or ">" in low or "=" in low or " first" in low:
        unknown = _rank_lists(t, ms)
        if unknown:
            if unknown.startswith("answer-tie"):
                return Reading("tie", (), notes=(unknown,))
            return Reading("none", (), notes=(unknown,))
    return _decide(text, t, ms, conclusion)


# --------------------------------------------------------------------------------------------------
# What each mention is


def _mark_lists(low: str, ms: list[_Mention]) -> None:
    """Three or more emotions joined only by commas, slashes, "and" / "or" are a list of candidates
    (an echoed class list, "shared by anger, fear and sadness"), not an answer."""
    run = [ms[0]] if ms else []
    for a, b in pairwise(ms):
        gap = low[a.end : b.start]
        if len(gap) <= 12 and _COORD_RE.match(gap) and gap.strip(" \t") and a.emotion != b.emotion:
            run.append(b)
            continue
        _flag_run(run)
        run = [b]
    _flag_run(run)


def _flag_run(run: list[_Mention]) -> None:
    if len({m.emotion for m in run}) >= 3:
        for m in run:
            m.skip = "list"


def _classify(t: _Text, m: _Mention, prev: _Mention | None) -> None:
    low = t.low
    _, s0, s1 = t.sentence(m.start)
    pre_sent = low[max(s0, m.start - 200) : m.start]
    post = low[m.end : min(s1 + 1, m.end + 60)]
    if m.skip:
        return
    if _negated(low, m, prev, s0):
        m.skip = "negated"
        return
    why = _not_emotion(m, pre_sent, post)
    if why:
        m.skip = why
        return
    clause = low[_clause_start(low, max(s0, m.start - 200), m.start) : m.start]
    near = clause[-40:]
    m.score = _score(low, m, post)
    if m.score is not None:
        m.descriptive = False  # a scored word is a label ("content: 0.7")
    m.revises = _REVISION_RE.search(pre_sent) is not None
    m.asserted = (
        _ASSERT_RE.search(clause) is not None
        or _PERSON_RE.search(clause) is not None
        or _LEAD_HEDGE_RE.fullmatch(low, s0, m.start) is not None
    )
    question = low[s1 - 1 : s1] == "?" if s1 > m.end else False
    noun = m.word in EMOTION_NOUNS
    role = _line_role(low, m)
    if role == "primary" or _LONE_LINE_RE.fullmatch(low, s0, s1):
        m.rank, m.asserted = DECISION, True  # "- Primary: X", a line that is only a label ("Disgust.")
    elif (
        role == "side"
        or _SIDE_PRE_RE.search(near)
        or (noun and _SIDE_NOUN_PRE_RE.search(near))
        or _SIDE_POST_RE.match(post)
    ):
        m.rank = SIDE
    elif _FORCED_RE.search(pre_sent[-120:]):
        m.rank = DECISION  # "If I had to pick one label, it would be X"
    elif question or _HEDGE_RE.search(clause) or _HEDGE_POST_RE.match(post) or _FIRST_THOUGHT_RE.match(post):
        m.rank = HEDGE
    elif _DECISION_RE.search(pre_sent[-80:]) and not _TIE_RE.search(clause[-80:]):
        m.rank = DECISION
    elif _PRIMARY_RE.search(near) or _PRIMARY_POST_RE.match(post):
        m.rank = PRIMARY
    elif _WEAK_HEDGE_RE.search(clause) or (low[m.start - 1 : m.start] == "(" and m.score is None):
        m.rank = HEDGE  # general knowledge ("often associated with X"), a parenthesis "(disgust)"
    if (
        m.descriptive and not m.asserted
    ):  # said of the person ("she looks calm", "calm is what the face shows"), or ranked
        m.asserted = m.rank >= PRIMARY or _PERSON_RE.search(low, max(s0, m.start - 200), s1) is not None
        # a comparison is a claim: "More blank than fearful."
        m.asserted = m.asserted or (low.endswith("more ", 0, m.start) and post.startswith(" than "))


def _rank_lists(t: _Text, ms: list[_Mention]) -> str:
    """A ranked list decides by its first rank: its emotions become decisions, the lower ranks side
    mentions ("Ranking:\\n1. Sadness\\n2. Fear", "Anxiety > Frustration > Dejection"); two emotions
    at the first rank ("1. Fear / Surprise (tied)", "X = Y > Z", two items numbered 1) stay tied. Returns
    a note when the first rank names no known emotion (never guess from the lower ranks)."""
    low = t.low
    by_start = {m.start: m for m in ms}
    # numbered items on consecutive lines
    runs: list[list[re.Match[str]]] = []
    for it in _RANK_ITEM_RE.finditer(low):
        if runs and not low[low.find("\n", runs[-1][-1].end()) : it.start()].strip():
            runs[-1].append(it)
        else:
            runs.append([it])
    for run in runs:
        if len(run) < 2:
            continue
        lead = low[max(0, low.rfind("\n", 0, max(0, run[0].start() - 1)) + 1) : run[0].start()]
        items = []
        for it in run:
            end = low.find("\n", it.end())
            end = len(low) if end < 0 else end
            items.append((int(it.group(1)), it.end(), end, [m for m in ms if it.end() <= m.start < end]))
        first = [x for x in items if x[0] == items[0][0]]
        head = by_start.get(items[0][1])
        ranked = _RANK_LEAD_RE.search(lead) or (head is not None and _RANK_TOP_RE.match(low, head.end))
        if not ranked or any(by_start.get(x[1]) is None and x[3] for x in items):
            continue  # not a ranking, or items that do not start with their emotion ("1. The brows ...")
        if head is None:
            word = " ".join(low[items[0][1] : items[0][2]].split()[:3])
            return f"answer-not-emotion: the first rank ({word!r}) names no emotion the lexicon knows"
        if any(m.skip == "negated" for x in first for m in x[3][:1]):
            continue  # "1. Fear: unlikely": a list of verdicts, not a ranking
        tied = len(first) > 1 or (len(items) > 1 and _TIED_RE.search(low, items[0][1], items[0][2]) is not None
                                  and _TIED_RE.search(low, items[1][1], items[1][2]) is not None)  # fmt: skip
        for n, (_, _, _, inside) in enumerate(items):
            top = n < len(first) or (tied and n == 1)
            for m in inside:
                if not m.skip:
                    m.rank, m.asserted = (DECISION, True) if top and (m is inside[0] or _TIED_RE.search(
                        low, inside[0].end, m.start) or low[inside[0].end : m.start].strip(" \t/&") in ("", "or", "and")) else (SIDE, m.asserted)  # fmt: skip
    starts = [m.start for m in ms]
    # inline rankings: "Ranked by likelihood: X first, then Y, then Z"
    for r in _FIRST_THEN_RE.finditer(low) if " first" in low else ():
        i, s0, _ = t.sentence(r.start())
        if not _RANK_LEAD_RE.search(low, max(s0, r.start() - 200), r.start()):
            continue
        j = bisect_right(starts, r.start(1))
        head = ms[j - 1] if j and ms[j - 1].end == r.end(1) else None
        if head is None:
            return f"answer-not-emotion: the first rank ({r.group(1)!r}) names no emotion the lexicon knows"
        if head.skip:
            continue
        head.rank, head.asserted = DECISION, True
        for m in ms[j:]:
            if m.sent != i:
                break
            if not m.skip:
                m.rank = SIDE
    # chains: "X > Y > Z", "X = Y > Z"; a chain whose head (or an emotion tied with it) is a word the
    # lexicon does not know never decides ("Lightheartedness > Shock", "Glee = Amazement > Annoyance")
    ends = {m.end for m in ms}
    for m in ms:
        u = _CHAIN_UNKNOWN_RE.search(low, max(0, m.start - 40), m.start) if not m.skip else None
        if u is None or u.end(1) in ends:
            continue
        if u.group(2) in "=≈":
            return f"answer-tie: the ranking ties {m.word!r} with {u.group(1)!r}, not an emotion the lexicon knows"
        if not _CHAIN_LINK_RE.search(low, max(0, u.start() - 40), u.start(1)):
            return f"answer-not-emotion: the first rank ({u.group(1)!r}) names no emotion the lexicon knows"
    chained = False  # whether the previous pair was a link of the chain ("Y" in "X > Y > Z" is no head)
    for a, b in pairwise(ms):
        g = _CHAIN_GAP_RE.fullmatch(low, a.end, b.start) if b.start - a.end <= 12 else None
        if g is None or a.sent != b.sent or a.skip or b.skip:
            chained = False
            continue
        if g.group("gt"):
            if not chained or a.rank != SIDE:
                a.rank, a.asserted = max(a.rank, DECISION), True
            b.rank = SIDE
        else:
            a.rank = b.rank = max(a.rank, b.rank, DECISION)
            a.asserted = b.asserted = True
        chained = True
    return ""


def _inline_rankings(t: _Text, ms: list[_Mention]) -> None:
    """An inline ranking decides by its first item: "Ranking (most to least likely): X, Y, Z"."""
    low = t.low
    starts = [m.start for m in ms]
    for r in _RANK_LEAD_RE.finditer(low):
        colon = _RANK_COLON_RE.match(low, r.end())
        if colon is None:
            continue
        j = bisect_left(starts, colon.end())
        if j >= len(ms) or ms[j].start != colon.end() or ms[j].skip not in ("", "list"):
            continue
        run = [ms[j]]
        for m in ms[j + 1 :]:
            if m.sent != run[0].sent or not _RANK_SEP_RE.fullmatch(low, run[-1].end, m.start):
                break
            run.append(m)
        if len(run) < 2 or len({m.emotion for m in run}) < len(run):
            continue
        run[0].skip, run[0].rank, run[0].asserted = "", DECISION, True
        for m in run[1:]:  # the lower ranks: candidates listed, not answers
            m.skip, m.rank = "list", SIDE


def _clause_start(low: str, start: int, pos: int) -> int:
    """Where the clause holding ``pos`` starts: after ; or :, at a contrastive word ("but X"), and
    after the comma that ends a concessive clause ("although some see fear, | the face shows X")."""
    at, concessive = start, False
    for c in _CLAUSE_RE.finditer(low, start, pos):
        token = c.group(0)
        if token == ",":
            if concessive:
                at, concessive = c.end(), False
        elif token in ";:":
            at, concessive = c.end(), False
        else:
            at, concessive = c.start(), token in _CONCESSIVE
    return at


def _line_role(low: str, m: _Mention) -> str:
    """ "primary", "side" or "absent" when the mention's line is labelled with its role, else ""."""
    line_start = low.rfind("\n", max(0, m.start - 60), m.start)
    if line_start < 0:
        if m.start > 60:
            return ""  # the line starts too far back for a "Primary:" label
        line_start = 0
    labels = list(_LINE_ROLE_RE.finditer(low, line_start, m.start))
    r = labels[-1] if labels else None  # the last label before the mention ("Top pick: X. Runner-up: Y.")
    if r is None or not _ROLE_GAP_RE.fullmatch(low, r.end(), m.start):
        return ""
    return next(k for k in ("primary", "side", "absent") if r.group(k))


def _negated(low: str, m: _Mention, prev: _Mention | None, s0: int) -> bool:
    if _POST_NEG_RE.match(low, m.end, m.end + 60) or _line_role(low, m) == "absent":
        return True
    at_over = max(s0, m.start - 120)
    if low.find(" over ", at_over, m.start) >= 0 and _OVER_RE.search(low, at_over, m.start):
        return True  # "I'd go with X over Y"
    if (
        prev is not None
        and prev.skip == "negated"
        and prev.sent == m.sent
        and m.start - prev.end <= 12
        and _COORD_RE.match(low, prev.end, m.start)
    ):
        return True  # "no sign of fear or anger"
    pre = low[max(s0, m.start - 60) : m.start]
    cut = 0
    for e in SCOPE_END_RE.finditer(pre):
        cut = e.end()
    window = pre[cut:]
    words = [(w.group(0), w.start()) for w in WORD_RE.finditer(window)][-6:]
    at = None
    for i, (w, pos) in enumerate(words):
        nxt = words[i + 1][0] if i + 1 < len(words) else ""
        nxt2 = words[i + 2][0] if i + 2 < len(words) else ""
        if (w, nxt) in _NOT_NEGATING or nxt in _UNDECIDED or nxt2 in _UNDECIDED:
            continue  # "no doubt", "I can't settle on X versus Y", "not sure whether X"
        if w in _NEGATORS or w.endswith("n't") or nxt in _NEGATOR_PAIRS.get(w, ()):
            at = pos
    if at is None:
        return False
    # a negation covers the next emotion (and a list of them), not one after it
    if prev is not None and prev.start >= m.start - len(window) + at and prev.sent == m.sent:
        gap = low[prev.end : m.start]
        return prev.skip == "negated" and len(gap) <= 12 and _COORD_RE.match(gap) is not None
    return True


def _not_emotion(m: _Mention, pre: str, post: str) -> str:
    """Why a mention is no emotion of the face ("" when it is one)."""
    w = m.word
    helping = w in _HELP_WORDS and (post.startswith(" to ") or post.startswith(" you"))
    if helping and (_HELP_PRE_RE.search(pre) or not pre.strip(" \t*-#>") or _HELP_LEAD_RE.search(pre)):
        return "not-emotion"  # "I'm happy to help", "Glad you asked"
    if w == "content" and (_CONTENT_NOUN_RE.match(post) or _CONTENT_PRE_RE.search(pre)):
        return "not-emotion"  # "the content of the image"
    if w in ("neutral", "calm", "blank") and (_THING_RE.match(post) or _THING_PRE_RE.search(pre)):
        return "not-emotion"  # "a neutral background"
    if (
        (w == "neutral" or m.descriptive)
        and _PART_RE.search(pre)
        and not _PERSON_RE.search(pre)
        and not _FACE_NOUN_RE.match(post)
    ):
        return "not-emotion"  # "Eyes: neutral", "the brow is relaxed"
    if (w == "neutral" or m.descriptive) and _PART_SAID_RE.search(pre):
        return "not-emotion"  # "the facial muscles look relaxed"
    if w.startswith("no ") and _NOT_READ_RE.match(post):
        return "not-emotion"  # "no expression can be read from it": nothing is read, no neutral face
    if w in _DISJUNCT_WORDS and post.startswith(",") and not pre.strip(" \t*-#>"):
        return "not-emotion"  # "Sadly, the image is blurred"
    if w == "surprise" and pre.endswith(("to my ", "to our ", "to everyone's ")):
        return "not-emotion"
    return ""


def _score(low: str, m: _Mention, post: str) -> float | None:
    a = _SCORE_POST_RE.match(post)
    value, scale = (a.group(1), a.group(2)) if a else (None, None)
    if value is None:
        b = _SCORE_PRE_RE.search(low, max(0, m.start - 40), m.start)
        if b is None:
            lv = _LEVEL_POST_RE.match(post)
            if lv is None or not _ITEM_START_RE.search(low, max(0, m.start - 20), m.start):
                return None
            return _LEVELS[" ".join(lv.group(1).split())]  # "- Fear: high"
        value, scale = b.group(1), "%"
    return _scaled(float(value), scale)


def _scaled(v: float, scale: str | None) -> float | None:
    """A score in [0, 1]: "70%", "7/10", "7 out of 10", "0.7"."""
    if not scale:
        return v if v <= 1 else None
    den = 100.0 if scale == "%" else float(scale.split()[-1].lstrip("/ \t"))
    return v / den if v <= den else None


# --------------------------------------------------------------------------------------------------
# Deciding


def _decide(text: str, t: _Text, ms: list[_Mention], conclusion: bool) -> Reading:
    cands = [m for m in ms if not m.skip]
    negated = [m for m in ms if m.skip == "negated"]
    if not cands:
        if negated:
            words = ", ".join(dict.fromkeys(m.word for m in negated))
            return Reading(
                "negated", (), notes=(f"answer-negation-skipped: only negated labels in the text ({words})",)
            )
        return Reading("none", ())
    # a descriptive word ("calm", "smiling") counts when said of the person ("she looks calm") and
    # nothing stronger is named at its rank or above, or when its sentence holds it equal to another
    starts = [] if conclusion else _conclusion_starts(t.low)
    for m in cands:  # a descriptive word in the last concluding part is said of the face ("In short: calm")
        if m.descriptive and (conclusion or (starts and m.start >= starts[-1])):
            m.asserted = True
    strong = [m for m in cands if not m.descriptive]
    top_strong = max((m.rank for m in strong), default=0)
    cands = strong + [
        m for m in cands if m.descriptive and m.asserted and (m.rank > top_strong or _tied(t, m))
    ]
    if not cands:
        return Reading("none", ())
    cands.sort(key=lambda m: m.start)

    scored = [m for m in cands if m.score is not None]
    if scored:
        items = _score_items(t.low)
        if len({m.emotion for m in scored}) >= 2 or len(items) >= 2:
            return _from_scores(text, t, scored, items)

    # the last concluding part that makes a claim
    pool, region = cands, False
    if conclusion:
        region = True
        for m in cands:
            m.region = True
    else:
        claims = [m.start for m in cands if m.rank >= HEDGE]
        i = bisect_right(starts, claims[-1]) if claims else 0
        if i:  # the last concluding part that a claim follows
            pool = [m for m in cands if m.start >= starts[i - 1]]
            region = True
            for m in pool:
                m.region = True
    _same_clause_alike(t, pool)
    top_rank = max(m.rank for m in pool)
    top = [m for m in pool if m.rank == top_rank]
    emotions = tuple(dict.fromkeys(m.emotion for m in top))
    revised = False
    if len(emotions) > 1:
        # a later sentence that revises or concludes outranks the earlier ones of the same rank
        last = max(m.sent for m in top)
        final = [m for m in top if m.sent == last]
        if len({m.emotion for m in final}) == 1 and final[0].revises and any(m.sent < last for m in top):
            emotions, top, revised = (final[0].emotion,), final, True
    if len(emotions) > 1:
        where = " in the conclusion" if region else ""
        return Reading(
            "tie",
            emotions,
            _sentence(text, t, top[-1]),
            notes=(
                f"answer-tie: {', '.join(emotions)} are equally supported{where} ({_RANK_NAMES[top_rank]})",
            ),
        )
    winner = top[-1]
    open_ = _left_open(t, winner)
    if open_:
        return Reading("tie", emotions, _sentence(text, t, winner), notes=(open_,))
    claim = _unknown_claim(t, ms, winner) or _unknown_conclusion(t, ms, winner)
    if claim:
        return Reading("none", (), notes=(claim,))
    return Reading(
        "one",
        emotions,
        _sentence(text, t, winner),
        asserted=winner.rank >= PRIMARY or winner.region or winner.asserted,
        notes=tuple(_why(ms, cands, pool, winner, region, revised)),
    )


def _left_open(t: _Text, w: _Mention) -> str:
    """A note when the text leaves the answer open around the winner ("X and Y are equally likely",
    "It's a toss-up between X and Y", "I can't pick one") even though only X is a known emotion."""
    low = t.low
    i, s0, _ = t.sentence(w.start)
    start = _clause_start(low, max(s0, w.start - 200), w.start)
    end = t.ends[i + 2] if i + 2 < len(t.ends) else len(low)
    u = _UNDECIDED_RE.search(low, start, min(end, w.end + 400))
    if u is None:
        return ""
    return (
        f"answer-tie: the text leaves the answer open ({u.group(0)!r}) between {w.word!r} and something else"
    )


def _unknown_claim(t: _Text, ms: list[_Mention], w: _Mention) -> str:
    """A note when the text claims an answer that names no known emotion and the winner ``w`` is
    weaker than that claim: side or hedged mentions never outrank a claim ("this reads as disbelief";
    "- Primary: nausea"), nor does anything short of a decision outrank a decision ("the expression is
    best classified as woebegone")."""
    starts = [m.start for m in ms]
    claims = [*_STRONG_CLAIM_RE.finditer(t.low)]
    if w.rank <= HEDGE:
        claims += [
            *_CLAIM_RE.finditer(t.low),
            *_DECISION_SCAN_RE.finditer(t.low),
            *_STATEMENT_RE.finditer(t.low),
        ]
    elif w.rank == DECISION:
        return ""
    for c in claims:
        inside = c.group(0).endswith(("to me", "else")) or c.group(0).rstrip().endswith("above")
        if not inside and not _SHORT_OBJECT_RE.match(t.low, c.end()):
            continue  # not a claim of a label ("the face is seen from the front")
        i = bisect_right(starts, c.end())
        if i and ms[i - 1].start >= c.start() and not ms[i - 1].skip:
            continue  # the claim holds a known emotion ("looks unhappy to me")
        if (
            i < len(starts)
            and ms[i].skip != "negated"
            and _OBJECT_GAP_RE.fullmatch(t.low, c.end(), starts[i])
        ):
            continue  # the claim names a known emotion
        said = " ".join(re.split(r"[.!?;\n]", t.low[c.start() : c.end() + 30], maxsplit=1)[0].split())
        return f"answer-not-emotion: the main claim ({said!r}) names no emotion the lexicon knows"
    for c in _CONTRAST_CLAIM_RE.finditer(t.low) if w.rank <= HEDGE else ():
        if set(c.group(1).split()) & _NOT_OBJECT or any(c.start(1) <= m.start < c.end(1) for m in ms):
            continue
        return f"answer-not-emotion: the main claim ({' '.join(c.group(0).split())!r}) names no emotion the lexicon knows"
    for c in _WORD_SENTENCE_RE.finditer(t.low) if w.rank <= HEDGE else ():
        word = c.group(1)
        if word in _INTERJECTIONS or any(c.start(1) <= m.start < c.end(1) for m in ms):
            continue
        return f"answer-not-emotion: the main claim ({' '.join(c.group(0).split())!r}) names no emotion the lexicon knows"
    for c in _SAY_CLAIM_RE.finditer(t.low, w.end) if w.rank <= HEDGE else ():
        # "... but I'd say he looks on the edge of something": a stated answer whose sentence names no
        # known emotion; side or hedged mentions before it never decide
        _, _, s1 = t.sentence(c.start())
        i = bisect_right(starts, c.end() - 1)
        if _SAY_BACK_RE.match(t.low, c.end()) or any(m.skip != "negated" for m in ms[i:] if m.start < s1):
            continue  # "I'd say that is the most natural reading" points back to the winner
        said = " ".join(t.low[c.start() : s1].split())[:60]
        return f"answer-not-emotion: the main claim ({said!r}) names no emotion the lexicon knows"
    ends = [m.end for m in ms]
    for c in _CLAIM_AFTER_RE.finditer(t.low) if w.rank <= HEDGE else ():
        i = bisect_right(ends, c.start())
        if i and c.start() - ends[i - 1] <= 3:
            continue
        said = " ".join(re.split(r"[.!?;\n]", t.low[max(0, c.start() - 30) : c.end()])[-1].split())
        return f"answer-not-emotion: the main claim ({said!r}) names no emotion the lexicon knows"
    return ""


_SAY_BACK_RE = re.compile(r"[ \t]*,?[ \t]*(?:that|this|so|it|yes|no)\b")
_SAY_CLAIM_RE = re.compile(r"\bi(?:'d|[ \t]+would)[ \t]+(?:say|call[ \t]+(?:it|this)|go[ \t]+with)\b")
_SAID_OF_PERSON_RE = re.compile(
    r"\b(?:person|he|she|they|subject|individual|man|woman|child|boy|girl)[ \t]+(?:is|seems|looks|appears)"
    r"[ \t]+(?:to[ \t]+be[ \t]+)?(?:[a-z'\-]+[ \t]+){0,2}?[a-z'\-]+[ \t]*[.!]?[ \t]*$"
)


def _unknown_conclusion(t: _Text, ms: list[_Mention], w: _Mention) -> str:
    """A note when a short concluding line after the winner ("Assessment: Exuberance rather than
    contempt.") names something that is no known emotion: the winner is not what the text concludes."""
    heads = list(_HEAD_RE.finditer(t.low))
    if not heads or heads[-1].start() < w.end:
        return ""
    h = heads[-1]
    line_end = t.low.find("\n", h.end())
    content = t.low[h.end() : len(t.low) if line_end < 0 else line_end]
    if not content.strip():  # the heading stands alone: its content is the next line
        nxt = t.low.find("\n", line_end + 1) if line_end >= 0 else -1
        content = t.low[line_end + 1 : len(t.low) if nxt < 0 else nxt] if line_end >= 0 else ""
    words = WORD_RE.findall(content)
    if not words:
        return ""
    if len(words) > 6:
        # a longer concluding line counts when it says what the person is ("In my view, she is on edge.")
        said = _SAID_OF_PERSON_RE.search(content)
        if said is None or any(at <= m.start for m in ms for at in (t.low.find(content, h.start()),)):
            return ""
        return f"answer-not-emotion: the concluding line ({' '.join(words)!r}) names no emotion the lexicon knows"
    at = t.low.find(content, h.start())
    named = [m for m in ms if at <= m.start < at + len(content)]
    if any(not m.skip for m in named):
        return ""
    inside = {w for m in named for w in m.word.split()}
    left = [x for x in words if x not in _FILLER_WORDS and x not in inside]
    if not left:
        return ""
    return f"answer-not-emotion: the concluding line ({' '.join(words)!r}) names no emotion the lexicon knows"


def _score_items(low: str) -> list[tuple[str, float, int, int]]:
    """Every "<label>: <number>" item of the text's score lists (labels the lexicon may not know):
    (label, value, start, end)."""
    items = []
    for it in _SCORE_ITEM_RE.finditer(low):
        g = 1 if it.group(1) is not None else 4
        label = " ".join(it.group(g).split()[-3:])
        value = _scaled(float(it.group(g + 1)), it.group(g + 2))
        if label in _META_LABELS or value is None:
            continue
        items.append((label, value, it.start(g), it.end(g + 1)))
    if "\n" in low:
        for it in _LEVEL_ITEM_RE.finditer(low):
            label = " ".join(it.group(1).split()[-3:])
            if label not in _META_LABELS:
                items.append((label, _LEVELS[" ".join(it.group(2).split())], it.start(1), it.end(2)))
    for it in _SCORE_ITEM_PRE_RE.finditer(low):
        v = float(it.group(1))
        if v <= 100:
            items.append((it.group(2), v / 100, it.start(1), it.end(2)))
    return items


def _tied(t: _Text, m: _Mention) -> bool:
    """Whether the sentence of ``m`` holds two emotions equal ("X and Y in equal measure")."""
    _, s0, s1 = t.sentence(m.start)
    return _TIE_RE.search(t.low, max(s0, m.start - 300), min(s1, m.end + 300)) is not None


def _conclusion_starts(low: str) -> list[int]:
    starts = [m.start() for m in _HEAD_RE.finditer(low)] + [m.start() for m in _CONCLUDE_RE.finditer(low)]
    return sorted(starts)


def _same_clause_alike(t: _Text, pool: list[_Mention]) -> None:
    """Plain and hedged mentions of different emotions in one clause, or in one sentence that holds
    them equal, count alike ("fear or surprise", "anger and sadness", "X, but just as well Y")."""
    low = t.low
    # emotions joined by "and" / "or" / a comma share one rank ("the expression is anger and disgust")
    for a, b in pairwise(pool):
        gap = low[a.end : b.start]
        if a.sent == b.sent and len(gap) <= 12 and gap.strip(" \t") and _COORD_RE.match(gap):
            a.rank = b.rank = max(a.rank, b.rank)
    by_clause: dict[tuple[int, int], list[_Mention]] = {}
    for m in pool:
        if m.rank not in (HEDGE, PLAIN):
            continue
        _, s0, _ = t.sentence(m.start)
        # a sentence that holds two emotions equal is one clause
        clause = s0 if _tied(t, m) else _clause_start(low, max(s0, m.start - 200), m.start)
        by_clause.setdefault((m.sent, clause), []).append(m)
    for group in by_clause.values():
        if len({m.emotion for m in group}) > 1:
            rank = max(m.rank for m in group)
            for m in group:
                m.rank = rank


def _from_scores(
    text: str, t: _Text, scored: list[_Mention], items: list[tuple[str, float, int, int]]
) -> Reading:
    best: dict[str, float] = {}
    for m in scored:
        assert m.score is not None
        best[m.emotion] = max(best.get(m.emotion, 0.0), m.score)
    top = max(best.values())
    # an item whose label is no known emotion ("chipper: 0.45", "terror-struck (0.35)") may not tie or beat it
    unknown = [
        (label, v) for label, v, a, b in items if v >= top and not any(a <= m.start < b for m in scored)
    ]
    if unknown:
        label, v = max(unknown, key=lambda u: u[1])
        if v > top:
            return Reading("none", (), notes=(f"answer-not-emotion: the highest score ({label!r}, {v:g}) names no "
                                              f"emotion the lexicon knows",))  # fmt: skip
        return Reading("tie", tuple(best), _sentence(text, t, scored[-1]),
                       notes=(f"answer-tie: {label!r}, not an emotion the lexicon knows, scores {v:g} in the list",))  # fmt: skip
    winners = tuple(e for e, v in best.items() if v == top)
    shown = ", ".join(f"{e} {v:g}" for e, v in sorted(best.items(), key=lambda kv: -kv[1]))
    if len(winners) > 1:
        return Reading("tie", winners, _sentence(text, t, scored[-1]),
                       notes=(f"answer-tie: a tie at the top of the score list ({shown})",))  # fmt: skip
    winner = next(m for m in scored if m.emotion == winners[0] and m.score == top)
    notes = [f"answer-score-list: the highest score of the list ({shown})"]
    notes += _synonym_note(winner)
    return Reading("one", winners, _sentence(text, t, winner), asserted=True, notes=tuple(notes))


def _why(
    ms: list[_Mention], cands: list[_Mention], pool: list[_Mention], w: _Mention, region: bool, revised: bool
) -> list[str]:
    """The coded notes of a decision: which rules set aside the other emotions."""
    notes: list[str] = []
    others = [m for m in cands if m.emotion != w.emotion]
    outside = [m for m in others if m not in pool]
    if region and outside:
        notes.append(
            f"answer-from-conclusion: the concluding part names {w.emotion}; earlier mentions "
            f"({_words(outside)}) are outranked"
        )
    elif revised:
        notes.append(f"answer-from-conclusion: a later sentence revises the earlier ones to {w.emotion}")
    elif region and not others:
        notes.append(f"answer-from-conclusion: read from the concluding part ({w.word!r})")
    lower = [m for m in others if m in pool and m.rank < w.rank]
    if lower:
        if w.rank == DECISION:
            notes.append(
                f"answer-final-statement: {w.word!r} is stated as the answer; {_words(lower)} only "
                f"mentioned along the way"
            )
        else:
            kind = "primary cue" if w.rank == PRIMARY else "statement"
            notes.append(
                f"answer-primary-cue: {w.word!r} ({kind}) outranks side or hedged mentions ({_words(lower)})"
            )
    elif w.rank == DECISION and not others:
        notes.append(f"answer-final-statement: {w.word!r} is stated as the answer")
    neg = [m for m in ms if m.skip == "negated" and m.emotion != w.emotion]
    if neg:
        notes.append(f"answer-negation-skipped: negated mentions set aside ({_words(neg)})")
    not_em = [m for m in ms if m.skip in ("not-emotion", "list") and m.emotion != w.emotion]
    if not_em:
        notes.append(
            f"answer-not-emotion-use: emotion words not said of the face set aside ({_words(not_em)})"
        )
    notes += _synonym_note(w)
    return notes


def _synonym_note(w: _Mention) -> list[str]:
    if w.word in EMOTION_NAMES:
        return []
    return [f"answer-synonym: {w.word!r} read as {w.emotion}"]


def _words(ms: list[_Mention]) -> str:
    return ", ".join(dict.fromkeys(m.word for m in ms))


def _sentence(text: str, t: _Text, m: _Mention) -> str:
    _, s0, s1 = t.sentence(m.start)
    sentence = " ".join(text[s0:s1].split())
    if len(sentence) <= 120:
        return sentence
    at = m.start - s0
    lo = max(0, min(at - 60, len(sentence) - 120))
    return sentence[lo : lo + 120]
