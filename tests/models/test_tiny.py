"""Tiny model factory: real architectures, local tokenizer, save/reload, determinism, FLOP ratio."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import PreTrainedTokenizerFast, Qwen2_5_VLConfig

from lvr1kit.models import (
    TINY_PRESETS,
    build_tiny_model,
    build_tokenizer,
    compute_flops_per_token,
    detect_family,
    load_model,
)
from lvr1kit.models.tokenizer import REASONING_TOKENS, SPECIAL_TOKENS


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_reload_gives_same_logits(family: str, tiny_dirs: dict[str, Path], tiny_models) -> None:
    fresh, _ = build_tiny_model(family, "tiny", seed=0)
    ids = torch.arange(3, 40).unsqueeze(0)
    with torch.no_grad():
        expected = fresh(input_ids=ids).logits
        got = tiny_models[family].model(input_ids=ids).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert detect_family(tiny_dirs[family]) == family
    assert (
        type(tiny_models[family].model).__name__
        == {
            "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
            "qwen3_vl": "Qwen3VLForConditionalGeneration",
        }[family]
    )


def test_seed_changes_weights() -> None:
    a, _ = build_tiny_model("qwen2_5_vl", "tiny", seed=1)
    b, _ = build_tiny_model("qwen2_5_vl", "tiny", seed=2)
    assert not torch.equal(a.lm_head.weight, b.lm_head.weight)


def test_sizes_and_heads(tiny_models) -> None:
    model = tiny_models["qwen2_5_vl"].model
    n_params = sum(p.numel() for p in model.parameters())
    assert 1.3e6 < n_params < 1.6e6  # size S of LEARNING-NOTES (1.41 M) plus the local vocabulary
    text = model.config.text_config
    assert text.num_attention_heads % 2 == 0 and text.num_key_value_heads % 2 == 0


def test_tokenizer_special_tokens_and_ids(tiny_dirs: dict[str, Path], tiny_models) -> None:
    loaded = tiny_models["qwen2_5_vl"]
    reloaded = PreTrainedTokenizerFast.from_pretrained(tiny_dirs["qwen2_5_vl"])
    for token in SPECIAL_TOKENS + REASONING_TOKENS:
        assert len(reloaded(token, add_special_tokens=False)["input_ids"]) == 1, token
    config = loaded.model.config
    assert config.video_token_id == reloaded.convert_tokens_to_ids("<|video_pad|>")
    assert config.image_token_id == reloaded.convert_tokens_to_ids("<|image_pad|>")
    assert reloaded.eos_token == "<|im_end|>" and reloaded.chat_template
    assert len(reloaded) <= config.text_config.vocab_size
    assert loaded.placeholder_token_ids == sorted(
        reloaded.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>", "<|vision_pad|>"])
    )


def test_tokenizer_is_deterministic() -> None:
    assert build_tokenizer(seed=3).get_vocab() == build_tokenizer(seed=3).get_vocab()


def test_flops_ratio_of_real_7b_and_bench() -> None:
    real = Qwen2_5_VLConfig(
        text_config={"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
                     "num_attention_heads": 28, "num_key_value_heads": 4},
        vision_config={"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                       "out_hidden_size": 3584},
    )  # fmt: skip
    flops = compute_flops_per_token(real)
    assert flops["ratio"] == pytest.approx(0.394, abs=0.005)
    bench, _ = build_tiny_model("qwen2_5_vl", TINY_PRESETS["bench"])
    assert compute_flops_per_token(bench.config)["ratio"] == pytest.approx(flops["ratio"], rel=0.15)


def test_load_errors_name_the_fix(tmp_path: Path, tiny_dirs: dict[str, Path]) -> None:
    with pytest.raises(FileNotFoundError, match="lvr1 model tiny"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="model.family"):
        load_model(tiny_dirs["qwen2_5_vl"], family="qwen3_vl")
    with pytest.raises(ValueError, match="dtype"):
        load_model(tiny_dirs["qwen2_5_vl"], dtype="int8")


def test_cli_tiny_writes_a_loadable_folder(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from lvr1kit.models.cli import model_app

    result = CliRunner().invoke(model_app, ["tiny", "--out", str(tmp_path / "m"), "--family", "qwen3_vl"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["family"] == "qwen3_vl" and summary["parameters"] > 1e6
    assert load_model(tmp_path / "m").family == "qwen3_vl"
    bad = CliRunner().invoke(model_app, ["tiny", "--out", str(tmp_path / "x"), "--size", "huge"])
    assert bad.exit_code != 0 and "tiny, bench" in bad.output
