"""``lvr1 eval``: answer a benchmark with checkpoints, rescore any system's outputs, sweep frames and samplers.

``eval_app`` is registered in :mod:`lvr1kit.cli`; ``python -m lvr1kit.eval.cli`` runs it alone.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from lvr1kit import runs
from lvr1kit.config import ConfigError, EvalConfig, load_config, parse_override

__all__ = ["eval_app"]

eval_app = typer.Typer(
    help="Evaluation: strict + lenient accuracy per category with CIs, rescoring, frame-scaling sweeps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_PRESET = typer.Option("--preset", help="Packaged preset (eval/tiny) or YAML path.")
_SET = typer.Option("--set", help="Dotted override key=value (repeatable), e.g. --set decoding.do_sample=true.")
_RUN_DIR = typer.Option("--run-dir", help="Run folder (created; a rerun continues from the answer cache).")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _config(preset: str, set_: list[str] | None, extra: dict[str, object] | None = None) -> EvalConfig:
    overrides = dict(parse_override(s) for s in set_ or [])
    return load_config(EvalConfig, preset, overrides | (extra or {}))


@eval_app.command("run")
def run_command(
    run_dir: Annotated[Path, _RUN_DIR],
    preset: Annotated[str, _PRESET] = "eval/tiny",
    set_: Annotated[list[str] | None, _SET] = None,
) -> None:
    """Answer the benchmark with every configured model and seed; write results.json, table.*, scored.*."""
    from lvr1kit.eval.evaluate import run_eval, stage_summary

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = _config(preset, set_)
        run = runs.start(run_dir, cfg, stage="eval")
    except (ConfigError, runs.RunError) as err:
        raise _fail(str(err)) from None
    try:
        result = run_eval(cfg, run.dir)
    except (FileNotFoundError, ValueError) as err:
        runs.finish(run, {"error": str(err)}, status="failed")
        raise _fail(str(err)) from None
    summary = runs.finish(run, stage_summary(result))
    typer.echo(
        json.dumps({k: summary[k] for k in ("models", "accuracy_lenient", "accuracy_strict", "majority_baseline")})
    )


@eval_app.command("score")
def score_command(
    file: Annotated[Path, typer.Argument(help="JSONL rows {id, gold, output} (+ category, duration_s, model, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Per-row JSONL: parsed letter, strict, lenient, format.")],
    summary_out: Annotated[
        Path | None, typer.Option("--summary", help="Summary JSON (default: OUT with .summary.json).")
    ] = None,
    samples: Annotated[int, typer.Option("--bootstrap-samples", help="Bootstrap resamples of each CI.")] = 1000,
) -> None:
    """Rescore another system's outputs with exactly our scorer; malformed rows are listed on stderr, not fatal."""
    from lvr1kit.data.io import write_json_atomic
    from lvr1kit.eval.evaluate import score_jsonl

    if not file.is_file():
        raise _fail(f"{file} not found; give a JSONL file of {{id, gold, output}} rows")
    summary, problems = score_jsonl(file, out, samples=samples)
    for problem in problems:
        typer.echo(problem, err=True)
    target = summary_out or out.with_suffix(".summary.json")
    write_json_atomic(target, summary)
    overall = {name: m["overall"] for name, m in summary.get("models", {}).items()}
    line = {"out": str(out), "summary": str(target), "rows": summary["rows"], "malformed": summary["malformed"]}
    typer.echo(json.dumps(line | {"overall": overall}, default=str))
    if summary["rows"] == 0:
        raise _fail(f"{file}: no row could be scored", code=1)


@eval_app.command("sweep")
def sweep_command(
    run_dir: Annotated[Path, _RUN_DIR],
    preset: Annotated[str, _PRESET] = "eval/tiny",
    frames: Annotated[
        str | None, typer.Option("--frames", help="Frame budgets, e.g. 16,32,64 (default: preset).")
    ] = None,
    strategies: Annotated[
        str | None, typer.Option("--strategies", help="uniform,fps,per_clip (default: preset, else uniform).")
    ] = None,
    set_: Annotated[list[str] | None, _SET] = None,
) -> None:
    """Frame-scaling sweep (and sampling-scheme ablation) of one model; writes sweep.csv / sweep.parquet."""
    from lvr1kit.eval.evaluate import resolve_benchmark, resolve_models
    from lvr1kit.eval.runner import load_benchmark
    from lvr1kit.eval.sweep import run_sweep

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    extra: dict[str, object] = {}
    try:
        if frames:
            extra["sweep_frames"] = [int(f) for f in frames.split(",")]
        if strategies:
            extra["sweep_strategies"] = strategies.split(",")
        cfg = _config(preset, set_, extra)
    except ValueError as err:  # ConfigError is a ValueError; so is int("x")
        raise _fail(f"{err} (--frames takes integers such as 16,32,64)") from None
    if not cfg.sweep_frames:
        raise _fail("no frame budgets: pass --frames 16,32,64 or set sweep_frames in the preset")
    out = Path(run_dir) / "sweep"
    out.mkdir(parents=True, exist_ok=True)
    try:
        bench, videos_dir = resolve_benchmark(cfg, run_dir)
        records, _ = load_benchmark(bench, cfg.benchmark_format, cfg.limit)
        models = resolve_models(cfg, run_dir)
        cache = Path(cfg.cache_dir) if cfg.cache_dir else Path(run_dir) / "answers"
        table = run_sweep(cfg, models, records, videos_dir, cache, out)
    except (FileNotFoundError, ValueError) as err:
        raise _fail(str(err)) from None
    overall = table[(table["group_type"] == "overall") & (table["metric"] == "accuracy_lenient")]
    typer.echo(overall[["model", "strategy", "frames", "n", "value", "ci_low", "ci_high"]].to_string(index=False))


if __name__ == "__main__":
    eval_app()
