"""Benchmarks of the workbench; ``bench_app`` is the ``lvr1 bench ...`` Typer app.

Contents:
    * ``bench_app`` with commands ``video`` (long-video frame sampling, ``lvr1kit.bench.video``), ``model``
      (vision encode / prefill / generate cost per frame count, ``lvr1kit.bench.model``) and ``mrsp`` (one GRPO
      step: baseline vs MR-SP stage 1 vs stage 1 + 2, and per-rank prefill memory, ``lvr1kit.bench.mrsp``);
      heavy imports are deferred so ``lvr1 --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

bench_app = typer.Typer(help="Benchmarks.", no_args_is_help=True)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


@bench_app.callback()
def _bench() -> None:
    """Benchmarks."""


@bench_app.command("video")
def video_command(
    out: Annotated[Path, typer.Option(help="JSON report path.")],
    minutes: Annotated[str, typer.Option(help="Comma-separated video lengths in minutes.")] = "10,60",
    frames: Annotated[str, typer.Option(help="Comma-separated uniform frame counts.")] = "64,256,512,1024",
    height: Annotated[int, typer.Option(help="Test video height (16:9).")] = 448,
    cache_dir: Annotated[Path | None, typer.Option(help="Test video cache folder.")] = None,
    naive_max_minutes: Annotated[float, typer.Option(help="Measure naive for every count up to here.")] = 10,
    backends: Annotated[str, typer.Option(help="Comma-separated backends.")] = "decord,pyav",
    modes: Annotated[str, typer.Option(help="Comma-separated snap modes: none (exact), keyframe.")] = "none,keyframe",
    repeats: Annotated[int, typer.Option(help="Timed runs per row; the minimum is reported.")] = 1,
) -> None:
    """Time uniform frame sampling on generated 448p H.264 videos against a naive full decode."""
    from lvr1kit.bench.video import run_video_benchmark

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = run_video_benchmark(
        out,
        _floats(minutes),
        _ints(frames),
        height,
        cache_dir,
        naive_max_minutes,
        [b for b in backends.split(",") if b],
        [m for m in modes.split(",") if m],
        repeats,
    )
    typer.echo(json.dumps(report["targets"]))


def _write_report(out: Path, report: dict[str, Any], *extra: Any) -> None:
    """Write ``report`` as JSON to ``out``; echo one line per result row, then ``extra`` objects, then the path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    for row in [*report["results"], *extra]:
        typer.echo(json.dumps(row))
    typer.echo(f"wrote {out}", err=True)


@bench_app.command("model")
def model_command(
    out: Annotated[Path, typer.Option(help="JSON file to write the results to.")],
    size: Annotated[str, typer.Option(help="Tiny preset to benchmark: bench (default) or tiny.")] = "bench",
    family: Annotated[str, typer.Option(help="qwen2_5_vl or qwen3_vl.")] = "qwen2_5_vl",
    frames: Annotated[str, typer.Option(help="Comma-separated frame counts.")] = "64,256,512,1024",
    frame_size: Annotated[int, typer.Option(help="Square frame side in pixels.")] = 56,
    new_tokens: Annotated[int, typer.Option(help="Tokens to generate per measurement.")] = 64,
    repeats: Annotated[int, typer.Option(help="Timed runs per phase (median reported).")] = 1,
    model_path: Annotated[Path | None, typer.Option(help="Benchmark this checkpoint folder instead.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of model weights and frames.")] = 0,
) -> None:
    """Time vision encode, LM prefill and generation, and peak RSS, for each frame count."""
    from lvr1kit.bench.model import run_model_bench

    try:
        frame_counts = _ints(frames)
    except ValueError:
        raise typer.BadParameter(f"--frames {frames!r} must be comma-separated integers, e.g. 64,256") from None
    if not frame_counts or min(frame_counts) < 1:
        raise typer.BadParameter(f"--frames {frames!r} needs at least one positive count")
    report = run_model_bench(
        frame_counts,
        size=size,
        family=family,
        model_path=model_path,
        frame_size=frame_size,
        new_tokens=new_tokens,
        repeats=repeats,
        seed=seed,
    )
    _write_report(out, report)


@bench_app.command("mrsp")
def mrsp_command(
    out: Annotated[Path, typer.Option(help="JSON file to write the results to.")],
    model: Annotated[str, typer.Option(help="tiny, bench (random-init, built here) or a checkpoint folder.")] = "bench",
    frames: Annotated[str, typer.Option(help="Comma-separated frame counts.")] = "128,256,512,1024,2048",
    generations: Annotated[int, typer.Option(help="G, completions per prompt.")] = 8,
    prompts: Annotated[int, typer.Option(help="Prompts per step (one video each).")] = 2,
    response_tokens: Annotated[int, typer.Option(help="Maximum response tokens.")] = 16,
    sp: Annotated[int, typer.Option(help="Ranks of the stage1+sp rows (torchrun subprocess); 1 skips them.")] = 2,
    frame_size: Annotated[int, typer.Option(help="Square frame side in pixels.")] = 56,
    mem_budget_mb: Annotated[float | None, typer.Option(help="Per-rank prefill memory budget in MB.")] = None,
    ladder: Annotated[str | None, typer.Option(help="Frame counts of the prefill-memory ladder.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of model, frames and rollouts.")] = 0,
    warmup: Annotated[bool, typer.Option(help="One untimed step per process first.")] = True,
    threads: Annotated[int | None, typer.Option(help="torch threads per process (default cores // sp).")] = None,
) -> None:
    """One GRPO step per frame count: baseline, MR-SP stage 1, stage 1 + SP on K ranks; prefill memory per rank."""
    from lvr1kit.bench.mrsp import run_mrsp_bench

    try:
        frame_counts, ladder_counts = _ints(frames), _ints(ladder) if ladder else None
    except ValueError:
        raise typer.BadParameter(f"--frames {frames!r} must be comma-separated integers, e.g. 128,512") from None
    if not frame_counts or min(frame_counts) < 2:
        raise typer.BadParameter(f"--frames {frames!r} needs at least one count >= 2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    report = run_mrsp_bench(
        frame_counts,
        model=model,
        generations=generations,
        prompts=prompts,
        response_tokens=response_tokens,
        sp=sp,
        frame_size=frame_size,
        mem_budget_mb=mem_budget_mb,
        ladder=ladder_counts,
        seed=seed,
        warmup=warmup,
        threads=threads,
    )
    _write_report(out, report, report["memory"])
