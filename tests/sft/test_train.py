"""CoT-SFT training: cached features equal pixels, resume reproduces losses, LoRA saves/merges/loads, logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lvr1kit import runs
from lvr1kit.config import SFTConfig
from lvr1kit.data import read_records
from lvr1kit.models import load_model, video_encoder_outputs
from lvr1kit.models.examples import settings_from_config
from lvr1kit.models.projector import premerger_version
from lvr1kit.mrsp import EmbeddingCache, vision_weights_version
from lvr1kit.sft import SFTCollator, SFTDataset, causal_lm_loss, train_sft
from lvr1kit.sft.data import prepare_videos
from lvr1kit.sft.evaluate import answer_questions, score_answers


def test_cached_embeddings_give_the_pixel_loss(
    sft_cfg: SFTConfig, sft_data: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    loaded = load_model(tiny_model_dir)
    records = read_records(sft_data / "dataset" / "sft.jsonl")[:3]
    settings = settings_from_config(sft_cfg.model, loaded.family)
    cache = EmbeddingCache(tmp_path / "cache")
    common = {"videos_dir": sft_data / "world", "video_cfg": sft_cfg.video, "settings": settings}
    videos = [r.videos for r in records]
    pixel_metas = prepare_videos(videos, sft_data / "world", sft_cfg.video, settings)
    cached_metas = prepare_videos(
        videos, sft_data / "world", sft_cfg.video, settings,
        model=loaded.model, cache=cache, weights_version=vision_weights_version(loaded.model),
    )  # fmt: skip
    collate = SFTCollator(pad_token_id=int(loaded.tokenizer.pad_token_id))
    losses = []
    for metas, c in ((pixel_metas, None), (cached_metas, cache)):
        ds = SFTDataset(records, loaded.tokenizer, metas, max_prompt_tokens=4096, cache=c, **common)
        batch = collate([ds[i] for i in range(len(ds))])
        assert ("video_embeds" in batch) == (c is not None)
        inputs = dict(batch)
        labels = inputs.pop("labels")
        if "video_embeds" in inputs:  # what SFTTrainer.compute_loss does
            inputs["mm_encoder_outputs"] = {"video": video_encoder_outputs(loaded.model, inputs.pop("video_embeds"))}
        with torch.no_grad():
            losses.append(causal_lm_loss(loaded.model(**inputs, use_cache=False), labels).item())
    assert losses[0] == pytest.approx(losses[1], abs=1e-5)
    assert cache.stats()["cache/hits"] == 3


def test_train_logs_and_saves_a_loadable_model(sft_cfg: SFTConfig, tmp_path: Path) -> None:
    result = train_sft(sft_cfg, tmp_path / "run")
    assert result.steps == 4 and len(result.losses) == 4 and all(loss > 0 for loss in result.losses)
    records = runs.read_metrics(tmp_path / "run")
    assert [r["step"] for r in records if "loss/sft" in r] == [1, 2, 3, 4]
    assert any((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert result.cache_stats["cache/misses"] == 0 and result.cache_stats["cache/hits"] > 0
    loaded = load_model(result.model_dir)
    evals = read_records(sft_cfg.eval_file)[:2]  # type: ignore[arg-type]
    answers = answer_questions(
        loaded, evals, Path(sft_cfg.eval_file).parents[1] / "world", sft_cfg.video, sft_cfg.model, max_new_tokens=8
    )  # type: ignore[arg-type]
    assert len(answers) == 2 and score_answers(answers)["eval/n"] == 2


def test_resume_reproduces_the_uninterrupted_losses(sft_cfg: SFTConfig, tmp_path: Path) -> None:
    cfg = sft_cfg.model_copy(update={"train": sft_cfg.train.model_copy(update={"max_steps": 6, "save_steps": 3})})
    full = train_sft(cfg, tmp_path / "full")
    checkpoint = tmp_path / "full" / "checkpoints" / "checkpoint-3"
    assert (checkpoint / "lvr1_config.yaml").is_file()
    resumed = train_sft(cfg, tmp_path / "resumed", resume=str(checkpoint))
    assert resumed.steps == 6
    steps = [r["step"] for r in runs.read_metrics(tmp_path / "resumed") if "loss/sft" in r]
    assert steps == [4, 5, 6]
    assert resumed.losses == pytest.approx(full.losses[3:], abs=1e-6)


def test_lora_run_saves_merges_and_loads(sft_cfg: SFTConfig, tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import PeftModel

    cfg = sft_cfg.model_copy(
        update={
            "lora": sft_cfg.lora.model_copy(update={"rank": 4}),
            "train": sft_cfg.train.model_copy(update={"max_steps": 2, "save_steps": 2, "learning_rate": 1e-2}),
        }
    )
    result = train_sft(cfg, tmp_path / "run")
    assert result.trainable_params < 100_000  # adapters only
    checkpoint = tmp_path / "run" / "checkpoints" / "checkpoint-2"
    assert (checkpoint / "adapter_model.safetensors").is_file()
    assert json.loads((result.model_dir / "config.json").read_text())["model_type"] == "qwen2_5_vl"
    merged = load_model(result.model_dir).model
    base = load_model(tiny_model_dir).model
    adapted = PeftModel.from_pretrained(base, str(checkpoint)).merge_and_unload()
    for (name, p), (_, q) in zip(merged.state_dict().items(), adapted.state_dict().items(), strict=True):
        assert torch.allclose(p, q, atol=1e-6), name
    original = load_model(tiny_model_dir).model.state_dict()
    key = next(k for k in original if "language_model.layers.0.self_attn.q_proj.weight" in k)
    assert not torch.allclose(merged.state_dict()[key], original[key])  # the adapters changed the weights


def test_trainable_tower_trains_on_pixels(sft_cfg: SFTConfig, tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = sft_cfg.model_copy(
        update={
            "model": sft_cfg.model.model_copy(update={"freeze_vision": False}),
            "train": sft_cfg.train.model_copy(update={"max_steps": 2}),
        }
    )
    assert not cfg.uses_cached_embeddings
    result = train_sft(cfg, tmp_path / "run")
    assert result.cache_stats == {} and not (tmp_path / "run" / "embed_cache").exists()
    assert vision_weights_version(load_model(result.model_dir).model) != vision_weights_version(
        load_model(tiny_model_dir).model
    )


def test_trainable_projector_trains_only_the_merger_on_cached_states(
    sft_cfg: SFTConfig, tiny_model_dir: Path, tmp_path: Path
) -> None:
    cfg = sft_cfg.model_copy(
        update={
            "model": sft_cfg.model.model_copy(update={"train_projector": True}),
            "train": sft_cfg.train.model_copy(update={"max_steps": 3, "learning_rate": 1e-2}),
        }
    )
    result = train_sft(cfg, tmp_path / "run")
    assert result.cache_stats["cache/hit_rate"] > 0  # cached and read back
    cached = EmbeddingCache(tmp_path / "run" / "embed_cache")
    entries = list(cached.root.rglob("*.safetensors"))
    assert entries and all(cached.get(p.stem).ndim == 3 and cached.get(p.stem).shape[1] == 4 for p in entries)
    before = load_model(tiny_model_dir).model.model.visual.state_dict()
    after = load_model(result.model_dir).model.model.visual.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("merger.") for k in changed)  # the projector learned, the blocks did not
    assert premerger_version(load_model(result.model_dir).model) == premerger_version(load_model(tiny_model_dir).model)
