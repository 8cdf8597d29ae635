"""Strict parsing of generator replies: a table of replies and their outcome or reason code."""

from __future__ import annotations

import pytest

from lvr1kit.data.parse import ParseError, evidence_from_reasoning, parse_llm_reply
from lvr1kit.data.schema import Segment

GOOD_JSON = (
    '{"question": "Why did the ring go to SE?", "options": ["to fetch", "to drop", "to meet", "to wander"], '
    '"answer": "B", "reasoning": "At 00:12 it went; at 00:33 it dropped the star.", "evidence": [["00:12", "00:15"]]}'
)
LAYOUT = """Question: Who dropped the star?
A. the ring
B. the square
C. the diamond
D. no one
Answer: C
Reasoning: At 00:18 the diamond dropped it; at 00:39 the ring picked it up."""


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        (GOOD_JSON, "B"),
        ("<think>long thoughts {not json}</think>\n```json\n" + GOOD_JSON + "\n```", "B"),
        (GOOD_JSON.replace('"B"', '"<answer>D</answer>"'), "D"),
        (
            GOOD_JSON.replace(
                '["to fetch", "to drop", "to meet", "to wander"]', '{"A": "x", "B": "y", "C": "z", "D": "w"}'
            ),
            "B",
        ),
        (LAYOUT, "C"),
    ],
)
def test_good_replies(reply: str, letter: str) -> None:
    parsed = parse_llm_reply(reply)
    assert parsed.answer_letter == letter and len(parsed.options) == 4 and parsed.reasoning


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("u�ser quesion ... blah", "no_question"),
        ('{"question": "Q?", "options": [', "no_question"),
        ('{"question": "Q?", "options": ["a"}', "bad_json"),
        ('{"question": "Q?", "answer": "A", "reasoning": "r"}', "missing_options"),
        (GOOD_JSON.replace('"to wander"', '"to fetch"'), "duplicate_options"),
        (GOOD_JSON.replace(', "to wander"', ""), "option_count"),
        (GOOD_JSON.replace('"B"', '"E"'), "answer_letter"),
        (LAYOUT.replace("Answer: C\n", ""), "missing_answer"),
    ],
)
def test_bad_replies_have_reason_codes(reply: str, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_llm_reply(reply)
    assert info.value.reason == reason


def test_evidence_windows() -> None:
    assert parse_llm_reply(GOOD_JSON).evidence == [(12.0, 15.0)]
    segments = [Segment(start_s=s, end_s=s + 10, caption="") for s in (0.0, 10.0, 20.0, 30.0)]
    assert evidence_from_reasoning("At 00:12 x, at 00:33 y, again 00:15.", segments) == [(10.0, 20.0), (30.0, 40.0)]
