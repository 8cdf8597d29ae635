"""Session fixtures of the eval tests: three short synthetic videos, six questions about them, a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvr1kit.config import WorldConfig
from lvr1kit.data.io import write_records
from lvr1kit.data.schema import QARecord
from lvr1kit.models import build_tiny_model, save_tiny_model
from lvr1kit.video.synth import generate_world

CATEGORIES = ("temporal", "goal", "spatial", "plot", "temporal", "spatial")


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 1-minute 56x56 synthetic videos (``world_0000N.mp4``) in a folder."""
    out = tmp_path_factory.mktemp("world")
    generate_world(out, 3, WorldConfig(video_minutes=1.0, step_seconds=3.0, frame_size=56, fps=2.0), progress=False)
    return out


@pytest.fixture(scope="session")
def records(world_dir: Path) -> list[QARecord]:
    """Two questions per video, golds B, C, B, A, D, B (a skewed key on purpose)."""
    videos = sorted(p.name for p in world_dir.glob("*.mp4"))
    golds = "BCBADB"
    return [
        QARecord.build(
            problem_id=f"q{i}",
            question=f"Question {i} about the shapes?",
            options=["north-west", "north-east", "south-west", "south-east"],
            answer_letter=golds[i],
            videos=videos[i // 2],
            problem_type=CATEGORIES[i],  # type: ignore[arg-type]
            video_duration_s=60.0,
        )
        for i in range(6)
    ]


@pytest.fixture(scope="session")
def bench_file(tmp_path_factory: pytest.TempPathFactory, records: list[QARecord]) -> Path:
    """The six records as an ``eval.jsonl``."""
    path = tmp_path_factory.mktemp("bench") / "eval.jsonl"
    write_records(path, records)
    return path


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved random ``tiny`` Qwen2.5-VL model."""
    model, tokenizer = build_tiny_model("qwen2_5_vl", "tiny", seed=0)
    return save_tiny_model(model, tokenizer, tmp_path_factory.mktemp("tiny"))
