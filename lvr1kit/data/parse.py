"""Strict parsing of a generator LLM's reply into one question; every failure has a reason code.

Contents:
    - ``ParseError``: ``reason`` (a short code, reported as ``parse:<reason>``) and a human detail.
    - ``ParsedQuestion``: question, options, answer letter, reasoning, evidence windows.
    - ``parse_llm_reply``: a JSON object (bare, fenced or after a ``<think>`` block) or the plain layout
      ``Question: ... / A. ... / Answer: B / Reasoning: ...``  -> ``ParsedQuestion``.
    - ``parse_timestamp`` / ``evidence_from_reasoning``: ``mm:ss`` citations -> the timeline windows holding them.

Reason codes: ``empty``, ``bad_json``, ``no_question``, ``missing_<field>``, ``option_count``, ``empty_option``,
``duplicate_options``, ``answer_letter``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lvr1kit.data.filters import normalize
from lvr1kit.data.schema import Segment

__all__ = ["ParseError", "ParsedQuestion", "evidence_from_reasoning", "parse_llm_reply", "parse_timestamp"]

LETTERS = "ABCDEFGHIJ"
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
_OPTION = re.compile(r"^\s*\(?([A-J])[.):]\s*(.+?)\s*$")
_QUESTION = re.compile(r"^\s*\**question\**\s*[:：]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_ANSWER = re.compile(
    r"^\s*\**(?:correct\s+)?answer\**\s*[:：]\s*(?:<answer>)?\s*\(?([A-J])\b", re.IGNORECASE | re.MULTILINE
)
_REASONING = re.compile(r"^\s*\**reasoning\**\s*[:：]\s*(.+)", re.IGNORECASE | re.MULTILINE | re.DOTALL)
_TIMESTAMP = re.compile(r"\b(?:(\d+):)?(\d{1,2}):(\d{2})\b")


class ParseError(ValueError):
    """An LLM reply that is not a usable question."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ParsedQuestion:
    """One question read from a reply."""

    question: str
    options: list[str]
    answer_letter: str
    reasoning: str
    evidence: list[tuple[float, float]] = field(default_factory=list)


def parse_timestamp(text: str) -> float | None:
    """``"01:05"`` -> 65.0, ``"1:02:03"`` -> 3723.0, plain seconds -> float; ``None`` if unreadable.

    >>> parse_timestamp("01:05"), parse_timestamp("1:02:03"), parse_timestamp("12.5"), parse_timestamp("soon")
    (65.0, 3723.0, 12.5, None)
    """
    text = str(text).strip()
    match = _TIMESTAMP.fullmatch(text)
    if match:
        hours, minutes, seconds = match.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    try:
        return float(text)
    except ValueError:
        return None


def evidence_from_reasoning(reasoning: str, segments: Sequence[Segment]) -> list[tuple[float, float]]:
    """The timeline windows that hold the timestamps a reasoning chain cites, in order of first citation."""
    windows: list[tuple[float, float]] = []
    for match in _TIMESTAMP.finditer(reasoning):
        t = parse_timestamp(match.group(0))
        hit = next((s for s in segments if t is not None and s.start_s <= t < s.end_s), None)
        if hit is not None and (hit.start_s, hit.end_s) not in windows:
            windows.append((hit.start_s, hit.end_s))
    return windows


def _strip_option(text: str, letter: str) -> str:
    match = _OPTION.match(text)
    return match.group(2) if match and match.group(1) == letter else text.strip()


def _from_json(data: dict[str, Any]) -> tuple[str, list[str], str, str, Any]:
    lower = {str(k).lower(): v for k, v in data.items()}
    for name in ("question", "options", "answer", "reasoning"):
        if lower.get(name) in (None, "", [], {}):
            raise ParseError(f"missing_{name}", f"the JSON object has no usable {name!r}")
    options = lower["options"]
    if isinstance(options, dict):
        options = [options.get(k, options.get(k.lower(), "")) for k in sorted(options, key=str.upper)]
    if not isinstance(options, list):
        raise ParseError("missing_options", f"options is a {type(options).__name__}, expected a list or A-D mapping")
    options = [_strip_option(str(o), LETTERS[i]) for i, o in enumerate(options)]
    answer = str(lower["answer"]).strip()
    match = re.fullmatch(r"(?:<answer>)?\s*\(?([A-J])\)?[.:]?\s*(?:</answer>)?(?:\s.*)?", answer, re.DOTALL)
    letter = match.group(1) if match else answer
    reasoning = lower["reasoning"]
    if isinstance(reasoning, list):
        reasoning = " ".join(str(step).strip() for step in reasoning)
    return str(lower["question"]).strip(), options, letter, str(reasoning).strip(), lower.get("evidence")


def _json_object(text: str) -> dict[str, Any] | None:
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else None
    if candidate is None and "{" in text and "}" in text:
        candidate = text[text.index("{") : text.rindex("}") + 1]
    if candidate is None:
        return None
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError as err:
        raise ParseError("bad_json", f"{err.msg} at column {err.colno}") from None
    if not isinstance(data, dict):
        raise ParseError("bad_json", f"a JSON {type(data).__name__}, expected an object")
    return data


def _from_layout(text: str) -> tuple[str, list[str], str, str, Any]:
    question = _QUESTION.search(text)
    if question is None:
        raise ParseError("no_question", "neither a JSON object nor a 'Question:' line")
    options = [m for m in (_OPTION.match(line) for line in text[question.end() :].splitlines()) if m]
    answer = _ANSWER.search(text)
    reasoning = _REASONING.search(text)
    if answer is None:
        raise ParseError("missing_answer", "no 'Answer: X' line")
    if reasoning is None:
        raise ParseError("missing_reasoning", "no 'Reasoning:' section")
    letters = [m.group(1) for m in options]
    if letters != list(LETTERS[: len(letters)]):
        raise ParseError("option_count", f"option letters {''.join(letters)!r} are not A, B, C, ... in order")
    body = _ANSWER.split(reasoning.group(1))[0].strip()
    return question.group(1), [m.group(2) for m in options], answer.group(1), body, None


def _evidence(raw: Any) -> list[tuple[float, float]]:
    windows = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            item = [item.get("start", item.get("start_s")), item.get("end", item.get("end_s"))]
        if isinstance(item, list | tuple) and len(item) == 2:
            start, end = parse_timestamp(str(item[0])), parse_timestamp(str(item[1]))
            if start is not None and end is not None and 0 <= start <= end:
                windows.append((start, end))
    return windows


def parse_llm_reply(text: str, num_options: int = 4) -> ParsedQuestion:
    """Read one question from a generator reply.

    >>> parse_llm_reply('{"question": "Q?", "options": ["a", "b", "c", "d"], "answer": "C", '
    ...                 '"reasoning": "At 00:10 c."}').answer_letter
    'C'

    Raises:
        ParseError: with a reason code; the caller keeps the raw text.
    """
    if not text or not text.strip():
        raise ParseError("empty", "the reply is empty")
    outside = _THINK.sub(" ", text).strip()
    body = outside or " ".join(_THINK.findall(text))
    data = _json_object(body)
    question, options, letter, reasoning, evidence = _from_json(data) if data is not None else _from_layout(body)
    if not question:
        raise ParseError("no_question", "the question text is empty")
    if len(options) != num_options:
        raise ParseError("option_count", f"{len(options)} options; need exactly {num_options}")
    if any(not normalize(o) for o in options):
        raise ParseError("empty_option", f"an option is empty: {options!r}")
    if len({normalize(o) for o in options}) != len(options):
        raise ParseError("duplicate_options", f"options repeat after normalising: {options!r}")
    if letter not in LETTERS[:num_options]:
        raise ParseError("answer_letter", f"answer {letter[:30]!r} is not one of {LETTERS[:num_options]}")
    return ParsedQuestion(question, options, letter, reasoning, _evidence(evidence))
