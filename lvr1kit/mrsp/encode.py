"""Frame-sharded vision encoding: each SP rank encodes only its share of a video's temporal patches.

Contents:
    - ``frame_shares``: temporal patches of a video per rank (``split_counts``; uneven shares allowed) and the
      resulting ``[start, stop)`` range of this rank.
    - ``encode_video_shard``: run the vision tower on this rank's temporal patches, ``encode_chunk_frames`` frames per
      call, and return its part of the embeddings ``[L, N_local, D]``.
    - ``sp_encode_video``: shard + all-gather -> the full ``[L, N, D]`` on every rank, equal to single-process
      :func:`lvr1kit.models.encode_video` (for rollouts and the embedding cache, which need the whole sequence).

Why this is exact: Qwen2.5-VL's vision tower attends only within a temporal patch (2 frames) in its window and
full-attention layers, and its position ids depend only on the patch's (h, w); Qwen3-VL's tower likewise uses one
attention segment per temporal patch and (h, w) position embeddings. Cutting at temporal-patch boundaries therefore
changes nothing (tested: the sharded result equals the single-process one).

Every video is split on its own (never a micro-batch's concatenated pixels, PAPER.md §11 hazard 3).

Deviations from the paper:
1. The paper's ranks write their features straight into their local slots and never all-gather; here the full
   embeddings are gathered because the trainer's rollouts and cache want them. ``encode_video_shard`` alone is the
   paper's step (its temporal patches are the ones the ``paper`` slice layout gives the rank).
"""

from __future__ import annotations

import logging

import torch
import torch.distributed as dist
from transformers import PreTrainedModel

from lvr1kit.models.preprocess import VideoInputs
from lvr1kit.mrsp.dist import SPGroup
from lvr1kit.mrsp.slicing import split_counts

logger = logging.getLogger(__name__)

__all__ = ["encode_video_shard", "frame_shares", "sp_encode_video"]


def frame_shares(num_temporal_patches: int, sp_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` temporal patches of every rank; the first ranks take the remainder.

    >>> frame_shares(5, 2)
    [(0, 3), (3, 5)]
    """
    out, start = [], 0
    for n in split_counts(num_temporal_patches, sp_size):
        out.append((start, start + n))
        start += n
    return out


def _levels(model: PreTrainedModel) -> int:
    return 1 + len(getattr(model.config.vision_config, "deepstack_visual_indexes", None) or ())


@torch.no_grad()
def encode_video_shard(
    model: PreTrainedModel,
    video: VideoInputs,
    sp: SPGroup,
    *,
    encode_chunk_frames: int = 64,
    storage_device: str = "cpu",
) -> torch.Tensor:
    """This rank's part ``[L, N_local, D]`` of the video's embeddings, ``encode_chunk_frames`` frames per call.

    Raises:
        ValueError: ``encode_chunk_frames`` is odd or below 2 (the temporal patch is 2 frames).
    """
    if encode_chunk_frames < 2 or encode_chunk_frames % 2:
        raise ValueError(f"mrsp.encode_chunk_frames={encode_chunk_frames} must be even and >= 2; use e.g. 64")
    t, h, w = (int(x) for x in video.video_grid_thw[0])
    start, stop = frame_shares(t, sp.size)[sp.rank]
    patches_per_t = h * w
    chunk_t = encode_chunk_frames // 2
    param = next(model.parameters())
    hidden = model.config.text_config.hidden_size
    parts: list[torch.Tensor] = []
    for t0 in range(start, stop, chunk_t):
        t1 = min(t0 + chunk_t, stop)
        pixels = video.pixel_values_videos[t0 * patches_per_t : t1 * patches_per_t]
        grid = torch.tensor([[t1 - t0, h, w]], device=param.device)
        out = model.model.get_video_features(
            pixel_values_videos=pixels.to(param.device), video_grid_thw=grid, return_dict=True
        )
        levels = [torch.cat(out.pooler_output, dim=0)]
        if _levels(model) > 1:
            levels += [torch.cat(feature, dim=0) for feature in out.deepstack_features]
        parts.append(torch.stack(levels).to(storage_device))  # [L, n_chunk, D]
    if not parts:  # fewer temporal patches than ranks: this rank encodes nothing
        return torch.zeros(_levels(model), 0, hidden, dtype=param.dtype, device=storage_device)
    return torch.cat(parts, dim=1)  # [L, N_local, D]


@torch.no_grad()
def sp_encode_video(
    model: PreTrainedModel,
    video: VideoInputs,
    sp: SPGroup,
    *,
    encode_chunk_frames: int = 64,
    storage_device: str = "cpu",
) -> torch.Tensor:
    """Full embeddings ``[L, N, D]`` of one video, each rank encoding 1/k of its temporal patches, then all-gather.

    Equals :func:`lvr1kit.models.encode_video` on one process. Every rank of ``sp`` must call it with the same
    video. The gather runs on the model's device (gloo on CPU, nccl on CUDA) and the result moves to
    ``storage_device``.
    """
    param = next(model.parameters())
    local = encode_video_shard(model, video, sp, encode_chunk_frames=encode_chunk_frames, storage_device="cpu")
    if sp.size == 1:
        return local.to(storage_device)
    t, h, w = (int(x) for x in video.video_grid_thw[0])
    tokens_per_t = h * w // video.merge_size**2
    counts = [(b - a) * tokens_per_t for a, b in frame_shares(t, sp.size)]
    padded = torch.zeros(local.shape[0], max(counts), local.shape[2], dtype=local.dtype, device=param.device)
    padded[:, : local.shape[1]] = local.to(param.device)  # all_gather needs equal sizes on every rank
    parts = [torch.empty_like(padded) for _ in range(sp.size)]
    dist.all_gather(parts, padded, group=sp.group)
    full = torch.cat([p[:, :n] for p, n in zip(parts, counts, strict=True)], dim=1)  # [L, N, D]
    logger.debug("rank %d encoded %d of %d video tokens", sp.rank, local.shape[1], full.shape[1])
    return full.to(storage_device)
