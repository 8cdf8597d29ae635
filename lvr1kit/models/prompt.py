"""The one reasoning prompt template, shared by CoT-SFT, GRPO and eval.

Contents:
    - ``PROMPT_VERSION``: the default template's version; bump a version whenever a single character of its
      template or the question layout changes; runs and scores record it so they are compared under one wording.
    - ``PROMPT_TEMPLATES``: version -> instruction template. ``COMPACT_PROMPT_VERSION`` drops the instruction
      (``Question: {question}``): a model trained from scratch learns nothing from it, and on the tiny CPU models
      it was ~100 of ~350 tokens per SFT sample, i.e. a quarter of every forward and backward pass.
    - ``prompt_version_of``: the version a tokenizer declares (``lvr1_prompt_version`` in its
      ``tokenizer_config.json``, like its chat template) or ``PROMPT_VERSION``; so the template travels with the
      checkpoint and SFT, GRPO and eval of one model can never use different wordings.
    - ``QUESTION_TEMPLATE_VIDEO``: the instruction, word for word as the public Long-RL ``QUESTION_TEMPLATE_VIDEO``
      (``verl/utils/dataset.py`` of NVlabs/Long-RL), including its grammar ("you solves it") and the space before
      ``Question:``: it is also the released model's thinking-mode and eval prompt, so wording drift moves scores.
      Version ``PROMPT_VERSION``, used by every tokenizer that declares no other (every real checkpoint).
    - ``format_question``: the question followed by lettered options, one per line (``A. ...``).
    - ``format_reasoning_prompt``: the template filled with a formatted question.
    - ``build_messages``: chat messages with the video first and the instruction after it, for a chat template.
    - ``render_prompt``: messages -> the prompt text through the model's own chat template (generation prompt on).
    - ``format_target``: the SFT target ``<think>...</think> <answer>X</answer>``.

Deviations from the paper:
1. Options are laid out as ``A. text`` lines under the question (the LongVideo-Reason ``problem`` field embeds
   them the same way, but its exact separators vary across records); ``format_question`` fixes one layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "COMPACT_PROMPT_VERSION",
    "OPTION_LETTERS",
    "PROMPT_TEMPLATES",
    "PROMPT_VERSION",
    "PROMPT_VERSION_KEY",
    "QUESTION_TEMPLATE_VIDEO",
    "build_messages",
    "format_question",
    "format_reasoning_prompt",
    "format_target",
    "prompt_version_of",
    "render_prompt",
]

PROMPT_VERSION = "longrl-video-mc-v1"
"""Version of the template and question layout below; recorded with every dataset, run and score."""

QUESTION_TEMPLATE_VIDEO = (
    "You are a helpful assistant. The user asks a question, and then you solves it.\n\n"
    "Please first think deeply about the question based on the given video, and then provide the final answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> the letter of your choice "
    "(A, B, C, or D) </answer>.\n\n Question: {question}"
)

COMPACT_PROMPT_VERSION = "compact-mc-v1"
"""The question alone: the default of the locally built tiny tokenizers (see :func:`prompt_version_of`)."""

PROMPT_TEMPLATES: dict[str, str] = {
    PROMPT_VERSION: QUESTION_TEMPLATE_VIDEO,
    COMPACT_PROMPT_VERSION: "Question: {question}",
}
"""Every known instruction template by version; a template holds one ``{question}`` field."""

PROMPT_VERSION_KEY = "lvr1_prompt_version"
"""The ``tokenizer_config.json`` key through which a tokenizer declares its prompt version."""

OPTION_LETTERS = "ABCDEFGHIJ"


def format_question(question: str, options: Sequence[str]) -> str:
    """Join a question and its options into the ``problem`` text, one lettered option per line.

    >>> format_question("Where is the red star?", ["NW", "NE"])
    'Where is the red star?\\nA. NW\\nB. NE'

    Raises:
        ValueError: More options than letters, or an empty option.
    """
    if len(options) > len(OPTION_LETTERS):
        raise ValueError(f"{len(options)} options given; at most {len(OPTION_LETTERS)} letters are defined")
    if any(not str(o).strip() for o in options):
        raise ValueError(f"empty option in {list(options)!r}; every option needs text")
    lines = [question.strip()] + [f"{OPTION_LETTERS[i]}. {str(o).strip()}" for i, o in enumerate(options)]
    return "\n".join(lines)


def _template(version: str) -> str:
    try:
        return PROMPT_TEMPLATES[version]
    except KeyError:
        raise ValueError(
            f"unknown prompt version {version!r}; known: {', '.join(PROMPT_TEMPLATES)} (set "
            f"{PROMPT_VERSION_KEY} in the model's tokenizer_config.json to one of them, or remove it)"
        ) from None


def prompt_version_of(tokenizer: Any) -> str:
    """The prompt version ``tokenizer`` declares (``lvr1_prompt_version`` in its config), else ``PROMPT_VERSION``.

    Raises:
        ValueError: The declared version is unknown.
    """
    kwargs = getattr(tokenizer, "init_kwargs", None) or {}
    version = str(kwargs.get(PROMPT_VERSION_KEY) or PROMPT_VERSION)
    _template(version)
    return version


def format_reasoning_prompt(problem: str, version: str = PROMPT_VERSION) -> str:
    """Fill the reasoning template with a ``problem`` (question plus options, see :func:`format_question`).

    >>> format_reasoning_prompt("Where?\\nA. NW\\nB. NE", COMPACT_PROMPT_VERSION)
    'Question: Where?\\nA. NW\\nB. NE'
    """
    return _template(version).format(question=problem)


def build_messages(problem: str, *, video: Any = None, version: str = PROMPT_VERSION) -> list[dict[str, Any]]:
    """Chat messages for one video question: a user turn holding the video, then the filled template.

    Args:
        problem: Question with its options (see :func:`format_question`).
        video: Whatever the caller wants to keep in the message as the video reference (a path, an id);
            the chat template only needs the part's type to place the video placeholder.
        version: Prompt version (a key of ``PROMPT_TEMPLATES``); pass ``prompt_version_of(tokenizer)``.
    """
    text = format_reasoning_prompt(problem, version)
    return [{"role": "user", "content": [{"type": "video", "video": video}, {"type": "text", "text": text}]}]


def render_prompt(tokenizer: Any, messages: list[dict[str, Any]]) -> str:
    """Render ``messages`` with the tokenizer's chat template, ending with the assistant turn's opening."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):
        raise TypeError(f"chat template rendered {type(text).__name__}, expected str")
    return text


def format_target(reasoning: str, answer: str) -> str:
    """The assistant text SFT trains on and the format reward expects.

    >>> format_target("The star is in NW at 00:12.", "A")
    '<think>The star is in NW at 00:12.</think> <answer>A</answer>'
    """
    return f"<think>{reasoning.strip()}</think> <answer>{answer.strip()}</answer>"
