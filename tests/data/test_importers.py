"""Importers: public LongVideo-Reason and VideoMME-like rows, round trip, malformed rows reported by row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lvr1kit.data.importers import import_file, split_problem
from lvr1kit.data.io import write_jsonl_atomic
from lvr1kit.data.schema import QARecord


def _ours() -> QARecord:
    return QARecord.build(
        problem_id=7,
        question="Why did the ring go to SE?",
        options=["to fetch the star", "to drop off the star", "to hand the star to the square", "just wandering"],
        answer_letter="C",
        videos="longvila_videos/abc.mp4",
        problem_type="goal",
        reasoning="At 00:36 the ring went to SE; at 00:39 it handed the star over.",
        evidence=[(36.0, 39.0)],
        generator="template",
    )


def test_public_fields_round_trip(tmp_path: Path) -> None:
    record = _ours()
    write_jsonl_atomic(tmp_path / "public.jsonl", [record.public()])
    result = import_file(tmp_path / "public.jsonl", "longvideo-reason")
    assert not result.issues and result.relaid == 0
    back = result.records[0]
    assert back.public() == record.public()
    assert (back.question, back.options, back.answer_letter) == (record.question, record.options, "C")


def test_our_own_export_round_trips_whole(tmp_path: Path) -> None:
    record = _ours()
    write_jsonl_atomic(tmp_path / "ours.jsonl", [record.model_dump(mode="json")])
    assert import_file(tmp_path / "ours.jsonl", "longvideo-reason").records == [record]


def test_malformed_rows_are_reported_with_row_numbers(tmp_path: Path) -> None:
    good = _ours().public()
    rows = [
        json.dumps(good),
        "{not json",
        json.dumps(good | {"problem": "Why did the ring go to SE?"}),  # options dropped
        json.dumps(good | {"answer": "maybe"}),
        json.dumps({k: v for k, v in good.items() if k != "videos"}),
        json.dumps(good | {"problem": "Which? (A) one (B) two (C) three (D) four", "answer": "B"}),  # inline options
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(rows) + "\n")
    result = import_file(path, "longvideo-reason")
    assert [i.row for i in result.issues] == [2, 3, 4, 5]
    assert "not valid JSON" in result.issues[0].problem
    assert "no lettered options" in result.issues[1].problem
    assert "answer='maybe'" in result.issues[2].problem
    assert "missing videos" in result.issues[3].problem
    assert len(result.records) == 2 and result.relaid == 1
    assert result.records[1].options == ["one", "two", "three", "four"]


def test_videomme_layout(tmp_path: Path) -> None:
    rows = [
        {
            "video_id": "001",
            "videoID": "fFjv93ACGo8",
            "question_id": "001-1",
            "duration": "short",
            "domain": "Knowledge",
            "sub_category": "Humanity & History",
            "task_type": "Counting Problem",
            "question": "How many people appear?",
            "options": ["A. 1.", "B. 2.", "C. 3.", "D. 4."],
            "answer": "C",
        },
        {"videoID": "x", "question": "Q?", "options": ["A. a", "C. b"], "answer": "A"},
    ]
    path = tmp_path / "videomme.json"
    path.write_text(json.dumps(rows))
    result = import_file(path, "videomme")
    assert [i.row for i in result.issues] == [2] and "lettered C, expected B" in result.issues[0].problem
    record = result.records[0]
    assert (record.problem_type, record.answer, record.videos) == ("temporal", "<answer>C</answer>", "fFjv93ACGo8.mp4")
    assert record.options == ["1.", "2.", "3.", "4."] and record.source == "videomme/Knowledge/short"


def test_split_problem_and_unknown_format(tmp_path: Path) -> None:
    assert split_problem("Q?\n(A) x\n(B) y") == ("Q?", ["x", "y"])
    with pytest.raises(ValueError, match="unknown format"):
        import_file(tmp_path / "x.jsonl", "csv")
