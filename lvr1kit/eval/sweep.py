"""Frame-scaling sweep and sampling-scheme ablation: one model, several frame budgets and schemes, one tidy table.

Contents:
    - ``sweep_table``: scored sweep rows -> tidy table (model, strategy, frames, group_type, group, metric, n, value,
      ci_low, ci_high, frames_used) for ``overall`` and ``category`` groups.
    - ``run_sweep``: answer the benchmark at every ``sweep_frames`` budget under every ``sweep_strategies`` scheme
      (answers cached like the main run), write ``sweep.{csv,parquet}`` and return the table.

Equal budgets (see :func:`lvr1kit.eval.runner.budget_video_config`): ``uniform`` takes exactly N frames, ``fps``
samples at ``video.target_fps`` capped at N, ``per_clip`` gives each ``video.clip_seconds`` clip N // clips frames.
``frames_used`` is the mean number of frames the model actually saw (PAPER.md §11 hazard 10).

Deviations from the paper:
1. The paper shows accuracy rising with frames for its 7B model at up to 512+ frames on GPUs; the tiny CPU preset
   sweeps 8-32 frames of a random or barely trained model, which checks the machinery, not the claim.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from lvr1kit.config import EvalConfig, VideoConfig
from lvr1kit.data.schema import QARecord
from lvr1kit.eval.runner import run_model
from lvr1kit.eval.scoring import score_rows, summary_table
from lvr1kit.models import load_model

__all__ = ["run_sweep", "sweep_table"]

log = logging.getLogger(__name__)


def sweep_table(scored: pd.DataFrame, *, samples: int = 1000, level: float = 0.95) -> pd.DataFrame:
    """Tidy sweep table from scored rows carrying ``model``, ``seed``, ``strategy`` and ``frame_budget`` columns."""
    parts = []
    for (strategy, budget), part in scored.groupby(["strategy", "frame_budget"], sort=True):
        table = summary_table(part, samples=samples, level=level, baselines=False)
        table = table[table["group_type"].isin(["overall", "category"])].copy()
        table.insert(1, "strategy", strategy)
        table.insert(2, "frames", int(budget))
        table["frames_used"] = float(part["frames"].dropna().mean()) if part["frames"].notna().any() else float("nan")
        parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def run_sweep(
    cfg: EvalConfig,
    models: dict[str, Path],
    records: list[QARecord],
    videos_dir: Path,
    cache_dir: Path,
    out_dir: Path,
) -> pd.DataFrame:
    """Run the frame-scaling sweep (and the scheme ablation when several strategies are listed) on one model."""
    name = cfg.sweep_model or list(models)[-1]
    if name not in models:
        raise ValueError(f"sweep_model={name!r} was not evaluated (its checkpoint is missing); models: {list(models)}")
    loaded = load_model(models[name], dtype=cfg.model.dtype, device=cfg.model.device)
    rows: list[dict[str, Any]] = []
    for strategy in cfg.sweep_strategies or ["uniform"]:
        video = VideoConfig(**cfg.video.model_dump() | {"strategy": strategy, "num_frames": 1})
        for frames in cfg.sweep_frames:
            log.info("sweep %s: %s sampling, %d frames", name, strategy, frames)
            answers, _ = run_model(cfg, name, loaded, records, videos_dir, cache_dir, video=video, frame_budget=frames)
            rows += [a | {"strategy": strategy, "frame_budget": frames} for a in answers]
    scored, _ = score_rows(rows, duration_edges_s=cfg.duration_edges_s)
    table = sweep_table(scored, samples=cfg.bootstrap_samples, level=cfg.ci_level)
    table.to_csv(out_dir / "sweep.csv", index=False)
    table.to_parquet(out_dir / "sweep.parquet", index=False)
    return table
