"""Every packaged preset validates against its stage's config class."""

from __future__ import annotations

import pytest

from lvr1kit.config import STAGE_CONFIGS, list_presets, load_config


@pytest.mark.parametrize("name", list_presets())
def test_preset_validates(name: str) -> None:
    stage = name.split("/")[0]
    assert stage in STAGE_CONFIGS, f"preset folder {stage}/ has no stage config class"
    load_config(STAGE_CONFIGS[stage], name)


def test_every_stage_has_tiny_preset() -> None:
    for stage in STAGE_CONFIGS:
        assert f"{stage}/tiny" in list_presets(stage)
