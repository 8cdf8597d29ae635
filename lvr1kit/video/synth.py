"""Synthetic long-video world: public entry point (generate videos + ground-truth event logs).

Contents:
    - ``WorldConfig`` (re-exported from ``synth_config``), ``simulate_world`` (``synth_world``),
      ``write_video`` (``synth_render``).
    - ``WorldVideo``: paths and sizes of one generated video.
    - ``make_video(out_dir, index, config)``: simulate, encode and log one video (atomic, skipped when
      complete).
    - ``generate_world(out_dir, num_videos, config)``: make many videos, resumable, and write ``world.json``.
    - ``read_event_log(path)``: load ``(header, events, states)`` from an event log.

Files in ``out_dir``: ``world_00000.mp4`` and ``world_00000.events.jsonl`` per video (the event log is written
after the video, through a temporary file and a rename, so its presence marks a complete video), plus
``world.json`` = ``{"schema_version", "world_config", "videos": [{"index", "video", "events", "duration_s",
"num_frames", "fps", "num_events", "attempt"}]}`` (paths relative to ``out_dir``).

Event log schema (JSONL, ``schema_version`` 1). Line 1 is the header, then for each step its events followed
by its state, so all records are sorted by time. Steps are ``step_seconds`` long; everything at step ``t`` is
visible during ``[start_s, end_s) = [t * step_seconds, (t + 1) * step_seconds)``.

- ``{"type": "header"}``: ``schema_version``, ``generator``, ``video`` (mp4 file name), ``video_index``,
  ``seed``, ``attempt`` (deterministic retry used), ``duration_s``, ``fps``, ``step_seconds``, ``num_steps``,
  ``frames_per_step``, ``num_frames``, ``frame_size``, ``cells_per_zone``, ``goal_reasons`` (fixed order),
  ``zones`` (``zone`` name, grid ``row``/``col``, pixel ``rect_yxyx``), ``agents`` (``agent`` id "A0",
  ``name`` = ``shape`` (unique, stable even when colours change), ``initial_color``), ``items`` (``item`` id
  "I0", ``name``; I0 is always the star), ``long_range_links`` (``[drop_id, pickup_id]`` pairs),
  ``world_config``.
- ``{"type": "event"}``, always with every key: ``id`` (0.., in file order), ``kind`` (``item_placed``,
  ``enter``, ``move``, ``pickup``, ``drop``, ``handover``, ``color_change``, ``leave``), ``step``,
  ``start_s``, ``end_s``, ``agent`` (actor id or null), ``zone`` (where it happened / where the actor ends
  up), ``from_zone``/``to_zone`` (moves), ``item``, ``other_agent`` (receiver of a handover, target of a
  ``meet`` move), ``goal`` (moves only: ``fetch`` | ``deliver`` | ``meet`` | ``wander``), ``goal_text`` ("to
  fetch the star", "just wandering", ...), ``goal_achieved`` (moves: did the follow-up act succeed),
  ``outcome_id`` (the pickup/drop/handover that fulfilled the move's goal), ``color_from``/``color_to``
  (colour changes), ``caused_by`` (ids of earlier events this one depends on: the goal move, and the event
  that last put the item where it was; a pickup whose ``caused_by`` holds another agent's drop far earlier is
  a long-range causal link), ``text`` (one English sentence).
- ``{"type": "state"}``: ``step``, ``start_s``, ``end_s``, ``agents`` (per agent: ``agent``, ``present``,
  ``zone``, ``cell``, pixel centre ``x``/``y``, ``color``, ``carrying``), ``items`` (``item``, ``zone``,
  ``cell``, ``x``/``y``, ``holder``), ``distractors`` (``[x, y]`` pixel positions).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lvr1kit.video.synth_config import GOAL_REASONS, SCHEMA_VERSION, ZONE_LAYOUTS, WorldConfig
from lvr1kit.video.synth_render import write_video
from lvr1kit.video.synth_world import WorldLog, simulate_world

__all__ = [
    "GOAL_REASONS",
    "SCHEMA_VERSION",
    "ZONE_LAYOUTS",
    "WorldConfig",
    "WorldLog",
    "WorldVideo",
    "generate_world",
    "make_video",
    "read_event_log",
    "simulate_world",
    "write_video",
]

logger = logging.getLogger(__name__)

WORLD_FILE = "world.json"
"""Name of the world manifest written in ``out_dir``."""


@dataclass(frozen=True)
class WorldVideo:
    """One generated video of a synthetic world."""

    index: int
    video_path: Path
    events_path: Path
    duration_s: float
    num_frames: int
    fps: float
    num_events: int
    attempt: int

    def manifest_entry(self, out_dir: Path) -> dict[str, Any]:
        """Return this video's ``world.json`` entry with paths relative to ``out_dir``."""
        return {
            "index": self.index,
            "video": str(self.video_path.relative_to(out_dir)),
            "events": str(self.events_path.relative_to(out_dir)),
            "duration_s": self.duration_s,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "num_events": self.num_events,
            "attempt": self.attempt,
        }


def video_stem(index: int) -> str:
    """File stem of video ``index`` (``world_00003``)."""
    return f"world_{index:05d}"


def read_event_log(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Load an event log.

    Args:
        path: A ``*.events.jsonl`` file.

    Returns:
        ``(header, events, states)``.

    Raises:
        ValueError: If the first line is not a header of a known schema version.
    """
    with Path(path).open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    if not records or records[0].get("type") != "header":
        raise ValueError(f"{path}: first line is not a header record")
    header = records[0]
    if header.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version {header.get('schema_version')} != {SCHEMA_VERSION}")
    events = [r for r in records[1:] if r["type"] == "event"]
    states = [r for r in records[1:] if r["type"] == "state"]
    return header, events, states


def _video_from_log(out_dir: Path, index: int, header: dict[str, Any], num_events: int) -> WorldVideo:
    stem = video_stem(index)
    return WorldVideo(
        index=index,
        video_path=out_dir / f"{stem}.mp4",
        events_path=out_dir / f"{stem}.events.jsonl",
        duration_s=header["duration_s"],
        num_frames=header["num_frames"],
        fps=header["fps"],
        num_events=num_events,
        attempt=header["attempt"],
    )


def _write_jsonl_atomic(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def make_video(out_dir: Path, index: int, config: WorldConfig) -> tuple[WorldVideo, bool]:
    """Simulate, encode and log video ``index`` of the world, unless it is already complete.

    Args:
        out_dir: Output directory (must exist).
        index: Video index; selects the video's seed.
        config: The world configuration.

    Returns:
        ``(video, made)`` where ``made`` is False when a complete video was found and kept.
    """
    out_dir = Path(out_dir)
    stem = video_stem(index)
    events_path = out_dir / f"{stem}.events.jsonl"
    video_path = out_dir / f"{stem}.mp4"
    if events_path.exists() and video_path.exists():
        header, events, _ = read_event_log(events_path)
        return _video_from_log(out_dir, index, header, len(events)), False
    log: WorldLog = simulate_world(config, index)
    log.header["video"] = video_path.name
    tmp_video = out_dir / f"{stem}.partial.mp4"
    write_video(tmp_video, log, config)
    os.replace(tmp_video, video_path)
    _write_jsonl_atomic(events_path, [log.header, *log.records()])
    return _video_from_log(out_dir, index, log.header, len(log.events)), True


def _check_world_file(out_dir: Path, config: WorldConfig) -> None:
    """Refuse to mix two world configurations in one directory."""
    world_file = out_dir / WORLD_FILE
    if not world_file.exists():
        return
    existing = json.loads(world_file.read_text(encoding="utf-8")).get("world_config")
    if existing != config.model_dump(mode="json"):
        raise ValueError(
            f"{world_file} was written with another world_config; use a new out_dir or the same config "
            f"(existing: {existing})"
        )


def _write_world_file(out_dir: Path, config: WorldConfig, videos: list[WorldVideo]) -> None:
    world = {
        "schema_version": SCHEMA_VERSION,
        "world_config": config.model_dump(mode="json"),
        "videos": [v.manifest_entry(out_dir) for v in videos],
    }
    tmp = out_dir / (WORLD_FILE + ".partial")
    tmp.write_text(json.dumps(world, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / WORLD_FILE)


def generate_world(
    out_dir: Path, num_videos: int, config: WorldConfig | None = None, progress: bool = True
) -> list[WorldVideo]:
    """Generate ``num_videos`` videos with event logs in ``out_dir`` (resumable).

    Videos whose event log already exists are kept. ``world.json`` lists every video of the world afterwards;
    rerunning with a larger ``num_videos`` extends the world (video ``i`` never depends on ``num_videos``).

    Args:
        out_dir: Output directory (created if missing).
        num_videos: Number of videos (indices ``0 .. num_videos - 1``).
        config: World configuration; defaults to ``WorldConfig()``.
        progress: Show a tqdm progress bar.

    Returns:
        The videos, in index order.

    Raises:
        ValueError: If ``num_videos`` < 1 or ``out_dir`` holds a world made with another config.
    """
    if num_videos < 1:
        raise ValueError(f"num_videos={num_videos}: must be >= 1")
    config = config or WorldConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_world_file(out_dir, config)
    if not (out_dir / WORLD_FILE).exists():
        _write_world_file(out_dir, config, [])
    videos, n_made = [], 0
    for index in tqdm(range(num_videos), desc="synth videos", unit="video", disable=not progress):
        video, made = make_video(out_dir, index, config)
        videos.append(video)
        n_made += made
    _write_world_file(out_dir, config, videos)
    logger.info("world in %s: %d videos made, %d already complete", out_dir, n_made, num_videos - n_made)
    return videos
