"""The scoring version: which parsing and scoring semantics a set of scores was computed under."""

#: Bumped whenever parsing or scoring changes what a response scores as. Scores of another version never
#: share a column with this one's (tag_bench.comparability); ``tag-bench score RUN`` re-scores a run
#: under this version.
#:
#: 1: the first recorded version (scores written before it count as version 0).
#: 2: free-text answers are read like a careful annotator (tag_bench/parsing/prose.py, docs/parsing.md):
#:    conclusions, negation scope, ranks, score lists, a larger lexicon; a last line naming several
#:    emotions or a score is prose. Answers with an explicit cue (tag, boxed, JSON, "final answer:",
#:    "Emotion:" field, lone label line) parse as before, except a label written as a new synonym.
SCORING_VERSION = 2
