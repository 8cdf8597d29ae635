"""Model cost benchmark: vision encode, LM prefill and generation time and peak memory per frame count.

Contents:
    - ``run_model_bench``: for each frame count, build a video of random frames, encode it once (vision tower),
      prefill the LM with the cached embeddings, and generate a fixed number of tokens; time each phase and
      sample the process's resident memory. These are the single-process numbers MR-SP is judged against.

Timings are wall-clock medians over ``repeats`` runs after one warm-up call at the smallest frame count; the
model is a tiny random-init one (``--size``) unless ``--model-path`` points at a real checkpoint folder.
"""

from __future__ import annotations

import logging
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch

from lvr1kit.models import (
    LoadedModel,
    build_messages,
    build_prompt_inputs,
    build_tiny_model,
    build_video_inputs,
    collate_prompts,
    compute_flops_per_token,
    encode_video,
    format_question,
    forward_logits,
    generate,
    load_model,
    prompt_version_of,
    render_prompt,
    save_tiny_model,
    video_settings,
)

logger = logging.getLogger(__name__)

__all__ = ["run_model_bench"]


@contextmanager
def _peak_rss(interval_s: float = 0.005) -> Iterator[dict[str, float]]:
    """Sample this process's RSS in a thread; yields a dict whose ``peak_mb`` is filled on exit."""
    process, stop, result = psutil.Process(), threading.Event(), {"peak_mb": 0.0}
    peak = [process.memory_info().rss]

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            stop.wait(interval_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak_mb"] = max(peak[0], process.memory_info().rss) / 2**20


def _median_time_s(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _bench_one(
    loaded: LoadedModel, num_frames: int, *, frame_size: int, new_tokens: int, repeats: int, seed: int
) -> dict[str, Any]:
    settings = video_settings(loaded.family, max_frames=max(num_frames, 1))
    frames = np.random.default_rng(seed).integers(0, 256, (num_frames, frame_size, frame_size, 3), dtype=np.uint8)
    video = build_video_inputs(frames, [i * 2.0 for i in range(num_frames)], settings)
    question = format_question("Which zone does the red agent visit first?", ["NW", "NE", "SW", "SE"])
    text = render_prompt(loaded.tokenizer, build_messages(question, version=prompt_version_of(loaded.tokenizer)))
    prompt = build_prompt_inputs(loaded.tokenizer, text, video, max_prompt_tokens=1 << 30)
    batch = collate_prompts([prompt], loaded.tokenizer.pad_token_id)
    with _peak_rss() as rss:
        encode_s = _median_time_s(lambda: encode_video(loaded.model, video), repeats)
        embeds = [encode_video(loaded.model, video)]
        with torch.no_grad():
            prefill_s = _median_time_s(
                lambda: forward_logits(loaded.model, batch, video_embeds=embeds, logits_to_keep=1), repeats
            )
        generate_s = _median_time_s(
            lambda: generate(
                loaded.model,
                batch,
                video_embeds=embeds,
                banned_token_ids=loaded.placeholder_token_ids,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
            ),
            repeats,
        )
    row = {
        "frames": num_frames,
        "frame_hw": [video.frame_height, video.frame_width],
        "video_tokens": prompt.num_video_tokens,
        "text_tokens": prompt.num_text_tokens,
        "vision_encode_s": round(encode_s, 4),
        "lm_prefill_s": round(prefill_s, 4),
        "generate_s": round(generate_s, 4),
        "new_tokens": new_tokens,
        "peak_rss_mb": round(rss["peak_mb"], 1),
    }
    logger.info("bench %s", row)
    return row


def run_model_bench(
    frame_counts: Sequence[int] = (64, 256, 512, 1024),
    *,
    size: str = "bench",
    family: str = "qwen2_5_vl",
    model_path: str | Path | None = None,
    frame_size: int = 56,
    new_tokens: int = 64,
    repeats: int = 1,
    seed: int = 0,
    work_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Benchmark encode / prefill / generate per frame count; returns a JSON-ready dict.

    Args:
        frame_counts: Frame counts to measure, each a separate video of random ``frame_size`` square frames.
        size: Tiny preset to build when ``model_path`` is not given.
        family: Family of the tiny model.
        model_path: A checkpoint folder to benchmark instead of a tiny model.
        frame_size: Side of the square frames in pixels (before Qwen's resize rule).
        new_tokens: Tokens generated per measurement (eos is suppressed until then).
        repeats: Timed runs per phase; the median is reported.
        seed: Seed of the tiny model and of the random frames.
        work_dir: Where the tiny model is saved (and loaded back from, like a real one); a temp dir if None.
    """
    import tempfile

    given_path = model_path
    with tempfile.TemporaryDirectory() as tmp:
        if model_path is None:
            model, tokenizer = build_tiny_model(family, size, seed=seed)  # type: ignore[arg-type]
            model_path = save_tiny_model(model, tokenizer, Path(work_dir or tmp) / f"{family}_{size}")
        loaded = load_model(model_path)
        _bench_one(loaded, min(frame_counts), frame_size=frame_size, new_tokens=2, repeats=1, seed=seed)  # warm-up
        rows = [
            _bench_one(loaded, n, frame_size=frame_size, new_tokens=new_tokens, repeats=repeats, seed=seed)
            for n in frame_counts
        ]
    config = loaded.model.config
    return {
        "model": {
            "path": str(given_path) if given_path is not None else None,
            "family": loaded.family,
            "size": None if given_path is not None else size,
            "parameters": sum(p.numel() for p in loaded.model.parameters()),
            "vision_parameters": sum(p.numel() for p in loaded.model.model.visual.parameters()),
            "dtype": str(next(loaded.model.parameters()).dtype).removeprefix("torch."),
            **compute_flops_per_token(config),
        },
        "settings": {"frame_size": frame_size, "new_tokens": new_tokens, "repeats": repeats, "seed": seed},
        "machine": {
            "torch_threads": torch.get_num_threads(),
            "cpu_count": psutil.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "results": rows,
    }
