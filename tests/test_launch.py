"""The torchrun launcher: output streamed back, exit codes, a clear error on failure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lvr1kit.launch import LaunchError, launch_torchrun, torchrun_command

WORKER = """
import os, sys
# one write per line: with PYTHONUNBUFFERED=1, print() issues text and newline as two writes, which the two ranks
# sharing one pipe can interleave ("rank 0 of 2rank 1 of 2")
os.write(1, f"rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']}\\n".encode())
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


METRICS_WRITER = """
import json, sys, time
from pathlib import Path
path = Path(sys.argv[1]) / "metrics.jsonl"
steps = int(sys.argv[2])
for step in range(steps):
    with path.open("a") as fh:
        fh.write(json.dumps({"step": step, "reward/total": step / 10}) + "\\n")
    print("step", step, flush=True)
    time.sleep(0.05)
if steps > 50:
    time.sleep(120)  # a long job: only stop() ends it
"""


def _writer(tmp_path: Path, steps: int) -> list[str]:
    script = tmp_path / "writer.py"
    script.write_text(METRICS_WRITER)
    return [sys.executable, str(script), str(tmp_path / "run"), str(steps)]


def test_live_launch_polls_metrics_and_records_exit(tmp_path: Path) -> None:
    from lvr1kit.launch import LiveLaunch

    job = LiveLaunch(_writer(tmp_path, 5), tmp_path / "run", total_steps=5).start()
    assert job.wait(60) == 0 and not job.running
    job.poll()
    assert [r["step"] for r in job.records] == [0, 1, 2, 3, 4] and job.poll() == []
    assert "step 4" in job.tail()
    info = json.loads((tmp_path / "run" / "launch.json").read_text())
    assert info["returncode"] == 0 and info["stopped"] is False


def test_live_launch_stop_ends_process_group(tmp_path: Path) -> None:
    import os
    import time

    from lvr1kit.launch import LiveLaunch

    job = LiveLaunch(_writer(tmp_path, 100), tmp_path / "run").start()
    try:
        deadline = time.monotonic() + 60
        while len(job.records) < 3 and time.monotonic() < deadline:
            job.poll()
            time.sleep(0.05)
        assert job.running and len(job.records) >= 3
    finally:
        code = job.stop(grace_s=5)
    assert code != 0 and not job.running
    with pytest.raises(ProcessLookupError):
        os.killpg(job.pid, 0)  # no process of the group is left
    info = json.loads((tmp_path / "run" / "launch.json").read_text())
    assert info["stopped"] is True and info["returncode"] == code


def test_live_launch_torn_line_waits(tmp_path: Path) -> None:
    from lvr1kit.launch import LiveLaunch

    job = LiveLaunch([sys.executable, "-c", "pass"], tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"step": 0}\n{"step": 1')
    assert job.poll() == [{"step": 0}]
    with (tmp_path / "metrics.jsonl").open("a") as fh:
        fh.write(', "x": 2}\n')
    assert job.poll() == [{"step": 1, "x": 2}]


def test_live_launch_widget_builds_and_stop_button(tmp_path: Path) -> None:
    import time

    pytest.importorskip("ipywidgets")
    from lvr1kit.launch import LiveLaunch

    job = LiveLaunch(_writer(tmp_path, 100), tmp_path / "run", total_steps=100).start()
    try:
        box = job.widget(keys=["reward/total"], poll_s=0.05)
        bar, _, button = box.children[0].children
        deadline = time.monotonic() + 60
        while bar.value < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bar.value >= 3  # the polling thread moved the progress bar
        button.click()  # the Stop button: the process group is terminated
        assert job.returncode is not None and job.stopped
    finally:
        job.stop(grace_s=5)
