"""The shared answer parser: tables of tricky model outputs."""

from __future__ import annotations

import pytest

from lvr1kit.rewards.parser import (
    SCORERS,
    extract_answer,
    extract_choice,
    lenient_match,
    normalize_ground_truth,
    strict_format_ok,
    strict_match,
)

CHOICE_CASES: list[tuple[str, str | None]] = [
    ("<think>x</think><answer>C</answer>", "C"),
    ("<answer> C </answer>", "C"),
    ("<answer>\n  C\n</answer>", "C"),
    ("<answer>(C)</answer>", "C"),
    ("<answer>C.</answer>", "C"),
    ("<answer>C)</answer>", "C"),
    ("<answer>[C]</answer>", "C"),
    ("<answer>c</answer>", "C"),
    ("<answer>(c)</answer>", "C"),
    ("C", "C"),
    ("The answer is C", "C"),
    ("the answer is c.", "C"),
    ("Answer: (B) the red agent", "B"),
    ("Final answer: D", "D"),
    ("I think the correct option is B because it moved.", "B"),
    ("<answer>C. The star is in the NW zone</answer>", "C"),
    ("<answer>(A) red</answer>", "A"),
    ("<answer>A or B</answer>", None),
    ("<answer>not A, it's C</answer>", None),
    ("<answer>A and C</answer>", None),
    ("<answer>(A) or (B)</answer>", None),
    ("The answer is A. No wait, the answer is B.", None),
    ("<answer></answer>", None),
    ("", None),
    ("<answer>E</answer>", None),  # outside A-D
    ("<answer>none of these</answer>", None),
    ("the answer is a dog", None),  # lower-case 'a' is an article here
    ("<answer><answer>B</answer></answer>", "B"),  # nested tags: innermost span
    ("<answer>A</answer> hmm <answer>D</answer>", "D"),  # several spans: the last complete one
    ("<think>(A) is wrong, (B) too</think><answer>C</answer>", "C"),  # only the answer span is read
    ("<think>x</think><answer>B", "B"),  # unclosed tag
    ("<ANSWER>B</ANSWER>", "B"),
    ("<answer>I pick B</answer>", "B"),
    ("Option B.", "B"),
]


@pytest.mark.parametrize(("text", "expected"), CHOICE_CASES)
def test_extract_choice_table(text: str, expected: str | None) -> None:
    assert extract_choice(text) == expected


def test_extract_choice_respects_num_options() -> None:
    assert extract_choice("<answer>E</answer>", num_options=5) == "E"
    assert extract_choice("<answer>E</answer>", num_options=4) is None
    with pytest.raises(ValueError, match="between 1 and 26"):
        extract_choice("A", num_options=0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>blue agent</answer>", "B"),
        ("<answer>The Blue agent.</answer>", "B"),
        ("<answer>green</answer>", None),
        ("<answer>C</answer>", "C"),  # a letter still wins over option text
    ],
)
def test_extract_choice_matches_option_text(text: str, expected: str | None) -> None:
    options = ["red agent", "blue agent", "green agent", "nobody"]
    assert extract_choice(text, options=options) == expected


def test_extract_answer_whitespace_and_flags() -> None:
    parsed = extract_answer("<think>a</think>\n<answer>\n  12 s \n</answer>")
    assert (parsed.text, parsed.compact, parsed.has_tag, parsed.closed, parsed.num_spans) == (
        "12 s",
        "12s",
        True,
        True,
        1,
    )
    plain = extract_answer("  no tags here ")
    assert (plain.text, plain.has_tag) == ("no tags here", False)
    two = extract_answer("<answer>A</answer><answer>B</answer>")
    assert (two.text, two.num_spans) == ("B", 2)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("<think>a</think><answer>B</answer>", True),
        ("<think>a\nb</think>\n\n<answer>B</answer>", True),
        ("<think></think><answer></answer>", True),
        (" <think>a</think><answer>B</answer>", False),  # full match: nothing before
        ("<think>a</think><answer>B</answer>\n", False),  # nor after
        ("<answer>B</answer><think>a</think>", False),
        ("<think>a</think>", False),
        ("<THINK>a</THINK><ANSWER>B</ANSWER>", False),  # tags are case-sensitive, as in the paper
    ],
)
def test_strict_format_table(text: str, ok: bool) -> None:
    assert strict_format_ok(text) is ok


@pytest.mark.parametrize(
    ("response", "truth", "strict", "lenient"),
    [
        ("<answer>B</answer>", "B", True, True),
        ("<answer> B </answer>", "B", True, True),
        ("<answer>B.</answer>", "B", False, True),
        ("<answer>(B)</answer>", "B", False, True),
        ("The answer is B", "B", False, True),
        ("<answer>b</answer>", "B", False, True),
        ("<answer>C</answer>", "B", False, False),
        ("<answer>B</answer>", "<answer>B</answer>", True, True),
    ],
)
def test_strict_vs_lenient_scorers(response: str, truth: str, strict: bool, lenient: bool) -> None:
    assert strict_match(response, truth) is strict
    assert lenient_match(response, truth) is lenient
    assert SCORERS["strict"](response, truth) is strict
    assert SCORERS["lenient"](response, truth) is lenient


def test_bad_ground_truth_raises() -> None:
    assert normalize_ground_truth("(d)") == "D"
    with pytest.raises(ValueError, match="not an option letter"):
        normalize_ground_truth("the red one")
