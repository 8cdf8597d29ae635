"""Sequence-parallel prefill (MR-SP Stage 2): per-token log-probs of a batch split over an SP group.

Contents:
    - ``validate_sp``: check a model config against an SP size before any work (heads, sliding window, frames per
      rank, micro-batch), gathering every problem into one error that names the key and the fix.
    - ``enable_ulysses`` / ``load_model_for_sp``: route the text model's attention through ``"ulysses"`` (vision
      tower stays on SDPA); the model still runs single-process ``generate`` / ``compute_logprobs`` unchanged.
    - ``sp_compute_logprobs``: same contract as :func:`lvr1kit.models.compute_logprobs` (``[B, R]``, zeros on
      response padding, gradients flow), computed with each rank holding only its slice of the sequence.

The pass, on every rank of the group (all ranks get the same arguments):
    1. Append the responses to the prompts; M-RoPE position ids ``[3, B, S]`` from ``get_rope_index`` on the **full**
       sequence (padding-aware), before any slicing.
    2. ``plan_slices`` (``paper`` layout by default, video cut at temporal-patch boundaries); this rank embeds only
       its slots' tokens and writes the cached video features (and Qwen3-VL deepstack features) into its video slots.
    3. The text model runs on ``[B, L, D]`` with the global key mask ``[B, 1, 1, k*L]``; Ulysses attention does the
       all-to-alls. ``use_cache=False``.
    4. The LM head runs only on slots that predict a response token; per-slot log-probs are all-gathered
       (``gather_logprobs``) and the response slice kept.

Gradients: every rank returns the same ``[B, R]``; after ``loss.backward()`` on each rank, ``sync_sp_gradients``
(sum over the group) gives the single-process gradients (tested on 2 gloo ranks).

Deviations from the paper:
1. The paper's ranks encode their own frames inside the forward; here the pass takes cached embeddings
   (``video_embeds``, from ``encode_video`` or ``sp_encode_video``), as Stage 1 caches them anyway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import PretrainedConfig, PreTrainedModel

from lvr1kit.models.inference import compute_logprobs
from lvr1kit.models.loading import LoadedModel, load_model
from lvr1kit.mrsp.dist import SPGroup
from lvr1kit.mrsp.slicing import gather_logprobs, plan_slices, slice_position_ids, slice_tensor
from lvr1kit.mrsp.ulysses import ATTN_NAME, check_heads, register_ulysses

logger = logging.getLogger(__name__)

__all__ = ["enable_ulysses", "load_model_for_sp", "sp_compute_logprobs", "validate_sp"]


def _text_config(config: PretrainedConfig | dict[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(config, (str, Path)):
        data: dict[str, Any] = json.loads((Path(config) / "config.json").read_text())
    elif isinstance(config, PretrainedConfig):
        data = config.to_dict()
    else:
        data = config
    return dict(data.get("text_config") or data)


def validate_sp(
    config: PretrainedConfig | dict[str, Any] | str | Path,
    sp_size: int,
    num_frames: int | None = None,
    *,
    micro_batch_size: int = 1,
) -> None:
    """Check that a model can run sequence-parallel over ``sp_size`` ranks; raise one error listing every problem.

    Args:
        config: The HF config (or its dict, or a checkpoint folder holding ``config.json``).
        sp_size: ``mrsp.sp_size``.
        num_frames: Frames per video (``video.num_frames``); each rank must get at least one temporal patch (2
            frames). ``None`` skips the check.
        micro_batch_size: Sequences per SP forward; any size >= 1 works (frames are split per sample).

    Raises:
        ValueError: Listing every problem, each with the key and the fix.
    """
    text = _text_config(config)
    problems = []
    if sp_size < 1:
        problems.append(f"mrsp.sp_size={sp_size} must be >= 1")
    else:
        heads, kv_heads = int(text["num_attention_heads"]), int(text.get("num_key_value_heads") or 0)
        if problem := check_heads(heads, sp_size):
            problems.append(problem)
        elif kv_heads and kv_heads % sp_size:
            logger.info("num_key_value_heads=%d < sp_size=%d: K/V heads are replicated", kv_heads, sp_size)
        if num_frames is not None and -(-num_frames // 2) < sp_size:
            problems.append(
                f"video.num_frames={num_frames} gives {-(-num_frames // 2)} temporal patches (2 frames each), fewer "
                f"than mrsp.sp_size={sp_size} ranks; use at least {2 * sp_size} frames or a smaller sp_size"
            )
    if "sliding_attention" in (text.get("layer_types") or []) and text.get("use_sliding_window"):
        problems.append("sliding-window layers are not supported under mrsp.sp_size > 1; set use_sliding_window=false")
    if micro_batch_size < 1:
        problems.append(f"micro-batch size {micro_batch_size} must be >= 1")
    if problems:
        raise ValueError("sequence parallelism config problems:\n  - " + "\n  - ".join(problems))


def enable_ulysses(model: PreTrainedModel) -> PreTrainedModel:
    """Switch an already loaded model's text attention to ``"ulysses"`` (vision stays as it is), in place."""
    register_ulysses()
    model.config.text_config._attn_implementation = ATTN_NAME
    return model


def load_model_for_sp(path: str | Path, *, sp_size: int, **kwargs: Any) -> LoadedModel:
    """``load_model`` with ``attn_implementation={"text_config": "ulysses", "vision_config": "sdpa"}``, after
    ``validate_sp`` on the folder's config.

    Args:
        path: Local checkpoint folder.
        sp_size: ``mrsp.sp_size`` (checked against the heads).
        **kwargs: Passed to :func:`lvr1kit.models.load_model` (``dtype``, ``device``, ``family``).
    """
    validate_sp(path, sp_size)
    register_ulysses()
    return load_model(path, attn_implementation={"text_config": ATTN_NAME, "vision_config": "sdpa"}, **kwargs)


def _full_batch(
    batch: dict[str, torch.Tensor], response_ids: torch.Tensor, response_mask: torch.Tensor
) -> dict[str, torch.Tensor]:
    full = dict(batch)
    full["input_ids"] = torch.cat([batch["input_ids"], response_ids.to(batch["input_ids"])], dim=1)
    full["attention_mask"] = torch.cat([batch["attention_mask"], response_mask.to(batch["attention_mask"])], dim=1)
    full["mm_token_type_ids"] = torch.cat(
        [batch["mm_token_type_ids"], torch.zeros_like(response_ids, dtype=batch["mm_token_type_ids"].dtype)], dim=1
    )
    return full


@torch.no_grad()
def _position_ids(model: PreTrainedModel, full: dict[str, torch.Tensor]) -> torch.Tensor:
    """M-RoPE positions ``[3, B, S]`` of the full sequence (padding-aware), as the single-process forward builds."""
    kwargs = {"video_grid_thw": full["video_grid_thw"], "attention_mask": full["attention_mask"]}
    if model.config.model_type == "qwen2_5_vl" and "second_per_grid_ts" in full:
        kwargs["second_per_grid_ts"] = full["second_per_grid_ts"]
    position_ids, _ = model.model.get_rope_index(full["input_ids"], full["mm_token_type_ids"], **kwargs)
    return position_ids[-3:]  # [3, B, S]: never the 4-row (text + 3D) form


def sp_compute_logprobs(
    model: PreTrainedModel,
    batch: dict[str, torch.Tensor],
    response_ids: torch.Tensor,
    response_mask: torch.Tensor | None = None,
    *,
    video_embeds: Sequence[torch.Tensor],
    sp_group: SPGroup,
    temperature: float = 1.0,
    layout: str = "paper",
) -> torch.Tensor:
    """Per-token log-probs ``[B, R]`` of right-padded responses after left-padded prompts, sequence-parallel.

    Equals :func:`lvr1kit.models.compute_logprobs` (``video_embeds`` path); ``sp_group.size == 1`` calls it.
    Every rank of the group must call this with identical arguments and gets the identical result.

    Args:
        model: A Qwen-VL model whose text attention is ``"ulysses"`` (``load_model_for_sp`` / ``enable_ulysses``).
        batch: ``collate_prompts`` output (``input_ids``, ``attention_mask``, ``mm_token_type_ids``,
            ``video_grid_thw`` and, for Qwen2.5-VL, ``second_per_grid_ts``).
        response_ids: ``[B, R]`` right-padded responses.
        response_mask: ``[B, R]``, 0 on response padding (all ones when ``None``).
        video_embeds: Cached ``[L, N, D]`` embeddings, one per video, batch order.
        sp_group: This rank's SP group.
        temperature: Logits are divided by it before the softmax.
        layout: A key of :data:`lvr1kit.mrsp.slicing.LAYOUTS`.

    Raises:
        ValueError: The model's text attention is not ``"ulysses"``, or the heads do not divide by the SP size.
    """
    if response_mask is None:
        response_mask = torch.ones_like(response_ids)
    if sp_group.size == 1:
        return compute_logprobs(
            model, batch, response_ids, response_mask, video_embeds=video_embeds, temperature=temperature
        )
    text_cfg = model.config.text_config
    if text_cfg._attn_implementation != ATTN_NAME:
        raise ValueError(
            f"text attention is {text_cfg._attn_implementation!r}, not {ATTN_NAME!r}: load with load_model_for_sp "
            "or call enable_ulysses(model) before sequence-parallel passes (mrsp.sp_size > 1)"
        )
    if problem := check_heads(text_cfg.num_attention_heads, sp_group.size):
        raise ValueError(problem)
    param = next(model.parameters())
    device = param.device
    full = {k: v.to(device) for k, v in _full_batch(batch, response_ids, response_mask).items()}
    position_ids = _position_ids(model, full)  # [3, B, S]
    merge = model.config.vision_config.spatial_merge_size
    units = [int(g[1] * g[2]) // merge**2 for g in full["video_grid_thw"]]
    plan = plan_slices(
        full["attention_mask"], full["mm_token_type_ids"], sp_group.size, layout=layout, video_units=units
    )
    rank = sp_group.rank
    src = plan.local_index(rank).to(device)  # [B, L]

    ids = slice_tensor(full["input_ids"], plan, rank, fill=int(model.config.text_config.pad_token_id or 0))
    embeds = model.get_input_embeddings()(ids)  # [B, L, D]
    is_video = full["input_ids"] == model.config.video_token_id  # [B, S]
    video_ordinal = (is_video.reshape(-1).cumsum(0) - 1).view_as(is_video)  # row-major, as masked_scatter fills
    local_video = slice_tensor(is_video, plan, rank, fill=False)  # [B, L]
    local_ordinal = slice_tensor(video_ordinal, plan, rank)[local_video]  # [N_local]
    feats = torch.cat([e.to(device, embeds.dtype) for e in video_embeds], dim=1)  # [Lv, N, D]
    if feats.shape[1] != int(is_video.sum()):
        raise ValueError(
            f"video_embeds hold {feats.shape[1]} tokens but the batch has {int(is_video.sum())} video placeholders; "
            "pass one encode_video output per video, in batch order"
        )
    embeds = embeds.masked_scatter(local_video.unsqueeze(-1), feats[0, local_ordinal])
    extra: dict[str, Any] = {}
    if feats.shape[0] > 1:  # Qwen3-VL deepstack features, added at this rank's video slots
        extra = {"visual_pos_masks": local_video, "deepstack_visual_embeds": list(feats[1:, local_ordinal])}

    key_mask = plan.key_mask(full["attention_mask"]).to(device)[:, None, None, :]  # [B, 1, 1, k*L]
    out = model.model.language_model(
        inputs_embeds=embeds,
        position_ids=slice_position_ids(position_ids, plan, rank),  # [3, B, L]
        attention_mask=key_mask,
        use_cache=False,
        sp_group=sp_group,
        **extra,
    )
    hidden = out.last_hidden_state  # [B, L, D]

    prompt_len, num_response = batch["input_ids"].shape[1], response_ids.shape[1]
    predicts = (src >= prompt_len - 1) & (src < prompt_len - 1 + num_response)  # slots whose next token is a response
    b_idx, j_idx = predicts.nonzero(as_tuple=True)
    logits = model.lm_head(hidden[b_idx, j_idx])  # [M, V]
    logprobs = torch.log_softmax(logits.float() / temperature, dim=-1)
    targets = full["input_ids"][b_idx, src[b_idx, j_idx] + 1]
    token_logprobs = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # [M]
    local = hidden.new_zeros(hidden.shape[:2], dtype=token_logprobs.dtype).index_put((b_idx, j_idx), token_logprobs)
    full_logprobs = gather_logprobs(local, plan, sp_group)  # [B, S]
    result = full_logprobs[:, prompt_len - 1 : prompt_len - 1 + num_response]  # [B, R]
    return result * response_mask.to(result)
