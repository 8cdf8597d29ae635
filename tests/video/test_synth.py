"""Tests of the synthetic long-video world (lvr1kit.video.synth*): config, simulation, rendering, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from pydantic import ValidationError

from lvr1kit.video.synth import (
    GOAL_REASONS,
    WorldConfig,
    generate_world,
    make_video,
    read_event_log,
    simulate_world,
)
from lvr1kit.video.synth_config import geometry_for
from lvr1kit.video.synth_world import coverage_gaps, long_range_links

FAST = {"video_minutes": 1.0, "step_seconds": 2.0, "fps": 1.0}
"""A 60 s, 30-step, 60-frame world: enough for every scripted event, quick to encode."""


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(out, 2, WorldConfig(**FAST), progress=False)
    return out


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_same_seed_gives_identical_event_log_bytes(tmp_path: Path) -> None:
    cfg = WorldConfig(**FAST, seed=7)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, _ = make_video(tmp_path / "a", 0, cfg)
    b, _ = make_video(tmp_path / "b", 0, cfg)
    assert a.events_path.read_bytes() == b.events_path.read_bytes()
    assert np.array_equal(np.stack(_decode(a.video_path)), np.stack(_decode(b.video_path)))


def test_event_log_identical_across_processes(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from lvr1kit.video.synth import WorldConfig, simulate_world; "
        "log = simulate_world(WorldConfig(seed=3), 1); sys.stdout.write(repr(log.records()))"
    )
    command = [sys.executable, "-c", code]
    runs = [subprocess.run(command, capture_output=True, check=True).stdout for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0].decode() == repr(simulate_world(WorldConfig(seed=3), 1).records())


def test_different_seeds_and_videos_differ() -> None:
    base = simulate_world(WorldConfig(seed=0), 0).records()
    assert simulate_world(WorldConfig(seed=1), 0).records() != base
    assert simulate_world(WorldConfig(seed=0), 1).records() != base


def test_config_validation_names_every_bad_field() -> None:
    with pytest.raises(ValidationError) as info:
        WorldConfig(frame_size=57, video_minutes=1.03, fps=0.3, num_leaving=3, num_late_agents=5, num_zones=5)
    message = str(info.value)
    for name in ("frame_size", "video_minutes", "fps", "num_leaving", "num_late_agents", "num_zones"):
        assert name in message
    with pytest.raises(ValidationError, match="num_agents"):
        WorldConfig(num_agents=12)
    with pytest.raises(ValidationError, match="extra"):
        WorldConfig(colour="red")


def test_config_is_frozen_and_documented() -> None:
    cfg = WorldConfig()
    with pytest.raises(ValidationError):
        cfg.seed = 3  # type: ignore[misc]
    assert all(field.description for field in WorldConfig.model_fields.values())
    assert cfg.num_steps * cfg.step_seconds == cfg.duration_s == 120.0


def test_video_decodes_with_expected_frames_and_size(world_dir: Path) -> None:
    header, _, states = read_event_log(world_dir / "world_00000.events.jsonl")
    frames = _decode(world_dir / header["video"])
    assert len(frames) == header["num_frames"] == round(header["duration_s"] * header["fps"])
    assert frames[0].shape == (56, 56, 3)
    assert len(states) == header["num_steps"]


def test_zone_tints_visible_and_optional(tmp_path: Path) -> None:
    geo = geometry_for(56, 4)
    for tints, expect_distinct in ((True, True), (False, False)):
        out = tmp_path / str(tints)
        out.mkdir()
        video, _ = make_video(out, 0, WorldConfig(**FAST, zone_tints=tints, clock=False))
        frame = _decode(video.video_path)[0].astype(float)
        # the median colour of a zone is its background (sprites cover far less than half of it)
        medians = [np.median(frame[y0:y1, x0:x1].reshape(-1, 3), axis=0) for y0, x0, y1, x1 in geo.zone_rects]
        spread = max(np.abs(a - b).max() for a in medians for b in medians)
        assert (spread > 20) == expect_distinct


def test_clock_brightens_over_time(world_dir: Path) -> None:
    frames = _decode(world_dir / "world_00000.mp4")
    corner = [float(f[0, 0].mean()) for f in frames]
    assert corner[-1] > corner[len(corner) // 2] + 40 > corner[0] + 80


def test_events_cover_all_four_categories(world_dir: Path) -> None:
    cfg = WorldConfig(**FAST)
    header, events, _ = read_event_log(world_dir / "world_00001.events.jsonl")
    kinds = {e["kind"] for e in events}
    assert {"move", "pickup", "drop", "handover", "leave", "color_change", "enter"} <= kinds
    assert {e["goal"] for e in events if e["kind"] == "move"} == set(GOAL_REASONS)
    assert coverage_gaps(cfg, events) == []
    links = long_range_links(cfg, events)
    assert links and header["long_range_links"] == [list(p) for p in links]
    drop_id, pickup_id = links[0]
    assert events[pickup_id]["start_s"] - events[drop_id]["start_s"] >= 0.35 * header["duration_s"]
    assert all(len(e["caused_by"]) == 0 or max(e["caused_by"]) < e["id"] for e in events)


def test_event_times_sorted_and_within_duration(world_dir: Path) -> None:
    lines = (world_dir / "world_00000.events.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    records = [json.loads(line) for line in lines[1:]]
    starts = [r["start_s"] for r in records]
    assert starts == sorted(starts)
    assert all(0 <= r["start_s"] < r["end_s"] <= header["duration_s"] for r in records)
    ids = [r["id"] for r in records if r["type"] == "event"]
    assert ids == list(range(len(ids)))
    keys = {tuple(r) for r in records if r["type"] == "event"}
    assert len(keys) == 1, "every event record has the same keys"


def test_states_agree_with_events(world_dir: Path) -> None:
    _, events, states = read_event_log(world_dir / "world_00000.events.jsonl")
    for e in events:
        agents = {a["agent"]: a for a in states[e["step"]]["agents"]}
        if e["kind"] == "move":
            assert agents[e["agent"]]["zone"] == e["to_zone"] == e["zone"]
            assert states[e["step"] - 1]["agents"][int(e["agent"][1:])]["zone"] == e["from_zone"]
        elif e["kind"] == "pickup":
            assert agents[e["agent"]]["carrying"] == e["item"]
        elif e["kind"] == "leave":
            assert not agents[e["agent"]]["present"]
            assert all(not s["agents"][int(e["agent"][1:])]["present"] for s in states[e["step"] :])


def test_generate_world_is_resumable(tmp_path: Path) -> None:
    cfg = WorldConfig(**FAST)
    first = generate_world(tmp_path, 2, cfg, progress=False)
    stamp = first[0].events_path.stat().st_mtime_ns
    log_bytes = first[1].events_path.read_bytes()
    first[1].events_path.unlink()
    second = generate_world(tmp_path, 3, cfg, progress=False)
    assert second[0].events_path.stat().st_mtime_ns == stamp, "complete video 0 was skipped"
    assert second[1].events_path.read_bytes() == log_bytes, "incomplete video 1 was remade identically"
    assert [v.index for v in second] == [0, 1, 2]
    world = json.loads((tmp_path / "world.json").read_text())
    assert [v["video"] for v in world["videos"]] == [f"world_{i:05d}.mp4" for i in range(3)]
    assert not list(tmp_path.glob("*.partial*"))
    with pytest.raises(ValueError, match="world_config"):
        generate_world(tmp_path, 1, WorldConfig(**FAST, seed=9), progress=False)
