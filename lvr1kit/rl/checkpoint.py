"""Checkpoints of the GRPO trainer for exact resume: trainable weights, optimizer, RNG states, data cursor, step.

Layout of ``<run_dir>/checkpoints/step_<N>/``::

    policy.pt           trainable parameters by name (frozen ones come back from the init checkpoint)
    optimizer.pt        AdamW state
    rng_rank<r>.pt      python, numpy and torch (CPU, CUDA) generator states of rank r
    state.json          step, data cursor, world size (written last: a folder without it is incomplete)
    config.yaml         the run's resolved config

Resuming loads all of it, so the next step equals the step an uninterrupted run would have taken (tested).
The HF folder for downstream stages (eval) is written separately by the trainer at the end (``checkpoint/``).
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["TrainerState", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainerState:
    """Counters a resumed run continues from."""

    step: int
    """Steps completed."""
    cursor: int
    """Prompts consumed from the (epoch-shuffled) training data, over all ranks."""
    world_size: int = 1


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    folder: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainerState,
    rank: int = 0,
    config_yaml: str | None = None,
) -> Path:
    """Write a checkpoint (every rank writes its RNG state; rank 0 the rest). Call on all ranks, then barrier."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(_rng_state(), out / f"rng_rank{rank}.pt")
    if rank == 0:
        trainable = {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}
        torch.save(trainable, out / "policy.pt")
        torch.save(optimizer.state_dict(), out / "optimizer.pt")
        if config_yaml is not None:
            (out / "config.yaml").write_text(config_yaml)
        tmp = out / "state.json.tmp"
        tmp.write_text(json.dumps(state.__dict__) + "\n")
        tmp.replace(out / "state.json")
        log.info("saved checkpoint %s (step %d)", out, state.step)
    return out


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The complete checkpoint of the highest step under ``<run_dir>/checkpoints``, or ``None``."""
    root = Path(run_dir) / "checkpoints"
    found = [p for p in root.glob("step_*") if (p / "state.json").is_file()] if root.is_dir() else []
    return max(found, key=lambda p: int(p.name.split("_")[1]), default=None)


def load_checkpoint(
    folder: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, rank: int = 0, world_size: int = 1
) -> TrainerState:
    """Restore weights, optimizer and this rank's RNG state; return the counters.

    Raises:
        ValueError: the checkpoint was written by another number of ranks, or its weights do not fit the model.
    """
    src = Path(folder)
    state = TrainerState(**json.loads((src / "state.json").read_text()))
    if state.world_size != world_size:
        raise ValueError(
            f"{src} was written by {state.world_size} ranks, this run has {world_size}: RNG states and the data "
            f"split differ; resume with --nproc {state.world_size} or start a new run_dir"
        )
    trainable = torch.load(src / "policy.pt", map_location="cpu")
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in trainable]
    unknown = [n for n in trainable if n not in params]
    if missing or unknown:
        raise ValueError(
            f"{src}/policy.pt does not fit the model (missing {missing[:3]}, unknown {unknown[:3]}); the run's "
            "model or LoRA settings changed: start a new run_dir"
        )
    with torch.no_grad():
        for name, value in trainable.items():
            params[name].copy_(value)
    optimizer.load_state_dict(torch.load(src / "optimizer.pt", map_location="cpu"))
    _set_rng_state(torch.load(src / f"rng_rank{rank}.pt", weights_only=False))
    log.info("resumed from %s (step %d, cursor %d)", src, state.step, state.cursor)
    return state
