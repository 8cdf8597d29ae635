"""Config loading: presets, dotted overrides, and error messages that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvr1kit.config import (
    STAGE_CONFIGS,
    ConfigError,
    MRSPConfig,
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
