"""MR-SP benchmark: one GRPO step per frame count in three configurations, plus per-rank prefill memory.

Contents:
    - ``run_mrsp_bench``: the whole benchmark (what ``lvr1 bench mrsp`` calls); returns the JSON-ready report
      ``{"machine", "settings", "results", "memory"}``.
    - ``bench_step``: build a :class:`lvr1kit.rl.GRPOTrainer` on synthetic videos and time one step.
    - ``prefill_peak_mb``: peak memory of one log-prob forward + backward over a single long sequence (the prefill
      that Stage 2 shards), on one rank or sequence-parallel.
    - ``PeakMemory``: per-process peak above the starting point (RSS sampled in a thread on CPU;
      ``torch.cuda.max_memory_allocated`` on GPU).
    - ``bench_from_config`` / ``summarize_report``: what notebook 05 calls (read ``report`` or run the benchmark
      into the run dir; the ``summary.json`` values against the MR-SP targets).
    - ``main``: the torchrun worker (``python -m torch.distributed.run --nproc-per-node K -m lvr1kit.bench.mrsp
      --spec FILE``) that measures the ``stage1+sp`` rows and the K-rank memory ladder; one JSON per rank.

Configurations (one row per frame count and configuration):
    - ``baseline``: ``mrsp.encode_mode=baseline``, re-encodes every completion's video in every pass (TRL-style).
    - ``stage1``: encode each distinct video once per step and reuse the embeddings everywhere.
    - ``stage1+sp``: Stage 1 with frame-sharded encoding, rollouts split over the ranks and sequence-parallel
      log-prob passes (Stage 2) on K ranks (a torchrun subprocess).

``ideal_speedup`` of a row is what removing every redundant encode of the baseline would give, from the
baseline's own breakdown: ``baseline_step / (baseline_step - redundant)``, where ``redundant`` is the baseline's
vision-tower seconds times ``1 - distinct_videos / encoder_calls`` (every encode of one frame count costs the same).

Videos are random frames made in memory (no decoding: the data phase is prompt building only), so the numbers
isolate MR-SP. Deviations from the paper:
1. CPU, fp32, a tiny random-init model (``bench`` matches Qwen2.5-VL-7B's vision/LM FLOP ratio per video token),
   HF ``generate`` rollouts; the paper measured on A100s with vLLM rollouts.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import itertools
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch

from lvr1kit.config import BenchConfig, RLConfig, load_config
from lvr1kit.data.schema import QARecord
from lvr1kit.models import (
    build_messages,
    build_prompt_inputs,
    build_tiny_model,
    build_video_inputs,
    collate_prompts,
    encode_video,
    format_question,
    load_model,
    prompt_version_of,
    render_prompt,
    save_tiny_model,
    video_settings,
)
from lvr1kit.models.preprocess import VideoInputs
from lvr1kit.mrsp.dist import SPGroup, init_sp_group
from lvr1kit.mrsp.sp import enable_ulysses, sp_compute_logprobs
from lvr1kit.rl.trainer import GRPOTrainer

__all__ = [
    "PeakMemory",
    "bench_from_config",
    "bench_step",
    "main",
    "pin_malloc_for_measurement",
    "prefill_peak_mb",
    "run_mrsp_bench",
    "summarize_report",
]

log = logging.getLogger(__name__)

PHASES = ("data", "encode", "rollout", "reward", "old_logprob", "ref_logprob", "update")
CONFIGS = {"baseline": "baseline", "stage1": "stage1", "stage1+sp": "stage1"}
"""Row configuration -> ``mrsp.encode_mode``."""


def _trim() -> None:
    """Return freed heap to the OS so the next RSS baseline is not inflated by the previous measurement."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
_TENSOR_MMAP_BYTES = 64 * 1024


def pin_malloc_for_measurement() -> bool:
    """Make CPU RSS follow live tensors: glibc serves every block >= 64 KiB by ``mmap`` and trims freed heap.

    By default glibc raises its mmap threshold (up to 32 MiB) each time a large block is freed, so later tensors of
    that size come from the heap, which keeps freed memory resident: RSS then reports the heap's high-water mark and
    fragmentation, not live tensors. That slack is the same absolute size with 1 or k ranks, so it inflated the
    k-rank/1-rank prefill ratio (measured at 2048 frames: 0.67 with the default, 0.55 pinned; see LOG.md). Pinning
    makes the CPU number comparable to the GPU one (``torch.cuda.max_memory_allocated``). Process-wide and not
    undone (glibc cannot restore its dynamic threshold), and it makes allocation slower: the bench pins it only in
    the fresh processes that run its memory ladder (never where steps are timed). Returns ``False`` where the C
    library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, _TENSOR_MMAP_BYTES)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 0))


class PeakMemory:
    """Peak memory of this process above its level at ``__enter__`` (MB): RSS sampled on CPU, allocator on GPU."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s, self.peak_mb = interval_s, 0.0
        self._cuda = torch.cuda.is_available()
        self._stop = threading.Event()
        self._process = psutil.Process()

    def __enter__(self) -> PeakMemory:
        _trim()
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
            return self
        self._base = self._process.memory_info().rss
        self._peak = self._base
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc: object) -> None:
        if self._cuda:
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - self._base) / 2**20
            return
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        self.peak_mb = (self._peak - self._base) / 2**20


def _random_video(key: str, num_frames: int, frame_size: int, settings: Any) -> VideoInputs:
    seed = sum(key.encode()) * 7919 + num_frames
    frames = np.random.default_rng(seed).integers(0, 256, (num_frames, frame_size, frame_size, 3), dtype=np.uint8)
    return build_video_inputs(frames, [i * 2.0 for i in range(num_frames)], settings)


class _SyntheticTrainer(GRPOTrainer):
    """The real trainer with random in-memory frames instead of decoded files."""

    num_frames = 8
    frame_size = 56

    def _video(self, key: str) -> VideoInputs:
        if key not in self._pixels:
            self._pixels[key] = _random_video(key, self.num_frames, self.frame_size, self.settings)
        return self._pixels[key]


def _step_config(settings: dict[str, Any], model_path: str, frames: int, config: str, sp: int) -> RLConfig:
    g = settings["generations"]
    overrides = {
        "model.path": model_path,
        "model.max_prompt_tokens": 1 << 20,
        "model.max_frames": max(frames, 2048),
        "model.device": "cuda" if torch.cuda.is_available() else "cpu",
        "video.num_frames": frames,
        "video.max_frames": max(frames, 512),
        "prompts_per_step": settings["prompts"],
        "micro_batch_size": g,
        "updates_per_batch": 1,
        "grpo.num_generations": g,
        "grpo.max_response_tokens": settings["response_tokens"],
        "log_rollouts": False,
        "steps": 1,
        "seed": settings["seed"],
        "mrsp.encode_mode": CONFIGS[config],
        "mrsp.sp_size": sp,
    }
    return load_config(RLConfig, "rl/tiny", overrides)


def bench_step(settings: dict[str, Any], model_path: str, frames: int, config: str, sp: int = 1) -> dict[str, Any]:
    """Time one GRPO step of ``config`` at ``frames`` frames; returns one result row (without speedups)."""
    cfg = _step_config(settings, model_path, frames, config, sp)
    loaded = load_model(model_path, device=cfg.model.device)
    records = [
        QARecord.build(
            problem_id=f"bench/{i}",
            question=f"Which zone does agent {i} visit first?",
            options=["NW", "NE", "SW", "SE"],
            answer_letter="ABCD"[i % 4],
            videos=f"video{i}.mp4",  # one distinct video per prompt
            problem_type="spatial",
        )
        for i in range(settings["prompts"])
    ]
    _SyntheticTrainer.num_frames, _SyntheticTrainer.frame_size = frames, settings["frame_size"]
    trainer = _SyntheticTrainer(cfg, loaded, records, "/nonexistent-bench-videos")
    for it in trainer._next_items():  # frames are made before the step: the bench measures MR-SP, not decoding
        trainer._video(it.video_key)
    with PeakMemory() as mem:
        metrics = trainer.step()
    row = {
        "frames": frames,
        "config": config,
        "sp": sp,
        "video_tokens": next(iter(trainer._pixels.values())).num_video_tokens,
        "distinct_videos": int(metrics["mrsp/distinct_videos"]),
        "encoder_calls": int(metrics["mrsp/encoder_calls"]),
        "step_s": round(metrics["perf/step_s"], 4),
        "phases": {p: round(metrics[f"perf/{p}_s"], 4) for p in PHASES},
        "vision_tower_s": round(metrics["perf/vision_tower_s"], 4),
        "peak_mem_mb": round(mem.peak_mb, 1),
        "response_len": round(metrics["rollout/response_len"], 2),
        "loss": metrics["loss/total"],
    }
    log.info("mrsp bench %s", row)
    trainer.counter.remove()
    del trainer, loaded
    _trim()
    return row


def prefill_peak_mb(
    model: Any, tokenizer: Any, frames: int, settings: dict[str, Any], sp: SPGroup, video_settings_: Any
) -> float:
    """Peak memory (MB above the start) of one log-prob forward + backward over one ``frames``-frame sequence."""
    video = _random_video("prefill", frames, settings["frame_size"], video_settings_)
    question = format_question("Which zone does the red agent visit first?", ["NW", "NE", "SW", "SE"])
    text = render_prompt(tokenizer, build_messages(question, version=prompt_version_of(tokenizer)))
    prompt = build_prompt_inputs(tokenizer, text, video, max_prompt_tokens=1 << 20)
    batch = collate_prompts([prompt], tokenizer.pad_token_id)
    embeds = [encode_video(model, video, storage_device=str(next(model.parameters()).device))]
    gen = torch.Generator().manual_seed(settings["seed"])  # every SP rank must hold the same response
    response = torch.randint(10, 200, (1, settings["response_tokens"]), generator=gen)
    model.zero_grad(set_to_none=True)
    with PeakMemory() as mem:
        logp = sp_compute_logprobs(model, batch, response, video_embeds=embeds, sp_group=sp)
        logp.sum().backward()
    model.zero_grad(set_to_none=True)
    del logp, embeds
    return mem.peak_mb


def _memory_ladder(model_path: str, settings: dict[str, Any], sp: SPGroup) -> list[dict[str, Any]]:
    pin_malloc_for_measurement()  # the ladder runs in processes of its own (pinning slows allocation)
    loaded = load_model(model_path, device="cuda" if torch.cuda.is_available() else "cpu")
    loaded.model.model.visual.requires_grad_(False)
    if sp.size > 1:
        enable_ulysses(loaded.model)
    vs = video_settings(loaded.family, max_frames=max(settings["ladder"]))
    prefill_peak_mb(loaded.model, loaded.tokenizer, min(settings["ladder"]), settings, sp, vs)  # warm-up
    rows = []
    for frames in settings["ladder"]:
        peak = prefill_peak_mb(loaded.model, loaded.tokenizer, frames, settings, sp, vs)
        rows.append({"frames": frames, "peak_prefill_mb": round(peak, 1)})
        log.info("prefill memory sp=%d rank=%d %s", sp.size, sp.rank, rows[-1])
    return rows


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu_count": psutil.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _fits(ladder: list[dict[str, Any]], budget_mb: float) -> dict[str, Any]:
    """Largest measured frame count within ``budget_mb`` and a linear interpolation between ladder points."""
    fitting = [r["frames"] for r in ladder if r["peak_prefill_mb"] <= budget_mb]
    measured = max(fitting) if fitting else 0
    estimate = float(measured)
    for lo, hi in itertools.pairwise(ladder):
        if lo["peak_prefill_mb"] <= budget_mb < hi["peak_prefill_mb"]:
            share = (budget_mb - lo["peak_prefill_mb"]) / (hi["peak_prefill_mb"] - lo["peak_prefill_mb"])
            estimate = lo["frames"] + share * (hi["frames"] - lo["frames"])
    if ladder and ladder[-1]["peak_prefill_mb"] <= budget_mb:
        estimate = float(ladder[-1]["frames"])  # fits everything measured: a lower bound
    return {"max_frames_measured": measured, "max_frames_interp": round(estimate, 1)}


def _add_speedups(rows: list[dict[str, Any]]) -> None:
    base = {r["frames"]: r for r in rows if r["config"] == "baseline"}
    for row in rows:
        b = base.get(row["frames"])
        if row["config"] == "baseline" or b is None:
            continue
        redundant = b["vision_tower_s"] * (1 - b["distinct_videos"] / max(b["encoder_calls"], 1))
        row["speedup"] = round(b["step_s"] / row["step_s"], 3)
        row["ideal_speedup"] = round(b["step_s"] / max(b["step_s"] - redundant, 1e-9), 3)
        row["within_15pct_of_ideal"] = row["speedup"] >= 0.85 * row["ideal_speedup"]


def _launch_workers(
    settings: dict[str, Any], model_path: str, work: Path, nproc: int, part: str
) -> list[dict[str, Any]]:
    """Run ``part`` (``rows``: the stage1+sp steps; ``ladder``: the prefill-memory ladder) in ``nproc`` fresh
    torchrun processes; returns each rank's results. Fresh processes keep one measurement's heap out of another's."""
    spec = work / f"spec_{part}_{nproc}.json"
    out = work / f"{part}_{nproc}"
    out.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({"settings": settings, "model_path": model_path, "out": str(out), "part": part}))
    env = {**os.environ, "OMP_NUM_THREADS": str(settings["threads_per_process"])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
           "-m", "lvr1kit.bench.mrsp", "--spec", str(spec)]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"the {nproc}-rank bench worker ({part}) failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
        )
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(nproc)]


def run_mrsp_bench(
    frame_counts: Sequence[int] = (128, 256, 512, 1024, 2048),
    *,
    model: str = "bench",
    generations: int = 8,
    prompts: int = 2,
    response_tokens: int = 16,
    sp: int = 2,
    frame_size: int = 56,
    mem_budget_mb: float | None = None,
    ladder: Sequence[int] | None = None,
    seed: int = 0,
    warmup: bool = True,
    threads: int | None = None,
    work_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns ``{"machine", "settings", "results", "memory"}``.

    Args:
        frame_counts: Frames per video of the step rows.
        model: ``tiny`` / ``bench`` (random-init Qwen2.5-VL built here) or a local checkpoint folder.
        generations: G per prompt.
        prompts: Prompts per step, each with its own video.
        response_tokens: Maximum response length.
        sp: Ranks of the ``stage1+sp`` rows and of the memory ladder (1 skips both).
        frame_size: Square frame side in pixels (56: 4 video tokens per 2 frames).
        mem_budget_mb: Per-rank prefill budget; default the one-rank peak at half the largest ladder point.
        ladder: Frame counts of the prefill-memory ladder (default ``frame_counts``).
        seed: Seed of the model, the frames and the rollouts.
        warmup: Run one untimed step (per process) at 16 frames (or fewer) first.
        threads: torch threads of every process (each of the K ranks too); default ``cpu_count // sp``. On a
            shared CPU more threads than free cores slow small ops down several times (OpenMP spin-waits).
        work_dir: Where the tiny model and worker files go (a temporary folder when ``None``).
    """
    threads = threads or max(1, (os.cpu_count() or 1) // max(sp, 1))
    torch.set_num_threads(threads)
    settings = {
        "model": model,
        "threads_per_process": threads,
        "frames": list(frame_counts),
        "generations": generations,
        "prompts": prompts,
        "response_tokens": response_tokens,
        "sp": sp,
        "frame_size": frame_size,
        "ladder": sorted(ladder or frame_counts),
        "seed": seed,
        "warmup": warmup,
        "dtype": "float32",
        "cpu_memory": "RSS above the start; glibc mmap threshold pinned to 64 KiB for the prefill ladder",
    }
    machine = _machine()  # after set_num_threads: records the threads used
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        model_path = model
        if model in ("tiny", "bench"):
            policy, tokenizer = build_tiny_model("qwen2_5_vl", model, seed=seed)
            model_path = str(save_tiny_model(policy, tokenizer, work / f"model_{model}"))
        if warmup:  # kernels, allocator, thread pools
            bench_step(settings, model_path, min(min(frame_counts), 16), "stage1")
        rows = []
        for frames in frame_counts:
            for config in ("baseline", "stage1"):
                rows.append(bench_step(settings, model_path, frames, config))
        memory: dict[str, Any] = {"one_rank": _launch_workers(settings, model_path, work, 1, "ladder")[0]["ladder"]}
        if sp > 1:
            ranks = _launch_workers(settings, model_path, work, sp, "rows")
            for i, row in enumerate(ranks[0]["rows"]):
                row["peak_mem_mb_per_rank"] = [r["rows"][i]["peak_mem_mb"] for r in ranks]
                row["peak_mem_mb"] = max(row["peak_mem_mb_per_rank"])
                rows.append(row)
            ranks = _launch_workers(settings, model_path, work, sp, "ladder")
            memory[f"{sp}_ranks"] = [
                {**point, "peak_prefill_mb_per_rank": [r["ladder"][i]["peak_prefill_mb"] for r in ranks]}
                for i, point in enumerate(ranks[0]["ladder"])
            ]
            for point in memory[f"{sp}_ranks"]:
                point["peak_prefill_mb"] = max(point["peak_prefill_mb_per_rank"])
    rows.sort(key=lambda r: (r["frames"], list(CONFIGS).index(r["config"])))
    _add_speedups(rows)
    one = memory["one_rank"]
    if mem_budget_mb is None:  # what one rank needs at half the largest ladder point (or the nearest below it)
        below = [r for r in one if r["frames"] <= one[-1]["frames"] // 2] or one[:1]
        mem_budget_mb = below[-1]["peak_prefill_mb"]
    memory["budget_mb"] = mem_budget_mb
    memory["fits_one_rank"] = _fits(one, mem_budget_mb)
    if sp > 1:
        many = memory[f"{sp}_ranks"]
        memory[f"fits_{sp}_ranks"] = _fits(many, mem_budget_mb)
        memory["largest_frames"] = one[-1]["frames"]
        memory["prefill_ratio_at_largest"] = round(
            many[-1]["peak_prefill_mb"] / max(one[-1]["peak_prefill_mb"], 1e-9), 3
        )
        fit1 = memory["fits_one_rank"]["max_frames_interp"]
        memory["fit_growth"] = round(memory[f"fits_{sp}_ranks"]["max_frames_interp"] / fit1, 3) if fit1 else None
    machine["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    return {"machine": machine, "settings": settings, "results": rows, "memory": memory}


def bench_from_config(cfg: BenchConfig, run_dir: str | Path) -> dict[str, Any]:
    """The report named by ``cfg.report``, or a fresh run of the benchmark (saved to ``<run_dir>/mrsp_bench.json``).

    Raises:
        FileNotFoundError: ``cfg.report`` names a missing file.
    """
    out = Path(run_dir) / "mrsp_bench.json"
    if cfg.report is not None:
        path = Path(cfg.report)
        if not path.is_file():
            raise FileNotFoundError(f"report={path} not found; write one with `lvr1 bench mrsp --out FILE` or set null")
        report: dict[str, Any] = json.loads(path.read_text())
    else:
        report = run_mrsp_bench(
            cfg.frames,
            model=cfg.model,
            generations=cfg.generations,
            prompts=cfg.prompts,
            response_tokens=cfg.response_tokens,
            sp=cfg.sp,
            frame_size=cfg.frame_size,
            mem_budget_mb=cfg.mem_budget_mb,
            ladder=cfg.ladder,
            seed=cfg.seed,
            warmup=cfg.warmup,
            threads=cfg.threads,
            work_dir=Path(run_dir) / "work",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def summarize_report(report: dict[str, Any]) -> dict[str, Any]:
    """``summary.json`` values of a report: speedups vs ideal per frame count, encodes, memory ratios."""
    rows = report["results"]

    def by(config: str) -> dict[str, Any]:
        return {str(r["frames"]): r for r in rows if r["config"] == config}

    stage1, sp_rows = by("stage1"), by("stage1+sp")
    memory = report.get("memory", {})
    return {
        "frames": sorted({r["frames"] for r in rows}),
        "configs": list(dict.fromkeys(r["config"] for r in rows)),
        "stage1_speedup": {f: r.get("speedup") for f, r in stage1.items()},
        "stage1_sp_speedup": {f: r.get("speedup") for f, r in sp_rows.items()},
        "ideal_speedup": {f: r.get("ideal_speedup") for f, r in stage1.items()},
        "stage1_within_15pct_of_ideal": all(r.get("within_15pct_of_ideal", False) for r in stage1.values()),
        "encodes_equal_distinct_videos": all(
            r["encoder_calls"] == r["distinct_videos"] for r in rows if r["config"] != "baseline"
        ),
        "prefill_ratio_at_largest": memory.get("prefill_ratio_at_largest"),
        "fit_growth": memory.get("fit_growth"),
        "load_avg": [report["machine"].get("load_avg_start"), report["machine"].get("load_avg_end")],
    }


def main(argv: list[str] | None = None) -> None:
    """torchrun worker: this rank's ``stage1+sp`` rows (spec ``part: rows``) or prefill ladder (``part: ladder``;
    with one process, the one-rank ladder) to ``<out>/rank<r>.json``."""
    parser = argparse.ArgumentParser(description="MR-SP bench worker (launched by run_mrsp_bench)")
    parser.add_argument("--spec", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(args.spec).read_text())
    settings, model_path = spec["settings"], spec["model_path"]
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sp = init_sp_group(int(os.environ["WORLD_SIZE"]))
    try:
        result: dict[str, Any] = {}
        if spec["part"] == "rows":
            if settings["warmup"]:
                bench_step(settings, model_path, min(min(settings["frames"]), 16), "stage1+sp", sp.size)
            result["rows"] = [bench_step(settings, model_path, n, "stage1+sp", sp.size) for n in settings["frames"]]
        else:
            result["ladder"] = _memory_ladder(model_path, settings, sp)
        out = Path(spec["out"]) / f"rank{torch.distributed.get_rank()}.json"
        out.write_text(json.dumps(result))
    finally:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
