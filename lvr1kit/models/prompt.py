"""The one reasoning prompt template, shared by CoT-SFT, GRPO and eval.

Contents:
    - ``PROMPT_VERSION``: bump it whenever a single character of the template or question layout changes;
      runs and datasets record it so scores are only compared under the same wording.
    - ``QUESTION_TEMPLATE_VIDEO``: the instruction, word for word as the public Long-RL ``QUESTION_TEMPLATE_VIDEO``
      (``verl/utils/dataset.py`` of NVlabs/Long-RL), including its grammar ("you solves it") and the space before
      ``Question:``: it is also the released model's thinking-mode and eval prompt, so wording drift moves scores.
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
    "OPTION_LETTERS",
    "PROMPT_VERSION",
    "QUESTION_TEMPLATE_VIDEO",
    "build_messages",
    "format_question",
    "format_reasoning_prompt",
    "format_target",
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


def format_reasoning_prompt(problem: str) -> str:
    """Fill the reasoning template with a ``problem`` (question plus options, see :func:`format_question`)."""
    return QUESTION_TEMPLATE_VIDEO.format(question=problem)


def build_messages(problem: str, *, video: Any = None) -> list[dict[str, Any]]:
    """Chat messages for one video question: a user turn holding the video, then the filled template.

    Args:
        problem: Question with its options (see :func:`format_question`).
        video: Whatever the caller wants to keep in the message as the video reference (a path, an id);
            the chat template only needs the part's type to place the video placeholder.
    """
    return [
        {
            "role": "user",
            "content": [{"type": "video", "video": video}, {"type": "text", "text": format_reasoning_prompt(problem)}],
        }
    ]


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
