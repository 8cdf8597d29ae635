"""MR-SP: the video-embedding cache (stage 1) and, alongside it, sequence-parallel encoding and prefill.

``EmbeddingCache`` / ``vision_weights_version`` live in :mod:`lvr1kit.mrsp.cache`; CoT-SFT and GRPO share them.
"""

from lvr1kit.mrsp.cache import EmbeddingCache, video_fingerprint, vision_weights_version

__all__ = ["EmbeddingCache", "video_fingerprint", "vision_weights_version"]
