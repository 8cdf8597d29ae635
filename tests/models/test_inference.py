"""Cached-embedding path equals the pixel path; placeholders are never generated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvr1kit.models import (
    LoadedModel,
    build_messages,
    build_prompt_inputs,
    build_video_inputs,
    collate_prompts,
    compute_logprobs,
    encode_video,
    format_question,
    forward_logits,
    generate,
    load_model,
    video_settings,
)

FAMILIES = ("qwen2_5_vl", "qwen3_vl")


def _batch(loaded: LoadedModel, frame_counts=(7, 12)):
    """Two prompts with videos of different lengths (left padding is exercised)."""
    rng = np.random.default_rng(0)
    settings = video_settings(loaded.family)
    text = loaded.tokenizer.apply_chat_template(
        build_messages(format_question("Which zone?", ["NW", "NE", "SW", "SE"])),
        tokenize=False,
        add_generation_prompt=True,
    )
    videos, prompts = [], []
    for n in frame_counts:
        frames = rng.integers(0, 256, (n, 56, 56, 3), dtype=np.uint8)
        videos.append(build_video_inputs(frames, [i * 1.5 for i in range(n)], settings))
        prompts.append(build_prompt_inputs(loaded.tokenizer, text, videos[-1], max_prompt_tokens=1024))
    batch = collate_prompts(prompts, loaded.tokenizer.pad_token_id)
    return videos, batch


@pytest.mark.parametrize("family", FAMILIES)
def test_encode_video_shape(family: str, tiny_models) -> None:
    loaded = tiny_models[family]
    videos, _ = _batch(loaded)
    embeds = encode_video(loaded.model, videos[0])
    levels = 1 + len(getattr(loaded.model.config.vision_config, "deepstack_visual_indexes", None) or ())
    assert embeds.shape == (levels, videos[0].num_video_tokens, loaded.model.config.text_config.hidden_size)
    assert embeds.device.type == "cpu" and not embeds.requires_grad


@pytest.mark.parametrize("family", FAMILIES)
def test_cached_path_equals_pixel_path(family: str, tiny_models) -> None:
    loaded = tiny_models[family]
    videos, batch = _batch(loaded)
    pixels = torch.cat([v.pixel_values_videos for v in videos])
    embeds = [encode_video(loaded.model, v) for v in videos]
    with torch.no_grad():
        from_pixels = forward_logits(loaded.model, batch, pixel_values_videos=pixels)
        from_cache = forward_logits(loaded.model, batch, video_embeds=embeds)
    mask = batch["attention_mask"].bool()
    max_diff = (from_pixels - from_cache)[mask].abs().max().item()
    assert max_diff <= 1e-5, max_diff

    kwargs = {"banned_token_ids": loaded.placeholder_token_ids, "max_new_tokens": 12}
    greedy_pixels = generate(loaded.model, batch, pixel_values_videos=pixels, **kwargs)
    greedy_cache = generate(loaded.model, batch, video_embeds=embeds, **kwargs)
    assert torch.equal(greedy_pixels, greedy_cache)

    with torch.no_grad():
        lp_pixels = compute_logprobs(loaded.model, batch, greedy_cache, pixel_values_videos=pixels)
        lp_cache = compute_logprobs(loaded.model, batch, greedy_cache, video_embeds=embeds)
    torch.testing.assert_close(lp_pixels, lp_cache, rtol=0, atol=1e-5)
    # Greedy tokens are the argmax, so their log-probs from a separate forward are the row maxima.
    assert bool((lp_cache <= 0).all())


@pytest.mark.parametrize("family", FAMILIES)
def test_video_changes_the_output(family: str, tiny_models) -> None:
    """The embeddings are really used: another video gives other logits."""
    loaded = tiny_models[family]
    videos, batch = _batch(loaded, frame_counts=(8, 8))
    embeds = [encode_video(loaded.model, v) for v in videos]
    with torch.no_grad():
        a = forward_logits(loaded.model, batch, video_embeds=embeds, logits_to_keep=1)
        b = forward_logits(loaded.model, batch, video_embeds=embeds[::-1], logits_to_keep=1)
    assert not torch.allclose(a[0], b[0])


def test_logprobs_batch_equals_single(tiny_models) -> None:
    loaded = tiny_models["qwen2_5_vl"]
    videos, batch = _batch(loaded)
    embeds = [encode_video(loaded.model, v) for v in videos]
    response = torch.randint(3, 300, (2, 6))
    with torch.no_grad():
        both = compute_logprobs(loaded.model, batch, response, video_embeds=embeds)
        first = {k: v[:1] for k, v in batch.items()}
        keep = first["attention_mask"][0].bool()
        first = {k: (v[:, keep] if v.ndim == 2 and k != "video_grid_thw" else v) for k, v in first.items()}
        alone = compute_logprobs(loaded.model, first, response[:1], video_embeds=embeds[:1])
    torch.testing.assert_close(both[:1], alone, rtol=0, atol=1e-5)


def test_placeholders_never_generated(tiny_dirs) -> None:
    loaded = load_model(tiny_dirs["qwen2_5_vl"])  # a private copy: its lm_head gets rigged
    bonus = torch.zeros(loaded.model.config.text_config.vocab_size)
    bonus[loaded.placeholder_token_ids] = 1e4
    loaded.model.lm_head.register_forward_hook(lambda module, args, out: out + bonus)
    videos, batch = _batch(loaded)
    embeds = [encode_video(loaded.model, v) for v in videos]
    raw = loaded.model.generate(
        **batch, pixel_values_videos=torch.cat([v.pixel_values_videos for v in videos]),
        max_new_tokens=2, do_sample=False,
    )  # fmt: skip
    assert int(raw[0, batch["input_ids"].shape[1]]) in loaded.placeholder_token_ids  # the rig works
    for do_sample in (False, True):
        out = generate(
            loaded.model, batch, video_embeds=embeds, banned_token_ids=loaded.placeholder_token_ids,
            max_new_tokens=8, do_sample=do_sample, seed=0,
        )  # fmt: skip
        assert not torch.isin(out, torch.tensor(loaded.placeholder_token_ids)).any()


def test_generate_requires_banned_ids_and_one_video_source(tiny_models) -> None:
    loaded = tiny_models["qwen2_5_vl"]
    videos, batch = _batch(loaded)
    embeds = [encode_video(loaded.model, v) for v in videos]
    with pytest.raises(ValueError, match="placeholder"):
        generate(loaded.model, batch, video_embeds=embeds, banned_token_ids=[])
    with pytest.raises(ValueError, match="exactly one"):
        forward_logits(loaded.model, batch)


def test_cache_from_other_family_is_rejected(tiny_models) -> None:
    qwen3, qwen25 = tiny_models["qwen3_vl"], tiny_models["qwen2_5_vl"]
    videos, _ = _batch(qwen25)
    wrong = [torch.zeros(1, v.num_video_tokens, qwen3.model.config.text_config.hidden_size) for v in videos]
    _, batch3 = _batch(qwen3)
    with pytest.raises(ValueError, match="re-encode"):
        forward_logits(qwen3.model, batch3, video_embeds=wrong)
