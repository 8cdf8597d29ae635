"""Typed configuration: shared blocks, one config per stage, packaged presets and dotted overrides.

Every stage is configured from exactly three inputs, the same ones every notebook takes:

1. the class defaults below,
2. a preset: a packaged name such as ``"synth/tiny"`` (``lvr1kit/presets/synth/tiny.yaml``) or a path to YAML,
3. ``overrides``: a dict of dotted keys relative to the stage config, e.g. ``{"world.minutes": 3}``.

Unknown keys are errors that name the key (with a close match when there is one); all problems of a config
are reported together, each with its remedy, in one :class:`ConfigError`.
"""

from __future__ import annotations

import difflib
import importlib.resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lvr1kit.video.synth_config import WorldConfig

__all__ = [
    "CATEGORIES",
    "STAGE_CONFIGS",
    "BenchConfig",
    "CaptionConfig",
    "Category",
    "ConfigError",
    "DataGenConfig",
    "DecodingConfig",
    "EvalConfig",
    "FilterConfig",
    "GRPOConfig",
    "LoRAConfig",
    "MRSPConfig",
    "ModelConfig",
    "OptimConfig",
    "QAConfig",
    "RLConfig",
    "SFTConfig",
    "SFTTrainConfig",
    "SplitConfig",
    "StrictModel",
    "SynthConfig",
    "VideoConfig",
    "WorldConfig",
    "dump_config",
    "format_validation_error",
    "list_presets",
    "load_config",
    "parse_override",
]


class ConfigError(ValueError):
    """A configuration problem a user can fix; the message lists every fault with its remedy."""


def _raise_if(problems: list[str]) -> None:
    """Raise every cross-field complaint of a validator at once (pydantic wraps it in its error)."""
    if problems:
        raise ValueError("\n".join(problems))


class StrictModel(BaseModel):
    """Base for every config block: unknown keys are errors, values are frozen, docstrings are help."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# ----------------------------------------------------------------------------------------------------------
# Shared blocks
# ----------------------------------------------------------------------------------------------------------


class VideoConfig(StrictModel):
    """How frames are taken from a video; the fields are the arguments of :func:`lvr1kit.video.sample_frames`."""

    strategy: Literal["uniform", "fps", "per_clip"] = "uniform"
    """Frame sampling strategy: N frames over the whole video, a fixed rate with a cap, or N per clip."""
    num_frames: int = Field(32, ge=1)
    """Frames taken by the ``uniform`` strategy."""
    target_fps: float = Field(1.0, gt=0)
    """Sampling rate of the ``fps`` strategy, frames per second of video."""
    max_frames: int = Field(512, ge=1)
    """Cap on frames of the ``fps`` strategy; above it, frames are spread uniformly (and the result says so)."""
    frames_per_clip: int = Field(4, ge=1)
    """Frames taken from each clip by the ``per_clip`` strategy."""
    clip_seconds: float = Field(10.0, gt=0)
    """Clip length in seconds, for clip splitting and the ``per_clip`` strategy (the paper uses 10 s)."""
    height: int | None = Field(None, ge=2)
    """Resize frames to this height while decoding; ``None`` keeps the source size (or follows ``width``)."""
    width: int | None = Field(None, ge=2)
    """Resize frames to this width while decoding; ``None`` keeps the source size (or follows ``height``)."""
    backend: Literal["auto", "decord", "pyav"] = "auto"
    """Decoder: ``auto`` tries decord and falls back to PyAV."""
    snap: Literal["none", "keyframe"] = "none"
    """``keyframe`` moves each sample to a keyframe inside its segment where one exists (faster seeking)."""

    @model_validator(mode="after")
    def _check(self) -> VideoConfig:
        problems = []
        if self.strategy == "uniform" and self.num_frames > self.max_frames:
            problems.append(
                f"video.num_frames={self.num_frames} exceeds video.max_frames={self.max_frames}; "
                "raise video.max_frames or lower video.num_frames"
            )
        if self.strategy == "per_clip" and self.frames_per_clip > self.max_frames:
            problems.append(
                f"video.frames_per_clip={self.frames_per_clip} exceeds video.max_frames={self.max_frames}; "
                "lower video.frames_per_clip"
            )
        _raise_if(problems)
        return self

    def sampler_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``sample_frames(path, **cfg.video.sampler_kwargs())``."""
        return self.model_dump()


class ModelConfig(StrictModel):
    """Which vision-language model to load and how (see :mod:`lvr1kit.models`)."""

    path: str | None = None
    """Local folder of an HF checkpoint (a tiny one from ``lvr1 model tiny`` or a real 7B); never a hub id."""
    family: Literal["qwen2_5_vl", "qwen3_vl"] = "qwen2_5_vl"
    """Model family; decides preprocessing (patch size, timestamps) and the model class."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Parameter dtype; float32 on CPU, bfloat16 on GPUs."""
    device: str = "cpu"
    """Torch device string: ``cpu``, ``cuda``, ``cuda:1``."""
    max_prompt_tokens: int = Field(4096, ge=16)
    """Longest prompt (video + text tokens) accepted; longer prompts raise instead of being truncated."""
    min_pixels: int | None = Field(None, ge=1)
    """Per-frame pixel floor of the Qwen-VL resize; ``None`` is the family default (4 merged tokens)."""
    max_pixels: int | None = Field(None, ge=1)
    """Per-frame pixel ceiling of the Qwen-VL resize; ``None`` is the family default (768 merged tokens)."""
    max_frames: int = Field(2048, ge=2)
    """Most frames one video may bring to the model; more raise rather than being dropped silently."""
    attn_implementation: str | None = None
    """Attention kernel passed to ``from_pretrained`` (``sdpa``, ``flash_attention_2``); ``None`` = default."""
    freeze_vision: bool = True
    """Keep the vision tower frozen (its features can then be cached)."""
    train_projector: bool = False
    """With ``freeze_vision``: keep the projector (Qwen2.5-VL's patch merger, which sits inside the tower) trainable.
    The frozen blocks' outputs are cached instead of the final features and the merger runs in every step
    (``lvr1kit.models.projector``; CoT-SFT only, Qwen2.5-VL only)."""

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        problems = []
        if self.train_projector and not self.freeze_vision:
            problems.append(
                "model.train_projector=true needs model.freeze_vision=true (an unfrozen tower trains its projector "
                "anyway); set one of them to false"
            )
        if self.min_pixels is not None and self.max_pixels is not None and self.min_pixels > self.max_pixels:
            problems.append(
                f"model.min_pixels={self.min_pixels} exceeds model.max_pixels={self.max_pixels}; swap or lower them"
            )
        _raise_if(problems)
        return self


class MRSPConfig(StrictModel):
    """Multi-modal Reinforcement Sequence Parallelism: embedding reuse (stage 1) and sequence parallelism."""

    encode_mode: Literal["stage1", "baseline"] = "stage1"
    """Key of ``lvr1kit.rl.ENCODE_MODES``: ``stage1`` encodes each video once per step and reuses the embeddings
    for all rollouts and no-grad passes; ``baseline`` re-encodes pixels for every completion in every pass (TRL)."""
    sp_size: int = Field(1, ge=1)
    """Stage 2: ranks in a sequence-parallel group; 1 turns sequence parallelism off."""
    encode_chunk_frames: int = Field(64, ge=2)
    """Frames encoded per vision-tower call, bounding activation memory (the paper's code uses 64)."""
    sp_layout: Literal["paper", "even"] = "paper"
    """Stage 2 slice layout (``lvr1kit.mrsp.slicing.LAYOUTS``): ``paper`` (first rank leading text, last rank trailing
    text + response, video split equally) or ``even`` (every rank the same number of tokens)."""
    cache_dir: str | None = None
    """Folder of a disk cache of video embeddings (``lvr1kit.mrsp.cache.EmbeddingCache``) reused across steps and
    epochs; ``None`` keeps embeddings for one step only. Bypassed while the vision tower is trainable."""

    @model_validator(mode="after")
    def _check(self) -> MRSPConfig:
        problems = []
        if self.encode_chunk_frames % 2:
            problems.append(
                f"mrsp.encode_chunk_frames={self.encode_chunk_frames} must be even (Qwen-VL's temporal "
                "patch is 2 frames); use an even number such as 64"
            )
        _raise_if(problems)
        return self


def _unknown_name(key: str, value: str, known: list[str]) -> str | None:
    """A complaint for a registry name that is not registered, with the closest known name."""
    if value in known:
        return None
    close = difflib.get_close_matches(value, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{key}={value!r} is not registered; {hint}known: {', '.join(sorted(known))}"


class GRPOConfig(StrictModel):
    """GRPO algorithm settings (paper §8); every name is a key of a registry in :mod:`lvr1kit.rl` or rewards."""

    num_generations: int = Field(5, ge=2)
    """G, responses sampled per prompt (>= 2: the group std needs two)."""
    advantage_scale: str = "std"
    """Key of ``lvr1kit.rl.ADVANTAGE_SCALES``: ``std`` (GRPO z-score, unbiased std) or ``none`` (Dr. GRPO)."""
    advantage_eps: float = Field(1e-6, ge=0)
    """Added to the group std before dividing."""
    loss_aggregation: str = "token_mean"
    """Key of ``lvr1kit.rl.AGGREGATIONS``: ``token_mean``, ``seq_mean_token_mean`` or ``seq_mean_token_sum``."""
    clip_low: float = Field(0.2, ge=0, lt=1)
    """ε_low: ratios below 1 - clip_low are clipped for negative advantages."""
    clip_high: float = Field(0.3, ge=0)
    """ε_high: ratios above 1 + clip_high are clipped for positive advantages (clip-higher; DAPO uses 0.28)."""
    dual_clip: float | None = 3.0
    """Dual-clip C capping the loss of negative-advantage tokens at -A·C; ``None`` disables it."""
    kl_estimator: str = "k3"
    """Key of ``lvr1kit.rl.KL_ESTIMATORS``: ``k1``, ``k2``, ``k3`` or ``none``."""
    kl_coef: float = Field(1e-2, ge=0)
    """β, weight of the KL loss; 0 (or ``kl_estimator: none``) removes the reference model."""
    reward: str = "r1v"
    """Key of ``lvr1kit.rewards.REWARDS`` scoring each response."""
    reward_accuracy_weight: float = Field(0.9, ge=0)
    """w_acc in total = w_acc · accuracy + w_fmt · format."""
    reward_format_weight: float = Field(0.1, ge=0)
    """w_fmt in total = w_acc · accuracy + w_fmt · format."""
    filter_groups: bool = False
    """DAPO online filtering: drop groups selected out by ``group_filter`` (and sample more)."""
    group_filter: str = "nonconstant"
    """Key of ``lvr1kit.rl.GROUP_FILTERS``: ``nonconstant`` (rewards differ) or ``mean_range``."""
    filter_low: float = 0.01
    """``mean_range`` keeps groups whose mean reward is strictly above this."""
    filter_high: float = 0.99
    """``mean_range`` keeps groups whose mean reward is strictly below this."""
    max_response_tokens: int = Field(2048, ge=1)
    """Response length limit; also the constant of the ``seq_mean_token_sum`` aggregation."""
    mask_overlong: bool = False
    """Leave responses that hit ``max_response_tokens`` without EOS out of the loss."""
    overlong_penalty: bool = False
    """Add DAPO's soft overlong penalty to the rewards."""
    overlong_buffer_tokens: int = Field(256, ge=1)
    """Length of the soft-penalty ramp before ``max_response_tokens``."""
    overlong_penalty_factor: float = Field(1.0, ge=0)
    """Penalty reached at ``max_response_tokens``."""

    @property
    def reward_kwargs(self) -> dict[str, float]:
        """Fixed reward parameters for ``compute_rewards(..., reward_kwargs=cfg.reward_kwargs)``."""
        return {"w_acc": self.reward_accuracy_weight, "w_fmt": self.reward_format_weight}

    @property
    def uses_reference(self) -> bool:
        """Whether a reference model is needed (a KL term with a non-zero weight)."""
        return self.kl_estimator != "none" and self.kl_coef > 0

    @model_validator(mode="after")
    def _check(self) -> GRPOConfig:
        # Imported here so loading a config does not import torch until a GRPO block is validated
        from lvr1kit.rewards import REWARDS
        from lvr1kit.rl import ADVANTAGE_SCALES, AGGREGATIONS, GROUP_FILTERS, KL_ESTIMATORS

        named = [
            ("grpo.advantage_scale", self.advantage_scale, list(ADVANTAGE_SCALES)),
            ("grpo.loss_aggregation", self.loss_aggregation, list(AGGREGATIONS)),
            ("grpo.kl_estimator", self.kl_estimator, list(KL_ESTIMATORS)),
            ("grpo.reward", self.reward, list(REWARDS)),
            ("grpo.group_filter", self.group_filter, list(GROUP_FILTERS)),
        ]
        problems = [p for p in (_unknown_name(*item) for item in named) if p]
        if self.dual_clip is not None and self.dual_clip <= 1 + self.clip_high:
            problems.append(
                f"grpo.dual_clip={self.dual_clip} must exceed 1 + grpo.clip_high ({1 + self.clip_high:g}); "
                "use 3.0 (the paper) or null to disable dual-clip"
            )
        if self.kl_estimator == "none" and self.kl_coef > 0:
            problems.append(
                f"grpo.kl_estimator='none' with grpo.kl_coef={self.kl_coef}; set grpo.kl_coef=0 or pick k1, k2 or k3"
            )
        if self.reward_accuracy_weight + self.reward_format_weight == 0:
            problems.append("grpo.reward_accuracy_weight and grpo.reward_format_weight are both 0; use 0.9 and 0.1")
        if self.filter_groups and self.group_filter == "mean_range" and self.filter_low >= self.filter_high:
            problems.append(
                f"grpo.filter_low={self.filter_low} must be below grpo.filter_high={self.filter_high}; e.g. 0.01, 0.99"
            )
        if self.overlong_penalty and self.overlong_buffer_tokens > self.max_response_tokens:
            problems.append(
                f"grpo.overlong_buffer_tokens={self.overlong_buffer_tokens} exceeds grpo.max_response_tokens="
                f"{self.max_response_tokens}; lower the buffer (DAPO uses a fifth of the limit)"
            )
        _raise_if(problems)
        return self


# ----------------------------------------------------------------------------------------------------------
# Stage configs
# ----------------------------------------------------------------------------------------------------------


class SynthConfig(StrictModel):
    """Stage ``synth``: make a synthetic long-video world and preview frames sampled from it."""

    num_videos: int = Field(8, ge=1)
    """Videos to generate."""
    world: WorldConfig = Field(default_factory=WorldConfig)
    """The world's difficulty knobs, length, frame size and visual cues."""
    video: VideoConfig = Field(default_factory=VideoConfig)
    """How frames are sampled for the preview (and, later, for the model)."""
    preview_videos: int = Field(2, ge=0)
    """Videos whose sampled frames are decoded and shown by the notebook (at most ``num_videos``)."""


Category = Literal["temporal", "goal", "spatial", "plot"]
"""One of the paper's four reasoning categories."""

CATEGORIES: tuple[Category, ...] = ("temporal", "goal", "spatial", "plot")
"""The paper's four reasoning categories (``problem_type`` values), in the order reports list them."""


class CaptionConfig(StrictModel):
    """Stage 2 of data generation: one caption per clip, merged into a per-video timeline."""

    captioner: Literal["oracle", "vlm"] = "oracle"
    """``oracle`` writes captions from a synthetic video's event log; ``vlm`` runs ``model`` on each clip."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    """The captioning VLM (``vlm`` only): a local checkpoint folder, never a hub id."""
    frames_per_clip: int = Field(4, ge=2)
    """Frames the VLM sees per clip (even: Qwen-VL's temporal patch is 2 frames)."""
    batch_size: int = Field(4, ge=1)
    """Clips captioned per VLM ``generate`` call."""
    max_new_tokens: int = Field(64, ge=1)
    """Longest caption, in tokens."""
    prompt: str = "Describe in detail what happens in this video clip: who acts, what they do, and where."
    """Instruction given to the VLM with each clip."""
    write_clips: bool = False
    """Also write each clip as a file under ``clips/`` (the paper's step 1); frames are read from the source."""


class QAConfig(StrictModel):
    """Stage 3 of data generation: reasoning questions from timelines (LLM) or event logs (templates)."""

    generator: Literal["template", "llm"] = "template"
    """``template`` builds questions from a synthetic event log; ``llm`` asks an OpenAI-compatible endpoint."""
    questions_per_video: int = Field(4, ge=1)
    """Questions per video; categories are dealt round-robin over videos so that they stay balanced."""
    categories: list[Category] = Field(default_factory=lambda: list(CATEGORIES))
    """Categories to generate, each named in its own generator prompt."""
    option_order: Literal["canonical", "shuffled"] = "canonical"
    """``canonical`` keeps fixed option sets in one order (zones NW..SE, counts 0-3, goal reasons), which
    tiny models need; ``shuffled`` shuffles every option list. Either way the answer letter is drawn first."""
    seed: int = Field(0, ge=0)
    """Seed of the question sampler; each video draws from its own stream, so reruns and shards agree."""
    endpoint_url: str = "http://127.0.0.1:8000/v1"
    """OpenAI-compatible base URL (vLLM, SGLang, ``transformers serve``, a hosted API); env LVR1_LLM_URL wins."""
    model: str | None = None
    """Model name sent with each request (for ``transformers serve``, the served folder); env LVR1_LLM_MODEL wins."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (never stored in configs); unset sends no key."""
    temperature: float = Field(0.6, ge=0)
    """Sampling temperature (the paper: 0.6)."""
    max_tokens: int = Field(2048, ge=1)
    """Longest generated reply, in tokens."""
    concurrency: int = Field(4, ge=1)
    """Requests in flight at once."""
    max_retries: int = Field(3, ge=0)
    """Retries per request after a timeout, connection error or 429/5xx, with exponential backoff."""
    backoff_s: float = Field(1.0, ge=0)
    """First retry delay; doubles per retry."""
    timeout_s: float = Field(120.0, gt=0)
    """Per-request time limit."""


class FilterConfig(StrictModel):
    """Stage 5 of data generation: drop bad or redundant questions and rebalance letters and categories."""

    dedup: bool = True
    """Drop exact duplicates (same video, same normalised question and options)."""
    near_dup_jaccard: float = Field(0.9, gt=0, le=1)
    """Drop a question whose word-trigram Jaccard similarity to a kept one of the same video reaches this."""
    drop_leakage: bool = True
    """Drop questions whose question text contains the correct option's text."""
    balance_letters: bool = True
    """Within each category, cap every answer letter at ``max_balance_ratio`` times the rarest letter."""
    balance_categories: bool = True
    """Cap every category at ``max_balance_ratio`` times the rarest category."""
    max_balance_ratio: float = Field(1.2, ge=1)
    """Largest allowed ratio between the most and least frequent letter (or category) after balancing."""
    pass_rate_samples: int = Field(0, ge=0)
    """G answers sampled per question by a model for the paper's pass-rate filter; 0 = off (needs a model)."""


class SplitConfig(StrictModel):
    """Stage 6 of data generation: held-out eval videos, then SFT / RL by fraction."""

    eval_videos: int = Field(4, ge=0)
    """Videos held out for ``eval.jsonl`` (chosen by a hash of their path, never used in training)."""
    eval_per_category: int | None = Field(None, ge=1)
    """Cap on eval questions per category; ``None`` keeps every question of the held-out videos."""
    sft_fraction: float = Field(1 / 3, ge=0, le=1)
    """Share of training questions in ``sft.jsonl``; the rest go to ``rl.jsonl`` (the paper: about 1/3)."""
    seed: int = Field(0, ge=0)
    """Seed of the split hash."""


class DataGenConfig(StrictModel):
    """Stage ``data``: videos -> clips -> captions -> reasoning QA -> filter -> sft/rl/eval jsonl."""

    videos_dir: str | None = None
    """Folder of input videos; ``None`` makes a synthetic world from ``world`` in ``<run_dir>/world``."""
    num_videos: int = Field(24, ge=1)
    """Videos of the synthetic world made when ``videos_dir`` is ``None``."""
    world: WorldConfig = Field(default_factory=WorldConfig)
    """The synthetic world made when ``videos_dir`` is ``None``."""
    video: VideoConfig = Field(default_factory=VideoConfig)
    """Clip length (``video.clip_seconds``), decoder and frame size used by clips and the VLM captioner."""
    caption: CaptionConfig = Field(default_factory=CaptionConfig)
    """Clip captioning."""
    qa: QAConfig = Field(default_factory=QAConfig)
    """Question generation."""
    filter: FilterConfig = Field(default_factory=FilterConfig)
    """Dedup, leakage, sanity and balance filters."""
    split: SplitConfig = Field(default_factory=SplitConfig)
    """SFT / RL / eval split."""
    progress: bool = True
    """Show progress bars."""

    @model_validator(mode="after")
    def _check(self) -> DataGenConfig:
        problems = []
        if self.caption.frames_per_clip % 2:
            problems.append(
                f"caption.frames_per_clip={self.caption.frames_per_clip} must be even (Qwen-VL's temporal patch "
                "is 2 frames); use an even number such as 4"
            )
        if self.caption.captioner == "vlm" and not self.caption.model.path:
            problems.append("caption.captioner=vlm needs caption.model.path (a local checkpoint folder)")
        if self.qa.generator == "template" and self.caption.captioner == "vlm" and self.videos_dir is not None:
            problems.append("qa.generator=template reads synthetic event logs; with real videos use qa.generator=llm")
        if not self.qa.categories:
            problems.append("qa.categories is empty; list at least one of " + ", ".join(CATEGORIES))
        _raise_if(problems)
        return self


class OptimConfig(StrictModel):
    """AdamW settings of the GRPO policy update (paper §8: lr 1e-6, weight decay 1e-2, constant, clip 1.0)."""

    lr: float = Field(1e-6, gt=0)
    """Learning rate (constant schedule, no warmup)."""
    weight_decay: float = Field(1e-2, ge=0)
    """AdamW decoupled weight decay."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    eps: float = Field(1e-8, gt=0)
    """AdamW epsilon."""
    max_grad_norm: float | None = Field(1.0, gt=0)
    """Clip the global gradient norm to this before each optimizer step; ``None`` disables clipping."""


class LoRAConfig(StrictModel):
    """Optional LoRA adapters on the LM (through ``peft``); the reference policy is then the adapter-free base."""

    rank: int = Field(0, ge=0)
    """Adapter rank; 0 trains the full LM instead."""
    alpha: float = Field(16.0, gt=0)
    """LoRA scaling numerator (scale = alpha / rank)."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout on the adapter input."""
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    """Module names of the LM that get adapters (the vision tower never does)."""


class RLConfig(StrictModel):
    """Stage ``rl``: GRPO with MR-SP stage 1 (see docs/grpo.md); one step = rollout, reward, log-probs, update."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    """The policy; ``model.path`` None (and no ``init_from``) builds a tiny model in ``<run_dir>/model``."""
    video: VideoConfig = Field(default_factory=VideoConfig)
    """Frame sampling of each question's video (the same as SFT and eval)."""
    grpo: GRPOConfig = Field(default_factory=GRPOConfig)
    """The algorithm: G, advantages, loss, KL, reward, filtering, ``max_response_tokens``."""
    mrsp: MRSPConfig = Field(default_factory=MRSPConfig)
    """Embedding reuse (``mrsp.encode_mode``) and sequence parallelism."""
    optim: OptimConfig = Field(default_factory=OptimConfig)
    """Optimizer of the policy update."""
    lora: LoRAConfig = Field(default_factory=LoRAConfig)
    """Optional LoRA adapters (``lora.rank`` > 0)."""
    init_from: str | None = None
    """Checkpoint folder to start from (e.g. ``runs/x/sft/checkpoint``); wins over ``model.path``."""
    tiny_model: str = "tiny"
    """Key of ``lvr1kit.models.TINY_PRESETS`` built when neither ``init_from`` nor ``model.path`` is given."""
    train_file: str | None = None
    """``rl.jsonl`` of the data stage; ``None`` makes a ``data/tiny`` dataset in ``<run_dir>/data`` first."""
    eval_file: str | None = None
    """Held-out ``eval.jsonl`` (read by the eval stage; kept here so the run config names it)."""
    videos_dir: str | None = None
    """Folder the records' ``videos`` paths are relative to; ``None`` = the ``world`` folder next to
    ``train_file``'s ``dataset`` folder (the data stage's layout)."""
    standalone_videos: int = Field(8, ge=2)
    """Synthetic videos made when ``train_file`` is ``None``."""
    rollout_engine: Literal["hf", "vllm"] = "hf"
    """Key of ``lvr1kit.rl.ROLLOUT_ENGINES``: HF ``generate`` (CPU, CI) or vLLM fed embeddings (GPU extra)."""
    steps: int = Field(5, ge=1)
    """GRPO steps (one rollout batch each)."""
    prompts_per_step: int = Field(8, ge=1)
    """Questions per rollout batch, over all ranks; each gets ``grpo.num_generations`` completions."""
    updates_per_batch: int = Field(1, ge=1)
    """Optimizer steps per rollout batch (the batch is cut into this many mini-batches of whole groups)."""
    recompute_old_logprobs: bool = False
    """Run the separate old-policy log-prob pass even with ``updates_per_batch=1``. By default that pass is skipped
    there: the policy has not moved since the rollouts, so the update pass's own detached log-probs are the old ones
    (equal up to float rounding, tested), one forward pass per completion saved. Always run when it is > 1."""
    micro_batch_size: int = Field(4, ge=1)
    """Completions per forward/backward pass (gradient accumulation inside a mini-batch)."""
    temperature: float = Field(1.0, gt=0)
    """Rollout sampling temperature; log-probs are computed from logits / temperature (paper §8)."""
    top_p: float = Field(1.0, gt=0, le=1)
    """Rollout nucleus sampling."""
    seed: int = Field(0, ge=0)
    """Seeds data order, rollouts (per prompt) and initialisation."""
    nproc: int = Field(1, ge=1)
    """Processes the stage launches (torchrun on this machine; gloo on CPU, NCCL on GPU) when started from the CLI,
    a notebook or a pipeline; 1 trains in the calling process. Ignored by a process already inside torchrun."""
    save_steps: int = Field(0, ge=0)
    """Save a checkpoint every this many steps (and at the end); 0 saves only at the end."""
    log_rollouts: bool = True
    """Write every completion with its reward parts and advantage to ``rollouts.jsonl``."""

    @model_validator(mode="after")
    def _check(self) -> RLConfig:
        problems = []
        if self.model.train_projector:
            problems.append(
                "model.train_projector is CoT-SFT only; GRPO trains the LM with the tower frozen (merger included): "
                "set model.train_projector=false"
            )
        completions = self.prompts_per_step * self.grpo.num_generations
        if self.prompts_per_step % self.updates_per_batch:
            problems.append(
                f"prompts_per_step={self.prompts_per_step} must be divisible by updates_per_batch="
                f"{self.updates_per_batch} (mini-batches hold whole groups); e.g. updates_per_batch=1"
            )
        elif (completions // self.updates_per_batch) % self.micro_batch_size:
            problems.append(
                f"prompts_per_step x grpo.num_generations / updates_per_batch = {completions // self.updates_per_batch}"
                f" completions per mini-batch must be divisible by micro_batch_size={self.micro_batch_size}; "
                f"pick a divisor such as {self.grpo.num_generations}"
            )
        if self.rollout_engine == "vllm" and self.model.device == "cpu":
            problems.append("rollout_engine=vllm needs a GPU (model.device=cuda); use rollout_engine=hf on CPU")
        if self.lora.rank and not self.model.freeze_vision:
            problems.append("lora.rank > 0 adapts only the LM; set model.freeze_vision=true (or lora.rank=0)")
        _raise_if(problems)
        return self


class SFTTrainConfig(StrictModel):
    """``transformers.Trainer`` settings of CoT-SFT (a global batch is per-device x processes x accumulation)."""

    learning_rate: float = Field(1e-3, gt=0)
    """Peak learning rate (AdamW)."""
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    """Learning-rate schedule after warmup."""
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    """Share of the steps spent warming the learning rate up linearly from 0."""
    max_steps: int = Field(150, ge=-1)
    """Optimizer steps; -1 trains ``num_epochs`` epochs instead."""
    num_epochs: float = Field(1.0, gt=0)
    """Epochs over the training records (used only when ``max_steps`` is -1)."""
    per_device_batch_size: int = Field(8, ge=1)
    """Samples per process per micro-batch."""
    grad_accum_steps: int = Field(1, ge=1)
    """Micro-batches accumulated per optimizer step."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW decoupled weight decay."""
    max_grad_norm: float = Field(1.0, ge=0)
    """Gradient clipping norm (0 disables clipping)."""
    save_steps: int = Field(0, ge=0)
    """Save a resumable checkpoint every this many steps (0: only the final model folder)."""
    save_total_limit: int | None = Field(2, ge=1)
    """Keep at most this many checkpoints (``None``: all)."""
    logging_steps: int = Field(10, ge=1)
    """Log loss, learning rate and grad norm every this many steps."""
    deepspeed: str | None = None
    """Path of a DeepSpeed JSON config (ZeRO stage, offload); ``None`` trains with plain DDP. Needs ``deepspeed``."""
    max_minutes: float | None = Field(None, gt=0)
    """Stop (and save) once training has run this long; ``None``: no limit. Keeps CPU benches in budget."""


class SFTConfig(StrictModel):
    """Stage ``sft``: CoT supervised fine-tuning on ``sft.jsonl`` (target ``<think>..</think> <answer>X</answer>``)."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    """The model to fine-tune; ``model.freeze_vision`` freezes the vision tower (then its features are cached)."""
    init_from: str | None = None
    """Checkpoint folder to start from; wins over ``model.path``."""
    tiny_model: str = "tiny"
    """Key of ``lvr1kit.models.TINY_PRESETS`` built into ``<run_dir>/init_model`` when neither ``init_from`` nor
    ``model.path`` is given (so the notebook runs standalone)."""
    video: VideoConfig = Field(default_factory=VideoConfig)
    """Frame sampling; the same block GRPO and eval use."""
    cache_embeddings: bool = True
    """With a frozen tower, encode each video once into the embedding cache and train on cached features."""
    cache_dir: str | None = None
    """Embedding cache folder (shareable across runs and with GRPO); ``None``: ``<run_dir>/embed_cache``."""
    train_file: str | None = None
    """``sft.jsonl`` of the data stage; ``None`` makes a ``data_preset`` dataset in ``<run_dir>/data`` first."""
    eval_file: str | None = None
    """Held-out ``eval.jsonl`` answered greedily before and after training; ``None`` with ``train_file`` set skips
    it (with ``train_file`` null, the made dataset's eval split is used)."""
    videos_dir: str | None = None
    """Folder the records' ``videos`` paths are relative to; ``None`` = the ``world`` folder next to
    ``train_file``'s ``dataset`` folder (the data stage's layout)."""
    data_preset: str = "data/tiny"
    """Data preset made into ``<run_dir>/data`` when ``train_file`` is ``None``."""
    max_train_samples: int | None = Field(None, ge=1)
    """Use only the first this many training records (``None``: all)."""
    seed: int = Field(0, ge=0)
    """Seeds the data order and the tiny model built when no checkpoint is given."""
    nproc: int = Field(1, ge=1)
    """Processes the stage launches (torchrun on this machine; gloo on CPU, NCCL on GPU) when started from the CLI,
    a notebook or a pipeline; 1 trains in the calling process. Ignored by a process already inside torchrun."""
    train: SFTTrainConfig = Field(default_factory=SFTTrainConfig)
    """Optimizer, schedule, batch, checkpoints, logging."""
    lora: LoRAConfig = Field(default_factory=LoRAConfig)
    """Optional LoRA adapters on the LM (``lora.rank`` > 0); the final ``model/`` folder holds merged weights."""
    eval_questions: int = Field(8, ge=0)
    """Held-out questions answered greedily before and after training (the first N of the eval file)."""
    eval_max_new_tokens: int = Field(96, ge=1)
    """Longest generated response in those evaluations."""
    eval_batch_size: int = Field(16, ge=1)
    """Questions per ``generate`` call."""

    @property
    def uses_cached_embeddings(self) -> bool:
        """Whether batches carry cached vision features (frozen tower + ``cache_embeddings``) or pixels."""
        return self.model.freeze_vision and self.cache_embeddings

    @model_validator(mode="after")
    def _check(self) -> SFTConfig:
        from lvr1kit.models.tiny import TINY_PRESETS

        problems: list[str] = []
        if self.init_from is None and self.model.path is None:
            problems.extend(p for p in [_unknown_name("tiny_model", self.tiny_model, list(TINY_PRESETS))] if p)
        if self.lora.rank and not self.model.freeze_vision:
            problems.append("lora.rank > 0 adapts only the LM; set model.freeze_vision=true (or lora.rank=0)")
        if self.model.train_projector and not self.cache_embeddings:
            problems.append("model.train_projector caches the frozen blocks' states; set cache_embeddings=true")
        if self.eval_file is not None and self.train_file is None:
            problems.append("eval_file is set but train_file is null; set both (the data stage's files) or neither")
        _raise_if(problems)
        return self


class DecodingConfig(StrictModel):
    """How eval answers are decoded (greedy by default; sampled for seed studies)."""

    do_sample: bool = False
    """Sample instead of greedy decoding; with several ``seeds`` each seed is one sampled run."""
    temperature: float = Field(1.0, gt=0)
    """Sampling temperature (ignored when greedy; the paper validates at 0.5)."""
    top_p: float = Field(1.0, gt=0, le=1)
    """Nucleus sampling (ignored when greedy)."""
    max_new_tokens: int = Field(256, ge=1)
    """Longest generated response."""


class EvalConfig(StrictModel):
    """Stage ``eval``: answer a benchmark with one or more checkpoints; strict/lenient scores with CIs; sweeps."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    """The base model, evaluated as ``model_name``; ``model.path`` None builds a tiny model in ``<run_dir>/model``."""
    model_name: str | None = "untrained"
    """Name of ``model`` in the comparison; ``None`` evaluates only ``checkpoints``."""
    checkpoints: dict[str, str] = Field(default_factory=dict)
    """More checkpoints to compare, name -> local folder (e.g. ``{sft: runs/x/sft/model}``); missing folders are
    skipped with a warning so a partial pipeline still reports."""
    tiny_model: str = "tiny"
    """Key of ``lvr1kit.models.TINY_PRESETS`` built when ``model.path`` is null."""
    video: VideoConfig = Field(default_factory=VideoConfig)
    """Frame sampling (the same block SFT and GRPO use)."""
    benchmark_file: str | None = None
    """Benchmark file; ``None`` makes a ``data_preset`` dataset in ``<run_dir>/data`` and uses its ``eval.jsonl``."""
    benchmark_format: Literal["longvideo-reason", "videomme"] = "longvideo-reason"
    """Importer of ``lvr1kit.data.importers.FORMATS``: our ``eval.jsonl`` and public LongVideo-Reason rows are
    ``longvideo-reason``; VideoMME-like rows are ``videomme``. Malformed rows are reported and skipped."""
    videos_dir: str | None = None
    """Folder the records' ``videos`` paths are relative to; ``None`` = the ``world`` folder next to the benchmark
    file's ``dataset`` folder (the data stage's layout)."""
    data_preset: str = "data/tiny"
    """Data preset made into ``<run_dir>/data`` when ``benchmark_file`` is null."""
    data_overrides: dict[str, Any] = Field(default_factory=dict)
    """Dotted overrides of ``data_preset`` (e.g. ``{num_videos: 16}``), so a standalone run can stay small."""
    limit: int | None = Field(None, ge=1)
    """Answer only the first this many questions (``None``: all)."""
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    """Greedy or sampled decoding."""
    batch_size: int = Field(8, ge=1)
    """Questions per ``generate`` call."""
    seeds: list[int] = Field(default_factory=lambda: [0])
    """One run per seed (sampling seeds); several give mean ± spread over seeds."""
    cache_dir: str | None = None
    """Answer cache folder (keyed by model hash, question, frames, pixels, prompt, decoding, seed); ``None`` =
    ``<run_dir>/answers``. A killed run continues from it."""
    duration_edges_s: list[float] = Field(default_factory=lambda: [120.0, 600.0, 1800.0])
    """Edges of the per-duration buckets, in seconds."""
    bootstrap_samples: int = Field(1000, ge=10)
    """Bootstrap resamples of every confidence interval."""
    ci_level: float = Field(0.95, gt=0, lt=1)
    """Level of every confidence interval."""
    sweep_frames: list[int] = Field(default_factory=list)
    """Frame budgets of the frame-scaling sweep (e.g. 16, 32, 64, 128, 256; 512+ on GPU); empty = no sweep."""
    sweep_strategies: list[Literal["uniform", "fps", "per_clip"]] = Field(default_factory=list)
    """Sampling schemes compared at each ``sweep_frames`` budget; empty = ``uniform`` only."""
    sweep_model: str | None = None
    """Name of the model swept (``model_name`` or a ``checkpoints`` key); ``None`` = the last one listed."""
    compare_to: str | None = None
    """A model name (``model_name`` or a ``checkpoints`` key): every other model gets its paired difference to it
    on the same questions, overall and per category, with a paired bootstrap interval (``results.json``
    ``comparisons``, ``summary.json`` ``diff_vs_reference``). ``None``: no comparison."""
    progress: bool = True
    """Show progress bars."""

    @model_validator(mode="after")
    def _check(self) -> EvalConfig:
        from lvr1kit.models.tiny import TINY_PRESETS

        problems = []
        names = ([self.model_name] if self.model_name else []) + list(self.checkpoints)
        if not names:
            problems.append("model_name is null and checkpoints is empty; name the model or list checkpoints")
        if self.model_name in self.checkpoints:
            problems.append(f"checkpoints has a key {self.model_name!r} equal to model_name; rename one of them")
        if self.model.path is None and self.model_name:
            problems.extend(p for p in [_unknown_name("tiny_model", self.tiny_model, list(TINY_PRESETS))] if p)
        if self.compare_to is not None and self.compare_to not in names:
            problems.append(f"compare_to={self.compare_to!r} is not among the models {names}; pick one of them")
        if self.sweep_model is not None and self.sweep_model not in names:
            problems.append(f"sweep_model={self.sweep_model!r} is not among the models {names}; pick one of them")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            problems.append(f"seeds={self.seeds} must be a non-empty list of distinct integers, e.g. [0, 1, 2]")
        if len(self.seeds) > 1 and not self.decoding.do_sample:
            problems.append("several seeds with greedy decoding give identical runs; set decoding.do_sample=true")
        if any(f < 1 for f in self.sweep_frames):
            problems.append(f"sweep_frames={self.sweep_frames} must hold positive frame budgets")
        if any(f > self.model.max_frames for f in self.sweep_frames):
            problems.append(f"sweep_frames exceed model.max_frames={self.model.max_frames}; raise model.max_frames")
        _raise_if(problems)
        return self


class BenchConfig(StrictModel):
    """Stage ``bench``: the MR-SP benchmark of notebook 05 (``lvr1 bench mrsp``): read a report or run one."""

    report: str | None = None
    """A JSON written by ``lvr1 bench mrsp --out``; ``None`` runs the benchmark with the fields below."""
    model: str = "bench"
    """``tiny`` or ``bench`` (random-init Qwen2.5-VL built in the run dir) or a local checkpoint folder."""
    frames: list[int] = Field(default_factory=lambda: [128, 512])
    """Frames per video of the step rows (one row per frame count and configuration)."""
    generations: int = Field(8, ge=2)
    """G, completions per prompt."""
    prompts: int = Field(2, ge=1)
    """Prompts per step, each with its own video."""
    response_tokens: int = Field(16, ge=1)
    """Maximum response tokens."""
    sp: int = Field(2, ge=1)
    """Ranks of the ``stage1+sp`` rows and of the memory ladder (a torchrun subprocess); 1 skips them."""
    frame_size: int = Field(56, ge=28)
    """Square frame side in pixels (56: 4 video tokens per 2 frames)."""
    ladder: list[int] | None = None
    """Frame counts of the prefill-memory ladder; ``None`` uses ``frames``."""
    mem_budget_mb: float | None = None
    """Per-rank prefill memory budget; ``None``: what one rank needs at half the largest ladder point."""
    warmup: bool = True
    """One untimed step per process before measuring."""
    threads: int | None = Field(None, ge=1)
    """torch threads per process (each rank too); ``None``: CPU cores // ``sp``."""
    seed: int = Field(0, ge=0)
    """Seed of the model, the frames and the rollouts."""


STAGE_CONFIGS: dict[str, type[StrictModel]] = {
    "synth": SynthConfig,
    "data": DataGenConfig,
    "rl": RLConfig,
    "sft": SFTConfig,
    "eval": EvalConfig,
    "bench": BenchConfig,
}
"""Stage name -> config class; the preset folder of a stage carries the same name."""

C = TypeVar("C", bound=BaseModel)


# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------


def _presets_root() -> Path:
    return Path(str(importlib.resources.files("lvr1kit") / "presets"))


def list_presets(stage: str | None = None) -> list[str]:
    """Names of the packaged presets (``"<stage>/<size>"``), optionally for one stage."""
    root = _presets_root()
    names = sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))
    return [n for n in names if stage is None or n.split("/")[0] == stage]


def _resolve_preset(preset: str | Path) -> Path:
    path = Path(preset)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"preset file {path} does not exist; give a packaged name such as 'synth/tiny'")
        return path
    packaged = _presets_root() / f"{preset}.yaml"
    if not packaged.is_file():
        close = difflib.get_close_matches(str(preset), list_presets(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known presets: {', '.join(list_presets())}"
        raise ConfigError(f"unknown preset {preset!r}{hint}")
    return packaged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of config keys, got {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a ``key=value`` command-line override; the value is read as a YAML scalar or list.

    >>> parse_override("world.minutes=2.5")
    ('world.minutes', 2.5)
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key=value, e.g. world.minutes=2")
    return key.strip(), yaml.safe_load(raw)


def _field_names(cls: type[BaseModel], prefix: str = "") -> list[str]:
    """All dotted keys a config class accepts, nested blocks included."""
    names = []
    for name, field in cls.model_fields.items():
        names.append(prefix + name)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names.extend(_field_names(ann, prefix + name + "."))
    return names


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        if not isinstance(node[part], dict):
            raise ConfigError(f"override {key}: {part!r} holds a value, not a block of settings")
        node = node[part]
    node[parts[-1]] = value


def format_validation_error(cls: type[BaseModel], err: ValidationError, source: str) -> str:
    """One message listing every problem pydantic found, unknown keys with their closest valid key."""
    known = _field_names(cls)
    lines = []
    for item in err.errors():
        loc = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(loc, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"  - {loc}: unknown key{hint}")
        elif item["type"] == "value_error":
            msg = str(item.get("ctx", {}).get("error", item["msg"]))
            for part in msg.split("\n"):
                lines.append(f"  - {part}" if not loc else f"  - {loc}: {part}")
        else:
            got = item.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"  - {loc}: {item['msg']}{shown}")
    return f"invalid {cls.__name__} from {source}:\n" + "\n".join(lines)


def load_config(cls: type[C], preset: str | Path | None = None, overrides: dict[str, Any] | None = None) -> C:
    """Build a stage config from class defaults, a preset and dotted overrides.

    Args:
        cls: the stage config class, e.g. :class:`SynthConfig`.
        preset: a packaged preset name (``"synth/tiny"``) or a path to a YAML file; ``None`` for defaults.
        overrides: dotted keys relative to the stage config, applied last.

    Raises:
        ConfigError: listing every unknown key and invalid value, each with its remedy.
    """
    data: dict[str, Any] = {}
    source = "defaults"
    if preset is not None:
        path = _resolve_preset(preset)
        data = _read_yaml(path)
        source = str(preset)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    if overrides:
        source += f" + overrides {sorted(overrides)}"
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(cls, err, source)) from None


def dump_config(cfg: BaseModel) -> str:
    """The fully resolved config as YAML (every field, defaults included)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
