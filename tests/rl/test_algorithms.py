"""GRPO algorithm core against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from lvr1kit.rl import (
    ADVANTAGE_SCALES,
    AGGREGATIONS,
    GROUP_FILTERS,
    KL_ESTIMATORS,
    filter_groups,
    filter_groups_by_mean,
    grpo_advantages,
    grpo_loss,
    overlong_mask,
    ppo_clip_per_token,
    soft_overlong_penalty,
)

# ---------------------------------------------------------------- advantages


def test_grpo_advantages_two_groups_of_three() -> None:
    # group 0: mean 0.5, unbiased std sqrt((0.25 + 0.25 + 0) / 2) = 0.5; group 1: all equal -> std 0 -> A = 0
    rewards = torch.tensor([1.0, 0.0, 0.5, 1.0, 1.0, 1.0])
    adv, stats = grpo_advantages(rewards, group_size=3)
    expected = torch.tensor([0.5 / 0.500001, -0.5 / 0.500001, 0.0, 0.0, 0.0, 0.0])
    torch.testing.assert_close(adv, expected)
    assert stats == {"reward/frac_zero_std": 0.5}


def test_grpo_advantages_accepts_b_by_g_and_dr_grpo_scale() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.5], [1.0, 1.0, 1.0]])
    flat, _ = grpo_advantages(rewards.reshape(-1), 3)
    square, _ = grpo_advantages(rewards, 3)
    torch.testing.assert_close(flat, square)
    mean_only, _ = grpo_advantages(rewards, 3, scale="none")
    torch.testing.assert_close(mean_only, torch.tensor([0.5, -0.5, 0.0, 0.0, 0.0, 0.0]))


def test_grpo_advantages_unbiased_std_g2() -> None:
    # G=2 keeps it small; unbiased std of (0, 1) is sqrt(0.5) = 0.70711
    adv, stats = grpo_advantages(torch.tensor([0.0, 1.0]), 2, eps=0.0)
    torch.testing.assert_close(adv, torch.tensor([-0.5 / math.sqrt(0.5), 0.5 / math.sqrt(0.5)]))
    assert stats["reward/frac_zero_std"] == 0.0


def test_grpo_advantages_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=">= 2"):
        grpo_advantages(torch.ones(4), 1)
    with pytest.raises(ValueError, match="groups of 3"):
        grpo_advantages(torch.ones(4), 3)
    with pytest.raises(ValueError, match="unknown advantage scale"):
        grpo_advantages(torch.ones(4), 2, scale="mad")
    assert set(ADVANTAGE_SCALES) == {"std", "none"}


# ---------------------------------------------------------------- policy loss

# seq 0: A = +1, ratios 0.5, 1.0, 1.5 (+ one pad); seq 1: A = -1, ratios 0.5, 2.0, 4.0, 1.0
RATIOS = torch.tensor([[0.5, 1.0, 1.5, 1.0], [0.5, 2.0, 4.0, 1.0]])
MASK = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
ADV = torch.tensor([1.0, -1.0])
# clip range [0.8, 1.3]; per-token loss max(-A r, -A clip(r)), capped at -A * 3 for A < 0:
#   seq 0: -0.5 (r below range, A > 0: unclipped), -1.0, -1.3 (clipped high)
#   seq 1:  0.8 (clipped low), 2.0, 3.0 (dual clip), 1.0
PER_TOKEN = torch.tensor([[-0.5, -1.0, -1.3, -1.0], [0.8, 2.0, 3.0, 1.0]])


def _logps() -> tuple[torch.Tensor, torch.Tensor]:
    old = torch.zeros_like(RATIOS)
    return RATIOS.log().clone().requires_grad_(True), old


def test_ppo_clip_per_token_hand_numbers() -> None:
    logp, old = _logps()
    loss, masks = ppo_clip_per_token(logp, old, ADV, clip_low=0.2, clip_high=0.3, dual_clip=3.0)
    torch.testing.assert_close(loss * MASK, PER_TOKEN * MASK)
    assert masks["low"].nonzero().tolist() == [[1, 0]]
    assert masks["high"].nonzero().tolist() == [[0, 2]]
    assert masks["dual"].nonzero().tolist() == [[1, 2]]


def test_dual_clip_off_and_invalid() -> None:
    logp, old = _logps()
    loss, _ = ppo_clip_per_token(logp, old, ADV, dual_clip=None)
    assert loss[1, 2].item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match="dual_clip"):
        ppo_clip_per_token(logp, old, ADV, dual_clip=1.0)


@pytest.mark.parametrize(
    ("aggregation", "max_len", "expected"),
    [
        ("token_mean", None, (-2.8 + 6.8) / 7),  # 0.571429
        ("seq_mean_token_mean", None, (-2.8 / 3 + 6.8 / 4) / 2),  # 0.383333
        ("seq_mean_token_sum", 4, (-2.8 / 4 + 6.8 / 4) / 2),  # 0.5
        ("seq_mean_token_sum", 8, (-2.8 / 8 + 6.8 / 8) / 2),  # 0.25
        ("seq_mean_token_sum", None, 0.5),  # default constant: the padded width 4
    ],
)
def test_grpo_loss_aggregations(aggregation: str, max_len: int | None, expected: float) -> None:
    logp, old = _logps()
    loss, stats = grpo_loss(logp, old, ADV, MASK, aggregation=aggregation, kl_estimator="none", max_len=max_len)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert stats["loss/policy"] == pytest.approx(expected, abs=1e-6)
    assert stats["loss/kl"] == 0.0


def test_grpo_loss_stats_hand_numbers() -> None:
    logp, old = _logps()
    _, stats = grpo_loss(logp, old, ADV, MASK, kl_estimator="none")
    assert stats["loss/clip_frac_low"] == pytest.approx(1 / 7)
    assert stats["loss/clip_frac_high"] == pytest.approx(1 / 7)
    assert stats["loss/clip_frac_dual"] == pytest.approx(1 / 7)
    assert stats["loss/ratio_mean"] == pytest.approx(10.5 / 7)
    # mean of r - 1 - ln r over the 7 tokens: (2 * 0.193147 + 0.094535 + 0.306853 + 1.613706) / 7
    assert stats["loss/approx_kl_old"] == pytest.approx(2.401388 / 7, abs=1e-6)


def test_grpo_loss_gradients_zero_where_clipped() -> None:
    logp, old = _logps()
    loss, _ = grpo_loss(logp, old, ADV, MASK, kl_estimator="none", aggregation="token_mean")
    loss.backward()
    assert logp.grad is not None
    # d(-A r)/d logp = -A r, divided by the 7 tokens; clipped, dual-clipped and padded tokens get 0
    expected = torch.tensor([[-0.5, -1.0, 0.0, 0.0], [0.0, 2.0, 0.0, 1.0]]) / 7
    torch.testing.assert_close(logp.grad, expected)
    assert torch.isfinite(logp.grad).all()


def test_grpo_loss_adds_weighted_kl() -> None:
    logp = torch.zeros(2, 3, requires_grad=True)
    ref = torch.full((2, 3), math.log(2.0))  # delta = ln 2 -> k3 = 2 - ln 2 - 1 = 0.306853
    mask = torch.ones(2, 3)
    loss, stats = grpo_loss(logp, logp.detach(), torch.tensor([0.0, 0.0]), mask, ref, kl_coef=0.5)
    assert stats["loss/kl"] == pytest.approx(0.306853, abs=1e-6)
    assert loss.item() == pytest.approx(0.5 * 0.306853, abs=1e-6)
    assert stats["loss/total"] == pytest.approx(loss.item())
    with pytest.raises(ValueError, match="needs reference log-probs"):
        grpo_loss(logp, logp.detach(), torch.zeros(2), mask, None, kl_estimator="k3", kl_coef=0.1)
    loss0, _ = grpo_loss(logp, logp.detach(), torch.zeros(2), mask, None, kl_estimator="k3", kl_coef=0.0)
    assert loss0.item() == 0.0  # kl_coef 0 drops the reference model


def test_grpo_loss_rejects_unknown_names_and_shapes() -> None:
    logp, old = _logps()
    with pytest.raises(ValueError, match="unknown loss aggregation"):
        grpo_loss(logp, old, ADV, MASK, aggregation="sum")
    with pytest.raises(ValueError, match="unknown KL estimator"):
        grpo_loss(logp, old, ADV, MASK, kl_estimator="k4")
    with pytest.raises(ValueError, match="differ"):
        grpo_loss(logp, old, ADV, MASK[:, :3])
    assert set(AGGREGATIONS) == {"token_mean", "seq_mean_token_mean", "seq_mean_token_sum"}


# ---------------------------------------------------------------- KL estimators


def test_kl_estimators_match_definitions() -> None:
    g = torch.Generator().manual_seed(0)
    logp, ref = -torch.rand(4, 5, generator=g) * 3, -torch.rand(4, 5, generator=g) * 3
    delta = ref - logp
    torch.testing.assert_close(KL_ESTIMATORS["k1"](logp, ref), -delta)
    torch.testing.assert_close(KL_ESTIMATORS["k2"](logp, ref), 0.5 * delta**2)
    torch.testing.assert_close(KL_ESTIMATORS["k3"](logp, ref), delta.exp() - delta - 1)
    torch.testing.assert_close(KL_ESTIMATORS["none"](logp, ref), torch.zeros_like(logp))
    assert (KL_ESTIMATORS["k3"](logp, ref) >= 0).all()


def test_k3_hand_values_and_clamp() -> None:
    logp = torch.tensor([0.0, 0.0, 0.0, 0.0], requires_grad=True)
    ref = torch.tensor([0.0, math.log(2.0), 5.0, -30.0])
    k3 = KL_ESTIMATORS["k3"](logp, ref)
    # 0; 2 - ln 2 - 1; e^5 - 6 = 142.4 clamped to 10; delta clamped to -20: e^-20 + 20 - 1 = 19 clamped to 10
    torch.testing.assert_close(k3, torch.tensor([0.0, 1.0 - math.log(2.0), 10.0, 10.0]))
    k3.sum().backward()
    assert logp.grad is not None
    # d/dlogp of e^Δ - Δ - 1 with Δ = ref - logp is 1 - e^Δ; zero where clamped
    torch.testing.assert_close(logp.grad, torch.tensor([0.0, -1.0, 0.0, 0.0]))


def test_kl_estimators_unbiased_on_a_categorical() -> None:
    p = torch.tensor([0.5, 0.3, 0.15, 0.05])
    q = torch.tensor([0.25, 0.25, 0.25, 0.25])
    true_kl = (p * (p / q).log()).sum().item()  # KL(p || q) = 0.2249
    samples = torch.multinomial(p, 200_000, replacement=True, generator=torch.Generator().manual_seed(1))
    logp, logq = p.log()[samples], q.log()[samples]
    for name in ("k1", "k3"):
        assert KL_ESTIMATORS[name](logp, logq).mean().item() == pytest.approx(true_kl, abs=5e-3), name


# ---------------------------------------------------------------- DAPO filtering and overlong


def test_filter_groups() -> None:
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.97])
    assert filter_groups(rewards, 3).tolist() == [True, False, False, True]
    # means 0.667, 1, 0, 0.99: the last is not strictly inside (0.01, 0.99)
    assert filter_groups_by_mean(rewards, 3).tolist() == [True, False, False, False]
    assert filter_groups_by_mean(rewards, 3, low=0.0, high=1.0).tolist() == [True, False, False, True]
    assert set(GROUP_FILTERS) == {"nonconstant", "mean_range"}
    with pytest.raises(ValueError, match="groups of 5"):
        filter_groups(rewards, 5)


def test_overlong_mask_and_soft_penalty() -> None:
    keep = overlong_mask(torch.tensor([10, 16, 16, 5]), torch.tensor([True, True, False, False]), max_len=16)
    assert keep.tolist() == [True, True, False, True]
    lengths = torch.tensor([10, 12, 13, 14, 16, 20])
    penalty = soft_overlong_penalty(lengths, max_len=16, buffer_tokens=4)
    torch.testing.assert_close(penalty, torch.tensor([0.0, 0.0, -0.25, -0.5, -1.0, -1.0]))
    torch.testing.assert_close(soft_overlong_penalty(lengths, 16, 4, penalty=0.5), 0.5 * penalty)
    with pytest.raises(ValueError, match="buffer_tokens"):
        soft_overlong_penalty(lengths, 16, 0)
