"""In-process checks of the SP entry points: config validation, the SP-size-1 path, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvr1kit.models import (
    build_messages,
    build_prompt_inputs,
    build_tiny_config,
    build_tiny_model,
    build_tokenizer,
    build_video_inputs,
    collate_prompts,
    compute_logprobs,
    encode_video,
    format_question,
    video_settings,
)
from lvr1kit.models.tiny import TINY_PRESETS
from lvr1kit.mrsp.dist import SPGroup
from lvr1kit.mrsp.encode import encode_video_shard, frame_shares
from lvr1kit.mrsp.sp import enable_ulysses, sp_compute_logprobs, validate_sp


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = build_tiny_model("qwen2_5_vl", "tiny", seed=0)
    rng = np.random.default_rng(0)
    text = tokenizer.apply_chat_template(
        build_messages(format_question("Which zone?", ["NW", "NE"])), tokenize=False, add_generation_prompt=True
    )
    frames = rng.integers(0, 256, (6, 56, 56, 3), dtype=np.uint8)
    video = build_video_inputs(frames, [0, 1, 2, 3, 4, 5], video_settings())
    prompt = build_prompt_inputs(tokenizer, text, video, max_prompt_tokens=512)
    batch = collate_prompts([prompt], tokenizer.pad_token_id)
    response = torch.tensor([[11, 12, 13]])
    return model, video, batch, response


def test_validate_sp_names_key_and_fix() -> None:
    config = build_tiny_config("qwen2_5_vl", TINY_PRESETS["tiny"], build_tokenizer(vocab_size=512, seed=0))
    validate_sp(config, 2, num_frames=8)
    validate_sp(config, 4, num_frames=8)  # 2 KV heads < 4 ranks: replicated, allowed
    with pytest.raises(ValueError) as err:
        validate_sp(config, 3, num_frames=4, micro_batch_size=0)
    text = str(err.value)
    assert "mrsp.sp_size=3" in text and "num_attention_heads=4" in text and "1, 2, 4" in text
    assert "video.num_frames=4" in text and "micro-batch" in text
    with pytest.raises(ValueError, match="at least 8 frames"):
        validate_sp(config.to_dict(), 4, num_frames=6)


def test_sp_size_1_is_compute_logprobs_and_ulysses_falls_back_to_sdpa(tiny) -> None:
    model, video, batch, response = tiny
    embeds = [encode_video(model, video)]
    with torch.no_grad():
        expected = compute_logprobs(model, batch, response, video_embeds=embeds)
        enable_ulysses(model)
        try:
            fallback = compute_logprobs(model, batch, response, video_embeds=embeds)
            got = sp_compute_logprobs(model, batch, response, video_embeds=embeds, sp_group=SPGroup(0, 1))
        finally:
            model.config.text_config._attn_implementation = "sdpa"
    torch.testing.assert_close(fallback, expected, rtol=0, atol=0)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_sp_requires_ulysses_attention(tiny) -> None:
    model, video, batch, response = tiny
    with pytest.raises(ValueError, match="enable_ulysses"):
        sp_compute_logprobs(model, batch, response, video_embeds=[encode_video(model, video)], sp_group=SPGroup(0, 2))


def test_frame_shares_and_local_shard(tiny) -> None:
    model, video, *_ = tiny
    assert frame_shares(3, 2) == [(0, 2), (2, 3)] and frame_shares(1, 2) == [(0, 1), (1, 1)]
    full = encode_video(model, video)  # 3 temporal patches of 4 tokens
    first = encode_video_shard(model, video, SPGroup(0, 2), encode_chunk_frames=2)
    second = encode_video_shard(model, video, SPGroup(1, 2), encode_chunk_frames=64)
    assert torch.equal(torch.cat([first, second], dim=1), full)
    with pytest.raises(ValueError, match="encode_chunk_frames=3"):
        encode_video_shard(model, video, SPGroup(0, 2), encode_chunk_frames=3)
