"""``lvr1 model ...``: build tiny local models (registered by ``lvr1kit.cli`` as the ``model`` sub-command)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["model_app"]

model_app = typer.Typer(help="Tiny local VLMs of the real architectures (no hub access).", no_args_is_help=True)


@model_app.callback()
def _model_group() -> None:
    """Tiny local VLMs of the real architectures (no hub access)."""


@model_app.command("tiny")
def tiny_command(
    out: Annotated[Path, typer.Option(help="Folder to write the HF checkpoint (model, config, tokenizer) into.")],
    family: Annotated[str, typer.Option(help="Architecture: qwen2_5_vl or qwen3_vl.")] = "qwen2_5_vl",
    size: Annotated[str, typer.Option(help="Preset: tiny (tests, ~1.4 M) or bench (CPU benchmarks, ~4.7 M).")] = "tiny",
    seed: Annotated[int, typer.Option(help="Seed of weights and tokenizer corpus.")] = 0,
) -> None:
    """Build a randomly initialised model with a locally trained tokenizer and save it as an HF folder."""
    from lvr1kit.models.tiny import TINY_PRESETS, build_tiny_model, compute_flops_per_token, save_tiny_model

    if family not in ("qwen2_5_vl", "qwen3_vl"):
        raise typer.BadParameter(f"unknown family {family!r}; use qwen2_5_vl or qwen3_vl", param_hint="--family")
    if size not in TINY_PRESETS:
        raise typer.BadParameter(f"unknown size {size!r}; use one of {', '.join(TINY_PRESETS)}", param_hint="--size")
    model, tokenizer = build_tiny_model(family, size, seed=seed)  # type: ignore[arg-type]
    path = save_tiny_model(model, tokenizer, out)
    summary = {
        "path": str(path),
        "family": family,
        "size": size,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        **compute_flops_per_token(model.config),
    }
    typer.echo(json.dumps(summary))
