"""Timestamp grounding: do the times cited in the reasoning fall inside the evidence windows?

Contents:
    - :func:`find_timestamps`: the times (points and ranges, in seconds) cited in a text.
    - :func:`reasoning_text`: the ``<think>`` spans of a response, or the response less its ``<answer>`` spans.
    - :func:`compute_grounding`: the share of citations that land inside any evidence window ± a tolerance.

Formats read: ``12s``, ``12.5 s``, ``12 sec``, ``12 seconds``, ``0:12``, ``1:05.5``, ``00:01:05``, and ranges
``[12-20s]``, ``12s-20s``, ``12 to 20 seconds``, ``0:12–0:20``. A bare number without a unit or colon is not a time.
A range counts once and is grounded when it overlaps a widened window.

Deviations from the paper:
1. Not in the paper: an extra, optional signal for the reviewers' request that reasoning cite the right moments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Citation", "compute_grounding", "find_citations", "find_timestamps", "reasoning_text"]

_UNIT = r"(?:s|secs?|seconds?)\b"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
_NUMBER = r"\d+(?:\.\d+)?"
_RANGE_RE = re.compile(
    rf"(?<![\d:.])({_CLOCK}|{_NUMBER})\s*(?:{_UNIT})?\s*(?:-|–|—|to)\s*({_CLOCK}|{_NUMBER})(\s*{_UNIT})?"
)
_POINT_RE = re.compile(rf"(?<![\d:.])(?:({_CLOCK})(?![\d:])|({_NUMBER})\s*{_UNIT})")
_THINK_RE = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>.*?</answer>", re.DOTALL)


def _seconds(token: str) -> float:
    parts = [float(p) for p in token.split(":")]
    total = 0.0
    for part in parts:
        total = total * 60 + part
    return total


@dataclass(frozen=True)
class Citation:
    """A cited time: ``start_s``/``end_s`` (equal for a point) and its span ``[begin, end)`` in the text."""

    start_s: float
    end_s: float
    begin: int
    end: int


def find_citations(text: str) -> list[Citation]:
    """Cited times with their character spans, in order of appearance (the review app links them).

    >>> [(c.start_s, c.end_s, c.begin) for c in find_citations("at 01:05 it drops; 0:12-0:20 shows it")]
    [(65.0, 65.0, 3), (12.0, 20.0, 19)]
    """
    found: list[Citation] = []
    taken = [False] * len(text)
    for match in _RANGE_RE.finditer(text):
        first, second, unit = match.groups()
        if ":" not in first and ":" not in second and unit is None:
            continue  # "2-3" without a unit is not a time range
        start, end = _seconds(first), _seconds(second)
        found.append(Citation(min(start, end), max(start, end), match.start(), match.end()))
        taken[match.start() : match.end()] = [True] * (match.end() - match.start())
    for match in _POINT_RE.finditer(text):
        if any(taken[match.start() : match.end()]):
            continue
        value = _seconds(match.group(1) or match.group(2))
        found.append(Citation(value, value, match.start(), match.end()))
    return sorted(found, key=lambda c: c.begin)


def find_timestamps(text: str) -> list[tuple[float, float]]:
    """Cited times as ``(start_s, end_s)`` in order of appearance; a point has ``start_s == end_s``.

    >>> find_timestamps("at 1:05 the star drops; [12-20s] shows it; then 00:01:10 and 3.5 s")
    [(65.0, 65.0), (12.0, 20.0), (70.0, 70.0), (3.5, 3.5)]
    >>> find_timestamps("zone 3 has 2 agents")
    []
    """
    return [(c.start_s, c.end_s) for c in find_citations(text)]


def reasoning_text(completion: str) -> str:
    """The ``<think>`` spans joined, or, without them, the completion less its ``<answer>`` spans.

    >>> reasoning_text("<think>at 5s</think><answer>B</answer>")
    'at 5s'
    """
    spans = _THINK_RE.findall(completion)
    return "\n".join(spans) if spans else _ANSWER_RE.sub(" ", completion)


def compute_grounding(
    completion: str, evidence_windows: Sequence[Sequence[float]], tolerance_s: float = 2.0
) -> tuple[float, int, int]:
    """``(share grounded, number cited, number grounded)``; no citation gives share 0.

    >>> compute_grounding("<think>seen at 0:12 and at 40s</think>", [(10, 15)], tolerance_s=1.0)
    (0.5, 2, 1)

    Raises:
        ValueError: a window is not a ``(start_s, end_s)`` pair with ``start_s <= end_s``, or the tolerance < 0.
    """
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s={tolerance_s} must be >= 0")
    windows = []
    for window in evidence_windows:
        if len(window) != 2 or float(window[0]) > float(window[1]):
            raise ValueError(f"evidence window {window!r} must be (start_s, end_s) with start_s <= end_s")
        windows.append((float(window[0]) - tolerance_s, float(window[1]) + tolerance_s))
    cited = find_timestamps(reasoning_text(completion))
    grounded = sum(any(start <= hi and end >= lo for lo, hi in windows) for start, end in cited)
    return (grounded / len(cited) if cited else 0.0), len(cited), grounded
