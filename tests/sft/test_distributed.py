"""A 2-process torchrun (gloo) SFT run gives the 1-process loss curve at the same global batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvr1kit import runs
from lvr1kit.config import SFTConfig
from lvr1kit.launch import launch_torchrun
from lvr1kit.sft import train_sft


def _with(cfg: SFTConfig, cache: Path, **train: int) -> SFTConfig:
    return cfg.model_copy(update={"cache_dir": str(cache), "train": cfg.train.model_copy(update=train)})


def test_two_processes_match_one_process(sft_cfg: SFTConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # shared: the 1-process run encodes, the 2-process run only reads
    # global batch 4 both ways: 1 process x 2 per device x 2 accumulation = 2 processes x 2 per device x 1
    single = train_sft(
        _with(sft_cfg, cache, max_steps=3, per_device_batch_size=2, grad_accum_steps=2), tmp_path / "one"
    )
    cfg2 = _with(sft_cfg, cache, max_steps=3, per_device_batch_size=2, grad_accum_steps=1)
    run = runs.start(tmp_path / "two", cfg2, stage="sft")
    lines: list[str] = []
    launch_torchrun(
        "lvr1kit.sft.train",
        ["--config", str(run.config_path), "--run-dir", str(run.dir)],
        nproc=2,
        env={"OMP_NUM_THREADS": "1"},
        on_line=lines.append,
        timeout_s=240,
    )
    losses = [r["loss/sft"] for r in runs.read_metrics(run.dir) if "loss/sft" in r]
    assert len(losses) == 3, "\n".join(lines[-20:])
    assert losses == pytest.approx(single.losses, rel=1e-5, abs=1e-5)
    assert (run.dir / "model" / "config.json").is_file()
