"""Process-group helpers and the autograd collectives that sequence parallelism (MR-SP Stage 2) needs.

Contents:
    - ``SPGroup``: this process's rank and size inside its sequence-parallel group, and the group handle.
    - ``init_sp_group``: initialise ``torch.distributed`` from the torchrun environment (gloo on CPU, nccl on CUDA)
      and return the SP group (the whole world, or consecutive blocks of ``sp_size`` ranks).
    - ``destroy_sp``: tear the default process group down (call once at exit; tests check the exit code).
    - ``all_to_all``: autograd all-to-all that swaps a scattered dimension for a gathered one (sequence shards <->
      head shards for Ulysses attention); its backward is the reverse all-to-all.
    - ``all_gather_sum``: autograd all-gather + sum of per-rank partial tensors (disjoint log-prob pieces); the
      backward hands each rank the gradient of its own piece, which is right when every rank computes the same loss
      from the gathered result.
    - ``sync_sp_gradients``: all-reduce (sum) parameter gradients over the SP group, after which they equal the
      single-process gradients.

The collectives are small hand-written ``torch.autograd.Function`` s over ``dist.all_to_all`` / ``dist.all_gather``:
the wrappers in ``torch.distributed.nn`` made process teardown abort on this stack (ARCHITECTURE.md, known facts).

Deviations from the paper:
1. The paper's code uses DeepSpeed's ``DistributedAttention``; this module is a dependency-free equivalent that also
   runs on gloo (CPU), so the whole of Stage 2 is checkable without a GPU.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)

__all__ = ["SPGroup", "all_gather_sum", "all_to_all", "destroy_sp", "init_sp_group", "sync_sp_gradients"]


@dataclass(frozen=True)
class SPGroup:
    """This process's place in its sequence-parallel group."""

    rank: int
    """Rank inside the SP group (0 holds the leading text, ``size - 1`` the trailing text and response)."""
    size: int
    """Ranks in the SP group (``mrsp.sp_size``)."""
    group: Any = None
    """``torch.distributed`` process group; ``None`` means the default (world) group."""

    @property
    def is_first(self) -> bool:
        return self.rank == 0

    @property
    def is_last(self) -> bool:
        return self.rank == self.size - 1


def init_sp_group(sp_size: int | None = None, *, backend: str | None = None) -> SPGroup:
    """Initialise ``torch.distributed`` from torchrun's environment and return this rank's SP group.

    Args:
        sp_size: Ranks per SP group (``mrsp.sp_size``); ``None`` uses the whole world. The world is cut into
            consecutive blocks: ranks ``[0, sp_size)`` form group 0, and so on (data parallel across blocks).
        backend: ``gloo`` or ``nccl``; ``None`` picks nccl when CUDA is available, else gloo.

    Raises:
        RuntimeError: Not launched by torchrun (``RANK``/``WORLD_SIZE`` missing).
        ValueError: ``sp_size`` does not divide the world size.
    """
    if not dist.is_initialized():
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            raise RuntimeError(
                "torch.distributed is not initialised and RANK/WORLD_SIZE are unset; launch with "
                "`python -m torch.distributed.run --nproc-per-node N ...` (or set mrsp.sp_size=1)"
            )
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    world, rank = dist.get_world_size(), dist.get_rank()
    sp_size = sp_size or world
    if world % sp_size:
        raise ValueError(f"mrsp.sp_size={sp_size} must divide the world size {world}; launch a multiple of it")
    if sp_size == world:
        group = None
    else:  # every rank must create every group, in the same order
        group = None
        for start in range(0, world, sp_size):
            ranks = list(range(start, start + sp_size))
            new = dist.new_group(ranks)
            if rank in ranks:
                group = new
    logger.info("rank %d/%d joined an SP group of %d", rank, world, sp_size)
    return SPGroup(rank=rank % sp_size, size=sp_size, group=group)


def destroy_sp() -> None:
    """Destroy the default process group if one exists (after a barrier, so no rank leaves early)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def _all_to_all(x: torch.Tensor, scatter_dim: int, gather_dim: int, sp: SPGroup) -> torch.Tensor:
    inputs = [t.contiguous() for t in torch.tensor_split(x, sp.size, dim=scatter_dim)]
    outputs = [torch.empty_like(inputs[0]) for _ in range(sp.size)]
    dist.all_to_all(outputs, inputs, group=sp.group)
    return torch.cat(outputs, dim=gather_dim)


class _AllToAll(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scatter_dim: int, gather_dim: int, sp: SPGroup) -> torch.Tensor:
        ctx.dims, ctx.sp = (scatter_dim, gather_dim), sp
        return _all_to_all(x, scatter_dim, gather_dim, sp)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        scatter_dim, gather_dim = ctx.dims
        return _all_to_all(grad, gather_dim, scatter_dim, ctx.sp), None, None, None


def all_to_all(x: torch.Tensor, scatter_dim: int, gather_dim: int, sp: SPGroup) -> torch.Tensor:
    """Split ``x`` in ``sp.size`` equal parts along ``scatter_dim``, send part j to rank j, concatenate the received
    parts along ``gather_dim`` (in rank order). Differentiable.

    Example (Ulysses): ``[B, H, S/k, D]`` with ``scatter_dim=1, gather_dim=2`` gives ``[B, H/k, S, D]``.
    """
    if sp.size == 1:
        return x
    assert x.shape[scatter_dim] % sp.size == 0, (tuple(x.shape), scatter_dim, sp.size)
    return _AllToAll.apply(x, scatter_dim, gather_dim, sp)  # type: ignore[no-any-return]


class _AllGatherSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, sp: SPGroup) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(sp.size)]
        dist.all_gather(parts, x.contiguous(), group=sp.group)
        return torch.stack(parts).sum(0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def all_gather_sum(x: torch.Tensor, sp: SPGroup) -> torch.Tensor:
    """Sum of every rank's ``x`` (each rank fills a disjoint part, zeros elsewhere). Differentiable.

    The backward returns the incoming gradient unchanged: every rank computes the same loss from the gathered
    tensor, so each rank's piece gets the gradient of one copy of that loss (not ``sp.size`` copies), and summing
    parameter gradients over the group (``sync_sp_gradients``) gives the single-process gradient.
    """
    if sp.size == 1:
        return x
    return _AllGatherSum.apply(x, sp)  # type: ignore[no-any-return]


def sync_sp_gradients(parameters: Iterable[torch.nn.Parameter], sp: SPGroup) -> None:
    """All-reduce (sum) the ``.grad`` of ``parameters`` over the SP group, in place, in one flat collective.

    Each rank holds the gradient contribution of its own sequence shard; the sum is the full gradient. A parameter
    with a gradient on any rank gets one on every rank (zeros where it had none), so no rank waits on another.
    When the trainer also averages over data-parallel replicas, do that over the DP group only (never divide by
    ``sp.size``).
    """
    if sp.size == 1:
        return
    params = [p for p in parameters if p.requires_grad]
    if not params:
        return
    has_grad = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=params[0].device)
    dist.all_reduce(has_grad, op=dist.ReduceOp.MAX, group=sp.group)
    used = [p for p, flag in zip(params, has_grad.tolist(), strict=True) if flag]
    for p in used:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    if not used:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in used])  # type: ignore[union-attr]
    dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=sp.group)
    offset = 0
    for p in used:
        n = p.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p))  # type: ignore[union-attr]
        offset += n
