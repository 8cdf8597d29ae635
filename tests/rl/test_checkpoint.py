"""Checkpoint and exact resume: a run stopped after step 1 and resumed equals an uninterrupted 2-step run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lvr1kit import runs
from lvr1kit.rl.checkpoint import latest_checkpoint
from lvr1kit.rl.train import build_trainer


def _trainable(trainer: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}


def test_resume_equals_uninterrupted(rl_config: Any, tmp_path: Path) -> None:
    cfg = rl_config(steps=2, save_steps=1, temperature=1.5)
    straight = build_trainer(cfg, tmp_path / "a", runs.start(tmp_path / "a", cfg, "rl"))
    straight.step()
    expected = straight.step()
    expected_params = _trainable(straight)

    first = build_trainer(cfg, tmp_path / "b", runs.start(tmp_path / "b", cfg, "rl"))
    first.step()
    first.save()
    del first
    folder = latest_checkpoint(tmp_path / "b")
    assert folder is not None and folder.name == "step_1"
    resumed = build_trainer(cfg, tmp_path / "b", runs.Run(tmp_path / "b", "rl"))
    assert resumed.resume(folder)
    assert resumed.state.step == 1 and resumed.state.cursor == cfg.prompts_per_step
    got = resumed.step()
    for key in ("reward/total", "loss/total", "loss/kl", "optim/grad_norm", "rollout/response_len"):
        assert got[key] == expected[key], key
    for name, value in _trainable(resumed).items():
        assert torch.equal(value, expected_params[name]), name
