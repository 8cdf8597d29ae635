"""One question about one video -> model inputs, driven by the shared config blocks.

SFT, GRPO and eval all turn ``(video path, problem text)`` into inputs through these functions, so frame
sampling, the pixel budget, the prompt template and the token budget can never differ between them.

Contents:
    - ``settings_from_config``: the :class:`VideoSettings` a ``ModelConfig`` asks for.
    - ``load_video_inputs``: sample frames per ``VideoConfig`` and preprocess them for the model family.
    - ``build_question_prompt``: the reasoning prompt for a ``problem`` (question + lettered options), tokenised
      with the video placeholders expanded; raises :class:`PromptBudgetError` rather than truncating.
"""

from __future__ import annotations

import os
from typing import Any

from lvr1kit.config import ModelConfig, VideoConfig
from lvr1kit.models.preprocess import (
    PromptInputs,
    VideoInputs,
    VideoSettings,
    build_prompt_inputs,
    build_video_inputs,
    video_settings,
)
from lvr1kit.models.prompt import build_messages, prompt_version_of, render_prompt
from lvr1kit.video import sample_frames

__all__ = ["build_question_prompt", "load_video_inputs", "settings_from_config"]


def settings_from_config(model: ModelConfig, family: str | None = None) -> VideoSettings:
    """Preprocessing settings of ``model`` (``family`` overrides ``model.family``, e.g. the detected one)."""
    return video_settings(
        family or model.family, min_pixels=model.min_pixels, max_pixels=model.max_pixels, max_frames=model.max_frames
    )


def load_video_inputs(path: str | os.PathLike[str], video: VideoConfig, settings: VideoSettings) -> VideoInputs:
    """Sample a video's frames as ``video`` says and turn them into the family's pixel patches.

    Raises:
        lvr1kit.video.VideoError: the file is missing or unreadable (the message names it).
    """
    sampled = sample_frames(path, **video.sampler_kwargs())
    return build_video_inputs(sampled.frames, sampled.timestamps_s, settings)


def build_question_prompt(tokenizer: Any, problem: str, video: VideoInputs, *, max_prompt_tokens: int) -> PromptInputs:
    """Tokenised reasoning prompt for one question and its video, in the template the tokenizer declares."""
    text = render_prompt(tokenizer, build_messages(problem, version=prompt_version_of(tokenizer)))
    return build_prompt_inputs(tokenizer, text, video, max_prompt_tokens=max_prompt_tokens)
