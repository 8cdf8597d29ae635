"""Rollout engines: shapes, finish reasons, banned placeholders, cached embeddings vs pixels, prompt embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lvr1kit.config import VideoConfig
from lvr1kit.models import encode_video, load_model
from lvr1kit.models.examples import build_question_prompt, load_video_inputs, settings_from_config
from lvr1kit.rl.rollout import HFRolloutEngine, RolloutRequest, SamplingSettings, VLLMRolloutEngine, build_prompt_embeds


@pytest.fixture(scope="module")
def setup(rl_paths: dict[str, Path]):  # type: ignore[no-untyped-def]
    loaded = load_model(rl_paths["model"])
    from lvr1kit.config import ModelConfig

    video = load_video_inputs(
        next(rl_paths["videos"].glob("*.mp4")), VideoConfig(num_frames=8), settings_from_config(ModelConfig())
    )
    prompt = build_question_prompt(loaded.tokenizer, "Where?\nA. NW\nB. NE", video, max_prompt_tokens=4096)
    eos = [loaded.tokenizer.eos_token_id]
    engine = HFRolloutEngine(
        loaded.model, banned_token_ids=loaded.placeholder_token_ids, eos_token_ids=eos,
        pad_token_id=loaded.tokenizer.pad_token_id,
    )  # fmt: skip
    return loaded, video, prompt, engine


def test_hf_engine_shapes_finish_reasons_and_banned_tokens(setup) -> None:  # type: ignore[no-untyped-def]
    loaded, video, prompt, engine = setup
    embeds = encode_video(loaded.model, video)
    sampling = SamplingSettings(num_generations=3, max_new_tokens=6, temperature=1.5)
    (group,) = engine.generate([RolloutRequest(prompt, seed=1, video_embeds=embeds)], sampling)
    assert len(group.response_ids) == len(group.sampling_logprobs) == len(group.finish_reasons) == 3
    for ids, lps, reason in zip(group.response_ids, group.sampling_logprobs, group.finish_reasons, strict=True):
        assert len(ids) == len(lps) and 1 <= len(ids) <= 6
        assert reason == ("stop" if ids[-1] in engine.eos_token_ids else "length")
        assert not set(ids) & set(loaded.placeholder_token_ids)
        assert all(lp <= 0 for lp in lps)
    again = engine.generate([RolloutRequest(prompt, seed=1, video_embeds=embeds)], sampling)[0]
    assert again.response_ids == group.response_ids  # the seed fixes the group


def test_greedy_rollout_same_from_embeddings_and_pixels(setup) -> None:  # type: ignore[no-untyped-def]
    loaded, video, prompt, engine = setup
    greedy = SamplingSettings(num_generations=2, max_new_tokens=8, do_sample=False)
    cached = engine.generate([RolloutRequest(prompt, 0, video_embeds=encode_video(loaded.model, video))], greedy)
    pixels = engine.generate([RolloutRequest(prompt, 0, pixel_values_videos=video.pixel_values_videos)], greedy)
    assert cached[0].response_ids == pixels[0].response_ids


def test_prompt_embeds_use_current_table_and_video_embeddings(setup) -> None:  # type: ignore[no-untyped-def]
    loaded, video, prompt, _ = setup
    embeds = encode_video(loaded.model, video)
    out = build_prompt_embeds(loaded.model, prompt, embeds)
    ids = prompt.input_ids[0]
    slots = ids == loaded.video_token_id
    table = loaded.model.get_input_embeddings().weight
    assert torch.equal(out[~slots], table[ids[~slots]])
    assert torch.equal(out[slots], embeds[0])
    with pytest.raises(ValueError, match="placeholders"):
        build_prompt_embeds(loaded.model, prompt, embeds[:, :-1])


def test_vllm_engine_names_the_missing_extra(setup) -> None:  # type: ignore[no-untyped-def]
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="rollout_engine=hf"):
            VLLMRolloutEngine(setup[0].model, "x", banned_token_ids=[1], eos_token_ids=[2], pad_token_id=0)
    else:
        pytest.skip("vllm is installed; the engine itself is exercised on GPU only")
