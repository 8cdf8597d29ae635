"""ZeRO-2 through ``train.deepspeed`` with 2 CPU processes (slow; skipped when deepspeed is not installed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lvr1kit import runs
from lvr1kit.config import SFTConfig
from lvr1kit.launch import launch_torchrun

pytest.importorskip("deepspeed")

ZERO2 = {
    "zero_optimization": {"stage": 2},
    "train_micro_batch_size_per_gpu": "auto",
    "gradient_accumulation_steps": "auto",
    "train_batch_size": "auto",
    "gradient_clipping": "auto",
}


@pytest.mark.slow
def test_zero2_two_cpu_processes_train(sft_cfg: SFTConfig, tmp_path: Path) -> None:
    config = tmp_path / "zero2.json"
    config.write_text(json.dumps(ZERO2))
    train = sft_cfg.train.model_copy(update={"max_steps": 3, "per_device_batch_size": 2, "deepspeed": str(config)})
    cfg = sft_cfg.model_copy(update={"train": train})
    run = runs.start(tmp_path / "ds", cfg, stage="sft")
    lines: list[str] = []
    launch_torchrun(
        "lvr1kit.sft.train",
        ["--config", str(run.config_path), "--run-dir", str(run.dir)],
        nproc=2,
        env={"DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1"},
        on_line=lines.append,
        timeout_s=540,
    )
    losses = [r["loss/sft"] for r in runs.read_metrics(run.dir) if "loss/sft" in r]
    assert len(losses) == 3 and losses[-1] < losses[0], "\n".join(lines[-30:])
    assert (run.dir / "model" / "config.json").is_file()
    assert any("zero" in line.lower() and "stage" in line.lower() for line in lines), "DeepSpeed ZeRO not engaged"
