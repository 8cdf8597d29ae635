"""How a batch of prompt + response sequences is cut into sequence-parallel slices, and put back together.

Contents:
    - ``TAG_PAD`` / ``TAG_TEXT`` / ``TAG_VIDEO`` and ``tag_positions``: every position tagged pad / text / video.
    - ``split_counts``: ``n`` units over ``k`` ranks as evenly as possible (first ranks take the remainder); shared
      with frame-sharded encoding so a rank's video slots and its encoded frames are the same temporal patches.
    - ``SlicePlan``: for every row and rank, which source positions fill the rank's ``L`` slots (``-1`` = filler).
    - ``LAYOUTS`` / ``plan_slices``: the registered layouts (pure functions of the masks, no model, no processes):
        * ``paper``: the paper's layout. Padding is dropped; the video tokens are divided equally among the ranks
          (in whole temporal patches when ``video_units`` is given); rank 0 also holds the leading text, the last
          rank the trailing text and the response; every slice is filled to one length ``L``.
        * ``even``: the full (left-padded) sequence cut into ``k`` contiguous chunks of ``ceil(S / k)``.
    - ``slice_tensor`` / ``slice_position_ids``: one rank's ``[B, L, ...]`` / ``[3, B, L]`` view of a full tensor.
    - ``scatter_to_full`` / ``gather_slices``: undo the slicing (one rank's part, or all simulated ranks).
    - ``gather_logprobs``: per-slot values of this rank -> the full ``[B, S]`` on every rank (autograd all-gather).

Slot order is token order: concatenating the ranks' slices (fillers aside) lists every row's kept tokens in their
original order, so a causal mask over slot order is the causal mask of the sequence, and the global key mask
(``SlicePlan.key_mask``) masks fillers and padding. Position ids are always computed on the full sequence first.

Deviations from the paper:
1. The paper needs every row's video to start at one shared position and ``video_tokens % SP == 0``; here each row
   has its own plan (rows may differ in text and video length) and uneven video shares are filled with fillers.
2. The paper pads every slice to ``max(text_len, response_len) + video_len / SP``; here ``L`` is the longest slice
   actually needed (never longer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from lvr1kit.mrsp.dist import SPGroup, all_gather_sum

__all__ = [
    "LAYOUTS",
    "TAG_PAD",
    "TAG_TEXT",
    "TAG_VIDEO",
    "SlicePlan",
    "gather_logprobs",
    "gather_slices",
    "plan_slices",
    "scatter_to_full",
    "slice_position_ids",
    "slice_tensor",
    "split_counts",
    "tag_positions",
]

TAG_PAD, TAG_TEXT, TAG_VIDEO = -1, 0, 2


def split_counts(n: int, k: int) -> list[int]:
    """``n`` units over ``k`` ranks, as evenly as possible; the first ``n % k`` ranks take one more.

    >>> split_counts(5, 2)
    [3, 2]
    """
    return [n // k + (1 if r < n % k else 0) for r in range(k)]


def tag_positions(attention_mask: torch.Tensor, mm_token_type_ids: torch.Tensor) -> torch.Tensor:
    """Tag every position ``[B, S]``: ``TAG_PAD`` (mask 0), ``TAG_VIDEO`` (token type 2) or ``TAG_TEXT``."""
    tags = torch.where(mm_token_type_ids.to(torch.long) == TAG_VIDEO, TAG_VIDEO, TAG_TEXT)
    return torch.where(attention_mask.bool(), tags, TAG_PAD)  # [B, S]


@dataclass(frozen=True)
class SlicePlan:
    """Which source position fills each slot of each rank."""

    index: torch.Tensor  # [B, k, L] long: source position in the full sequence, -1 = filler
    layout: str
    seq_len: int
    """``S``, the length of the full (unsliced) sequence."""

    @property
    def sp_size(self) -> int:
        return int(self.index.shape[1])

    @property
    def slot_len(self) -> int:
        """``L``, slots per rank (every rank has the same number)."""
        return int(self.index.shape[2])

    def local_index(self, rank: int) -> torch.Tensor:
        """Source positions of ``rank``'s slots ``[B, L]`` (``-1`` = filler)."""
        return self.index[:, rank]

    def global_index(self) -> torch.Tensor:
        """Source positions of all slots in slot order ``[B, k * L]``."""
        return self.index.reshape(self.index.shape[0], -1)

    def key_mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """Global key mask ``[B, k * L]`` (bool): True where a slot holds a real token of the sequence."""
        src = self.global_index().to(attention_mask.device)
        real = attention_mask.bool().gather(1, src.clamp(min=0))
        return real & (src >= 0)


def _pack(owners: list[list[list[int]]], layout: str, seq_len: int) -> SlicePlan:
    """Per row and rank position lists -> ``SlicePlan`` with every slice filled to the longest (at least 1)."""
    slot_len = max(1, max(len(p) for row in owners for p in row))
    index = torch.full((len(owners), len(owners[0]), slot_len), -1, dtype=torch.long)
    for b, row in enumerate(owners):
        for r, positions in enumerate(row):
            index[b, r, : len(positions)] = torch.tensor(positions, dtype=torch.long)
    return SlicePlan(index=index, layout=layout, seq_len=seq_len)


def _even_layout(tags: torch.Tensor, sp_size: int, video_units: Sequence[int] | None) -> SlicePlan:
    seq_len = tags.shape[1]
    chunk = -(-seq_len // sp_size)
    row = [list(range(r * chunk, min((r + 1) * chunk, seq_len))) for r in range(sp_size)]
    return _pack([row for _ in range(tags.shape[0])], "even", seq_len)


def _paper_row(tags: list[int], sp_size: int, unit: int) -> list[list[int]]:
    real = [p for p, t in enumerate(tags) if t != TAG_PAD]
    video = [p for p in real if tags[p] == TAG_VIDEO]
    out: list[list[int]] = [[] for _ in range(sp_size)]
    if not video:  # a text-only row: contiguous, even shares of its real tokens
        for r, n in enumerate(split_counts(len(real), sp_size)):
            start = sum(split_counts(len(real), sp_size)[:r])
            out[r] = real[start : start + n]
        return out
    unit = unit if unit > 0 and len(video) % unit == 0 else 1
    bounds, total = [], 0  # bounds[r]: video ordinals below it belong to ranks <= r
    for n in split_counts(len(video) // unit, sp_size):
        total += n * unit
        bounds.append(total)
    ordinal = 0  # video tokens seen before position p
    for p in real:
        if p < video[0]:
            rank = 0
        elif p > video[-1]:
            rank = sp_size - 1
        else:  # text inside the video span (Qwen3-VL timestamps) goes with the next video token
            rank = next(r for r, bound in enumerate(bounds) if ordinal < bound)
        out[rank].append(p)
        ordinal += tags[p] == TAG_VIDEO
    return out


def _paper_layout(tags: torch.Tensor, sp_size: int, video_units: Sequence[int] | None) -> SlicePlan:
    units = list(video_units) if video_units is not None else [1] * tags.shape[0]
    if len(units) != tags.shape[0]:
        raise ValueError(f"video_units has {len(units)} entries for a batch of {tags.shape[0]}; pass one per row")
    owners = [_paper_row(row, sp_size, unit) for row, unit in zip(tags.tolist(), units, strict=True)]
    return _pack(owners, "paper", tags.shape[1])


LAYOUTS: dict[str, Callable[[torch.Tensor, int, Sequence[int] | None], SlicePlan]] = {
    "paper": _paper_layout,
    "even": _even_layout,
}


def plan_slices(
    attention_mask: torch.Tensor,
    mm_token_type_ids: torch.Tensor,
    sp_size: int,
    *,
    layout: str = "paper",
    video_units: Sequence[int] | None = None,
) -> SlicePlan:
    """Plan the slices of a batch of full sequences (prompt + response) over ``sp_size`` ranks.

    Args:
        attention_mask: ``[B, S]``, 0 on padding (left-padded prompts, right-padded responses).
        mm_token_type_ids: ``[B, S]``, 2 on video tokens.
        sp_size: Ranks in the SP group.
        layout: A key of ``LAYOUTS`` (``paper`` or ``even``).
        video_units: Per row, video tokens per temporal patch (``grid_h * grid_w / merge**2``): video shares are
            cut at temporal-patch boundaries, matching frame-sharded encoding. ``None`` cuts at any token.

    Raises:
        ValueError: Unknown layout, bad ``sp_size`` or mismatched shapes.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"mrsp layout {layout!r} is not registered; known: {', '.join(sorted(LAYOUTS))}")
    if sp_size < 1:
        raise ValueError(f"mrsp.sp_size={sp_size} must be >= 1")
    if attention_mask.shape != mm_token_type_ids.shape or attention_mask.ndim != 2:
        raise ValueError(
            f"attention_mask {tuple(attention_mask.shape)} and mm_token_type_ids {tuple(mm_token_type_ids.shape)} "
            "must both be [B, S]"
        )
    tags = tag_positions(attention_mask.cpu(), mm_token_type_ids.cpu())
    return LAYOUTS[layout](tags, sp_size, video_units)


def slice_tensor(x: torch.Tensor, plan: SlicePlan, rank: int, *, fill: float | int = 0) -> torch.Tensor:
    """``rank``'s slice ``[B, L, ...]`` of a full tensor ``x`` ``[B, S, ...]``; fillers hold ``fill``."""
    src = plan.local_index(rank).to(x.device)  # [B, L]
    extra = x.shape[2:]
    idx = src.clamp(min=0).view(*src.shape, *([1] * len(extra))).expand(*src.shape, *extra)
    out = x.gather(1, idx)
    is_filler = (src < 0).view(*src.shape, *([1] * len(extra)))
    return torch.where(is_filler, torch.as_tensor(fill, dtype=x.dtype, device=x.device), out)


def slice_position_ids(position_ids: torch.Tensor, plan: SlicePlan, rank: int) -> torch.Tensor:
    """``rank``'s slice ``[3, B, L]`` of M-RoPE position ids ``[3, B, S]`` computed on the full sequence."""
    return slice_tensor(position_ids.permute(1, 2, 0), plan, rank).permute(2, 0, 1)


def scatter_to_full(local: torch.Tensor, plan: SlicePlan, rank: int) -> torch.Tensor:
    """Put ``rank``'s per-slot values ``[B, L, ...]`` back at their source positions: ``[B, S, ...]``, zeros
    elsewhere. Differentiable (an out-of-place ``index_put``)."""
    src = plan.local_index(rank).to(local.device)  # [B, L]
    b_idx, j_idx = (src >= 0).nonzero(as_tuple=True)
    full = local.new_zeros(local.shape[0], plan.seq_len, *local.shape[2:])
    return full.index_put((b_idx, src[b_idx, j_idx]), local[b_idx, j_idx])


def gather_slices(locals_: Sequence[torch.Tensor], plan: SlicePlan) -> torch.Tensor:
    """Reassemble the full ``[B, S, ...]`` from every (simulated) rank's slice; dropped positions are 0."""
    if len(locals_) != plan.sp_size:
        raise ValueError(f"got {len(locals_)} slices for a plan over {plan.sp_size} ranks")
    return torch.stack([scatter_to_full(x, plan, r) for r, x in enumerate(locals_)]).sum(0)


def gather_logprobs(local: torch.Tensor, plan: SlicePlan, sp: SPGroup) -> torch.Tensor:
    """This rank's per-slot log-probs ``[B, L]`` -> the full ``[B, S]`` on every rank (autograd all-gather).

    The backward gives each rank the gradient of its own slots (every rank computes the same loss from the result).
    """
    return all_gather_sum(scatter_to_full(local, plan, sp.rank), sp)
