"""Clip plans and clip files: stream copy at keyframes (actual times recorded) and re-encoding."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from lvr1kit.video import VideoError, probe, split_clips, write_clips


def test_split_clips_covers_video(videos: dict[str, Path]) -> None:
    clips = split_clips(videos["h264"], clip_seconds=2.5)
    assert [c.index for c in clips] == [0, 1, 2]
    assert [(c.start_s, c.end_s) for c in clips[:2]] == [(0.0, 2.5), (2.5, 5.0)]
    assert clips[-1].end_s == pytest.approx(6.0, abs=1e-3) and clips[-1].end_s - clips[-1].start_s < 2.5


def _check_cover(clips: list, duration_s: float) -> None:
    assert clips[0].start_s == 0.0
    assert clips[-1].end_s == pytest.approx(duration_s, abs=1e-6)
    for before, after in itertools.pairwise(clips):
        assert before.end_s == after.start_s and before.start_s < before.end_s


def test_stream_copy_aligned_keyframes(videos: dict[str, Path], tmp_path: Path) -> None:
    clips = write_clips(videos["h264"], tmp_path, clip_seconds=2.0)
    assert [c.method for c in clips] == ["copy"] * 3
    assert [t for c in clips for t in (c.start_s, c.end_s)] == pytest.approx([0, 2, 2, 4, 4, 6], abs=1e-3)
    _check_cover(clips, 6.0)
    for clip in clips:
        info = probe(clip.path, backend="pyav")
        assert info.codec == "h264" and info.num_frames == clip.num_frames == 48
    assert sum(c.num_frames for c in clips) == 144


def test_stream_copy_cuts_at_keyframes_not_nominal_times(videos: dict[str, Path], tmp_path: Path) -> None:
    # keyframes every 30 frames at 24 fps: 0, 1.25, 2.5, 3.75, 5.0 s
    clips = write_clips(videos["h264_gop30"], tmp_path, clip_seconds=2.0)
    assert [c.method for c in clips] == ["copy"] * 3
    assert [c.start_s for c in clips] == pytest.approx([0.0, 2.5, 5.0], abs=1e-3)
    assert [c.nominal_start_s for c in clips] == [0.0, 2.0, 4.0]
    _check_cover(clips, 6.0)
    assert [c.num_frames for c in clips] == [60, 60, 24]
    assert [probe(c.path).num_frames for c in clips] == [60, 60, 24]


def test_auto_reencodes_when_a_clip_has_no_keyframe(videos: dict[str, Path], tmp_path: Path) -> None:
    clips = write_clips(videos["h264_gop30"], tmp_path, clip_seconds=1.0)  # 1 s clips, 1.25 s GOP
    assert {c.method for c in clips} == {"reencode"}
    assert [c.start_s for c in clips] == pytest.approx(np.arange(6.0), abs=1e-3)
    _check_cover(clips, 6.0)
    assert [probe(c.path).num_frames for c in clips] == [24] * 6


def test_forced_copy_merges_clips_without_keyframe(videos: dict[str, Path], tmp_path: Path) -> None:
    clips = write_clips(videos["h264_gop30"], tmp_path, clip_seconds=1.0, mode="copy")
    assert [c.start_s for c in clips] == pytest.approx([0.0, 1.25, 2.5, 3.75, 5.0], abs=1e-3)
    _check_cover(clips, 6.0)


def test_forced_reencode(videos: dict[str, Path], tmp_path: Path) -> None:
    clips = write_clips(videos["vp9"], tmp_path, clip_seconds=0.5, mode="reencode")
    assert len(clips) == 4 and all(Path(c.path).suffix == ".mp4" for c in clips)
    assert [probe(c.path).num_frames for c in clips] == [12] * 4


def test_webm_stream_copy(videos: dict[str, Path], tmp_path: Path) -> None:
    clips = write_clips(videos["vp9"], tmp_path, clip_seconds=1.0)
    assert [c.method for c in clips] == ["copy", "copy"]
    assert [probe(c.path).codec for c in clips] == ["vp9", "vp9"]


def test_bad_input(videos: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="notes.mp4"):
        write_clips(videos["text"], tmp_path)
    with pytest.raises(VideoError, match="missing.mp4"):
        split_clips(videos["missing"])
