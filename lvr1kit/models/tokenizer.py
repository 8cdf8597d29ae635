"""A small byte-level BPE tokenizer for tiny models, built locally and deterministically.

Contents:
    - ``SPECIAL_TOKENS``: every special token the Qwen-VL chat template and vision placeholders need, in the
      order Qwen assigns them (ids follow the BPE vocabulary, as in the real tokenizers).
    - ``REASONING_TOKENS``: ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` as ordinary (non-special)
      added tokens, so ``skip_special_tokens=True`` keeps them in decoded text for the answer parser.
    - ``CHAT_TEMPLATE``: a Jinja chat template with Qwen2.5-VL's layout (default system prompt, ``<|im_start|>``
      turns, ``<|vision_start|><|video_pad|><|vision_end|>`` for a video).
    - ``build_corpus`` / ``build_tokenizer``: the training text and the trained ``PreTrainedTokenizerFast``.

The corpus is generated, not read from the repository, so the tokenizer does not change when the docs do: the
reasoning prompt template, lettered options, digits and timestamps, and the synthetic world's words (zones,
colours, agents, events), shuffled with a seeded generator.
"""

from __future__ import annotations

import logging
import random

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from lvr1kit.models.prompt import (
    COMPACT_PROMPT_VERSION,
    OPTION_LETTERS,
    PROMPT_VERSION_KEY,
    format_question,
    format_reasoning_prompt,
)

logger = logging.getLogger(__name__)

__all__ = ["CHAT_TEMPLATE", "REASONING_TOKENS", "SPECIAL_TOKENS", "build_corpus", "build_tokenizer"]

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
REASONING_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")

# Qwen2.5-VL's template, reduced to what the workbench uses: text, image and video content parts.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content %}{% set image_count.value = image_count.value + 1 %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_ZONES = ("NW", "NE", "SW", "SE", "N", "S", "E", "W", "C", "north", "south", "east", "west", "centre", "zone")
_COLOURS = ("red", "green", "blue", "yellow", "orange", "purple", "cyan", "magenta", "white", "black", "grey")
_AGENTS = ("agent", "agents", "circle", "square", "triangle", "star", "diamond", "cross", "item", "key", "box")
_VERBS = (
    "enters", "leaves", "picks up", "drops", "carries", "moves to", "waits in", "meets", "follows", "returns to",
    "appears", "disappears", "first", "last", "before", "after", "while", "then", "never", "again", "how many",
    "times", "which", "why", "where", "when", "what", "who", "because", "wandering", "searching", "fleeing",
)  # fmt: skip
_REASONING = (
    "At {t} the {c} {a} {v} the {z} zone.",
    "From {t} to {t2} the {c} {a} stays in {z}.",
    "The {c} {a} {v} {z} at {t}, so the answer is {letter}.",
    "Counting the visits: {n} times.",
)


def _timestamp(rng: random.Random) -> str:
    seconds = rng.randrange(0, 3600)
    if rng.random() < 0.5:
        return f"{seconds // 60:02d}:{seconds % 60:02d}"
    return f"{seconds + rng.randrange(10) / 10:.1f}s"


def build_corpus(num_samples: int = 600, seed: int = 0) -> list[str]:
    """Generate the BPE training text: prompts, options, reasoning, answers and timestamps.

    Args:
        num_samples: Number of synthetic question/answer samples.
        seed: Seed of the generator; the same seed gives the same corpus.
    """
    rng = random.Random(seed)
    lines: list[str] = [
        " ".join(map(str, range(0, 1000, 7))),
        " ".join(OPTION_LETTERS),
        "system\nYou are a helpful assistant.\nuser\nassistant\n",
    ]
    for _ in range(num_samples):
        fill = {
            "t": _timestamp(rng),
            "t2": _timestamp(rng),
            "c": rng.choice(_COLOURS),
            "a": rng.choice(_AGENTS),
            "v": rng.choice(_VERBS),
            "z": rng.choice(_ZONES),
            "n": rng.randrange(0, 10),
            "letter": rng.choice(OPTION_LETTERS[:4]),
        }
        question = f"Which zone does the {fill['c']} {fill['a']} {fill['v']} {rng.choice(_VERBS)} {fill['t']}?"
        options = [f"{rng.choice(_ZONES)} {rng.choice(_COLOURS)}" for _ in range(4)]
        lines.append(format_reasoning_prompt(format_question(question, options)))
        think = " ".join(rng.choice(_REASONING).format(**fill) for _ in range(rng.randrange(1, 4)))
        lines.append(f"<think>{think}</think> <answer>{fill['letter']}</answer>")
    return lines


def build_tokenizer(
    vocab_size: int = 512, seed: int = 0, prompt_version: str = COMPACT_PROMPT_VERSION
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on :func:`build_corpus` and wrap it with Qwen's special tokens and chat template.

    Args:
        vocab_size: Size of the BPE vocabulary before the special and reasoning tokens are added.
        seed: Seed of the corpus generator.
        prompt_version: The reasoning prompt the tokenizer declares (saved in ``tokenizer_config.json``); the
            compact one by default, since a model trained from scratch gains nothing from the instruction text.

    Returns:
        A tokenizer whose ``eos_token`` is ``<|im_end|>`` and ``pad_token`` is ``<|endoftext|>`` (as in
        Qwen2.5-VL-Instruct), with ``chat_template`` set.
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(build_corpus(seed=seed), trainer=trainer)
    # Added to the backend first so the ids follow the BPE vocabulary in Qwen's order (<|endoftext|> first).
    bpe.add_special_tokens(list(SPECIAL_TOKENS))
    bpe.add_tokens(list(REASONING_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS),
        chat_template=CHAT_TEMPLATE,
        model_max_length=131072,
        padding_side="left",
        clean_up_tokenization_spaces=False,
        **{PROMPT_VERSION_KEY: prompt_version},
    )
    logger.info("built tokenizer: %d BPE + %d added tokens", bpe.get_vocab_size(), len(tokenizer) - vocab_size)
    return tokenizer
