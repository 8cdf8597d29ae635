"""Datasets under the data root for review: discovery, loading (records, timelines, videos), queues and progress.

Contents:
    - ``DatasetRef``: a reviewable dataset version (``name`` = folder relative to the data root, ``version``).
    - ``Item``: one record to review with its split and, for dropped records, the filter's reason.
    - ``LoadedDataset``: items, timelines per video, the videos folder, the generation report.
    - ``list_datasets``: every data-stage output folder (``dataset/{sft,rl,eval}.jsonl``) and its exported versions.
    - ``load_dataset``: read one version (cached; re-read when a file changed, so a run still writing is picked up).
    - ``filter_queue`` / ``progress``: the annotator's queue and the reviewed / total counts per category.

Layout read (written by :mod:`lvr1kit.data.generate` and :func:`lvr1kit.review.store.export_version`)::

    <data root>/<name>/dataset/{sft,rl,eval,dropped}.jsonl   version v0
    <data root>/<name>/versions/vN/{sft,rl,eval}.jsonl       version vN
    <data root>/<name>/timelines/<video key>.json            clip captions
    <data root>/<name>/report.json                           ``videos_dir`` (else ``world/`` or ``videos/``)
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lvr1kit.data.io import read_jsonl
from lvr1kit.data.schema import QARecord, Timeline
from lvr1kit.review.paths import PathRefused, relative_to_root, resolve_under
from lvr1kit.review.store import SPLITS, ItemState

__all__ = [
    "DatasetRef",
    "Item",
    "LoadedDataset",
    "filter_choices",
    "filter_queue",
    "list_datasets",
    "load_dataset",
    "parse_label",
    "progress",
    "video_path",
]

log = logging.getLogger(__name__)

STATUSES: tuple[str, ...] = ("unreviewed", "accept", "reject", "edit", "skipped")
_MAX_DEPTH = 4


@dataclass(frozen=True)
class DatasetRef:
    """A dataset version: ``name`` is the folder relative to the data root, ``version`` ``v0`` or ``vN``."""

    name: str
    version: str

    @property
    def label(self) -> str:
        """``name`` for v0, ``name@vN`` otherwise (what the app's dropdown shows)."""
        return self.name if self.version == "v0" else f"{self.name}@{self.version}"


def parse_label(label: str) -> DatasetRef:
    """Inverse of :attr:`DatasetRef.label`.

    >>> parse_label("runs/demo/data@v2")
    DatasetRef(name='runs/demo/data', version='v2')
    """
    name, _, version = label.partition("@")
    return DatasetRef(name, version or "v0")


@dataclass(frozen=True)
class Item:
    """A record under review."""

    split: str
    """``sft``, ``rl``, ``eval`` or ``dropped`` (removed by a filter; shown, never exported)."""
    record: QARecord
    dropped_reason: str = ""
    """The filter's reason for dropped records (``dedup``, ``leakage``, ...)."""

    @property
    def item_id(self) -> str:
        """The record's ``problem_id`` as text."""
        return str(self.record.problem_id)


@dataclass
class LoadedDataset:
    """One dataset version in memory."""

    ref: DatasetRef
    dir: Path
    items: list[Item]
    timelines: dict[str, Timeline]
    videos_dir: Path | None
    report: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Rows that could not be read (``file:line: why``)."""

    def item(self, item_id: str) -> Item:
        """The item with this id.

        Raises:
            KeyError: naming the dataset.
        """
        for item in self.items:
            if item.item_id == item_id:
                return item
        raise KeyError(f"item {item_id!r} is not in {self.ref.label}; pick one from the queue")

    def timeline(self, video: str) -> Timeline | None:
        """The timeline of a video (records' ``videos`` path), if captioned."""
        return self.timelines.get(video.rsplit(".", 1)[0].replace("/", "__"))


def _is_dataset_dir(path: Path) -> bool:
    return any((path / "dataset" / f"{s}.jsonl").is_file() for s in SPLITS)


def list_datasets(data_root: str | os.PathLike[str]) -> list[DatasetRef]:
    """Every dataset version under ``data_root`` (folders up to 4 levels deep), sorted by name then version."""
    root = Path(data_root).resolve()
    found: list[DatasetRef] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        if _is_dataset_dir(folder):
            name = folder.relative_to(root).as_posix()
            found.append(DatasetRef(name, "v0"))
            versions = folder / "versions"
            if versions.is_dir():
                for vdir in versions.iterdir():
                    if vdir.name[1:].isdigit() and any((vdir / f"{s}.jsonl").is_file() for s in SPLITS):
                        found.append(DatasetRef(name, vdir.name))
            continue
        if depth >= _MAX_DEPTH:
            continue
        try:
            children = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            continue
        stack += [(p, depth + 1) for p in children if not p.is_symlink()]
    return sorted(found, key=lambda r: (r.name, int(r.version[1:])))


def _split_files(folder: Path, ref: DatasetRef) -> dict[str, Path]:
    base = folder / "dataset" if ref.version == "v0" else folder / "versions" / ref.version
    files = {s: base / f"{s}.jsonl" for s in SPLITS}
    if ref.version == "v0":
        files["dropped"] = base / "dropped.jsonl"
    return {s: p for s, p in files.items() if p.is_file()}


def _read_items(files: Mapping[str, Path], problems: list[str]) -> list[Item]:
    items = []
    for split, path in files.items():
        for number, row, error in read_jsonl(path):
            if row is None:
                problems.append(f"{path}:{number}: {error}")
                continue
            reason = str(row.pop("reason", "")) if split == "dropped" else ""
            row.pop("detail", None)
            try:
                items.append(Item(split, QARecord.model_validate(row), reason))
            except ValueError as err:
                problems.append(f"{path}:{number}: {err}")
    return items


def _videos_dir(folder: Path, report: dict[str, Any], roots: Sequence[Path]) -> Path | None:
    candidates = [Path(report["videos_dir"])] if report.get("videos_dir") else []
    candidates = [c if c.is_absolute() else folder / c for c in candidates]
    candidates += [folder / "world", folder / "videos"]
    for candidate in candidates:
        if candidate.is_dir() and relative_to_root(roots, candidate) is not None:
            return candidate.resolve()
    if candidates and candidates[0].is_dir():
        log.warning("videos of %s are in %s, outside the served roots; videos will not play", folder, candidates[0])
    return None


_CACHE: dict[tuple[str, str], tuple[tuple[Any, ...], LoadedDataset]] = {}


def _signature(files: Mapping[str, Path], folder: Path) -> tuple[Any, ...]:
    stamps: list[tuple[str, int, int] | tuple[str, int]] = [
        (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files.values()
    ]
    timelines = folder / "timelines"
    stamps.append(("timelines", timelines.stat().st_mtime_ns if timelines.is_dir() else 0))
    return tuple(stamps)


def load_dataset(
    data_root: str | os.PathLike[str], ref: DatasetRef, extra_roots: Sequence[str | os.PathLike[str]] = ()
) -> LoadedDataset:
    """Load a dataset version (cached until one of its files changes).

    Args:
        data_root: The data root; ``ref.name`` is resolved under it (traversal refused).
        ref: Which dataset and version.
        extra_roots: Other roots videos may live under (the runs root).

    Raises:
        PathRefused: ``ref.name`` escapes the data root.
        FileNotFoundError: no split files for that version (naming the folder).
    """
    folder = resolve_under(data_root, ref.name)
    files = _split_files(folder, ref)
    if not files:
        raise FileNotFoundError(f"{folder}: no sft/rl/eval.jsonl for version {ref.version}; run the data stage")
    key = (str(folder), ref.version)
    signature = _signature(files, folder)
    cached = _CACHE.get(key)
    if cached and cached[0] == signature:
        return cached[1]
    problems: list[str] = []
    items = _read_items(files, problems)
    timelines: dict[str, Timeline] = {}
    for path in sorted((folder / "timelines").glob("*.json")):
        try:
            timelines[path.stem] = Timeline.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as err:
            problems.append(f"{path}: {err}")
    report_path = folder / "report.json"
    report: dict[str, Any] = {}
    if report_path.is_file():
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            problems.append(f"{report_path}: {err}")
    roots = [Path(data_root).resolve(), *(Path(r).resolve() for r in extra_roots)]
    loaded = LoadedDataset(ref, folder, items, timelines, _videos_dir(folder, report, roots), report, problems)
    for problem in problems[:5]:
        log.warning("%s", problem)
    _CACHE[key] = (signature, loaded)
    return loaded


def video_path(dataset: LoadedDataset, item: Item) -> Path | None:
    """The item's video file, resolved inside the videos folder (``None`` when missing or refused)."""
    if dataset.videos_dir is None:
        return None
    try:
        path = resolve_under(dataset.videos_dir, item.record.videos)
    except PathRefused as err:
        log.warning("%s", err)
        return None
    return path if path.is_file() else None


def filter_queue(
    items: Sequence[Item],
    states: Mapping[str, ItemState],
    *,
    category: str = "all",
    status: str = "all",
    generator: str = "all",
    reason: str = "all",
) -> list[Item]:
    """Items matching every filter (``all`` = no filter); ``reason`` matches a dropped or a reject reason."""
    out = []
    for item in items:
        state = states.get(item.item_id, ItemState())
        if category not in ("all", item.record.problem_type):
            continue
        if status not in ("all", state.status):
            continue
        if generator not in ("all", item.record.generator or "(none)"):
            continue
        if reason != "all" and reason not in (item.dropped_reason, state.reason):
            continue
        out.append(item)
    return out


def filter_choices(items: Sequence[Item], states: Mapping[str, ItemState]) -> dict[str, list[str]]:
    """Values each queue filter can take in this dataset (``all`` first)."""
    reasons = {i.dropped_reason for i in items if i.dropped_reason} | {s.reason for s in states.values() if s.reason}
    return {
        "category": ["all", *sorted({i.record.problem_type for i in items})],
        "status": ["all", *STATUSES],
        "generator": ["all", *sorted({i.record.generator or "(none)" for i in items})],
        "reason": ["all", *sorted(reasons)],
    }


def progress(items: Sequence[Item], states: Mapping[str, ItemState]) -> dict[str, Any]:
    """Reviewed (any verdict but a lone skip) / total, overall and per category, plus counts per status."""
    per: dict[str, list[int]] = {}
    statuses: Counter[str] = Counter()
    for item in items:
        state = states.get(item.item_id, ItemState())
        statuses[state.status] += 1
        done = state.status not in ("unreviewed", "skipped")
        counts = per.setdefault(item.record.problem_type, [0, 0])
        counts[0] += int(done)
        counts[1] += 1
    reviewed = sum(c[0] for c in per.values())
    return {
        "reviewed": reviewed,
        "total": len(items),
        "per_category": {k: {"reviewed": v[0], "total": v[1]} for k, v in sorted(per.items())},
        "statuses": dict(statuses),
    }
