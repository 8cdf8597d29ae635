"""``rollouts.jsonl``: every completion of every step with its prompt, video, frames, reward parts and advantage.

One JSON object per completion, appended by rank 0 after each step (all ranks' completions gathered)::

    {"step": 1, "group": 0, "sample": 2, "prompt_index": 0, "problem_id": "world_00000/1",
     "video": "world_00000.mp4", "problem_type": "goal", "frames": 32, "frame_times_s": [...],
     "prompt": "<question with options>", "answer": "A", "completion": "<think>...</think><answer>A</answer>",
     "finish_reason": "stop", "response_len": 17, "reward": 1.0, "accuracy": 1.0, "format": 1.0,
     "parse_ok": true, "advantage": 0.87, "in_loss": true}

``group`` is the question's position in the step (0 .. prompts_per_step-1, over all ranks) and ``sample`` the
completion's position in its group. The review app and ``lvr1kit.rl.browse`` read this file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["append_rollouts", "read_rollouts"]


def append_rollouts(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Append records as JSON lines; returns how many were written."""
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
    return len(lines)


def read_rollouts(path: str | Path, steps: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Records of ``rollouts.jsonl`` (optionally only some steps); a torn last line (killed writer) is skipped.

    Raises:
        FileNotFoundError: naming the file (run the rl stage with ``log_rollouts: true`` first).
        ValueError: a line other than the last is not JSON.
    """
    target = Path(path)
    if not target.is_file():
        raise FileNotFoundError(f"{target} not found; run the rl stage with log_rollouts=true to write it")
    lines = target.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                continue
            raise ValueError(f"{target}:{i + 1} is not valid JSON; the file was edited or corrupted") from None
        if steps is None or record["step"] in steps:
            out.append(record)
    return out
