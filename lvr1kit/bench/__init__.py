"""Benchmarks of the workbench; ``bench_app`` is the ``lvr1 bench ...`` Typer app.

Contents:
    * ``bench_app`` with command ``video``: long-video frame sampling benchmark (see ``lvr1kit.bench.video``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

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
