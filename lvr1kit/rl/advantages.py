"""Group-relative advantages (GRPO) and their scale variants.

Contents:
    - ``ADVANTAGE_SCALES``: ``"std"`` (GRPO z-score, unbiased std) and ``"none"`` (Dr. GRPO, mean-centred only).
    - :func:`grpo_advantages`: per-sequence advantages of ``[B*G]`` or ``[B, G]`` rewards, and
      ``reward/frac_zero_std``, the share of groups whose rewards are all equal (their advantage is 0).

Groups are contiguous: sequences ``g*G … g*G + G-1`` answer prompt ``g``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["ADVANTAGE_SCALES", "grpo_advantages"]

AdvantageScale = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


def _scale_std(centered: torch.Tensor, std: torch.Tensor, eps: float) -> torch.Tensor:
    return centered / (std + eps)


def _scale_none(centered: torch.Tensor, std: torch.Tensor, eps: float) -> torch.Tensor:
    return centered


ADVANTAGE_SCALES: dict[str, AdvantageScale] = {"std": _scale_std, "none": _scale_none}
"""``grpo.advantage_scale`` -> ``fn(rewards - group mean, group std, eps)``."""


def grpo_advantages(
    rewards: torch.Tensor, group_size: int, scale: str = "std", eps: float = 1e-6
) -> tuple[torch.Tensor, dict[str, float]]:
    """``A_i = (r_i - mean_g r) / (std_g r + eps)`` per group, with the unbiased std (paper §8).

    Args:
        rewards: ``[B*G]`` or ``[B, G]`` scalar rewards, groups contiguous.
        group_size: G, responses per prompt (>= 2: the unbiased std needs two).
        scale: a key of ``ADVANTAGE_SCALES``.
        eps: added to the std.

    Returns:
        ``advantages  # [B*G]`` (no gradient) and ``{"reward/frac_zero_std": ...}``.

    Raises:
        ValueError: G < 2, rewards not divisible into groups, or an unknown scale.
    """
    if group_size < 2:
        raise ValueError(f"group_size={group_size} must be >= 2 (grpo.num_generations); one sample has no std")
    if scale not in ADVANTAGE_SCALES:
        raise ValueError(f"unknown advantage scale {scale!r}; known: {', '.join(ADVANTAGE_SCALES)}")
    flat = rewards.detach().reshape(-1).float()
    if flat.numel() == 0 or flat.numel() % group_size:
        raise ValueError(f"{flat.numel()} rewards do not split into groups of {group_size}")
    groups = flat.view(-1, group_size)  # [B, G]
    mean = groups.mean(dim=1, keepdim=True)
    std = groups.std(dim=1, unbiased=True, keepdim=True)
    advantages = ADVANTAGE_SCALES[scale](groups - mean, std, eps)
    zero_std = (groups.max(dim=1).values == groups.min(dim=1).values).float().mean().item()
    return advantages.reshape(-1), {"reward/frac_zero_std": zero_std}
