"""The reasoning prompt: exact Long-RL wording, question layout, messages and chat rendering."""

from __future__ import annotations

import pytest

from lvr1kit.models import (
    PROMPT_VERSION,
    QUESTION_TEMPLATE_VIDEO,
    build_messages,
    format_question,
    format_reasoning_prompt,
    format_target,
)

LONG_RL = (
    "You are a helpful assistant. The user asks a question, and then you solves it.\n\nPlease first think deeply "
    "about the question based on the given video, and then provide the final answer. The reasoning process and "
    "answer are enclosed within <think> </think> and <answer> </answer> tags, respectively, i.e., <think> "
    "reasoning process here </think> <answer> the letter of your choice (A, B, C, or D) </answer>.\n\n Question: "
    "{question}"
)


def test_template_matches_long_rl_wording() -> None:
    assert QUESTION_TEMPLATE_VIDEO == LONG_RL
    assert PROMPT_VERSION


def test_format_question_letters_options() -> None:
    text = format_question(" Who left first? ", ["red", "blue", "green", "grey"])
    assert text == "Who left first?\nA. red\nB. blue\nC. green\nD. grey"
    assert format_reasoning_prompt(text).endswith(" Question: Who left first?\nA. red\nB. blue\nC. green\nD. grey")


@pytest.mark.parametrize("options", [["a", " "], [str(i) for i in range(11)]])
def test_format_question_rejects_bad_options(options: list[str]) -> None:
    with pytest.raises(ValueError):
        format_question("q?", options)


def test_messages_put_video_before_instruction(tiny_models) -> None:
    messages = build_messages(format_question("Where?", ["NW", "NE"]), video="v.mp4")
    content = messages[0]["content"]
    assert [c["type"] for c in content] == ["video", "text"]
    text = tiny_models["qwen2_5_vl"].tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.count("<|video_pad|>") == 1
    assert text.index("<|vision_start|><|video_pad|><|vision_end|>") < text.index("You are a helpful assistant. The")
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
    assert text.endswith("D) </answer>.\n\n Question: Where?\nA. NW\nB. NE<|im_end|>\n<|im_start|>assistant\n")


def test_target_format_survives_decoding(tiny_models) -> None:
    tokenizer = tiny_models["qwen2_5_vl"].tokenizer
    target = format_target("At 00:12 the red star is in NW.", "A")
    ids = tokenizer(target + "<|im_end|>", add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == target
