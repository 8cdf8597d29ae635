"""probe(), backend choice and fallback, and VideoError for every kind of bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from lvr1kit.video import VideoError, probe, read_frames

FPS, SECONDS, WIDTH, HEIGHT = 24, 6, 64, 48  # videos["h264"], see conftest.py


def test_probe_h264_mp4_served_by_pyav_in_auto_mode(videos: dict[str, Path]) -> None:
    info = probe(videos["h264"])
    assert info.backend == "pyav"
    assert (info.num_frames, info.width, info.height, info.codec) == (FPS * SECONDS, WIDTH, HEIGHT, "h264")
    assert info.fps == pytest.approx(FPS)
    assert info.duration_s == pytest.approx(SECONDS, abs=1e-3)
    assert "mp4" in info.container and not info.variable_frame_rate


def test_forced_backends_agree(videos: dict[str, Path]) -> None:
    by_decord, by_pyav = probe(videos["h264"], backend="decord"), probe(videos["h264"], backend="pyav")
    assert (by_decord.backend, by_pyav.backend) == ("decord", "pyav")
    for field in ("num_frames", "width", "height", "codec"):
        assert getattr(by_decord, field) == getattr(by_pyav, field)
    assert by_decord.fps == pytest.approx(by_pyav.fps)
    assert by_decord.duration_s == pytest.approx(by_pyav.duration_s, abs=1e-3)


def test_vp9_webm_is_read_by_both_backends(videos: dict[str, Path], reference: Callable) -> None:
    """Honest check: decord 0.6.0's bundled FFmpeg 4.1 decodes VP9 WebM too, pixel-identical to PyAV."""
    for backend in ("decord", "auto"):
        info = probe(videos["vp9"], backend=backend)  # type: ignore[arg-type]
        assert (info.codec, info.num_frames) == ("vp9", 48)
        frames, _ = read_frames(info, np.arange(48))
        np.testing.assert_array_equal(frames, reference(videos["vp9"]))
    assert probe(videos["vp9"]).backend == "pyav"


def test_odd_size_mkv(videos: dict[str, Path]) -> None:
    info = probe(videos["odd"])
    assert (info.width, info.height, info.num_frames) == (66, 46, 24)


def test_av1_falls_back_to_pyav(videos: dict[str, Path]) -> None:
    """decord's FFmpeg 4.1 has no AV1 decoder: it fails to find the stream and PyAV (dav1d) serves it."""
    if "av1" not in videos:
        pytest.skip("this PyAV build has no libsvtav1 encoder")
    with pytest.raises(VideoError, match="decord cannot read it"):
        probe(videos["av1"], backend="decord")
    info = probe(videos["av1"])
    assert (info.backend, info.codec, info.num_frames) == ("pyav", "av1", 24)


def test_variable_frame_rate_falls_back_to_pyav(videos: dict[str, Path]) -> None:
    """decord opens the VFR file but reports the nominal 24 fps; auto mode detects it and uses PyAV."""
    info = probe(videos["vfr"])
    assert info.backend == "pyav" and info.variable_frame_rate
    assert info.num_frames == 40
    with av.open(str(videos["vfr"])) as container:
        times = np.array([float(f.time) for f in container.decode(video=0)])
    assert info.fps == pytest.approx(39 / (times[-1] - times[0]), rel=1e-6)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("missing", "file not found"),
        ("empty", "empty"),
        ("text", "not a readable video"),
        ("truncated", "truncated"),
        ("audio_only", "no video stream"),
    ],
)
@pytest.mark.parametrize("backend", ["auto", "decord", "pyav"])
def test_bad_input_raises_video_error_naming_file(
    videos: dict[str, Path], name: str, problem: str, backend: str
) -> None:
    with pytest.raises(VideoError, match=problem) as caught:
        probe(videos[name], backend=backend)  # type: ignore[arg-type]
    assert str(videos[name]) in str(caught.value)
    assert caught.value.path == str(videos[name])
    assert isinstance(caught.value, ValueError)


def test_video_stream_without_frames(tmp_path: Path) -> None:
    path = tmp_path / "no_frames.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height = 64, 48
        container.start_encoding()  # header only, no packets
    with pytest.raises(VideoError, match=r"no_frames\.mkv.*(no frames|not a readable)"):
        probe(path)


def test_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="not a regular file"):
        probe(tmp_path)


def test_unknown_backend(videos: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="unknown backend"):
        probe(videos["h264"], backend="opencv")  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_read_frames_exact_any_order_with_duplicates(
    videos: dict[str, Path], reference: Callable, backend: str
) -> None:
    expected = reference(videos["h264_gop30"])
    info = probe(videos["h264_gop30"], backend=backend)  # type: ignore[arg-type]
    wanted = np.array([100, 3, 3, 143, 0, 31, 29, 100])
    frames, delivered = read_frames(info, wanted)
    np.testing.assert_array_equal(delivered, wanted)
    np.testing.assert_array_equal(frames, expected[wanted])


def test_read_frames_rejects_out_of_range(videos: dict[str, Path]) -> None:
    info = probe(videos["h264"])
    with pytest.raises(IndexError):
        read_frames(info, np.array([info.num_frames]))
