"""The resumable engine: report, corrupt inputs, sharding, and a real kill-and-rerun in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from lvr1kit.config import DataGenConfig
from lvr1kit.data.generate import generate_dataset, list_videos
from lvr1kit.video.synth import WorldVideo

REPO = Path(__file__).resolve().parents[2]


def _copy_world(world: list[WorldVideo], dst: Path, count: int) -> Path:
    dst.mkdir()
    for video in world[:count]:
        shutil.copy(video.video_path, dst)
        shutil.copy(video.events_path, dst)
    return dst


def _dataset(out: Path) -> dict[str, list[dict]]:
    """Every split's rows without the creation time (the only field that differs between runs)."""
    rows = {}
    for name in ("sft", "rl", "eval"):
        lines = (out / "dataset" / f"{name}.jsonl").read_text().splitlines()
        rows[name] = [{k: v for k, v in json.loads(line).items() if k != "created"} for line in lines]
    return rows


def test_corrupt_videos_are_reported_and_skipped(
    world: list[WorldVideo], tiny_cfg: DataGenConfig, tmp_path: Path
) -> None:
    videos = _copy_world(world, tmp_path / "videos", 10)
    (videos / "broken.mp4").write_bytes(os.urandom(4096))
    (videos / "empty.webm").write_bytes(b"")
    (videos / "world_00009.events.jsonl").unlink()  # a video the oracle cannot caption
    cfg = tiny_cfg.model_copy(
        update={"videos_dir": str(videos), "split": tiny_cfg.split.model_copy(update={"eval_videos": 2})}
    )
    report = generate_dataset(cfg, tmp_path / "out")
    dataset = report["dataset"]
    assert report["videos"] == 12
    assert dataset["failures"] == {"video_unreadable": 2, "caption_failed": 1}
    assert {f["video"] for f in dataset["failure_examples"]} == {"broken.mp4", "empty.webm", "world_00009.mp4"}
    assert all(dataset["splits"][name]["count"] > 0 for name in ("sft", "rl", "eval"))
    assert set(json.loads((tmp_path / "out" / "report.json").read_text())) >= {"stages", "seconds", "dataset"}
    for name in ("sft", "rl", "eval"):
        assert all(c > 0 for c in dataset["splits"][name]["categories"].values()), name


def test_tiny_dataset_meets_the_issue_targets(tiny_cfg: DataGenConfig, tmp_path: Path) -> None:
    report = generate_dataset(tiny_cfg, tmp_path / "out")
    dataset = report["dataset"]
    for name in ("sft", "rl", "eval", "all"):
        part = dataset["splits"].get(name, dataset["all"])
        assert all(0.20 <= share <= 0.30 for share in part["letter_share"].values()), (name, part["letter_share"])
        assert all(n > 0 for n in part["categories"].values()), (name, part["categories"])
    train_videos = {
        json.loads(line)["videos"]
        for name in ("sft", "rl")
        for line in (tmp_path / "out/dataset" / f"{name}.jsonl").open()
    }
    eval_videos = {json.loads(line)["videos"] for line in (tmp_path / "out/dataset/eval.jsonl").open()}
    assert not train_videos & eval_videos
    again = generate_dataset(tiny_cfg, tmp_path / "out")  # resume: nothing redone
    assert again["stages"] == {"qa_skipped": 32, "timelines_skipped": 32}
    assert again["dataset"]["splits"] == dataset["splits"]


def test_shards_then_assemble(world: list[WorldVideo], tiny_cfg: DataGenConfig, tmp_path: Path) -> None:
    videos = _copy_world(world, tmp_path / "videos", 8)
    cfg = tiny_cfg.model_copy(
        update={"videos_dir": str(videos), "split": tiny_cfg.split.model_copy(update={"eval_videos": 2})}
    )
    first = generate_dataset(cfg, tmp_path / "out", shard=(0, 2))
    assert first["dataset"] is None and first["videos_in_shard"] == 4
    second = generate_dataset(cfg, tmp_path / "out", shard=(1, 2))
    assert second["dataset"] is not None and second["stages"]["timelines_written"] == 4
    generate_dataset(cfg, tmp_path / "whole")
    assert _dataset(tmp_path / "out") == _dataset(tmp_path / "whole")
    assert [v.rel for v in list_videos(videos)] == [f"world_{i:05d}.mp4" for i in range(8)]


def test_killed_run_resumes_to_the_same_dataset(tiny_cfg: DataGenConfig, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "lvr1kit.data.cli", "generate", "--out", str(out), "--no-progress"]
    cmd += ["--set", "num_videos=48"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list((out / "timelines").glob("*.json"))) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "report.json").exists(), "the run finished before it could be killed"
    done_before = len(list((out / "timelines").glob("*.json")))
    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    summary = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert summary["stages"]["timelines_skipped"] == done_before
    assert summary["stages"]["timelines_written"] == 48 - done_before
    cfg = tiny_cfg.model_copy(update={"num_videos": 48})
    generate_dataset(cfg, tmp_path / "whole")
    killed, whole = _dataset(out), _dataset(tmp_path / "whole")
    assert killed == whole
    ids = [r["problem_id"] for rows in killed.values() for r in rows]
    assert len(ids) == len(set(ids))
