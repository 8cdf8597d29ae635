"""How a GRPO step gets its video features: MR-SP stage 1 ("encode once, reuse everywhere") or the baseline.

Contents:
    - ``StepVideos``: one step's videos (pixels) and, per pass role, the cached embeddings that pass uses; a role
      without cached embeddings gets pixels, so the model's own vision tower re-encodes them in that pass.
    - ``prepare_stage1`` / ``prepare_baseline`` and the registry ``ENCODE_MODES`` (``mrsp.encode_mode``).
    - ``EncoderCounter``: forward hooks on vision towers counting the videos they encode (``mrsp/encoder_calls``)
      and the seconds spent in them (``perf/vision_tower_s``).
    - ``EmbeddingStore``: the protocol of an optional cross-step (disk) cache; a store that has a ``key`` method
      names its own entries, otherwise ``embedding_key`` is the key this module asks it for.
    - ``DiskEmbeddingStore``: that protocol over :class:`lvr1kit.mrsp.cache.EmbeddingCache` (``mrsp.cache_dir``),
      keyed by video content, sampling config, preprocessing settings and the vision weights version.
    - ``Encoder``: ``fn(model, video) -> [L, N, D]``; the default is :func:`lvr1kit.models.encode_video`, the
      trainer passes a frame-sharded one (``lvr1kit.mrsp.sp_encode_video``) under sequence parallelism.

Pass roles: ``policy`` (rollouts and old-policy log-probs, no grad), ``reference`` (reference log-probs, no grad),
``update`` (the policy-gradient pass). Stage 1 encodes each distinct video of the step once with the policy tower
and serves every role from it. When the vision tower is trainable, the ``update`` role gets pixels instead (its
features must carry gradients) and the reference role gets its own tower's embeddings (encoded once per video):
the cache then serves only the no-grad passes. The minimum of ``mrsp/encoder_calls`` is the number of distinct
videos in the step (frozen tower, no disk cache). The baseline re-encodes the video of every completion in every
pass, as TRL-style trainers do: ``prompts x G x passes`` encodes.

Deviations from the paper:
1. Stage 1 encodes on each rank its own prompts' videos (the public code's sharding by sample), not one video's
   frames across GPUs; embeddings stay on the model's device for the step (the paper keeps them on CPU).
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn
from transformers import PreTrainedModel

from lvr1kit.models import encode_video
from lvr1kit.models.preprocess import VideoInputs

__all__ = [
    "ENCODE_MODES",
    "DiskEmbeddingStore",
    "EmbeddingStore",
    "Encoder",
    "EncoderCounter",
    "StepVideos",
    "base_model",
    "embedding_key",
    "prepare_baseline",
    "prepare_stage1",
    "vision_tower",
]


class EmbeddingStore(Protocol):
    """A cache of video embeddings that outlives a step (keys from :func:`embedding_key`)."""

    def get(self, key: str) -> torch.Tensor | None:
        """The stored ``[L, N, D]`` embeddings, or ``None``."""
        ...

    def put(self, key: str, value: torch.Tensor) -> None:
        """Store ``[L, N, D]`` embeddings."""
        ...


class DiskEmbeddingStore:
    """:class:`EmbeddingStore` over a disk :class:`lvr1kit.mrsp.cache.EmbeddingCache` (``mrsp.cache_dir``).

    Keys cover the video file's content, ``video_cfg``, the preprocessing ``settings`` and the ``model_tag`` the
    trainer passes (its vision weights version), so entries of another tower or sampling are never served.
    """

    def __init__(self, cache: Any, video_cfg: Any, settings: Any) -> None:
        self.cache, self.video_cfg, self.settings = cache, video_cfg, settings

    def key(self, video_path: str, video: VideoInputs, model_tag: str) -> str:
        """The cache entry name of ``video_path`` under this store's sampling/preprocessing and ``model_tag``."""
        return str(self.cache.key(video_path, self.video_cfg, self.settings, model_tag))

    def get(self, key: str) -> torch.Tensor | None:
        """The stored ``[L, N, D]`` embeddings, or ``None``."""
        return self.cache.get(key)  # type: ignore[no-any-return]

    def put(self, key: str, value: torch.Tensor) -> None:
        """Store ``[L, N, D]`` embeddings."""
        self.cache.put(key, value)


Encoder = Callable[[PreTrainedModel, VideoInputs], torch.Tensor]
"""``fn(model, video) -> [L, N, D]`` embeddings of one video on the model's device."""


def embedding_key(video_path: str, video: VideoInputs, model_tag: str) -> str:
    """Cache key naming the video, the frames actually used (timestamps, size) and the encoder weights' tag."""
    frames = ",".join(f"{t:.4f}" for t in video.timestamps_s)
    digest = hashlib.sha1(f"{frames}|{video.frame_height}x{video.frame_width}".encode()).hexdigest()[:16]
    return f"{video_path}|{digest}|{model_tag}"


def base_model(model: nn.Module) -> nn.Module:
    """The model under a ``peft`` wrapper (``model`` itself when it is not wrapped)."""
    get_base_model = getattr(model, "get_base_model", None)
    return model if get_base_model is None else get_base_model()


def vision_tower(model: nn.Module) -> nn.Module:
    """The vision tower (``model.model.visual``) of a Qwen-VL model, also under a ``peft`` wrapper."""
    return base_model(model).get_submodule("model.visual")


class EncoderCounter:
    """Counts videos encoded by the hooked vision towers (one per row of ``grid_thw`` per call) and their seconds."""

    def __init__(self, towers: Sequence[nn.Module]) -> None:
        self.videos = 0
        self.calls = 0
        self.seconds = 0.0
        self._start = 0.0
        self._handles = []
        for tower in dict.fromkeys(towers):
            self._handles.append(tower.register_forward_pre_hook(self._pre_hook))
            self._handles.append(tower.register_forward_hook(self._hook, with_kwargs=True))

    def _pre_hook(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self._start = time.perf_counter()

    def _hook(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        grid = kwargs.get("grid_thw", args[1] if len(args) > 1 else None)
        self.videos += int(grid.shape[0]) if grid is not None else 1
        self.calls += 1
        self.seconds += time.perf_counter() - self._start

    @contextlib.contextmanager
    def one_video(self) -> Iterator[None]:
        """Count the tower calls made inside as one video (a chunked or frame-sharded encode of one video)."""
        videos, calls = self.videos, self.calls
        yield
        self.videos, self.calls = videos + 1, calls + 1

    def reset(self) -> None:
        """Start counting from zero."""
        self.videos = 0
        self.calls = 0
        self.seconds = 0.0

    def remove(self) -> None:
        """Detach the hooks."""
        for handle in self._handles:
            handle.remove()


@dataclass
class StepVideos:
    """A step's videos and, per pass role, the cached embeddings that role uses (absent role = pixels)."""

    videos: dict[str, VideoInputs]
    embeds: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    cache_hits: int = 0

    def inputs(self, role: str, keys: Sequence[str]) -> dict[str, Any]:
        """``video_embeds`` (cached) or ``pixel_values_videos`` (re-encoded by the pass) for videos ``keys``."""
        if role in self.embeds:
            return {"video_embeds": [self.embeds[role][k] for k in keys]}
        return {"pixel_values_videos": torch.cat([self.videos[k].pixel_values_videos for k in keys])}


def _default_encoder(model: PreTrainedModel, video: VideoInputs) -> torch.Tensor:
    return encode_video(model, video, storage_device=str(next(model.parameters()).device))


def _encode_all(
    model: PreTrainedModel,
    videos: dict[str, VideoInputs],
    store: EmbeddingStore | None,
    tag: str,
    encoder: Encoder | None = None,
) -> tuple[dict[str, torch.Tensor], int]:
    device = str(next(model.parameters()).device)
    encoder = encoder or _default_encoder
    out, hits = {}, 0
    for key, video in videos.items():
        cached = None
        if store is not None:
            namer = getattr(store, "key", None)
            cache_key = namer(key, video, tag) if namer is not None else embedding_key(key, video, tag)
            cached = store.get(cache_key)
        if cached is not None:
            hits += 1
            out[key] = cached.to(device)
            continue
        out[key] = encoder(model, video).to(device)  # [L, N, D]
        if store is not None:
            store.put(cache_key, out[key].cpu())
    return out, hits


def prepare_stage1(
    policy: PreTrainedModel,
    reference: PreTrainedModel | None,
    videos: dict[str, VideoInputs],
    *,
    vision_trainable: bool,
    store: EmbeddingStore | None = None,
    model_tag: str = "policy",
    encoder: Encoder | None = None,
) -> StepVideos:
    """Encode each distinct video once and serve every pass role from it (see the module docstring).

    Args:
        policy: The policy (its tower encodes).
        reference: A separate reference model, or ``None`` (no KL, or LoRA with adapters disabled).
        videos: Video key -> pixels of this step's distinct videos.
        vision_trainable: Whether the policy's vision tower is updated (then ``update`` re-encodes with grad).
        store: Optional cross-step cache; only consulted for a frozen tower (trainable weights change each step).
        model_tag: Names the encoder weights in cache keys.
        encoder: Encodes one video (default :func:`lvr1kit.models.encode_video`).
    """
    usable = store if not vision_trainable else None
    embeds, hits = _encode_all(policy, videos, usable, model_tag, encoder)
    roles = {"policy": embeds}
    if not vision_trainable:
        roles |= {"update": embeds, "reference": embeds}
    elif reference is not None:
        roles["reference"], _ = _encode_all(reference, videos, None, "reference", encoder)
    return StepVideos(videos, roles, hits)


def prepare_baseline(
    policy: PreTrainedModel,
    reference: PreTrainedModel | None,
    videos: dict[str, VideoInputs],
    *,
    vision_trainable: bool,
    store: EmbeddingStore | None = None,
    model_tag: str = "policy",
    encoder: Encoder | None = None,
) -> StepVideos:
    """No caching: every pass gets pixels and re-encodes each completion's video (the TRL-style baseline)."""
    return StepVideos(videos)


ENCODE_MODES: dict[str, Callable[..., StepVideos]] = {"stage1": prepare_stage1, "baseline": prepare_baseline}
"""``mrsp.encode_mode`` -> ``fn(policy, reference, videos, *, vision_trainable, store, model_tag, encoder)``."""
