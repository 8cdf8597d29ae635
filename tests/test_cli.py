"""The ``lvr1`` entry point: help lists the stages, config commands print resolved configs or clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from lvr1kit.cli import app
from lvr1kit.video.synth import read_event_log

runner = CliRunner()


def test_help_lists_stage_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "lvr1kit.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("config", "pipeline", "synth", "video", "bench", "model", "data", "sft", "rl", "eval"):
        assert command in out, out


def test_config_show_resolves_preset_with_overrides() -> None:
    result = runner.invoke(app, ["config", "show", "synth/tiny", "--set", "world.video_minutes=3"])
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load(result.output)
    assert cfg["world"]["video_minutes"] == 3 and cfg["num_videos"] == 8


def test_config_show_bad_key_exits_2_with_message() -> None:
    result = runner.invoke(app, ["config", "show", "synth/tiny", "--set", "world.minutes=3"])
    assert result.exit_code == 2
    assert "world.minutes: unknown key" in result.output


def test_config_presets_lists_packaged() -> None:
    result = runner.invoke(app, ["config", "presets", "synth"])
    assert result.exit_code == 0 and "synth/tiny" in result.output.split()


def test_synth_command_flags_override_preset(tmp_path: Path) -> None:
    args = ["synth", "--out", str(tmp_path), "--num-videos", "1", "--minutes", "1", "--seed", "4"]
    result = runner.invoke(app, [*args, "--set", "world.step_seconds=2", "--set", "world.clock=false", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["videos"] == 1
    header, _, _ = read_event_log(tmp_path / "world_00000.events.jsonl")
    assert header["world_config"]["seed"] == 4 and header["world_config"]["clock"] is False
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path / "x"), "--set", "world.frame_size=57"])
    assert bad.exit_code == 2 and "frame_size" in bad.output
