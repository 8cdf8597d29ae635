"""Answer a benchmark with a local checkpoint: batched generation over an on-disk, resumable answer cache.

Contents:
    - ``load_benchmark``: a benchmark file through the data importers -> records, malformed rows reported.
    - ``model_fingerprint``: a content hash of a checkpoint folder (config, weights, tokenizer files).
    - ``budget_video_config``: the ``VideoConfig`` one video gets under a frame budget and a sampling scheme.
    - ``AnswerSettings``: everything an answer depends on besides the question; its ``key`` names the cache file,
      and its ``record`` is the reproducibility record written into every result file.
    - ``AnswerCache``: ``<cache_dir>/<key>.jsonl``, one row per answered question, appended after every batch.
    - ``answer_benchmark``: answer every pending question, one ``encode_video`` per video reused by all its
      questions, a failing video (``VideoError``) or an over-long prompt recorded as an ``error`` row.
    - ``run_model``: one loaded model's answers for every seed of an ``EvalConfig``, rows tagged with the model.

Resuming: rows already in the cache file are skipped; a torn last line (a killed writer) is ignored; rows with an
``error`` are retried (a missing video may have been fixed) and their newer row wins, so the answers come back
with one row per question however often a run was interrupted.

Deviations from the paper:
1. The paper's evaluator runs a VILA model through lmms-eval; here HF ``generate`` on cached video embeddings with
   the shared prompt template and frame sampler (the lmms-eval route is :mod:`lvr1kit.eval.lmms`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from lvr1kit.config import DecodingConfig, EvalConfig, ModelConfig, VideoConfig
from lvr1kit.data.importers import ImportIssue, import_file
from lvr1kit.data.schema import QARecord
from lvr1kit.eval.scoring import SCORER_VERSION
from lvr1kit.models import (
    PROMPT_VERSION,
    LoadedModel,
    PromptBudgetError,
    collate_prompts,
    encode_video,
    generate,
    prompt_version_of,
)
from lvr1kit.models.examples import build_question_prompt, load_video_inputs, settings_from_config
from lvr1kit.models.prompt import PROMPT_VERSION_KEY
from lvr1kit.mrsp.cache import video_fingerprint
from lvr1kit.video import VideoError, probe

__all__ = [
    "AnswerCache",
    "AnswerSettings",
    "answer_benchmark",
    "budget_video_config",
    "load_benchmark",
    "model_fingerprint",
    "run_model",
]

log = logging.getLogger(__name__)

_MODEL_FILES = (".json", ".safetensors", ".bin", ".model", ".txt", ".jinja")


def load_benchmark(
    path: str | os.PathLike[str], fmt: str, limit: int | None = None
) -> tuple[list[QARecord], list[ImportIssue]]:
    """Records of a benchmark file (first ``limit``), with the malformed rows the importer skipped.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: Unknown format, or not one usable row (the message shows the first issues).
    """
    result = import_file(path, fmt)
    for issue in result.issues[:20]:
        log.warning("%s row %d skipped: %s", path, issue.row, issue.problem)
    if not result.records:
        shown = "; ".join(f"row {i.row}: {i.problem}" for i in result.issues[:3])
        raise ValueError(f"{path}: no usable {fmt} rows ({shown or 'empty file'}); check benchmark_format")
    ids = [str(r.problem_id) for r in result.records]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate problem_id values; ids key the answer cache and must be unique")
    return result.records[:limit] if limit else result.records, result.issues


def model_fingerprint(path: str | os.PathLike[str]) -> str:
    """Hash (sha256, 16 hex digits) of a checkpoint folder's config, weight and tokenizer files.

    Each file enters through :func:`lvr1kit.mrsp.cache.video_fingerprint` (size plus first and last MiB, the whole
    file up to 2 MiB), so a 15 GB checkpoint is fingerprinted in milliseconds.

    Raises:
        FileNotFoundError: The folder holds no model files.
    """
    root = Path(path)
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _MODEL_FILES)
    if not files:
        raise FileNotFoundError(f"{root}: no model files (config.json, *.safetensors); is it a checkpoint folder?")
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.relative_to(root).as_posix()}:{video_fingerprint(file)}\n".encode())
    return digest.hexdigest()[:16]


def budget_video_config(video: VideoConfig, strategy: str, frames: int, duration_s: float) -> VideoConfig:
    """The sampling one video gets under a frame budget: at most ``frames`` frames, by ``strategy``.

    - ``uniform``: exactly ``frames`` frames spread over the video;
    - ``fps``: ``video.target_fps`` with ``frames`` as the cap (short videos get fewer frames);
    - ``per_clip``: ``video.clip_seconds`` clips with ``frames // clips`` frames each (at least one per clip).

    >>> v = budget_video_config(VideoConfig(clip_seconds=10), "per_clip", 32, 95.0)
    >>> v.strategy, v.frames_per_clip
    ('per_clip', 3)
    """
    base = video.model_dump() | {"strategy": strategy, "max_frames": max(frames, video.max_frames)}
    if strategy == "uniform":
        return VideoConfig(**base | {"num_frames": frames})
    if strategy == "fps":
        return VideoConfig(**base | {"max_frames": frames, "num_frames": min(video.num_frames, frames)})
    if strategy == "per_clip":
        clips = max(1, math.ceil(duration_s / video.clip_seconds))
        return VideoConfig(**base | {"frames_per_clip": max(1, frames // clips)})
    raise ValueError(f"unknown sampling strategy {strategy!r}; use uniform, fps or per_clip")


@dataclass(frozen=True)
class AnswerSettings:
    """What an answer depends on besides the question: together with the question id, the cache key."""

    model_path: str
    model_hash: str
    family: str
    video: dict[str, Any]
    frame_budget: int | None
    min_pixels: int | None
    max_pixels: int | None
    max_frames: int
    max_prompt_tokens: int
    prompt_version: str
    decoding: dict[str, Any]
    seed: int
    scorer_version: str = SCORER_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Cache file stem: sha256 of every setting except the path (moving a folder keeps its answers)."""
        parts = {k: v for k, v in asdict(self).items() if k not in ("model_path", "scorer_version", "extra")}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]

    @property
    def record(self) -> dict[str, Any]:
        """The reproducibility record written into result files."""
        return asdict(self) | {"cache_key": self.key}

    @classmethod
    def build(
        cls,
        model_path: str | os.PathLike[str],
        model: ModelConfig,
        video: VideoConfig,
        decoding: DecodingConfig,
        seed: int,
        *,
        frame_budget: int | None = None,
        family: str | None = None,
        prompt_version: str | None = None,
    ) -> AnswerSettings:
        """Settings of one run of one model (``frame_budget`` set: ``video.strategy`` under that budget)."""
        return cls(
            model_path=str(model_path),
            model_hash=model_fingerprint(model_path),
            family=family or model.family,
            video=video.model_dump(),
            frame_budget=frame_budget,
            min_pixels=model.min_pixels,
            max_pixels=model.max_pixels,
            max_frames=model.max_frames,
            max_prompt_tokens=model.max_prompt_tokens,
            prompt_version=prompt_version or _declared_prompt_version(model_path),
            decoding=decoding.model_dump()
            if decoding.do_sample
            else {"do_sample": False, "max_new_tokens": decoding.max_new_tokens},
            seed=seed,
        )


def _declared_prompt_version(model_path: str | os.PathLike[str]) -> str:
    """The prompt version a checkpoint's ``tokenizer_config.json`` declares (``PROMPT_VERSION`` if none)."""
    config = Path(model_path) / "tokenizer_config.json"
    declared = json.loads(config.read_text()).get(PROMPT_VERSION_KEY) if config.is_file() else None
    return str(declared or PROMPT_VERSION)


class AnswerCache:
    """Answers of one :class:`AnswerSettings` in ``<root>/<key>.jsonl`` (settings in ``<key>.settings.json``)."""

    def __init__(self, root: str | os.PathLike[str], settings: AnswerSettings) -> None:
        self.root = Path(root)
        self.settings = settings
        self.path = self.root / f"{settings.key}.jsonl"
        self.root.mkdir(parents=True, exist_ok=True)
        meta = self.root / f"{settings.key}.settings.json"
        if not meta.exists():
            meta.write_text(json.dumps(settings.record, indent=1, default=str) + "\n")

    def load(self) -> dict[str, dict[str, Any]]:
        """Question id -> its latest row; a torn (killed mid-write) line is skipped."""
        rows: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return rows
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                log.warning(
                    "%s:%d: torn line skipped (a killed run); the question is answered again", self.path, number
                )
                continue
            rows[str(row["id"])] = row
        return rows

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append rows and flush them to disk (one batch at a time, so a kill loses at most a batch)."""
        torn = False
        if self.path.exists() and self.path.stat().st_size > 0:
            with self.path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                torn = fh.read(1) != b"\n"
        with self.path.open("a", encoding="utf-8") as fh:
            if torn:  # a killed writer left half a line: end it, or the next row would be glued onto it
                fh.write("\n")
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _question_row(record: QARecord) -> dict[str, Any]:
    return {
        "id": str(record.problem_id),
        "video": record.videos,
        "gold": record.answer_letter,
        "category": record.problem_type,
        "num_options": len(record.options),
        "duration_s": record.video_duration_s,
    }


def _video_config_for(
    path: Path, record: QARecord, settings: AnswerSettings, durations: dict[str, float]
) -> VideoConfig:
    video = VideoConfig(**settings.video)
    if settings.frame_budget is None:
        return video
    duration = 0.0
    if video.strategy == "per_clip":  # only per-clip budgets depend on the duration
        if record.videos not in durations:
            durations[record.videos] = record.video_duration_s or probe(path, backend=video.backend).duration_s
        duration = durations[record.videos]
    return budget_video_config(video, video.strategy, settings.frame_budget, duration)


def answer_benchmark(
    loaded: LoadedModel,
    records: Sequence[QARecord],
    videos_dir: str | os.PathLike[str],
    settings: AnswerSettings,
    cache_dir: str | os.PathLike[str],
    *,
    batch_size: int = 8,
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Answer every question not yet in the cache; return one row per record (cache order = ``records`` order).

    Rows: ``id``, ``video``, ``gold``, ``category``, ``num_options``, ``duration_s``, ``output``, ``error``,
    ``frames`` (sampled), ``video_tokens``.
    """
    cache = AnswerCache(cache_dir, settings)
    done = {qid: row for qid, row in cache.load().items() if not row.get("error")}
    pending = sorted((r for r in records if str(r.problem_id) not in done), key=lambda r: r.videos)
    root = Path(videos_dir)
    vsettings = settings_from_config(ModelConfig(**_model_fields(settings)), loaded.family)
    embeds: dict[str, tuple[torch.Tensor, Any] | str] = {}
    durations: dict[str, float] = {}
    bar = tqdm(total=len(records), initial=len(records) - len(pending), desc="answers", unit="q", disable=not progress)
    for start in range(0, len(pending), batch_size):
        batch = pending[start : start + batch_size]
        rows: list[dict[str, Any]] = []
        prompts: list[Any] = []
        row_of_prompt: list[int] = []
        video_embeds: list[torch.Tensor] = []
        for video in {r.videos for r in batch} - set(embeds):  # encode each video once for all its questions
            first = next(r for r in batch if r.videos == video)
            try:
                vcfg = _video_config_for(root / video, first, settings, durations)
                inputs = load_video_inputs(root / video, vcfg, vsettings)
                embeds[video] = (encode_video(loaded.model, inputs), inputs)
            except (VideoError, ValueError) as err:
                log.warning("video %s failed: %s", video, err)
                embeds[video] = f"video: {err}"
        for record in batch:
            row = _question_row(record) | {"output": "", "error": None, "frames": None, "video_tokens": None}
            cached = embeds[record.videos]
            if isinstance(cached, str):
                row["error"] = cached
            else:
                emb, inputs = cached
                row |= {"frames": inputs.num_input_frames, "video_tokens": int(emb.shape[1])}
                try:
                    prompt = build_question_prompt(
                        loaded.tokenizer, record.problem, inputs, max_prompt_tokens=settings.max_prompt_tokens
                    )
                except PromptBudgetError as err:
                    row["error"] = f"prompt: {err}"
                else:
                    row_of_prompt.append(len(rows))
                    prompts.append(prompt)
                    video_embeds.append(emb)
            rows.append(row)
        if prompts:
            for i, text in zip(row_of_prompt, _generate(loaded, prompts, video_embeds, settings, start), strict=True):
                rows[i]["output"] = text
        cache.append(rows)
        keep = {r.videos for r in pending[start + batch_size : start + 2 * batch_size]}
        embeds = {v: e for v, e in embeds.items() if v in keep}  # drop embeddings no later question needs
        bar.update(len(batch))
        if on_batch is not None:
            on_batch(start // batch_size)
    bar.close()
    answered = cache.load()
    return [answered[str(r.problem_id)] for r in records]


def _model_fields(settings: AnswerSettings) -> dict[str, Any]:
    keys = ("family", "min_pixels", "max_pixels", "max_frames", "max_prompt_tokens")
    return {k: getattr(settings, k) for k in keys}


def _generate(
    loaded: LoadedModel, prompts: list[Any], embeds: list[torch.Tensor], settings: AnswerSettings, offset: int
) -> list[str]:
    decoding = DecodingConfig(**settings.decoding)
    batch = collate_prompts(prompts, loaded.tokenizer.pad_token_id)
    ids = generate(
        loaded.model,
        batch,
        video_embeds=embeds,
        banned_token_ids=loaded.placeholder_token_ids,
        do_sample=decoding.do_sample,
        temperature=decoding.temperature,
        top_p=decoding.top_p,
        max_new_tokens=decoding.max_new_tokens,
        seed=settings.seed * 1_000_003 + offset,  # per batch, so a resumed run samples what the full run would
    )
    return [text.strip() for text in loaded.tokenizer.batch_decode(ids, skip_special_tokens=True)]


def run_model(
    cfg: EvalConfig,
    name: str,
    loaded: LoadedModel,
    records: list[QARecord],
    videos_dir: Path,
    cache_dir: Path,
    *,
    video: VideoConfig | None = None,
    frame_budget: int | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Answer ``records`` with one model for every seed; returns (rows, reproducibility records per seed)."""
    rows, records_out = [], []
    for seed in cfg.seeds:
        settings = AnswerSettings.build(
            loaded.path,
            cfg.model,
            video or cfg.video,
            cfg.decoding,
            seed,
            frame_budget=frame_budget,
            family=loaded.family,
            prompt_version=prompt_version_of(loaded.tokenizer),
        )
        log.info("%s seed %d: %d questions (cache %s)", name, seed, len(records), settings.key)
        answers = answer_benchmark(
            loaded, records, videos_dir, settings, cache_dir, batch_size=cfg.batch_size, progress=cfg.progress
        )
        rows += [a | {"model": name, "seed": seed, "cache_key": settings.key} for a in answers]
        records_out.append(settings.record)
    return rows, records_out
