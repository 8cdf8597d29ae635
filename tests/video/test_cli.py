"""``lvr1 video probe``: one JSON line per file, error lines for bad files, exit status 1 on any failure."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lvr1kit.video.cli import video_app

runner = CliRunner()


def test_probe_good_files(videos: dict[str, Path]) -> None:
    result = runner.invoke(video_app, ["probe", str(videos["h264"]), str(videos["vfr"])])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(videos["h264"]), str(videos["vfr"])]
    assert lines[0] == {
        "path": str(videos["h264"]),
        "backend": "pyav",
        "duration_s": 6.0,
        "fps": 24.0,
        "frames": 144,
        "width": 64,
        "height": 48,
    }
    assert lines[1]["backend"] == "pyav"


def test_probe_bad_file_gives_error_line_and_exit_1(videos: dict[str, Path]) -> None:
    result = runner.invoke(video_app, ["probe", str(videos["text"]), str(videos["h264"]), str(videos["missing"])])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert set(lines[0]) == {"path", "error"} and str(videos["text"]) in lines[0]["error"]
    assert lines[1]["frames"] == 144
    assert "file not found" in lines[2]["error"]
    assert "Traceback" not in result.output


def test_probe_forced_backend(videos: dict[str, Path]) -> None:
    result = runner.invoke(video_app, ["probe", "--backend", "pyav", str(videos["h264"])])
    assert result.exit_code == 0 and json.loads(result.stdout)["backend"] == "pyav"
