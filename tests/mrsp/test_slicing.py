"""Slice planning on simulated ranks (no processes): split-then-gather gives back the input, layouts hold."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lvr1kit.mrsp.dist import SPGroup
from lvr1kit.mrsp.slicing import (
    LAYOUTS,
    TAG_PAD,
    TAG_TEXT,
    TAG_VIDEO,
    gather_logprobs,
    gather_slices,
    plan_slices,
    slice_position_ids,
    slice_tensor,
    split_counts,
    tag_positions,
)
from lvr1kit.mrsp.ulysses import ulysses_attention


def _batch(rows: list[tuple[int, int, int, int]], response_pads: list[int] | None = None):
    """Left-padded prompt (lead text, video, trailing text) + right-padded response, one tuple per row."""
    lengths = [lead + video + trail + resp for lead, video, trail, resp in rows]
    width = max(lead + video + trail for lead, video, trail, _ in rows)
    num_resp = max(r for *_, r in rows)
    mask, types = [], []
    for lead, video, trail, resp in rows:
        prompt_pad = width - (lead + video + trail)
        mask.append([0] * prompt_pad + [1] * (lead + video + trail) + [1] * resp + [0] * (num_resp - resp))
        types.append([0] * (prompt_pad + lead) + [2] * video + [0] * (trail + num_resp))
    assert len(lengths) == len(rows)
    return torch.tensor(mask), torch.tensor(types, dtype=torch.int32)


# two rows of different lengths; the second's 18 video tokens (3 patches of 6) is not a multiple of 2 x 6 or 4 x 6
ROWS = [(3, 24, 4, 5), (2, 18, 7, 3)]


def test_split_counts_and_tags() -> None:
    assert split_counts(7, 3) == [3, 2, 2] and split_counts(2, 4) == [1, 1, 0, 0]
    mask, types = _batch([(1, 2, 1, 1)])
    assert mask.shape == types.shape
    tags = tag_positions(torch.tensor([[0, 1, 1, 1]]), torch.tensor([[0, 0, 2, 0]]))
    assert tags.tolist() == [[TAG_PAD, TAG_TEXT, TAG_VIDEO, TAG_TEXT]]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("sp_size", [1, 2, 3, 4])
def test_split_then_gather_gives_back_the_input(layout: str, sp_size: int) -> None:
    mask, types = _batch(ROWS)
    plan = plan_slices(mask, types, sp_size, layout=layout, video_units=[6, 6])
    x = torch.randn(*mask.shape, 5)  # [B, S, 5]
    slices = [slice_tensor(x, plan, r) for r in range(sp_size)]
    assert all(s.shape == (2, plan.slot_len, 5) for s in slices)
    back = gather_slices(slices, plan)
    real = mask.bool()
    torch.testing.assert_close(back[real], x[real], rtol=0, atol=0)
    # every real token sits in exactly one slot, and slot order is token order (fillers aside)
    for b in range(mask.shape[0]):
        kept = [p for p in plan.global_index()[b].tolist() if p >= 0]
        assert kept == sorted(kept) and len(set(kept)) == len(kept)
        assert set(torch.nonzero(real[b]).flatten().tolist()) <= set(kept)
    assert int(plan.key_mask(mask).sum()) == int(mask.sum())
    # a single rank's part through the log-prob gather (size-1 group: no collective)
    full = gather_logprobs(slices[0][..., 0], plan, SPGroup(rank=0, size=1))
    assert full.shape == mask.shape


@pytest.mark.parametrize("sp_size", [2, 3, 4])
def test_paper_layout(sp_size: int) -> None:
    mask, types = _batch(ROWS)
    plan = plan_slices(mask, types, sp_size, layout="paper", video_units=[6, 6])
    tags = tag_positions(mask, types)
    for b, (lead, video, _trail, _resp) in enumerate(ROWS):
        owned = [[p for p in plan.index[b, r].tolist() if p >= 0] for r in range(sp_size)]
        assert all(tags[b, p] != TAG_PAD for part in owned for p in part), "padding is dropped"
        first_video = int(torch.nonzero(tags[b] == TAG_VIDEO)[0])
        last_video = int(torch.nonzero(tags[b] == TAG_VIDEO)[-1])
        assert [p for p in owned[0] if tags[b, p] == TAG_TEXT] == list(range(first_video - lead, first_video))
        trailing = [p for p in range(last_video + 1, mask.shape[1]) if tags[b, p] != TAG_PAD]
        assert [p for p in owned[-1] if p > last_video] == trailing
        shares = [sum(int(tags[b, p] == TAG_VIDEO) for p in part) for part in owned]
        assert shares == [6 * n for n in split_counts(video // 6, sp_size)], "whole temporal patches, even shares"
        assert all(tags[b, p] == TAG_VIDEO for part in owned[1:-1] for p in part), "middle ranks hold video only"


def test_even_layout_is_contiguous() -> None:
    mask, types = _batch(ROWS)
    plan = plan_slices(mask, types, 4, layout="even")
    seq = mask.shape[1]
    assert plan.slot_len == -(-seq // 4)
    assert plan.global_index()[0, :seq].tolist() == list(range(seq))


def test_position_ids_slice_and_errors() -> None:
    mask, types = _batch(ROWS)
    plan = plan_slices(mask, types, 2)
    pos = torch.arange(mask.numel()).view(1, *mask.shape).expand(3, -1, -1)  # [3, B, S]
    local = slice_position_ids(pos, plan, 1)
    assert local.shape == (3, 2, plan.slot_len)
    assert torch.equal(local[0], slice_tensor(pos[0], plan, 1))
    with pytest.raises(ValueError, match="not registered"):
        plan_slices(mask, types, 2, layout="zigzag")
    with pytest.raises(ValueError, match="1 slices for a plan over 2 ranks"):
        gather_slices([torch.zeros(2, plan.slot_len)], plan)


def test_global_mask_in_slot_order_equals_causal_padding_attention() -> None:
    """The Ulysses core (size-1 group: no all-to-all) on slot order equals SDPA on token order at real tokens."""
    torch.manual_seed(0)
    mask, types = _batch(ROWS)
    batch, seq, heads, dim = *mask.shape, 4, 8
    q, k, v = (torch.randn(batch, heads, seq, dim) for _ in range(3))
    allowed = torch.tril(torch.ones(seq, seq, dtype=torch.bool)) & mask.bool()[:, None, None, :]
    allowed = allowed | torch.eye(seq, dtype=torch.bool)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed).transpose(1, 2)  # [B, S, H, D]
    plan = plan_slices(mask, types, 3, layout="paper", video_units=[6, 6])
    order = plan.global_index()  # [B, k*L]

    def to_slots(x: torch.Tensor) -> torch.Tensor:
        idx = order.clamp(min=0)[:, None, :, None].expand(-1, x.shape[1], -1, x.shape[3])
        return x.gather(2, idx)  # [B, H, k*L, D]

    key_mask = plan.key_mask(mask)[:, None, None, :]
    out, _ = ulysses_attention(
        torch.nn.Module(), to_slots(q), to_slots(k), to_slots(v), key_mask, sp_group=SPGroup(rank=0, size=1)
    )
    for b in range(batch):
        real_slots = [j for j, p in enumerate(order[b].tolist()) if p >= 0 and mask[b, p]]
        positions = order[b, real_slots]
        torch.testing.assert_close(out[b, real_slots], reference[b, positions], rtol=0, atol=1e-6)
