"""Fixtures of the SFT tests: a small synthetic dataset (made once) and a saved tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvr1kit.config import DataGenConfig, SFTConfig, load_config
from lvr1kit.data import generate_dataset
from lvr1kit.models import build_tiny_model, save_tiny_model


@pytest.fixture(scope="session")
def sft_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``data/tiny`` dataset of 8 videos (``dataset/{sft,eval}.jsonl`` and ``world/``)."""
    out = tmp_path_factory.mktemp("sft_data")
    cfg = load_config(DataGenConfig, "data/tiny", {"progress": False, "num_videos": 8, "split.eval_videos": 2})
    generate_dataset(cfg, out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved ``tiny`` Qwen2.5-VL (seed 0)."""
    model, tokenizer = build_tiny_model("qwen2_5_vl", "tiny", seed=0)
    return save_tiny_model(model, tokenizer, tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture
def sft_cfg(sft_data: Path, tiny_model_dir: Path) -> SFTConfig:
    """A few-step SFT config on the fixture data and model, logging every step."""
    return load_config(
        SFTConfig,
        overrides={
            "model.path": str(tiny_model_dir),
            "train_file": str(sft_data / "dataset" / "sft.jsonl"),
            "eval_file": str(sft_data / "dataset" / "eval.jsonl"),
            "train.max_steps": 4,
            "train.per_device_batch_size": 4,
            "train.logging_steps": 1,
            "train.warmup_ratio": 0.0,
        },
    )
