"""Start multi-process jobs (torchrun) from a notebook, the CLI or a test, and stream their output back.

Contents:
    - ``torchrun_command``: the argv of ``python -m torch.distributed.run --nproc-per-node N -m MODULE ARGS``.
    - ``launch_torchrun``: run it as a subprocess, forward every output line to a callback (logging by default),
      and return the exit code, or raise :class:`LaunchError` quoting the last lines when ``check`` is set.

The same code starts gloo jobs on CPU and nccl jobs on GPUs: the backend is chosen by the launched module (the
Trainer picks gloo for ``model.device=cpu``). ``OMP_NUM_THREADS`` defaults to cores / processes so that N
processes do not oversubscribe the machine.

Deviations from the paper:
1. The paper launches through its own shell scripts (``torchrun`` / ``deepspeed``); this is the Python equivalent.
"""

from __future__ import annotations

import collections
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["LaunchError", "launch_torchrun", "torchrun_command"]

log = logging.getLogger(__name__)


class LaunchError(RuntimeError):
    """A launched job exited with a non-zero code; the message quotes its last output lines."""


def torchrun_command(module: str, args: Sequence[str], *, nproc: int, master_port: int | None = None) -> list[str]:
    """The argv that starts ``nproc`` processes of ``python -m module args`` on this machine.

    >>> torchrun_command("lvr1kit.sft.train", ["--run-dir", "r"], nproc=2, master_port=29512)[3:8]
    ['--nproc-per-node', '2', '--master-port', '29512', '-m']
    """
    if nproc < 1:
        raise ValueError(f"nproc={nproc}; use 1 or more processes")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
    if master_port is not None:
        cmd += ["--master-port", str(master_port)]
    else:
        cmd += ["--rdzv-backend", "c10d", "--rdzv-endpoint", "localhost:0", "--standalone"]
    return [*cmd, "-m", module, *args]


def launch_torchrun(
    module: str,
    args: Sequence[str],
    *,
    nproc: int,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    on_line: Callable[[str], None] | None = None,
    check: bool = True,
    timeout_s: float | None = None,
    master_port: int | None = None,
) -> int:
    """Run ``module`` under torchrun with ``nproc`` processes, streaming its combined stdout/stderr.

    Args:
        module: Python module with a ``__main__`` (e.g. ``lvr1kit.sft.train``).
        args: Its command-line arguments.
        nproc: Processes on this machine (ranks 0..nproc-1).
        env: Extra environment variables (``OMP_NUM_THREADS`` defaults to cores / nproc).
        cwd: Working directory of the job.
        on_line: Called with every output line (without newline); default: ``logging`` at INFO.
        check: Raise :class:`LaunchError` on a non-zero exit code instead of returning it.
        timeout_s: Kill the job after this many seconds (raises ``LaunchError``).
        master_port: Fixed rendezvous port; ``None`` lets torchrun pick a free one (``--standalone``).

    Returns:
        The job's exit code (0 on success).
    """
    cmd = torchrun_command(module, args, nproc=nproc, master_port=master_port)
    full_env = dict(os.environ)
    full_env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    full_env.update(env or {})
    emit = on_line or (lambda line: log.info("%s", line))
    tail: collections.deque[str] = collections.deque(maxlen=30)
    log.info("launching: %s", " ".join(cmd))
    with subprocess.Popen(
        cmd,
        cwd=str(Path(cwd)) if cwd else None,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as proc:
        killed: list[bool] = []

        def kill() -> None:
            killed.append(True)
            proc.kill()

        timer = threading.Timer(timeout_s, kill) if timeout_s else None
        if timer is not None:
            timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                emit(line)
            code = proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
    if killed:
        raise LaunchError(f"{module} under torchrun ran past timeout_s={timeout_s} and was killed")
    if code and check:
        last = "\n".join(tail)
        raise LaunchError(f"{module} under torchrun (nproc={nproc}) exited with code {code}; last output:\n{last}")
    return code
