"""A real 2-process gloo torchrun step equals the 1-process step on the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from lvr1kit import runs
from lvr1kit.rl.train import train


def test_two_process_step_equals_one_process(rl_config: Any, tmp_path: Path) -> None:
    cfg = rl_config(steps=1, temperature=1.5, log_rollouts=True)
    train(cfg, tmp_path / "one")

    two = tmp_path / "two"
    runs.start(two, cfg, "rl")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = tmp_path / "worker.py"  # registers the test reward in each rank, then runs the real entry point
    worker.write_text(
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import conftest  # noqa\n"
        "from lvr1kit.rl.train import main; main()\n"
    )
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           str(worker), "--run-dir", str(two)]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

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
