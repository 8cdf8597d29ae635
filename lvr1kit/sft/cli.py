"""``lvr1 sft``: CoT-SFT from the command line, in one process or several (torchrun, gloo on CPU).

``sft_app`` is registered in :mod:`lvr1kit.cli`; ``python -m lvr1kit.sft.cli`` runs it alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from lvr1kit import runs
from lvr1kit.config import ConfigError, SFTConfig, load_config, parse_override

__all__ = ["run_sft_stage", "sft_app"]

sft_app = typer.Typer(
    help="CoT-SFT: fine-tune the VLM on <think>/<answer> targets (transformers.Trainer, torchrun).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@sft_app.callback()
def _group() -> None:
    """CoT-SFT commands (a callback keeps ``train`` a subcommand while it is the only one)."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def run_sft_stage(cfg: SFTConfig, run_dir: str | Path, *, resume: bool = False) -> dict[str, Any]:
    """Train (in this process, or ``cfg.nproc`` torchrun processes), answer held-out questions, write the summary.

    Returns:
        The summary: ``train_loss_first``/``train_loss_last``, ``steps``, ``train_wall_s``, ``eval/*`` scores of
        the trained model, ``checkpoint`` (the final model folder).
    """
    from lvr1kit.sft.evaluate import evaluate_held_out
    from lvr1kit.sft.train import launch_or_train_sft

    run = runs.start(run_dir, cfg, stage="sft")
    result = launch_or_train_sft(cfg, run.dir, resume=resume)
    losses, steps, wall, model_dir = result.losses, result.steps, result.wall_s, result.model_dir
    _, scores = evaluate_held_out(cfg, run.dir, model_dir)
    summary = {
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "steps": steps,
        "nproc": cfg.nproc,
        "train_wall_s": wall,
        "eval_format_rate": scores.get("eval/format_rate"),
        "eval_accuracy": scores.get("eval/accuracy"),
        **scores,
        "checkpoint": str(model_dir),
    }
    return runs.finish(run, summary)


@sft_app.command("train")
def train_command(
    preset: Annotated[str, typer.Option("--preset", help="Packaged preset (sft/tiny) or YAML path.")] = "sft/tiny",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Dotted override key=value (repeatable).")] = None,
    run_dir: Annotated[Path, typer.Option("--run-dir", help="The stage's run folder.")] = Path("runs/dev/sft"),
    nproc: Annotated[
        int | None, typer.Option("--nproc", min=1, help="Processes (torchrun); 1 trains here; sets `nproc`.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Resume from the newest checkpoint in the run dir.")] = False,
) -> None:
    """Fine-tune, answer held-out questions, and print the summary as JSON."""
    try:
        overrides = dict(parse_override(s) for s in set_ or [])
        if nproc is not None:
            overrides["nproc"] = nproc
        cfg = load_config(SFTConfig, preset, overrides)
        summary = run_sft_stage(cfg, run_dir, resume=resume)
    except (ConfigError, runs.RunError, FileNotFoundError) as err:
        raise _fail(str(err)) from None
    typer.echo(json.dumps(summary, default=str))


if __name__ == "__main__":
    sft_app()
