"""The value every reward returns, :class:`RewardBreakdown`, and batch metrics over it.

Contents:
    - :class:`RewardBreakdown`: ``total`` with its parts (``format``, ``accuracy``, ``parse_ok``, ``extras``).
    - :func:`combine`: the paper's weighted total ``w_acc * accuracy + w_fmt * format``.
    - :func:`summarize_rewards`: batch means under the ``reward/`` metric namespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RewardBreakdown", "combine", "summarize_rewards"]


@dataclass(frozen=True)
class RewardBreakdown:
    """One completion's reward and its parts.

    Attributes:
        total: the scalar the policy is trained on.
        format: the format part in [0, 1], ``None`` when the reward has no format part.
        accuracy: the accuracy part in [0, 1], ``None`` when the reward has no accuracy part.
        parse_ok: ``False`` when the answer could not be parsed (then accuracy is 0 and ``reward/parse_fail`` counts).
        extras: reward-specific values for logs and the review app (parsed choice, similarity, citations, ...).
    """

    total: float
    format: float | None = None
    accuracy: float | None = None
    parse_ok: bool = True
    extras: Mapping[str, Any] = field(default_factory=dict)


def combine(accuracy: float, format: float, w_acc: float = 0.9, w_fmt: float = 0.1) -> float:
    """The paper's total: ``w_acc * accuracy + w_fmt * format``.

    >>> combine(1.0, 1.0), combine(0.0, 1.0)
    (1.0, 0.1)
    """
    return w_acc * accuracy + w_fmt * format


def summarize_rewards(breakdowns: Sequence[RewardBreakdown]) -> dict[str, float]:
    """Batch metrics: means of ``reward/total``, ``reward/accuracy``, ``reward/format`` (over completions that have
    the part), ``reward/parse_fail`` (count) and ``reward/parse_fail_frac``.

    >>> m = summarize_rewards([RewardBreakdown(1.0, 1.0, 1.0), RewardBreakdown(0.1, 1.0, 0.0, parse_ok=False)])
    >>> m["reward/total"], m["reward/accuracy"], m["reward/format"], m["reward/parse_fail"]
    (0.55, 0.5, 1.0, 1.0)
    """
    if not breakdowns:
        return {}
    fails = sum(not b.parse_ok for b in breakdowns)
    out = {
        "reward/total": sum(b.total for b in breakdowns) / len(breakdowns),
        "reward/parse_fail": float(fails),
        "reward/parse_fail_frac": fails / len(breakdowns),
    }
    for key in ("accuracy", "format"):
        values = [getattr(b, key) for b in breakdowns if getattr(b, key) is not None]
        if values:
            out[f"reward/{key}"] = sum(values) / len(values)
    return out
