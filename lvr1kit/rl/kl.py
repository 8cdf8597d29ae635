"""Per-token KL estimators between the policy and the reference model.

Contents: ``KL_ESTIMATORS`` with ``k1``, ``k2``, ``k3`` and ``none``; each maps ``(logp, ref_logp)`` (``[B, L]``
log-probs of the sampled tokens) to a per-token estimate of KL(π‖π_ref) (Schulman, "Approximating KL
divergence"). With Δ = log π_ref − log π:

- ``k1`` = −Δ (unbiased, high variance, can be negative),
- ``k2`` = Δ² / 2,
- ``k3`` = exp(Δ) − Δ − 1 (unbiased, ≥ 0, low variance), for stability Δ clamped to [−20, 20] and the estimate
  clamped to [−10, 10] (so at most 10), as in the public Long-RL/EasyR1 ``low_var_kl``,
- ``none`` = 0 (no reference model needed).

Deviations from the paper:
1. PAPER.md describes k3 as "clamped to [−10, 10]"; the public code clamps Δ to ±20 and the k3 value to ±10. The
   code's version is followed here (clamping Δ at ±10 would still allow estimates of e^10 ≈ 22,000).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["KL_ESTIMATORS", "kl_k1", "kl_k2", "kl_k3", "kl_none"]

KLEstimator = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


def _ref(ref_logp: torch.Tensor | None, name: str) -> torch.Tensor:
    if ref_logp is None:
        raise ValueError(f"KL estimator {name!r} needs reference log-probs; pass ref_logp or use kl_estimator='none'")
    return ref_logp


def kl_k1(logp: torch.Tensor, ref_logp: torch.Tensor | None) -> torch.Tensor:
    """``log π − log π_ref``."""
    return logp - _ref(ref_logp, "k1")


def kl_k2(logp: torch.Tensor, ref_logp: torch.Tensor | None) -> torch.Tensor:
    """``(log π − log π_ref)² / 2``."""
    return 0.5 * (logp - _ref(ref_logp, "k2")).square()


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor | None) -> torch.Tensor:
    """``exp(Δ) − Δ − 1`` with ``Δ = log π_ref − log π`` clamped to ±20, result clamped to [−10, 10]."""
    delta = (_ref(ref_logp, "k3") - logp).clamp(-20.0, 20.0)
    return (delta.exp() - delta - 1.0).clamp(-10.0, 10.0)


def kl_none(logp: torch.Tensor, ref_logp: torch.Tensor | None) -> torch.Tensor:
    """Zero: no KL term."""
    return torch.zeros_like(logp)


KL_ESTIMATORS: dict[str, KLEstimator] = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3, "none": kl_none}
"""``grpo.kl_estimator`` -> ``fn(logp, ref_logp) -> per-token KL  # [B, L]``."""
