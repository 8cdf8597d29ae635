"""Our GRPO loss equals TRL's ``GRPOTrainer._compute_loss`` on the same tensors, value and gradients.

A real ``trl.GRPOTrainer`` is built over a tiny 2-layer ``Qwen2ForCausalLM`` (random weights, a word-level tokenizer
made here, both saved to a temporary folder: no hub). Its ``_compute_loss`` is driven with inputs we construct, so
``old_per_token_logps``, ``ref_per_token_logps``, ``advantages`` and the completion mask are tensors we control; the
current log-probs come from the model through TRL's own ``_get_per_token_logps_and_entropies``, and the same
log-probs go into :func:`lvr1kit.rl.grpo_loss`. Both losses are then differentiated w.r.t. every model parameter.

Variant mapping (TRL ``loss_type`` -> our ``aggregation``): ``bnpo`` and ``dapo`` -> ``token_mean``, ``grpo`` ->
``seq_mean_token_mean``, ``dr_grpo`` -> ``seq_mean_token_sum`` with ``max_len = max_completion_length``; TRL's
``delta`` (an upper clamp on the ratio) equals our dual-clip C whenever C > 1 + clip_high; TRL's KL is k3 without
clamping, identical to ours while |Δ| stays small, as here; TRL's default ``use_bias_correction_kl=True`` (KL times
the importance ratio) is not in the paper or in our loss, so it is turned off for the comparison. The model runs in
eval mode so TRL applies no gradient-accumulation normaliser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

trl = pytest.importorskip("trl")

from lvr1kit.rl import grpo_loss  # noqa: E402

VOCAB = 66
MAX_COMPLETION = 6


def _build_tiny(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    vocab = {f"t{i}": i for i in range(64)} | {"<pad>": 64, "<eos>": 65}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>")
    config = Qwen2Config(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=64,
        eos_token_id=65,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_qwen2")
    _build_tiny(folder)
    return folder


def _trainer(folder: Path, out: Path, loss_type: str, beta: float, delta: float | None) -> Any:
    from datasets import Dataset

    args = trl.GRPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=MAX_COMPLETION,
        beta=beta,
        epsilon=0.2,
        epsilon_high=0.3,
        delta=delta,
        loss_type=loss_type,
        use_bias_correction_kl=False,  # TRL >= 1.x multiplies the KL by the ratio by default; the paper does not
        report_to=[],
        use_cpu=True,
        save_strategy="no",
    )
    trainer = trl.GRPOTrainer(
        model=str(folder),
        reward_funcs=[lambda prompts, completions, **kw: [0.0] * len(completions)],
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["t1 t2 t3"] * 4}),
    )
    trainer.model.eval()  # no dropout, and no gradient-accumulation normaliser in TRL's loss
    return trainer


def _inputs(trainer: Any) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    batch = 4
    prompt_ids = torch.randint(0, 64, (batch, 3), generator=g)
    completion_ids = torch.randint(0, 64, (batch, MAX_COMPLETION), generator=g)
    completion_mask = torch.tensor(
        [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0]], dtype=torch.long
    )
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model,
            torch.cat([prompt_ids, completion_ids], 1),
            torch.cat([torch.ones_like(prompt_ids), completion_mask], 1),
            MAX_COMPLETION,
        )
    # old log-probs off by up to ±1.5 nats: ratios from 0.22 to 4.5, so low, high and dual clipping all occur
    shift = torch.tensor(
        [
            [0.0, 0.5, -0.5, 1.5, -1.5, 0.1],
            [0.3, -0.3, 1.2, 0.0, 0.0, 0.0],
            [-1.4, 0.2, 0.6, -0.2, 0.05, 0.0],
            [1.5, -0.7, 0.0, 0.0, 0.0, 0.0],
        ]
    )
    inputs = {
        "prompt_ids": prompt_ids,
        "prompt_mask": torch.ones_like(prompt_ids),
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": torch.tensor([1.2, -0.7, -1.1, 0.9]),
        "old_per_token_logps": logps - shift,
        "ref_per_token_logps": logps + 0.2 * torch.randn(logps.shape, generator=g),
        "num_items_in_batch": completion_mask.sum().float(),
    }
    return inputs, logps


def _grads(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters() if p.grad is not None])


CASES = [
    ("bnpo", "token_mean", 0.04, 3.0),
    ("dapo", "token_mean", 0.04, 3.0),
    ("grpo", "seq_mean_token_mean", 0.04, 3.0),
    ("dr_grpo", "seq_mean_token_sum", 0.04, 3.0),
    ("grpo", "seq_mean_token_mean", 0.0, None),
    ("bnpo", "token_mean", 0.0, 3.0),
]


@pytest.mark.parametrize(("loss_type", "aggregation", "beta", "delta"), CASES)
def test_grpo_loss_matches_trl(
    tiny_folder: Path, tmp_path: Path, loss_type: str, aggregation: str, beta: float, delta: float | None
) -> None:
    trainer = _trainer(tiny_folder, tmp_path, loss_type, beta, delta)
    model = trainer.model
    inputs, _ = _inputs(trainer)

    model.zero_grad()
    trl_loss = trainer._compute_loss(model, inputs)
    trl_loss.backward()
    trl_grads = _grads(model).clone()

    model.zero_grad()
    prompt_ids, completion_ids = inputs["prompt_ids"], inputs["completion_ids"]
    logps, _, _ = trainer._get_per_token_logps_and_entropies(
        model,
        torch.cat([prompt_ids, completion_ids], 1),
        torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1),
        MAX_COMPLETION,
    )
    ours, stats = grpo_loss(
        logps,
        inputs["old_per_token_logps"],
        inputs["advantages"],
        inputs["completion_mask"].float(),
        inputs["ref_per_token_logps"],
        clip_low=0.2,
        clip_high=0.3,
        dual_clip=delta,
        aggregation=aggregation,
        kl_estimator="k3" if beta else "none",
        kl_coef=beta,
        max_len=MAX_COMPLETION,
    )
    ours.backward()
    our_grads = _grads(model)

    assert stats["loss/clip_frac_low"] > 0 and stats["loss/clip_frac_high"] > 0
    if delta is not None:
        assert stats["loss/clip_frac_dual"] > 0
    logged = trainer._metrics["eval"]
    assert stats["loss/clip_frac_low"] == pytest.approx(logged["clip_ratio/low_mean"][-1])
    assert stats["loss/clip_frac_high"] == pytest.approx(logged["clip_ratio/high_mean"][-1])
    assert abs(ours.item() - trl_loss.item()) < 1e-6
    assert (our_grads - trl_grads).abs().max().item() < 1e-6
    assert our_grads.abs().max().item() > 0
    if beta and aggregation == "token_mean":  # TRL logs the KL as a token mean whatever the loss type
        assert stats["loss/kl"] == pytest.approx(trainer._metrics["eval"]["kl"][-1], abs=1e-6)
