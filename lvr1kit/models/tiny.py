"""Tiny randomly initialised VLMs of the real architectures, built from a config and saved as HF folders.

Contents:
    - ``TinyModelSpec``: the size knobs of a tiny model (text and vision tower), with ``TINY_PRESETS``:
      ``tiny`` (size S of LEARNING-NOTES, ~1.4 M parameters, for tests and CI) and ``bench`` (~4.7 M, vision cost
      per video token scaled to a real 7B VLM, for CPU benchmarks).
    - ``build_tiny_config`` / ``build_tiny_model`` / ``save_tiny_model``: config -> model -> folder that
      :func:`lvr1kit.models.loading.load_model` (and ``from_pretrained``) reads back, tokenizer included.
    - ``compute_flops_per_token``: forward FLOPs of the vision tower per merged video token and of the LM per
      token, from a config; used to size ``bench`` and reported by the benchmark.

Why ``bench`` looks the way it does. Qwen2.5-VL-7B (vision: 32 layers, hidden 1280, MLP 3420, patch 14,
temporal patch 2, 2x2 merge, merger 5120->5120->3584; LM: 28 layers, hidden 3584, 28 heads / 4 KV, MLP 18944)
costs, counting 2 FLOPs per multiply-add of the weight matrices and ignoring attention scores:

    vision per merged token = 4 patches x 32 layers x (8 h^2 + 6 h m) + merger  ~= 5.1 GFLOPs   (h=1280, m=3420)
    LM per token            = 28 layers x (2 (2 H^2 + 2 H Hkv) + 6 H M)          ~= 13.0 GFLOPs  (H=3584, M=18944)

so a video token costs the vision tower about 0.39x what it costs the LM forward (``compute_flops_per_token``
on the real config gives 0.394). ``bench`` is sized to match: a 4-layer LM of hidden 256 (7.9 MFLOPs/token)
and a 4-block vision tower of hidden 64 (3.0 MFLOPs per merged token), ratio 0.38, keeping a 512-frame GRPO
step within seconds on 2 CPU cores. ``tiny`` keeps the measured size S, whose ratio is 0.94 (at hidden 64 the
patch embedding and merger dominate); do not read vision-cost conclusions off it.

Deviations from the paper:
1. The paper trains LongVILA (SigLIP + Qwen2 LM); the workbench uses the Qwen2.5-VL / Qwen3-VL architectures,
   which transformers supports natively (cached ``mm_encoder_outputs``, 3D M-RoPE).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast

from lvr1kit.models.tokenizer import build_tokenizer

logger = logging.getLogger(__name__)

__all__ = [
    "TINY_PRESETS",
    "Family",
    "TinyModelSpec",
    "build_tiny_config",
    "build_tiny_model",
    "compute_flops_per_token",
    "save_tiny_model",
]

Family = Literal["qwen2_5_vl", "qwen3_vl"]
_MODEL_CLASSES = {"qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration", "qwen3_vl": "Qwen3VLForConditionalGeneration"}


class TinyModelSpec(BaseModel):
    """Size of a tiny model. Text heads are divisible by 2 so sequence parallelism of size 2 works."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    text_hidden: int = Field(default=128, ge=16)
    """Hidden size of the language model."""
    text_layers: int = Field(default=4, ge=1)
    """Decoder layers of the language model."""
    text_heads: int = Field(default=4, ge=2)
    """Query heads of the language model (even, for sequence parallel size 2)."""
    text_kv_heads: int = Field(default=2, ge=1)
    """Key/value heads of the language model (grouped-query attention)."""
    text_mlp: int = Field(default=512, ge=16)
    """Intermediate size of the language model's SwiGLU MLP."""
    vision_hidden: int = Field(default=64, ge=16)
    """Hidden size of the vision tower."""
    vision_depth: int = Field(default=2, ge=1)
    """Blocks of the vision tower."""
    vision_heads: int = Field(default=2, ge=1)
    """Attention heads of the vision tower."""
    vision_mlp: int = Field(default=256, ge=16)
    """Intermediate size of the vision tower's MLP."""
    bpe_vocab_size: int = Field(default=512, ge=300)
    """BPE vocabulary of the local tokenizer, before special tokens."""


TINY_PRESETS: dict[str, TinyModelSpec] = {
    "tiny": TinyModelSpec(),
    "bench": TinyModelSpec(
        text_hidden=256, text_mlp=1024, vision_hidden=64, vision_depth=4, vision_heads=2, vision_mlp=256
    ),
}


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _mrope_section(head_dim: int, family: Family) -> list[int]:
    """Scale the real model's M-RoPE split (temporal, height, width) to a smaller head dimension."""
    half = head_dim // 2
    if family == "qwen3_vl":  # real: [24, 20, 20] of 64
        height = width = half * 20 // 64
    else:  # real: [16, 24, 24] of 64
        height = width = half * 24 // 64
    return [half - height - width, height, width]


def build_tiny_config(
    family: Family, spec: TinyModelSpec, tokenizer: PreTrainedTokenizerFast, *, seed: int = 0
) -> PretrainedConfig:
    """Build the HF config of a tiny model whose special-token ids come from ``tokenizer``."""
    if spec.text_hidden % spec.text_heads or spec.text_heads % spec.text_kv_heads:
        raise ValueError(
            f"text_hidden={spec.text_hidden} must divide by text_heads={spec.text_heads}, which must divide by "
            f"text_kv_heads={spec.text_kv_heads}"
        )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>")}
    ids |= {t: tokenizer.convert_tokens_to_ids(t) for t in ("<|vision_start|>", "<|vision_end|>")}
    head_dim = spec.text_hidden // spec.text_heads
    text: dict[str, Any] = {
        "vocab_size": _round_up(len(tokenizer), 64),
        "hidden_size": spec.text_hidden,
        "intermediate_size": spec.text_mlp,
        "num_hidden_layers": spec.text_layers,
        "num_attention_heads": spec.text_heads,
        "num_key_value_heads": spec.text_kv_heads,
        "max_position_embeddings": 32768,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
        "bos_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    vision: dict[str, Any] = {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden,
        "intermediate_size": spec.vision_mlp,
        "num_heads": spec.vision_heads,
        "out_hidden_size": spec.text_hidden,
        "temporal_patch_size": 2,
        "spatial_merge_size": 2,
    }
    top: dict[str, Any] = {
        "image_token_id": ids["<|image_pad|>"],
        "video_token_id": ids["<|video_pad|>"],
        "vision_start_token_id": ids["<|vision_start|>"],
        "vision_end_token_id": ids["<|vision_end|>"],
        "tie_word_embeddings": False,
    }
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        text["rope_parameters"] |= {"mrope_section": _mrope_section(head_dim, family), "type": "mrope"}
        vision |= {"patch_size": 14, "window_size": 112, "tokens_per_second": 2}
        vision |= {"fullatt_block_indexes": [spec.vision_depth - 1], "hidden_act": "silu"}
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, **top)
    if family == "qwen3_vl":
        from transformers import Qwen3VLConfig

        text |= {"head_dim": head_dim}
        text["rope_parameters"] |= {"mrope_section": _mrope_section(head_dim, family), "mrope_interleaved": True}
        # One deepstack layer in the middle keeps the feature path (lost through inputs_embeds) exercised.
        vision |= {"patch_size": 16, "num_position_embeddings": 256, "hidden_act": "gelu_pytorch_tanh"}
        vision |= {"deepstack_visual_indexes": [max(0, spec.vision_depth // 2 - 1)]}
        return Qwen3VLConfig(text_config=text, vision_config=vision, **top)
    raise ValueError(f"unknown family {family!r}; use 'qwen2_5_vl' or 'qwen3_vl'")


def build_tiny_model(
    family: Family = "qwen2_5_vl", size: str | TinyModelSpec = "tiny", *, seed: int = 0
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Build a randomly initialised model of the real architecture and its local tokenizer.

    Args:
        family: ``qwen2_5_vl`` or ``qwen3_vl``.
        size: A key of ``TINY_PRESETS`` or a ``TinyModelSpec``.
        seed: Seeds the weights and the tokenizer corpus; the same seed gives identical weights.
    """
    if isinstance(size, str):
        if size not in TINY_PRESETS:
            raise ValueError(f"unknown tiny size {size!r}; choose one of {', '.join(TINY_PRESETS)}")
        size = TINY_PRESETS[size]
    tokenizer = build_tokenizer(vocab_size=size.bpe_vocab_size, seed=seed)
    config = build_tiny_config(family, size, tokenizer, seed=seed)
    import transformers

    model_cls: type[PreTrainedModel] = getattr(transformers, _MODEL_CLASSES[family])
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.pad_token_id
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("built %s tiny model: %.2f M parameters", family, n_params / 1e6)
    return model, tokenizer


def save_tiny_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, out_dir: str | Path) -> Path:
    """Save model (safetensors), config, generation config and tokenizer as an ordinary HF folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def compute_flops_per_token(config: PretrainedConfig) -> dict[str, float]:
    """Forward FLOPs (2 per multiply-add, weight matrices only) per merged video token and per LM token.

    Attention scores are left out on both sides: they depend on sequence length (the LM's grow with the
    prompt), whereas the ratio is meant as the fixed per-token cost of the two towers.

    Returns:
        ``vision_flops_per_video_token``, ``lm_flops_per_token`` and their ``ratio``.
    """
    v, t = config.vision_config, config.text_config
    patches = v.spatial_merge_size**2
    patch_in = v.in_channels * v.temporal_patch_size * v.patch_size**2
    gated = 3 if getattr(v, "hidden_act", "silu") == "silu" else 2  # Qwen2.5 SwiGLU vs Qwen3 GELU MLP
    per_patch = v.depth * (8 * v.hidden_size**2 + 2 * gated * v.hidden_size * v.intermediate_size)
    per_patch += 2 * patch_in * v.hidden_size
    merged = v.hidden_size * patches
    mergers = 1 + len(getattr(v, "deepstack_visual_indexes", ()) or ())
    vision = patches * per_patch + mergers * 2 * (merged * merged + merged * v.out_hidden_size)
    head_dim = getattr(t, "head_dim", None) or t.hidden_size // t.num_attention_heads
    q_dim, kv_dim = t.num_attention_heads * head_dim, t.num_key_value_heads * head_dim
    attn = 2 * (2 * t.hidden_size * q_dim + 2 * t.hidden_size * kv_dim)
    lm = t.num_hidden_layers * (attn + 6 * t.hidden_size * t.intermediate_size)
    return {"vision_flops_per_video_token": float(vision), "lm_flops_per_token": float(lm), "ratio": vision / lm}
