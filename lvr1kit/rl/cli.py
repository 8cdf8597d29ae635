"""``lvr1 rl``: train GRPO from a preset (``lvr1 rl train --preset rl/tiny --run-dir runs/dev/rl [--nproc 2]``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lvr1kit.config import ConfigError, RLConfig, load_config, parse_override

__all__ = ["rl_app"]

rl_app = typer.Typer(help="GRPO with MR-SP (stage rl).", no_args_is_help=True)


@rl_app.command("train")
def train_command(
    preset: Annotated[str, typer.Option("--preset", help="Packaged preset (rl/tiny) or YAML path.")] = "rl/tiny",
    sets: Annotated[list[str] | None, typer.Option("--set", help="Dotted override key=value (repeatable).")] = None,
    run_dir: Annotated[Path, typer.Option("--run-dir", help="Run dir (resumed if it holds a checkpoint).")] = Path(
        "runs/dev/rl"
    ),
    nproc: Annotated[
        int | None, typer.Option("--nproc", min=1, help="Processes (torchrun; gloo on CPU); sets `nproc`.")
    ] = None,
) -> None:
    """Resolve the config, write it to the run dir, and train (in-process, or under torchrun when nproc > 1)."""
    overrides = dict(parse_override(s) for s in sets or [])
    if nproc is not None:
        overrides["nproc"] = nproc
    try:
        cfg = load_config(RLConfig, preset, overrides)
    except ConfigError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    from lvr1kit.rl.train import run_rl_stage

    summary = run_rl_stage(cfg, run_dir)
    typer.echo(f"rl: {summary.get('steps')} steps, reward {summary.get('reward_mean_last')}, summary in {run_dir}")
