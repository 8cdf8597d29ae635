"""Trainable projector over cached pre-merger states: equals the full tower, excludes the merger from its version."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvr1kit.models import LoadedModel, build_video_inputs, encode_video, video_settings
from lvr1kit.models.projector import encode_premerger, premerger_version, project
from lvr1kit.mrsp import vision_weights_version


def test_projected_premerger_states_equal_the_tower_output(tiny_models: dict[str, LoadedModel]) -> None:
    model = tiny_models["qwen2_5_vl"].model
    # 224 x 224 frames: 16 x 16 patches, 4 attention windows per frame, so the window reordering is exercised
    settings = video_settings("qwen2_5_vl", max_frames=6, max_pixels=224 * 224)
    frames = np.random.default_rng(3).integers(0, 256, (6, 224, 224, 3), dtype=np.uint8)
    video = build_video_inputs(frames, [i * 1.5 for i in range(6)], settings)
    states = encode_premerger(model, video)
    assert states.shape == (3 * 8 * 8, 4, model.config.vision_config.hidden_size)
    with torch.no_grad():
        torch.testing.assert_close(project(model, states), encode_video(model, video), rtol=0, atol=1e-6)
    merger = model.model.visual.merger.mlp[0]
    projected = project(model, states)
    projected.sum().backward()  # gradients reach the merger
    assert merger.weight.grad is not None and merger.weight.grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


def test_premerger_version_ignores_the_merger(tiny_models: dict[str, LoadedModel]) -> None:
    model = tiny_models["qwen2_5_vl"].model
    before, full = premerger_version(model), vision_weights_version(model)
    with torch.no_grad():
        model.model.visual.merger.mlp[0].bias.add_(1.0)
    try:
        assert premerger_version(model) == before and vision_weights_version(model) != full
    finally:
        with torch.no_grad():
            model.model.visual.merger.mlp[0].bias.sub_(1.0)


def test_qwen3_vl_is_refused_with_the_fix(tiny_models: dict[str, LoadedModel]) -> None:
    loaded = tiny_models["qwen3_vl"]
    video = build_video_inputs(np.zeros((4, 64, 64, 3), np.uint8), [0, 1, 2, 3], video_settings("qwen3_vl"))
    with pytest.raises(ValueError, match="qwen2_5_vl only.*train_projector=false"):
        encode_premerger(loaded.model, video)
