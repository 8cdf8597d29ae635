"""A 2-process torchrun (gloo) SFT run gives the 1-process loss curve at the same global batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvr1kit import runs
from lvr1kit.config import SFTConfig
from lvr1kit.sft import launch_or_train_sft, train_sft


def _with(cfg: SFTConfig, cache: Path, **train: int) -> SFTConfig:
    return cfg.model_copy(update={"cache_dir": str(cache), "train": cfg.train.model_copy(update=train)})


def test_two_processes_match_one_process(sft_cfg: SFTConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # shared: the 1-process run encodes, the 2-process run only reads
    # global batch 4 both ways: 1 process x 2 per device x 2 accumulation = 2 processes x 2 per device x 1
    single = train_sft(
        _with(sft_cfg, cache, max_steps=3, per_device_batch_size=2, grad_accum_steps=2), tmp_path / "one"
    )
    cfg2 = _with(sft_cfg, cache, max_steps=3, per_device_batch_size=2, grad_accum_steps=1)
    two = launch_or_train_sft(cfg2.model_copy(update={"nproc": 2}), tmp_path / "two")  # torchrun, 2 gloo ranks
    losses = [r["loss/sft"] for r in runs.read_metrics(tmp_path / "two") if "loss/sft" in r]
    assert two.losses == losses and two.steps == 3
    assert losses == pytest.approx(single.losses, rel=1e-5, abs=1e-5)
    assert (two.model_dir / "config.json").is_file() and two.cache_stats["cache/hit_rate"] == 1.0
