"""Cutting long videos into fixed-length clips: nominal clip plans and clip files.

Contents:
    * ``Clip`` and ``split_clips(path, clip_seconds=10.0)``: nominal clips from the probe duration (the last
      clip is shorter).
    * ``WrittenClip`` and ``write_clips(path, out_dir, clip_seconds=10.0, mode="auto")``: writes clip files.
      ``"copy"`` remuxes packets without re-encoding, cutting at the first keyframe at or after each
      nominal boundary, so the recorded actual start/end times may differ from the nominal ones.
      ``"reencode"`` decodes and encodes (libx264, .mp4) with frame-exact cuts. ``"auto"`` copies when
      every nominal clip receives its own keyframe and the remux succeeds, else re-encodes.

Deviations:
    * Only the first video stream is written; audio and subtitle streams are dropped.
    * Stream copy assumes closed GOPs (packets after a keyframe in decode order do not belong before it),
      which holds for x264/x265/libvpx defaults; open-GOP files may show a few damaged frames per cut.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from lvr1kit.video.io import Backend, VideoError, VideoInfo, _pyav_index, probe

logger = logging.getLogger(__name__)

ClipMode = Literal["auto", "copy", "reencode"]


@dataclass(frozen=True)
class Clip:
    """One nominal clip: ``index`` and its [start_s, end_s) span in seconds from the first frame."""

    index: int
    start_s: float
    end_s: float


@dataclass(frozen=True)
class WrittenClip:
    """One clip file with its actual span (seconds in the source timeline) and how it was written."""

    index: int
    path: str
    start_s: float
    end_s: float
    nominal_start_s: float
    nominal_end_s: float
    num_frames: int
    method: Literal["copy", "reencode"]


def _nominal(duration_s: float, clip_seconds: float) -> list[Clip]:
    if not clip_seconds > 0:
        raise ValueError(f"clip_seconds must be > 0, got {clip_seconds}")
    count = max(1, math.ceil(duration_s / clip_seconds - 1e-9))
    return [Clip(k, k * clip_seconds, min((k + 1) * clip_seconds, duration_s)) for k in range(count)]


def split_clips(path: str | os.PathLike[str], clip_seconds: float = 10.0, backend: Backend = "auto") -> list[Clip]:
    """Nominal ``clip_seconds`` clips covering the video; the last one is shorter.

    Args:
        path: Video file.
        clip_seconds: Clip length.
        backend: Probe backend.

    Returns:
        Clips in order, contiguous from 0 to the probed duration.

    Raises:
        VideoError: For bad input.
    """
    return _nominal(probe(path, backend=backend).duration_s, clip_seconds)


def write_clips(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    clip_seconds: float = 10.0,
    mode: ClipMode = "auto",
) -> list[WrittenClip]:
    """Cut a video into clip files, by stream copy where possible.

    Args:
        path: Video file.
        out_dir: Folder for ``<stem>_clip0000<ext>`` files (created if missing).
        clip_seconds: Nominal clip length.
        mode: ``"auto"``, ``"copy"`` (fail rather than re-encode) or ``"reencode"``.

    Returns:
        The written clips with actual times; contiguous, monotone and covering the whole video.

    Raises:
        VideoError: For bad input, or in ``"copy"`` mode when stream copy is impossible.
    """
    info = probe(path, backend="pyav")
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    nominal = _nominal(info.duration_s, clip_seconds)
    if mode in ("auto", "copy"):
        try:
            return _write_copy(info, target, nominal, strict=mode == "auto")
        except (av.FFmpegError, ValueError, RuntimeError) as exc:
            if mode == "copy":
                raise VideoError(info.path, f"stream copy is impossible ({exc})", "use mode='reencode'") from exc
            logger.info("%s: stream copy impossible (%s); re-encoding", info.path, exc)
    elif mode != "reencode":
        raise ValueError(f"unknown mode {mode!r}; use 'auto', 'copy' or 'reencode'")
    return _write_reencode(info, target, nominal)


def _copy_cuts(times_s: np.ndarray, is_key: np.ndarray, nominal: list[Clip], strict: bool) -> list[int]:
    """Frame index where each written clip starts: the first keyframe at/after each nominal start."""
    keys = np.flatnonzero(is_key)
    cuts = [0]
    for clip in nominal[1:]:
        k = np.searchsorted(times_s[keys], clip.start_s - 1e-6)
        if k >= len(keys) or times_s[keys[k]] >= clip.end_s - 1e-6 or keys[k] <= cuts[-1]:
            if strict:
                raise RuntimeError(f"no keyframe inside nominal clip {clip.index} ({clip.start_s:.2f} s)")
            continue  # merged into the previous clip
        cuts.append(int(keys[k]))
    return cuts


def _write_copy(info: VideoInfo, out_dir: Path, nominal: list[Clip], strict: bool) -> list[WrittenClip]:
    index = _pyav_index(info.path)
    times_s = (index.pts - index.pts[0]) * index.time_base
    cuts = _copy_cuts(times_s, index.is_key, nominal, strict)
    cut_pts = {int(index.pts[c]): j for j, c in enumerate(cuts)}
    source = Path(info.path)
    paths = [out_dir / f"{source.stem}_clip{j:04d}{source.suffix}" for j in range(len(cuts))]
    counts = [0] * len(cuts)
    with av.open(info.path) as container:
        in_stream = container.streams.video[0]
        output, out_stream, offset, current = None, None, 0, -1
        try:
            for packet in container.demux(in_stream):
                if packet.dts is None and packet.pts is None:
                    continue  # flush packet
                if packet.is_keyframe and packet.pts in cut_pts and cut_pts[packet.pts] == current + 1:
                    if output is not None:
                        output.close()
                    current += 1
                    output = av.open(str(paths[current]), "w")
                    out_stream = output.add_stream_from_template(in_stream)
                    offset = packet.dts if packet.dts is not None else packet.pts
                if output is None or out_stream is None:
                    raise RuntimeError("stream does not start with a keyframe")
                if packet.pts is not None:
                    packet.pts -= offset
                if packet.dts is not None:
                    packet.dts -= offset
                packet.stream = out_stream
                output.mux(packet)
                counts[current] += 1
        finally:
            if output is not None:
                output.close()
    if current != len(cuts) - 1:
        raise RuntimeError(f"only {current + 1} of {len(cuts)} cut points were found while remuxing")
    bounds = [*(float(times_s[c]) for c in cuts), info.duration_s]
    return [
        WrittenClip(
            j,
            str(paths[j]),
            bounds[j],
            bounds[j + 1],
            *_nominal_span(nominal, bounds[j], bounds[j + 1]),
            counts[j],
            "copy",
        )
        for j in range(len(cuts))
    ]


def _nominal_span(nominal: list[Clip], start_s: float, end_s: float) -> tuple[float, float]:
    """Nominal span of the clip(s) a written clip stands for (merged clips span several)."""
    first = min(nominal, key=lambda c: abs(c.start_s - start_s))
    last = min(nominal, key=lambda c: abs(c.end_s - end_s))
    return first.start_s, max(last.end_s, first.end_s)


def _write_reencode(info: VideoInfo, out_dir: Path, nominal: list[Clip]) -> list[WrittenClip]:
    index = _pyav_index(info.path)
    times_s = (index.pts - index.pts[0]) * index.time_base
    starts = [int(np.searchsorted(times_s, c.start_s - 1e-6)) for c in nominal]
    source = Path(info.path)
    paths = [out_dir / f"{source.stem}_clip{j:04d}.mp4" for j in range(len(nominal))]
    counts = [0] * len(nominal)
    rate = Fraction(info.fps).limit_denominator(1001)
    width, height = info.width - info.width % 2, info.height - info.height % 2
    output, stream, current, frame_no = None, None, -1, 0
    try:
        with av.open(info.path) as container:
            for frame in container.decode(video=0):
                while current + 1 < len(starts) and frame_no >= starts[current + 1]:
                    _close_encoder(output, stream)
                    current += 1
                    output = av.open(str(paths[current]), "w")
                    stream = output.add_stream("libx264", rate=rate, options={"preset": "veryfast"})
                    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                assert output is not None and stream is not None
                image = frame.reformat(width=width, height=height, format="yuv420p")
                image.pts = counts[current]
                for packet in stream.encode(image):
                    output.mux(packet)
                counts[current] += 1
                frame_no += 1
    except av.FFmpegError as exc:
        raise VideoError(info.path, f"re-encoding failed ({exc})", "the file may be damaged") from exc
    finally:
        _close_encoder(output, stream)
    bounds = [*(float(times_s[s]) if s < len(times_s) else info.duration_s for s in starts), info.duration_s]
    return [
        WrittenClip(j, str(paths[j]), bounds[j], bounds[j + 1], c.start_s, c.end_s, counts[j], "reencode")
        for j, c in enumerate(nominal)
    ]


def _close_encoder(output: av.container.OutputContainer | None, stream: av.VideoStream | None) -> None:
    if output is None or stream is None:
        return
    for packet in stream.encode():
        output.mux(packet)
    output.close()
