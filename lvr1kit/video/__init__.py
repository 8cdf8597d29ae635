"""Long-video I/O: probing, frame sampling and clip cutting (the synthetic world lives in ``synth.py``).

Public names: ``VideoError``, ``VideoInfo``, ``probe``, ``read_frames``, ``SampledFrames``,
``compute_frame_indices``, ``sample_frames``, ``sample_frames_many``, ``Clip``, ``WrittenClip``,
``split_clips``, ``write_clips``.
"""

from lvr1kit.video.clips import Clip, WrittenClip, split_clips, write_clips
from lvr1kit.video.io import VideoError, VideoInfo, probe, read_frames
from lvr1kit.video.sampling import (
    BatchResult,
    IndexPlan,
    SampledFrames,
    compute_frame_indices,
    sample_frames,
    sample_frames_many,
)

__all__ = [
    "BatchResult",
    "Clip",
    "IndexPlan",
    "SampledFrames",
    "VideoError",
    "VideoInfo",
    "WrittenClip",
    "compute_frame_indices",
    "probe",
    "read_frames",
    "sample_frames",
    "sample_frames_many",
    "split_clips",
    "write_clips",
]
