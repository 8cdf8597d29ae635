"""GRPO rollouts for the inspector: incremental ``rollouts.jsonl`` reading, prompt groups, filters, curves' data.

Contents:
    - ``list_runs``: run folders under the runs root holding a ``rollouts.jsonl`` (relative names).
    - ``RolloutLog``: a file read incrementally (only bytes appended since the last call; a torn last line waits).
    - ``load_rollouts``: the process-wide ``RolloutLog`` of a run (so each refresh reads only what is new).
    - ``Group``: the G completions of one prompt at one step, with ``zero_variance`` and ``format_failures``.
    - ``group_rollouts`` / ``filter_groups`` / ``sort_samples``: group, filter (correct / incorrect, format failures,
      zero-variance groups) and order completions.
    - ``run_videos_dir``: the folder a run's ``video`` paths are relative to (from its ``config.yaml``).

Row format: written by :mod:`lvr1kit.rl.rollout_log` (one object per completion). Keys used here:
``step``, ``group``, ``sample``, ``problem_id``, ``video``, ``problem_type``, ``frames``, ``frame_times_s``,
``prompt``, ``answer`` (gold letter), ``completion``, ``finish_reason``, ``response_len``, ``reward``,
``accuracy``, ``format``, ``parse_ok``, ``advantage``, ``in_loss``. Missing optional keys read as ``None``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lvr1kit.review.paths import relative_to_root, resolve_under
from lvr1kit.rewards import extract_choice

__all__ = [
    "Group",
    "RolloutLog",
    "extracted_answer",
    "filter_groups",
    "group_rollouts",
    "list_runs",
    "load_rollouts",
    "run_videos_dir",
    "sort_samples",
]

log = logging.getLogger(__name__)
_MAX_DEPTH = 5


def list_runs(runs_root: str | os.PathLike[str], marker: str = "rollouts.jsonl") -> list[str]:
    """Folders under ``runs_root`` (up to 5 levels, no symlinks) that hold ``marker``, relative and sorted."""
    root = Path(runs_root).resolve()
    found: list[str] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        if (folder / marker).is_file():
            found.append(folder.relative_to(root).as_posix() or ".")
        if depth >= _MAX_DEPTH:
            continue
        try:
            children = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink() and p.name[0] not in "._"]
        except OSError:
            continue
        stack += [(p, depth + 1) for p in children if p.name not in ("checkpoints", "answers", "cache")]
    return sorted(found)


class RolloutLog:
    """``rollouts.jsonl`` read incrementally: :meth:`refresh` parses only lines appended since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        self.bad_lines = 0
        self._offset = 0
        self._lock = threading.Lock()

    def refresh(self) -> list[dict[str, Any]]:
        """Read what was appended; a shrunk file (rewritten) is read again from the start. Returns all rows."""
        with self._lock:
            if not self.path.is_file():
                return self.rows
            size = self.path.stat().st_size
            if size < self._offset:
                self.rows, self._offset, self.bad_lines = [], 0, 0
            if size == self._offset:
                return self.rows
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read(size - self._offset)
            end = chunk.rfind(b"\n") + 1  # a line without its newline is still being written
            for line in chunk[:end].splitlines():
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    self.bad_lines += 1
                    continue
                if isinstance(row, dict) and "step" in row:
                    self.rows.append(row)
                else:
                    self.bad_lines += 1
            self._offset += end
            if self.bad_lines:
                log.warning("%s: %d lines are not rollout records", self.path, self.bad_lines)
            return self.rows


_LOGS: dict[str, RolloutLog] = {}
_LOGS_LOCK = threading.Lock()


def load_rollouts(runs_root: str | os.PathLike[str], run: str) -> RolloutLog:
    """The refreshed log of ``<runs_root>/<run>/rollouts.jsonl`` (traversal refused)."""
    path = resolve_under(runs_root, Path(run) / "rollouts.jsonl")
    with _LOGS_LOCK:
        rollout_log = _LOGS.setdefault(str(path), RolloutLog(path))
    rollout_log.refresh()
    return rollout_log


@dataclass
class Group:
    """One prompt's completions at one step."""

    step: int
    group: int
    samples: list[dict[str, Any]]

    @property
    def first(self) -> dict[str, Any]:
        """The first sample (prompt, video and gold answer are the same for all)."""
        return self.samples[0]

    @property
    def rewards(self) -> list[float]:
        """Rewards in sample order."""
        return [float(s.get("reward") or 0.0) for s in self.samples]

    @property
    def zero_variance(self) -> bool:
        """All rewards equal: every advantage is 0 and the group teaches nothing."""
        return len(set(self.rewards)) <= 1

    @property
    def format_failures(self) -> int:
        """Completions whose format reward is below 1 or whose answer did not parse."""
        return sum(1 for s in self.samples if (s.get("format") or 0) < 1 or s.get("parse_ok") is False)

    @property
    def accuracy(self) -> float:
        """Mean accuracy of the group."""
        return sum(float(s.get("accuracy") or 0) for s in self.samples) / max(1, len(self.samples))


def group_rollouts(rows: Iterable[dict[str, Any]], step: int | None = None) -> list[Group]:
    """Rows grouped by ``(step, group)`` (one step if given), samples in order."""
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for row in rows:
        if step is not None and row.get("step") != step:
            continue
        groups.setdefault((int(row["step"]), int(row.get("group", 0))), []).append(row)
    return [Group(s, g, sorted(rows_, key=lambda r: r.get("sample", 0))) for (s, g), rows_ in sorted(groups.items())]


def filter_groups(
    groups: Sequence[Group], *, zero_variance: bool = False, format_failures: bool = False
) -> list[Group]:
    """Groups with all rewards equal (``zero_variance``) and/or with a format failure (``format_failures``)."""
    out = list(groups)
    if zero_variance:
        out = [g for g in out if g.zero_variance]
    if format_failures:
        out = [g for g in out if g.format_failures]
    return out


def extracted_answer(sample: dict[str, Any]) -> str | None:
    """The letter the shared answer parser reads from the completion (what the accuracy reward saw)."""
    options = str(sample.get("prompt") or "").count("\n") or 4
    return extract_choice(str(sample.get("completion") or ""), num_options=max(2, min(options, 10)))


def sort_samples(samples: Sequence[dict[str, Any]], *, outcome: str = "all", order: str = "sample") -> list[dict]:
    """Completions filtered by ``outcome`` (``all``, ``correct``, ``incorrect``, ``format failure``) and ordered by
    ``sample``, ``reward``, ``advantage`` or ``length`` (the last three highest first)."""
    keep = list(samples)
    if outcome == "correct":
        keep = [s for s in keep if (s.get("accuracy") or 0) >= 1]
    elif outcome == "incorrect":
        keep = [s for s in keep if (s.get("accuracy") or 0) < 1]
    elif outcome == "format failure":
        keep = [s for s in keep if (s.get("format") or 0) < 1 or s.get("parse_ok") is False]
    keys = {"reward": "reward", "advantage": "advantage", "length": "response_len"}
    if order in keys:
        return sorted(keep, key=lambda s: -float(s.get(keys[order]) or 0))
    return sorted(keep, key=lambda s: s.get("sample", 0))


def run_videos_dir(runs_root: str | os.PathLike[str], run: str, roots: Sequence[str | os.PathLike[str]]) -> Path | None:
    """The folder a run's ``video`` paths are relative to, if it lies under one of ``roots``.

    Read from ``<run>/config.yaml``: ``videos_dir``, else the ``world`` folder next to ``train_file``'s
    ``dataset`` folder, else ``<run>/data/world`` (a run that made its own data).
    """
    folder = resolve_under(runs_root, run)
    config: dict[str, Any] = {}
    path = folder / "config.yaml"
    if path.is_file():
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            log.warning("%s: %s", path, err)
    candidates: list[Path] = []
    if config.get("videos_dir"):
        candidates.append(Path(config["videos_dir"]))
    if config.get("train_file"):
        candidates.append(Path(config["train_file"]).parent.parent / "world")
    candidates += [folder / "data" / "world", folder / "world", folder / "videos"]
    for candidate in candidates:
        candidate = candidate if candidate.is_absolute() else Path.cwd() / candidate
        if candidate.is_dir() and relative_to_root(roots, candidate) is not None:
            return candidate.resolve()
    return None
