"""Rule-based and judged rewards; each returns a :class:`RewardBreakdown` and is registered by name.

Contents (registry names in brackets):
    - :func:`format_reward` [``format``]: 1 when the response matches the paper's think/answer layout.
    - :func:`mc_accuracy_reward` [``mc``]: option letter via the shared parser, combined with format.
    - :func:`numeric_accuracy_reward` [``numeric``]: numeric equality with tolerance, combined with format.
    - :func:`r1v_reward` [``r1v``]: the paper's single reward: ``mc`` when the ground truth is a letter, ``numeric``
      when it is a number, whitespace-free string equality otherwise.
    - :func:`open_ended_reward` [``open_ended``]: an LLM judge's yes/no, or difflib similarity above a threshold.
    - :func:`timestamp_grounding_reward` [``timestamp_grounding``]: share of cited times inside evidence windows.

An unparseable answer scores accuracy 0 with ``parse_ok=False``; bad ground truth and every other exception
propagate. Judge failures raise :class:`~lvr1kit.rewards.judge.JudgeError` unless ``on_judge_error="fallback"``,
which scores by similarity and records the error in ``extras["judge_error"]``.

Deviations from the paper:
1. The paper places the total on the last valid response token; placing it is the trainer's job here.
2. MC letters are read by the lenient parser (``(B)``, ``B.``, ``The answer is B``), not by ``mathruler``.
3. Without a judge, open-ended answers are graded by string similarity (the paper always calls gpt-4o-mini).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Literal

from lvr1kit.rewards.grounding import compute_grounding
from lvr1kit.rewards.judge import JudgeClient, JudgeError
from lvr1kit.rewards.numeric import extract_number, numbers_equal, parse_number
from lvr1kit.rewards.parser import extract_answer, extract_choice, normalize_ground_truth, strict_format_ok
from lvr1kit.rewards.registry import register_reward
from lvr1kit.rewards.types import RewardBreakdown, combine

__all__ = [
    "format_reward",
    "mc_accuracy_reward",
    "numeric_accuracy_reward",
    "open_ended_reward",
    "r1v_reward",
    "string_similarity",
    "timestamp_grounding_reward",
]


@register_reward("format")
def format_reward(completion: str) -> RewardBreakdown:
    """1 when the whole response is ``<think>…</think> <answer>…</answer>``, else 0.

    >>> format_reward("<think>a</think> <answer>B</answer>").total
    1.0
    """
    fmt = float(strict_format_ok(completion))
    return RewardBreakdown(total=fmt, format=fmt)


@register_reward("mc")
def mc_accuracy_reward(
    completion: str,
    answer: str,
    options: Sequence[str] | None = None,
    num_options: int | None = None,
    w_acc: float = 0.9,
    w_fmt: float = 0.1,
) -> RewardBreakdown:
    """Multiple choice: accuracy 1 when the extracted letter equals the ground-truth letter.

    ``num_options`` defaults to ``len(options)``, else 4.

    >>> r = mc_accuracy_reward("<think>zone</think><answer>(C)</answer>", answer="C")
    >>> r.total, r.accuracy, r.format
    (1.0, 1.0, 1.0)
    >>> r = mc_accuracy_reward("<answer>A or B</answer>", answer="A")
    >>> r.total, r.parse_ok
    (0.0, False)
    """
    n = num_options or (len(options) if options else 4)
    truth = normalize_ground_truth(answer, n)
    choice = extract_choice(completion, num_options=n, options=options)
    fmt = float(strict_format_ok(completion))
    acc = float(choice == truth)
    return RewardBreakdown(
        total=combine(acc, fmt, w_acc, w_fmt),
        format=fmt,
        accuracy=acc,
        parse_ok=choice is not None,
        extras={"choice": choice, "truth": truth},
    )


@register_reward("numeric")
def numeric_accuracy_reward(
    completion: str,
    answer: str,
    rel_tol: float = 1e-4,
    abs_tol: float = 1e-6,
    w_acc: float = 0.9,
    w_fmt: float = 0.1,
) -> RewardBreakdown:
    r"""Numeric answers: ``\frac{1}{2}``, ``1/2``, ``0.5`` and ``50%`` are equal within tolerance.

    >>> numeric_accuracy_reward(r"<think>half</think><answer>\frac{1}{2}</answer>", answer="0.5").total
    1.0

    Raises:
        ValueError: the ground truth is not a number.
    """
    truth = parse_number(extract_answer(answer).text)
    if truth is None:
        raise ValueError(f"ground-truth answer {answer!r} is not a number")
    pred = extract_number(extract_answer(completion).text)
    fmt = float(strict_format_ok(completion))
    acc = float(pred is not None and numbers_equal(pred, truth, rel_tol=rel_tol, abs_tol=abs_tol))
    return RewardBreakdown(
        total=combine(acc, fmt, w_acc, w_fmt),
        format=fmt,
        accuracy=acc,
        parse_ok=pred is not None,
        extras={"value": None if pred is None else pred[0], "truth": truth[0]},
    )


@register_reward("r1v")
def r1v_reward(
    completion: str, answer: str, options: Sequence[str] | None = None, w_acc: float = 0.9, w_fmt: float = 0.1
) -> RewardBreakdown:
    """The paper's reward: letter ground truth -> ``mc``, numeric -> ``numeric``, else exact compact equality.

    >>> r1v_reward("<think>x</think><answer>B</answer>", answer="B").total
    1.0
    >>> r1v_reward("<think>x</think><answer> 12 </answer>", answer="12.0").total
    1.0
    >>> r1v_reward("<think>x</think><answer>red ball</answer>", answer="redball").accuracy
    1.0
    """
    truth_span = extract_answer(answer).text
    n = len(options) if options else 4
    try:
        normalize_ground_truth(truth_span, n)
    except ValueError:
        pass  # not a letter: grade as a number or as text below
    else:
        return mc_accuracy_reward(completion, answer, options=options, num_options=n, w_acc=w_acc, w_fmt=w_fmt)
    if parse_number(truth_span) is not None:
        return numeric_accuracy_reward(completion, answer, w_acc=w_acc, w_fmt=w_fmt)
    pred = extract_answer(completion)
    fmt = float(strict_format_ok(completion))
    acc = float(bool(pred.compact) and pred.compact == extract_answer(answer).compact)
    return RewardBreakdown(combine(acc, fmt, w_acc, w_fmt), fmt, acc, parse_ok=bool(pred.compact))


def string_similarity(a: str, b: str) -> float:
    """difflib ratio of the lower-cased, whitespace-normalised strings.

    >>> round(string_similarity("The red agent", "the  red agent."), 3)
    0.963
    """
    return difflib.SequenceMatcher(None, " ".join(a.lower().split()), " ".join(b.lower().split())).ratio()


@register_reward("open_ended")
def open_ended_reward(
    completion: str,
    answer: str,
    problem: str = "",
    judge: JudgeClient | None = None,
    similarity_threshold: float = 0.6,
    on_judge_error: Literal["raise", "fallback"] = "raise",
    w_acc: float = 0.9,
    w_fmt: float = 0.1,
) -> RewardBreakdown:
    """Open-ended answers: the judge's yes/no when a judge is given, else similarity >= threshold.

    >>> r = open_ended_reward("<think>x</think><answer>the red agent</answer>", answer="The red agent.")
    >>> r.accuracy, r.extras["graded_by"]
    (1.0, 'similarity')

    Raises:
        JudgeError: the judge failed and ``on_judge_error="raise"`` (the default).
    """
    if on_judge_error not in ("raise", "fallback"):
        raise ValueError(f"on_judge_error={on_judge_error!r} must be 'raise' or 'fallback'")
    pred = extract_answer(completion).text
    reference = extract_answer(answer).text
    fmt = float(strict_format_ok(completion))
    if not pred:
        return RewardBreakdown(combine(0.0, fmt, w_acc, w_fmt), fmt, 0.0, parse_ok=False, extras={"graded_by": None})
    similarity = string_similarity(pred, reference)
    extras: dict[str, object] = {"similarity": similarity, "graded_by": "similarity"}
    acc = float(similarity >= similarity_threshold)
    if judge is not None:
        try:
            acc = float(judge.same_meaning(pred, reference, question=problem))
            extras["graded_by"] = "judge"
        except JudgeError as err:
            if on_judge_error == "raise":
                raise
            extras["judge_error"] = str(err)
    return RewardBreakdown(combine(acc, fmt, w_acc, w_fmt), fmt, acc, extras=extras)


@register_reward("timestamp_grounding")
def timestamp_grounding_reward(
    completion: str, evidence_windows: Sequence[Sequence[float]], tolerance_s: float = 2.0
) -> RewardBreakdown:
    """Share of times cited in ``<think>`` that fall inside an evidence window ± ``tolerance_s``; none cited -> 0.

    >>> r = timestamp_grounding_reward("<think>at 0:12, and [30-35s]</think><answer>B</answer>", [(10, 14)])
    >>> r.total, r.extras["num_cited"], r.extras["num_grounded"]
    (0.5, 2, 1)
    """
    share, cited, grounded = compute_grounding(completion, evidence_windows, tolerance_s)
    return RewardBreakdown(
        total=share, extras={"num_cited": cited, "num_grounded": grounded, "no_citations": cited == 0}
    )
