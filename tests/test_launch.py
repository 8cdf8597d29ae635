"""The torchrun launcher: output streamed back, exit codes, a clear error on failure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lvr1kit.launch import LaunchError, launch_torchrun, torchrun_command

WORKER = """
import os, sys
print(f"rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']}", flush=True)
sys.exit(int(os.environ.get("FAIL", "0")) if os.environ["RANK"] == "1" else 0)
"""


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "lvr1_launch_worker.py").write_text(WORKER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "lvr1_launch_worker"


def test_command_uses_this_python() -> None:
    cmd = torchrun_command("m", ["--x"], nproc=2)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"] and cmd[-3:] == ["-m", "m", "--x"]
    with pytest.raises(ValueError, match="nproc=0"):
        torchrun_command("m", [], nproc=0)


def test_streams_every_rank(worker: str) -> None:
    lines: list[str] = []
    assert launch_torchrun(worker, [], nproc=2, on_line=lines.append, timeout_s=120) == 0
    assert {"rank 0 of 2", "rank 1 of 2"} <= {line.strip() for line in lines}


def test_failure_names_module_and_code(worker: str) -> None:
    with pytest.raises(LaunchError, match=rf"{worker} under torchrun \(nproc=2\) exited with code"):
        launch_torchrun(worker, [], nproc=2, env={"FAIL": "3"}, on_line=lambda _: None, timeout_s=120)
    assert launch_torchrun(worker, [], nproc=2, env={"FAIL": "3"}, on_line=lambda _: None, check=False) != 0
