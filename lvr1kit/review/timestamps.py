"""Timestamps cited in reasoning (``mm:ss``, ``h:mm:ss``, ``12s``, ranges) -> seconds and clickable HTML.

Contents:
    - ``Citation``: one cited time with its character span in the text.
    - ``find_citations``: every cited time with its span (the same formats as
      :func:`lvr1kit.rewards.find_timestamps`, which returns times only; this module needs the spans to make links).
    - ``render_reasoning_html``: text -> escaped HTML where each citation is a ``<a class="lvr1-ts" data-t=...>``
      link; the app's page script turns a click on it into ``video.currentTime = t``.
    - ``render_completion_html``: a GRPO completion with its ``<think>`` chain and ``<answer>`` shown readably.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["Citation", "find_citations", "render_completion_html", "render_reasoning_html"]

_UNIT = r"(?:s|secs?|seconds?)\b"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
_NUMBER = r"\d+(?:\.\d+)?"
_RANGE_RE = re.compile(
    rf"(?<![\d:.])({_CLOCK}|{_NUMBER})\s*(?:{_UNIT})?\s*(?:-|–|—|to)\s*({_CLOCK}|{_NUMBER})(\s*{_UNIT})?"
)
_POINT_RE = re.compile(rf"(?<![\d:.])(?:({_CLOCK})(?![\d:])|({_NUMBER})\s*{_UNIT})")
_THINK_RE = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@dataclass(frozen=True)
class Citation:
    """A cited time: ``start_s``/``end_s`` (equal for a point) and the span ``[begin, end)`` in the text."""

    start_s: float
    end_s: float
    begin: int
    end: int


def _seconds(token: str) -> float:
    total = 0.0
    for part in token.split(":"):
        total = total * 60 + float(part)
    return total


def find_citations(text: str) -> list[Citation]:
    """Cited times with their spans, in order of appearance.

    >>> [(c.start_s, c.end_s) for c in find_citations("at 01:05 it drops; 0:12-0:20 shows it; 3.5 s later")]
    [(65.0, 65.0), (12.0, 20.0), (3.5, 3.5)]
    >>> find_citations("zone 3 has 2 agents")
    []
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


def render_reasoning_html(text: str) -> str:
    """Escaped HTML of ``text`` with each cited time a link carrying its start in ``data-t`` (seconds).

    >>> render_reasoning_html("see 01:05 <b>")
    'see <a href="#" class="lvr1-ts" data-t="65.0" title="jump to 65.0 s">01:05</a> &lt;b&gt;'
    """
    out, cursor = [], 0
    for cite in find_citations(text):
        out.append(html.escape(text[cursor : cite.begin]))
        label = html.escape(text[cite.begin : cite.end])
        out.append(f'<a href="#" class="lvr1-ts" data-t="{cite.start_s}" title="jump to {cite.start_s} s">{label}</a>')
        cursor = cite.end
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def render_completion_html(completion: str) -> str:
    """A completion as HTML: the ``<think>`` chain (citations clickable, line breaks kept), then the answer span.

    Text outside the tags (a format failure) is shown as-is under "untagged output".
    """
    think = _THINK_RE.search(completion)
    answer = _ANSWER_RE.search(completion)
    parts = []
    if think:
        chain = render_reasoning_html(think.group(1).strip()).replace("\n", "<br>")
        parts.append(f'<div class="lvr1-think"><b>think</b>: {chain}</div>')
    rest = _ANSWER_RE.sub("", _THINK_RE.sub("", completion)).strip()
    if rest:
        shown = render_reasoning_html(rest).replace("\n", "<br>")
        parts.append(f'<div class="lvr1-untagged"><b>untagged output</b>: {shown}</div>')
    if answer:
        parts.append(f'<div class="lvr1-answer"><b>answer</b>: {html.escape(answer.group(1).strip())}</div>')
    return "".join(parts) or '<div class="lvr1-untagged"><i>(empty completion)</i></div>'
