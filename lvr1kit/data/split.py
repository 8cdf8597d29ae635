"""Split records into SFT, RL and held-out eval sets, and export them as JSONL.

Contents:
    - ``SPLITS``: ``("sft", "rl", "eval")``, the exported file stems.
    - ``split_records``: held-out eval *videos* first (so no eval video is ever trained on), then SFT / RL by
      fraction, stratified by category and answer letter.
    - ``export_splits``: write ``<out>/<split>.jsonl`` for every split (atomic) and return the counts.

Deterministic: every choice is a hash of ``split.seed`` and the video path or ``problem_id``, so the same records
give the same splits whatever their input order, shard layout or resume history.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from lvr1kit.config import SplitConfig
from lvr1kit.data.filters import balance, interleave
from lvr1kit.data.io import write_records
from lvr1kit.data.schema import QARecord

__all__ = ["SPLITS", "export_splits", "split_records"]

SPLITS: tuple[str, ...] = ("sft", "rl", "eval")


def _rank(seed: int, text: str) -> str:
    return hashlib.sha256(f"{seed}\x1f{text}".encode()).hexdigest()


def _sorted(records: list[QARecord]) -> list[QARecord]:
    return sorted(records, key=lambda r: (r.videos, str(r.problem_id)))


def split_records(
    records: Sequence[QARecord], cfg: SplitConfig, balance_ratio: float | None = None
) -> dict[str, list[QARecord]]:
    """Assign records to ``sft``, ``rl`` and ``eval``.

    ``cfg.eval_videos`` videos (the lowest hashes) go to eval, capped at ``cfg.eval_per_category`` questions per
    category with answer letters kept even; their other questions are dropped, never trained on. Each category of
    the remaining records is interleaved by answer letter and its first ``sft_fraction`` goes to SFT, the rest to RL.
    With ``balance_ratio``, the eval set's letters are capped at that ratio (few videos can skew them).

    Raises:
        ValueError: When the held-out videos would leave no training video.
    """
    videos = sorted({r.videos for r in records}, key=lambda v: _rank(cfg.seed, v))
    if videos and cfg.eval_videos and len(videos) <= cfg.eval_videos:
        raise ValueError(
            f"split.eval_videos={cfg.eval_videos} but only {len(videos)} videos have questions; "
            "lower split.eval_videos or generate more videos"
        )
    held_out = set(videos[: cfg.eval_videos])
    eval_by_cat: dict[str, list[QARecord]] = defaultdict(list)
    train_by_cat: dict[str, list[QARecord]] = defaultdict(list)
    for record in records:
        (eval_by_cat if record.videos in held_out else train_by_cat)[record.problem_type].append(record)
    out: dict[str, list[QARecord]] = {name: [] for name in SPLITS}
    for category, members in eval_by_cat.items():
        ordered = interleave(members, lambda r: r.answer_letter, salt=f"eval{cfg.seed}{category}")
        out["eval"] += ordered[: cfg.eval_per_category] if cfg.eval_per_category else ordered
    if balance_ratio is not None and out["eval"]:
        out["eval"] = balance(out["eval"], lambda r: r.answer_letter, balance_ratio, reason="eval_letter_balance").kept
    for category, members in train_by_cat.items():
        ordered = interleave(members, lambda r: r.answer_letter, salt=f"train{cfg.seed}{category}")
        num_sft = round(len(ordered) * cfg.sft_fraction)
        out["sft"] += ordered[:num_sft]
        out["rl"] += ordered[num_sft:]
    return {name: _sorted(members) for name, members in out.items()}


def export_splits(splits: dict[str, list[QARecord]], out_dir: str | os.PathLike[str]) -> dict[str, int]:
    """Write ``<out_dir>/<split>.jsonl`` for every split; returns records written per split."""
    return {name: write_records(Path(out_dir) / f"{name}.jsonl", splits.get(name, [])) for name in SPLITS}
