"""Batches of a GRPO step: prompts (left-padded), responses (right-padded), masks, and how they are cut.

Contents:
    - ``PromptItem``: one question of the step: its record, global index, video key and pixels, tokenised prompt.
    - ``Completions``: every completion of a rank, groups contiguous (row ``i`` belongs to prompt ``i // G``):
      ``response_ids`` / ``response_mask`` / ``sampling_logprobs`` ``[N, R]`` padded right, finish reasons.
    - ``flatten_groups``: rollout groups -> :class:`Completions`.
    - ``MicroBatch`` / ``collate_micro_batch``: rows -> model inputs with responses trimmed to the longest row.
    - ``plan_micro_batches``: mini-batches of whole groups (prompt ``p`` goes to mini-batch ``p % U`` by its global
      index, so the global composition does not depend on the number of ranks), each cut into micro-batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lvr1kit.data.schema import QARecord
from lvr1kit.models import collate_prompts
from lvr1kit.models.preprocess import PromptInputs, VideoInputs
from lvr1kit.rl.rollout import RolloutGroup

__all__ = ["Completions", "MicroBatch", "PromptItem", "collate_micro_batch", "flatten_groups", "plan_micro_batches"]


@dataclass
class PromptItem:
    """One question of the step on this rank."""

    index: int
    """Position of the question in the step's global batch (all ranks)."""
    record: QARecord
    video_key: str
    """Absolute path of the video (the key of its pixels and embeddings)."""
    video: VideoInputs
    prompt: PromptInputs


@dataclass
class Completions:
    """All completions of a rank, G per prompt, groups contiguous."""

    prompt_rows: list[int]
    """Local prompt position of each completion."""
    response_ids: torch.Tensor  # [N, R] long, right-padded with pad_token_id
    response_mask: torch.Tensor  # [N, R] long: 1 on generated tokens (eos included)
    sampling_logprobs: torch.Tensor  # [N, R] float: the engine's log-probs, 0 on padding
    finish_reasons: list[str]

    @property
    def lengths(self) -> torch.Tensor:
        """Response lengths ``[N]`` in tokens."""
        return self.response_mask.sum(dim=1)


def flatten_groups(groups: Sequence[RolloutGroup], pad_token_id: int) -> Completions:
    """Stack the groups' completions into right-padded tensors (at least one column, even if all are empty)."""
    rows, ids, lps, reasons = [], [], [], []
    for p, group in enumerate(groups):
        for seq, lp, reason in zip(group.response_ids, group.sampling_logprobs, group.finish_reasons, strict=True):
            rows.append(p)
            ids.append(seq)
            lps.append(lp)
            reasons.append(reason)
    width = max(1, max((len(s) for s in ids), default=1))
    response_ids = torch.full((len(ids), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    sampling = torch.zeros((len(ids), width), dtype=torch.float32)
    for i, (seq, lp) in enumerate(zip(ids, lps, strict=True)):
        response_ids[i, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[i, : len(seq)] = 1
        sampling[i, : len(lp)] = torch.tensor(lp, dtype=torch.float32)
    return Completions(rows, response_ids, mask, sampling, reasons)


@dataclass
class MicroBatch:
    """Model inputs of some completion rows; ``width`` is the longest response among them."""

    rows: list[int]
    batch: dict[str, torch.Tensor]
    response_ids: torch.Tensor  # [m, width]
    response_mask: torch.Tensor  # [m, width]
    video_keys: list[str]

    @property
    def width(self) -> int:
        return int(self.response_ids.shape[1])


def collate_micro_batch(
    items: Sequence[PromptItem], completions: Completions, rows: Sequence[int], pad_token_id: int
) -> MicroBatch:
    """Left-padded prompts + right-padded responses (trimmed to the longest of ``rows``) for a forward pass."""
    rows = list(rows)
    prompts = [items[completions.prompt_rows[r]] for r in rows]
    mask = completions.response_mask[rows]
    width = max(1, int(mask.sum(dim=1).max()))
    return MicroBatch(
        rows=rows,
        batch=collate_prompts([p.prompt for p in prompts], pad_token_id),
        response_ids=completions.response_ids[rows, :width],
        response_mask=mask[:, :width],
        video_keys=[p.video_key for p in prompts],
    )


def plan_micro_batches(
    items: Sequence[PromptItem], group_size: int, updates_per_batch: int, micro_batch_size: int
) -> list[list[list[int]]]:
    """Completion rows per mini-batch per micro-batch: ``plan[u][k]`` is micro-batch ``k`` of mini-batch ``u``.

    Raises:
        ValueError: a mini-batch's completions on this rank do not split into micro-batches (fix the batch sizes).
    """
    plan = []
    for u in range(updates_per_batch):
        rows = [
            p * group_size + g
            for p, item in enumerate(items)
            if item.index % updates_per_batch == u
            for g in range(group_size)
        ]
        if len(rows) % micro_batch_size:
            raise ValueError(
                f"{len(rows)} completions of mini-batch {u} on this rank do not split into micro_batch_size="
                f"{micro_batch_size}; make prompts_per_step / (world size x updates_per_batch) x G a multiple of it"
            )
        plan.append([rows[i : i + micro_batch_size] for i in range(0, len(rows), micro_batch_size)])
    return plan
