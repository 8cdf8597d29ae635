"""Evaluation: answer a benchmark with local checkpoints, score strictly and leniently with the shared parser,
per category / duration / letter, with baselines, bootstrap CIs and seed spread; frame-scaling and sampling sweeps.

See docs/eval.md. ``lvr1kit.eval.lmms`` (the optional lmms-eval adapter) is not imported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lvr1kit._lazy import lazy_exports

if TYPE_CHECKING:
    from lvr1kit.eval.evaluate import (
        EvalResult,
        resolve_benchmark,
        resolve_models,
        run_eval,
        score_jsonl,
        stage_summary,
        write_results,
    )
    from lvr1kit.eval.runner import (
        AnswerCache,
        AnswerSettings,
        answer_benchmark,
        budget_video_config,
        load_benchmark,
        model_fingerprint,
        run_model,
    )
    from lvr1kit.eval.scoring import (
        CATEGORY_NAMES,
        METRICS,
        SCORER_VERSION,
        duration_bucket,
        majority_baseline,
        random_baseline,
        score_output,
        score_rows,
        summarize,
        summary_table,
    )
    from lvr1kit.eval.stats import (
        CI_METHOD,
        SeedSpread,
        bootstrap_ci,
        paired_bootstrap_diff,
        seed_spread,
        wilson_interval,
    )
    from lvr1kit.eval.sweep import run_sweep, sweep_table

__all__ = [
    "CATEGORY_NAMES",
    "CI_METHOD",
    "METRICS",
    "SCORER_VERSION",
    "AnswerCache",
    "AnswerSettings",
    "EvalResult",
    "SeedSpread",
    "answer_benchmark",
    "bootstrap_ci",
    "budget_video_config",
    "duration_bucket",
    "load_benchmark",
    "majority_baseline",
    "model_fingerprint",
    "paired_bootstrap_diff",
    "random_baseline",
    "resolve_benchmark",
    "resolve_models",
    "run_eval",
    "run_model",
    "run_sweep",
    "score_jsonl",
    "score_output",
    "score_rows",
    "seed_spread",
    "stage_summary",
    "summarize",
    "summary_table",
    "sweep_table",
    "wilson_interval",
    "write_results",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AnswerCache": "runner",
        "AnswerSettings": "runner",
        "CATEGORY_NAMES": "scoring",
        "CI_METHOD": "stats",
        "EvalResult": "evaluate",
        "METRICS": "scoring",
        "SCORER_VERSION": "scoring",
        "SeedSpread": "stats",
        "answer_benchmark": "runner",
        "bootstrap_ci": "stats",
        "budget_video_config": "runner",
        "duration_bucket": "scoring",
        "load_benchmark": "runner",
        "majority_baseline": "scoring",
        "model_fingerprint": "runner",
        "paired_bootstrap_diff": "stats",
        "random_baseline": "scoring",
        "resolve_benchmark": "evaluate",
        "resolve_models": "evaluate",
        "run_eval": "evaluate",
        "run_model": "runner",
        "run_sweep": "sweep",
        "score_jsonl": "evaluate",
        "score_output": "scoring",
        "score_rows": "scoring",
        "seed_spread": "stats",
        "stage_summary": "evaluate",
        "summarize": "scoring",
        "summary_table": "scoring",
        "sweep_table": "sweep",
        "wilson_interval": "stats",
        "write_results": "evaluate",
    },
)
