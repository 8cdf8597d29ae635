"""Worker for the 2-process gloo tests: run by ``python -m torch.distributed.run --nproc-per-node 2 <this file>``.

Every rank loads the same tiny model twice (stock SDPA as the single-process reference, and with Ulysses text
attention), then checks on each case: SP log-probs vs single-process log-probs, SP gradients (summed over the
group) vs single-process gradients, and frame-sharded encoding vs single-process encoding. Each rank writes its
measured maxima to ``<out>/rank<r>.json``; the pytest side asserts on them and on both exit codes.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from lvr1kit.models import (
    LoadedModel,
    build_messages,
    build_prompt_inputs,
    build_video_inputs,
    collate_prompts,
    compute_logprobs,
    encode_video,
    format_question,
    load_model,
    video_settings,
)
from lvr1kit.mrsp.dist import destroy_sp, init_sp_group, sync_sp_gradients
from lvr1kit.mrsp.encode import sp_encode_video
from lvr1kit.mrsp.sp import load_model_for_sp, sp_compute_logprobs

logger = logging.getLogger("sp_worker")


def _batch(loaded: LoadedModel, frame_counts: list[int], response_lens: list[int], seed: int):
    """Prompts with videos of ``frame_counts`` frames (left-padded) and random right-padded responses."""
    rng = np.random.default_rng(seed)
    settings = video_settings(loaded.family)
    text = loaded.tokenizer.apply_chat_template(
        build_messages(format_question("Which zone?", ["NW", "NE", "SW", "SE"])),
        tokenize=False,
        add_generation_prompt=True,
    )
    videos, prompts = [], []
    for n in frame_counts:
        frames = rng.integers(0, 256, (n, 56, 56, 3), dtype=np.uint8)
        videos.append(build_video_inputs(frames, [i * 1.5 for i in range(n)], settings))
        prompts.append(build_prompt_inputs(loaded.tokenizer, text, videos[-1], max_prompt_tokens=2048))
    batch = collate_prompts(prompts, loaded.tokenizer.pad_token_id)
    num_response = max(response_lens)
    response_ids = torch.tensor(rng.integers(10, 300, (len(frame_counts), num_response)))
    response_mask = torch.tensor([[1] * n + [0] * (num_response - n) for n in response_lens])
    response_ids = response_ids.masked_fill(response_mask == 0, loaded.tokenizer.pad_token_id)
    return videos, batch, response_ids, response_mask


def _loss(logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = torch.linspace(-1.0, 1.0, logprobs.numel()).view_as(logprobs)  # uneven weights catch misrouted grads
    return (logprobs * weights * mask).sum() / mask.sum()  # global token count


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def run_case(ref: LoadedModel, sp_model: LoadedModel, sp, case: dict) -> dict[str, float]:
    videos, batch, response_ids, response_mask = _batch(ref, case["frames"], case["responses"], case["seed"])
    embeds = [encode_video(ref.model, v) for v in videos]
    sharded = [sp_encode_video(sp_model.model, v, sp, encode_chunk_frames=case["chunk"]) for v in videos]
    encode_diff = max(float((a - b).abs().max()) for a, b in zip(embeds, sharded, strict=True))

    ref.model.zero_grad(set_to_none=True)
    expected = compute_logprobs(ref.model, batch, response_ids, response_mask, video_embeds=embeds)
    _loss(expected, response_mask).backward()
    expected_grads = _grads(ref.model)

    with torch.no_grad():  # the Ulysses-registered model outside SP is plain SDPA
        fallback = compute_logprobs(sp_model.model, batch, response_ids, response_mask, video_embeds=embeds)
    sp_model.model.zero_grad(set_to_none=True)
    got = sp_compute_logprobs(
        sp_model.model, batch, response_ids, response_mask, video_embeds=sharded, sp_group=sp, layout=case["layout"]
    )
    _loss(got, response_mask).backward()
    sync_sp_gradients(sp_model.model.parameters(), sp)
    got_grads = _grads(sp_model.model)
    missing = sorted(set(expected_grads) ^ set(got_grads))
    assert not missing, f"parameters with a gradient on one side only: {missing[:5]}"
    grad_diff = max(float((expected_grads[n] - got_grads[n]).abs().max()) for n in expected_grads)
    grad_scale = max(float(g.abs().max()) for g in expected_grads.values())
    out = {
        "logprob_max_diff": float((expected.detach() - got).detach().abs().max()),
        "fallback_max_diff": float((expected.detach() - fallback).abs().max()),
        "grad_max_diff": grad_diff,
        "grad_max_abs": grad_scale,
        "encode_max_diff": encode_diff,
        "masked_zero": float(got[response_mask == 0].detach().abs().max()) if (response_mask == 0).any() else 0.0,
    }
    if sharded[0].shape[0] > 1:  # negative control: without deepstack features the SP result must differ
        no_deepstack = [torch.cat([e[:1], torch.zeros_like(e[1:])]) for e in sharded]
        with torch.no_grad():
            control = sp_compute_logprobs(
                sp_model.model, batch, response_ids, response_mask, video_embeds=no_deepstack, sp_group=sp
            )
        out["no_deepstack_diff"] = float((expected.detach() - control).detach().abs().max())
    return out


CASES = [  # 4 and 5 temporal patches: 5 does not split evenly over 2 ranks
    {"name": "paper_left_padded", "frames": [7, 10], "responses": [6, 3], "seed": 1, "layout": "paper", "chunk": 4},
    {"name": "even_left_padded", "frames": [10, 4], "responses": [2, 5], "seed": 2, "layout": "even", "chunk": 64},
    {"name": "paper_single_odd", "frames": [10], "responses": [4], "seed": 3, "layout": "paper", "chunk": 2},
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--model", action="append", required=True, help="tiny model folder, optionally FOLDER::case,case (repeatable)"
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sp = init_sp_group()
    results: dict[str, dict[str, float]] = {}
    for spec in args.model:
        path, _, names = spec.partition("::")
        ref = load_model(path)
        sp_model = load_model_for_sp(path, sp_size=sp.size)
        for case in CASES:
            if not names or case["name"] in names.split(","):
                results[f"{Path(path).name}/{case['name']}"] = run_case(ref, sp_model, sp, case)
    Path(args.out, f"rank{sp.rank}.json").write_text(json.dumps(results, indent=1))
    destroy_sp()


if __name__ == "__main__":
    main()
