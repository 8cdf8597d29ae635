"""MR-SP stage 2 in the trainer: a real 2-process gloo GRPO step with ``mrsp.sp_size=2`` equals the 1-process step.

Both runs use the same seeds and the same batch (one SP group of 2 ranks holds all prompts). The loss, the metrics
and the updated parameters must agree within float tolerance. fp32 on CPU: the losses agree to ~1e-8; AdamW's first
step moves every trained weight by about lr = 1e-4 whatever its gradient's size, so weights whose gradient is near
zero turn reduction-order noise into parameter differences of ~1e-6 (measured max 1.05e-6 to 1.4e-6, ~1% of one update):
``PARAM_TOL`` is 5% of lr.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

from lvr1kit import runs
from lvr1kit.rl.train import build_trainer, train

log = logging.getLogger(__name__)
LOSS_TOL = 1e-5
PARAM_TOL = 5e-6


def test_sp2_step_equals_single_process(
    rl_config: Any, train_two_ranks: Callable[[Path], None], tmp_path: Path
) -> None:
    cfg = rl_config(steps=1, temperature=1.5)
    train(cfg, tmp_path / "one")

    sp_cfg = rl_config(steps=1, temperature=1.5, **{"mrsp.sp_size": 2})
    two = tmp_path / "two"
    runs.start(two, sp_cfg, "rl")
    train_two_ranks(two)

    one_m, two_m = runs.read_metrics(tmp_path / "one")[-1], runs.read_metrics(two)[-1]
    for key in ("reward/total", "loss/total", "loss/policy", "loss/kl", "optim/grad_norm", "rollout/response_len",
                "rollout/logprob_diff", "mrsp/distinct_videos", "mrsp/encoder_calls"):  # fmt: skip
        assert abs(one_m[key] - two_m[key]) <= LOSS_TOL * max(1.0, abs(one_m[key])), (key, one_m[key], two_m[key])
    assert two_m["mrsp/encoder_calls"] == two_m["mrsp/distinct_videos"]  # one frame-sharded encode per video
    a = load_file(tmp_path / "one" / "checkpoint" / "model.safetensors")
    b = load_file(two / "checkpoint" / "model.safetensors")
    diffs = {name: float((a[name] - b[name]).abs().max()) for name in a}
    log.info(
        "loss diff %.3g, grad-norm diff %.3g, max param diff %.3g",
        abs(one_m["loss/total"] - two_m["loss/total"]),
        abs(one_m["optim/grad_norm"] - two_m["optim/grad_norm"]),
        max(diffs.values()),
    )
    assert max(diffs.values()) <= PARAM_TOL, sorted(diffs.items(), key=lambda kv: -kv[1])[:3]


def test_sp_config_errors_before_any_work(rl_config: Any, tmp_path: Path) -> None:
    cfg = rl_config(steps=1, **{"mrsp.sp_size": 2, "model.freeze_vision": False})
    with pytest.raises(ValueError, match=r"freeze_vision=true[\s\S]*--nproc-per-node 2"):
        build_trainer(cfg, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written
