"""Config loading: presets, dotted overrides, and error messages that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvr1kit.config import (
    STAGE_CONFIGS,
    ConfigError,
    GRPOConfig,
    MRSPConfig,
    RLConfig,
    SFTConfig,
    VideoConfig,
    dump_config,
    list_presets,
    load_config,
    parse_override,
)


def test_defaults_then_yaml_then_overrides(tmp_path: Path) -> None:
    preset = tmp_path / "v.yaml"
    preset.write_text("strategy: fps\ntarget_fps: 2.0\nmax_frames: 64\n")
    cfg = load_config(VideoConfig, preset, {"target_fps": 4.0})
    assert (cfg.strategy, cfg.target_fps, cfg.max_frames, cfg.clip_seconds) == ("fps", 4.0, 64, 10.0)


def test_unknown_key_is_named_with_suggestion() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(VideoConfig, None, {"num_frame": 8})
    assert "num_frame: unknown key; did you mean 'num_frames'?" in str(err.value)


def test_unknown_nested_key_is_named() -> None:
    stage = STAGE_CONFIGS["synth"]
    with pytest.raises(ConfigError) as err:
        load_config(stage, None, {"video.strategy_kind": "fps"})
    assert "video.strategy_kind: unknown key" in str(err.value)


def test_every_problem_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(VideoConfig, None, {"num_frames": 0, "target_fps": -1, "strategy": "random", "bogus": 1})
    text = str(err.value)
    for part in ("num_frames", "target_fps", "strategy", "bogus: unknown key"):
        assert part in text, text
    assert text.count("\n  - ") == 4


def test_cross_field_checks_gather_all_complaints_with_remedy() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(VideoConfig, None, {"num_frames": 600, "max_frames": 4, "frames_per_clip": 8})
    text = str(err.value)
    assert "raise video.max_frames or lower video.num_frames" in text
    assert text.count("\n  - ") == 1  # the per_clip rule does not apply to the uniform strategy
    with pytest.raises(ConfigError, match="lower video.frames_per_clip"):
        load_config(VideoConfig, None, {"strategy": "per_clip", "max_frames": 4, "frames_per_clip": 8})
    with pytest.raises(ConfigError, match="must be even"):
        load_config(MRSPConfig, None, {"encode_chunk_frames": 63})
    with pytest.raises(ConfigError, match="train_projector=true needs model.freeze_vision=true"):
        load_config(SFTConfig, "sft/tiny", {"model.train_projector": True, "model.freeze_vision": False})
    with pytest.raises(ConfigError, match="train_projector is CoT-SFT only"):
        load_config(RLConfig, "rl/tiny", {"model.train_projector": True})


def test_unknown_preset_suggests_close_names() -> None:
    with pytest.raises(ConfigError, match="did you mean synth/tiny"):
        load_config(STAGE_CONFIGS["synth"], "synth/tinny")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(VideoConfig, "missing/file.yaml")


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: top level must be a mapping"):
        load_config(VideoConfig, bad)


def test_override_into_scalar_is_refused(tmp_path: Path) -> None:
    preset = tmp_path / "v.yaml"
    preset.write_text("target_fps: 2.0\n")
    with pytest.raises(ConfigError, match="target_fps.x: 'target_fps' holds a value, not a block"):
        load_config(VideoConfig, preset, {"target_fps.x": 1})
    with pytest.raises(ConfigError, match="target_fps: Input should be a valid number"):
        load_config(VideoConfig, None, {"target_fps.x": 1})


def test_parse_override_reads_yaml_scalars() -> None:
    assert parse_override("video.num_frames=16") == ("video.num_frames", 16)
    assert parse_override("model.path=/tmp/m") == ("model.path", "/tmp/m")
    assert parse_override("video.height=null") == ("video.height", None)
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("novalue")


def test_configs_are_frozen_and_dump_round_trips() -> None:
    cfg = load_config(VideoConfig, None, {"num_frames": 8})
    with pytest.raises(Exception, match="frozen"):
        cfg.num_frames = 9  # type: ignore[misc]
    again = VideoConfig.model_validate(__import__("yaml").safe_load(dump_config(cfg)))
    assert again == cfg


def test_presets_listed_per_stage() -> None:
    names = list_presets()
    assert "synth/tiny" in names
    assert all(n.startswith("synth/") for n in list_presets("synth"))


def test_grpo_config_defaults_follow_the_paper() -> None:
    cfg = GRPOConfig()
    assert (cfg.num_generations, cfg.clip_low, cfg.clip_high, cfg.dual_clip) == (5, 0.2, 0.3, 3.0)
    assert (cfg.kl_estimator, cfg.kl_coef, cfg.loss_aggregation, cfg.advantage_scale) == (
        "k3",
        1e-2,
        "token_mean",
        "std",
    )
    assert cfg.reward_kwargs == {"w_acc": 0.9, "w_fmt": 0.1}
    assert cfg.uses_reference
    assert not load_config(GRPOConfig, None, {"kl_coef": 0.0}).uses_reference


def test_grpo_config_names_are_registry_keys_with_suggestions() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(
            GRPOConfig,
            None,
            {"loss_aggregation": "token_means", "reward": "mcq", "kl_estimator": "k4", "advantage_scale": "z"},
        )
    text = str(err.value)
    assert "grpo.loss_aggregation='token_means' is not registered; did you mean 'token_mean'?" in text
    assert "grpo.reward='mcq' is not registered; did you mean 'mc'?" in text
    assert "grpo.kl_estimator='k4'" in text and "known: k1, k2, k3, none" in text
    assert "grpo.advantage_scale='z'" in text
    assert text.count("\n  - ") == 4


def test_grpo_config_cross_field_checks_name_the_remedy() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(
            GRPOConfig,
            None,
            {
                "dual_clip": 1.2,
                "kl_estimator": "none",
                "filter_groups": True,
                "group_filter": "mean_range",
                "filter_low": 0.9,
                "filter_high": 0.1,
                "overlong_penalty": True,
                "overlong_buffer_tokens": 4096,
            },
        )
    text = str(err.value)
    assert "use 3.0 (the paper) or null to disable dual-clip" in text
    assert "set grpo.kl_coef=0 or pick k1, k2 or k3" in text
    assert "grpo.filter_low=0.9 must be below grpo.filter_high=0.1" in text
    assert "lower the buffer" in text
    assert text.count("\n  - ") == 4
    with pytest.raises(ConfigError, match="num_generations"):
        load_config(GRPOConfig, None, {"num_generations": 1})
    assert load_config(GRPOConfig, None, {"kl_estimator": "none", "kl_coef": 0.0, "dual_clip": None}).dual_clip is None
