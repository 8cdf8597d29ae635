"""Video preprocessing: golden patchify values, resize rule, padding, token counts, prompt budget, HF parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lvr1kit.models import (
    PromptBudgetError,
    build_messages,
    build_prompt_inputs,
    build_video_inputs,
    count_video_tokens,
    format_question,
    patchify,
    smart_resize,
    video_settings,
)
from lvr1kit.models.preprocess import CLIP_MEAN, CLIP_STD


def _coded_video(t: int, size: int) -> torch.Tensor:
    """Each value names its own position: t*1e6 + c*1e5 + y*100 + x (exact in float32)."""
    tt, cc, yy, xx = torch.meshgrid(
        torch.arange(t), torch.arange(3), torch.arange(size), torch.arange(size), indexing="ij"
    )
    return (tt * 1_000_000 + cc * 100_000 + yy * 100 + xx).float()


def test_patchify_golden_two_frames_28px() -> None:
    # 2 frames of 28x28, patch 14: one temporal patch, 2x2 patches = one merge block, rows in raster order.
    patches = patchify(_coded_video(2, 28), patch_size=14, temporal_patch_size=2, merge_size=2)
    assert patches.shape == (4, 3 * 2 * 14 * 14)
    # row 1 is the patch at (row 0, col 1); a row is laid out as [channel][frame][14 y][14 x].
    index = 2 * (2 * 196) + 1 * 196 + 3 * 14 + 5  # channel 2, frame 1, y 3, x 5 within the patch
    assert patches[1, index].item() == 1_000_000 + 200_000 + 3 * 100 + (14 + 5)
    assert patches[2, 0].item() == 14 * 100  # row 2: patch (1, 0), first pixel at y=14, x=0
    assert patches[3, -1].item() == 1_000_000 + 200_000 + 27 * 100 + 27  # last value: frame 1, c 2, y 27, x 27


def test_patchify_golden_merge_blocks_56px() -> None:
    # 4x4 patches form 2x2 merge blocks; rows run block by block: (0,0) (0,1) (1,0) (1,1), then block (0,1).
    patches = patchify(_coded_video(2, 56), patch_size=14, temporal_patch_size=2, merge_size=2)
    firsts = [int(v) for v in patches[:, 0].tolist()]
    origin = [(y * 100 + x) for y, x in [(0, 0), (0, 14), (14, 0), (14, 14), (0, 28), (0, 42), (14, 28), (14, 42)]]
    assert firsts[:8] == origin
    assert firsts[8] == 28 * 100  # third block starts the second block row


def test_normalisation_uses_clip_mean_std() -> None:
    frames = np.full((2, 28, 28, 3), 255, dtype=np.uint8)
    video = build_video_inputs(frames, [0.0, 1.0], video_settings("qwen2_5_vl", min_pixels=28 * 28))
    expected = [(1 - m) / s for m, s in zip(CLIP_MEAN, CLIP_STD, strict=True)]
    row = video.pixel_values_videos[0].view(3, -1)
    torch.testing.assert_close(row[:, 0], torch.tensor(expected))
    assert video.video_grid_thw.tolist() == [[1, 2, 2]] and video.num_video_tokens == 1


def test_odd_frames_repeat_last(random_frames: np.ndarray) -> None:
    video = build_video_inputs(random_frames, [float(i) for i in range(7)], video_settings("qwen2_5_vl"))
    assert video.video_grid_thw.tolist() == [[4, 4, 4]]
    assert video.timestamps_s[-2:] == (6.0, 6.0) and video.num_input_frames == 7
    last = video.pixel_values_videos.view(4, 16, 3, 2, 196)[-1]  # temporal patch 3: frame 6 and its copy
    torch.testing.assert_close(last[:, :, 0], last[:, :, 1])


def test_smart_resize_rules() -> None:
    assert smart_resize(56, 56, factor=28, min_pixels=3136, max_pixels=602112) == (56, 56)
    assert smart_resize(30, 70, factor=28, min_pixels=3136, max_pixels=602112) == (56, 112)  # grown to min
    h, w = smart_resize(1080, 1920, factor=28, min_pixels=3136, max_pixels=448 * 448)
    assert h % 28 == 0 and w % 28 == 0 and h * w <= 448 * 448


def test_resize_shrinks_frames() -> None:
    frames = np.zeros((2, 120, 200, 3), dtype=np.uint8)
    video = build_video_inputs(frames, [0.0, 0.5], video_settings("qwen2_5_vl", max_pixels=56 * 84))
    assert (video.frame_height, video.frame_width) == (28, 84)  # sides floored to 28 under the budget


@pytest.mark.parametrize(("num_frames", "tokens"), [(64, 128), (256, 512), (1024, 2048)])
def test_token_counts_56px(num_frames: int, tokens: int) -> None:
    # 56x56 frames: 2x2 merged tokens per temporal patch of 2 frames.
    for family in ("qwen2_5_vl", "qwen3_vl"):
        assert count_video_tokens(num_frames, 56, 56, video_settings(family)) == tokens


def test_token_counts_448px_qwen2_5() -> None:
    settings = video_settings("qwen2_5_vl")
    assert [count_video_tokens(n, 448, 448, settings) for n in (64, 256, 1024)] == [8192, 32768, 131072]


def test_input_errors(random_frames: np.ndarray) -> None:
    with pytest.raises(ValueError, match="max_frames"):
        build_video_inputs(random_frames, list(range(7)), video_settings(max_frames=4))
    with pytest.raises(ValueError, match="timestamps"):
        build_video_inputs(random_frames, [0.0], video_settings())
    with pytest.raises(ValueError, match="uint8"):
        build_video_inputs(random_frames.astype(np.float32), list(range(7)), video_settings())


def _prompt(tokenizer) -> str:
    messages = build_messages(format_question("Where is the star?", ["NW", "NE", "SW", "SE"]))
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def test_prompt_expansion_qwen2_5(tiny_models, random_frames: np.ndarray) -> None:
    loaded = tiny_models["qwen2_5_vl"]
    video = build_video_inputs(random_frames, [i * 2.0 for i in range(7)], video_settings("qwen2_5_vl"))
    inputs = build_prompt_inputs(loaded.tokenizer, _prompt(loaded.tokenizer), video, max_prompt_tokens=512)
    ids = inputs.input_ids[0]
    assert int((ids == loaded.video_token_id).sum()) == inputs.num_video_tokens == 16
    assert torch.equal(inputs.mm_token_type_ids[0] == 2, ids == loaded.video_token_id)
    assert inputs.num_tokens == ids.numel()
    assert inputs.second_per_grid_ts.tolist() == [4.0]  # two frames 2 s apart per temporal patch


def test_prompt_expansion_qwen3_has_timestamps(tiny_models, random_frames: np.ndarray) -> None:
    loaded = tiny_models["qwen3_vl"]
    video = build_video_inputs(random_frames, [i * 0.5 for i in range(7)], video_settings("qwen3_vl"))
    inputs = build_prompt_inputs(loaded.tokenizer, _prompt(loaded.tokenizer), video, max_prompt_tokens=512)
    text = loaded.tokenizer.decode(inputs.input_ids[0])
    assert "<0.2 seconds><|vision_start|><|video_pad|>" in text and "<3.0 seconds>" in text
    assert text.count("<|vision_start|>") == 1 + 4  # the template's own, then one per temporal patch
    assert inputs.num_video_tokens == 16 and inputs.second_per_grid_ts is None


def test_prompt_over_budget_raises_with_numbers(tiny_models) -> None:
    loaded = tiny_models["qwen2_5_vl"]
    frames = np.zeros((1024, 56, 56, 3), dtype=np.uint8)
    video = build_video_inputs(frames, [float(i) for i in range(1024)], video_settings("qwen2_5_vl"))
    with pytest.raises(PromptBudgetError, match=r"video needs 2048 tokens .* > max_prompt_tokens=512; lower frames"):
        build_prompt_inputs(loaded.tokenizer, _prompt(loaded.tokenizer), video, max_prompt_tokens=512)


def test_parity_with_hf_video_processor(random_frames: np.ndarray) -> None:
    """Our pixels equal transformers' own Qwen2-VL video processor (needs torchvision; skipped without it)."""
    pytest.importorskip("torchvision")
    from transformers import Qwen2VLVideoProcessor

    frames = np.random.default_rng(1).integers(0, 256, (8, 90, 130, 3), dtype=np.uint8)
    settings = video_settings("qwen2_5_vl", min_pixels=56 * 56, max_pixels=112 * 112)
    ours = build_video_inputs(frames, [float(i) for i in range(8)], settings)
    hf = Qwen2VLVideoProcessor(min_pixels=56 * 56, max_pixels=112 * 112)
    out = hf(videos=[frames], return_tensors="pt", cap_pixels_per_frame=False, do_sample_frames=False)
    assert out["video_grid_thw"].tolist() == ours.video_grid_thw.tolist()
    torch.testing.assert_close(ours.pixel_values_videos, out["pixel_values_videos"], atol=1e-5, rtol=0)
