"""Ulysses sequence-parallel attention, registered with transformers' attention interface as ``"ulysses"``.

Contents:
    - ``ATTN_NAME``: the registered name (``"ulysses"``).
    - ``register_ulysses``: register the attention function (and, for calls outside sequence parallelism, the SDPA
      mask builder) under ``"ulysses"``; idempotent, called by ``load_model_for_sp`` / ``enable_ulysses``.
    - ``ulysses_attention``: the attention function. With an ``sp_group`` keyword (passed by
      :func:`lvr1kit.mrsp.sp.sp_compute_logprobs` through the model's ``**kwargs``) it runs sequence-parallel:
      q/k/v ``[B, H, S/k, D]`` -> all-to-all -> ``[B, H/k, S, D]`` -> per row, causal SDPA over the real slots of
      the global key padding mask (pad slots compacted away; a row without padding runs in place) with grouped
      K/V heads (``enable_gqa``, no repeated copies) -> all-to-all back -> ``[B, S/k, H, D]``.
      Without it, it is plain transformers SDPA, so the same loaded
      model still serves ``generate`` and single-process ``compute_logprobs``.
    - ``check_heads``: the heads-divisibility rule, with a message naming the key and the valid sizes.

Under sequence parallelism the mask handed to the layers is the **global key mask** ``[B, 1, 1, S]`` (bool, True =
real token) in slot order; transformers returns a 4-D mask as-is, so it reaches this function untouched (a plain
2-D mask would be dropped for a custom attention name). Causality is over slot order, which preserves the token
order of every row (see :mod:`lvr1kit.mrsp.slicing`). Each row is compacted to its real slots and runs
``is_causal`` SDPA on them, so no ``[S, S]`` mask exists and the flash kernels (O(S) memory, CPU too) apply; pad
slots get zero outputs (never read by a real token, so no NaN can leak).

Deviations from the paper:
1. Per-row compaction + causal SDPA (flash kernels chosen by torch) replaces flash-attention varlen; rows of a
   micro-batch run one after another. (Until 2026-11-25 an explicit ``[S, S]`` boolean mask was used: its per-layer
   S² copies made 2-rank prefill memory exceed 1-rank memory at 2048 frames.)
2. When ``num_key_value_heads`` does not divide by the SP size, K/V are repeated up to all query heads before the
   all-to-all (the paper replicates only as far as needed).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lvr1kit.mrsp.dist import SPGroup, all_to_all

__all__ = ["ATTN_NAME", "check_heads", "register_ulysses", "ulysses_attention", "valid_sp_sizes"]

ATTN_NAME = "ulysses"


def valid_sp_sizes(num_heads: int) -> list[int]:
    """SP sizes that divide ``num_heads`` (the Ulysses requirement)."""
    return [k for k in range(1, num_heads + 1) if num_heads % k == 0]


def check_heads(num_heads: int, sp_size: int) -> str | None:
    """A complaint when ``sp_size`` does not divide the query heads, else ``None``.

    >>> check_heads(4, 2) is None
    True
    >>> check_heads(4, 3)
    'mrsp.sp_size=3 must divide the text model heads (text_config.num_attention_heads=4); pick one of 1, 2, 4'
    """
    if num_heads % sp_size == 0:
        return None
    sizes = ", ".join(str(k) for k in valid_sp_sizes(num_heads))
    return (
        f"mrsp.sp_size={sp_size} must divide the text model heads (text_config.num_attention_heads={num_heads}); "
        f"pick one of {sizes}"
    )


def _repeat_heads(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``[B, Hkv, S, D]`` -> ``[B, Hkv * n_rep, S, D]``, each KV head repeated for its query-head group."""
    return x if n_rep == 1 else x.repeat_interleave(n_rep, dim=1)


def _sp_attention(
    query: torch.Tensor,  # [B, H, S/k, D]
    key: torch.Tensor,  # [B, Hkv, S/k, D]
    value: torch.Tensor,  # [B, Hkv, S/k, D]
    key_mask: torch.Tensor,  # [B, 1, 1, S] bool
    scaling: float | None,
    dropout: float,
    sp: SPGroup,
) -> torch.Tensor:
    num_heads, num_kv = query.shape[1], key.shape[1]
    problem = check_heads(num_heads, sp.size)
    if problem:
        raise ValueError(problem)
    if num_kv % sp.size:  # too few KV heads to shard: replicate them to one per query head
        key, value = _repeat_heads(key, num_heads // num_kv), _repeat_heads(value, num_heads // num_kv)
    q = all_to_all(query, 1, 2, sp)  # [B, H/k, S, D]
    k = all_to_all(key, 1, 2, sp)  # [B, Hkv'/k, S, D]
    v = all_to_all(value, 1, 2, sp)
    gqa = q.shape[1] != k.shape[1]  # [B, Hkv'/k, S, D] K/V serve their query-head group (no repeated copies)
    seq = q.shape[2]
    if key_mask.shape[-1] != seq:
        raise ValueError(
            f"ulysses: global key mask covers {key_mask.shape[-1]} positions but the gathered sequence has {seq}; "
            "pass the mask of the whole (all ranks) sequence"
        )
    # Compact each row to its real (unmasked) slots and run causal SDPA on them: no [S, S] mask is built, so the
    # flash kernels (O(S) memory, also on CPU) apply. Pad slots attend to nothing and get zeros (never read).
    valid = key_mask.to(q.device, torch.bool).reshape(q.shape[0], seq)  # [B, S]
    rows = []
    for b in range(q.shape[0]):
        row = slice(b, b + 1)
        if bool(valid[b].all()):  # no padding slots: attend in place, no compacted copies
            rows.append(
                F.scaled_dot_product_attention(
                    q[row], k[row], v[row], dropout_p=dropout, is_causal=True, scale=scaling, enable_gqa=gqa
                )
            )
            continue
        idx = valid[b].nonzero().squeeze(1)  # [n_b] slot order = sequence order
        o = F.scaled_dot_product_attention(
            q[row, :, idx],
            k[row, :, idx],
            v[row, :, idx],
            dropout_p=dropout,
            is_causal=True,
            scale=scaling,
            enable_gqa=gqa,
        )  # [1, H/k, n_b, D]
        rows.append(q.new_zeros(1, *q.shape[1:]).index_copy(2, idx, o))
    out = rows[0] if len(rows) == 1 else torch.cat(rows)  # [B, H/k, S, D]
    return all_to_all(out, 2, 1, sp)  # [B, H, S/k, D]


def ulysses_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    sp_group: SPGroup | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention function for ``AttentionInterface``: Ulysses when ``sp_group`` is given, SDPA otherwise.

    Args:
        module: The calling attention layer.
        query: ``[B, H, S_local, D]`` (this rank's sequence shard).
        key: ``[B, Hkv, S_local, D]``.
        value: ``[B, Hkv, S_local, D]``.
        attention_mask: Under SP, the global key mask ``[B, 1, 1, S]`` (bool); otherwise transformers' SDPA mask.
        dropout: Attention dropout probability.
        scaling: Softmax scale (``head_dim ** -0.5`` when ``None``).
        sp_group: This rank's SP group; ``None`` (or size 1 without a global mask) runs plain SDPA.
        **kwargs: Passed on to transformers' SDPA when not sequence-parallel.

    Returns:
        ``([B, S_local, H, D], None)`` as transformers' attention functions do.
    """
    if sp_group is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if attention_mask is None or attention_mask.ndim != 4 or attention_mask.shape[2] != 1:
        raise ValueError(
            "ulysses attention under sequence parallelism needs the global key mask [B, 1, 1, S] as attention_mask "
            "(sp_compute_logprobs builds it); got "
            f"{None if attention_mask is None else tuple(attention_mask.shape)}"
        )
    out = _sp_attention(query, key, value, attention_mask, scaling, dropout, sp_group)
    return out.transpose(1, 2).contiguous(), None  # [B, S_local, H, D]


def register_ulysses() -> None:
    """Register ``"ulysses"`` with transformers' attention and mask interfaces (SDPA masks outside SP)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTN_NAME, ulysses_attention)
    AttentionMaskInterface.register(ATTN_NAME, sdpa_mask)
