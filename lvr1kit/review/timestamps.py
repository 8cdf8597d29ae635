"""Timestamps cited in reasoning (``mm:ss``, ``h:mm:ss``, ``12s``, ranges) -> seconds and clickable HTML.

Contents:
    - ``Citation`` / ``find_citations``: re-exported from :mod:`lvr1kit.rewards.grounding`, the one timestamp
      parser (the grounding reward and the app read citations the same way).
    - ``render_reasoning_html``: text -> escaped HTML where each citation is a ``<a class="lvr1-ts" data-t=...>``
      link; the app's page script turns a click on it into ``video.currentTime = t``.
    - ``render_completion_html``: a GRPO completion with its ``<think>`` chain and ``<answer>`` shown readably.
"""

from __future__ import annotations

import html
import re

from lvr1kit.rewards.grounding import Citation, find_citations

__all__ = ["Citation", "find_citations", "render_completion_html", "render_reasoning_html"]

_THINK_RE = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


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
