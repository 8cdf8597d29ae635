"""The GRPO training loop with MR-SP stage 1: ``GRPOTrainer.step()`` runs one step and returns its metrics.

One step, phases timed as ``perf/<phase>_s``:

1. ``data``: take this rank's share of the next ``prompts_per_step`` questions; decode frames, build prompts.
2. ``encode``: ``ENCODE_MODES[mrsp.encode_mode]`` (stage 1 encodes each distinct video once; baseline nothing).
3. ``rollout``: the engine draws G completions per prompt from embeddings (or pixels, baseline).
4. ``reward``: the registered reward per completion, optional overlong shaping, group advantages, loss mask
   (overlong masking, DAPO group filter).
5. ``old_logprob`` / ``ref_logprob``: the training model recomputes log-probs (logits / temperature) of the old and
   reference policy, micro-batch by micro-batch, through the single call site ``_logprobs``. With one update per
   batch the old pass is skipped and the update pass's detached log-probs serve (``recompute_old_logprobs``).
6. ``update``: per mini-batch of whole groups, micro-batched ``grpo_loss`` backward (each micro-batch weighted by
   its share of the global tokens or sequences), gradients summed over ranks, clipped, one AdamW step.

Metrics (``metrics.jsonl``) use the namespaces ``reward/``, ``loss/``, ``rollout/``, ``optim/``, ``mrsp/``,
``perf/`` (docs/grpo.md lists every key); ``rollouts.jsonl`` holds every completion (``lvr1kit.rl.rollout_log``).

Deviations from the paper:
1. DAPO filtering drops filtered groups from the loss but does not resample to refill the batch.
2. With ``mrsp.sp_size = k > 1`` (MR-SP stage 2) the world is cut into SP groups of k consecutive ranks; the ranks
   of a group hold the same prompts (data parallel across groups). Videos are frame-sharded (each rank encodes 1/k
   of the temporal patches, all-gathered for the rollouts); rollouts are split by prompt over the group's ranks
   and all-gathered (the paper hands them to vLLM); every log-prob pass is ``sp_compute_logprobs``; after
   ``loss.backward()`` gradients are summed over the SP group, then over the data-parallel group. The vision tower
   must be frozen under SP (its gradient would need a frame-sharded backward).
3. Updates use ``updates_per_batch`` mini-batches of one PPO epoch (the paper's example also uses 1 epoch).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import random
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from lvr1kit.config import LoRAConfig, RLConfig, dump_config
from lvr1kit.data.schema import QARecord
from lvr1kit.models import LoadedModel, compute_logprobs
from lvr1kit.models.examples import build_question_prompt, load_video_inputs, settings_from_config
from lvr1kit.models.preprocess import VideoInputs
from lvr1kit.mrsp.cache import EmbeddingCache, vision_weights_version
from lvr1kit.mrsp.dist import SPGroup, init_sp_group, sync_sp_gradients
from lvr1kit.mrsp.encode import sp_encode_video
from lvr1kit.mrsp.sp import enable_ulysses, sp_compute_logprobs, validate_sp
from lvr1kit.rewards import compute_rewards, summarize_rewards
from lvr1kit.rl.advantages import grpo_advantages
from lvr1kit.rl.batch import (
    Completions,
    MicroBatch,
    PromptItem,
    collate_micro_batch,
    flatten_groups,
    plan_micro_batches,
)
from lvr1kit.rl.checkpoint import TrainerState, latest_checkpoint, load_checkpoint, save_checkpoint
from lvr1kit.rl.encoding import (
    ENCODE_MODES,
    DiskEmbeddingStore,
    EmbeddingStore,
    Encoder,
    EncoderCounter,
    StepVideos,
    base_model,
    vision_tower,
)
from lvr1kit.rl.filtering import GROUP_FILTERS, overlong_mask, soft_overlong_penalty
from lvr1kit.rl.losses import grpo_loss
from lvr1kit.rl.rollout import ROLLOUT_ENGINES, RolloutRequest, SamplingSettings
from lvr1kit.rl.rollout_log import append_rollouts
from lvr1kit.runs import Run, read_metrics

__all__ = ["GRPOTrainer", "apply_lora"]

log = logging.getLogger(__name__)
_PIXEL_CACHE_SIZE = 64


def apply_lora(model: nn.Module, lora: LoRAConfig) -> nn.Module:
    """Wrap ``model`` with ``peft`` LoRA adapters on the LM's ``lora.target_modules`` (never the vision tower)."""
    from peft import LoraConfig, get_peft_model

    pattern = rf".*language_model.*\.({'|'.join(lora.target_modules)})"
    config = LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,  # type: ignore[arg-type]  # peft annotates int; a float alpha works
        lora_dropout=lora.dropout,
        target_modules=pattern,
    )
    return get_peft_model(model, config)  # type: ignore[arg-type]


def _check_sp(cfg: RLConfig, loaded: LoadedModel) -> None:
    """Raise one error naming every problem of ``mrsp.sp_size`` with this model and launch (before any work)."""
    k = cfg.mrsp.sp_size
    if k == 1:
        return
    frames = cfg.video.num_frames if cfg.video.strategy == "uniform" else None
    problems = []
    try:
        validate_sp(loaded.model.config, k, frames, micro_batch_size=cfg.micro_batch_size)
    except ValueError as err:
        problems.append(str(err))
    if not cfg.model.freeze_vision:
        problems.append(f"mrsp.sp_size={k} needs a frozen vision tower; set model.freeze_vision=true or mrsp.sp_size=1")
    world = dist.get_world_size() if dist.is_initialized() else int(os.environ.get("WORLD_SIZE", "1"))
    if world % k:
        problems.append(
            f"mrsp.sp_size={k} must divide the number of processes ({world}); launch with torchrun "
            f"--nproc-per-node {k} (or a multiple), or set mrsp.sp_size=1"
        )
    if problems:
        raise ValueError("\n".join(problems))


def _data_parallel_group(rank: int, world: int, sp_size: int) -> Any:
    """The group of ranks holding the same position in their SP groups (``None``: the world, or no collective)."""
    if sp_size == 1 or world == sp_size:
        return None
    group = None
    for j in range(sp_size):  # every rank creates every group, in the same order
        ranks = list(range(j, world, sp_size))
        new = dist.new_group(ranks)
        if rank in ranks:
            group = new
    return group


class _Timer:
    """Seconds per named phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start


class GRPOTrainer:
    """GRPO on a Qwen-VL policy; one process of a (torchrun) group when ``torch.distributed`` is initialised."""

    def __init__(
        self,
        cfg: RLConfig,
        loaded: LoadedModel,
        records: Sequence[QARecord],
        videos_dir: str | Path,
        *,
        run: Run | None = None,
        embedding_cache: EmbeddingStore | None = None,
    ) -> None:
        _check_sp(cfg, loaded)  # before any work: heads, frames, frozen tower, world size
        self.cfg, self.run, self.records = cfg, run, list(records)
        self.videos_dir = Path(videos_dir)
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world_size = dist.get_world_size() if dist.is_initialized() else 1
        k = cfg.mrsp.sp_size
        self.sp = init_sp_group(k) if k > 1 else SPGroup(rank=0, size=1)
        self.dp_rank, self.dp_size = self.rank // k, self.world_size // k
        self.dp_group = _data_parallel_group(self.rank, self.world_size, k)
        if cfg.prompts_per_step % self.dp_size:
            raise ValueError(
                f"prompts_per_step={cfg.prompts_per_step} must be divisible by {self.dp_size} data-parallel groups "
                f"({self.world_size} ranks / mrsp.sp_size={k})"
            )
        if not self.records:
            raise ValueError("no training records; check train_file")
        torch.manual_seed(cfg.seed)
        self.tokenizer = loaded.tokenizer
        self.settings = settings_from_config(cfg.model, loaded.family)
        policy = loaded.model
        if k > 1:
            enable_ulysses(policy)  # generate and single-process passes still work; SP passes need it
        vision_tower(policy).requires_grad_(not cfg.model.freeze_vision)
        self.vision_trainable = not cfg.model.freeze_vision
        self.reference: nn.Module | None = None
        if cfg.grpo.uses_reference and not cfg.lora.rank:  # with LoRA the reference is the adapter-free base
            self.reference = copy.deepcopy(policy).eval().requires_grad_(False)
        self.model = apply_lora(policy, cfg.lora) if cfg.lora.rank else policy
        self.model.eval()  # Qwen-VL has no dropout; eval mode keeps every pass deterministic
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        opt = cfg.optim
        self.optimizer = torch.optim.AdamW(
            self.params, lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay
        )
        eos = loaded.model.generation_config.eos_token_id
        self.eos_ids = [int(e) for e in (eos if isinstance(eos, list) else [eos or self.tokenizer.eos_token_id])]
        self.pad_id = int(self.tokenizer.pad_token_id)
        self.engine = ROLLOUT_ENGINES[cfg.rollout_engine](
            self.model,
            str(loaded.path),
            banned_token_ids=loaded.placeholder_token_ids,
            eos_token_ids=self.eos_ids,
            pad_token_id=self.pad_id,
        )
        towers = [vision_tower(self.model)] + ([vision_tower(self.reference)] if self.reference is not None else [])
        self.counter = EncoderCounter(towers)
        self.store = embedding_cache
        if self.store is None and cfg.mrsp.cache_dir:
            self.store = DiskEmbeddingStore(EmbeddingCache(cfg.mrsp.cache_dir), cfg.video, self.settings)
        # the tag is the vision weights version, so a cache written by another (or since trained) tower never serves
        self.model_tag = vision_weights_version(self.model) if self.store is not None else "policy"
        self.state = TrainerState(step=0, cursor=0, world_size=self.world_size)
        self._pixels: OrderedDict[str, VideoInputs] = OrderedDict()

    # ---------------------------------------------------------------------------------------------- data
    def _record_at(self, position: int) -> QARecord:
        epoch, k = divmod(position, len(self.records))
        order = list(range(len(self.records)))
        random.Random(self.cfg.seed * 7919 + epoch).shuffle(order)
        return self.records[order[k]]

    def _video(self, key: str) -> VideoInputs:
        if key not in self._pixels:
            self._pixels[key] = load_video_inputs(key, self.cfg.video, self.settings)
            if len(self._pixels) > _PIXEL_CACHE_SIZE:
                self._pixels.popitem(last=False)
        return self._pixels[key]

    def _next_items(self) -> list[PromptItem]:
        per_rank = self.cfg.prompts_per_step // self.dp_size  # the ranks of one SP group share their prompts
        items = []
        for index in range(self.dp_rank * per_rank, (self.dp_rank + 1) * per_rank):
            record = self._record_at(self.state.cursor + index)
            key = str(self.videos_dir / record.videos)
            video = self._video(key)
            prompt = build_question_prompt(
                self.tokenizer, record.problem, video, max_prompt_tokens=self.cfg.model.max_prompt_tokens
            )
            items.append(PromptItem(index, record, key, video, prompt))
        return items

    def _seed(self, index: int) -> int:
        return ((self.cfg.seed * 1_000_003 + self.state.step) * 100_003 + index) % 2**31

    # ---------------------------------------------------------------------------------------------- passes
    @contextlib.contextmanager
    def _reference(self) -> Iterator[nn.Module]:
        if self.reference is not None:
            yield self.reference
        else:
            with self.model.disable_adapter():  # type: ignore[operator]
                yield self.model

    def _logprobs(self, model: nn.Module, mb: MicroBatch, videos: StepVideos, role: str) -> torch.Tensor:
        """The one log-prob call site (old, reference and update passes); sequence-parallel when sp_size > 1."""
        if self.sp.size > 1:
            inputs = videos.inputs(role, mb.video_keys)
            embeds = inputs.get("video_embeds")
            if embeds is None:  # baseline: this pass re-encodes each completion's video, frame-sharded
                embeds = [self._encoder(model, videos.videos[key]) for key in mb.video_keys]
            return sp_compute_logprobs(
                base_model(model),  # type: ignore[arg-type]
                mb.batch,
                mb.response_ids,
                mb.response_mask,
                video_embeds=embeds,
                sp_group=self.sp,
                temperature=self.cfg.temperature,
                layout=self.cfg.mrsp.sp_layout,
            )
        return compute_logprobs(
            model,  # type: ignore[arg-type]
            mb.batch,
            mb.response_ids,
            mb.response_mask,
            temperature=self.cfg.temperature,
            **videos.inputs(role, mb.video_keys),
        )

    @torch.no_grad()
    def _pass(
        self,
        model: nn.Module,
        items: list[PromptItem],
        comps: Completions,
        videos: StepVideos,
        role: str,
        plan: list[list[list[int]]],
    ) -> torch.Tensor:
        out = torch.zeros(comps.response_ids.shape, dtype=torch.float32)  # [N, R]
        for rows in (rows for minibatch in plan for rows in minibatch):
            mb = collate_micro_batch(items, comps, rows, self.pad_id)
            out[rows, : mb.width] = self._logprobs(model, mb, videos, role).float().cpu()
        return out

    def _encoder(self, model: nn.Module, video: VideoInputs) -> torch.Tensor:
        """Frame-sharded encode of one video over the SP group (counted as one video)."""
        device = str(next(model.parameters()).device)
        with self.counter.one_video():
            return sp_encode_video(
                model,  # type: ignore[arg-type]
                video,
                self.sp,
                encode_chunk_frames=self.cfg.mrsp.encode_chunk_frames,
                storage_device=device,
            )

    def _all_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum over the data-parallel group (the ranks of one SP group hold the same samples)."""
        if self.dp_size > 1:
            dist.all_reduce(values, group=self.dp_group)
        return values

    def _gather(self, obj: Any) -> list[Any]:
        """Every SP group's ``obj`` (from the group's first rank), in data-parallel order."""
        if self.world_size == 1:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out[:: self.sp.size]

    def _generate(self, requests: list[RolloutRequest], sampling: SamplingSettings) -> list[Any]:
        """Rollout groups in request order; under SP each rank of the group samples every k-th prompt."""
        k = self.sp.size
        if k == 1:
            return self.engine.generate(requests, sampling)
        mine = self.engine.generate(requests[self.sp.rank :: k], sampling)
        parts: list[Any] = [None] * k
        dist.all_gather_object(parts, mine, group=self.sp.group)
        return [parts[i % k][i // k] for i in range(len(requests))]

    def _update(
        self,
        items: list[PromptItem],
        comps: Completions,
        videos: StepVideos,
        plan: list[list[list[int]]],
        old: torch.Tensor | None,
        ref: torch.Tensor | None,
        adv: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[dict[str, float], torch.Tensor]:
        """Optimizer steps over ``plan``; returns the loss statistics and the old log-probs used.

        ``old=None`` (one mini-batch only): each micro-batch's own detached log-probs are the old ones.
        """
        g = self.cfg.grpo
        used_old = torch.zeros(comps.response_ids.shape, dtype=torch.float32) if old is None else old
        per_token = g.loss_aggregation == "token_mean"
        sums: dict[str, float] = defaultdict(float)
        for minibatch in plan:
            rows_all = [r for rows in minibatch for r in rows]
            units = float(
                self._all_sum(
                    torch.tensor([mask[rows_all].sum().item() if per_token else len(rows_all)], dtype=torch.float64)
                ).item()
            )
            self.optimizer.zero_grad(set_to_none=True)
            for rows in minibatch:
                mb = collate_micro_batch(items, comps, rows, self.pad_id)
                logp = self._logprobs(self.model, mb, videos, "update")  # [m, w] with grad
                w, m = mb.width, mask[rows, : mb.width].to(logp)
                if old is None:
                    used_old[rows, :w] = logp.detach().float().cpu()
                loss, stats = grpo_loss(
                    logp,
                    used_old[rows, :w].to(logp),
                    adv[rows].to(logp),
                    m,
                    ref[rows, :w].to(logp) if ref is not None else None,
                    clip_low=g.clip_low,
                    clip_high=g.clip_high,
                    dual_clip=g.dual_clip,
                    aggregation=g.loss_aggregation,
                    kl_estimator=g.kl_estimator,
                    kl_coef=g.kl_coef,
                    max_len=g.max_response_tokens,
                )
                weight = (float(m.sum()) if per_token else len(rows)) / max(units, 1.0)
                (loss * weight).backward()
                for key, value in stats.items():
                    sums[key] += value * weight / len(plan)
            for p in self.params:  # sum the ranks' weighted gradients: together they are the global mean
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            sync_sp_gradients(self.params, self.sp)  # each rank holds its sequence shard's share: sum over SP
            for p in self.params:
                self._all_sum(p.grad)  # type: ignore[arg-type]
            max_norm = self.cfg.optim.max_grad_norm or float("inf")
            sums["optim/grad_norm"] += float(torch.nn.utils.clip_grad_norm_(self.params, max_norm)) / len(plan)
            self.optimizer.step()
        keys = sorted(k for k in sums if k != "optim/grad_norm")
        reduced = self._all_sum(torch.tensor([sums[k] for k in keys], dtype=torch.float64))
        stats = {**dict(zip(keys, reduced.tolist(), strict=True)), "optim/grad_norm": sums["optim/grad_norm"]}
        return stats, used_old

    # ---------------------------------------------------------------------------------------------- step
    def step(self) -> dict[str, float]:
        """Run one GRPO step on every rank; returns the global metrics (identical on all ranks)."""
        cfg, g, timer = self.cfg, self.cfg.grpo, _Timer()
        self.counter.reset()
        t0 = time.perf_counter()
        with timer("data"):
            items = self._next_items()
        with timer("encode"):
            distinct = {it.video_key: it.video for it in items}
            prepare = ENCODE_MODES[cfg.mrsp.encode_mode]
            encoder: Encoder | None = self._encoder if self.sp.size > 1 else None
            videos = prepare(
                self.model,
                self.reference,
                distinct,
                vision_trainable=self.vision_trainable,
                store=self.store,
                model_tag=self.model_tag,
                encoder=encoder,
            )
        with timer("rollout"):
            self.engine.wake()
            self.engine.sync_weights(self.model)
            requests = [
                RolloutRequest(it.prompt, self._seed(it.index), **self._rollout_video(videos, it)) for it in items
            ]
            sampling = SamplingSettings(g.num_generations, g.max_response_tokens, cfg.temperature, cfg.top_p)
            comps = flatten_groups(self._generate(requests, sampling), self.pad_id)
            self.engine.sleep()
        with timer("reward"):
            texts = self.tokenizer.batch_decode(comps.response_ids, skip_special_tokens=True)
            recs = [items[p].record for p in comps.prompt_rows]
            breakdowns = compute_rewards(
                g.reward,
                texts,
                reward_kwargs=g.reward_kwargs,
                answer=[r.answer for r in recs],
                options=[r.options for r in recs],
            )
            rewards = torch.tensor([b.total for b in breakdowns], dtype=torch.float32)
            lengths = comps.lengths
            has_eos = torch.tensor([r == "stop" for r in comps.finish_reasons])
            if g.overlong_penalty:
                rewards = rewards + soft_overlong_penalty(
                    lengths, g.max_response_tokens, g.overlong_buffer_tokens, g.overlong_penalty_factor
                )
            adv, _ = grpo_advantages(rewards, g.num_generations, g.advantage_scale, g.advantage_eps)
            keep = torch.ones(len(texts), dtype=torch.bool)
            if g.mask_overlong:
                keep &= overlong_mask(lengths, has_eos, g.max_response_tokens)
            if g.filter_groups:
                groups_kept = GROUP_FILTERS[g.group_filter](rewards, g.num_generations, g.filter_low, g.filter_high)
                keep &= groups_kept.repeat_interleave(g.num_generations)
            mask = comps.response_mask * keep.unsqueeze(1)  # [N, R]
        plan = plan_micro_batches(items, g.num_generations, cfg.updates_per_batch, cfg.micro_batch_size)
        reuse_old = cfg.updates_per_batch == 1 and not cfg.recompute_old_logprobs
        with timer("old_logprob"):  # reused from the update pass when the policy cannot have moved (None)
            old = None if reuse_old else self._pass(self.model, items, comps, videos, "policy", plan)
        ref = None
        with timer("ref_logprob"):
            if g.uses_reference:
                with self._reference() as reference:
                    ref = self._pass(reference, items, comps, videos, "reference", plan)
        with timer("update"):
            loss_stats, old = self._update(items, comps, videos, plan, old, ref, adv, mask)
        timer.seconds["step"] = time.perf_counter() - t0
        metrics = self._metrics(items, comps, breakdowns, rewards, old, loss_stats, timer.seconds, videos)
        self._log_rollouts(items, comps, texts, breakdowns, rewards, adv, keep)
        self.state = TrainerState(self.state.step + 1, self.state.cursor + cfg.prompts_per_step, self.world_size)
        return metrics

    def _rollout_video(self, videos: StepVideos, item: PromptItem) -> dict[str, Any]:
        inputs = videos.inputs("policy", [item.video_key])
        return {"video_embeds": inputs["video_embeds"][0]} if "video_embeds" in inputs else inputs

    def _metrics(
        self,
        items: list[PromptItem],
        comps: Completions,
        breakdowns: list[Any],
        rewards: torch.Tensor,
        old: torch.Tensor,
        loss_stats: dict[str, float],
        seconds: dict[str, float],
        videos: StepVideos,
    ) -> dict[str, float]:
        diff = ((comps.sampling_logprobs - old).abs() * comps.response_mask).sum().item()
        local = {
            "breakdowns": breakdowns,
            "rewards": rewards.tolist(),
            "lengths": comps.lengths.tolist(),
            "truncated": [r == "length" for r in comps.finish_reasons],
            "diff": diff,
            "tokens": int(comps.response_mask.sum()),
            "videos": sorted({it.video_key for it in items}),
            "encoder_calls": self.counter.videos,
            "encoder_s": self.counter.seconds,
            "cache_hits": videos.cache_hits,
            "seconds": seconds,
        }
        parts = self._gather(local)
        merged: dict[str, list[Any]] = {
            k: [x for p in parts for x in p[k]] for k in ("breakdowns", "rewards", "lengths", "truncated")
        }
        groups = torch.tensor(merged["rewards"]).view(-1, self.cfg.grpo.num_generations)
        lengths = torch.tensor(merged["lengths"], dtype=torch.float32)
        metrics = {
            **summarize_rewards(merged["breakdowns"]),
            "reward/total": float(groups.mean()),  # after shaping, as trained on
            "reward/std": float(groups.std(dim=1).mean()),
            "reward/frac_zero_std": float((groups.max(1).values == groups.min(1).values).float().mean()),
            **loss_stats,
            "optim/lr": self.optimizer.param_groups[0]["lr"],
            "rollout/response_len": float(lengths.mean()),
            "rollout/response_len_max": float(lengths.max()),
            "rollout/truncated_frac": sum(merged["truncated"]) / len(merged["truncated"]),
            "rollout/logprob_diff": sum(p["diff"] for p in parts) / max(1, sum(p["tokens"] for p in parts)),
            "mrsp/encoder_calls": float(sum(p["encoder_calls"] for p in parts)),
            "mrsp/cache_hits": float(sum(p["cache_hits"] for p in parts)),
            "mrsp/distinct_videos": float(len({v for p in parts for v in p["videos"]})),
            "mrsp/update_reencodes": float(self.vision_trainable or self.cfg.mrsp.encode_mode == "baseline"),
        }
        for phase in ("data", "encode", "rollout", "reward", "old_logprob", "ref_logprob", "update", "step"):
            metrics[f"perf/{phase}_s"] = max(p["seconds"].get(phase, 0.0) for p in parts)
        metrics["perf/vision_tower_s"] = max(p["encoder_s"] for p in parts)  # inside every pass, not only encode
        metrics["perf/samples_per_s"] = len(merged["rewards"]) / max(metrics["perf/step_s"], 1e-9)
        return metrics

    def _log_rollouts(
        self,
        items: list[PromptItem],
        comps: Completions,
        texts: list[str],
        breakdowns: list[Any],
        rewards: torch.Tensor,
        adv: torch.Tensor,
        keep: torch.Tensor,
    ) -> None:
        if not self.cfg.log_rollouts or self.run is None:
            return
        g = self.cfg.grpo.num_generations
        rows = []
        for i, text in enumerate(texts):
            item, b = items[comps.prompt_rows[i]], breakdowns[i]
            rows.append(
                {
                    "step": self.state.step + 1,
                    "group": item.index,
                    "sample": i % g,
                    "prompt_index": item.index,
                    "problem_id": item.record.problem_id,
                    "video": item.record.videos,
                    "problem_type": item.record.problem_type,
                    "frames": item.video.num_input_frames,
                    "frame_times_s": [round(t, 3) for t in item.video.timestamps_s[: item.video.num_input_frames]],
                    "prompt": item.record.problem,
                    "answer": item.record.answer_letter,
                    "completion": text,
                    "finish_reason": comps.finish_reasons[i],
                    "response_len": int(comps.lengths[i]),
                    "reward": float(rewards[i]),
                    "accuracy": b.accuracy,
                    "format": b.format,
                    "parse_ok": b.parse_ok,
                    "advantage": float(adv[i]),
                    "in_loss": bool(keep[i]),
                }
            )
        gathered = [r for part in self._gather(rows) for r in part]
        if self.rank == 0:
            append_rollouts(self.run.path("rollouts.jsonl"), gathered)

    # ---------------------------------------------------------------------------------------------- loop
    def save(self) -> Path | None:
        """Checkpoint into ``<run_dir>/checkpoints/step_<N>`` (all ranks call it)."""
        if self.run is None:
            return None
        folder = self.run.dir / "checkpoints" / f"step_{self.state.step}"
        save_checkpoint(
            folder,
            model=self.model,
            optimizer=self.optimizer,
            state=self.state,
            rank=self.rank,
            config_yaml=dump_config(self.cfg),
        )
        if self.world_size > 1:
            dist.barrier()
        return folder

    def resume(self, folder: str | Path | None = None) -> bool:
        """Load ``folder`` (default: the run's latest checkpoint); returns whether one was loaded."""
        folder = folder or (latest_checkpoint(self.run.dir) if self.run is not None else None)
        if folder is None:
            return False
        self.state = load_checkpoint(
            folder, model=self.model, optimizer=self.optimizer, rank=self.rank, world_size=self.world_size
        )
        return True

    def _fingerprint(self) -> tuple[float, float]:
        with torch.no_grad():
            return (
                sum(float(p.double().sum()) for p in self.params),
                sum(float(p.double().square().sum()) for p in self.params),
            )

    def train(self) -> dict[str, Any]:
        """Resume if the run has a checkpoint, run to ``steps``, checkpoint, export; returns the summary."""
        self.resume()
        start = self._fingerprint()
        while self.state.step < self.cfg.steps:
            metrics = self.step()
            if self.run is not None and self.rank == 0:
                self.run.log(self.state.step, **metrics)
            log.info(
                "step %d: reward %.3f, loss %.4f, %.2f s",
                self.state.step,
                metrics["reward/total"],
                metrics["loss/total"],
                metrics["perf/step_s"],
            )
            save_every = self.cfg.save_steps
            if (save_every and self.state.step % save_every == 0) or self.state.step == self.cfg.steps:
                self.save()
        if self.run is not None and self.rank == 0:
            from lvr1kit.sft.trainer import merge_lora

            export = self.run.dir / "checkpoint"
            merge_lora(self.model).save_pretrained(export)  # LoRA folded in; without LoRA the policy as it is
            self.tokenizer.save_pretrained(export)
        history = read_metrics(self.run.dir) if self.run is not None else []
        summary = summarize_history(history, changed=self._fingerprint() != start, steps=self.state.step)
        return summary | {"world_size": self.world_size, "sp_size": self.sp.size}


def summarize_history(history: list[dict[str, Any]], *, changed: bool, steps: int) -> dict[str, Any]:
    """The rl stage's ``summary.json`` values from its metrics records."""

    def mean(key: str) -> float | None:
        values = [float(h[key]) for h in history if key in h]
        return sum(values) / len(values) if values else None

    return {
        "steps": steps,
        "reward_mean_first": history[0]["reward/total"] if history else None,
        "reward_mean_last": history[-1]["reward/total"] if history else None,
        "accuracy_mean_last": history[-1].get("reward/accuracy") if history else None,
        "frac_zero_std_mean": mean("reward/frac_zero_std"),
        "params_changed": changed,
        "encoder_calls_per_step": mean("mrsp/encoder_calls"),
        "distinct_videos_per_step": mean("mrsp/distinct_videos"),
        "step_s_mean": mean("perf/step_s"),
    }
