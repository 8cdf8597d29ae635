"""Shared fixtures of the data tests: a small synthetic world (made once) and the tiny data config."""

from __future__ import annotations

import pytest

from lvr1kit.config import DataGenConfig, load_config
from lvr1kit.video.synth import WorldVideo, generate_world


@pytest.fixture(scope="session")
def tiny_cfg() -> DataGenConfig:
    """The ``data/tiny`` preset without progress bars."""
    return load_config(DataGenConfig, "data/tiny", {"progress": False})


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_cfg: DataGenConfig) -> list[WorldVideo]:
    """Sixteen short videos of the tiny preset's world, with event logs."""
    return generate_world(tmp_path_factory.mktemp("world"), 16, tiny_cfg.world, progress=False)
