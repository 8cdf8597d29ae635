"""Captioners: oracle captions from the event log; the VLM captioner on the tiny Qwen2.5-VL (plumbing, batching)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvr1kit.config import DataGenConfig
from lvr1kit.data.captioners import OracleCaptioner, VideoItem, VLMCaptioner, build_timeline
from lvr1kit.data.qa_templates import WorldFacts
from lvr1kit.data.schema import format_timestamp
from lvr1kit.video import split_clips
from lvr1kit.video.synth import WorldVideo


def _item(video: WorldVideo) -> VideoItem:
    return VideoItem(video.video_path, video.video_path.name, video.index)


def test_oracle_captions_cover_every_event(world: list[WorldVideo], tiny_cfg: DataGenConfig) -> None:
    video = world[0]
    clips = split_clips(video.video_path, tiny_cfg.video.clip_seconds)
    captions = OracleCaptioner().caption(_item(video), clips)
    assert len(captions) == len(clips) == 8
    facts = WorldFacts.load(video.events_path)
    text = " ".join(captions)
    for event in facts.events:
        if event["kind"] != "item_placed":
            assert f"At {format_timestamp(event['start_s'])} {event['text']}." in text
    timeline = build_timeline(_item(video), 48.0, clips, captions, OracleCaptioner(), tiny_cfg.video.clip_seconds)
    assert [s.start_s for s in timeline.segments] == [6.0 * k for k in range(8)]  # seconds, never rescaled


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lvr1kit.models import build_tiny_model, save_tiny_model

    model, tokenizer = build_tiny_model("qwen2_5_vl", "tiny", seed=0)
    return save_tiny_model(model, tokenizer, tmp_path_factory.mktemp("tiny_vlm"))


def test_vlm_captioner_batches_clips(world: list[WorldVideo], tiny_cfg: DataGenConfig, tiny_vlm: Path) -> None:
    cfg = tiny_cfg.model_copy(
        update={
            "caption": tiny_cfg.caption.model_copy(
                update={
                    "captioner": "vlm",
                    "model": tiny_cfg.caption.model.model_copy(update={"path": str(tiny_vlm)}),
                    "batch_size": 3,
                    "max_new_tokens": 6,
                }
            )
        }
    )
    captioner = VLMCaptioner(cfg)
    video = world[1]
    clips = split_clips(video.video_path, cfg.video.clip_seconds)
    captions = captioner.caption(_item(video), clips)
    assert len(captions) == len(clips) == 8
    assert captioner.calls == 3  # ceil(8 clips / batch 3)
    assert all(isinstance(c, str) for c in captions)
    assert captioner.model_name == str(tiny_vlm)
