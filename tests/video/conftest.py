"""Small synthetic test videos written with PyAV (session-scoped, a few KB each, < 1 s in total).

The main one, ``videos["h264"]``, is 6 s of 64x48 H.264 at 24 fps (144 frames) with a keyframe every 24.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

FPS = 24
SECONDS = 6
WIDTH, HEIGHT = 64, 48
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1: errors only


def make_video(
    path: Path,
    codec: str = "libx264",
    *,
    fps: int = FPS,
    num_frames: int = FPS * SECONDS,
    width: int = WIDTH,
    height: int = HEIGHT,
    gop_frames: int = FPS,
    pts_ms: Sequence[int] | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Write a video whose frames differ (moving bar + changing colour), fixed GOP, optional VFR pts."""
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.gop_size = gop_frames
        opts = {"g": str(gop_frames), "keyint_min": str(gop_frames), "sc_threshold": "0", "bf": "0"}
        if codec == "libx264":
            opts["preset"] = "ultrafast"
        stream.options = {**opts, **(options or {})}
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(num_frames):
            image = np.zeros((height, width, 3), dtype=np.uint8)
            image[..., 0] = (i * 5) % 256
            image[..., 2] = 255 - (i * 3) % 256
            image[:, (i * 2) % width : (i * 2) % width + 4, 1] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i if pts_ms is None else pts_ms[i]
            if pts_ms is not None:
                frame.time_base = Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def decode_all(path: Path) -> np.ndarray:
    """Reference: every frame, decoded sequentially with PyAV, as RGB [N, H, W, 3]."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="session")
def reference() -> Callable[[Path], np.ndarray]:
    """``decode_all`` as a fixture (test modules cannot import conftest under --import-mode=importlib)."""
    return decode_all


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Named test files: good videos of several kinds and every kind of bad input."""
    root = tmp_path_factory.mktemp("videos")
    files = {
        "h264": make_video(root / "h264.mp4"),
        "h264_gop30": make_video(root / "gop30.mp4", gop_frames=30),
        "vp9": make_video(root / "vp9.webm", "libvpx-vp9", num_frames=48),
        "odd": make_video(root / "odd.mkv", width=66, height=46, num_frames=24),
    }
    rng = np.random.default_rng(0)
    files["vfr"] = make_video(root / "vfr.mkv", num_frames=40, pts_ms=np.cumsum(rng.integers(10, 200, 40)).tolist())
    if "libsvtav1" in av.codecs_available:
        files["av1"] = make_video(
            root / "av1.mp4", "libsvtav1", num_frames=24, width=64, height=64, options={"preset": "12"}
        )
    audio = root / "audio_only.m4a"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    files["audio_only"] = audio
    files["text"] = root / "notes.mp4"
    files["text"].write_text("this is not a video\n" * 20)
    files["empty"] = root / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["truncated"] = root / "truncated.mp4"
    files["truncated"].write_bytes(files["h264"].read_bytes()[: files["h264"].stat().st_size // 2])
    files["missing"] = root / "missing.mp4"
    return files
