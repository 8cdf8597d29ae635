"""Frame sampling: pure index maths, real decodes (frames, timestamps, resize), determinism, batch helper."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lvr1kit.video import compute_frame_indices, probe, sample_frames, sample_frames_many

N_FRAMES, FPS = 144, 24.0  # videos["h264"]: 6 s, keyframe every 24 frames


def test_uniform_segment_centres() -> None:
    plan = compute_frame_indices("uniform", 100, 25.0, num_frames=4)
    np.testing.assert_array_equal(plan.indices, [12, 37, 62, 87])  # floor((i + 0.5) * 100 / 4)
    assert plan.effective_fps == pytest.approx(4 / 4.0) and not plan.capped


def test_uniform_more_frames_than_video_repeats() -> None:
    plan = compute_frame_indices("uniform", 3, 1.0, num_frames=6)
    np.testing.assert_array_equal(plan.indices, [0, 0, 1, 1, 2, 2])


def test_fps_strategy_and_cap() -> None:
    plan = compute_frame_indices("fps", N_FRAMES, FPS, target_fps=2.0, max_frames=100)
    assert len(plan.indices) == 12 and not plan.capped
    np.testing.assert_array_equal(plan.indices, np.floor((np.arange(12) + 0.5) * 12).astype(int))
    capped = compute_frame_indices("fps", N_FRAMES, FPS, target_fps=2.0, max_frames=5)
    assert capped.capped and "max_frames=5" in capped.note
    np.testing.assert_array_equal(capped.indices, compute_frame_indices("uniform", N_FRAMES, FPS, num_frames=5).indices)
    assert capped.effective_fps == pytest.approx(5 / 6.0)


def test_fps_above_native_is_clamped() -> None:
    plan = compute_frame_indices("fps", 10, 5.0, target_fps=50.0)
    np.testing.assert_array_equal(plan.indices, np.arange(10))
    assert plan.effective_fps == pytest.approx(5.0) and "clamped" in plan.note


def test_per_clip_last_clip_shorter() -> None:
    plan = compute_frame_indices("per_clip", 250, 10.0, clip_seconds=10.0, frames_per_clip=2)
    # clips [0,100), [100,200), [200,250): centres of halves
    np.testing.assert_array_equal(plan.indices, [25, 75, 125, 175, 212, 237])
    np.testing.assert_array_equal(plan.clip_ids, [0, 0, 1, 1, 2, 2])


def test_keyframe_snap_stays_in_segment() -> None:
    keys = np.arange(0, 1000, 250)
    plan = compute_frame_indices("uniform", 1000, 25.0, num_frames=8, snap="keyframe", keyframes=keys)
    # segments of 125 frames: keyframes 0/250/500/750 start segments 0/2/4/6, others take their start
    np.testing.assert_array_equal(plan.indices, [0, 125, 250, 375, 500, 625, 750, 875])
    with pytest.raises(ValueError, match="keyframe"):
        compute_frame_indices("uniform", 1000, 25.0, snap="keyframe")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "nope"},
        {"strategy": "uniform", "num_frames": 0},
        {"strategy": "fps", "target_fps": 0.0},
        {"strategy": "per_clip", "clip_seconds": 0.0},
    ],
)
def test_invalid_arguments(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        compute_frame_indices(num_frames_total=100, fps=25.0, **kwargs)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
@pytest.mark.parametrize(
    ("strategy", "kwargs", "count"),
    [
        ("uniform", {"num_frames": 10}, 10),
        ("fps", {"target_fps": 3.0, "max_frames": 100}, 18),
        ("per_clip", {"clip_seconds": 2.5, "frames_per_clip": 3}, 9),
    ],
)
def test_decode_matches_plan_and_reference(
    videos: dict[str, Path], reference: Callable, backend: str, strategy: str, kwargs: dict, count: int
) -> None:
    result = sample_frames(videos["h264"], strategy, backend=backend, **kwargs)  # type: ignore[arg-type]
    plan = compute_frame_indices(strategy, N_FRAMES, FPS, **kwargs)  # type: ignore[arg-type]
    assert result.frames.shape == (count, 48, 64, 3) and result.frames.dtype == np.uint8
    np.testing.assert_array_equal(result.indices, plan.indices)
    np.testing.assert_allclose(result.timestamps_s, plan.indices / FPS, atol=1e-4)
    np.testing.assert_array_equal(result.frames, reference(videos["h264"])[plan.indices])
    assert result.backend == backend and result.source.num_frames == N_FRAMES


def test_vfr_timestamps_are_real_presentation_times(videos: dict[str, Path]) -> None:
    import av

    with av.open(str(videos["vfr"])) as container:
        times = np.array([float(f.time) for f in container.decode(video=0)])
    result = sample_frames(videos["vfr"], num_frames=5)
    assert result.backend == "pyav"
    np.testing.assert_allclose(result.timestamps_s, times[result.indices] - times[0], atol=1e-6)


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_resize_while_decoding(videos: dict[str, Path], backend: str) -> None:
    assert sample_frames(videos["h264"], num_frames=3, height=24, backend=backend).frames.shape == (3, 24, 32, 3)
    assert sample_frames(videos["h264"], num_frames=3, width=32, height=32, backend=backend).frames.shape[1:3] == (
        32,
        32,
    )


def test_keyframe_snap_decodes_keyframes(videos: dict[str, Path]) -> None:
    result = sample_frames(videos["h264"], num_frames=6, snap="keyframe", backend="pyav")
    np.testing.assert_array_equal(result.indices, np.arange(0, 144, 24))


@pytest.mark.parametrize("backend", ["auto", "pyav"])
def test_deterministic(videos: dict[str, Path], backend: str) -> None:
    first = sample_frames(videos["h264_gop30"], "fps", target_fps=4.0, height=24, backend=backend)
    second = sample_frames(videos["h264_gop30"], "fps", target_fps=4.0, height=24, backend=backend)
    np.testing.assert_array_equal(first.frames, second.frames)
    np.testing.assert_array_equal(first.timestamps_s, second.timestamps_s)
    np.testing.assert_array_equal(first.indices, second.indices)


def test_backends_decode_identical_pixels(videos: dict[str, Path]) -> None:
    a = sample_frames(videos["h264_gop30"], num_frames=12, backend="decord")
    b = sample_frames(videos["h264_gop30"], num_frames=12, backend="pyav")
    np.testing.assert_array_equal(a.frames, b.frames)


def test_batch_helper_collects_failures_and_continues(videos: dict[str, Path]) -> None:
    paths = [videos["h264"], videos["text"], videos["missing"], videos["vp9"], videos["audio_only"]]
    batch = sample_frames_many(paths, num_frames=4)
    assert [r.source.path for r in batch.results] == [str(videos["h264"]), str(videos["vp9"])]
    assert [p for p, _ in batch.failures] == [str(videos[k]) for k in ("text", "missing", "audio_only")]
    assert all(path in message for path, message in batch.failures)


def test_probe_info_travels_with_result(videos: dict[str, Path]) -> None:
    result = sample_frames(videos["h264"], num_frames=2)
    assert result.source == probe(videos["h264"])
