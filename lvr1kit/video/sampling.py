"""Frame sampling strategies for long videos: pure index maths plus decoding with timestamps.

Contents:
    * ``compute_frame_indices(strategy, num_frames_total, fps, ...)``: pure, video-free index planning for
      ``"uniform"`` (N segment centres), ``"fps"`` (fixed rate, capped by ``max_frames`` with a fall back to
      uniform) and ``"per_clip"`` (N frames per ``clip_seconds`` clip). Optional ``snap="keyframe"`` moves
      each sample to a keyframe inside its own segment when there is one (else to the segment's first
      frame), which bounds decoding work on long-GOP files while keeping one sample per segment.
    * ``sample_frames(path, strategy=..., ...)``: probe, plan, decode (optionally resized) and return a
      ``SampledFrames`` with frames, timestamps, indices and provenance.
    * ``sample_frames_many(paths, ...)``: the same over many files, collecting ``VideoError`` per file.

Deviations:
    * ``uniform`` with more frames requested than the video holds repeats indices (fixed T is kept).
    * ``fps`` above the native rate is clamped to the native rate (``effective_fps`` says so).
    * ``fps`` and ``per_clip`` map seconds to frame indices with the average fps: exact for constant frame
      rate, approximate for variable frame rate files (whose returned ``timestamps_s`` are still the real ones).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from lvr1kit.video.io import Backend, VideoError, VideoInfo, frame_timestamps_s, keyframe_indices, probe, read_frames

logger = logging.getLogger(__name__)

Strategy = Literal["uniform", "fps", "per_clip"]
Snap = Literal["none", "keyframe"]


@dataclass(frozen=True)
class IndexPlan:
    """Frame indices chosen by a strategy.

    Attributes:
        indices: int64 frame indices [T], non-decreasing.
        effective_fps: Samples per second of video actually delivered.
        capped: True when ``fps`` sampling hit ``max_frames`` and fell back to uniform.
        clip_ids: int64 clip number of each sample (all zeros except for ``per_clip``).
        note: Human-readable explanation of caps and clamps ("" when none applied).
    """

    indices: np.ndarray
    effective_fps: float
    capped: bool = False
    clip_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    note: str = ""


def _segments(start: int, stop: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split frames [start, stop) into ``count`` equal segments: (starts, ends, centres)."""
    i = np.arange(count, dtype=np.float64)
    length = stop - start
    seg_starts = start + np.floor(i * length / count).astype(np.int64)
    seg_ends = np.maximum(start + np.floor((i + 1) * length / count).astype(np.int64), seg_starts + 1)
    centres = start + np.floor((i + 0.5) * length / count).astype(np.int64)
    return seg_starts, np.minimum(seg_ends, stop), np.minimum(centres, stop - 1)


def _snap(starts: np.ndarray, ends: np.ndarray, centres: np.ndarray, keyframes: np.ndarray) -> np.ndarray:
    """Per segment: nearest keyframe to the centre inside the segment, else the segment's first frame."""
    keys = np.unique(np.asarray(keyframes, dtype=np.int64))
    out = starts.copy()
    for j, (a, b, c) in enumerate(zip(starts.tolist(), ends.tolist(), centres.tolist(), strict=True)):
        inside = keys[np.searchsorted(keys, a) : np.searchsorted(keys, b)]
        if len(inside):
            out[j] = inside[np.argmin(np.abs(inside - c))]
    return out


def compute_frame_indices(
    strategy: Strategy,
    num_frames_total: int,
    fps: float,
    *,
    num_frames: int = 16,
    target_fps: float = 1.0,
    max_frames: int | None = None,
    clip_seconds: float = 10.0,
    frames_per_clip: int = 8,
    snap: Snap = "none",
    keyframes: np.ndarray | None = None,
) -> IndexPlan:
    """Plan which frames to decode; pure function, no video needed.

    Args:
        strategy: ``"uniform"``, ``"fps"`` or ``"per_clip"``.
        num_frames_total: Frames in the video.
        fps: Video frame rate.
        num_frames: ``uniform``: samples over the whole video (index ``floor((i+0.5)*n/N)``).
        target_fps: ``fps``: samples per second of video.
        max_frames: ``fps``: cap; above it the plan is ``uniform`` with ``max_frames`` samples.
        clip_seconds: ``per_clip``: clip length; the last clip is shorter.
        frames_per_clip: ``per_clip``: samples per clip, at segment centres within the clip.
        snap: ``"keyframe"`` moves each sample to a keyframe within its own segment where one exists.
        keyframes: Keyframe indices, required for ``snap="keyframe"``.

    Returns:
        The plan.

    Raises:
        ValueError: For unknown strategies or non-positive counts and rates.
    """
    n = int(num_frames_total)
    if n <= 0 or not fps > 0:
        raise ValueError(f"need num_frames_total > 0 and fps > 0, got {num_frames_total}, {fps}")
    if snap == "keyframe" and keyframes is None:
        raise ValueError("snap='keyframe' needs the keyframe indices")
    duration_s = n / fps
    capped, note = False, ""
    if strategy == "fps":
        if not target_fps > 0:
            raise ValueError(f"target_fps must be > 0, got {target_fps}")
        if target_fps > fps:
            note = f"target_fps {target_fps} clamped to the native {fps:.3f}"
            target_fps = fps
        count = max(1, math.floor(duration_s * target_fps + 1e-9))
        if max_frames is not None and count > max_frames:
            capped = True
            note = f"{count} frames at {target_fps} fps exceed max_frames={max_frames}; uniform over the video"
            count = int(max_frames)
        starts, ends, centres = _segments(0, n, count) if capped else _fps_segments(n, fps, target_fps, count)
        clip_ids = np.zeros(count, dtype=np.int64)
    elif strategy == "uniform":
        count = int(num_frames)
        if count <= 0:
            raise ValueError(f"num_frames must be > 0, got {num_frames}")
        starts, ends, centres = _segments(0, n, count)
        clip_ids = np.zeros(count, dtype=np.int64)
    elif strategy == "per_clip":
        if not clip_seconds > 0 or frames_per_clip <= 0:
            raise ValueError(f"need clip_seconds > 0 and frames_per_clip > 0, got {clip_seconds}, {frames_per_clip}")
        bounds = _clip_bounds(n, fps, clip_seconds)
        parts = [_segments(a, b, frames_per_clip) for a, b in itertools.pairwise(bounds)]
        starts, ends, centres = (np.concatenate([p[k] for p in parts]) for k in range(3))
        clip_ids = np.repeat(np.arange(len(parts), dtype=np.int64), frames_per_clip)
        count = len(centres)
    else:
        raise ValueError(f"unknown strategy {strategy!r}; use 'uniform', 'fps' or 'per_clip'")
    indices = _snap(starts, ends, centres, keyframes) if snap == "keyframe" else centres  # type: ignore[arg-type]
    return IndexPlan(indices.astype(np.int64), count / duration_s, capped, clip_ids, note)


def _fps_segments(n: int, fps: float, target_fps: float, count: int) -> tuple[np.ndarray, ...]:
    """Segments of 1/target_fps seconds; sample k sits at the centre time (k + 0.5) / target_fps."""
    k = np.arange(count, dtype=np.float64)
    starts = np.minimum(np.floor(k / target_fps * fps + 1e-9).astype(np.int64), n - 1)
    ends = np.clip(np.floor((k + 1) / target_fps * fps + 1e-9).astype(np.int64), starts + 1, n)
    centres = np.minimum(np.floor((k + 0.5) / target_fps * fps + 1e-9).astype(np.int64), n - 1)
    return starts, ends, centres


def _clip_bounds(n: int, fps: float, clip_seconds: float) -> list[int]:
    """Frame boundaries of consecutive ``clip_seconds`` clips: [0, b1, ..., n]."""
    bounds = [0]
    c = 1
    while (b := math.floor(c * clip_seconds * fps + 1e-9)) < n:
        bounds.append(b)
        c += 1
    bounds.append(n)
    return bounds


@dataclass(frozen=True)
class SampledFrames:
    """Decoded samples of one video.

    Attributes:
        frames: uint8 RGB array [T, H, W, 3].
        timestamps_s: float64 start time of each frame, seconds from the first frame [T].
        indices: int64 frame index of each frame [T].
        backend: ``"decord"`` or ``"pyav"``.
        source: Probe result of the video.
        strategy: Strategy used.
        effective_fps: Samples per second of video actually delivered.
        capped: True when ``fps`` sampling hit ``max_frames``.
        clip_ids: int64 clip number of each frame [T] (``per_clip``; zeros otherwise).
        note: Caps and clamps applied ("" when none).
    """

    frames: np.ndarray
    timestamps_s: np.ndarray
    indices: np.ndarray
    backend: str
    source: VideoInfo
    strategy: Strategy
    effective_fps: float
    capped: bool
    clip_ids: np.ndarray
    note: str = ""


def sample_frames(
    path: str | os.PathLike[str],
    strategy: Strategy = "uniform",
    *,
    num_frames: int = 16,
    target_fps: float = 1.0,
    max_frames: int | None = None,
    clip_seconds: float = 10.0,
    frames_per_clip: int = 8,
    height: int | None = None,
    width: int | None = None,
    backend: Backend = "auto",
    snap: Snap = "none",
) -> SampledFrames:
    """Probe a video, plan frame indices with ``compute_frame_indices`` and decode them.

    Args:
        path: Video file.
        strategy: ``"uniform"``, ``"fps"`` or ``"per_clip"`` (see ``compute_frame_indices``).
        num_frames: ``uniform`` sample count.
        target_fps: ``fps`` rate.
        max_frames: ``fps`` cap.
        clip_seconds: ``per_clip`` clip length.
        frames_per_clip: ``per_clip`` samples per clip.
        height: Resize while decoding to this height (width keeps the aspect ratio if not given).
        width: Resize while decoding to this width.
        backend: ``"auto"``, ``"decord"`` or ``"pyav"``.
        snap: ``"keyframe"`` trades exact segment centres for far less decoding on long-GOP files.

    Returns:
        Frames, timestamps, indices and provenance; deterministic for a given file and arguments.

    Raises:
        VideoError: For bad input (see ``probe``) or undecodable frames.
    """
    info = probe(path, backend=backend)
    plan = compute_frame_indices(
        strategy,
        info.num_frames,
        info.fps,
        num_frames=num_frames,
        target_fps=target_fps,
        max_frames=max_frames,
        clip_seconds=clip_seconds,
        frames_per_clip=frames_per_clip,
        snap=snap,
        keyframes=keyframe_indices(info) if snap == "keyframe" else None,
    )
    frames, delivered = read_frames(info, plan.indices, height=height, width=width)
    if plan.note:
        logger.info("%s: %s", info.path, plan.note)
    return SampledFrames(
        frames,
        frame_timestamps_s(info, delivered),
        delivered,
        info.backend,
        info,
        strategy,
        plan.effective_fps,
        plan.capped,
        plan.clip_ids,
        plan.note,
    )


@dataclass(frozen=True)
class BatchResult:
    """Outcome of ``sample_frames_many``: successes in input order, and (path, message) per failure."""

    results: list[SampledFrames]
    failures: list[tuple[str, str]]


def sample_frames_many(paths: Iterable[str | os.PathLike[str]], **kwargs: object) -> BatchResult:
    """Run ``sample_frames`` on each path; a ``VideoError`` is recorded and the loop continues.

    Args:
        paths: Video files.
        **kwargs: Passed to ``sample_frames``.

    Returns:
        Results for the readable files and failures for the others.
    """
    results: list[SampledFrames] = []
    failures: list[tuple[str, str]] = []
    for path in paths:
        try:
            results.append(sample_frames(path, **kwargs))  # type: ignore[arg-type]
        except VideoError as exc:
            logger.warning("skipping %s", exc)
            failures.append((str(path), str(exc)))
    return BatchResult(results, failures)
