"""Template questions: categories, canonical option order, balanced classes, answers true to the event log."""

from __future__ import annotations

import re
from collections import Counter

from lvr1kit.config import DataGenConfig
from lvr1kit.data.qa_templates import QUESTION_TYPES, WorldFacts, generate_template_questions
from lvr1kit.data.schema import QARecord
from lvr1kit.video.synth import GOAL_REASONS, WorldVideo


def _questions(world: list[WorldVideo], cfg: DataGenConfig, **qa: object) -> list[QARecord]:
    qa_cfg = cfg.qa.model_copy(update=qa)
    return [
        r
        for i, v in enumerate(world)
        for r in generate_template_questions(v.events_path, v.video_path.name, qa_cfg, video_index=i)
    ]


def test_all_categories_and_types_are_made(world: list[WorldVideo], tiny_cfg: DataGenConfig) -> None:
    records = _questions(world, tiny_cfg)
    assert len(records) == len(world) * tiny_cfg.qa.questions_per_video
    assert Counter(r.problem_type for r in records) == {c: len(records) // 4 for c in tiny_cfg.qa.categories}
    assert {r.question_type for r in records} == set(QUESTION_TYPES)


def test_deterministic_per_video(world: list[WorldVideo], tiny_cfg: DataGenConfig) -> None:
    first = [r.model_dump(exclude={"created"}) for r in _questions(world[:3], tiny_cfg)]
    again = [r.model_dump(exclude={"created"}) for r in _questions(world[:3], tiny_cfg)]
    assert first == again


def test_canonical_option_order_for_fixed_sets(world: list[WorldVideo], tiny_cfg: DataGenConfig) -> None:
    fixed = {
        "spatial/agent_zone": ["NW", "NE", "SW", "SE"],
        "spatial/item_zone": ["NW", "NE", "SW", "SE"],
        "temporal/move_count": ["0", "1", "2", "3"],
    }
    for record in _questions(world, tiny_cfg):
        if record.question_type in fixed:
            assert record.options == fixed[record.question_type]
        if record.question_type == "goal/move_reason":
            assert record.options[0].startswith("to fetch") and record.options[3] == "just wandering"
            assert len(GOAL_REASONS) == len(record.options)
        if record.question_type.startswith("plot/"):
            assert record.options[3] == "no one"


def test_letters_balanced_under_both_policies(world: list[WorldVideo], tiny_cfg: DataGenConfig) -> None:
    for policy in ("canonical", "shuffled"):
        letters = Counter(r.answer_letter for r in _questions(world, tiny_cfg, option_order=policy))
        total = sum(letters.values())
        assert set(letters) == set("ABCD")
        assert all(0.15 <= n / total <= 0.35 for n in letters.values()), (policy, letters)
    goal = Counter(r.answer_letter for r in _questions(world, tiny_cfg) if r.problem_type == "goal")
    assert max(goal.values()) - min(goal.values()) <= 2, goal  # wander (73% of moves) is not favoured


def test_answers_match_the_event_log(world: list[WorldVideo], tiny_cfg: DataGenConfig) -> None:
    for i, video in enumerate(world[:6]):
        facts = WorldFacts.load(video.events_path)
        step_s = facts.header["step_seconds"]
        for record in generate_template_questions(video.events_path, "v.mp4", tiny_cfg.qa, video_index=i):
            answer = record.options["ABCD".index(record.answer_letter)]
            assert all(0 <= s <= e <= facts.header["duration_s"] for s, e in record.evidence)
            assert re.search(r"\d\d:\d\d", record.reasoning), record.reasoning
            assert len(record.reasoning.split()) <= 40, record.reasoning
            if record.question_type == "spatial/agent_zone":
                name, mm, ss = re.match(r"Where was the (\w+) at (\d\d):(\d\d)\?", record.question).groups()
                step = int((int(mm) * 60 + int(ss)) // step_s)
                agent = next(a["agent"] for a in facts.header["agents"] if a["name"] == name)
                assert facts.agent_state(step, agent)["zone"] == answer
            if record.question_type == "goal/move_reason":
                assert any(
                    e["kind"] == "move" and facts.ts(e["step"]) in record.question and e["goal_text"] == answer
                    for e in facts.events
                )
