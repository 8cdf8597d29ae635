"""Start multi-process jobs (torchrun) from a notebook, the CLI or a test, and stream their output back.

Contents:
    - ``torchrun_command``: the argv of ``python -m torch.distributed.run --nproc-per-node N -m MODULE ARGS``.
    - ``launch_torchrun``: run it as a subprocess, forward every output line to a callback (logging by default),
      and return the exit code, or raise :class:`LaunchError` quoting the last lines when ``check`` is set.
    - ``LiveLaunch``: the notebook path: start any command in the background (its own process group, output to
      ``<run_dir>/launch.log``), poll ``metrics.jsonl`` for new records, stop the whole group cleanly, record the
      exit code in ``launch.json``; ``widget()`` shows a progress bar, a live plotly ``FigureWidget`` and a Stop
      button. ``launch_in_notebook`` builds the torchrun command, starts it and returns the handle.

The same code starts gloo jobs on CPU and nccl jobs on GPUs: the backend is chosen by the launched module (the
Trainer picks gloo for ``model.device=cpu``). ``OMP_NUM_THREADS`` defaults to cores / processes so that N
processes do not oversubscribe the machine.

Deviations from the paper:
1. The paper launches through its own shell scripts (``torchrun`` / ``deepspeed``); this is the Python equivalent.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["LaunchError", "LiveLaunch", "launch_in_notebook", "launch_torchrun", "torchrun_command"]

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


class LiveLaunch:
    """A background job whose ``metrics.jsonl`` is followed live; the notebook-facing side of the launcher.

    The job runs in its own session (process group), so :meth:`stop` reaches torchrun and every rank it started.
    Its combined output goes to ``<run_dir>/launch.log`` (no pipe to fill up while nobody reads it), and
    ``<run_dir>/launch.json`` records the command, pid, times and exit code.
    """

    def __init__(
        self,
        cmd: Sequence[str],
        run_dir: str | os.PathLike[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        total_steps: int | None = None,
    ) -> None:
        """Prepare (not start) a job.

        Args:
            cmd: The argv to run (e.g. :func:`torchrun_command`).
            run_dir: The stage's run dir, where the job writes ``metrics.jsonl``; ``launch.*`` go there too.
            env: Extra environment variables.
            cwd: Working directory of the job.
            total_steps: Steps the job will log, for the progress bar (``None``: an indeterminate count).
        """
        self.cmd = [str(c) for c in cmd]
        self.run_dir = Path(run_dir)
        self.env = env or {}
        self.cwd = cwd
        self.total_steps = total_steps
        self.records: list[dict[str, Any]] = []
        self.returncode: int | None = None
        self.stopped = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._offset = 0
        self._started = ""

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "launch.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        """Whether the job has been started and not yet exited."""
        return self._proc is not None and self._poll_exit() is None

    def start(self) -> LiveLaunch:
        """Start the job in the background; returns ``self``."""
        if self._proc is not None:
            raise RuntimeError("this job was already started; make a new LiveLaunch to run it again")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.metrics_path.exists():
            self._offset = self.metrics_path.stat().st_size  # a resumed run: follow only the new records
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        log.info("launching in the background: %s (output: %s)", " ".join(self.cmd), self.log_path)
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(
                self.cmd,
                cwd=str(self.cwd) if self.cwd else None,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches every rank
            )
        self._started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._record()
        return self

    def _poll_exit(self) -> int | None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is not None and self.returncode is None:
            self.returncode = code
            self._record()
            log.info("job %s exited with code %s", self._proc.pid, code)
        return code

    def _record(self) -> None:
        info = {
            "cmd": self.cmd,
            "pid": self.pid,
            "started": self._started,
            "returncode": self.returncode,
            "stopped": self.stopped,
        }
        (self.run_dir / "launch.json").write_text(json.dumps(info, indent=2) + "\n")

    def poll(self) -> list[dict[str, Any]]:
        """New complete records of ``metrics.jsonl`` since the last call (a half-written last line waits)."""
        if not self.metrics_path.exists():
            return []
        with self.metrics_path.open("rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        new = []
        for line in chunk[:end].splitlines():
            try:
                new.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("skipping an unreadable line of %s", self.metrics_path)
        self.records += new
        return new

    def tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the job's output."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait(self, timeout_s: float | None = None) -> int:
        """Wait for the job to exit and return its code (``subprocess.TimeoutExpired`` after ``timeout_s``)."""
        if self._proc is None:
            raise RuntimeError("start() the job first")
        self._proc.wait(timeout_s)
        code = self._poll_exit()
        assert code is not None
        return code

    def stop(self, grace_s: float = 10.0) -> int:
        """Send SIGTERM to the job's process group, SIGKILL after ``grace_s``; returns the exit code."""
        if self._proc is None:
            raise RuntimeError("start() the job first")
        if self._poll_exit() is None:
            self.stopped = True
            log.info("stopping job %s (process group)", self._proc.pid)
            self._signal(signal.SIGTERM)
            try:
                self._proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                log.warning("job %s ignored SIGTERM for %.0f s; killing it", self._proc.pid, grace_s)
                self._signal(signal.SIGKILL)
                self._proc.wait()
        return self.wait()

    def _signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self._proc.pid, sig)  # the group id is the pid: start_new_session made it a leader

    def widget(self, keys: Sequence[str] = ("loss/sft", "reward/total"), poll_s: float = 1.0) -> Any:
        """An ipywidgets box (progress bar, live curves of ``keys``, output tail, Stop button) that updates itself.

        A daemon thread polls every ``poll_s`` seconds until the job exits; display the box in a notebook cell.
        """
        import ipywidgets as widgets

        bar = widgets.IntProgress(value=0, min=0, max=self.total_steps or 1, description="step")
        status = widgets.Label(value="starting")
        button = widgets.Button(description="Stop", button_style="danger", icon="stop")
        log_view = widgets.Textarea(value="", layout={"width": "100%", "height": "140px"}, disabled=True)
        button.on_click(lambda _: self.stop())
        curves = _LiveCurves(keys, title=str(self.run_dir))

        def refresh() -> bool:
            new = self.poll()
            if new:
                curves.extend(new)
                step = max(int(r.get("step", 0)) for r in new) + 1
                bar.max = max(bar.max, self.total_steps or step)
                bar.value = min(step, bar.max)
            log_view.value = self.tail()
            alive = self.running
            status.value = (
                f"running, {len(self.records)} records"
                if alive
                else f"{'stopped' if self.stopped else 'exited'} with code {self.returncode}"
            )
            button.disabled = not alive
            return alive

        def loop() -> None:
            while refresh():
                time.sleep(poll_s)

        threading.Thread(target=loop, daemon=True, name=f"live-launch-{self.pid}").start()
        return widgets.VBox([widgets.HBox([bar, status, button]), curves.view, log_view])


class _LiveCurves:
    """Curves of some metric keys that grow as records arrive: a plotly ``FigureWidget`` when ``anywidget`` is
    installed, otherwise an ``ipywidgets.Output`` redrawn with :func:`lvr1kit.plots.metric_curves`."""

    def __init__(self, keys: Sequence[str], title: str) -> None:
        import ipywidgets as widgets
        import plotly.graph_objects as go

        self.keys = list(keys)
        self.records: list[dict[str, Any]] = []
        self.fig: Any = None
        try:
            self.fig = go.FigureWidget(
                data=[go.Scatter(x=[], y=[], mode="lines+markers", name=k) for k in self.keys],
                layout={"height": 300, "margin": {"l": 40, "r": 10, "t": 40, "b": 30}, "title": title},
            )
            self.view: Any = self.fig
        except ImportError:  # plotly's FigureWidget needs anywidget; redraw a static figure instead
            self.view = widgets.Output()
        self.title = title

    def extend(self, new: list[dict[str, Any]]) -> None:
        self.records += new
        if self.fig is not None:
            with self.fig.batch_update():
                for trace, key in zip(self.fig.data, self.keys, strict=True):
                    points = [(r["step"], r[key]) for r in new if isinstance(r.get(key), int | float)]
                    trace.x = (*trace.x, *(p[0] for p in points))
                    trace.y = (*trace.y, *(p[1] for p in points))
            return
        from IPython.display import display

        from lvr1kit.plots import metric_curves

        with self.view:
            self.view.clear_output(wait=True)
            display(metric_curves(self.records, self.keys, title=self.title))


def launch_in_notebook(
    module: str,
    args: Sequence[str],
    run_dir: str | os.PathLike[str],
    *,
    nproc: int,
    total_steps: int | None = None,
    keys: Sequence[str] = ("loss/sft", "reward/total"),
    env: dict[str, str] | None = None,
) -> LiveLaunch:
    """Start ``module`` under torchrun in the background and display its live widget; returns the handle.

    Typical cell, after ``runs.start(run_dir, cfg, "rl")`` wrote the resolved config::

        job = launch_in_notebook("lvr1kit.rl.train", ["--run-dir", run_dir], run_dir, nproc=2,
                                 total_steps=cfg.steps, keys=["reward/total", "loss/kl"])

    ``job.wait()`` blocks until the job ends, ``job.stop()`` (or the Stop button) ends it. The CLI keeps
    :func:`launch_torchrun` (streamed output).
    """
    full_env = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc)), **(env or {})}
    job = LiveLaunch(torchrun_command(module, args, nproc=nproc), run_dir, env=full_env, total_steps=total_steps)
    job.start()
    try:
        from IPython.display import display

        display(job.widget(keys))
    except ImportError:
        log.info("IPython is not available; follow %s and %s", job.metrics_path, job.log_path)
    return job
