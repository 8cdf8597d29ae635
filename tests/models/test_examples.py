"""Question + video -> model inputs through the shared config blocks (the path SFT, GRPO and eval share)."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from lvr1kit.config import ModelConfig, VideoConfig
from lvr1kit.models import (
    COMPACT_PROMPT_VERSION,
    PROMPT_VERSION,
    LoadedModel,
    PromptBudgetError,
    build_tokenizer,
    count_video_tokens,
    format_question,
    format_reasoning_prompt,
    prompt_version_of,
)
from lvr1kit.models.examples import build_question_prompt, load_video_inputs, settings_from_config
from lvr1kit.video import VideoError
from lvr1kit.video.synth import WorldConfig, generate_world


@pytest.fixture(scope="module")
def world_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    return generate_world(out, 1, WorldConfig(video_minutes=2.0), progress=False)[0].video_path


def test_video_and_prompt_follow_the_config(world_video: Path, tiny_models: dict[str, LoadedModel]) -> None:
    loaded = tiny_models["qwen2_5_vl"]
    settings = settings_from_config(ModelConfig(max_pixels=56 * 56))
    video = load_video_inputs(world_video, VideoConfig(num_frames=8), settings)
    assert video.num_input_frames == 8 and len(video.timestamps_s) == 8
    expected = count_video_tokens(8, 56, 56, settings)
    problem = format_question("Where is the star at the end?", ["NW", "NE", "SW", "SE"])
    prompt = build_question_prompt(loaded.tokenizer, problem, video, max_prompt_tokens=4096)
    assert prompt.num_video_tokens == expected
    assert int((prompt.input_ids == loaded.video_token_id).sum()) == expected
    assert "Where is the star at the end?" in loaded.tokenizer.decode(prompt.input_ids[0])
    with pytest.raises(PromptBudgetError, match="max_prompt_tokens=40"):
        build_question_prompt(loaded.tokenizer, problem, video, max_prompt_tokens=40)


def test_missing_video_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="nope.mp4"):
        load_video_inputs(tmp_path / "nope.mp4", VideoConfig(), settings_from_config(ModelConfig()))


def test_prompt_template_travels_with_the_tokenizer(
    world_video: Path, tiny_models: dict[str, LoadedModel], tmp_path: Path
) -> None:
    loaded = tiny_models["qwen2_5_vl"]
    assert prompt_version_of(loaded.tokenizer) == COMPACT_PROMPT_VERSION  # tiny tokenizers, saved and reloaded
    video = load_video_inputs(world_video, VideoConfig(num_frames=8), settings_from_config(ModelConfig()))
    problem = format_question("Where is the star at the end?", ["NW", "NE", "SW", "SE"])
    prompt = build_question_prompt(loaded.tokenizer, problem, video, max_prompt_tokens=4096)
    compact = loaded.tokenizer.decode(prompt.input_ids[0])
    assert "<|vision_end|>Question: Where is the star at the end?\nA. NW" in compact
    assert "think deeply" not in compact

    long_rl = build_tokenizer(prompt_version=PROMPT_VERSION)
    long_rl.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert prompt_version_of(reloaded) == PROMPT_VERSION
    full = reloaded.decode(build_question_prompt(reloaded, problem, video, max_prompt_tokens=4096).input_ids[0])
    assert format_reasoning_prompt(problem) in full

    unknown = build_tokenizer(prompt_version="typo-v0")
    with pytest.raises(ValueError, match="unknown prompt version 'typo-v0'.*lvr1_prompt_version"):
        build_question_prompt(unknown, problem, video, max_prompt_tokens=4096)
