"""The scoring version: which parsing and scoring semantics a set of scores was computed under."""

#: Bumped whenever parsing or scoring changes what a response scores as. Scores of another version never
#: share a column with this one's (tag_bench.comparability); ``tag-bench score RUN`` re-scores a run
#: under this version.
#:
#: 1: the first recorded version (scores written before it count as version 0).
SCORING_VERSION = 1
