"""Small run folders written by hand, in the trainer's and eval's formats: fixtures for tests and a try-out.

Contents:
    - ``write_sample_grpo_run``: ``config.yaml``, ``metrics.jsonl`` and ``rollouts.jsonl`` (2 steps x 2 groups x
      G=4, one zero-variance group, one format failure) over the records of a dataset.
    - ``write_sample_eval_run``: ``results.json``, ``table.csv``, ``scored.csv`` and ``sweep.csv`` for two models.

The row formats are those of :mod:`lvr1kit.rl.rollout_log` and :mod:`lvr1kit.eval.evaluate`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from lvr1kit.data.io import write_jsonl_atomic
from lvr1kit.data.schema import QARecord, format_timestamp

__all__ = ["write_sample_eval_run", "write_sample_grpo_run", "write_sample_roots"]


def _completion(record: QARecord, letter: str, well_formed: bool = True) -> str:
    start = record.evidence[0][0] if record.evidence else 3.0
    chain = f"At {format_timestamp(start)} the event happens; checking the options, {letter} fits."
    return f"<think>{chain}</think><answer>{letter}</answer>" if well_formed else f"I think it is {letter}."


def write_sample_grpo_run(run_dir: str | Path, records: Sequence[QARecord], videos_dir: str | Path) -> Path:
    """A finished 2-step GRPO run over the first two records (needs at least 2); returns ``run_dir``."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(f"stage: rl\nvideos_dir: {Path(videos_dir).resolve()}\n", encoding="utf-8")
    rows, metrics = [], []
    for step in (1, 2):
        rewards_all = []
        for group, record in enumerate(records[:2]):
            wrong = next(letter for letter in "ABCD" if letter != record.answer_letter)
            if group == 1 and step == 2:  # every completion wrong: a zero-variance group
                letters, formats = [wrong] * 4, [True] * 4
            else:
                letters, formats = [record.answer_letter, wrong, record.answer_letter, wrong], [True, True, True, False]
            rewards = [float(a == record.answer_letter) + 0.5 * f for a, f in zip(letters, formats, strict=True)]
            mean = sum(rewards) / 4
            std = (sum((r - mean) ** 2 for r in rewards) / 4) ** 0.5
            rewards_all += rewards
            for sample, (letter, fmt, reward) in enumerate(zip(letters, formats, rewards, strict=True)):
                completion = _completion(record, letter, fmt)
                rows.append(
                    {
                        "step": step,
                        "group": group,
                        "sample": sample,
                        "prompt_index": group,
                        "problem_id": record.problem_id,
                        "video": record.videos,
                        "problem_type": record.problem_type,
                        "frames": 8,
                        "frame_times_s": [round(3.0 + 5.5 * i, 3) for i in range(8)],
                        "prompt": record.problem,
                        "answer": record.answer_letter,
                        "completion": completion,
                        "finish_reason": "stop",
                        "response_len": len(completion.split()),
                        "reward": reward,
                        "accuracy": float(letter == record.answer_letter),
                        "format": float(fmt),
                        "parse_ok": fmt,
                        "advantage": 0.0 if std == 0 else (reward - mean) / std,
                        "in_loss": std > 0,
                    }
                )
        metrics.append(
            {
                "step": step,
                "reward/total": sum(rewards_all) / len(rewards_all),
                "reward/accuracy": 0.5 - 0.1 * (step - 1),
                "rollout/response_len": 14.0 + step,
            }
        )
    write_jsonl_atomic(run / "rollouts.jsonl", rows)
    write_jsonl_atomic(run / "metrics.jsonl", metrics)
    (run / "summary.json").write_text(json.dumps({"stage": "rl", "status": "done"}), encoding="utf-8")
    return run


def write_sample_eval_run(run_dir: str | Path, records: Sequence[QARecord], benchmark_file: str | Path) -> Path:
    """An eval run of two models over ``records`` with a frame sweep; returns ``run_dir``."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    scored = []
    for model, skill in (("sft", 0), ("sft_rl", 1)):
        for i, record in enumerate(records):
            right = (i + skill) % 2 == 0
            letter = record.answer_letter if right else next(x for x in "ABCD" if x != record.answer_letter)
            scored.append(
                {
                    "id": str(record.problem_id),
                    "gold": record.answer_letter,
                    "output": _completion(record, letter),
                    "parsed": letter,
                    "strict": int(right),
                    "lenient": int(right),
                    "format_ok": 1,
                    "model": model,
                    "seed": 0,
                    "category": record.problem_type,
                }
            )
    frame = pd.DataFrame(scored)
    table = []
    for model, part in frame.groupby("model"):
        groups = [("overall", "all", part)] + [("category", c, p) for c, p in part.groupby("category")]
        for group_type, group, rows in groups:
            value = float(rows["lenient"].mean())
            for metric in ("accuracy_lenient", "accuracy_strict"):
                table.append(
                    {
                        "model": model,
                        "group_type": group_type,
                        "group": group,
                        "metric": metric,
                        "n": len(rows),
                        "value": value,
                        "ci_low": max(0.0, value - 0.2),
                        "ci_high": min(1.0, value + 0.2),
                    }
                )
    sweep = []
    for frames in (8, 16, 32):
        for group_type, group in (("overall", "all"), ("category", "temporal")):
            value = 0.3 + 0.1 * frames.bit_length() / 6
            sweep.append(
                {
                    "model": "sft_rl",
                    "strategy": "uniform",
                    "frames": frames,
                    "group_type": group_type,
                    "group": group,
                    "metric": "accuracy_lenient",
                    "n": len(records),
                    "value": value,
                    "ci_low": value - 0.1,
                    "ci_high": value + 0.1,
                    "frames_used": float(frames),
                }
            )
    pd.DataFrame(table).to_csv(run / "table.csv", index=False)
    frame.to_csv(run / "scored.csv", index=False)
    pd.DataFrame(sweep).to_csv(run / "sweep.csv", index=False)
    results = {"benchmark": {"file": str(Path(benchmark_file).resolve())}, "models": {}}
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    return run


def write_sample_roots(root: str | Path, num_videos: int = 4) -> tuple[Path, Path]:
    """A data root with a tiny generated dataset and a runs root with a GRPO run and an eval run.

    Returns:
        ``(data_root, runs_root)``: ``<root>/data`` (dataset ``tiny``) and ``<root>/runs`` (``grpo``, ``eval``).
    """
    from lvr1kit.config import DataGenConfig, load_config
    from lvr1kit.data.generate import generate_dataset
    from lvr1kit.data.io import read_records

    base = Path(root)
    data_root, runs_root = base / "data", base / "runs"
    overrides = {"num_videos": num_videos, "split.eval_videos": 1, "qa.questions_per_video": 4, "progress": False}
    generate_dataset(load_config(DataGenConfig, "data/tiny", overrides), data_root / "tiny")
    dataset = data_root / "tiny" / "dataset"
    rl = read_records(dataset / "rl.jsonl") + read_records(dataset / "sft.jsonl")
    write_sample_grpo_run(runs_root / "grpo", rl, data_root / "tiny" / "world")
    write_sample_eval_run(runs_root / "eval", read_records(dataset / "eval.jsonl"), dataset / "eval.jsonl")
    return data_root, runs_root
