"""GRPO trainer: MR-SP stage 1 vs baseline (encoder calls, identical step), cached log-probs, learning signal."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from lvr1kit.models import compute_logprobs, encode_video
from lvr1kit.rl.batch import collate_micro_batch
from lvr1kit.rl.train import build_trainer


def _params(trainer: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}


def test_stage1_step_equals_baseline_step_with_fewer_encodes(rl_config: Any, tmp_path: Path) -> None:
    results = {}
    for mode in ("stage1", "baseline"):
        trainer = build_trainer(rl_config(**{"mrsp.encode_mode": mode}), tmp_path)
        metrics = trainer.step()
        results[mode] = (metrics, _params(trainer))
    (m1, p1), (m0, p0) = results["stage1"], results["baseline"]
    prompts, g = 2, 4
    assert m1["mrsp/encoder_calls"] == m1["mrsp/distinct_videos"]  # each video once, whatever G and the passes
    assert m0["mrsp/encoder_calls"] == prompts * g * 3  # rollout, reference and update passes (old reused)
    for key in ("reward/total", "loss/total", "loss/policy", "loss/kl", "optim/grad_norm"):
        assert math.isclose(m1[key], m0[key], rel_tol=1e-4, abs_tol=1e-6), key
    for name in p1:
        torch.testing.assert_close(p1[name], p0[name], rtol=1e-5, atol=1e-6)
    for phase in ("encode", "rollout", "reward", "old_logprob", "ref_logprob", "update", "step"):
        assert f"perf/{phase}_s" in m1


def test_skipping_the_old_pass_changes_nothing_but_the_time(rl_config: Any, tmp_path: Path) -> None:
    results = {}
    for recompute in (True, False):
        trainer = build_trainer(
            rl_config(recompute_old_logprobs=recompute, **{"mrsp.encode_mode": "baseline"}), tmp_path
        )
        metrics = trainer.step()
        results[recompute] = (metrics, _params(trainer))
    (m_full, p_full), (m_reuse, p_reuse) = results[True], results[False]
    prompts, g = 2, 4
    assert m_full["mrsp/encoder_calls"] - m_reuse["mrsp/encoder_calls"] == prompts * g  # one pass fewer
    assert m_full["perf/old_logprob_s"] > 0 and m_reuse["perf/old_logprob_s"] < 1e-3
    for key in ("loss/total", "loss/policy", "loss/kl", "loss/ratio_mean", "optim/grad_norm", "rollout/logprob_diff"):
        assert math.isclose(m_full[key], m_reuse[key], rel_tol=1e-4, abs_tol=1e-6), key
    for name in p_full:
        torch.testing.assert_close(p_full[name], p_reuse[name], rtol=1e-5, atol=1e-6)


def test_cached_embeddings_give_the_logprobs_of_reencoding(rl_config: Any, tmp_path: Path) -> None:
    trainer = build_trainer(rl_config(), tmp_path)
    items = trainer._next_items()
    from lvr1kit.rl.batch import flatten_groups
    from lvr1kit.rl.rollout import RolloutGroup

    groups = [RolloutGroup([[5, 6, 7], [8, 9]], [[0.0] * 3, [0.0] * 2], ["length", "length"]) for _ in items]
    comps = flatten_groups(groups, trainer.pad_id)
    mb = collate_micro_batch(items, comps, list(range(len(comps.prompt_rows))), trainer.pad_id)
    embeds = [encode_video(trainer.model, items[comps.prompt_rows[r]].video) for r in mb.rows]
    pixels = torch.cat([items[comps.prompt_rows[r]].video.pixel_values_videos for r in mb.rows])
    with torch.no_grad():
        cached = compute_logprobs(trainer.model, mb.batch, mb.response_ids, mb.response_mask, video_embeds=embeds)
        fresh = compute_logprobs(trainer.model, mb.batch, mb.response_ids, mb.response_mask, pixel_values_videos=pixels)
    torch.testing.assert_close(cached, fresh, rtol=1e-5, atol=1e-5)


def test_learning_signal(rl_config: Any, tmp_path: Path) -> None:
    trainer = build_trainer(rl_config(temperature=1.5), tmp_path)
    before = _params(trainer)
    metrics = trainer.step()
    assert all(math.isfinite(v) for v in metrics.values())
    assert metrics["reward/frac_zero_std"] < 1.0  # some group has reward variance, so advantages are non-zero
    after = _params(trainer)
    assert any(not torch.equal(before[n], after[n]) for n in before)
