"""Greedy answers to held-out questions, scored with the shared answer parser, per category with Wilson CIs.

Contents:
    - ``answer_questions``: batched greedy generation for records (prompts from
      :func:`lvr1kit.models.examples.build_question_prompt`, videos cached or as pixels) -> ``Answer`` rows.
    - ``score_answers``: format rate (``strict_format_ok``), accuracy (``extract_choice`` == answer letter) overall
      and per ``problem_type``, each with a 95% Wilson interval.
    - ``wilson_interval``: the interval itself.
    - ``evaluate_held_out``: the stage's held-out questions answered by a checkpoint, written to the run dir.

The parser is :mod:`lvr1kit.rewards` (the one the accuracy reward uses), never a second one.

Deviations from the paper:
1. Only greedy decoding; the paper's eval also reports sampled answers and more frames at test time.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lvr1kit.config import ModelConfig, SFTConfig, VideoConfig
from lvr1kit.data.schema import QARecord
from lvr1kit.models import LoadedModel, collate_prompts, encode_video, generate
from lvr1kit.models.examples import build_question_prompt, load_video_inputs, settings_from_config
from lvr1kit.mrsp.cache import EmbeddingCache, vision_weights_version
from lvr1kit.rewards import extract_choice, strict_format_ok

__all__ = ["Answer", "answer_questions", "evaluate_held_out", "score_answers", "wilson_interval"]


@dataclass(frozen=True)
class Answer:
    """One generated answer and how the shared parser read it."""

    problem_id: str
    problem_type: str
    problem: str
    response: str
    choice: str | None
    answer_letter: str
    correct: bool
    format_ok: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wilson_interval(successes: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (``(0, 0)`` for no trials).

    >>> [round(x, 3) for x in wilson_interval(45, 100)]
    [0.356, 0.548]
    """
    if total == 0:
        return (0.0, 0.0)
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def answer_questions(
    loaded: LoadedModel,
    records: Sequence[QARecord],
    videos_dir: str | os.PathLike[str],
    video_cfg: VideoConfig,
    model_cfg: ModelConfig,
    *,
    max_new_tokens: int = 96,
    batch_size: int = 16,
    cache: EmbeddingCache | None = None,
) -> list[Answer]:
    """Greedy-decode an answer to every record and parse it with the shared parser.

    Args:
        loaded: The model and tokenizer (from :func:`lvr1kit.models.load_model`).
        records: Questions to answer.
        videos_dir: Folder the records' ``videos`` paths are relative to.
        video_cfg: Frame sampling (the same block training used).
        model_cfg: Prompt budget and pixel budgets (the ``model`` block training used).
        max_new_tokens: Longest response.
        batch_size: Questions per ``generate`` call.
        cache: With a cache, vision features are read from it (or encoded once and stored); else pixels are used.
    """
    settings = settings_from_config(model_cfg, loaded.family)
    max_prompt_tokens = model_cfg.max_prompt_tokens
    model, tokenizer = loaded.model, loaded.tokenizer
    version = vision_weights_version(model) if cache is not None else ""
    root = Path(videos_dir)
    answers: list[Answer] = []
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        prompts, embeds, pixels = [], [], []
        for record in chunk:
            path = root / record.videos
            video = load_video_inputs(path, video_cfg, settings)
            prompts.append(build_question_prompt(tokenizer, record.problem, video, max_prompt_tokens=max_prompt_tokens))
            if cache is None:
                pixels.append(video.pixel_values_videos)
                continue
            key = cache.key(path, video_cfg, settings, version)
            cached = cache.get(key)
            if cached is None:
                cached = encode_video(model, video)
                cache.put(key, cached)
            embeds.append(cached)
        batch = collate_prompts(prompts, int(tokenizer.pad_token_id))
        out = generate(
            model,
            batch,
            banned_token_ids=loaded.placeholder_token_ids,
            video_embeds=embeds if cache is not None else None,
            pixel_values_videos=torch.cat(pixels) if cache is None else None,
            max_new_tokens=max_new_tokens,
        )
        texts = tokenizer.batch_decode(out, skip_special_tokens=True)
        for record, text in zip(chunk, texts, strict=True):
            choice = extract_choice(text, num_options=len(record.options), options=record.options)
            answers.append(
                Answer(
                    problem_id=str(record.problem_id),
                    problem_type=record.problem_type,
                    problem=record.problem,
                    response=text,
                    choice=choice,
                    answer_letter=record.answer_letter,
                    correct=choice == record.answer_letter,
                    format_ok=strict_format_ok(text),
                )
            )
    return answers


def score_answers(answers: Sequence[Answer]) -> dict[str, Any]:
    """``eval/format_rate``, ``eval/accuracy`` and per-category accuracy, each with ``_ci95`` ``[low, high]``.

    >>> a = Answer("1", "spatial", "q", "<think>x</think> <answer>A</answer>", "A", "A", True, True)
    >>> score_answers([a])["eval/accuracy/spatial"]
    1.0
    """
    total = len(answers)
    correct = sum(a.correct for a in answers)
    formatted = sum(a.format_ok for a in answers)
    scores: dict[str, Any] = {
        "eval/n": total,
        "eval/accuracy": correct / total if total else 0.0,
        "eval/accuracy_ci95": list(wilson_interval(correct, total)),
        "eval/format_rate": formatted / total if total else 0.0,
        "eval/format_rate_ci95": list(wilson_interval(formatted, total)),
        "eval/parse_fail": sum(a.choice is None for a in answers),
    }
    for category in sorted({a.problem_type for a in answers}):
        chosen = [a for a in answers if a.problem_type == category]
        hits = sum(a.correct for a in chosen)
        scores[f"eval/n/{category}"] = len(chosen)
        scores[f"eval/accuracy/{category}"] = hits / len(chosen)
        scores[f"eval/accuracy/{category}_ci95"] = list(wilson_interval(hits, len(chosen)))
    return scores


def evaluate_held_out(
    cfg: SFTConfig,
    run_dir: str | os.PathLike[str],
    model_dir: str | os.PathLike[str],
    *,
    num_questions: int | None = None,
    tag: str = "after",
) -> tuple[list[Answer], dict[str, Any]]:
    """Answer the first ``num_questions`` (default ``cfg.eval_questions``) held-out questions with a checkpoint.

    Writes ``<run_dir>/eval_answers_<tag>.jsonl`` (one :class:`Answer` per line) and returns the answers and
    :func:`score_answers` of them; with no eval file configured, returns ``([], {})``.
    """
    from lvr1kit.data.io import read_records
    from lvr1kit.models import load_model
    from lvr1kit.sft.train import build_cache, resolve_data

    run_dir, model_dir = Path(run_dir), Path(model_dir)
    paths = resolve_data(cfg, run_dir)
    count = cfg.eval_questions if num_questions is None else num_questions
    if paths.eval_file is None or count == 0:
        return [], {}
    loaded = load_model(model_dir, dtype=cfg.model.dtype, device=cfg.model.device, family=cfg.model.family)
    records = read_records(paths.eval_file)[:count]
    answers = answer_questions(
        loaded,
        records,
        paths.videos_dir,
        cfg.video,
        cfg.model,
        max_new_tokens=cfg.eval_max_new_tokens,
        batch_size=cfg.eval_batch_size,
        cache=build_cache(cfg, run_dir),
    )
    out = Path(run_dir) / f"eval_answers_{tag}.jsonl"
    out.write_text("".join(json.dumps(a.as_dict()) + "\n" for a in answers))
    return answers, score_answers(answers)
