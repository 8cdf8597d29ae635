"""End to end: `pipelines/demo.yaml` (world -> data -> SFT -> GRPO -> eval) on CPU, asserting on every stage's summary.

This is the run `make demo` does; it takes several minutes on 2 cores and is the one test that checks the stages
hand their outputs to each other through run dirs.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lvr1kit.pipeline import load_pipeline, run_pipeline

REPO = Path(__file__).resolve().parents[1]


def test_demo_pipeline_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # notebook paths in the pipeline file are relative to the repository
    cfg = load_pipeline(REPO / "pipelines" / "demo.yaml", run_dir=str(tmp_path / "demo"))
    summary = run_pipeline(cfg)
    stages = {s["name"]: s for s in summary["stages"]}
    assert list(stages) == ["world", "data", "sft", "rl", "eval"]
    assert all(s["status"] == "done" for s in stages.values())

    assert stages["world"]["num_videos"] == 8
    data = stages["data"]
    assert set(data["categories"]) == {"temporal", "goal", "spatial", "plot"}
    assert all(data["splits"][split] > 0 for split in ("sft", "rl", "eval"))
    assert all(0.15 <= share <= 0.35 for share in data["letter_share"].values())

    sft = stages["sft"]
    assert sft["train_loss_last"] < sft["train_loss_first"] / 2  # CoT-SFT learned something
    rl = stages["rl"]
    assert rl["params_changed"] is True
    assert math.isfinite(rl["reward_mean_first"]) and math.isfinite(rl["reward_mean_last"])
    assert rl["encoder_calls_per_step"] == rl["distinct_videos_per_step"]  # MR-SP stage 1: one encode per video
    assert rl["world_size"] == 2 and rl["sp_size"] == 2  # MR-SP stage 2: one sequence-parallel group of 2 processes

    scores = stages["eval"]["accuracy_lenient"]
    assert set(scores) >= {"untrained", "sft", "sft_grpo"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10_000
