"""The eval stage: every model x seed on one benchmark, scored, summarised, and written as JSON + tidy tables.

Contents:
    - ``resolve_benchmark``: the benchmark file and its videos folder (making a ``data_preset`` dataset when none).
    - ``resolve_models``: name -> checkpoint folder (a tiny model built into ``<run_dir>/model`` when needed).
    - ``write_results``: ``results.json``, ``table.{csv,parquet}`` and ``scored.{csv,parquet}`` in the run dir.
    - ``run_eval``: the whole stage; returns :class:`EvalResult`; ``stage_summary``: its ``summary.json`` keys.
    - ``score_jsonl``: rescore another system's outputs (``{id, gold, output}`` rows) with exactly our scorer.

Run-dir layout (besides ``config.yaml``, ``metrics.jsonl``, ``summary.json`` from :mod:`lvr1kit.runs`)::

    answers/          the answer cache: <key>.jsonl (+ <key>.settings.json), shared by reruns and sweeps
    results.json      reproducibility records, overall / per-group summaries, baselines, CI method
    table.csv|parquet tidy: model, group_type, group, metric, n, value, ci_low, ci_high, wilson_*, seed_*
    scored.csv|parquet one row per (model, seed, question): output, parsed letter, strict, lenient, format
    sweep.csv|parquet frame-scaling / sampling-scheme table (when ``sweep_frames`` is set, :mod:`.sweep`)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lvr1kit.config import DataGenConfig, EvalConfig, load_config
from lvr1kit.data.importers import ImportIssue
from lvr1kit.data.io import write_json_atomic
from lvr1kit.eval.runner import load_benchmark, run_model
from lvr1kit.eval.scoring import (
    SCORER_VERSION,
    majority_baseline,
    paired_comparisons,
    random_baseline,
    score_rows,
    summarize,
    summary_table,
)
from lvr1kit.eval.stats import CI_METHOD
from lvr1kit.eval.sweep import run_sweep
from lvr1kit.models import build_tiny_model, load_model, save_tiny_model

__all__ = [
    "EvalResult",
    "resolve_benchmark",
    "resolve_models",
    "run_eval",
    "score_jsonl",
    "stage_summary",
    "write_results",
]

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    """What the stage produced: scored rows, the tidy table, the results document and the sweep table."""

    scored: pd.DataFrame
    table: pd.DataFrame
    results: dict[str, Any]
    sweep: pd.DataFrame | None = None
    issues: list[ImportIssue] = field(default_factory=list)


def resolve_benchmark(cfg: EvalConfig, run_dir: str | Path) -> tuple[Path, Path]:
    """``(benchmark file, videos folder)``; with ``benchmark_file`` null, make ``data_preset`` in ``<run_dir>/data``.

    Raises:
        FileNotFoundError: A configured file or folder does not exist (the message names the key).
    """
    if cfg.benchmark_file is None:
        out = Path(run_dir) / "data"
        if not (out / "dataset" / "eval.jsonl").is_file():
            from lvr1kit.data import generate_dataset

            log.info("no benchmark_file configured: making a %s dataset in %s", cfg.data_preset, out)
            data_cfg = load_config(DataGenConfig, cfg.data_preset, {"progress": False} | cfg.data_overrides)
            generate_dataset(data_cfg, out)
        return out / "dataset" / "eval.jsonl", out / "world"
    bench = Path(cfg.benchmark_file)
    videos = Path(cfg.videos_dir) if cfg.videos_dir else bench.parent.parent / "world"
    for key, path, ok in (("benchmark_file", bench, bench.is_file()), ("videos_dir", videos, videos.is_dir())):
        if not ok:
            raise FileNotFoundError(f"{key}={path} does not exist; point it at a benchmark file and its video folder")
    return bench, videos


def resolve_models(cfg: EvalConfig, run_dir: str | Path) -> dict[str, Path]:
    """Name -> checkpoint folder, in comparison order; missing ``checkpoints`` folders are skipped with a warning.

    Raises:
        FileNotFoundError: ``model.path`` is set but is not a folder, or no model is left to evaluate.
    """
    models: dict[str, Path] = {}
    if cfg.model_name:
        if cfg.model.path is None:
            out = Path(run_dir) / "model"
            if not (out / "config.json").is_file():
                model, tokenizer = build_tiny_model(cfg.model.family, cfg.tiny_model, seed=0)
                save_tiny_model(model, tokenizer, out)
            models[cfg.model_name] = out
        elif not Path(cfg.model.path).is_dir():
            raise FileNotFoundError(f"model.path={cfg.model.path} is not a folder; give a local checkpoint folder")
        else:
            models[cfg.model_name] = Path(cfg.model.path)
    for name, path in cfg.checkpoints.items():
        if (Path(path) / "config.json").is_file():
            models[name] = Path(path)
        else:
            log.warning("checkpoints.%s=%s holds no checkpoint (no config.json); skipped", name, path)
    if not models:
        raise FileNotFoundError("no model to evaluate: every checkpoints folder is missing and model_name is null")
    return models


def _group_dict(table: pd.DataFrame, model: str, group_type: str) -> dict[str, dict[str, Any]]:
    part = table[(table["model"] == model) & (table["group_type"] == group_type)]
    out: dict[str, dict[str, Any]] = {}
    for row in part.itertuples():
        entry = out.setdefault(str(row.group), {"n": int(row.n)})
        entry |= {row.metric: row.value, f"{row.metric}_ci": [row.ci_low, row.ci_high]}
    return out


def write_results(
    run_dir: Path,
    cfg: EvalConfig,
    scored: pd.DataFrame,
    records: dict[str, list[dict[str, Any]]],
    benchmark: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Summarise ``scored`` and write ``results.json``, ``table.*`` and ``scored.*``; returns (table, results)."""
    table = summary_table(scored, samples=cfg.bootstrap_samples, level=cfg.ci_level, seed=0)
    questions = scored.drop_duplicates("id")
    letter, share = majority_baseline(questions["gold"])
    models: dict[str, Any] = {}
    for name in scored["model"].unique():
        part = scored[scored["model"] == name]
        models[str(name)] = {
            "reproducibility": records[str(name)],
            "overall": summarize(part) | _group_dict(table, str(name), "overall").get("all", {}),
            "per_seed": {int(s): summarize(p) for s, p in part.groupby("seed")},
            "per_category": _group_dict(table, str(name), "category"),
            "per_duration": _group_dict(table, str(name), "duration"),
            "per_letter": _group_dict(table, str(name), "letter"),
            "predicted_letters": part["parsed"].fillna("none").value_counts().to_dict(),
        }
    results = {
        "scorer_version": SCORER_VERSION,
        "ci_method": CI_METHOD.format(samples=cfg.bootstrap_samples, seed=0, level=cfg.ci_level),
        "benchmark": benchmark,
        "baselines": {
            "majority": {"letter": letter, "accuracy": share},
            "random": {"accuracy": random_baseline(questions["num_options"].astype(int))},
            "gold_letters": questions["gold"].value_counts().sort_index().to_dict(),
        },
        "models": models,
    }
    if cfg.compare_to is not None:
        results["comparisons"] = {
            "reference": cfg.compare_to,
            "metric": "accuracy_lenient",
            "models": paired_comparisons(
                scored, cfg.compare_to, samples=cfg.bootstrap_samples, level=cfg.ci_level, seed=0
            ),
        }
    write_json_atomic(run_dir / "results.json", results)
    table.to_csv(run_dir / "table.csv", index=False)
    table.to_parquet(run_dir / "table.parquet", index=False)
    scored.to_csv(run_dir / "scored.csv", index=False)
    scored.astype({"parsed": "string", "error": "string"}).to_parquet(run_dir / "scored.parquet", index=False)
    return table, results


def run_eval(cfg: EvalConfig, run_dir: str | Path) -> EvalResult:
    """Answer the benchmark with every model and seed, score, write results; run the sweep when configured."""
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    bench, videos_dir = resolve_benchmark(cfg, out)
    records, issues = load_benchmark(bench, cfg.benchmark_format, cfg.limit)
    models = resolve_models(cfg, out)
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else out / "answers"
    rows: list[dict[str, Any]] = []
    repro: dict[str, list[dict[str, Any]]] = {}
    for name, path in models.items():
        loaded = load_model(path, dtype=cfg.model.dtype, device=cfg.model.device)
        model_rows, repro[name] = run_model(cfg, name, loaded, records, videos_dir, cache_dir)
        rows += model_rows
    scored, problems = score_rows(rows, duration_edges_s=cfg.duration_edges_s)
    for problem in problems:
        log.warning("%s", problem)
    benchmark = {
        "file": str(bench),
        "format": cfg.benchmark_format,
        "videos_dir": str(videos_dir),
        "questions": len(records),
        "malformed_rows": [{"row": i.row, "problem": i.problem} for i in issues],
    }
    table, results = write_results(out, cfg, scored, repro, benchmark)
    sweep = None
    if cfg.sweep_frames:
        sweep = run_sweep(cfg, models, records, videos_dir, cache_dir, out)
    return EvalResult(scored=scored, table=table, results=results, sweep=sweep, issues=issues)


def stage_summary(result: EvalResult) -> dict[str, Any]:
    """The keys the eval notebook and ``lvr1 eval run`` write into ``summary.json`` (model -> number maps)."""
    models = result.results["models"]
    summary: dict[str, Any] = {
        "models": list(models),
        "questions": result.results["benchmark"]["questions"],
        "malformed_rows": len(result.results["benchmark"]["malformed_rows"]),
        "scorer_version": result.results["scorer_version"],
        "majority_baseline": result.results["baselines"]["majority"],
        "random_baseline": result.results["baselines"]["random"]["accuracy"],
    }
    for metric in ("accuracy_lenient", "accuracy_strict", "format_rate"):
        summary[metric] = {name: m["overall"][metric] for name, m in models.items()}
    summary["parse_fail"] = {name: m["overall"]["parse_fail"] for name, m in models.items()}
    summary["errors"] = {name: m["overall"]["errors"] for name, m in models.items()}
    summary["per_category"] = {
        name: {cat: v["accuracy_lenient"] for cat, v in m["per_category"].items()} for name, m in models.items()
    }
    comparisons = result.results.get("comparisons")
    summary["diff_vs_reference"] = None
    if comparisons is not None:
        summary["diff_vs_reference"] = {
            "reference": comparisons["reference"],
            **{
                name: {g: round(v["diff"], 4) for g, v in groups.items()}
                for name, groups in comparisons["models"].items()
            },
        }
    summary["frame_scaling"] = None
    if result.sweep is not None and not result.sweep.empty:
        part = result.sweep[(result.sweep["group_type"] == "overall") & (result.sweep["metric"] == "accuracy_lenient")]
        summary["frame_scaling"] = {
            str(strategy): {int(r.frames): r.value for r in rows.itertuples()}
            for strategy, rows in part.groupby("strategy")
        }
    return summary


def score_jsonl(
    path: str | Path, out: str | Path, *, samples: int = 1000, level: float = 0.95
) -> tuple[dict[str, Any], list[str]]:
    """Score ``{id, gold, output}`` JSONL rows (optional ``category``, ``duration_s``, ``num_options``, ``model``).

    Writes one scored row per input row to ``out`` (JSONL) and returns (summary, problems): the summary holds the
    overall numbers with CIs, per-category and per-letter numbers, the baselines and the scorer version; problems
    lists malformed rows (bad JSON, missing keys, a gold that is not a letter), which are skipped, never fatal.
    """
    from lvr1kit.data.io import read_jsonl, write_jsonl_atomic

    rows, problems = [], []
    for number, row, error in read_jsonl(path):
        if row is None:
            problems.append(f"line {number}: {error}; skipped")
        else:
            rows.append(row)
    scored, bad = score_rows(rows)
    problems += bad
    columns = ["id", "gold", "parsed", "strict", "lenient", "format_ok", "parse_fail", "category"]
    columns += [c for c in ("model", "seed", "duration_bucket", "error") if c in scored]
    write_jsonl_atomic(out, json.loads(scored[columns].to_json(orient="records")) if not scored.empty else [])
    summary: dict[str, Any] = {"scorer_version": SCORER_VERSION, "rows": len(scored), "malformed": len(problems)}
    if scored.empty:
        return summary, problems
    table = summary_table(scored, samples=samples, level=level)
    letter, share = majority_baseline(scored.drop_duplicates("id")["gold"])
    summary |= {
        "ci_method": CI_METHOD.format(samples=samples, seed=0, level=level),
        "baselines": {
            "majority": {"letter": letter, "accuracy": share},
            "random": {"accuracy": random_baseline(scored["num_options"].astype(int))},
        },
        "models": {
            str(name): {
                "overall": summarize(part) | _group_dict(table, str(name), "overall").get("all", {}),
                "per_category": _group_dict(table, str(name), "category"),
                "per_letter": _group_dict(table, str(name), "letter"),
            }
            for name, part in (scored.groupby("model") if "model" in scored else [("model", scored)])
        },
    }
    return summary, problems
