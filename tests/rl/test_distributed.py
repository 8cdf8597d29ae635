"""A real 2-process gloo torchrun step equals the 1-process step on the same global batch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from lvr1kit import runs
from lvr1kit.rl.train import train


def test_two_process_step_equals_one_process(
    rl_config: Any, train_two_ranks: Callable[[Path], None], tmp_path: Path
) -> None:
    cfg = rl_config(steps=1, temperature=1.5, log_rollouts=True)
    train(cfg, tmp_path / "one")

    two = tmp_path / "two"
    runs.start(two, cfg, "rl")
    train_two_ranks(two)

    one_m, two_m = runs.read_metrics(tmp_path / "one")[-1], runs.read_metrics(two)[-1]
    for key in ("reward/total", "reward/frac_zero_std", "loss/total", "loss/policy", "loss/kl", "optim/grad_norm",
                "rollout/response_len", "mrsp/distinct_videos"):  # fmt: skip
        assert abs(one_m[key] - two_m[key]) <= 1e-5 * max(1.0, abs(one_m[key])), key
    # each rank encodes its own prompts' videos once: a video shared across ranks is encoded once per rank
    assert one_m["mrsp/encoder_calls"] <= two_m["mrsp/encoder_calls"] <= 2 * one_m["mrsp/distinct_videos"]
    a = load_file(tmp_path / "one" / "checkpoint" / "model.safetensors")
    b = load_file(two / "checkpoint" / "model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    rows = [json.loads(x) for x in (two / "rollouts.jsonl").read_text().splitlines()]
    assert sorted({r["group"] for r in rows}) == list(range(cfg.prompts_per_step))  # both ranks' groups logged
