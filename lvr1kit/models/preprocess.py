"""Video -> model inputs for the Qwen-VL families, in plain torch (no torchvision, no HF video processor).

Contents:
    - ``VideoSettings`` / ``video_settings``: patch sizes, normalisation and the frame/pixel budgets of a family.
    - ``smart_resize``: Qwen-VL's size rule (both sides divisible by patch x merge, pixels within budget).
    - ``patchify``: normalised frames [T, C, H, W] -> flat patches [T/2 * H/p * W/p, C*2*p*p] in Qwen's order.
    - ``build_video_inputs``: uint8 RGB frames [T, H, W, 3] + timestamps -> ``VideoInputs`` (pixels, grid).
    - ``count_video_tokens``: merged video tokens for a frame count and size, without touching pixels.
    - ``build_prompt_inputs``: a chat-templated prompt holding one ``<|video_pad|>`` -> ``PromptInputs``
      (``input_ids`` with the placeholder expanded, ``mm_token_type_ids``, ``video_grid_thw``), raising when the
      prompt is over budget instead of truncating it.
    - ``collate_prompts``: left-pad several ``PromptInputs`` into one batch.

Conventions: an odd number of frames is padded by repeating the last frame (and its timestamp), as HF does,
because the temporal patch is 2 frames. Resizing is bicubic with antialiasing on uint8 (the kernel torchvision
uses for uint8 tensors), then ``x / 255`` is normalised with the family's mean/std (CLIP for Qwen2.5-VL, 0.5 for
Qwen3-VL).

Deviations from the paper / from HF:
1. The pixel budget (``min_pixels``/``max_pixels``) is per frame for both families; HF's Qwen3-VL video
   processor budgets pixels over the whole clip. Pass per-frame values when matching a Qwen3-VL checkpoint.
2. Frames beyond ``max_frames`` are an error, never silently subsampled: sampling is the video module's job.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "PromptBudgetError",
    "PromptInputs",
    "VideoInputs",
    "VideoSettings",
    "build_prompt_inputs",
    "build_video_inputs",
    "collate_prompts",
    "count_video_tokens",
    "patchify",
    "smart_resize",
    "video_settings",
]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VIDEO_TOKEN = "<|video_pad|>"


class PromptBudgetError(ValueError):
    """A prompt (video + text tokens) longer than ``max_prompt_tokens``; it is never truncated."""


@dataclass(frozen=True)
class VideoSettings:
    """How one family turns frames into patches, and the budgets that bound the token count."""

    family: str
    patch_size: int
    temporal_patch_size: int
    merge_size: int
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    min_pixels: int
    """Lower bound on pixels per frame after resizing."""
    max_pixels: int
    """Upper bound on pixels per frame after resizing."""
    max_frames: int
    """More frames than this is an error (sample fewer upstream)."""

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size


def video_settings(
    family: str = "qwen2_5_vl",
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    max_frames: int = 2048,
) -> VideoSettings:
    """Preprocessing settings of a family; budgets default to 2x2 merged tokens minimum, 768 maximum per frame.

    Raises:
        ValueError: Unknown family, or ``min_pixels > max_pixels``.
    """
    if family == "qwen2_5_vl":
        patch, mean, std = 14, CLIP_MEAN, CLIP_STD
    elif family == "qwen3_vl":
        patch, mean, std = 16, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    else:
        raise ValueError(f"unknown family {family!r}; use 'qwen2_5_vl' or 'qwen3_vl'")
    factor = patch * 2
    min_px = min_pixels if min_pixels is not None else (2 * factor) ** 2
    max_px = max_pixels if max_pixels is not None else factor * factor * 768
    if min_px > max_px:
        raise ValueError(f"min_pixels={min_px} > max_pixels={max_px}; lower min_pixels or raise max_pixels")
    return VideoSettings(family, patch, 2, 2, mean, std, min_px, max_px, max_frames)


def smart_resize(height: int, width: int, *, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen-VL's resize rule: keep the aspect ratio, round sides to ``factor``, keep pixels in budget.

    >>> smart_resize(56, 56, factor=28, min_pixels=3136, max_pixels=602112)
    (56, 56)
    """
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"frame aspect ratio {height}x{width} exceeds 200; crop the video")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def patchify(video: torch.Tensor, *, patch_size: int, temporal_patch_size: int, merge_size: int) -> torch.Tensor:
    """Flatten normalised frames [T, C, H, W] into patches [T/tp * H/p * W/p, C * tp * p * p].

    Rows run over temporal patches, then merge blocks in raster order, then the 2x2 patches inside a block
    (so each run of ``merge_size**2`` rows becomes one merged token); a row holds channel, then frame within the
    temporal patch, then the p x p pixels in raster order. ``T`` must be divisible by ``temporal_patch_size``.
    """
    t, c, h, w = video.shape
    assert t % temporal_patch_size == 0 and h % (patch_size * merge_size) == 0 and w % (patch_size * merge_size) == 0
    gt, gh, gw = t // temporal_patch_size, h // patch_size, w // patch_size
    x = video.reshape(
        gt, temporal_patch_size, c, gh // merge_size, merge_size, patch_size, gw // merge_size, merge_size, patch_size
    )
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gt * gh * gw, c * temporal_patch_size * patch_size * patch_size)


@dataclass
class VideoInputs:
    """One video, ready for the vision tower."""

    pixel_values_videos: torch.Tensor  # [N_patches, C*2*p*p] float32
    video_grid_thw: torch.Tensor  # [1, 3] long: temporal patches, patch rows, patch columns
    timestamps_s: tuple[float, ...]
    """Timestamp of every frame after padding to an even count."""
    frame_height: int
    frame_width: int
    num_input_frames: int
    family: str
    merge_size: int = 2

    @property
    def num_video_tokens(self) -> int:
        """Merged tokens the LM sees: T/2 * H/p * W/p / merge^2."""
        return int(self.video_grid_thw.prod().item()) // self.merge_size**2

    @property
    def second_per_grid_t(self) -> float:
        """Seconds spanned by one temporal patch (Qwen2.5-VL's ``second_per_grid_ts``): 2x the mean frame step.

        Falls back to 1.0 (transformers' default) for a single frame or identical timestamps.
        """
        n, ts = self.num_input_frames, self.timestamps_s
        step = (ts[n - 1] - ts[0]) / (n - 1) if n > 1 else 0.0
        return 2.0 * step if step > 0 else 1.0

    def patch_timestamps_s(self) -> list[float]:
        """Mean timestamp of each temporal patch (Qwen3-VL writes these into the prompt)."""
        ts = self.timestamps_s
        return [(ts[i] + ts[i + 1]) / 2 for i in range(0, len(ts), 2)]


def count_video_tokens(num_frames: int, height: int, width: int, settings: VideoSettings) -> int:
    """Merged video tokens for ``num_frames`` frames of ``height`` x ``width`` under ``settings``."""
    h, w = smart_resize(
        height, width, factor=settings.factor, min_pixels=settings.min_pixels, max_pixels=settings.max_pixels
    )
    temporal = -(-num_frames // settings.temporal_patch_size)
    return temporal * (h // settings.factor) * (w // settings.factor)


def build_video_inputs(
    frames: np.ndarray | torch.Tensor, timestamps_s: Sequence[float] | np.ndarray, settings: VideoSettings
) -> VideoInputs:
    """Resize, normalise and patchify uint8 RGB frames [T, H, W, 3] sampled at ``timestamps_s`` seconds.

    Raises:
        ValueError: Wrong shape or dtype, timestamps not matching frames, or more than ``max_frames`` frames.
    """
    video = torch.as_tensor(frames)
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 RGB [T, H, W, 3]; got {video.dtype} {tuple(video.shape)}")
    num_frames = video.shape[0]
    if len(timestamps_s) != num_frames:
        raise ValueError(f"{len(timestamps_s)} timestamps for {num_frames} frames; pass one timestamp per frame")
    if num_frames > settings.max_frames:
        raise ValueError(
            f"{num_frames} frames > max_frames={settings.max_frames}; sample fewer frames or raise max_frames"
        )
    times = [float(t) for t in timestamps_s]
    if num_frames % settings.temporal_patch_size:  # repeat the last frame, as HF's processor does
        video = torch.cat([video, video[-1:]], dim=0)
        times.append(times[-1])
    video = video.permute(0, 3, 1, 2).contiguous()  # [T, 3, H, W]
    height, width = video.shape[-2:]
    new_h, new_w = smart_resize(
        height, width, factor=settings.factor, min_pixels=settings.min_pixels, max_pixels=settings.max_pixels
    )
    if (new_h, new_w) != (height, width):
        video = F.interpolate(video, size=(new_h, new_w), mode="bicubic", antialias=True, align_corners=False)
    mean = torch.tensor(settings.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(settings.image_std).view(1, 3, 1, 1)
    pixels = (video.float() / 255.0 - mean) / std
    patches = patchify(
        pixels,
        patch_size=settings.patch_size,
        temporal_patch_size=settings.temporal_patch_size,
        merge_size=settings.merge_size,
    )
    grid = torch.tensor(
        [[video.shape[0] // settings.temporal_patch_size, new_h // settings.patch_size, new_w // settings.patch_size]]
    )
    return VideoInputs(patches, grid, tuple(times), new_h, new_w, num_frames, settings.family, settings.merge_size)


@dataclass
class PromptInputs:
    """One tokenised prompt with its video placeholders expanded; tensors have a batch dimension of 1."""

    input_ids: torch.Tensor  # [1, L] long
    attention_mask: torch.Tensor  # [1, L] long
    mm_token_type_ids: torch.Tensor  # [1, L] int: 0 text, 2 video
    video_grid_thw: torch.Tensor  # [1, 3] long
    second_per_grid_ts: torch.Tensor | None  # [1] float (Qwen2.5-VL), None for Qwen3-VL
    num_video_tokens: int
    num_text_tokens: int

    @property
    def num_tokens(self) -> int:
        return self.num_video_tokens + self.num_text_tokens


def _token_id(tokenizer: PreTrainedTokenizerBase, token: str) -> int:
    token_id = tokenizer.convert_tokens_to_ids(token)
    if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
        raise ValueError(f"tokenizer has no {token}; it is not a Qwen-VL tokenizer")
    return token_id


def _video_token_ids(tokenizer: PreTrainedTokenizerBase, video: VideoInputs) -> list[int]:
    video_id = _token_id(tokenizer, VIDEO_TOKEN)
    if video.family == "qwen2_5_vl":
        return [video_id] * video.num_video_tokens
    # Qwen3-VL: "<t seconds><|vision_start|>pads<|vision_end|>" per temporal patch, as its HF processor writes it.
    start, end = _token_id(tokenizer, "<|vision_start|>"), _token_id(tokenizer, "<|vision_end|>")
    per_patch = video.num_video_tokens // int(video.video_grid_thw[0, 0])
    ids: list[int] = []
    for t in video.patch_timestamps_s():
        ids += tokenizer(f"<{t:.1f} seconds>", add_special_tokens=False)["input_ids"]
        ids += [start] + [video_id] * per_patch + [end]
    return ids


def build_prompt_inputs(
    tokenizer: PreTrainedTokenizerBase, prompt_text: str, video: VideoInputs, *, max_prompt_tokens: int
) -> PromptInputs:
    """Tokenise a chat-templated prompt and expand its single ``<|video_pad|>`` to the video's tokens.

    Raises:
        ValueError: The prompt has no or several video placeholders.
        PromptBudgetError: Video plus text tokens exceed ``max_prompt_tokens`` (never truncated).
    """
    parts = prompt_text.split(VIDEO_TOKEN)
    if len(parts) != 2:
        raise ValueError(f"prompt must hold exactly one {VIDEO_TOKEN} (from the chat template); found {len(parts) - 1}")
    before = tokenizer(parts[0], add_special_tokens=False)["input_ids"]
    after = tokenizer(parts[1], add_special_tokens=False)["input_ids"]
    video_ids = _video_token_ids(tokenizer, video)
    ids = before + video_ids + after
    video_id = _token_id(tokenizer, VIDEO_TOKEN)
    num_video = sum(1 for i in video_ids if i == video_id)
    num_text = len(ids) - num_video
    if len(ids) > max_prompt_tokens:
        raise PromptBudgetError(
            f"video needs {num_video} tokens ({video.num_input_frames} frames at {video.frame_height}x"
            f"{video.frame_width}) + {num_text} text > max_prompt_tokens={max_prompt_tokens}; "
            "lower frames (or max_pixels) or raise max_prompt_tokens"
        )
    input_ids = torch.tensor([ids], dtype=torch.long)
    mm_types = (input_ids == video_id).to(torch.int32) * 2
    spg = torch.tensor([video.second_per_grid_t]) if video.family == "qwen2_5_vl" else None
    return PromptInputs(
        input_ids, torch.ones_like(input_ids), mm_types, video.video_grid_thw.clone(), spg, num_video, num_text
    )


def collate_prompts(prompts: Sequence[PromptInputs], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Left-pad prompts into one batch: ``input_ids``, ``attention_mask``, ``mm_token_type_ids``, grids."""
    length = max(p.input_ids.shape[1] for p in prompts)

    def pad(t: torch.Tensor, value: int) -> torch.Tensor:
        return F.pad(t, (length - t.shape[1], 0), value=value)

    batch = {
        "input_ids": torch.cat([pad(p.input_ids, pad_token_id) for p in prompts]),
        "attention_mask": torch.cat([pad(p.attention_mask, 0) for p in prompts]),
        "mm_token_type_ids": torch.cat([pad(p.mm_token_type_ids, 0) for p in prompts]),
        "video_grid_thw": torch.cat([p.video_grid_thw for p in prompts]),
    }
    if all(p.second_per_grid_ts is not None for p in prompts):
        batch["second_per_grid_ts"] = torch.cat([p.second_per_grid_ts for p in prompts])  # type: ignore[misc]
    return batch
