"""GRPO algorithm core: group advantages, the clipped policy loss and its aggregations, KL estimators, DAPO filters.

Every variant is one function in a registry keyed by its config name: ``ADVANTAGE_SCALES`` (``grpo.advantage_scale``),
``AGGREGATIONS`` (``grpo.loss_aggregation``), ``KL_ESTIMATORS`` (``grpo.kl_estimator``), ``GROUP_FILTERS``
(``grpo.group_filter``). The training loop is ``lvr1kit.rl.trainer.GRPOTrainer`` (built by
``lvr1kit.rl.train.build_trainer``); rollout engines are in ``lvr1kit.rl.rollout`` (``ROLLOUT_ENGINES``) and the MR-SP
stage-1 encoding strategies in ``lvr1kit.rl.encoding`` (``ENCODE_MODES``); they are imported lazily (torch models).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lvr1kit._lazy import lazy_exports

if TYPE_CHECKING:
    from lvr1kit.rl.advantages import ADVANTAGE_SCALES, grpo_advantages
    from lvr1kit.rl.filtering import (
        GROUP_FILTERS,
        filter_groups,
        filter_groups_by_mean,
        overlong_mask,
        soft_overlong_penalty,
    )
    from lvr1kit.rl.kl import KL_ESTIMATORS, kl_k1, kl_k2, kl_k3, kl_none
    from lvr1kit.rl.losses import (
        AGGREGATIONS,
        aggregate_seq_mean_token_mean,
        aggregate_seq_mean_token_sum,
        aggregate_token_mean,
        grpo_loss,
        ppo_clip_per_token,
    )

__all__ = [
    "ADVANTAGE_SCALES",
    "AGGREGATIONS",
    "GROUP_FILTERS",
    "KL_ESTIMATORS",
    "aggregate_seq_mean_token_mean",
    "aggregate_seq_mean_token_sum",
    "aggregate_token_mean",
    "filter_groups",
    "filter_groups_by_mean",
    "grpo_advantages",
    "grpo_loss",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "kl_none",
    "overlong_mask",
    "ppo_clip_per_token",
    "soft_overlong_penalty",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ADVANTAGE_SCALES": "advantages",
        "AGGREGATIONS": "losses",
        "GROUP_FILTERS": "filtering",
        "KL_ESTIMATORS": "kl",
        "aggregate_seq_mean_token_mean": "losses",
        "aggregate_seq_mean_token_sum": "losses",
        "aggregate_token_mean": "losses",
        "filter_groups": "filtering",
        "filter_groups_by_mean": "filtering",
        "grpo_advantages": "advantages",
        "grpo_loss": "losses",
        "kl_k1": "kl",
        "kl_k2": "kl",
        "kl_k3": "kl",
        "kl_none": "kl",
        "overlong_mask": "filtering",
        "ppo_clip_per_token": "losses",
        "soft_overlong_penalty": "filtering",
    },
)
