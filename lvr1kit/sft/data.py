"""CoT-SFT examples: tokenised prompt + target with loss masks, the video source of each, and the batch collator.

Contents:
    - ``build_target_ids``: the response tokens SFT trains on: ``format_target(reasoning, letter)`` followed by
      the ``<|im_end|>`` token, so the model learns to stop where the chat template closes the assistant turn.
    - ``build_sft_example``: one prompt (from :func:`lvr1kit.models.build_question_prompt`) + target ->
      ``input_ids`` and ``labels`` (``-100`` on every prompt and video-placeholder position; transformers' causal
      loss shifts labels, so position i's label is the token that position i-1 predicts).
    - ``VideoMeta``: a video's patch grid and timestamps (what a prompt needs), stored with its cache entry.
    - ``prepare_videos``: decode each distinct video once, record its grid/timestamps, and (frozen tower) encode it
      into an :class:`lvr1kit.mrsp.EmbeddingCache`; ranks of a torchrun job share the work.
    - ``SFTDataset``: records -> examples (tokenised once, at construction), video tensors read per item.
    - ``SFTCollator``: right-pads ``input_ids`` (pad id), ``labels`` (-100), ``attention_mask`` and
      ``mm_token_type_ids`` (0); concatenates grids, ``second_per_grid_ts`` and pixels, or lists embeddings.

Deviations from the paper:
1. The paper's SFT code (NVlabs/VILA) packs samples; here each sample is one row, right-padded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lvr1kit.config import VideoConfig
from lvr1kit.data.schema import QARecord
from lvr1kit.models import PromptInputs, VideoInputs, VideoSettings, encode_video, format_target
from lvr1kit.models.examples import build_question_prompt, load_video_inputs
from lvr1kit.mrsp.cache import EmbeddingCache

__all__ = [
    "IGNORE_INDEX",
    "SFTCollator",
    "SFTDataset",
    "SFTExample",
    "VideoMeta",
    "build_sft_example",
    "build_target_ids",
    "prepare_videos",
]

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
"""Label value that carries no loss (prompt, video placeholders, padding)."""
END_OF_TURN = "<|im_end|>"


def build_target_ids(tokenizer: PreTrainedTokenizerBase, reasoning: str, letter: str) -> list[int]:
    """Token ids of ``<think>{reasoning}</think> <answer>{letter}</answer><|im_end|>``.

    Raises:
        ValueError: the tokenizer has no ``<|im_end|>`` (not a Qwen chat tokenizer).
    """
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    if not isinstance(end, int) or end == tokenizer.unk_token_id:
        raise ValueError(f"tokenizer has no {END_OF_TURN}; SFT needs a Qwen-VL chat tokenizer")
    ids = tokenizer(format_target(reasoning, letter), add_special_tokens=False)["input_ids"]
    return [*ids, end]


@dataclass
class SFTExample:
    """One tokenised training sample; tensors are 1-D (no batch dimension)."""

    input_ids: torch.Tensor  # [S] long
    labels: torch.Tensor  # [S] long, IGNORE_INDEX on prompt and video positions
    mm_token_type_ids: torch.Tensor  # [S] int: 0 text, 2 video
    video_grid_thw: torch.Tensor  # [1, 3] long
    second_per_grid_ts: torch.Tensor | None  # [1] float (Qwen2.5-VL)
    video_key: str
    """Which video (the dataset's relative path) the sample uses."""


def build_sft_example(prompt: PromptInputs, target_ids: Sequence[int], video_key: str = "") -> SFTExample:
    """Join a tokenised prompt and its target; only the target positions carry loss."""
    target = torch.tensor(list(target_ids), dtype=torch.long)
    prompt_ids = prompt.input_ids[0]
    input_ids = torch.cat([prompt_ids, target])
    labels = torch.cat([torch.full_like(prompt_ids, IGNORE_INDEX), target])
    mm_types = torch.cat([prompt.mm_token_type_ids[0], torch.zeros_like(target, dtype=prompt.mm_token_type_ids.dtype)])
    return SFTExample(input_ids, labels, mm_types, prompt.video_grid_thw, prompt.second_per_grid_ts, video_key)


@dataclass(frozen=True)
class VideoMeta:
    """What the prompt needs from a video without its pixels: the patch grid and frame timestamps."""

    video_grid_thw: tuple[int, int, int]
    timestamps_s: tuple[float, ...]
    frame_height: int
    frame_width: int
    num_input_frames: int
    family: str
    merge_size: int
    cache_key: str | None = None
    """Key of the video's embeddings in the cache (frozen tower), else ``None``."""

    @classmethod
    def from_inputs(cls, video: VideoInputs, cache_key: str | None = None) -> VideoMeta:
        grid = tuple(int(x) for x in video.video_grid_thw[0])
        return cls(
            (grid[0], grid[1], grid[2]),
            video.timestamps_s,
            video.frame_height,
            video.frame_width,
            video.num_input_frames,
            video.family,
            video.merge_size,
            cache_key,
        )

    def as_video_inputs(self) -> VideoInputs:
        """A pixel-less :class:`VideoInputs` carrying the grid and timestamps (enough to build a prompt)."""
        return VideoInputs(
            torch.empty(0),
            torch.tensor([list(self.video_grid_thw)]),
            self.timestamps_s,
            self.frame_height,
            self.frame_width,
            self.num_input_frames,
            self.family,
            self.merge_size,
        )

    def to_meta(self) -> dict[str, str]:
        return {"video_meta": json.dumps({k: v for k, v in self.__dict__.items() if k != "cache_key"})}

    @classmethod
    def from_meta(cls, meta: dict[str, str], cache_key: str) -> VideoMeta:
        data = json.loads(meta["video_meta"])
        return cls(
            tuple(data["video_grid_thw"]),  # type: ignore[arg-type]
            tuple(data["timestamps_s"]),
            data["frame_height"],
            data["frame_width"],
            data["num_input_frames"],
            data["family"],
            data["merge_size"],
            cache_key,
        )


def _dist_info() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def prepare_videos(
    videos: Sequence[str],
    videos_dir: str | os.PathLike[str],
    video_cfg: VideoConfig,
    settings: VideoSettings,
    *,
    model: PreTrainedModel | None = None,
    cache: EmbeddingCache | None = None,
    weights_version: str | None = None,
    encoder: Callable[[PreTrainedModel, VideoInputs], torch.Tensor] = encode_video,
) -> dict[str, VideoMeta]:
    """Metadata of every distinct video; with ``cache`` set, also make sure its embeddings are cached.

    ``encoder`` makes the cached tensor (``encode_video``; ``encode_premerger`` with a trainable projector).
    Under torchrun, rank r decodes and encodes videos r, r+W, ... and the ranks then read each other's entries
    from the shared cache (a barrier separates the two). Without a cache every rank decodes every video once.

    Raises:
        lvr1kit.video.VideoError: a video is missing or unreadable (the message names it).
    """
    rank, world = _dist_info()
    unique = sorted(set(videos))
    root = Path(videos_dir)
    if cache is None:
        return {v: VideoMeta.from_inputs(load_video_inputs(root / v, video_cfg, settings)) for v in unique}
    if model is None or weights_version is None:
        raise ValueError("prepare_videos with a cache needs the model and its vision weights version")
    keys = {v: cache.key(root / v, video_cfg, settings, weights_version) for v in unique}
    encoded = 0
    for i, video in enumerate(unique):
        if i % world != rank or keys[video] in cache:
            continue
        inputs = load_video_inputs(root / video, video_cfg, settings)
        cache.put(keys[video], encoder(model, inputs), meta=VideoMeta.from_inputs(inputs).to_meta())
        encoded += 1
    if world > 1:
        torch.distributed.barrier()
    log.info("video cache: %d of %d videos encoded by rank %d", encoded, len(unique), rank)
    metas = {}
    for video in unique:
        meta = cache.meta(keys[video])
        if meta is None:
            raise RuntimeError(f"cache entry of {video} missing after encoding; is {cache.root} shared by all ranks?")
        metas[video] = VideoMeta.from_meta(meta, keys[video])
    return metas


class SFTDataset(Dataset[dict[str, Any]]):
    """Records -> training items; prompts are tokenised once, video tensors are read when an item is taken.

    Each item is a dict with the :class:`SFTExample` fields and either ``video_embeds`` ``[L, N, D]`` (when the
    metadata carries cache keys) or ``pixel_values_videos`` (decoded from the file each time).
    """

    def __init__(
        self,
        records: Sequence[QARecord],
        tokenizer: PreTrainedTokenizerBase,
        metas: dict[str, VideoMeta],
        *,
        videos_dir: str | os.PathLike[str],
        video_cfg: VideoConfig,
        settings: VideoSettings,
        max_prompt_tokens: int,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.videos_dir = Path(videos_dir)
        self.video_cfg = video_cfg
        self.settings = settings
        self.cache = cache
        self.metas = metas
        self.examples = []
        for record in records:
            if not record.reasoning.strip():
                raise ValueError(f"record {record.problem_id} has no reasoning; CoT-SFT needs a reasoning chain")
            prompt = build_question_prompt(
                tokenizer, record.problem, metas[record.videos].as_video_inputs(), max_prompt_tokens=max_prompt_tokens
            )
            target = build_target_ids(tokenizer, record.reasoning, record.answer_letter)
            self.examples.append(build_sft_example(prompt, target, record.videos))

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ex = self.examples[index]
        item: dict[str, Any] = {
            "input_ids": ex.input_ids,
            "labels": ex.labels,
            "mm_token_type_ids": ex.mm_token_type_ids,
            "video_grid_thw": ex.video_grid_thw,
            "second_per_grid_ts": ex.second_per_grid_ts,
        }
        key = self.metas[ex.video_key].cache_key
        if key is not None and self.cache is not None:
            embeds = self.cache.get(key)
            if embeds is None:
                raise RuntimeError(f"cache entry {key} of {ex.video_key} vanished from {self.cache.root}")
            item["video_embeds"] = embeds
        else:
            video = load_video_inputs(self.videos_dir / ex.video_key, self.video_cfg, self.settings)
            item["pixel_values_videos"] = video.pixel_values_videos
        return item


@dataclass
class SFTCollator:
    """Right-pad a list of :class:`SFTDataset` items into one batch the SFT trainer understands."""

    pad_token_id: int

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        length = max(int(it["input_ids"].shape[0]) for it in items)

        def pad(key: str, value: int) -> torch.Tensor:
            return torch.stack([F.pad(it[key], (0, length - it[key].shape[0]), value=value) for it in items])

        batch: dict[str, Any] = {
            "input_ids": pad("input_ids", self.pad_token_id),
            "labels": pad("labels", IGNORE_INDEX),
            "attention_mask": torch.stack(
                [F.pad(torch.ones_like(it["input_ids"]), (0, length - it["input_ids"].shape[0])) for it in items]
            ),
            "mm_token_type_ids": pad("mm_token_type_ids", 0),
            "video_grid_thw": torch.cat([it["video_grid_thw"] for it in items]),
        }
        if all(it.get("second_per_grid_ts") is not None for it in items):
            batch["second_per_grid_ts"] = torch.cat([it["second_per_grid_ts"] for it in items])
        if all("video_embeds" in it for it in items):
            batch["video_embeds"] = [it["video_embeds"] for it in items]
        elif all("pixel_values_videos" in it for it in items):
            batch["pixel_values_videos"] = torch.cat([it["pixel_values_videos"] for it in items])
        else:
            raise ValueError("a batch mixes cached embeddings and pixels; build the dataset with one video source")
        return batch
