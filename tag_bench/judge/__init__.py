"""Judged reasoning: a judge model's pairwise preferences between the traces of several runs.

``tag-bench judge RUNS... --judge ADAPTER`` (docs/judge.md): :func:`judge_runs` runs a study into a judge
run directory (:class:`tag_bench.rundir.JudgeRunDir`); :func:`study_report` fits its Bradley-Terry
ratings; :mod:`tag_bench.judge.agree` measures agreement with people or another judge.
"""

from __future__ import annotations

from tag_bench.judge.report import study_report
from tag_bench.judge.study import JudgeError, StudyResult, judge_runs

__all__ = ["JudgeError", "StudyResult", "judge_runs", "study_report"]
