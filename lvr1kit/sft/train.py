"""CoT-SFT entry point: resolve inputs, build the model and dataset, train with ``transformers.Trainer``, save.

Contents:
    - ``resolve_data``: the train/eval files and videos folder (making a ``data_preset`` dataset when none is given).
    - ``resolve_model_dir``: the starting checkpoint (``init_from``, ``model.path``, or a tiny model built into
      ``<run_dir>/init_model``).
    - ``build_training_args``: ``SFTConfig`` -> ``TrainingArguments`` (gloo on CPU, nccl on GPUs, seeded order).
    - ``train_sft``: the whole stage in one process or in every rank of a torchrun job; returns ``SFTResult``.
    - ``main``: ``python -m lvr1kit.sft.train --config CONFIG.yaml --run-dir DIR [--resume]`` (what
      :func:`lvr1kit.launch.launch_torchrun` starts on each rank).

Run-dir layout (besides ``config.yaml``, ``metrics.jsonl``, ``summary.json`` from :mod:`lvr1kit.runs`)::

    init_model/      the tiny starting model, when no checkpoint was given
    data/            the standalone dataset, when no train_file was given
    embed_cache/     cached vision features (unless cache_dir points elsewhere)
    checkpoints/     checkpoint-N folders (Trainer state, optimizer, adapters or weights, lvr1_config.yaml)
    model/           the final model (LoRA merged), loadable with lvr1kit.models.load_model
    tensorboard/     TensorBoard event files

Deviations from the paper:
1. The paper's SFT trains LongVILA with the VILA codebase; this is ``transformers.Trainer`` on Qwen-VL.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from lvr1kit import runs
from lvr1kit.config import DataGenConfig, SFTConfig, load_config
from lvr1kit.data.io import read_records
from lvr1kit.models import LoadedModel, build_tiny_model, encode_video, load_model, save_tiny_model
from lvr1kit.models.examples import settings_from_config
from lvr1kit.models.projector import check_projector_support, encode_premerger, premerger_version
from lvr1kit.mrsp.cache import EmbeddingCache, vision_weights_version
from lvr1kit.sft.data import SFTCollator, SFTDataset, prepare_videos
from lvr1kit.sft.trainer import RunLogCallback, SFTTrainer, TimeLimitCallback, causal_lm_loss, merge_lora, prepare_model

__all__ = [
    "DataPaths",
    "SFTResult",
    "build_training_args",
    "launch_or_train_sft",
    "main",
    "resolve_data",
    "resolve_model_dir",
    "train_sft",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataPaths:
    """Where the stage reads questions and videos."""

    train_file: Path
    eval_file: Path | None
    videos_dir: Path


@dataclass
class SFTResult:
    """What a training run produced (on every rank; only rank 0 wrote files)."""

    model_dir: Path
    log_history: list[dict[str, Any]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    """Per logged step, ``loss/sft`` in step order."""
    steps: int = 0
    wall_s: float = 0.0
    cache_stats: dict[str, float] = field(default_factory=dict)
    trainable_params: int = 0


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def resolve_data(cfg: SFTConfig, run_dir: str | Path) -> DataPaths:
    """The files the stage reads; with ``train_file`` null, make the ``data_preset`` dataset in ``<run_dir>/data``.

    Raises:
        FileNotFoundError: a configured file or folder does not exist (the message names the key).
    """
    if cfg.train_file is None:
        out = Path(run_dir) / "data"
        if _is_main() and not (out / "dataset" / "sft.jsonl").is_file():
            from lvr1kit.data import generate_dataset

            log.info("no train_file configured: making a %s dataset in %s", cfg.data_preset, out)
            generate_dataset(load_config(DataGenConfig, cfg.data_preset, {"progress": False}), out)
        _barrier()
        return DataPaths(out / "dataset" / "sft.jsonl", out / "dataset" / "eval.jsonl", out / "world")
    train = Path(cfg.train_file)
    videos = Path(cfg.videos_dir) if cfg.videos_dir else train.parent.parent / "world"
    checks = [("train_file", train, train.is_file()), ("videos_dir", videos, videos.is_dir())]
    if cfg.eval_file:
        checks.append(("eval_file", Path(cfg.eval_file), Path(cfg.eval_file).is_file()))
    for key, path, ok in checks:
        if not ok:
            raise FileNotFoundError(f"{key}={path} does not exist; point it at the data stage's outputs")
    return DataPaths(train, Path(cfg.eval_file) if cfg.eval_file else None, videos)


def resolve_model_dir(cfg: SFTConfig, run_dir: str | Path) -> Path:
    """The starting checkpoint: ``init_from``, else ``model.path``, else a tiny model built into the run dir."""
    if cfg.init_from or cfg.model.path:
        return Path(cfg.init_from or cfg.model.path)  # type: ignore[arg-type]
    out = Path(run_dir) / "init_model"
    if _is_main() and not (out / "config.json").is_file():
        model, tokenizer = build_tiny_model(cfg.model.family, cfg.tiny_model, seed=cfg.seed)
        save_tiny_model(model, tokenizer, out)
    _barrier()
    return out


def build_training_args(cfg: SFTConfig, run_dir: str | Path) -> TrainingArguments:
    """``TrainingArguments`` of the stage: checkpoints under ``<run_dir>/checkpoints``, seeded data order."""
    t = cfg.train
    on_cpu = cfg.model.device == "cpu"
    return TrainingArguments(
        output_dir=str(Path(run_dir) / "checkpoints"),
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # a float below 1 is a ratio of the total steps
        max_steps=t.max_steps,
        num_train_epochs=t.num_epochs,
        per_device_train_batch_size=t.per_device_batch_size,
        gradient_accumulation_steps=t.grad_accum_steps,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if t.save_steps else "no",
        save_steps=t.save_steps or 500,
        save_total_limit=t.save_total_limit,
        report_to="none",  # TensorBoard is attached explicitly, writing to <run_dir>/tensorboard
        deepspeed=t.deepspeed,
        use_cpu=on_cpu,
        ddp_backend="gloo" if on_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        bf16=cfg.model.dtype == "bfloat16" and not on_cpu,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        average_tokens_across_devices=True,
    )


def _tensorboard_callback(run_dir: Path) -> Any | None:
    try:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback
    except ImportError:
        log.warning("tensorboard is not installed; metrics go to metrics.jsonl only (pip install tensorboard)")
        return None
    if not _is_main():
        return None
    return TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(run_dir / "tensorboard")))


def load_sft_model(cfg: SFTConfig, run_dir: str | Path) -> LoadedModel:
    """Load the starting checkpoint on ``model.device`` in ``model.dtype``, ready for ``prepare_model``."""
    path = resolve_model_dir(cfg, run_dir)
    return load_model(
        path,
        dtype=cfg.model.dtype,
        device=cfg.model.device,
        family=cfg.model.family,
        attn_implementation=cfg.model.attn_implementation,
    )


def build_cache(cfg: SFTConfig, run_dir: str | Path) -> EmbeddingCache | None:
    """The embedding cache of the stage, or ``None`` when batches carry pixels."""
    if not cfg.uses_cached_embeddings:
        return None
    return EmbeddingCache(cfg.cache_dir or Path(run_dir) / "embed_cache")


def train_sft(cfg: SFTConfig, run_dir: str | Path, *, resume: bool | str = False) -> SFTResult:
    """Fine-tune as configured; call it in one process or in every rank of a torchrun job.

    Args:
        cfg: The stage config.
        run_dir: The stage's run dir (``runs.start`` is called on the main process; it is idempotent).
        resume: ``True`` resumes from the newest checkpoint in ``<run_dir>/checkpoints``; a path resumes from it.

    Raises:
        FileNotFoundError: missing data, videos or checkpoint to resume from.
    """
    run_dir = Path(run_dir)
    args = build_training_args(cfg, run_dir)  # initialises torch.distributed under torchrun
    run = runs.start(run_dir, cfg, stage="sft") if args.process_index == 0 else None
    paths = resolve_data(cfg, run_dir)
    loaded = load_sft_model(cfg, run_dir)
    model, tokenizer = loaded.model, loaded.tokenizer
    settings = settings_from_config(cfg.model, loaded.family)
    records = read_records(paths.train_file)[: cfg.max_train_samples]
    if not records:
        raise ValueError(f"train_file={paths.train_file} holds no records; rerun the data stage")
    cache = build_cache(cfg, run_dir)
    projector = cfg.model.train_projector
    if projector:
        check_projector_support(model)
    start = time.perf_counter()
    version = (premerger_version(model) if projector else vision_weights_version(model)) if cache else None
    metas = prepare_videos(
        [r.videos for r in records],
        paths.videos_dir,
        cfg.video,
        settings,
        model=model if cache else None,
        cache=cache,
        weights_version=version,
        encoder=encode_premerger if projector else encode_video,
    )
    log.info("prepared %d videos in %.1f s", len(metas), time.perf_counter() - start)
    dataset = SFTDataset(
        records,
        tokenizer,
        metas,
        videos_dir=paths.videos_dir,
        video_cfg=cfg.video,
        settings=settings,
        max_prompt_tokens=cfg.model.max_prompt_tokens,
        cache=cache,
    )
    trainable = prepare_model(model, freeze_vision=cfg.model.freeze_vision, lora=cfg.lora, train_projector=projector)
    n_trainable = sum(p.numel() for p in trainable.parameters() if p.requires_grad)
    logger_cb = RunLogCallback(run)
    callbacks: list[Any] = [logger_cb]
    if (tb := _tensorboard_callback(run_dir)) is not None:
        callbacks.append(tb)
    if cfg.train.max_minutes:
        callbacks.append(TimeLimitCallback(cfg.train.max_minutes))
    trainer = SFTTrainer(
        model=trainable,
        args=args,
        train_dataset=dataset,
        data_collator=SFTCollator(pad_token_id=int(tokenizer.pad_token_id)),
        compute_loss_func=causal_lm_loss,
        callbacks=callbacks,
        project_features=projector,
    )
    checkpoint: str | None = None
    if resume:
        checkpoint = str(resume) if isinstance(resume, str) else get_last_checkpoint(args.output_dir)
        if checkpoint is None or not Path(checkpoint).is_dir():
            raise FileNotFoundError(f"no checkpoint to resume from in {args.output_dir}; train without --resume")
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    wall_s = time.perf_counter() - start
    model_dir = run_dir / "model"
    if trainer.is_world_process_zero():
        final = merge_lora(trainer.accelerator.unwrap_model(trainer.model))
        if model_dir.exists():
            shutil.rmtree(model_dir)
        final.save_pretrained(model_dir, safe_serialization=True)
        tokenizer.save_pretrained(model_dir)
        if run is not None:
            shutil.copy2(run.config_path, model_dir / "lvr1_config.yaml")
    _barrier()
    losses = [r["loss/sft"] for r in logger_cb.records if "loss/sft" in r]
    result = SFTResult(
        model_dir=model_dir,
        log_history=list(trainer.state.log_history),
        losses=losses,
        steps=trainer.state.global_step,
        wall_s=wall_s,
        cache_stats=cache.stats() if cache else {},
        trainable_params=n_trainable,
    )
    if run is not None:
        run.log(result.steps, **{"perf/wall_s": wall_s, **result.cache_stats})
    return result


def launch_or_train_sft(cfg: SFTConfig, run_dir: str | Path, *, resume: bool | str = False) -> SFTResult:
    """:func:`train_sft` in this process (``cfg.nproc == 1``) or in ``cfg.nproc`` torchrun processes.

    For a launched run the result is read back from the run dir (``metrics.jsonl``); ``log_history`` and
    ``trainable_params`` stay empty there. What the CLI, notebook 02 and pipelines call.
    """
    if cfg.nproc == 1:
        return train_sft(cfg, run_dir, resume=resume)
    from lvr1kit.launch import launch_torchrun

    run = runs.start(run_dir, cfg, stage="sft")
    args = ["--config", str(run.config_path), "--run-dir", str(run.dir)]
    args += [] if not resume else ["--resume"] if resume is True else ["--resume", str(resume)]
    launch_torchrun("lvr1kit.sft.train", args, nproc=cfg.nproc)
    metrics = runs.read_metrics(run.dir)
    last: dict[str, Any] = next((r for r in reversed(metrics) if "perf/wall_s" in r), {})
    return SFTResult(
        model_dir=run.dir / "model",
        losses=[r["loss/sft"] for r in metrics if "loss/sft" in r],
        steps=max((int(r["step"]) for r in metrics), default=0),
        wall_s=float(last.get("perf/wall_s", 0.0)),
        cache_stats={k: v for k, v in last.items() if k.startswith("cache/")},
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of one rank: ``python -m lvr1kit.sft.train --config C --run-dir D [--resume]``."""
    parser = argparse.ArgumentParser(description="CoT-SFT (one rank; start several with torchrun)")
    parser.add_argument("--config", required=True, help="resolved SFTConfig YAML (a preset path works too)")
    parser.add_argument("--run-dir", required=True, help="the stage's run dir")
    parser.add_argument("--resume", nargs="?", const=True, default=False, help="resume (newest or given checkpoint)")
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=f"[rank {os.environ.get('RANK', '0')}] %(levelname)s %(message)s")
    cfg = load_config(SFTConfig, ns.config)
    result = train_sft(cfg, ns.run_dir, resume=ns.resume)
    if _is_main():
        log.info("done: %d steps in %.1f s; last loss %s", result.steps, result.wall_s, result.losses[-1:])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
