"""Session fixtures for the model tests: one tiny model per family, built once and saved to a tmp folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lvr1kit.models import LoadedModel, build_tiny_model, load_model, save_tiny_model

FAMILIES = ("qwen2_5_vl", "qwen3_vl")


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders holding a saved ``tiny`` model of each family (seed 0)."""
    dirs = {}
    for family in FAMILIES:
        model, tokenizer = build_tiny_model(family, "tiny", seed=0)
        dirs[family] = save_tiny_model(model, tokenizer, tmp_path_factory.mktemp(f"tiny_{family}"))
    return dirs


@pytest.fixture(scope="session")
def tiny_models(tiny_dirs: dict[str, Path]) -> dict[str, LoadedModel]:
    """The saved tiny models, loaded through the same path as a real checkpoint."""
    return {family: load_model(path) for family, path in tiny_dirs.items()}


@pytest.fixture
def random_frames() -> np.ndarray:
    """Seven uint8 RGB frames of 56x56 (odd on purpose: padding is exercised)."""
    return np.random.default_rng(0).integers(0, 256, (7, 56, 56, 3), dtype=np.uint8)
