"""On-disk cache of video embeddings for frozen vision towers (MR-SP stage 1, reused by CoT-SFT and GRPO).

Contents:
    - ``EmbeddingCache(root)``: ``key(...)`` names an entry, ``get``/``put`` read and write one ``[L, N, D]``
      tensor (the output of :func:`lvr1kit.models.encode_video`) as a safetensors file, with an optional small
      ``dict[str, str]`` of metadata; ``stats()`` gives ``cache/hits``, ``cache/misses``, ``cache/hit_rate``.
    - ``vision_weights_version(model)``: a hash of the vision tower's parameters; part of every key, so entries
      made before the tower was trained (or by another checkpoint) are never served.
    - ``video_fingerprint(path)``: the content part of a key.

What a key covers (sha256 over a canonical JSON of all of it):
    1. the video's content: ``video_fingerprint`` hashes the file size together with the first and last MiB of the
       file (the whole file when it is at most 2 MiB). It is not a full sha256: two files of equal size that differ
       only in their middle would collide; re-encoded or re-cut videos change their size or their container header
       and tail (index/moov), so in practice they do not. The fingerprint is memoised per process by
       (path, size, mtime_ns), so repeated epochs hash each file once;
    2. the frame sampling config (every field of :class:`lvr1kit.config.VideoConfig`);
    3. the preprocessing settings (every field of :class:`lvr1kit.models.VideoSettings`: patch sizes,
       mean/std, pixel and frame budgets);
    4. the vision weights version;
    5. ``FORMAT_VERSION`` of this module (bump it when the stored layout changes).

Files live at ``<root>/<key[:2]>/<key>.safetensors``; writes go to a unique temporary file and are renamed into
place (atomic on POSIX), so concurrent ranks writing the same entry and readers never see half a file.

Deviations from the paper:
1. The paper keeps embeddings in memory for one step's rollouts; this cache also persists them across steps,
   epochs and runs, which is only valid while the tower is frozen (the weights version enforces it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

__all__ = ["FORMAT_VERSION", "EmbeddingCache", "video_fingerprint", "vision_weights_version"]

log = logging.getLogger(__name__)

FORMAT_VERSION = "embeds-v1"
"""Layout of a cache entry; part of every key."""

_EDGE_BYTES = 1 << 20
_fingerprints: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def video_fingerprint(path: str | os.PathLike[str]) -> str:
    """Content hash of a video file: sha256 of its size plus its first and last MiB (whole file if <= 2 MiB).

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
    """
    file = Path(path)
    try:
        st = file.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"video {file} not found; check the dataset's videos_dir") from None
    memo = (str(file.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        if memo in _fingerprints:
            return _fingerprints[memo]
    digest = hashlib.sha256(str(st.st_size).encode())
    with file.open("rb") as fh:
        if st.st_size <= 2 * _EDGE_BYTES:
            digest.update(fh.read())
        else:
            digest.update(fh.read(_EDGE_BYTES))
            fh.seek(-_EDGE_BYTES, os.SEEK_END)
            digest.update(fh.read(_EDGE_BYTES))
    value = digest.hexdigest()
    with _lock:
        _fingerprints[memo] = value
    return value


def vision_weights_version(model: torch.nn.Module, *, exclude: tuple[str, ...] = ()) -> str:
    """Hash (sha256, first 16 hex digits) of the vision tower's parameter names, shapes, dtypes and values.

    Accepts a Qwen-VL model (``model.model.visual``), a PEFT wrapper around one, or the vision module itself.
    ``exclude``: name prefixes left out (``("merger.",)`` hashes the blocks a trainable projector reads).
    """
    tower = _vision_tower(model)
    digest = hashlib.sha256()
    for name, param in sorted(tower.state_dict().items()):
        if exclude and name.startswith(exclude):
            continue
        tensor = param.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def _vision_tower(model: torch.nn.Module) -> torch.nn.Module:
    for path in ("model.visual", "base_model.model.model.visual", "visual"):
        node: Any = model
        for part in path.split("."):
            node = getattr(node, part, None)
            if node is None:
                break
        if isinstance(node, torch.nn.Module):
            return node
    return model


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


class EmbeddingCache:
    """Video embeddings ``[L, N, D]`` on disk, keyed by content, sampling, preprocessing and vision weights.

    Example::

        cache = EmbeddingCache("runs/cache/embeds")
        version = vision_weights_version(model)
        key = cache.key(path, cfg.video, settings, version)
        embeds = cache.get(key)
        if embeds is None:
            embeds = encode_video(model, load_video_inputs(path, cfg.video, settings))
            cache.put(key, embeds)

    Counters (``hits``, ``misses``) are per instance and per process; sum them over ranks for a global rate.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def key(
        self, video_path: str | os.PathLike[str], video_cfg: Any, settings: Any, vision_weights_version: str
    ) -> str:
        """The entry name (64 hex digits) for one video under one sampling/preprocessing config and tower.

        Args:
            video_path: The video file; its content (not its path) enters the key.
            video_cfg: A :class:`lvr1kit.config.VideoConfig` (or any pydantic model / dataclass / dict).
            settings: The :class:`lvr1kit.models.VideoSettings` used to preprocess frames.
            vision_weights_version: From :func:`vision_weights_version`.
        """
        parts = {
            "format": FORMAT_VERSION,
            "video": video_fingerprint(video_path),
            "sampling": _jsonable(video_cfg),
            "preprocess": _jsonable(settings),
            "vision": vision_weights_version,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def path(self, key: str) -> Path:
        """Where the entry ``key`` is (or would be) stored."""
        return self.root / key[:2] / f"{key}.safetensors"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str) -> torch.Tensor | None:
        """The stored tensor (on CPU) or ``None``; counts a hit or a miss."""
        file = self.path(key)
        if not file.is_file():
            self.misses += 1
            return None
        with safe_open(str(file), framework="pt") as fh:
            tensor = fh.get_tensor("embeds")
        self.hits += 1
        return tensor

    def meta(self, key: str) -> dict[str, str] | None:
        """The metadata stored with an entry (``None`` when absent); reads only the file header, counts nothing."""
        file = self.path(key)
        if not file.is_file():
            return None
        with safe_open(str(file), framework="pt") as fh:
            return dict(fh.metadata() or {})

    def put(self, key: str, embeds: torch.Tensor, meta: dict[str, str] | None = None) -> Path:
        """Store ``embeds`` ``[L, N, D]`` (moved to CPU) atomically; returns the file written.

        Raises:
            ValueError: ``embeds`` is not 3-D (store ``encode_video`` outputs, one video per entry).
        """
        if embeds.ndim != 3:
            raise ValueError(f"embeddings must be [L, N, D] (one video from encode_video); got {tuple(embeds.shape)}")
        file = self.path(key)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        save_file({"embeds": embeds.detach().to("cpu").contiguous()}, str(tmp), metadata=dict(meta or {}))
        os.replace(tmp, file)
        return file

    def stats(self) -> dict[str, float]:
        """``cache/hits``, ``cache/misses`` and ``cache/hit_rate`` (0 when nothing was looked up)."""
        total = self.hits + self.misses
        return {
            "cache/hits": self.hits,
            "cache/misses": self.misses,
            "cache/hit_rate": self.hits / total if total else 0.0,
        }
