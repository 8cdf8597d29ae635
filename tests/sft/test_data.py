"""Label masking, target tokens and the collator of CoT-SFT, on hand-built and real examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lvr1kit.config import SFTConfig
from lvr1kit.data import read_records
from lvr1kit.models import PromptInputs, build_tokenizer, load_model
from lvr1kit.models.examples import settings_from_config
from lvr1kit.sft.data import IGNORE_INDEX, SFTCollator, SFTDataset, build_sft_example, build_target_ids, prepare_videos
from lvr1kit.sft.trainer import causal_lm_loss


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return build_tokenizer(vocab_size=512, seed=0)


def test_target_is_format_target_plus_im_end(tokenizer) -> None:  # type: ignore[no-untyped-def]
    ids = build_target_ids(tokenizer, " At 00:03 the star is in NW. ", "A")
    assert ids[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    text = tokenizer.decode(ids, skip_special_tokens=False)
    assert text == "<think>At 00:03 the star is in NW.</think> <answer>A</answer><|im_end|>"
    assert tokenizer.convert_ids_to_tokens(ids[:1]) == ["<think>"]


def test_label_masking_hand_built(tokenizer) -> None:  # type: ignore[no-untyped-def]
    video = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    # prompt: 2 text tokens, 3 video placeholders, 2 text tokens (positions 0..6)
    prompt_ids = torch.tensor([[11, 12, video, video, video, 13, 14]])
    prompt = PromptInputs(
        input_ids=prompt_ids,
        attention_mask=torch.ones_like(prompt_ids),
        mm_token_type_ids=(prompt_ids == video).int() * 2,
        video_grid_thw=torch.tensor([[2, 2, 2]]),
        second_per_grid_ts=torch.tensor([1.0]),
        num_video_tokens=3,
        num_text_tokens=4,
    )
    target = build_target_ids(tokenizer, "x", "B")
    ex = build_sft_example(prompt, target)
    n = len(target)
    assert ex.input_ids.tolist() == prompt_ids[0].tolist() + target
    # positions 0..6 (text, video placeholders, text) carry no label; 7..7+n-1 carry exactly the target
    assert [i for i, label in enumerate(ex.labels.tolist()) if label != IGNORE_INDEX] == list(range(7, 7 + n))
    assert ex.labels[7:].tolist() == target
    assert ex.mm_token_type_ids.tolist() == [0, 0, 2, 2, 2, 0, 0] + [0] * n
    # after the causal shift, the logits at positions 6..6+n-1 are scored: the last prompt token predicts
    # "<think>", and the token before <|im_end|> predicts it; no other position gets a gradient
    batch = SFTCollator(pad_token_id=0)([_item(ex), _item(build_sft_example(prompt, target[:3]))])
    logits = torch.zeros(2, batch["input_ids"].shape[1], 600, requires_grad=True)
    loss = causal_lm_loss({"logits": logits}, batch["labels"])
    loss.backward()
    scored = (logits.grad.abs().sum(-1) > 0).nonzero().tolist()  # type: ignore[union-attr]
    assert scored == [[0, p] for p in range(6, 6 + n)] + [[1, p] for p in range(6, 9)]
    assert loss.item() == pytest.approx(torch.log(torch.tensor(600.0)).item(), rel=1e-6)


def _item(ex):  # type: ignore[no-untyped-def]
    return {
        "input_ids": ex.input_ids,
        "labels": ex.labels,
        "mm_token_type_ids": ex.mm_token_type_ids,
        "video_grid_thw": ex.video_grid_thw,
        "second_per_grid_ts": ex.second_per_grid_ts,
        "pixel_values_videos": torch.zeros(1, 4),
    }


def test_collator_right_pads(tokenizer) -> None:  # type: ignore[no-untyped-def]
    prompt_ids = torch.tensor([[11, 12, 13]])
    prompt = PromptInputs(
        prompt_ids, torch.ones_like(prompt_ids), torch.zeros_like(prompt_ids), torch.tensor([[2, 2, 2]]), None, 0, 3
    )
    long, short = build_sft_example(prompt, [5, 6, 7]), build_sft_example(prompt, [5])
    batch = SFTCollator(pad_token_id=99)([_item(long), _item(short)])
    assert batch["input_ids"][1].tolist() == [11, 12, 13, 5, 99, 99]
    assert batch["labels"][1].tolist() == [IGNORE_INDEX] * 3 + [5, IGNORE_INDEX, IGNORE_INDEX]
    assert batch["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 1, 0, 0]]
    assert "second_per_grid_ts" not in batch and batch["pixel_values_videos"].shape == (2, 4)


def test_real_example_masks_prompt_and_video(sft_cfg: SFTConfig, sft_data: Path, tiny_model_dir: Path) -> None:
    loaded = load_model(tiny_model_dir)
    records = read_records(sft_data / "dataset" / "sft.jsonl")[:2]
    settings = settings_from_config(sft_cfg.model, loaded.family)
    metas = prepare_videos([r.videos for r in records], sft_data / "world", sft_cfg.video, settings)
    dataset = SFTDataset(
        records, loaded.tokenizer, metas, videos_dir=sft_data / "world", video_cfg=sft_cfg.video,
        settings=settings, max_prompt_tokens=sft_cfg.model.max_prompt_tokens,
    )  # fmt: skip
    item = dataset[0]
    target = build_target_ids(loaded.tokenizer, records[0].reasoning, records[0].answer_letter)
    carried = item["labels"] != IGNORE_INDEX
    assert int(carried.sum()) == len(target) and item["labels"][carried].tolist() == target
    assert not carried[item["mm_token_type_ids"] == 2].any()
    assert int((item["mm_token_type_ids"] == 2).sum()) == 64  # 32 frames at 56x56 -> 16 x 2 x 2 merged tokens
    assert item["pixel_values_videos"].shape[0] == 64 * 4
