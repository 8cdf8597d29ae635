"""Scoring of model outputs with the shared answer parser: per row, per group, baselines, one tidy table.

Contents:
    - ``SCORER_VERSION``: recorded in every result file; bump it when a rule here or in the parser changes.
    - ``CATEGORY_NAMES`` / ``duration_bucket``: display names of the paper's categories; duration buckets.
    - ``score_output``: one output against its gold letter -> strict, lenient, format, parsed letter, parse failure.
    - ``score_rows``: rows ``{id, gold, output, [category, duration_s, num_options, options, error, ...]}`` -> a
      DataFrame with one scored row each; malformed rows (no id, bad gold) come back in a list, never raise.
    - ``summarize``: counts and rates of a set of scored rows (``accuracy_strict``, ``accuracy_lenient``, ...).
    - ``majority_baseline`` / ``random_baseline``: always-the-most-frequent-gold-letter and 1/num_options.
    - ``summary_table``: a tidy table (model x group x metric) with bootstrap and Wilson intervals and the spread
      over seeds, baselines included as models named ``baseline:majority`` and ``baseline:random``.
    - ``paired_comparisons``: each model minus a reference model on the same questions (overall and per category),
      with a paired bootstrap interval and win/loss counts: the numbers behind "GRPO beat SFT by X points".

Rules (see docs/eval.md):
    - strict: :func:`lvr1kit.rewards.strict_match`, the official evaluator's exact ``<answer>`` span equality;
    - lenient: :func:`lvr1kit.rewards.lenient_match`, the letter extracted unambiguously equals the gold letter;
    - format: :func:`lvr1kit.rewards.strict_format_ok` (``<think>…</think>\\s*<answer>…</answer>``, whole output);
    - parse failure: no letter could be extracted unambiguously (``extract_choice`` is ``None``) from an output;
    - a row whose video failed (``error`` set) counts as wrong, is not a parse failure, and is counted in ``errors``.

Deviations from the paper:
1. The official scorer reports one overall number with strict span equality; here both rules, per category,
   duration bucket and gold letter, with baselines and intervals (PAPER.md §11 hazard 7, §12).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lvr1kit.eval.stats import bootstrap_ci, paired_bootstrap_diff, seed_spread, wilson_interval
from lvr1kit.rewards import extract_choice, normalize_ground_truth, strict_format_ok, strict_match

__all__ = [
    "CATEGORY_NAMES",
    "GROUP_TYPES",
    "METRICS",
    "SCORER_VERSION",
    "duration_bucket",
    "majority_baseline",
    "paired_comparisons",
    "random_baseline",
    "score_output",
    "score_rows",
    "summarize",
    "summary_table",
]

SCORER_VERSION = "lvr1-score-v1"
"""Version of the scoring rules (this module plus :mod:`lvr1kit.rewards.parser`)."""

CATEGORY_NAMES: dict[str, str] = {
    "temporal": "Temporal",
    "goal": "Goal and Purpose",
    "spatial": "Spatial",
    "plot": "Plot and Narrative",
    "other": "Other",
}
"""``problem_type`` -> the paper's category name."""

METRICS: tuple[str, ...] = ("accuracy_lenient", "accuracy_strict", "format_rate", "parse_fail_rate")
"""Per-row 0/1 metrics averaged by summaries; column ``<metric>`` of a scored frame is its per-row value."""

GROUP_TYPES: tuple[str, ...] = ("overall", "category", "duration", "letter")
"""Groupings of ``summary_table``: all rows, ``category``, ``duration_bucket``, gold ``letter``."""

_GROUP_COLUMNS: dict[str, str | None] = {
    "overall": None,
    "category": "category",
    "duration": "duration_bucket",
    "letter": "gold",
}


def duration_bucket(seconds: float | None, edges_s: Sequence[float] = (120, 600, 1800)) -> str:
    """Name of the duration bucket of a video (edges in seconds; lower edge inclusive).

    >>> duration_bucket(30), duration_bucket(366), duration_bucket(4000), duration_bucket(None)
    ('<2m', '2m-10m', '>=30m', 'unknown')
    """
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "unknown"

    def name(s: float) -> str:
        return f"{s / 60:g}m" if s >= 60 else f"{s:g}s"

    edges = sorted(edges_s)
    if not edges or seconds < edges[0]:
        return f"<{name(edges[0])}" if edges else "all"
    for low, high in itertools.pairwise(edges):
        if low <= seconds < high:
            return f"{name(low)}-{name(high)}"
    return f">={name(edges[-1])}"


def score_output(
    output: str, gold: str, *, num_options: int = 4, options: Sequence[str] | None = None
) -> dict[str, Any]:
    """Score one output against the gold answer (a letter or ``<answer>X</answer>``).

    >>> r = score_output("<think>x</think> <answer>B.</answer>", "B")
    >>> r["strict"], r["lenient"], r["format_ok"], r["parsed"], r["parse_fail"]
    (False, True, True, 'B', False)
    >>> score_output("<think>x</think><answer>A or B</answer>", "<answer>B</answer>")["parse_fail"]
    True

    Raises:
        ValueError: ``gold`` is not a single option letter.
    """
    letter = normalize_ground_truth(gold, num_options)
    parsed = extract_choice(output, num_options=num_options, options=options)
    return {
        "gold": letter,
        "parsed": parsed,
        "strict": strict_match(output, letter),
        "lenient": parsed is not None and parsed == letter,
        "format_ok": strict_format_ok(output),
        "parse_fail": parsed is None,
    }


def score_rows(
    rows: Iterable[Mapping[str, Any]], *, duration_edges_s: Sequence[float] = (120, 600, 1800)
) -> tuple[pd.DataFrame, list[str]]:
    """Score rows ``{id, gold, output}`` (optional ``category``, ``duration_s``, ``num_options``, ``options``,
    ``error``; any other key is carried through, e.g. ``model`` and ``seed``).

    Returns:
        The scored frame (input columns kept, plus ``gold`` normalised, ``parsed``, ``strict``, ``lenient``,
        ``format_ok``, ``parse_fail``, ``category``, ``duration_bucket`` and the 0/1 ``METRICS`` columns) and
        one message per malformed row (``row N (id X): what is wrong``).
    """
    scored, problems = [], []
    for number, row in enumerate(rows, start=1):
        rid = row.get("id")
        where = f"row {number}" + (f" (id {rid})" if rid is not None else "")
        if rid is None or row.get("gold") in (None, ""):
            problems.append(f"{where}: needs 'id' and 'gold' (and 'output'); skipped")
            continue
        output, error = row.get("output"), row.get("error") or None
        if not isinstance(output, str):
            if error is None:
                problems.append(f"{where}: 'output' must be a string, got {type(output).__name__}; skipped")
                continue
            output = ""
        try:
            result = score_output(
                output, str(row["gold"]), num_options=int(row.get("num_options") or 4), options=row.get("options")
            )
        except ValueError as err:
            problems.append(f"{where}: {err}; skipped")
            continue
        if error is not None:  # a failed video/prompt: wrong, counted separately, not a parse failure
            result |= {"strict": False, "lenient": False, "format_ok": False, "parse_fail": False}
        category = str(row.get("category") or "other")
        scored.append(
            {k: v for k, v in row.items() if k not in ("options",)}
            | result
            | {
                "category": category,
                "duration_bucket": duration_bucket(row.get("duration_s"), duration_edges_s),
                "num_options": int(row.get("num_options") or 4),
                "error": error,
                "accuracy_lenient": float(result["lenient"]),
                "accuracy_strict": float(result["strict"]),
                "format_rate": float(result["format_ok"]),
                "parse_fail_rate": float(result["parse_fail"]),
            }
        )
    return pd.DataFrame(scored), problems


def summarize(scored: pd.DataFrame) -> dict[str, Any]:
    """Counts and rates of scored rows: ``n``, the ``METRICS``, ``parse_fail`` and ``errors`` counts."""
    n = len(scored)
    out: dict[str, Any] = {"n": n}
    for metric in METRICS:
        out[metric] = float(scored[metric].mean()) if n else math.nan
    out["parse_fail"] = int(scored["parse_fail"].sum()) if n else 0
    out["errors"] = int(scored["error"].notna().sum()) if n else 0
    return out


def majority_baseline(golds: Iterable[str]) -> tuple[str | None, float]:
    """The most frequent gold letter and its share: the accuracy of always answering it (ties: first letter).

    >>> majority_baseline(["B"] * 441 + ["C"] * 299 + ["A"] * 153 + ["D"] * 107)
    ('B', 0.441)
    """
    counts = Counter(golds)
    if not counts:
        return None, math.nan
    letter = min(counts, key=lambda k: (-counts[k], k))
    return letter, counts[letter] / sum(counts.values())


def random_baseline(num_options: Iterable[int]) -> float:
    """Expected accuracy of a uniform random guess: the mean of ``1 / num_options``.

    >>> random_baseline([4, 4, 4, 4])
    0.25
    """
    values = [1 / k for k in num_options]
    return float(np.mean(values)) if values else math.nan


def _baseline_frames(questions: pd.DataFrame) -> list[pd.DataFrame]:
    letter, _ = majority_baseline(questions["gold"])
    chance = 1 / questions["num_options"].fillna(4).astype(float)
    frames = []
    for name, values in (
        ("baseline:majority", (questions["gold"] == letter).astype(float)),
        ("baseline:random", chance),
    ):
        frame = questions.copy()
        frame["model"], frame["seed"] = name, 0
        for metric in METRICS:
            frame[metric] = values if metric.startswith("accuracy") else math.nan
        frames.append(frame)
    return frames


def _group_rows(part: pd.DataFrame, samples: int, level: float, seed: int) -> list[dict[str, Any]]:
    """Rows of the tidy table for one (model, group): per metric, value, intervals and seed spread."""
    rows = []
    per_question = part.groupby("id", sort=True)[list(METRICS)].mean()  # average over seeds first
    per_seed = part.groupby("seed")[list(METRICS)].mean()
    for metric in METRICS:
        values = per_question[metric].dropna().to_numpy()
        if values.size == 0:
            continue
        low, high = bootstrap_ci(values, samples=samples, level=level, seed=seed)
        w_low, w_high = wilson_interval(round(values.sum()), values.size, level)
        spread = seed_spread(per_seed[metric].dropna().tolist(), level)
        rows.append(
            {
                "metric": metric,
                "n": int(values.size),
                "value": float(values.mean()),
                "ci_low": low,
                "ci_high": high,
                "wilson_low": w_low,
                "wilson_high": w_high,
                "seeds": spread.n,
                "seed_mean": spread.mean,
                "seed_std": spread.std,
                "seed_ci_low": spread.ci_low,
                "seed_ci_high": spread.ci_high,
            }
        )
    return rows


def summary_table(
    scored: pd.DataFrame,
    *,
    samples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    baselines: bool = True,
) -> pd.DataFrame:
    """Tidy table: one row per (model, group_type, group, metric) with ``value``, bootstrap ``ci_low``/``ci_high``,
    Wilson interval and the spread over seeds.

    Args:
        scored: Output of :func:`score_rows` with ``model`` and ``seed`` columns (added as ``"model"``/0 if absent).
        samples: Bootstrap resamples.
        level: Interval level.
        seed: Seed of the bootstrap RNG.
        baselines: Add ``baseline:majority`` (always the overall most frequent gold letter) and ``baseline:random``.
    """
    frame = scored.copy()
    if frame.empty:
        return pd.DataFrame(columns=["model", "group_type", "group", "metric", "n", "value", "ci_low", "ci_high"])
    for name, default in (("model", "model"), ("seed", 0), ("num_options", 4)):
        if name not in frame:
            frame[name] = default
    frames = [frame]
    if baselines:
        questions = frame.drop_duplicates("id")[["id", "gold", "category", "duration_bucket", "num_options"]]
        frames += _baseline_frames(questions)
    rows = []
    for part_frame in frames:
        for (model,), by_model in part_frame.groupby(["model"], sort=False):
            for group_type in GROUP_TYPES:
                column = _GROUP_COLUMNS[group_type]
                groups = [("all", by_model)] if column is None else sorted(by_model.groupby(column), key=lambda g: g[0])
                for group, part in groups:
                    for row in _group_rows(part, samples, level, seed):
                        rows.append({"model": model, "group_type": group_type, "group": str(group), **row})
    return pd.DataFrame(rows)


def paired_comparisons(
    scored: pd.DataFrame,
    reference: str,
    *,
    metric: str = "accuracy_lenient",
    samples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Each model minus ``reference`` on the questions both answered, overall and per category.

    A question's score is its ``metric`` averaged over the model's seeds; the difference of those per-question
    scores is resampled by question (paired bootstrap), so the interval reflects only disagreements.

    Returns:
        ``{model: {"all" | category: {"n", "diff", "ci": [low, high], "wins", "losses"}}}`` where ``wins`` counts
        questions the model scored higher on and ``losses`` lower.

    Raises:
        ValueError: ``reference`` is not among the scored models (the message lists them).
    """
    models = [str(m) for m in scored["model"].unique()]
    if reference not in models:
        raise ValueError(f"compare_to={reference!r} is not an evaluated model; pick one of {models}")
    per_question = scored.groupby(["model", "id"], sort=False).agg(
        score=(metric, "mean"), category=("category", "first")
    )
    ref = per_question.loc[reference]
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for model in models:
        if model == reference:
            continue
        joined = per_question.loc[model].join(ref["score"].rename("ref"), how="inner")
        groups = [("all", joined)] + [(str(c), part) for c, part in joined.groupby("category", sort=True)]
        out[model] = {}
        for name, part in groups:
            diff, low, high = paired_bootstrap_diff(
                part["score"].to_numpy(), part["ref"].to_numpy(), samples=samples, level=level, seed=seed
            )
            out[model][name] = {
                "n": len(part),
                "diff": diff,
                "ci": [low, high],
                "wins": int((part["score"] > part["ref"]).sum()),
                "losses": int((part["score"] < part["ref"]).sum()),
            }
    return out
