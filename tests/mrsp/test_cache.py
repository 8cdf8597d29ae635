"""EmbeddingCache keys (content, sampling, preprocessing, vision weights), storage, counters; weights version."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lvr1kit.config import VideoConfig
from lvr1kit.models import build_tiny_model, video_settings
from lvr1kit.mrsp.cache import EmbeddingCache, video_fingerprint, vision_weights_version


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "v.mp4"
    path.write_bytes(b"\x00video-bytes" * 100)
    return path


def test_key_covers_content_sampling_preprocessing_and_weights(tmp_path: Path, video: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c")
    cfg, settings = VideoConfig(), video_settings("qwen2_5_vl")
    base = cache.key(video, cfg, settings, "w1")
    assert base == cache.key(video, cfg, settings, "w1") and len(base) == 64
    other = tmp_path / "copy.mp4"
    other.write_bytes(video.read_bytes())
    assert cache.key(other, cfg, settings, "w1") == base  # content, not path
    variants = {
        cache.key(video, VideoConfig(num_frames=16), settings, "w1"),
        cache.key(video, cfg, video_settings("qwen2_5_vl", max_pixels=50176), "w1"),
        cache.key(video, cfg, settings, "w2"),
    }
    video.write_bytes(b"\x01video-bytes" * 100)  # same size, new content (and mtime)
    variants.add(cache.key(video, cfg, settings, "w1"))
    assert base not in variants and len(variants) == 4


def test_fingerprint_of_large_files_hashes_the_edges(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    data = bytearray(3 << 20)
    big.write_bytes(bytes(data))
    first = video_fingerprint(big)
    data[0] = 1
    big.write_bytes(bytes(data))
    assert video_fingerprint(big) != first  # head changed
    data[0], data[len(data) // 2] = 0, 1
    big.write_bytes(bytes(data))
    assert video_fingerprint(big) == first  # documented blind spot: the middle of files over 2 MiB
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        video_fingerprint(tmp_path / "missing.mp4")


def test_get_put_roundtrip_meta_and_counters(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c")
    key = "ab" + "0" * 62
    assert cache.get(key) is None and key not in cache
    embeds = torch.randn(1, 5, 8)
    path = cache.put(key, embeds, meta={"grid": "[1, 2, 2]"})
    assert path == tmp_path / "c" / "ab" / f"{key}.safetensors" and key in cache
    assert torch.equal(cache.get(key), embeds)  # type: ignore[arg-type]
    assert cache.meta(key) == {"grid": "[1, 2, 2]"}
    assert cache.stats() == {"cache/hits": 1, "cache/misses": 1, "cache/hit_rate": 0.5}
    assert not list((tmp_path / "c").rglob("*.tmp"))  # written through a rename
    with pytest.raises(ValueError, match=r"\[L, N, D\]"):
        cache.put(key, torch.zeros(5, 8))


def test_vision_weights_version_follows_the_tower_only() -> None:
    model, _ = build_tiny_model("qwen2_5_vl", "tiny", seed=0)
    version = vision_weights_version(model)
    assert version == vision_weights_version(build_tiny_model("qwen2_5_vl", "tiny", seed=0)[0])
    with torch.no_grad():
        model.model.language_model.norm.weight.add_(1.0)
    assert vision_weights_version(model) == version  # LM changes keep cached features valid
    with torch.no_grad():
        model.model.visual.merger.mlp[0].weight.add_(1e-3)
    assert vision_weights_version(model) != version
