"""The resumable data engine: videos -> clips -> captions -> QA -> parse -> filter -> split -> export + report.

Contents:
    - ``list_videos``: the input videos of a folder, sorted (their positions deal categories and shards).
    - ``QAGenerator``: protocol of a question generator (``generate(jobs) -> one QAUnit per video``).
    - ``build_qa_generator``: the generator a config asks for (template or LLM).
    - ``generate_dataset``: run every stage into an output folder and return the report.

Output folder (every file written through a temporary file and a rename)::

    world/                     the synthetic world, when ``videos_dir`` is None
    clips/<video>/             clip files (only with ``caption.write_clips``)
    timelines/<video>.json     stage 1-2 unit: clips with captions (skipped when present)
    qa/<video>.json            stage 3-4 unit: parsed records + parse failures with raw text (skipped when present)
    failures/<video>.json      why a video was skipped (unreadable, no captions); removed once it succeeds
    cache/llm/                 LLM replies keyed by (model, prompt hash, sampling params)
    dataset/{sft,rl,eval}.jsonl, dataset/dropped.jsonl, dataset/parse_failures.jsonl
    report.json                counts per stage, category and letter; failures by reason; seconds per stage

Resuming: a killed run restarted on the same folder skips every finished unit and re-derives the dataset from the
units, so the result equals an uninterrupted run's. Sharding: ``shard=(i, n)`` works on the videos whose index
is ``i`` mod ``n``; the dataset is only assembled when every video has a unit (see docs/data.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from lvr1kit.config import CATEGORIES, DataGenConfig
from lvr1kit.data.captioners import Captioner, CaptionError, VideoItem, build_captioner, build_timeline
from lvr1kit.data.filters import AnswerSampler, apply_filters, pass_rate_filter
from lvr1kit.data.io import write_json_atomic, write_jsonl_atomic, write_records
from lvr1kit.data.schema import QARecord, QAUnit, Timeline
from lvr1kit.data.split import export_splits, split_records
from lvr1kit.video import VideoError, probe, split_clips, write_clips

__all__ = ["VIDEO_SUFFIXES", "QAGenerator", "build_qa_generator", "generate_dataset", "list_videos"]

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v")
"""File endings taken as videos."""


class QAGenerator(Protocol):
    """Writes the questions of many videos; yields one unit per video as soon as it is finished."""

    name: str

    def generate(self, jobs: Sequence[tuple[VideoItem, Timeline]]) -> Iterator[QAUnit]:
        """One :class:`QAUnit` per job (in any order); ``complete=False`` units are retried on the next run."""
        ...


def list_videos(videos_dir: str | Path) -> list[VideoItem]:
    """Videos under ``videos_dir`` (recursive), sorted by relative path; partial and hidden files are skipped.

    Raises:
        FileNotFoundError: The folder does not exist.
    """
    root = Path(videos_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"videos_dir {root} is not a folder; pass --videos DIR or set videos_dir")
    paths = sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in VIDEO_SUFFIXES
        and p.is_file()
        and ".partial" not in p.name
        and not p.name.startswith(".")
    )
    return [VideoItem(p.resolve(), p.relative_to(root).as_posix(), i) for i, p in enumerate(paths)]


def build_qa_generator(cfg: DataGenConfig, out_dir: Path, source: str) -> QAGenerator:
    """The question generator named by ``cfg.qa.generator``."""
    if cfg.qa.generator == "template":
        from lvr1kit.data.qa_templates import TemplateQAGenerator

        return TemplateQAGenerator(cfg, source=source)
    from lvr1kit.data.qa_llm import LLMQAGenerator

    return LLMQAGenerator(cfg, cache_dir=out_dir / "cache" / "llm", source=source)


def _failure_path(out: Path, video: VideoItem) -> Path:
    return out / "failures" / f"{video.key}.json"


def _record_failure(out: Path, video: VideoItem, stage: str, reason: str, detail: str) -> None:
    logger.warning("%s: %s failed (%s): %s", video.rel, stage, reason, detail)
    write_json_atomic(
        _failure_path(out, video), {"video": video.rel, "stage": stage, "reason": reason, "detail": detail}
    )


def _caption_stage(
    cfg: DataGenConfig, out: Path, videos: list[VideoItem], stats: Counter[str], captioner: list[Captioner]
) -> None:
    """Stages 1-2: clip plan (and files), captions, timeline unit per video."""
    for video in tqdm(videos, desc="captions", unit="video", disable=not cfg.progress):
        unit = out / "timelines" / f"{video.key}.json"
        if unit.exists():
            stats["timelines_skipped"] += 1
            continue
        try:
            info = probe(video.path, backend=cfg.video.backend)
            clips = split_clips(video.path, cfg.video.clip_seconds, backend=cfg.video.backend)
        except VideoError as err:
            _record_failure(out, video, "clips", "video_unreadable", str(err))
            stats["videos_unreadable"] += 1
            continue
        if cfg.caption.write_clips and not (out / "clips" / video.key / ".done").exists():
            write_clips(video.path, out / "clips" / video.key, cfg.video.clip_seconds)
            (out / "clips" / video.key / ".done").touch()
        stats["clips"] += len(clips)
        if not captioner:
            captioner.append(build_captioner(cfg))  # loaded lazily: a finished stage never loads the VLM
        try:
            captions = captioner[0].caption(video, clips)
        except CaptionError as err:
            _record_failure(out, video, "captions", "caption_failed", str(err))
            stats["caption_failed"] += 1
            continue
        timeline = build_timeline(video, info.duration_s, clips, captions, captioner[0], cfg.video.clip_seconds)
        write_json_atomic(unit, timeline.model_dump(mode="json"))
        _failure_path(out, video).unlink(missing_ok=True)
        stats["timelines_written"] += 1


def _qa_stage(cfg: DataGenConfig, out: Path, videos: list[VideoItem], stats: Counter[str], source: str) -> None:
    """Stages 3-4: question generation and parsing, one unit per video."""
    jobs = []
    for video in videos:
        timeline_path = out / "timelines" / f"{video.key}.json"
        if (out / "qa" / f"{video.key}.json").exists():
            stats["qa_skipped"] += 1
        elif timeline_path.exists():
            jobs.append((video, Timeline.model_validate_json(timeline_path.read_text())))
    if not jobs:
        return
    generator = build_qa_generator(cfg, out, source)
    by_rel = {v.rel: v for v, _ in jobs}
    for unit in tqdm(
        generator.generate(jobs), total=len(jobs), desc="questions", unit="video", disable=not cfg.progress
    ):
        video = by_rel[unit.video]
        if not unit.complete:  # no unit written: the next run asks again (cached replies cost nothing)
            stats["qa_incomplete"] += 1
            _record_failure(out, video, "qa", unit.failures[-1].reason, unit.failures[-1].detail)
            continue
        write_json_atomic(out / "qa" / f"{video.key}.json", unit.model_dump(mode="json"))
        _failure_path(out, video).unlink(missing_ok=True)
        stats["qa_written"] += 1
    stats.update(getattr(generator, "stats", {}))


def _distribution(records: Sequence[QARecord]) -> dict[str, Any]:
    letters = Counter(r.answer_letter for r in records)
    total = max(1, len(records))
    return {
        "count": len(records),
        "categories": {c: sum(r.problem_type == c for r in records) for c in CATEGORIES},
        "letters": dict(sorted(letters.items())),
        "letter_share": {k: round(v / total, 4) for k, v in sorted(letters.items())},
        "question_types": dict(sorted(Counter(r.question_type for r in records).items())),
    }


def _assemble(
    cfg: DataGenConfig, out: Path, videos: list[VideoItem], sampler: AnswerSampler | None
) -> dict[str, Any] | None:
    """Stages 5-6 over every video's unit; ``None`` while some video (another shard) is unfinished."""
    units, pending = [], []
    failures: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    for video in videos:
        qa_path, fail_path = out / "qa" / f"{video.key}.json", _failure_path(out, video)
        if qa_path.exists():
            units.append(QAUnit.model_validate_json(qa_path.read_text()))
        elif fail_path.exists():
            failure = json.loads(fail_path.read_text())
            failures[failure["reason"]] += 1
            examples.append(failure)
        else:
            pending.append(video.rel)
    if pending:
        logger.info("%d videos have no unit yet (other shards?); dataset not assembled", len(pending))
        return None
    records = [r for u in units for r in u.records]
    parse_failures = [f for u in units for f in u.failures]
    failures.update(f.reason for f in parse_failures)
    filtered = apply_filters(records, cfg.filter)
    if cfg.filter.pass_rate_samples and sampler is not None:
        passed = pass_rate_filter(filtered.kept, sampler, cfg.filter.pass_rate_samples)
        filtered.kept, filtered.dropped = passed.kept, filtered.dropped + passed.dropped
    ratio = cfg.filter.max_balance_ratio if cfg.filter.balance_letters else None
    splits = split_records(filtered.kept, cfg.split, ratio)
    dataset = out / "dataset"
    written = export_splits(splits, dataset)
    write_jsonl_atomic(
        dataset / "dropped.jsonl",
        ({"reason": d.reason, "detail": d.detail, **d.record.model_dump(mode="json")} for d in filtered.dropped),
    )
    write_jsonl_atomic(dataset / "parse_failures.jsonl", (f.model_dump(mode="json") for f in parse_failures))
    write_records(dataset / "all.jsonl", [r for name in ("sft", "rl", "eval") for r in splits[name]])
    return {
        "generated": _distribution(records),
        "filter": {"in": len(records), "kept": len(filtered.kept), "dropped": filtered.counts},
        "splits": {name: _distribution(splits[name]) for name in written},
        "all": _distribution(filtered.kept),
        "failures": dict(failures),
        "failure_examples": examples[:10] + [f.model_dump(mode="json") for f in parse_failures[:10]],
        "files": {name: str(dataset / f"{name}.jsonl") for name in written},
    }


def generate_dataset(
    cfg: DataGenConfig,
    out_dir: str | Path,
    *,
    shard: tuple[int, int] = (0, 1),
    sampler: AnswerSampler | None = None,
) -> dict[str, Any]:
    """Run stages 1-6 into ``out_dir`` (resumable) and write ``report.json``.

    Args:
        cfg: The data stage config.
        out_dir: Output folder (a run dir); a rerun on the same folder resumes.
        shard: ``(i, n)``: caption and question only the videos with index ``i`` mod ``n``.
        sampler: Answer sampler of a model for the pass-rate filter (used when ``filter.pass_rate_samples > 0``).

    Returns:
        The report (also written to ``<out_dir>/report.json``); ``report["dataset"]`` is ``None`` while other
        shards are unfinished.
    """
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= i < n (e.g. --shard 0/4)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    stats: Counter[str] = Counter()
    start = time.perf_counter()
    if cfg.videos_dir is None:
        from lvr1kit.video.synth import generate_world

        videos_dir, source = out / "world", "synthetic"
        generate_world(videos_dir, cfg.num_videos, cfg.world, progress=cfg.progress)
    else:
        videos_dir, source = Path(cfg.videos_dir), Path(cfg.videos_dir).name
    videos = list_videos(videos_dir)
    mine = [v for v in videos if v.index % count == index]
    seconds["videos"] = time.perf_counter() - start
    start = time.perf_counter()
    _caption_stage(cfg, out, mine, stats, [])
    seconds["captions"] = time.perf_counter() - start
    start = time.perf_counter()
    _qa_stage(cfg, out, mine, stats, source)
    seconds["qa"] = time.perf_counter() - start
    start = time.perf_counter()
    dataset = _assemble(cfg, out, videos, sampler)
    seconds["filter_split_export"] = time.perf_counter() - start
    report = {
        "videos_dir": str(videos_dir),
        "videos": len(videos),
        "shard": f"{index}/{count}",
        "videos_in_shard": len(mine),
        "stages": dict(sorted(stats.items())),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "dataset": dataset,
    }
    write_json_atomic(out / ("report.json" if count == 1 else f"report.shard{index}of{count}.json"), report)
    return report
