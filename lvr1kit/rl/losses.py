"""The GRPO policy loss: PPO clipping with clip-higher and dual-clip, loss aggregations, and the KL term.

Contents:
    - :func:`ppo_clip_per_token`: per-token clipped surrogate loss and the masks of clipped tokens.
    - ``AGGREGATIONS``: how per-token losses become one scalar:
      ``token_mean`` (mean over every response token of the batch; the paper's default),
      ``seq_mean_token_mean`` (mean per sequence, then over sequences; TRL's ``grpo``),
      ``seq_mean_token_sum`` (sum per sequence divided by a constant ``max_len``, then mean; Dr. GRPO).
    - :func:`grpo_loss`: ``agg(policy) + kl_coef * agg(KL)`` with the ``loss/*`` statistics.

For a token with ratio ``r = exp(logp - old_logp)`` and advantage ``A``, the policy loss is
``max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high))``; with ``A < 0`` it is further capped at ``-A * dual_clip``
(dual-clip PPO), so a very large ratio on a bad token cannot produce an unbounded loss. Where clipping is active
the gradient is zero.

Deviations from the paper:
1. None in the maths. The paper's KL term uses k3; any estimator of ``lvr1kit.rl.kl.KL_ESTIMATORS`` may be chosen.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lvr1kit.rl.kl import KL_ESTIMATORS

__all__ = [
    "AGGREGATIONS",
    "aggregate_seq_mean_token_mean",
    "aggregate_seq_mean_token_sum",
    "aggregate_token_mean",
    "grpo_loss",
    "ppo_clip_per_token",
]

Aggregation = Callable[[torch.Tensor, torch.Tensor, int | None], torch.Tensor]


def aggregate_token_mean(per_token: torch.Tensor, mask: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """Sum over all response tokens of the batch / their number."""
    mask = mask.to(per_token.dtype)
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


def aggregate_seq_mean_token_mean(
    per_token: torch.Tensor, mask: torch.Tensor, max_len: int | None = None
) -> torch.Tensor:
    """Token mean within each sequence, then mean over sequences (long responses weigh less per token)."""
    mask = mask.to(per_token.dtype)
    return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()


def aggregate_seq_mean_token_sum(
    per_token: torch.Tensor, mask: torch.Tensor, max_len: int | None = None
) -> torch.Tensor:
    """Token sum within each sequence divided by the constant ``max_len`` (default: the padded width), then mean."""
    mask = mask.to(per_token.dtype)
    norm = float(max_len if max_len is not None else per_token.shape[-1])
    return ((per_token * mask).sum(-1) / norm).mean()


AGGREGATIONS: dict[str, Aggregation] = {
    "token_mean": aggregate_token_mean,
    "seq_mean_token_mean": aggregate_seq_mean_token_mean,
    "seq_mean_token_sum": aggregate_seq_mean_token_sum,
}
"""``grpo.loss_aggregation`` -> ``fn(per_token  # [B, L], mask  # [B, L], max_len) -> scalar``."""


def ppo_clip_per_token(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.3,
    dual_clip: float | None = 3.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Per-token clipped surrogate loss ``[B, L]`` and boolean masks ``low``, ``high``, ``dual`` of clipped tokens.

    Args:
        logp: ``[B, L]`` log-probs of the sampled tokens under the current policy (with gradient).
        old_logp: ``[B, L]`` log-probs under the policy that sampled them.
        advantages: ``[B]`` per sequence or ``[B, L]`` per token.
        clip_low: ε_low; ratios below ``1 - clip_low`` are clipped when ``A < 0``.
        clip_high: ε_high; ratios above ``1 + clip_high`` are clipped when ``A > 0`` (clip-higher).
        dual_clip: C > 1 caps the loss of negative-advantage tokens at ``-A * C``; ``None`` turns it off.
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip={dual_clip} must be > 1 (or None to disable)")
    adv = advantages.unsqueeze(-1) if advantages.dim() == 1 else advantages  # [B, 1] or [B, L]
    ratio = torch.exp(logp - old_logp)
    loss_unclipped = -adv * ratio
    loss_clipped = -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    loss = torch.maximum(loss_unclipped, loss_clipped)
    negative = adv < 0
    masks = {
        "low": (ratio < 1.0 - clip_low) & negative,
        "high": (ratio > 1.0 + clip_high) & (adv > 0),
    }
    if dual_clip is not None:
        capped = torch.minimum(loss, -adv * dual_clip)
        loss = torch.where(negative, capped, loss)
        masks["dual"] = (ratio > dual_clip) & negative
    else:
        masks["dual"] = torch.zeros_like(negative)
    return loss, masks


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ref_logp: torch.Tensor | None = None,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.3,
    dual_clip: float | None = 3.0,
    aggregation: str = "token_mean",
    kl_estimator: str = "k3",
    kl_coef: float = 1e-2,
    max_len: int | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The GRPO loss ``agg(policy) + kl_coef * agg(KL)`` over response tokens, and its statistics.

    Args:
        logp: ``[B, L]`` current log-probs of the response tokens (with gradient).
        old_logp: ``[B, L]`` log-probs of the sampling policy (recomputed by the training model).
        advantages: ``[B]`` per sequence (from :func:`~lvr1kit.rl.advantages.grpo_advantages`) or ``[B, L]``.
        mask: ``[B, L]`` 1 on response tokens that count, 0 on padding and masked responses.
        ref_logp: ``[B, L]`` reference log-probs; needed unless ``kl_estimator="none"`` or ``kl_coef=0``.
        clip_low: ε_low.
        clip_high: ε_high.
        dual_clip: dual-clip constant C for negative advantages, ``None`` to disable.
        aggregation: a key of ``AGGREGATIONS``.
        kl_estimator: a key of ``lvr1kit.rl.kl.KL_ESTIMATORS``.
        kl_coef: β.
        max_len: the constant of ``seq_mean_token_sum`` (the response-length limit).

    Returns:
        The scalar loss and ``loss/policy``, ``loss/kl``, ``loss/total``, ``loss/clip_frac_low``,
        ``loss/clip_frac_high``, ``loss/clip_frac_dual``, ``loss/approx_kl_old`` (k3 estimate of KL(old‖new)),
        ``loss/ratio_mean`` (token means over ``mask``).
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown loss aggregation {aggregation!r}; known: {', '.join(AGGREGATIONS)}")
    if kl_estimator not in KL_ESTIMATORS:
        raise ValueError(f"unknown KL estimator {kl_estimator!r}; known: {', '.join(KL_ESTIMATORS)}")
    if logp.shape != old_logp.shape or logp.shape != mask.shape:
        raise ValueError(f"logp {tuple(logp.shape)}, old_logp {tuple(old_logp.shape)}, mask {tuple(mask.shape)} differ")
    agg = AGGREGATIONS[aggregation]
    per_token, clipped = ppo_clip_per_token(logp, old_logp, advantages, clip_low, clip_high, dual_clip)
    policy = agg(per_token, mask, max_len)
    use_kl = kl_estimator != "none" and kl_coef != 0.0
    kl = agg(KL_ESTIMATORS[kl_estimator](logp, ref_logp), mask, max_len) if use_kl else policy.new_zeros(())
    loss = policy + kl_coef * kl if use_kl else policy
    with torch.no_grad():
        log_ratio = (logp - old_logp).detach()

        def mean(x: torch.Tensor) -> float:
            return aggregate_token_mean(x.to(logp.dtype), mask).item()

        stats = {
            "loss/policy": policy.item(),
            "loss/kl": kl.item(),
            "loss/total": loss.item(),
            "loss/clip_frac_low": mean(clipped["low"]),
            "loss/clip_frac_high": mean(clipped["high"]),
            "loss/clip_frac_dual": mean(clipped["dual"]),
            "loss/approx_kl_old": mean(log_ratio.exp() - 1.0 - log_ratio),
            "loss/ratio_mean": mean(log_ratio.exp()),
        }
    return loss, stats
