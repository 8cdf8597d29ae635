"""Load a Qwen-VL family model and its tokenizer from a local folder: a tiny one or a real 7B checkpoint.

Contents:
    - ``FAMILIES``: ``model_type`` of the config -> (family name, model class name).
    - ``LoadedModel``: the model, its tokenizer, the family and the ids the workbench needs (placeholders, eos).
    - ``load_model``: the single entry point; no hub access (``local_files_only``), device and dtype as arguments.
    - ``detect_family``: read a folder's ``config.json`` and say which family it is.

No ``AutoProcessor`` is used: its video processor needs torchvision, which does not work on the CPU stack; the
video preprocessing lives in :mod:`lvr1kit.models.preprocess`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

__all__ = ["FAMILIES", "LoadedModel", "detect_family", "load_model"]

FAMILIES: dict[str, tuple[str, str]] = {
    "qwen2_5_vl": ("qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration"),
    "qwen3_vl": ("qwen3_vl", "Qwen3VLForConditionalGeneration"),
}
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedModel:
    """A loaded VLM with what the workbench needs next to it."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    family: str
    path: Path

    @property
    def video_token_id(self) -> int:
        return int(self.model.config.video_token_id)

    @property
    def image_token_id(self) -> int:
        return int(self.model.config.image_token_id)

    @property
    def placeholder_token_ids(self) -> list[int]:
        """Vision placeholder ids that generation must never emit (image, video and the vision pad)."""
        ids = {self.video_token_id, self.image_token_id}
        pad = self.tokenizer.convert_tokens_to_ids("<|vision_pad|>")
        if isinstance(pad, int) and pad != self.tokenizer.unk_token_id:
            ids.add(pad)
        return sorted(ids)


def detect_family(path: str | Path) -> str:
    """Return the family (``qwen2_5_vl`` or ``qwen3_vl``) of the checkpoint folder at ``path``.

    Raises:
        FileNotFoundError: No ``config.json`` in the folder.
        ValueError: A model type the workbench does not support.
    """
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{config_file} not found: model.path must be a local HF checkpoint folder "
            "(build one with `lvr1 model tiny --out DIR`, or download a Qwen2.5-VL checkpoint yourself)"
        )
    model_type = json.loads(config_file.read_text())["model_type"]
    if model_type not in FAMILIES:
        raise ValueError(f"{config_file}: model_type {model_type!r} is not supported; use one of {list(FAMILIES)}")
    return FAMILIES[model_type][0]


def load_model(
    path: str | Path,
    *,
    dtype: str = "float32",
    device: str = "cpu",
    family: str | None = None,
    attn_implementation: str | dict[str, str] | None = None,
) -> LoadedModel:
    """Load model and tokenizer from a local folder, in eval mode, on ``device`` in ``dtype``.

    Args:
        path: Local checkpoint folder (never a hub id).
        dtype: ``float32``, ``bfloat16`` or ``float16``.
        device: Torch device string.
        family: Expected family; a mismatch with the folder's config raises. ``None`` accepts what is there.
        attn_implementation: Passed to ``from_pretrained`` (e.g. ``"sdpa"`` or a per-sub-config dict for MR-SP).

    Raises:
        ValueError: Unknown dtype, or the folder holds another family than ``family``.
    """
    import transformers

    if dtype not in DTYPES:
        raise ValueError(f"model.dtype={dtype!r} is not supported; use one of {list(DTYPES)}")
    found = detect_family(path)
    if family is not None and family != found:
        raise ValueError(f"model.family={family!r} but {path} holds a {found!r} checkpoint; set model.family={found}")
    model_cls = getattr(transformers, FAMILIES[found][1])
    kwargs: dict[str, Any] = {"dtype": DTYPES[dtype], "local_files_only": True}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    model = model_cls.from_pretrained(str(path), **kwargs).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = "<|endoftext|>"
    tokenizer.padding_side = "left"
    logger.info("loaded %s from %s (%s, %s)", found, path, dtype, device)
    return LoadedModel(model=model, tokenizer=tokenizer, family=found, path=Path(path))
