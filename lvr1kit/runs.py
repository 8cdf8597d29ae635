"""Run directories: one folder per stage holding its resolved config, metrics and summary.

Layout of a stage's run dir, written by :func:`start` before any work and by :func:`finish` after it::

    <run_dir>/
      config.yaml      the fully resolved stage config (every field, defaults included)
      meta.json        stage name, config class, start time, host, versions, git commit
      metrics.jsonl    one JSON object per logged step (``{"step": 3, "loss/policy": 0.12, ...}``)
      summary.json     ``{"status": "running" | "done" | "failed", ...key results}``

Restarting a stage in the same run dir with the same config resumes it (metrics are appended); with a
different config it is refused, naming the keys that differ, so results from two settings never mix.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import platform
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from lvr1kit.config import dump_config

__all__ = ["Run", "RunError", "finish", "read_metrics", "read_summary", "start", "write_json_atomic"]

log = logging.getLogger(__name__)


class RunError(RuntimeError):
    """A run dir cannot be used as asked (config mismatch, unreadable files)."""


@dataclass(frozen=True)
class Run:
    """Handle on a stage's run dir."""

    dir: Path
    stage: str

    @property
    def config_path(self) -> Path:
        return self.dir / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.dir / "summary.json"

    def log(self, step: int, **metrics: float | int | str | None) -> None:
        """Append one metrics record (namespaced keys, e.g. ``loss/policy``) to ``metrics.jsonl``."""
        record = {"step": step, "time": _now(), **{k: _jsonable(v) for k, v in metrics.items()}}
        with self.metrics_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    def path(self, *parts: str) -> Path:
        """A path inside the run dir (parent folders created)."""
        target = self.dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf; keep them visible rather than crash or drop
    if hasattr(value, "item"):  # numpy / torch scalars
        return _jsonable(value.item())
    return value


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("lvr1kit", "torch", "transformers", "numpy", "decord", "av"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _diff_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [d for k in keys for d in _diff_keys(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [f"{prefix[:-1]}: {old!r} -> {new!r}"]


def start(run_dir: str | Path, cfg: BaseModel, stage: str) -> Run:
    """Create (or resume) a stage's run dir and write its resolved config before any work starts.

    Raises:
        RunError: when the dir already holds a different config for this stage.
    """
    run = Run(Path(run_dir), stage)
    run.dir.mkdir(parents=True, exist_ok=True)
    resolved = dump_config(cfg)
    if run.config_path.exists():
        old = yaml.safe_load(run.config_path.read_text())
        diffs = _diff_keys(old, yaml.safe_load(resolved))
        if diffs:
            raise RunError(
                f"{run.config_path} holds a different config ({'; '.join(diffs[:5])}); "
                "use another run_dir, or delete this one to start over"
            )
        log.info("resuming %s stage in %s", stage, run.dir)
    run.config_path.write_text(resolved)
    meta = {
        "stage": stage,
        "config_class": type(cfg).__name__,
        "started": _now(),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "versions": _versions(),
        "git_commit": _git_commit(),
    }
    write_json_atomic(run.dir / "meta.json", meta)
    run.metrics_path.touch()
    write_json_atomic(run.summary_path, {"stage": stage, "status": "running", "started": meta["started"]})
    return run


def finish(run: Run, summary: dict[str, Any], status: str = "done") -> dict[str, Any]:
    """Write ``summary.json`` with the stage's key results and its final status; returns what was written."""
    record = {"stage": run.stage, "status": status, "finished": _now(), **summary}
    write_json_atomic(run.summary_path, {k: _jsonable(v) for k, v in record.items()})
    return record


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """The ``summary.json`` of a stage run dir (``{}`` when the stage never started)."""
    path = Path(run_dir) / "summary.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RunError(f"{path} is not valid JSON ({err}); rerun the stage") from err


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """All records of a stage's ``metrics.jsonl``; a torn last line (a killed writer) is skipped."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    records = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise RunError(f"{path}:{i + 1} is not valid JSON; the file was edited or corrupted") from None
            log.warning("skipping torn last line of %s", path)
    return records
