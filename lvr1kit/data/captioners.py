"""Clip captioners: the ``Captioner`` interface, an oracle for the synthetic world and a local-VLM captioner.

Contents:
    - ``VideoItem``: one input video (absolute path, path relative to the video folder, position in the list).
    - ``CaptionError``: a video cannot be captioned (no event log, undecodable frames); the run records it and goes on.
    - ``Captioner``: protocol: ``caption(video, clips) -> one caption per clip``.
    - ``OracleCaptioner``: natural-language captions from a synthetic video's ground-truth event log.
    - ``VLMCaptioner``: runs a local HF Qwen-VL checkpoint (the tiny model on CPU, a 7B on GPU) on each clip's
      frames, ``caption.batch_size`` clips per ``generate`` call.
    - ``build_captioner``: the captioner a :class:`~lvr1kit.config.DataGenConfig` asks for.
    - ``build_timeline``: clips + captions -> :class:`~lvr1kit.data.schema.Timeline`.

Deviations from the paper:
1. Clip files are optional (``caption.write_clips``): the VLM reads each clip's frames from the source video with
   ``per_clip`` sampling, which gives the same frames without re-encoding hours of video.
2. Clip start times come from :func:`lvr1kit.video.split_clips` (seconds), never rescaled (the published
   timeline merge multiplied them by 10, PAPER.md §11 hazard 8).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

import numpy as np

from lvr1kit.config import DataGenConfig
from lvr1kit.data.schema import Segment, Timeline, format_timestamp
from lvr1kit.video import Clip, VideoError, sample_frames

__all__ = [
    "CaptionError",
    "Captioner",
    "OracleCaptioner",
    "VLMCaptioner",
    "VideoItem",
    "build_captioner",
    "build_timeline",
]

logger = logging.getLogger(__name__)


class CaptionError(RuntimeError):
    """One video cannot be captioned; the message names the file and what to do."""


@dataclass(frozen=True)
class VideoItem:
    """One input video."""

    path: Path
    """Absolute path."""
    rel: str
    """Path relative to the video folder (the records' ``videos`` field)."""
    index: int
    """Position in the sorted input list (deals question categories; decides the shard)."""

    @property
    def key(self) -> str:
        """File-name-safe id of the video, used for its work-unit files."""
        return self.rel.rsplit(".", 1)[0].replace("/", "__")

    @property
    def events_path(self) -> Path:
        """The synthetic world's event log next to the video (``world_00003.events.jsonl``)."""
        return self.path.with_name(self.path.name.rsplit(".", 1)[0] + ".events.jsonl")


class Captioner(Protocol):
    """Writes one caption per clip of a video."""

    name: str

    @property
    def model_name(self) -> str | None:
        """The captioning model's name, ``None`` for captioners without a model."""
        ...

    def caption(self, video: VideoItem, clips: Sequence[Clip]) -> list[str]:
        """One caption per clip, in clip order.

        Raises:
            CaptionError: The video cannot be captioned.
        """
        ...


class OracleCaptioner:
    """Captions from a synthetic video's event log: where everyone is at the clip's start, then what happens."""

    name = "oracle"
    model_name: str | None = None

    def caption(self, video: VideoItem, clips: Sequence[Clip]) -> list[str]:
        """One caption per clip from ``video.events_path``."""
        from lvr1kit.data.qa_templates import WorldFacts

        if not video.events_path.is_file():
            raise CaptionError(
                f"{video.path}: no event log {video.events_path.name} beside it; the oracle captioner only works on "
                "synthetic videos (set caption.captioner=vlm for real videos)"
            )
        world = WorldFacts.load(video.events_path)
        step_s = float(world.header["step_seconds"])
        captions = []
        for clip in clips:
            step = min(int(clip.start_s // step_s), len(world.states) - 1)
            state = world.states[step]
            where = [f"{world.name(a['agent'])} is in {a['zone']}" for a in state["agents"] if a["present"]]
            items = [
                f"the {world.item_name(i['item'])} is "
                + (f"carried by {world.name(i['holder'])}" if i["holder"] else f"on the ground in {i['zone']}")
                for i in state["items"]
                if i["zone"]
            ]
            happened = [
                f"At {format_timestamp(e['start_s'])} {e['text']}."
                for e in world.events
                if clip.start_s <= e["start_s"] < clip.end_s and e["kind"] != "item_placed"
            ]
            scene = "; ".join(where + items)
            captions.append(" ".join([f"{scene[:1].upper()}{scene[1:]}.", *happened]))
        return captions


class VLMCaptioner:
    """Captions each clip with a local Qwen-VL checkpoint, ``batch_size`` clips per ``generate`` call."""

    name = "vlm"

    def __init__(self, cfg: DataGenConfig) -> None:
        from lvr1kit.models import load_model, video_settings

        model_cfg = cfg.caption.model
        if not model_cfg.path:
            raise CaptionError("caption.model.path is not set; point it at a local Qwen-VL checkpoint folder")
        self.cfg = cfg
        self.loaded = load_model(
            model_cfg.path,
            dtype=model_cfg.dtype,
            device=model_cfg.device,
            attn_implementation=model_cfg.attn_implementation,
        )
        self.settings = video_settings(
            self.loaded.family,
            min_pixels=model_cfg.min_pixels,
            max_pixels=model_cfg.max_pixels,
            max_frames=model_cfg.max_frames,
        )
        self.model_name = str(model_cfg.path)
        self.calls = 0
        """``generate`` calls made (tests check the batching)."""

    def _prompt(self) -> str:
        from lvr1kit.models import render_prompt

        messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": self.cfg.caption.prompt}]}]
        return render_prompt(self.loaded.tokenizer, messages)

    def caption(self, video: VideoItem, clips: Sequence[Clip]) -> list[str]:
        """Sample ``caption.frames_per_clip`` frames per clip and caption the clips in batches."""
        import torch

        from lvr1kit.models import build_prompt_inputs, build_video_inputs, collate_prompts, generate

        video_cfg = self.cfg.video
        try:
            sampled = sample_frames(
                video.path,
                "per_clip",
                clip_seconds=video_cfg.clip_seconds,
                frames_per_clip=self.cfg.caption.frames_per_clip,
                height=video_cfg.height,
                width=video_cfg.width,
                backend=video_cfg.backend,
            )
        except VideoError as err:
            raise CaptionError(str(err)) from err
        prompt_text = self._prompt()
        tokenizer = self.loaded.tokenizer
        captions = [""] * len(clips)
        todo = [k for k in range(len(clips)) if np.any(sampled.clip_ids == k)]
        for start in range(0, len(todo), self.cfg.caption.batch_size):
            chunk = todo[start : start + self.cfg.caption.batch_size]
            videos, prompts = [], []
            for k in chunk:
                mask = sampled.clip_ids == k
                inputs = build_video_inputs(sampled.frames[mask], sampled.timestamps_s[mask].tolist(), self.settings)
                videos.append(inputs)
                prompts.append(
                    build_prompt_inputs(
                        tokenizer, prompt_text, inputs, max_prompt_tokens=self.cfg.caption.model.max_prompt_tokens
                    )
                )
            batch = collate_prompts(prompts, pad_token_id=int(tokenizer.pad_token_id))
            out = generate(
                self.loaded.model,
                batch,
                banned_token_ids=self.loaded.placeholder_token_ids,
                pixel_values_videos=torch.cat([v.pixel_values_videos for v in videos]),
                max_new_tokens=self.cfg.caption.max_new_tokens,
            )
            self.calls += 1
            for k, ids in zip(chunk, out, strict=True):
                # one sequence decodes to a str; transformers annotates decode for batches too (str | list[str])
                captions[k] = cast(str, tokenizer.decode(ids, skip_special_tokens=True)).strip()
        return captions


def build_captioner(cfg: DataGenConfig) -> Captioner:
    """The captioner named by ``cfg.caption.captioner`` (the VLM is loaded here, once per run)."""
    if cfg.caption.captioner == "oracle":
        return OracleCaptioner()
    return VLMCaptioner(cfg)


def build_timeline(
    video: VideoItem, duration_s: float, clips: Sequence[Clip], captions: Sequence[str], captioner: Captioner,
    clip_seconds: float,
) -> Timeline:  # fmt: skip
    """A video's timeline: one segment per clip, with the clip's own start and end in seconds."""
    if len(captions) != len(clips):
        raise CaptionError(f"{video.path}: {len(captions)} captions for {len(clips)} clips")
    return Timeline(
        video=video.rel,
        duration_s=duration_s,
        clip_seconds=clip_seconds,
        captioner=captioner.name,
        captioner_model=captioner.model_name,
        segments=[Segment(start_s=c.start_s, end_s=c.end_s, caption=t) for c, t in zip(clips, captions, strict=True)],
    )
