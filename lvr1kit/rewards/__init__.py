"""Rewards: the shared answer parser, pure reward functions returning :class:`RewardBreakdown`, and their registry.

Importing this package registers every reward in ``REWARDS``. No torch model code is imported here.
"""

from lvr1kit.rewards.grounding import compute_grounding, find_timestamps
from lvr1kit.rewards.judge import JudgeClient, JudgeError
from lvr1kit.rewards.numeric import extract_number, numbers_equal, parse_number
from lvr1kit.rewards.parser import (
    SCORERS,
    ParsedAnswer,
    extract_answer,
    extract_choice,
    lenient_match,
    normalize_ground_truth,
    strict_format_ok,
    strict_match,
)
from lvr1kit.rewards.registry import (
    REWARDS,
    RewardFn,
    as_trl_reward,
    completion_text,
    compute_rewards,
    get_reward,
    register_reward,
)
from lvr1kit.rewards.rewards import (
    format_reward,
    mc_accuracy_reward,
    numeric_accuracy_reward,
    open_ended_reward,
    r1v_reward,
    string_similarity,
    timestamp_grounding_reward,
)
from lvr1kit.rewards.types import RewardBreakdown, combine, summarize_rewards

__all__ = [
    "REWARDS",
    "SCORERS",
    "JudgeClient",
    "JudgeError",
    "ParsedAnswer",
    "RewardBreakdown",
    "RewardFn",
    "as_trl_reward",
    "combine",
    "completion_text",
    "compute_grounding",
    "compute_rewards",
    "extract_answer",
    "extract_choice",
    "extract_number",
    "find_timestamps",
    "format_reward",
    "get_reward",
    "lenient_match",
    "mc_accuracy_reward",
    "normalize_ground_truth",
    "numbers_equal",
    "numeric_accuracy_reward",
    "open_ended_reward",
    "parse_number",
    "r1v_reward",
    "register_reward",
    "strict_format_ok",
    "strict_match",
    "string_similarity",
    "summarize_rewards",
    "timestamp_grounding_reward",
]
