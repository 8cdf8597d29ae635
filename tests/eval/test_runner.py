"""The runner: a tiny model over three synthetic videos, one encode per video, failing videos, resume after kill."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lvr1kit.config import DecodingConfig, ModelConfig, VideoConfig
from lvr1kit.data.schema import QARecord
from lvr1kit.eval import runner
from lvr1kit.eval.runner import AnswerCache, AnswerSettings, answer_benchmark, budget_video_config, model_fingerprint
from lvr1kit.models import load_model

VIDEO = VideoConfig(num_frames=8)
DECODING = DecodingConfig(max_new_tokens=12)


def _settings(tiny_dir: Path, seed: int = 0) -> AnswerSettings:
    return AnswerSettings.build(tiny_dir, ModelConfig(), VIDEO, DECODING, seed)


def _cache_lines(cache_dir: Path, settings: AnswerSettings) -> list[dict]:
    return [json.loads(line) for line in (cache_dir / f"{settings.key}.jsonl").read_text().splitlines()]


def test_tiny_model_answers_each_question_once_encoding_each_video_once(
    tiny_dir: Path, world_dir: Path, records: list[QARecord], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    encode = runner.encode_video
    monkeypatch.setattr(runner, "encode_video", lambda model, video: calls.append(1) or encode(model, video))
    loaded = load_model(tiny_dir)
    settings = _settings(tiny_dir)
    rows = answer_benchmark(loaded, records, world_dir, settings, tmp_path, batch_size=3, progress=False)
    assert [r["id"] for r in rows] == [str(r.problem_id) for r in records]
    assert len(calls) == 3  # 6 questions over 3 videos; a video's two questions span two batches once
    assert all(isinstance(r["output"], str) and r["error"] is None and r["frames"] == 8 for r in rows)
    assert {r["gold"] for r in rows} == {"A", "B", "C", "D"} and rows[0]["category"] == "temporal"
    rerun = answer_benchmark(loaded, records, world_dir, settings, tmp_path, batch_size=3, progress=False)
    assert rerun == rows and len(calls) == 3  # all cached: nothing encoded or generated again
    assert len(_cache_lines(tmp_path, settings)) == 6
    other = _settings(tiny_dir, seed=1)
    assert other.key != settings.key and other.record["prompt_version"] and other.record["model_hash"]


def test_failing_video_is_recorded_and_the_run_goes_on(
    tiny_dir: Path, world_dir: Path, records: list[QARecord], tmp_path: Path
) -> None:
    broken = records[0].model_copy(update={"videos": "missing.mp4", "problem_id": "broken"})
    rows = answer_benchmark(
        load_model(tiny_dir), [broken, records[2]], world_dir, _settings(tiny_dir), tmp_path, progress=False
    )
    assert rows[0]["error"].startswith("video:") and "missing.mp4" in rows[0]["error"] and rows[0]["output"] == ""
    assert rows[1]["error"] is None and rows[1]["output"] is not None


_KILLED_RUN = """
import os, signal, sys
from pathlib import Path
from lvr1kit.config import DecodingConfig, ModelConfig, VideoConfig
from lvr1kit.data.io import read_records
from lvr1kit.eval.runner import AnswerSettings, answer_benchmark
from lvr1kit.models import load_model

tiny, world, bench, cache = map(Path, sys.argv[1:5])
settings = AnswerSettings.build(tiny, ModelConfig(), VideoConfig(num_frames=8), DecodingConfig(max_new_tokens=12), 0)

def die(batch):  # SIGKILL after three answered batches: no cleanup, no atexit
    if batch == 2:
        os.kill(os.getpid(), signal.SIGKILL)

answer_benchmark(load_model(tiny), read_records(bench), world, settings, cache, batch_size=1, progress=False,
                 on_batch=die)
"""


def test_resume_after_kill_matches_an_uninterrupted_run(
    tiny_dir: Path, world_dir: Path, records: list[QARecord], bench_file: Path, tmp_path: Path
) -> None:
    settings = _settings(tiny_dir)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(tiny_dir), str(world_dir), str(bench_file), str(tmp_path / "resumed")],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    partial = _cache_lines(tmp_path / "resumed", settings)
    assert len(partial) == 3
    with (tmp_path / "resumed" / f"{settings.key}.jsonl").open("a") as fh:
        fh.write('{"id": "q3", "outp')  # a torn line, as a kill during a write leaves it
    loaded = load_model(tiny_dir)
    resumed = answer_benchmark(loaded, records, world_dir, settings, tmp_path / "resumed", batch_size=1, progress=False)
    full = answer_benchmark(loaded, records, world_dir, settings, tmp_path / "full", batch_size=1, progress=False)
    assert resumed == full
    ids = [row["id"] for row in AnswerCache(tmp_path / "resumed", settings).load().values()]
    assert sorted(ids) == sorted(str(r.problem_id) for r in records)
    assert len(_cache_lines(tmp_path / "full", settings)) == 6


def test_budget_video_config_per_scheme() -> None:
    base = VideoConfig(target_fps=1.0, clip_seconds=10.0)
    assert budget_video_config(base, "uniform", 64, 120).num_frames == 64
    fps = budget_video_config(base, "fps", 16, 120)
    assert (fps.strategy, fps.max_frames, fps.target_fps) == ("fps", 16, 1.0)
    per_clip = budget_video_config(base, "per_clip", 32, 120)  # 12 clips of 10 s
    assert (per_clip.strategy, per_clip.frames_per_clip) == ("per_clip", 2)
    assert budget_video_config(base, "per_clip", 4, 120).frames_per_clip == 1  # at least one frame per clip
    with pytest.raises(ValueError, match="unknown sampling strategy"):
        budget_video_config(base, "random", 8, 10)


def test_model_fingerprint_follows_the_weights(tiny_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(tiny_dir, tmp_path / "copy"))
    assert model_fingerprint(copy) == model_fingerprint(tiny_dir)
    weights = next(copy.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_fingerprint(copy) != model_fingerprint(tiny_dir)
    with pytest.raises(FileNotFoundError, match="no model files"):
        model_fingerprint(tmp_path / "empty")
