"""QARecord: building, validation messages, public fields, timestamps."""

from __future__ import annotations

import pytest

from lvr1kit.data.schema import PUBLIC_FIELDS, QARecord, Timeline, answer_tag, format_timestamp, letter_from_answer
from lvr1kit.models.prompt import format_question


def _record(**kw: object) -> QARecord:
    fields = {
        "problem_id": "v/0",
        "question": "Where was the ring at 00:33?",
        "options": ["NW", "NE", "SW", "SE"],
        "answer_letter": "B",
        "videos": "v.mp4",
        "problem_type": "spatial",
    }
    return QARecord.build(**(fields | kw))  # type: ignore[arg-type]


def test_build_fills_problem_and_answer() -> None:
    record = _record()
    assert record.problem == format_question(record.question, record.options)
    assert record.answer == "<answer>B</answer>"
    assert list(record.public()) == list(PUBLIC_FIELDS)
    assert record.video_id == "v"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"answer_letter": "E"}, "not one of the option letters ABCD"),
        ({"options": ["NW"]}, "at least 2"),
        ({"evidence": [(5.0, 1.0)]}, "start <= end"),
    ],
)
def test_invalid_records_name_the_field(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _record(**change)


def test_problem_must_hold_the_options() -> None:
    data = _record().model_dump()
    data["problem"] = data["question"]  # the published rewrite step dropped the options
    with pytest.raises(ValueError, match="format_question"):
        QARecord.model_validate(data)


def test_answer_tag_and_timestamps() -> None:
    assert letter_from_answer(answer_tag("D")) == "D"
    assert letter_from_answer("D") is None
    assert format_timestamp(0) == "00:00"
    assert format_timestamp(3599.6) == "1:00:00"


def test_timeline_render_keeps_clip_times() -> None:
    timeline = Timeline.model_validate(
        {
            "video": "v.mp4",
            "duration_s": 25.0,
            "clip_seconds": 10.0,
            "captioner": "oracle",
            "segments": [
                {"start_s": 10.0, "end_s": 20.0, "caption": "b"},
                {"start_s": 20.0, "end_s": 25.0, "caption": "c"},
            ],
        }
    )
    assert timeline.render() == "[00:10-00:20] b\n[00:20-00:25] c"
