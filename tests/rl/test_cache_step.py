"""``mrsp.cache_dir`` wires the disk ``EmbeddingCache`` into the trainer: later steps and runs hit it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lvr1kit.rl.train import build_trainer


def test_second_step_and_second_run_hit_the_cache(rl_config: Any, tmp_path: Path) -> None:
    cache = tmp_path / "embeds"
    cfg = rl_config(steps=2, **{"mrsp.cache_dir": str(cache)})
    trainer = build_trainer(cfg, tmp_path / "a")
    first, second = trainer.step(), trainer.step()
    assert first["mrsp/cache_hits"] == 0
    assert first["mrsp/encoder_calls"] == first["mrsp/distinct_videos"]
    assert second["mrsp/cache_hits"] >= 1  # the fixture's 6 questions share 2 videos
    assert second["mrsp/encoder_calls"] == second["mrsp/distinct_videos"] - second["mrsp/cache_hits"]
    assert len(list(cache.rglob("*.safetensors"))) == 2

    again = build_trainer(cfg, tmp_path / "b").step()  # a new run (same frozen tower): every video from disk
    assert again["mrsp/cache_hits"] == again["mrsp/distinct_videos"]
    assert again["mrsp/encoder_calls"] == 0


def test_trainable_tower_bypasses_the_cache(rl_config: Any, tmp_path: Path) -> None:
    cache = tmp_path / "embeds"
    cfg = rl_config(steps=1, **{"mrsp.cache_dir": str(cache), "model.freeze_vision": False})
    assert build_trainer(cfg, tmp_path / "a").step()["mrsp/cache_hits"] == 0
    assert not list(cache.rglob("*.safetensors"))
