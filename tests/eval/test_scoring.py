"""Scoring: the strict vs lenient table on tricky outputs, summaries, baselines on a skewed key, the tidy table."""

from __future__ import annotations

import pandas as pd
import pytest

from lvr1kit.eval.scoring import (
    duration_bucket,
    majority_baseline,
    paired_comparisons,
    random_baseline,
    score_output,
    score_rows,
    summarize,
    summary_table,
)

# output, gold, strict, lenient, format_ok, parsed
CASES = [
    ("<think>the star moved</think> <answer>B</answer>", "B", True, True, True, "B"),
    ("<think>x</think>\n<answer> B </answer>", "<answer>B</answer>", True, True, True, "B"),
    ("<think>x</think><answer>B.</answer>", "B", False, True, True, "B"),  # the official scorer's "B." != "B"
    ("<think>x</think><answer>(B)</answer>", "B", False, True, True, "B"),
    ("<think>x</think><answer>b</answer>", "B", False, True, True, "B"),
    ("<think>x</think><answer>The answer is C</answer>", "C", False, True, True, "C"),
    ("<answer>B</answer>", "B", True, True, False, "B"),  # right letter, no think block
    ("<think>x</think><answer>B</answer> I am sure.", "B", True, True, False, "B"),  # trailing text
    ("The answer is B.", "B", False, True, False, "B"),  # no tags at all
    ("<think>x</think><answer>A or B</answer>", "B", False, False, True, None),  # ambiguous
    ("<think>x</think><answer>not A, it's B</answer>", "B", False, False, True, None),  # negation: ambiguous
    ("<think>x</think><answer>E</answer>", "B", False, False, True, None),  # out of range for 4 options
    ("<think>x</think><answer></answer>", "B", False, False, True, None),
    ("<think>long reasoning without an answer", "B", False, False, False, None),
    # strict reads the first span (official), lenient the last; the paper's regex spans both as one answer
    ("<think>x</think><answer>A</answer> wait <answer>B</answer>", "B", False, True, True, "B"),
    ("<think>x</think><answer>D</answer>", "B", False, False, True, "D"),  # wrong but parsed
    ("", "B", False, False, False, None),
]


@pytest.mark.parametrize(("output", "gold", "strict", "lenient", "format_ok", "parsed"), CASES)
def test_strict_vs_lenient_table(
    output: str, gold: str, strict: bool, lenient: bool, format_ok: bool, parsed: str | None
) -> None:
    result = score_output(output, gold)
    assert (result["strict"], result["lenient"], result["format_ok"], result["parsed"]) == (
        strict,
        lenient,
        format_ok,
        parsed,
    )
    assert result["parse_fail"] == (parsed is None)


def test_score_rows_reports_malformed_rows_and_marks_errors_wrong() -> None:
    rows = [
        {"id": 1, "gold": "B", "output": "<think>a</think><answer>B</answer>", "category": "temporal"},
        {"id": 2, "gold": "C", "output": "<think>a</think><answer>(A)</answer>", "category": "goal"},
        {"id": 3, "gold": "B", "output": "", "error": "video: not found", "category": "goal"},
        {"id": 4, "gold": "maybe", "output": "B"},  # gold is not a letter
        {"gold": "B", "output": "B"},  # no id
        {"id": 6, "gold": "A", "output": None},  # output missing
    ]
    scored, problems = score_rows(rows)
    assert list(scored["id"]) == [1, 2, 3]
    assert len(problems) == 3 and "row 4 (id 4)" in problems[0] and "row 5" in problems[1]
    summary = summarize(scored)
    assert summary["n"] == 3 and summary["errors"] == 1 and summary["parse_fail"] == 0
    assert summary["accuracy_strict"] == pytest.approx(1 / 3) and summary["accuracy_lenient"] == pytest.approx(1 / 3)
    assert summary["format_rate"] == pytest.approx(2 / 3)


def test_majority_and_random_baselines_on_the_public_skew() -> None:
    golds = ["B"] * 441 + ["C"] * 299 + ["A"] * 153 + ["D"] * 107
    assert majority_baseline(golds) == ("B", 0.441)
    assert majority_baseline(["A", "B"]) == ("A", 0.5)  # ties: first letter
    assert random_baseline([4] * 10) == 0.25
    assert random_baseline([2, 4]) == pytest.approx(0.375)


def test_duration_buckets() -> None:
    assert [duration_bucket(s) for s in (0, 119.9, 120, 599, 600, 1800)] == [
        "<2m",
        "<2m",
        "2m-10m",
        "2m-10m",
        "10m-30m",
        ">=30m",
    ]
    assert duration_bucket(45, [30, 60]) == "30s-1m"


def test_summary_table_groups_baselines_and_seed_spread() -> None:
    golds = "BBBCAD"
    rows = [
        {
            "id": i,
            "gold": g,
            "output": f"<answer>{'B' if seed == 0 else g}</answer>",
            "category": "temporal" if i < 3 else "plot",
            "model": "m",
            "seed": seed,
            "duration_s": 30.0,
        }
        for seed in (0, 1)
        for i, g in enumerate(golds)
    ]
    scored, _ = score_rows(rows)
    table = summary_table(scored, samples=200)
    overall = table.set_index(["model", "group_type", "group", "metric"])
    acc = overall.loc[("m", "overall", "all", "accuracy_lenient")]
    assert acc["value"] == pytest.approx((3 / 6 + 1) / 2) and acc["n"] == 6
    assert acc["seeds"] == 2 and acc["seed_mean"] == pytest.approx(0.75) and acc["seed_std"] > 0
    assert acc["ci_low"] <= acc["value"] <= acc["ci_high"]
    majority = overall.loc[("baseline:majority", "overall", "all", "accuracy_lenient")]
    assert majority["value"] == pytest.approx(0.5)  # always-B
    assert overall.loc[("baseline:random", "overall", "all", "accuracy_lenient")]["value"] == 0.25
    assert set(table["group_type"]) == {"overall", "category", "duration", "letter"}
    letter_b = overall.loc[("m", "letter", "B", "accuracy_lenient")]
    assert letter_b["value"] == 1.0 and letter_b["n"] == 3
    assert set(table[table["group_type"] == "category"]["group"]) == {"temporal", "plot"}
    assert isinstance(table, pd.DataFrame)


def test_paired_comparisons_against_hand_counts() -> None:
    # 6 questions, 2 categories; "sft" has 2 seeds (per-question mean), "grpo" one.
    sft = {"s0": [1, 0, 0, 1, 0, 1], "s1": [1, 0, 1, 1, 0, 1]}  # means: 1, 0, .5, 1, 0, 1
    grpo = [1, 1, 1, 0, 1, 1]
    cats = ["spatial"] * 3 + ["temporal"] * 3
    rows = []
    for seed, scores in enumerate(sft.values()):
        rows += [{"model": "sft", "seed": seed, "id": f"q{i}", "category": c, "accuracy_lenient": float(v)}
                 for i, (v, c) in enumerate(zip(scores, cats, strict=True))]  # fmt: skip
    rows += [{"model": "grpo", "seed": 0, "id": f"q{i}", "category": c, "accuracy_lenient": float(v)}
             for i, (v, c) in enumerate(zip(grpo, cats, strict=True))]  # fmt: skip
    out = paired_comparisons(pd.DataFrame(rows), "sft", samples=500)
    assert set(out) == {"grpo"}
    overall = out["grpo"]["all"]
    assert overall["n"] == 6 and overall["diff"] == pytest.approx((0 + 1 + 0.5 + -1 + 1 + 0) / 6)
    assert (overall["wins"], overall["losses"]) == (3, 1)
    assert overall["ci"][0] <= overall["diff"] <= overall["ci"][1]
    assert out["grpo"]["spatial"]["diff"] == pytest.approx(1.5 / 3)
    assert out["grpo"]["temporal"]["diff"] == pytest.approx(0.0)
    assert out["grpo"]["temporal"]["wins"] == out["grpo"]["temporal"]["losses"] == 1
    with pytest.raises(ValueError, match="compare_to='base'.*'sft', 'grpo'"):
        paired_comparisons(pd.DataFrame(rows), "base")
