"""Reward registry: name -> reward function, lookup with a helpful error, batch scoring and a TRL adapter.

Contents:
    - ``REWARDS``, :func:`register_reward`, :func:`get_reward`: the registry itself.
    - :func:`compute_rewards`: score a batch of completions with dataset columns given as aligned lists.
    - :func:`as_trl_reward`: the same as a TRL reward function ``(prompts, completions, **columns) -> list[float]``.

A reward function takes the completion text first and the columns it needs as keyword arguments; the registry
passes each function only the columns its signature names (or all of them when it takes ``**kwargs``), so datasets
may carry extra columns. Adding a reward is one function, one ``@register_reward`` line and one test.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from lvr1kit.rewards.types import RewardBreakdown

__all__ = [
    "REWARDS",
    "RewardFn",
    "as_trl_reward",
    "completion_text",
    "compute_rewards",
    "get_reward",
    "register_reward",
]


class RewardFn(Protocol):
    """``fn(completion, **columns_and_params) -> RewardBreakdown``."""

    def __call__(self, completion: str, /, **kwargs: Any) -> RewardBreakdown: ...


REWARDS: dict[str, RewardFn] = {}
"""Reward name -> function; the names are the values ``grpo.reward`` accepts."""


def register_reward(name: str) -> Callable[[Callable[..., RewardBreakdown]], Callable[..., RewardBreakdown]]:
    """Decorator adding a reward function to ``REWARDS`` under ``name`` (a name is registered once)."""

    def add(fn: Callable[..., RewardBreakdown]) -> Callable[..., RewardBreakdown]:
        if name in REWARDS and REWARDS[name] is not fn:
            raise ValueError(f"reward {name!r} is already registered to {REWARDS[name]!r}")
        REWARDS[name] = fn
        return fn

    return add


def get_reward(name: str) -> RewardFn:
    """The registered reward ``name``.

    Raises:
        KeyError: unknown name; the message suggests a close name and lists the known ones.
    """
    if name not in REWARDS:
        close = difflib.get_close_matches(name, list(REWARDS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise KeyError(f"unknown reward {name!r}; {hint}known rewards: {', '.join(sorted(REWARDS))}")
    return REWARDS[name]


def completion_text(completion: str | Sequence[Mapping[str, Any]]) -> str:
    """The text of a completion, plain or conversational (TRL passes ``[{"role": ..., "content": ...}]``).

    >>> completion_text([{"role": "assistant", "content": "<answer>B</answer>"}])
    '<answer>B</answer>'
    """
    if isinstance(completion, str):
        return completion
    if not completion:
        return ""
    content = completion[-1]["content"]
    if isinstance(content, list):  # multimodal message parts
        return "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return str(content)


def _accepted(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(kwargs)
    return {k: v for k, v in kwargs.items() if k in params}


def compute_rewards(
    name: str,
    completions: Sequence[str | Sequence[Mapping[str, Any]]],
    *,
    reward_kwargs: Mapping[str, Any] | None = None,
    **columns: Sequence[Any],
) -> list[RewardBreakdown]:
    """Score each completion with reward ``name``; ``columns`` are lists aligned with ``completions``.

    Args:
        name: a key of ``REWARDS``.
        completions: texts (or TRL conversational completions).
        reward_kwargs: fixed parameters shared by every row, e.g. ``{"w_acc": 0.9, "w_fmt": 0.1}``.
        **columns: dataset columns, one value per completion (``answer=[...]``, ``options=[...]``).

    >>> [b.total for b in compute_rewards("mc", ["<think>x</think><answer>B</answer>", "C"], answer=["B", "B"])]
    [1.0, 0.0]

    Raises:
        KeyError: unknown reward name.
        ValueError: a column's length differs from the number of completions.
    """
    fn = get_reward(name)
    for key, values in columns.items():
        if len(values) != len(completions):
            raise ValueError(f"column {key!r} has {len(values)} values for {len(completions)} completions")
    fixed = dict(reward_kwargs or {})
    results = []
    for i, completion in enumerate(completions):
        row = {key: values[i] for key, values in columns.items()}
        results.append(fn(completion_text(completion), **_accepted(fn, {**row, **fixed})))
    return results


def as_trl_reward(name: str, **reward_kwargs: Any) -> Callable[..., list[float]]:
    """Reward ``name`` as a TRL reward function returning each completion's ``total``.

    >>> fn = as_trl_reward("mc")
    >>> fn(prompts=["q"], completions=["<think>x</think><answer>B</answer>"], answer=["B"])
    [1.0]
    """
    get_reward(name)  # fail at construction, not at the first training step

    def reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float]:
        dataset_columns = {
            k: v for k, v in columns.items() if isinstance(v, list | tuple) and len(v) == len(completions)
        }
        scored = compute_rewards(name, completions, reward_kwargs=reward_kwargs, **dataset_columns)
        return [b.total for b in scored]

    reward.__name__ = f"lvr1_{name}"
    return reward
