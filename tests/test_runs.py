"""Run dirs: resolved config written before work, metrics appended, resume vs. conflicting config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lvr1kit import runs
from lvr1kit.config import VideoConfig, load_config


def test_start_writes_config_meta_and_running_summary(tmp_path: Path) -> None:
    cfg = load_config(VideoConfig, None, {"num_frames": 8})
    run = runs.start(tmp_path / "stage", cfg, stage="video")
    assert yaml.safe_load(run.config_path.read_text())["num_frames"] == 8
    assert runs.read_summary(run.dir)["status"] == "running"
    meta = json.loads((run.dir / "meta.json").read_text())
    assert meta["stage"] == "video" and meta["config_class"] == "VideoConfig"
    assert "torch" in meta["versions"]
    assert run.metrics_path.exists() and runs.read_metrics(run.dir) == []


def test_log_and_finish(tmp_path: Path) -> None:
    run = runs.start(tmp_path, VideoConfig(), stage="video")
    run.log(0, **{"loss/policy": 1.5})
    run.log(1, **{"loss/policy": float("nan")})
    records = runs.read_metrics(tmp_path)
    assert [r["step"] for r in records] == [0, 1]
    assert records[0]["loss/policy"] == 1.5 and records[1]["loss/policy"] == "nan"
    out = runs.finish(run, {"frames": 8})
    assert runs.read_summary(tmp_path) == out and out["status"] == "done" and out["frames"] == 8


def test_restart_same_config_resumes_and_keeps_metrics(tmp_path: Path) -> None:
    run = runs.start(tmp_path, VideoConfig(), stage="video")
    run.log(0, x=1)
    again = runs.start(tmp_path, VideoConfig(), stage="video")
    again.log(1, x=2)
    assert [r["x"] for r in runs.read_metrics(tmp_path)] == [1, 2]


def test_restart_with_other_config_is_refused_naming_the_key(tmp_path: Path) -> None:
    runs.start(tmp_path, VideoConfig(), stage="video")
    with pytest.raises(runs.RunError, match=r"num_frames: 32 -> 16.*use another run_dir"):
        runs.start(tmp_path, VideoConfig(num_frames=16), stage="video")


def test_torn_last_metrics_line_is_skipped_but_corruption_is_not(tmp_path: Path) -> None:
    run = runs.start(tmp_path, VideoConfig(), stage="video")
    run.log(0, x=1)
    with run.metrics_path.open("a") as fh:
        fh.write('{"step": 1, "x"')
    assert len(runs.read_metrics(tmp_path)) == 1
    run.metrics_path.write_text('{"step": 0\n{"step": 1}\n')
    with pytest.raises(runs.RunError, match="metrics.jsonl:1"):
        runs.read_metrics(tmp_path)
