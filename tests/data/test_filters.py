"""Filters as tables of cases: option sanity, leakage, duplicates, balance, pass rate."""

from __future__ import annotations

from collections import Counter

import pytest

from lvr1kit.config import FilterConfig
from lvr1kit.data.filters import apply_filters, balance, check_options, has_leakage, jaccard, pass_rate_filter
from lvr1kit.data.schema import QARecord


def rec(
    pid: object, question: str, options: list[str], letter: str, video: str = "v.mp4", cat: str = "goal"
) -> QARecord:
    return QARecord.build(
        problem_id=pid, question=question, options=options, answer_letter=letter, videos=video, problem_type=cat
    )


OPTS = ["to fetch the star", "to drop off the star", "to hand it over", "just wandering"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (OPTS, None),
        (OPTS[:3], "3 options; need exactly 4"),
        (["a", "b", "c", "A."], "options A and D are the same"),
        (["a", "b", "...", "d"], "option C is empty"),
    ],
)
def test_check_options(options: list[str], problem: str | None) -> None:
    result = check_options(rec(0, "Why?", options, "A"))
    assert result == problem if problem is None else problem in result


@pytest.mark.parametrize(
    ("question", "letter", "leaks"),
    [
        ("Why did the square go to SE?", "A", False),
        ("Why did the square go to SE to fetch the star?", "A", True),
        ("Was it just wandering, or not?", "D", True),
        ("How many moves between 00:03 and 00:12?", "A", False),
    ],
)
def test_leakage(question: str, letter: str, leaks: bool) -> None:
    options = ["3", "1", "2", "0"] if "many" in question else OPTS
    assert has_leakage(rec(0, question, options, letter)) is leaks


def test_exact_and_near_duplicates_are_per_video() -> None:
    records = [
        rec(0, "Why did the square go from SW to SE at 00:09?", OPTS, "A"),
        rec(1, "Why did the square go from SW to SE at 00:09?", OPTS, "A"),  # exact
        rec(2, "Why did the square go from SW to SE at 00:09 ?!", OPTS, "A"),  # same after normalising
        rec(3, "Why did the square go from SW to SE at 00:09?", OPTS, "A", video="w.mp4"),  # other video: kept
        rec(4, "Why did the ring go from NE to NW at 00:30?", OPTS, "B"),
    ]
    cfg = FilterConfig(balance_letters=False, balance_categories=False)
    result = apply_filters(records, cfg)
    assert [r.problem_id for r in result.kept] == [0, 3, 4]
    assert result.counts == {"duplicate": 2}
    assert jaccard("a b c d e", "a b c d e") == 1.0
    near = apply_filters(records[:1] + records[4:], FilterConfig(near_dup_jaccard=0.2, balance_letters=False))
    assert near.counts.get("near_duplicate") == 1


def test_balance_caps_letters_within_category() -> None:
    letters = "A" * 10 + "B" * 5 + "C" * 5 + "D" * 4
    records = [rec(i, f"Q{i} about something {i}?", OPTS, letter) for i, letter in enumerate(letters)]
    result = balance(records, lambda r: r.answer_letter, 1.25, group=lambda r: r.problem_type, reason="letter_balance")
    counts = Counter(r.answer_letter for r in result.kept)
    assert counts == {"A": 5, "B": 5, "C": 5, "D": 4}
    assert result.counts == {"letter_balance": 5}
    again = balance(list(reversed(records)), lambda r: r.answer_letter, 1.25, group=lambda r: r.problem_type)
    assert {r.problem_id for r in again.kept} == {r.problem_id for r in result.kept}  # order-independent


def test_apply_filters_balances_categories_and_letters() -> None:
    records = []
    for i in range(80):
        cat = "goal" if i < 50 else "plot"
        records.append(rec(i, f"Question number {i} here?", OPTS, "ABCD"[i % 4], video=f"v{i}.mp4", cat=cat))
    result = apply_filters(records, FilterConfig(max_balance_ratio=1.0))
    assert Counter(r.problem_type for r in result.kept) == {"goal": 28, "plot": 28}  # letters capped first
    assert result.counts["letter_balance"] == 4
    assert result.counts["category_balance"] == 20
    for cat in ("goal", "plot"):
        per = Counter(r.answer_letter for r in result.kept if r.problem_type == cat)
        assert max(per.values()) - min(per.values()) <= 1, per


def test_pass_rate_filter_drops_zero_variance_groups() -> None:
    records = [rec(i, f"Q{i}?", OPTS, "A") for i in range(3)]
    answers = {0: ["A", "A", "A"], 1: ["B", None, "C"], 2: ["A", "B", "A"]}
    result = pass_rate_filter(records, lambda r, g: answers[r.problem_id][:g], 3)
    assert [r.problem_id for r in result.kept] == [2]
    assert result.counts == {"pass_rate_all_correct": 1, "pass_rate_all_wrong": 1}
    with pytest.raises(ValueError, match="G >= 2"):
        pass_rate_filter(records, lambda r, g: [], 1)
