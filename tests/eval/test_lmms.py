"""The optional lmms-eval adapter: its model-side helper runs without lmms-eval; the class needs lmms-eval."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lvr1kit.config import DecodingConfig, ModelConfig, VideoConfig
from lvr1kit.data.schema import QARecord
from lvr1kit.eval.lmms import answer_question, build_lmms_class
from lvr1kit.models import load_model


def test_answer_question_with_the_tiny_model(tiny_dir: Path, world_dir: Path, records: list[QARecord]) -> None:
    text = answer_question(
        load_model(tiny_dir),
        world_dir / records[0].videos,
        records[0].problem,
        model_cfg=ModelConfig(),
        video=VideoConfig(num_frames=4),
        decoding=DecodingConfig(max_new_tokens=6),
    )
    assert isinstance(text, str)


@pytest.mark.skipif(importlib.util.find_spec("lmms_eval") is not None, reason="lmms-eval installed")
def test_build_lmms_class_without_lmms_eval_names_the_fix() -> None:
    with pytest.raises(ImportError, match="pip install lmms-eval"):
        build_lmms_class()
