"""DAPO-style batch shaping: dynamic group filtering, overlong masking and the soft overlong penalty.

Contents:
    - ``GROUP_FILTERS``: ``nonconstant`` (:func:`filter_groups`, keep groups whose rewards differ) and
      ``mean_range`` (:func:`filter_groups_by_mean`, keep groups whose mean reward is strictly inside (low, high)).
    - :func:`overlong_mask`: drop responses that reached the length limit without EOS from the loss.
    - :func:`soft_overlong_penalty`: DAPO's linear length penalty inside the last ``buffer_tokens`` before the limit.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["GROUP_FILTERS", "filter_groups", "filter_groups_by_mean", "overlong_mask", "soft_overlong_penalty"]


def _groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    flat = rewards.detach().reshape(-1)
    if group_size < 1 or flat.numel() % group_size:
        raise ValueError(f"{flat.numel()} rewards do not split into groups of {group_size}")
    return flat.view(-1, group_size)


def filter_groups(rewards: torch.Tensor, group_size: int, low: float = 0.01, high: float = 0.99) -> torch.Tensor:
    """Keep mask ``[B]`` of the groups whose rewards are not all equal (``low``/``high`` are unused)."""
    groups = _groups(rewards, group_size)
    return groups.max(dim=1).values != groups.min(dim=1).values


def filter_groups_by_mean(
    rewards: torch.Tensor, group_size: int, low: float = 0.01, high: float = 0.99
) -> torch.Tensor:
    """Keep mask ``[B]`` of the groups whose mean reward lies strictly in ``(low, high)`` (the DAPO setting)."""
    mean = _groups(rewards, group_size).float().mean(dim=1)
    return (mean > low) & (mean < high)


GROUP_FILTERS: dict[str, Callable[..., torch.Tensor]] = {
    "nonconstant": filter_groups,
    "mean_range": filter_groups_by_mean,
}
"""``grpo.group_filter`` -> ``fn(rewards, group_size, low, high) -> keep mask  # [B]``."""


def overlong_mask(lengths: torch.Tensor, has_eos: torch.Tensor, max_len: int) -> torch.Tensor:
    """Keep mask ``[N]``: False for responses of ``max_len`` tokens or more that end without EOS (truncated)."""
    return ~((lengths >= max_len) & ~has_eos.bool())


def soft_overlong_penalty(
    lengths: torch.Tensor, max_len: int, buffer_tokens: int, penalty: float = 1.0
) -> torch.Tensor:
    """DAPO's length penalty ``[N]`` to add to the rewards.

    0 up to ``max_len - buffer_tokens``; then falls linearly to ``-penalty`` at ``max_len``; ``-penalty`` beyond.
    """
    if not 0 < buffer_tokens <= max_len:
        raise ValueError(f"buffer_tokens={buffer_tokens} must be in (0, max_len={max_len}]")
    expected = max_len - buffer_tokens
    over = (lengths.float() - expected).clamp(min=0.0) / buffer_tokens
    return -penalty * over.clamp(max=1.0)
