"""CoT-SFT: label-masked examples, the video collator, ``transformers.Trainer`` wiring, held-out generations, CLI.

Public names: ``train_sft`` / ``launch_or_train_sft`` (``nproc`` torchrun processes) / ``SFTResult`` (train),
``SFTDataset`` / ``SFTCollator`` / ``build_sft_example`` / ``build_target_ids`` (data), ``SFTTrainer`` /
``causal_lm_loss`` (trainer), ``answer_questions`` /
``score_answers`` (evaluate). The CLI is ``lvr1kit.sft.cli.sft_app`` (``lvr1 sft train``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lvr1kit._lazy import lazy_exports

if TYPE_CHECKING:
    from lvr1kit.sft.data import IGNORE_INDEX, SFTCollator, SFTDataset, build_sft_example, build_target_ids
    from lvr1kit.sft.train import SFTResult, launch_or_train_sft, train_sft
    from lvr1kit.sft.trainer import SFTTrainer, causal_lm_loss

__all__ = [
    "IGNORE_INDEX",
    "SFTCollator",
    "SFTDataset",
    "SFTResult",
    "SFTTrainer",
    "build_sft_example",
    "build_target_ids",
    "causal_lm_loss",
    "launch_or_train_sft",
    "train_sft",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "IGNORE_INDEX": "data",
        "SFTCollator": "data",
        "SFTDataset": "data",
        "SFTResult": "train",
        "SFTTrainer": "trainer",
        "build_sft_example": "data",
        "build_target_ids": "data",
        "causal_lm_loss": "trainer",
        "launch_or_train_sft": "train",
        "train_sft": "train",
    },
)
