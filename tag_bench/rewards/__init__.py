"""TAG rewards for training, computed by the same code path that scores an evaluation.

Pure functions of (completion text, gold label, AU reference, frame, image size):
:func:`format_reward`, :func:`answer_reward`, :func:`au_grounding_reward`,
:func:`hallucination_penalty`, the weighted :func:`tag_reward`, and :func:`reward_breakdown` (all of
them from one scoring). The TRL adapter :func:`trl_reward_funcs` and :func:`grpo_dataset` plug them
into ``GRPOTrainer``. Definitions: ``docs/rewards.md``.
"""

from tag_bench.rewards.core import (
    FORMAT_CHECKS,
    REWARD_NAMES,
    GroundingConfig,
    RewardBreakdown,
    RewardWeights,
    answer_reward,
    answer_score,
    au_grounding_reward,
    breakdown,
    format_failures,
    format_reward,
    format_score,
    grounding_score,
    hallucination_penalty,
    hallucination_score,
    reward_breakdown,
    score_completion,
    tag_reward,
)
from tag_bench.rewards.references import RewardReferenceError, load_references
from tag_bench.rewards.trl import TagRewardFunc, completion_text, grpo_dataset, trl_reward_funcs

__all__ = [
    "FORMAT_CHECKS",
    "REWARD_NAMES",
    "GroundingConfig",
    "RewardBreakdown",
    "RewardReferenceError",
    "RewardWeights",
    "TagRewardFunc",
    "answer_reward",
    "answer_score",
    "au_grounding_reward",
    "breakdown",
    "completion_text",
    "format_failures",
    "format_reward",
    "format_score",
    "grounding_score",
    "grpo_dataset",
    "hallucination_penalty",
    "hallucination_score",
    "load_references",
    "reward_breakdown",
    "score_completion",
    "tag_reward",
    "trl_reward_funcs",
]
