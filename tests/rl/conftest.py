"""Fixtures of the GRPO trainer tests: a saved tiny model, two synthetic videos, six hand-written questions."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lvr1kit.config import RLConfig, WorldConfig, load_config
from lvr1kit.data.io import write_records
from lvr1kit.data.schema import QARecord
from lvr1kit.models import build_tiny_model, save_tiny_model
from lvr1kit.rewards import REWARDS, RewardBreakdown, register_reward

OPTIONS = ["NW", "NE", "SW", "SE"]

if "test_length" not in REWARDS:

    @register_reward("test_length")
    def _length_reward(completion: str, answer: str = "", **_: Any) -> RewardBreakdown:
        """Rigged reward for a learning signal with a random model: longer completions score higher."""
        score = min(len(completion), 60) / 60.0
        return RewardBreakdown(total=score, format=0.0, accuracy=score, parse_ok=True)


@pytest.fixture(scope="session")
def rl_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``model`` (tiny qwen2_5_vl folder), ``videos`` (2 synthetic videos) and ``train`` (rl.jsonl)."""
    from lvr1kit.video.synth import generate_world

    root = tmp_path_factory.mktemp("rl")
    model, tokenizer = build_tiny_model("qwen2_5_vl", "tiny", seed=0)
    model_dir = save_tiny_model(model, tokenizer, root / "model")
    world = WorldConfig(video_minutes=2.0, frame_size=56, fps=2.0, seed=0)
    videos = generate_world(root / "world", 2, world, progress=False)
    records = [
        QARecord.build(
            problem_id=f"v{i % 2}/{i}",
            question=f"Where is agent {i} at 00:{10 + i:02d}?",
            options=OPTIONS,
            answer_letter="ABCD"[i % 4],
            videos=videos[i % 2].video_path.name,
            problem_type="spatial",
        )
        for i in range(6)
    ]
    write_records(root / "rl.jsonl", records)
    return {"model": model_dir, "videos": root / "world", "train": root / "rl.jsonl"}


def _rl_config(paths: dict[str, Path], **overrides: Any) -> RLConfig:
    """The rl/tiny preset on the fixture's model and data, with the rigged reward, plus ``overrides``."""
    base = {
        "model.path": str(paths["model"]),
        "train_file": str(paths["train"]),
        "videos_dir": str(paths["videos"]),
        "grpo.reward": "test_length",
        "grpo.max_response_tokens": 8,
        "video.num_frames": 8,
        "prompts_per_step": 2,
        "micro_batch_size": 4,
        "steps": 2,
    }
    return load_config(RLConfig, "rl/tiny", {**base, **overrides})


@pytest.fixture
def rl_config(rl_paths: dict[str, Path]) -> Callable[..., RLConfig]:
    """``rl_config(**overrides)`` -> the test RLConfig (see ``_rl_config``)."""
    return lambda **overrides: _rl_config(rl_paths, **overrides)


@pytest.fixture
def train_two_ranks(tmp_path: Path) -> Callable[[Path], None]:
    """Run ``lvr1kit.rl.train`` under a real 2-process gloo torchrun on a run dir that ``runs.start`` prepared."""

    def run(run_dir: Path) -> None:
        worker = tmp_path / "worker.py"  # registers the test reward in each rank, then runs the real entry point
        worker.write_text(
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import conftest  # noqa\n"
            "from lvr1kit.rl.train import main; main()\n"
        )
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               str(worker), "--run-dir", str(run_dir)]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    return run
