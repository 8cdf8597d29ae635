"""Eval results for the app: discover eval runs, combine their tidy tables across runs, drill down per question.

Contents:
    - ``list_eval_runs``: run folders under the runs root with ``table.parquet`` or ``table.csv``.
    - ``read_table``: one run's tidy table (parquet, else CSV); ``combined_table``: several runs, models renamed
      ``<run>:<model>`` (baselines kept once), for per-category bars with CIs across runs.
    - ``combined_sweep``: the frame-scaling tables (``sweep.*``) of several runs, strategies prefixed by the run.
    - ``read_scored``: one row per (model, seed, question) with the output, parsed letter and scores.
    - ``benchmark_records``: the benchmark's questions (``results.json`` ``benchmark.file``) when under a root.

Files read (written by :mod:`lvr1kit.eval.evaluate`): ``results.json``, ``table.{parquet,csv}``,
``scored.{parquet,csv}``, ``sweep.{parquet,csv}``. Tables of a run still being written are read as they are
(a missing or half-written file reads as empty).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from lvr1kit.data.io import read_jsonl
from lvr1kit.data.schema import QARecord
from lvr1kit.review.paths import relative_to_root, resolve_under
from lvr1kit.review.rollouts import list_runs

__all__ = [
    "benchmark_records",
    "combined_sweep",
    "combined_table",
    "list_eval_runs",
    "read_results",
    "read_scored",
    "read_table",
]

log = logging.getLogger(__name__)


def list_eval_runs(runs_root: str | os.PathLike[str]) -> list[str]:
    """Eval run folders (relative to ``runs_root``): those holding ``table.parquet`` or ``table.csv``."""
    return sorted(set(list_runs(runs_root, "table.parquet")) | set(list_runs(runs_root, "table.csv")))


def _read_frame(folder: Path, stem: str) -> pd.DataFrame:
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            try:
                return reader(path)
            except (OSError, ValueError) as err:  # half-written while a run is still going
                log.warning("%s unreadable (%s); trying the next format", path, err)
    return pd.DataFrame()


def read_table(runs_root: str | os.PathLike[str], run: str) -> pd.DataFrame:
    """The tidy table of an eval run (empty when missing)."""
    return _read_frame(resolve_under(runs_root, run), "table")


def read_scored(runs_root: str | os.PathLike[str], run: str) -> pd.DataFrame:
    """The per-question scored rows of an eval run (empty when missing)."""
    return _read_frame(resolve_under(runs_root, run), "scored")


def read_results(runs_root: str | os.PathLike[str], run: str) -> dict[str, Any]:
    """``results.json`` of an eval run (``{}`` when missing or unreadable)."""
    path = resolve_under(runs_root, run) / "results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _prefixed(frame: pd.DataFrame, run: str, column: str, keep: str = "") -> pd.DataFrame:
    frame = frame.copy()
    named = ~frame[column].astype(str).str.startswith(keep) if keep else pd.Series(True, index=frame.index)
    frame.loc[named, column] = run + ":" + frame.loc[named, column].astype(str)
    return frame


def combined_table(runs_root: str | os.PathLike[str], runs: Sequence[str]) -> pd.DataFrame:
    """Tidy tables of several runs; models named ``<run>:<model>`` when more than one run is given."""
    frames = []
    for run in runs:
        table = read_table(runs_root, run)
        if table.empty or "model" not in table:
            continue
        frames.append(_prefixed(table, run, "model", keep="baseline:") if len(runs) > 1 else table)
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out.drop_duplicates(subset=[c for c in ("model", "group_type", "group", "metric") if c in out])


def combined_sweep(runs_root: str | os.PathLike[str], runs: Sequence[str]) -> pd.DataFrame:
    """Frame-scaling tables of several runs (``strategy`` prefixed by the run when more than one)."""
    frames = []
    for run in runs:
        sweep = _read_frame(resolve_under(runs_root, run), "sweep")
        if sweep.empty or "strategy" not in sweep:
            continue
        frames.append(_prefixed(sweep, run, "strategy") if len(runs) > 1 else sweep)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def benchmark_records(
    runs_root: str | os.PathLike[str], run: str, roots: Sequence[str | os.PathLike[str]]
) -> dict[str, QARecord]:
    """The benchmark questions of an eval run by id, when its file lies under one of ``roots`` (else empty)."""
    file = read_results(runs_root, run).get("benchmark", {}).get("file")
    if not file:
        return {}
    path = Path(file) if Path(file).is_absolute() else Path.cwd() / file
    if relative_to_root(roots, path) is None or not path.is_file():
        log.info("benchmark %s is not under the served roots; drill-down shows ids only", file)
        return {}
    records = {}
    for _, row, _error in read_jsonl(path):
        if row is None:
            continue
        try:
            record = QARecord.model_validate(row)
        except ValueError:
            continue
        records[str(record.problem_id)] = record
    return records
