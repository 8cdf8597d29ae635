"""The ``transformers.Trainer`` wiring of CoT-SFT: model set-up, the loss, callbacks.

Contents:
    - ``prepare_model``: freeze the vision tower (``model.freeze_vision``; Qwen2.5-VL's projector sits inside it
      and is frozen with it unless ``model.train_projector``) and wrap the LM in LoRA adapters (``lora.rank`` > 0,
      through ``peft``), leaving the LM trainable otherwise.
    - ``merge_lora``: fold adapters back into the weights, giving an ordinary model.
    - ``causal_lm_loss``: summed next-token cross-entropy over label positions divided by the number of label
      tokens of the whole accumulated global batch (``num_items_in_batch``), so 1 process with accumulation and
      N processes with the same global batch compute the same loss and gradients.
    - ``SFTTrainer``: ``Trainer`` whose batches may carry cached vision features (``video_embeds``: one
      ``[L, N, D]`` per sample), handed to the model as ``mm_encoder_outputs``; pixels go through unchanged.
    - ``RunLogCallback``: every Trainer log record -> ``metrics.jsonl`` with namespaced keys (main process only),
      and a copy of the resolved config next to each checkpoint.
    - ``TimeLimitCallback``: stop (and save) after ``train.max_minutes``.

Deviations from the paper:
1. Public SFT code (NVlabs/VILA) averages the loss per micro-batch; here it is normalised by the global batch's
   label-token count (transformers' ``num_items_in_batch``), which makes accumulation and process count exact.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from lvr1kit.config import LoRAConfig
from lvr1kit.models import video_encoder_outputs
from lvr1kit.models.projector import project
from lvr1kit.runs import Run
from lvr1kit.sft.data import IGNORE_INDEX

__all__ = [
    "METRIC_KEYS",
    "RunLogCallback",
    "SFTTrainer",
    "TimeLimitCallback",
    "causal_lm_loss",
    "merge_lora",
    "prepare_model",
]

log = logging.getLogger(__name__)

METRIC_KEYS: dict[str, str] = {
    "loss": "loss/sft",
    "grad_norm": "train/grad_norm",
    "learning_rate": "train/lr",
    "epoch": "train/epoch",
    "train_runtime": "perf/train_s",
    "train_samples_per_second": "perf/samples_per_s",
    "train_steps_per_second": "perf/steps_per_s",
    "train_loss": "loss/sft_mean",
}
"""Trainer log key -> workbench metric key (``metrics.jsonl`` and TensorBoard tags keep Trainer's names)."""


def prepare_model(
    model: PreTrainedModel, *, freeze_vision: bool, lora: LoRAConfig, train_projector: bool = False
) -> torch.nn.Module:
    """Freeze the vision tower if asked (its projector too, unless ``train_projector``) and add LoRA adapters to
    the LM when ``lora.rank`` > 0.

    Returns:
        The model to train (a ``peft.PeftModel`` with adapters, else ``model`` itself).

    Raises:
        ImportError: ``lora.rank`` > 0 without ``peft`` installed (the message says how to install it).
    """
    model.model.visual.requires_grad_(not freeze_vision)
    if train_projector:
        model.model.visual.merger.requires_grad_(True)
    if not lora.rank:
        return model
    try:
        from peft import LoraConfig as PeftLoraConfig
        from peft import get_peft_model
    except ImportError as err:
        raise ImportError("lora.rank > 0 needs peft: pip install 'peft>=0.21' (or set lora.rank=0)") from err
    # Module names alone would also match the vision tower's MLP; the regex keeps adapters on the LM.
    pattern = r".*language_model.*\.(" + "|".join(lora.target_modules) + r")$"
    peft_cfg = PeftLoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,  # type: ignore[arg-type]  # peft annotates int; a float alpha works
        lora_dropout=lora.dropout,
        target_modules=pattern,
    )
    wrapped = get_peft_model(model, peft_cfg)
    if not freeze_vision:  # peft freezes everything but the adapters; keep the tower's setting
        model.model.visual.requires_grad_(True)
    if train_projector:
        model.model.visual.merger.requires_grad_(True)
    return wrapped


def merge_lora(model: torch.nn.Module) -> PreTrainedModel:
    """Fold LoRA adapters into the base weights (a model without adapters is returned as it is)."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()  # type: ignore[operator, no-any-return]
    return model  # type: ignore[return-value]


def causal_lm_loss(
    outputs: Any, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None
) -> torch.Tensor:
    """Next-token cross-entropy summed over label positions, divided by ``num_items_in_batch`` (else their count).

    Position ``i``'s logits predict ``labels[i + 1]``; positions whose label is ``IGNORE_INDEX`` carry no loss.
    """
    logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
    shift_logits = logits[:, :-1].float()  # [B, S-1, V]
    shift_labels = labels[:, 1:].to(shift_logits.device)  # [B, S-1]
    total = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]),
        shift_labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    count = num_items_in_batch if num_items_in_batch is not None else (shift_labels != IGNORE_INDEX).sum()
    if torch.is_tensor(count):
        count = count.to(total.device)
    return total / count


class SFTTrainer(Trainer):
    """``Trainer`` that feeds cached vision features (``video_embeds``) as ``mm_encoder_outputs``.

    With ``project_features=True`` the cached tensors are the frozen blocks' states and the (trainable) projector
    runs on them first (:func:`lvr1kit.models.projector.project`).
    """

    def __init__(self, *args: Any, project_features: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project_features = project_features

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        """Translate ``video_embeds`` for the model, then let ``Trainer`` compute the loss."""
        inputs = dict(inputs)
        embeds = inputs.pop("video_embeds", None)
        if embeds is not None:
            base = self.accelerator.unwrap_model(model)
            if self.project_features:
                embeds = [project(base, e) for e in embeds]
            inputs["mm_encoder_outputs"] = {"video": video_encoder_outputs(base, embeds)}
        inputs["use_cache"] = False
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: torch.nn.Module | None = None) -> None:
        """Load full-model checkpoints through ``from_pretrained`` so saved key names are mapped back.

        transformers 5.19 saves Qwen-VL weights under their legacy names (``visual.*``, ``model.layers.*``), but
        ``Trainer`` reloads them with a plain ``load_state_dict``, which then misses every key. Adapter (LoRA)
        and DeepSpeed checkpoints keep ``Trainer``'s own loading.
        """
        target = model if model is not None else self.model
        full = Path(resume_from_checkpoint) / "model.safetensors"
        if self.is_deepspeed_enabled or not full.is_file() or hasattr(target, "peft_config"):
            super()._load_from_checkpoint(resume_from_checkpoint, model)
            return
        unwrapped = self.accelerator.unwrap_model(target)
        saved = type(unwrapped).from_pretrained(resume_from_checkpoint, dtype=next(unwrapped.parameters()).dtype)
        result = unwrapped.load_state_dict(saved.state_dict(), strict=True)
        log.info("resumed weights from %s (%s)", resume_from_checkpoint, result)


class RunLogCallback(TrainerCallback):
    """Trainer logs -> ``run.log`` (namespaced keys); config copied next to checkpoints. Main process only."""

    def __init__(self, run: Run | None) -> None:
        self.run = run
        self.records: list[dict[str, Any]] = []

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        metrics = {METRIC_KEYS.get(k, f"train/{k}"): v for k, v in logs.items() if isinstance(v, int | float)}
        self.records.append({"step": state.global_step, **metrics})
        if self.run is not None:
            self.run.log(state.global_step, **metrics)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if not state.is_world_process_zero or self.run is None:
            return
        checkpoint = Path(str(args.output_dir)) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir() and self.run.config_path.is_file():
            shutil.copy2(self.run.config_path, checkpoint / "lvr1_config.yaml")


class TimeLimitCallback(TrainerCallback):
    """Ask the Trainer to save and stop once ``max_minutes`` of training have passed."""

    def __init__(self, max_minutes: float) -> None:
        self.max_s = max_minutes * 60
        self.start = time.monotonic()
        self.stopped_at: int | None = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.start = time.monotonic()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        over = torch.tensor([float(time.monotonic() - self.start > self.max_s)], device=args.device)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Ranks must agree on the last step, or the next collective hangs.
            torch.distributed.all_reduce(over, op=torch.distributed.ReduceOp.MAX)
        if over.item() and not control.should_training_stop:
            log.warning("train.max_minutes reached at step %d; saving and stopping", state.global_step)
            self.stopped_at = state.global_step
            control.should_training_stop = True
            control.should_save = True
