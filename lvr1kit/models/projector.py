"""A trainable projector over a frozen, cached vision tower (Qwen2.5-VL's patch merger).

Qwen2.5-VL's projector (``model.visual.merger``: RMSNorm + 2-layer MLP over each 2x2 group of patch states) lives
inside the vision tower, so freezing the tower also freezes it. With ``model.train_projector`` the tower's blocks
stay frozen and cached, and the merger trains:

    - ``encode_premerger``: the blocks' output for one video, ``[N, unit, C]`` (one row per merged token, in the
      token order the LM sees; ``unit`` = 4 patches of ``C`` = vision hidden size); this is what gets cached.
    - ``project``: the merger on those states -> ``[1, N, D]`` embeddings (the layout of :func:`encode_video`),
      with gradients into the merger. ``project(m, encode_premerger(m, v))`` equals ``encode_video(m, v)`` (tested).
    - ``premerger_version``: a hash of the tower without the merger (the cache key part that must not change while
      the merger trains).
    - ``check_projector_support``: only Qwen2.5-VL (Qwen3-VL adds deepstack mergers on inner layers: not supported).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedModel

from lvr1kit.models.preprocess import VideoInputs

__all__ = ["check_projector_support", "encode_premerger", "premerger_version", "project"]


def check_projector_support(model: PreTrainedModel) -> None:
    """Raise a clear error unless ``model`` is a Qwen2.5-VL model (the only family with a single merger)."""
    model_type = getattr(model.config, "model_type", None)
    if model_type != "qwen2_5_vl":
        raise ValueError(
            f"model.train_projector supports qwen2_5_vl only, not {model_type!r} (Qwen3-VL's deepstack mergers read "
            "inner vision layers); set model.train_projector=false or model.freeze_vision=false"
        )


def _tower(model: Any) -> Any:
    """``model.model.visual``, also under a ``peft`` wrapper."""
    get_base = getattr(model, "get_base_model", None)
    return (get_base() if get_base is not None else model).get_submodule("model.visual")


@torch.no_grad()
def encode_premerger(model: PreTrainedModel, video: VideoInputs, *, storage_device: str = "cpu") -> torch.Tensor:
    """The frozen blocks' states of one video, ``[N, unit, C]`` in LM token order (see module docstring)."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import get_vision_window_index

    check_projector_support(model)
    tower = _tower(model)
    param = next(tower.parameters())
    grid = video.video_grid_thw.to(param.device)
    out = tower(video.pixel_values_videos.to(param.device, param.dtype), grid_thw=grid, return_dict=True)
    unit = tower.spatial_merge_size**2
    states = out.last_hidden_state  # [N * unit, C], window order
    window_index, _ = get_vision_window_index(grid, tower.spatial_merge_size, tower.window_size, tower.patch_size)
    grouped = states.view(-1, unit, states.shape[-1])  # [N, unit, C]
    return grouped[torch.argsort(window_index.to(grouped.device))].to(storage_device)


def project(model: PreTrainedModel, premerger: torch.Tensor) -> torch.Tensor:
    """Merger on cached ``[N, unit, C]`` states -> ``[1, N, D]`` (gradients flow into the merger)."""
    tower = _tower(model)
    param = next(tower.merger.parameters())
    states = premerger.to(param.device, param.dtype)
    return tower.merger(states.reshape(-1, states.shape[-1])).unsqueeze(0)


def premerger_version(model: torch.nn.Module) -> str:
    """Version of the vision tower without its merger (what the cached pre-merger states depend on)."""
    from lvr1kit.mrsp.cache import vision_weights_version

    return "premerger-" + vision_weights_version(model, exclude=("merger.",))
