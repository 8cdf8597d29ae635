"""Vision encoding, log-probs and generation that take either pixels or cached video embeddings.

Contents:
    - ``encode_video``: pixels of one video -> its embeddings, the cacheable unit: a CPU-storable tensor
      ``[L, N, D]`` (N merged video tokens, D the LM hidden size; level 0 is what replaces the placeholders,
      levels 1.. are Qwen3-VL's deepstack features, so L = 1 for Qwen2.5-VL).
    - ``video_encoder_outputs``: embeddings of a batch's videos -> the ``mm_encoder_outputs["video"]`` object that
      transformers' Qwen-VL ``forward``/``generate`` accept instead of pixels.
    - ``forward_logits`` / ``compute_logprobs``: prompt (+ response) -> logits / per-token log-probs.
    - ``generate``: sample or greedy-decode responses; vision placeholder ids are always suppressed.

Both paths always pass ``input_ids``, ``mm_token_type_ids`` and ``video_grid_thw`` so transformers builds the
3D M-RoPE positions from the video grid (``inputs_embeds`` alone would lose them, and Qwen3-VL's deepstack
features too). The cached path equals the pixel path to float precision (tested).

Deviations from the paper:
1. Rollouts use HF ``generate`` with cached ``mm_encoder_outputs``; the paper feeds embeddings to vLLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPooling

from lvr1kit.models.preprocess import VideoInputs

__all__ = ["compute_logprobs", "encode_video", "forward_logits", "generate", "video_encoder_outputs"]


def _has_deepstack(model: PreTrainedModel) -> bool:
    return bool(getattr(model.config.vision_config, "deepstack_visual_indexes", None))


@torch.no_grad()
def encode_video(model: PreTrainedModel, video: VideoInputs, *, storage_device: str = "cpu") -> torch.Tensor:
    """Run the vision tower on one video and return its embeddings ``[L, N, D]`` on ``storage_device``."""
    param = next(model.parameters())
    out = model.model.get_video_features(
        pixel_values_videos=video.pixel_values_videos.to(param.device),
        video_grid_thw=video.video_grid_thw.to(param.device),
        return_dict=True,
    )
    levels = [torch.cat(out.pooler_output, dim=0)]
    if _has_deepstack(model):
        levels += [torch.cat(feature, dim=0) for feature in out.deepstack_features]
    return torch.stack(levels).to(storage_device)  # [L, N, D]


def video_encoder_outputs(model: PreTrainedModel, embeds: Sequence[torch.Tensor]) -> BaseModelOutputWithPooling:
    """Wrap cached embeddings (one ``[L, N, D]`` tensor per video, batch order) for ``mm_encoder_outputs``.

    Raises:
        ValueError: The number of levels does not match the model (e.g. a Qwen2.5-VL cache used on Qwen3-VL).
    """
    param = next(model.parameters())
    expected = 1 + len(getattr(model.config.vision_config, "deepstack_visual_indexes", None) or ())
    for i, e in enumerate(embeds):
        if e.ndim != 3 or e.shape[0] != expected or e.shape[-1] != model.config.text_config.hidden_size:
            raise ValueError(
                f"video embedding {i} has shape {tuple(e.shape)}; this model needs [{expected}, N, "
                f"{model.config.text_config.hidden_size}] (re-encode the video with this model)"
            )
    moved = [e.to(param.device, param.dtype) for e in embeds]
    out = BaseModelOutputWithPooling(pooler_output=tuple(e[0] for e in moved))  # type: ignore[arg-type]
    if _has_deepstack(model):
        out.deepstack_features = [tuple(e[level] for e in moved) for level in range(1, expected)]
    return out


def _model_kwargs(
    model: PreTrainedModel,
    batch: dict[str, torch.Tensor],
    pixel_values_videos: torch.Tensor | None,
    video_embeds: Sequence[torch.Tensor] | None,
) -> dict[str, Any]:
    if (pixel_values_videos is None) == (video_embeds is None):
        raise ValueError("pass exactly one of pixel_values_videos or video_embeds")
    device = next(model.parameters()).device
    kwargs: dict[str, Any] = {k: v.to(device) for k, v in batch.items()}
    if pixel_values_videos is not None:
        kwargs["pixel_values_videos"] = pixel_values_videos.to(device)
    else:
        kwargs["mm_encoder_outputs"] = {"video": video_encoder_outputs(model, video_embeds or [])}
    if model.config.model_type != "qwen2_5_vl":
        kwargs.pop("second_per_grid_ts", None)
    return kwargs


def forward_logits(
    model: PreTrainedModel,
    batch: dict[str, torch.Tensor],
    *,
    pixel_values_videos: torch.Tensor | None = None,
    video_embeds: Sequence[torch.Tensor] | None = None,
    logits_to_keep: int = 0,
) -> torch.Tensor:
    """Logits ``[B, S, V]`` of a collated batch (``collate_prompts``), given pixels or cached embeddings.

    Args:
        model: A Qwen-VL model.
        batch: ``input_ids``, ``attention_mask``, ``mm_token_type_ids``, ``video_grid_thw`` (and
            ``second_per_grid_ts`` for Qwen2.5-VL).
        pixel_values_videos: Concatenated patches of the batch's videos, in batch order.
        video_embeds: Cached ``encode_video`` outputs, one per video, in batch order.
        logits_to_keep: Keep only the last this many positions (0 keeps all).
    """
    kwargs = _model_kwargs(model, batch, pixel_values_videos, video_embeds)
    return model(**kwargs, use_cache=False, logits_to_keep=logits_to_keep).logits


def compute_logprobs(
    model: PreTrainedModel,
    batch: dict[str, torch.Tensor],
    response_ids: torch.Tensor,
    response_mask: torch.Tensor | None = None,
    *,
    pixel_values_videos: torch.Tensor | None = None,
    video_embeds: Sequence[torch.Tensor] | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Per-token log-probs ``[B, R]`` of right-padded responses after left-padded prompts.

    Padding positions (``response_mask == 0``) are returned as 0. Gradients flow when called without
    ``torch.no_grad``.
    """
    if response_mask is None:
        response_mask = torch.ones_like(response_ids)
    full = dict(batch)
    full["input_ids"] = torch.cat([batch["input_ids"], response_ids], dim=1)
    full["attention_mask"] = torch.cat([batch["attention_mask"], response_mask.to(batch["attention_mask"])], dim=1)
    full["mm_token_type_ids"] = torch.cat(
        [batch["mm_token_type_ids"], torch.zeros_like(response_ids, dtype=batch["mm_token_type_ids"].dtype)], dim=1
    )
    num_response = response_ids.shape[1]
    logits = forward_logits(
        model,
        full,
        pixel_values_videos=pixel_values_videos,
        video_embeds=video_embeds,
        logits_to_keep=num_response + 1,
    )[:, :-1]  # [B, R, V]: position i predicts response token i
    logprobs = torch.log_softmax(logits.float() / temperature, dim=-1)
    targets = response_ids.to(logprobs.device).unsqueeze(-1)
    token_logprobs = logprobs.gather(-1, targets).squeeze(-1)  # [B, R]
    return token_logprobs * response_mask.to(token_logprobs)


@torch.no_grad()
def generate(
    model: PreTrainedModel,
    batch: dict[str, torch.Tensor],
    *,
    banned_token_ids: Sequence[int],
    pixel_values_videos: torch.Tensor | None = None,
    video_embeds: Sequence[torch.Tensor] | None = None,
    max_new_tokens: int = 256,
    min_new_tokens: int = 0,
    do_sample: bool = False,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    eos_token_id: int | Sequence[int] | None = None,
    pad_token_id: int | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Generate responses ``[B, R]`` (prompt stripped, right-padded with ``pad_token_id`` after eos).

    Args:
        banned_token_ids: Ids never sampled, at least the vision placeholders (``LoadedModel.placeholder_token_ids``);
            emitting one makes the next forward fail with "features and tokens do not match".
        min_new_tokens: Suppress eos until this many tokens exist (benchmarks use it for fixed lengths).
        seed: Seeds torch's generator before sampling, for reproducible rollouts.

    Raises:
        ValueError: ``banned_token_ids`` is empty (it must at least hold the video placeholder).
    """
    if not banned_token_ids or model.config.video_token_id not in banned_token_ids:
        raise ValueError("banned_token_ids must include the video placeholder id (LoadedModel.placeholder_token_ids)")
    if seed is not None:
        torch.manual_seed(seed)
    kwargs = _model_kwargs(model, batch, pixel_values_videos, video_embeds)
    sampling: dict[str, Any] = {"do_sample": do_sample}
    if do_sample:
        sampling |= {"temperature": temperature, "top_p": top_p, "top_k": top_k}
    else:  # a folder's generation_config may set sampling knobs; greedy must not warn about them
        sampling |= {"temperature": None, "top_p": None, "top_k": None}
    out = model.generate(  # type: ignore[operator]
        **kwargs,
        **sampling,
        max_new_tokens=max_new_tokens,
        min_new_tokens=min_new_tokens,
        suppress_tokens=list(banned_token_ids),
        eos_token_id=eos_token_id if eos_token_id is not None else model.generation_config.eos_token_id,
        pad_token_id=pad_token_id if pad_token_id is not None else model.generation_config.pad_token_id,
    )
    return out[:, batch["input_ids"].shape[1] :].cpu()
