"""Build a GRPO trainer from an ``RLConfig`` and run it; also the torchrun entry point.

Contents:
    - ``resolve_model_path``: ``init_from`` > ``model.path`` > a tiny model built into ``<run_dir>/model``.
    - ``resolve_data``: ``train_file`` (+ ``videos_dir``, default the data stage's ``world`` folder) or a small
      ``data/tiny`` dataset made into ``<run_dir>/data``.
    - ``build_trainer``: the above, loading the model and records, returning a :class:`GRPOTrainer`.
    - ``train``: ``runs.start`` -> build -> ``train()`` -> ``runs.finish`` (in this process, or every rank).
    - ``run_rl_stage``: ``train`` here, or ``cfg.nproc`` torchrun processes (what the CLI and notebook 03 call).
    - ``main``: ``torchrun --nproc_per_node N -m lvr1kit.rl.train --run-dir DIR`` (gloo on CPU, NCCL on GPU); reads
      the resolved config the launcher wrote to ``<run_dir>/config.yaml``.

Preparation (tiny model, standalone dataset) runs on rank 0 before the other ranks load; a barrier separates them.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from lvr1kit import runs
from lvr1kit.config import DataGenConfig, RLConfig, load_config
from lvr1kit.data.io import read_records
from lvr1kit.models import build_tiny_model, load_model, save_tiny_model
from lvr1kit.rl.encoding import EmbeddingStore
from lvr1kit.rl.trainer import GRPOTrainer

__all__ = ["build_trainer", "main", "resolve_data", "resolve_model_path", "run_rl_stage", "train"]

log = logging.getLogger(__name__)


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def resolve_model_path(cfg: RLConfig, run_dir: str | Path) -> Path:
    """The checkpoint folder the policy starts from (built on rank 0 when it is a fresh tiny model)."""
    if cfg.init_from or cfg.model.path:
        return Path(cfg.init_from or cfg.model.path)  # type: ignore[arg-type]
    out = Path(run_dir) / "model"
    if _rank() == 0 and not (out / "config.json").is_file():
        model, tokenizer = build_tiny_model(cfg.model.family, cfg.tiny_model, seed=cfg.seed)
        save_tiny_model(model, tokenizer, out)
        log.info("built a random %s tiny model in %s (no init_from / model.path given)", cfg.tiny_model, out)
    _barrier()
    return out


def resolve_data(cfg: RLConfig, run_dir: str | Path) -> tuple[Path, Path]:
    """``(train_file, videos_dir)``; without ``train_file``, a ``data/tiny`` dataset is made in ``<run_dir>/data``.

    Raises:
        FileNotFoundError: naming the missing train file or videos folder.
    """
    if cfg.train_file is None:
        out = Path(run_dir) / "data"
        if _rank() == 0 and not (out / "dataset" / "rl.jsonl").is_file():
            from lvr1kit.data.generate import generate_dataset

            n = cfg.standalone_videos
            data_cfg = load_config(
                DataGenConfig, "data/tiny", {"num_videos": n, "split.eval_videos": max(1, n // 4), "progress": False}
            )
            generate_dataset(data_cfg, out)
        _barrier()
        return out / "dataset" / "rl.jsonl", out / "world"
    train_file = Path(cfg.train_file)
    videos_dir = Path(cfg.videos_dir) if cfg.videos_dir else train_file.parent.parent / "world"
    if not train_file.is_file():
        raise FileNotFoundError(f"train_file={train_file} not found; run the data stage or fix train_file")
    if not videos_dir.is_dir():
        raise FileNotFoundError(f"videos_dir={videos_dir} not found; set videos_dir to the folder of the videos")
    return train_file, videos_dir


def build_trainer(
    cfg: RLConfig, run_dir: str | Path, run: runs.Run | None = None, embedding_cache: EmbeddingStore | None = None
) -> GRPOTrainer:
    """Resolve model and data for ``cfg`` and build the trainer (call on every rank)."""
    model_path = resolve_model_path(cfg, run_dir)
    train_file, videos_dir = resolve_data(cfg, run_dir)
    loaded = load_model(
        model_path,
        dtype=cfg.model.dtype,
        device=cfg.model.device,
        family=cfg.model.family,
        attn_implementation=cfg.model.attn_implementation,
    )
    records = read_records(train_file)
    log.info("rl: %d records from %s, videos in %s, model %s", len(records), train_file, videos_dir, model_path)
    return GRPOTrainer(cfg, loaded, records, videos_dir, run=run, embedding_cache=embedding_cache)


def train(cfg: RLConfig, run_dir: str | Path) -> dict[str, Any]:
    """Run the rl stage into ``run_dir`` (resuming from its latest checkpoint); returns the summary."""
    run = runs.start(run_dir, cfg, "rl") if _rank() == 0 else runs.Run(Path(run_dir), "rl")
    _barrier()
    try:
        summary = build_trainer(cfg, run_dir, run).train()
    except BaseException:
        if _rank() == 0:
            runs.finish(run, {}, status="failed")
        raise
    if _rank() == 0:
        summary = runs.finish(run, summary)
    return summary


def run_rl_stage(cfg: RLConfig, run_dir: str | Path) -> dict[str, Any]:
    """Run the rl stage in this process (``cfg.nproc == 1``) or as ``cfg.nproc`` torchrun processes; the summary.

    What the CLI, notebook 03 and pipelines call; inside a torchrun job call :func:`train` instead.
    """
    if cfg.nproc == 1:
        return train(cfg, run_dir)
    from lvr1kit.launch import launch_torchrun

    runs.start(run_dir, cfg, "rl")
    launch_torchrun("lvr1kit.rl.train", ["--run-dir", str(run_dir)], nproc=cfg.nproc)
    return runs.read_summary(run_dir)


def main(argv: list[str] | None = None) -> None:
    """torchrun entry point: ``python -m lvr1kit.rl.train --run-dir DIR`` (config read from DIR/config.yaml)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="run dir holding the resolved config.yaml")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    torch.set_num_threads(int(os.environ.get("LVR1_THREADS", "1")) if world > 1 else torch.get_num_threads())
    cfg = load_config(RLConfig, Path(args.run_dir) / "config.yaml")
    try:
        train(cfg, args.run_dir)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
