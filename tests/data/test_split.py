"""Splits: held-out eval videos, SFT/RL fractions, determinism, export."""

from __future__ import annotations

import pytest

from lvr1kit.config import SplitConfig
from lvr1kit.data.io import read_records
from lvr1kit.data.schema import QARecord
from lvr1kit.data.split import export_splits, split_records


def _records(num_videos: int = 12, per_video: int = 8) -> list[QARecord]:
    return [
        QARecord.build(
            problem_id=f"v{v}/{q}",
            question=f"Question {q} of video {v}?",
            options=["a", "b", "c", "d"],
            answer_letter="ABCD"[(v + q) % 4],
            videos=f"v{v}.mp4",
            problem_type=("temporal", "goal", "spatial", "plot")[q % 4],
        )
        for v in range(num_videos)
        for q in range(per_video)
    ]


def test_eval_videos_never_in_training() -> None:
    splits = split_records(_records(), SplitConfig(eval_videos=3, sft_fraction=1 / 3))
    eval_videos = {r.videos for r in splits["eval"]}
    assert len(eval_videos) == 3
    assert not eval_videos & {r.videos for r in splits["sft"] + splits["rl"]}
    train = len(splits["sft"]) + len(splits["rl"])
    assert train == 9 * 8 and len(splits["sft"]) == pytest.approx(train / 3, abs=4)


def test_split_ignores_input_order_and_caps_eval(tmp_path) -> None:
    cfg = SplitConfig(eval_videos=4, eval_per_category=3)
    records = _records()
    a = split_records(records, cfg)
    b = split_records(list(reversed(records)), cfg)
    assert {k: [r.problem_id for r in v] for k, v in a.items()} == {k: [r.problem_id for r in v] for k, v in b.items()}
    assert len(a["eval"]) == 12
    counts = export_splits(a, tmp_path)
    assert counts == {k: len(v) for k, v in a.items()}
    assert read_records(tmp_path / "rl.jsonl") == a["rl"]


def test_too_few_videos_is_explained() -> None:
    with pytest.raises(ValueError, match="lower split.eval_videos"):
        split_records(_records(num_videos=2), SplitConfig(eval_videos=2))
