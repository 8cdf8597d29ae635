"""Vision-language models: load from a local folder, tiny random-init factory, prompt, video inputs, inference.

Everything here runs the same code on a tiny local model (``lvr1 model tiny``) and on a real Qwen2.5-VL /
Qwen3-VL checkpoint folder. See ``docs/models.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lvr1kit._lazy import lazy_exports

if TYPE_CHECKING:
    from lvr1kit.models.inference import compute_logprobs, encode_video, forward_logits, generate, video_encoder_outputs
    from lvr1kit.models.loading import FAMILIES, LoadedModel, detect_family, load_model
    from lvr1kit.models.preprocess import (
        PromptBudgetError,
        PromptInputs,
        VideoInputs,
        VideoSettings,
        build_prompt_inputs,
        build_video_inputs,
        collate_prompts,
        count_video_tokens,
        patchify,
        smart_resize,
        video_settings,
    )
    from lvr1kit.models.prompt import (
        COMPACT_PROMPT_VERSION,
        PROMPT_VERSION,
        QUESTION_TEMPLATE_VIDEO,
        build_messages,
        format_question,
        format_reasoning_prompt,
        format_target,
        prompt_version_of,
        render_prompt,
    )
    from lvr1kit.models.tiny import (
        TINY_PRESETS,
        TinyModelSpec,
        build_tiny_config,
        build_tiny_model,
        compute_flops_per_token,
        save_tiny_model,
    )
    from lvr1kit.models.tokenizer import build_tokenizer

__all__ = [
    "COMPACT_PROMPT_VERSION",
    "FAMILIES",
    "PROMPT_VERSION",
    "QUESTION_TEMPLATE_VIDEO",
    "TINY_PRESETS",
    "LoadedModel",
    "PromptBudgetError",
    "PromptInputs",
    "TinyModelSpec",
    "VideoInputs",
    "VideoSettings",
    "build_messages",
    "build_prompt_inputs",
    "build_tiny_config",
    "build_tiny_model",
    "build_tokenizer",
    "build_video_inputs",
    "collate_prompts",
    "compute_flops_per_token",
    "compute_logprobs",
    "count_video_tokens",
    "detect_family",
    "encode_video",
    "format_question",
    "format_reasoning_prompt",
    "format_target",
    "forward_logits",
    "generate",
    "load_model",
    "patchify",
    "prompt_version_of",
    "render_prompt",
    "save_tiny_model",
    "smart_resize",
    "video_encoder_outputs",
    "video_settings",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "COMPACT_PROMPT_VERSION": "prompt",
        "FAMILIES": "loading",
        "LoadedModel": "loading",
        "PROMPT_VERSION": "prompt",
        "PromptBudgetError": "preprocess",
        "PromptInputs": "preprocess",
        "QUESTION_TEMPLATE_VIDEO": "prompt",
        "TINY_PRESETS": "tiny",
        "TinyModelSpec": "tiny",
        "VideoInputs": "preprocess",
        "VideoSettings": "preprocess",
        "build_messages": "prompt",
        "build_prompt_inputs": "preprocess",
        "build_tiny_config": "tiny",
        "build_tiny_model": "tiny",
        "build_tokenizer": "tokenizer",
        "build_video_inputs": "preprocess",
        "collate_prompts": "preprocess",
        "compute_flops_per_token": "tiny",
        "compute_logprobs": "inference",
        "count_video_tokens": "preprocess",
        "detect_family": "loading",
        "encode_video": "inference",
        "format_question": "prompt",
        "format_reasoning_prompt": "prompt",
        "format_target": "prompt",
        "forward_logits": "inference",
        "generate": "inference",
        "load_model": "loading",
        "patchify": "preprocess",
        "prompt_version_of": "prompt",
        "render_prompt": "prompt",
        "save_tiny_model": "tiny",
        "smart_resize": "preprocess",
        "video_encoder_outputs": "inference",
        "video_settings": "preprocess",
    },
)
