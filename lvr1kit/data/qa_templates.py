"""Template question generator for the synthetic world: questions in all four categories from the event log.

Contents:
    - ``TEMPLATE_VERSION``: version of the question templates below (recorded as ``prompt_version``).
    - ``WorldFacts``: an event log with look-ups (names, zones per step, events by id).
    - ``QUESTION_TYPES``: question type name -> (category, builder). Each builder takes the world, a random
      generator and the *class* to produce (an index into the type's fixed option set), and returns a ``Draft``
      with the correct option at that index, or ``None`` when the video has no such case.
    - ``generate_template_questions``: the questions of one video (deterministic per video and seed).
    - ``TemplateQAGenerator``: the ``QAGenerator`` over many videos (one :class:`QAUnit` each).

Design (LEARNING-NOTES): the class of each question is drawn uniformly first and a case is then searched for it
(rejection sampling), since ~73% of moves are "wander" and the scene has few pickups; fixed option sets keep one
canonical order (zones NW..SE, counts 0-3, ``GOAL_REASONS``, agents in header order + "no one"), so with that policy
the letter *is* the class; option lists without a fixed set get the correct option at a dealt letter.
Reasoning chains are short (~25 tokens) and cite ``mm:ss`` timestamps; ``evidence`` holds the windows of the
events they cite, far apart in time for the long-range plot questions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lvr1kit.config import DataGenConfig, QAConfig
from lvr1kit.data.captioners import VideoItem
from lvr1kit.data.schema import QAFailure, QARecord, QAUnit, Timeline, format_timestamp, now_iso
from lvr1kit.models.prompt import OPTION_LETTERS
from lvr1kit.video.synth import GOAL_REASONS, read_event_log
from lvr1kit.video.synth_config import GOAL_TEMPLATES

__all__ = [
    "QUESTION_TYPES",
    "TEMPLATE_VERSION",
    "Draft",
    "TemplateQAGenerator",
    "WorldFacts",
    "generate_template_questions",
    "stable_seed",
]

logger = logging.getLogger(__name__)

TEMPLATE_VERSION = "synth-templates-v1"
"""Bump when a template's wording, option set or reasoning layout changes."""

NO_ONE = "no one"
"""The fourth option of the plot questions (after the agents in header order)."""

MAX_TRIES = 24
"""Class draws per question before the question slot is given up."""

SALIENT_KINDS = ("enter", "pickup", "drop", "handover", "color_change", "leave")
"""Event kinds that can be options of "which happened first/last" questions."""


def _cap(text: str) -> str:
    """Upper-case the first character only (``str.capitalize`` would lower-case zone names)."""
    return text[:1].upper() + text[1:]


def stable_seed(*parts: object) -> int:
    """A seed from any parts that is the same in every process (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class Draft:
    """A question before it becomes a record: the correct option is ``options[correct]``."""

    question_type: str
    question: str
    options: list[str]
    correct: int
    reasoning: str
    evidence: list[tuple[float, float]]
    fixed_set: bool = True
    """True when ``options`` is a fixed set in canonical order (kept as is under the canonical policy)."""


@dataclass
class WorldFacts:
    """An event log with the look-ups the templates need."""

    header: dict[str, Any]
    events: list[dict[str, Any]]
    states: list[dict[str, Any]]
    by_id: dict[int, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {e["id"]: e for e in self.events}

    @classmethod
    def load(cls, path: str | Path) -> WorldFacts:
        """Read an event log (``*.events.jsonl``)."""
        header, events, states = read_event_log(Path(path))
        return cls(header, events, states)

    @property
    def agents(self) -> list[str]:
        return [a["agent"] for a in self.header["agents"]]

    @property
    def zones(self) -> list[str]:
        return [z["zone"] for z in self.header["zones"]]

    def name(self, agent: str) -> str:
        """``"A1"`` -> ``"the diamond"``."""
        shape = next(a["name"] for a in self.header["agents"] if a["agent"] == agent)
        return f"the {shape}"

    def item_name(self, item: str) -> str:
        return next(i["name"] for i in self.header["items"] if i["item"] == item)

    def window(self, step: int) -> tuple[float, float]:
        step_s = float(self.header["step_seconds"])
        return (step * step_s, (step + 1) * step_s)

    def ts(self, step: int) -> str:
        return format_timestamp(self.window(step)[0])

    def agent_state(self, step: int, agent: str) -> dict[str, Any]:
        return next(a for a in self.states[step]["agents"] if a["agent"] == agent)


# ----------------------------------------------------------------------------------------------------------
# Builders: (world, rng, cls) -> Draft | None
# ----------------------------------------------------------------------------------------------------------


def _last_arrival(w: WorldFacts, agent: str, step: int) -> dict[str, Any] | None:
    """The enter/move event that last put ``agent`` where it is at ``step``."""
    found = None
    for e in w.events:
        if e["step"] > step:
            break
        if e["agent"] == agent and e["kind"] in ("enter", "move"):
            found = e
    return found


def agent_zone(w: WorldFacts, rng: np.random.Generator, cls: int) -> Draft | None:
    """Spatial: where was agent X at time t? (options: the zones in layout order)."""
    if len(w.zones) != 4:
        return None
    target = w.zones[cls]
    cases = [
        (t, a["agent"]) for t, s in enumerate(w.states) for a in s["agents"] if a["present"] and a["zone"] == target
    ]
    if not cases:
        return None
    step, agent = cases[rng.integers(len(cases))]
    arrival = _last_arrival(w, agent, step)
    evidence = [w.window(step)]
    reasoning = f"At {w.ts(step)} {w.name(agent)} is in {target}."
    if arrival is not None and arrival["step"] < step:
        reasoning = (
            f"{_cap(w.name(agent))} reached {target} at {w.ts(arrival['step'])}; at {w.ts(step)} it is still there."
        )
        evidence.insert(0, w.window(arrival["step"]))
    question = f"Where was {w.name(agent)} at {w.ts(step)}?"
    return Draft("spatial/agent_zone", question, list(w.zones), cls, reasoning, evidence)


def item_zone(w: WorldFacts, rng: np.random.Generator, cls: int) -> Draft | None:
    """Spatial: where was the item at time t? (options: the zones in layout order)."""
    if len(w.zones) != 4:
        return None
    target = w.zones[cls]
    cases = [(t, i) for t, s in enumerate(w.states) for i in s["items"] if i["zone"] == target]
    if not cases:
        return None
    step, item = cases[rng.integers(len(cases))]
    name = w.item_name(item["item"])
    if item["holder"]:
        reasoning = f"At {w.ts(step)} {w.name(item['holder'])} carries the {name} in {target}."
    else:
        reasoning = f"At {w.ts(step)} the {name} lies on the ground in {target}."
    question = f"Where was the {name} at {w.ts(step)}?"
    return Draft("spatial/item_zone", question, list(w.zones), cls, reasoning, [w.window(step)])


def move_count(w: WorldFacts, rng: np.random.Generator, cls: int) -> Draft | None:
    """Temporal: how many times did agent X change zones between t0 and t1? (options: 0, 1, 2, 3)."""
    num_steps = len(w.states)
    moves = {a: [e for e in w.events if e["kind"] == "move" and e["agent"] == a] for a in w.agents}
    cases = []
    for agent, agent_moves in moves.items():
        steps = {e["step"] for e in agent_moves}
        for span in range(3, max(4, num_steps // 2) + 1):
            for t0 in range(0, num_steps - span + 1):
                inside = [e for e in agent_moves if t0 <= e["step"] < t0 + span]
                # a move right on either bound would make "between t0 and t1" ambiguous
                if len(inside) == cls and t0 + span not in steps and t0 - 1 not in steps:
                    cases.append((agent, t0, span, inside))
    if not cases:
        return None
    agent, t0, span, inside = cases[rng.integers(len(cases))]
    end = format_timestamp(w.window(t0 + span - 1)[1])
    question = f"How many times did {w.name(agent)} move to another zone between {w.ts(t0)} and {end}?"
    if inside:
        when = ", ".join(f"{w.ts(e['step'])} ({e['from_zone']} to {e['to_zone']})" for e in inside)
        reasoning = f"{_cap(w.name(agent))} moved at {when}: {cls} time{'s' if cls > 1 else ''}."
        evidence = [w.window(e["step"]) for e in inside]
    else:
        reasoning = f"{_cap(w.name(agent))} stayed put from {w.ts(t0)} to {end}: 0 times."
        evidence = [(w.window(t0)[0], w.window(t0 + span - 1)[1])]
    return Draft("temporal/move_count", question, ["0", "1", "2", "3"], cls, reasoning, evidence)


def first_or_last(w: WorldFacts, rng: np.random.Generator, cls: int) -> Draft | None:
    """Temporal: which of four events happened first (or last)? (no fixed option set; ``cls`` is unused)."""
    del cls  # the option set is not fixed: the caller places the correct option at a dealt letter
    by_step: dict[int, list[dict[str, Any]]] = {}
    for e in w.events:
        if e["kind"] in SALIENT_KINDS:
            by_step.setdefault(e["step"], []).append(e)
    if len(by_step) < 4:
        return None
    steps = sorted(rng.choice(sorted(by_step), size=4, replace=False).tolist())
    chosen = [by_step[s][rng.integers(len(by_step[s]))] for s in steps]
    last = bool(rng.integers(2))
    order = chosen[::-1] if last else chosen
    word = "last" if last else "first"
    others = ", ".join(w.ts(e["step"]) for e in order[1:])
    reasoning = f"{_cap(order[0]['text'])} at {w.ts(order[0]['step'])}; the others at {others}. So it came {word}."
    question = f"Which of these happened {word}?"
    options = [e["text"] for e in order]
    return Draft("temporal/first_last", question, options, 0, reasoning, [w.window(s) for s in steps], False)


def _goal_option(goal: str, item: str, other: str) -> str:
    return GOAL_TEMPLATES[goal].format(item=item, other=other)


def move_reason(w: WorldFacts, rng: np.random.Generator, cls: int) -> Draft | None:
    """Goal: why did agent X go from zone P to zone Q at t? (options: ``GOAL_REASONS`` in order)."""
    goal = GOAL_REASONS[cls]
    cases = [
        e for e in w.events if e["kind"] == "move" and e["goal"] == goal and (goal == "wander" or e["goal_achieved"])
    ]
    if not cases:
        return None
    move = cases[rng.integers(len(cases))]
    item = w.item_name(move["item"] or w.header["items"][0]["item"])
    others = [a for a in w.agents if a != move["agent"]]
    other = w.name(move["other_agent"] or others[0])
    options = [_goal_option(g, item, other.removeprefix("the ")) for g in GOAL_REASONS]
    who, when = w.name(move["agent"]), w.ts(move["step"])
    question = f"Why did {who} go from {move['from_zone']} to {move['to_zone']} at {when}?"
    head = f"At {when} {who} went {move['from_zone']} to {move['to_zone']}"
    evidence = [w.window(move["step"])]
    if move["outcome_id"] is not None:
        outcome = w.by_id[move["outcome_id"]]
        evidence.append(w.window(outcome["step"]))
        reasoning = f"{head}; at {w.ts(outcome['step'])} it {outcome['text'].removeprefix(who + ' ')}."
    else:
        reasoning = f"{head} and did nothing there: no item, no hand-over."
    return Draft("goal/move_reason", question, options, cls, reasoning, evidence)


def _plot_options(w: WorldFacts) -> list[str] | None:
    options = [w.name(a) for a in w.agents] + [NO_ONE]
    return options if len(options) == 4 else None


def item_source(w: WorldFacts, rng: np.random.Generator, cls: int) -> Draft | None:
    """Plot: X picked up the item at t; who had left it there? (options: agents in header order, "no one")."""
    options = _plot_options(w)
    if options is None:
        return None
    cases = []
    for pickup in (e for e in w.events if e["kind"] == "pickup"):
        sources = [w.by_id[i] for i in pickup["caused_by"] if w.by_id[i]["kind"] in ("drop", "item_placed")]
        if not sources:
            continue
        source = sources[-1]
        answer = NO_ONE if source["kind"] == "item_placed" else w.name(source["agent"])
        if answer == options[cls] and source["agent"] != pickup["agent"]:
            cases.append((pickup, source))
    if not cases:
        return None
    pickup, source = cases[rng.integers(len(cases))]
    item, picker = w.item_name(pickup["item"]), w.name(pickup["agent"])
    question = (
        f"{_cap(picker)} picked up the {item} in {pickup['zone']} at {w.ts(pickup['step'])}. Who had left it there?"
    )
    if source["kind"] == "item_placed":
        reasoning = f"The {item} lay in {source['zone']} from the start; {picker} took it at {w.ts(pickup['step'])}."
    else:
        reasoning = (
            f"At {w.ts(source['step'])} {w.name(source['agent'])} dropped the {item} in {source['zone']}; "
            f"at {w.ts(pickup['step'])} {picker} picked it up there."
        )
    evidence = [w.window(source["step"]), w.window(pickup["step"])]
    return Draft("plot/item_source", question, options, cls, reasoning, evidence)


def next_holder(w: WorldFacts, rng: np.random.Generator, cls: int) -> Draft | None:
    """Plot: after X dropped the item at t, who picked it up next? (options: agents in header order, "no one")."""
    options = _plot_options(w)
    if options is None:
        return None
    cases = []
    for drop in (e for e in w.events if e["kind"] == "drop"):
        pickups = [e for e in w.events if e["kind"] == "pickup" and drop["id"] in e["caused_by"]]
        answer = w.name(pickups[0]["agent"]) if pickups else NO_ONE
        if answer == options[cls] and (not pickups or pickups[0]["agent"] != drop["agent"]):
            cases.append((drop, pickups[0] if pickups else None))
    if not cases:
        return None
    drop, pickup = cases[rng.integers(len(cases))]
    item, dropper = w.item_name(drop["item"]), w.name(drop["agent"])
    question = f"After {dropper} dropped the {item} in {drop['zone']} at {w.ts(drop['step'])}, who picked it up next?"
    evidence = [w.window(drop["step"])]
    if pickup is None:
        end = format_timestamp(w.header["duration_s"])
        reasoning = f"{_cap(dropper)} dropped the {item} at {w.ts(drop['step'])}; it lay there until {end}."
        evidence = [(w.window(drop["step"])[0], float(w.header["duration_s"]))]
    else:
        reasoning = (
            f"At {w.ts(drop['step'])} {dropper} dropped the {item} in {drop['zone']}; "
            f"at {w.ts(pickup['step'])} {w.name(pickup['agent'])} picked it up."
        )
        evidence.append(w.window(pickup["step"]))
    return Draft("plot/next_holder", question, options, cls, reasoning, evidence)


Builder = Callable[[WorldFacts, np.random.Generator, int], Draft | None]

QUESTION_TYPES: dict[str, tuple[str, Builder]] = {
    "spatial/agent_zone": ("spatial", agent_zone),
    "spatial/item_zone": ("spatial", item_zone),
    "temporal/move_count": ("temporal", move_count),
    "temporal/first_last": ("temporal", first_or_last),
    "goal/move_reason": ("goal", move_reason),
    "plot/item_source": ("plot", item_source),
    "plot/next_holder": ("plot", next_holder),
}
"""Question type -> (category, builder); every category has at least one type."""


# ----------------------------------------------------------------------------------------------------------
# Per-video generation
# ----------------------------------------------------------------------------------------------------------


def _place(draft: Draft, rng: np.random.Generator, shuffle: bool, letter: int) -> tuple[list[str], int]:
    """Final option order and correct index: canonical fixed sets stay; otherwise the correct one goes to ``letter``."""
    if draft.fixed_set and not shuffle:
        return list(draft.options), draft.correct
    others = [o for i, o in enumerate(draft.options) if i != draft.correct]
    others = [others[i] for i in rng.permutation(len(others))]
    return [*others[:letter], draft.options[draft.correct], *others[letter:]], letter


def generate_template_questions(
    events_path: str | Path,
    video: str,
    cfg: QAConfig,
    *,
    video_index: int,
    clip_seconds: float | None = None,
    source: str = "synthetic",
) -> list[QARecord]:
    """The questions of one synthetic video, from its event log.

    Categories and classes are dealt round-robin over ``k = video_index * questions_per_video + slot`` (category
    ``k % C``, class ``(k // C) % 4``), so both stay balanced over a dataset while each video remains an independent
    work unit. The dealt class is tried with every type of the category (in random order); only when the video has
    no such case is the class redrawn at random (at most ``MAX_TRIES`` draws). Options without a fixed set, and all
    options under the ``shuffled`` policy, get the correct option at the dealt class's letter (shuffled: a drawn one).

    Args:
        events_path: The video's ``*.events.jsonl``.
        video: Video path relative to the video folder (the records' ``videos``).
        cfg: Question settings (count, categories, option policy, seed).
        video_index: Position of the video in the sorted input list (deals the categories).
        clip_seconds: Clip length recorded as provenance.
        source: Recorded as ``source``.

    Returns:
        Up to ``cfg.questions_per_video`` records, fewer when the video lacks cases (logged).
    """
    world = WorldFacts.load(events_path)
    rng = np.random.default_rng(stable_seed(cfg.seed, video))
    video_id = video.rsplit(".", 1)[0]
    records: list[QARecord] = []
    seen: set[str] = set()
    created = now_iso()
    for slot in range(cfg.questions_per_video):
        k = video_index * cfg.questions_per_video + slot
        category = cfg.categories[k % len(cfg.categories)]
        dealt = (k // len(cfg.categories)) % 4
        types = [name for name, (cat, _) in QUESTION_TYPES.items() if cat == category]
        tries = [(types[i], dealt) for i in rng.permutation(len(types))]
        tries += [(types[rng.integers(len(types))], int(rng.integers(4))) for _ in range(MAX_TRIES)]
        for type_name, cls in tries:
            draft = QUESTION_TYPES[type_name][1](world, rng, cls)
            if draft is not None and draft.question not in seen:
                break
        else:
            logger.info("%s: no %s question found for slot %d after %d tries", video, category, slot, MAX_TRIES)
            continue
        seen.add(draft.question)
        shuffled = cfg.option_order == "shuffled"
        letter = int(rng.integers(len(draft.options))) if shuffled else dealt
        options, correct = _place(draft, rng, shuffled, letter)
        records.append(
            QARecord.build(
                problem_id=f"{video_id}/{slot}",
                question=draft.question,
                options=options,
                answer_letter=OPTION_LETTERS[correct],
                videos=video,
                problem_type=category,  # type: ignore[arg-type]
                reasoning=draft.reasoning,
                question_type=draft.question_type,
                evidence=draft.evidence,
                video_duration_s=float(world.header["duration_s"]),
                generator="template",
                prompt_version=TEMPLATE_VERSION,
                source=source,
                clip_seconds=clip_seconds,
                created=created,
            )
        )
    return records


class TemplateQAGenerator:
    """The ``QAGenerator`` of the synthetic world: template questions from each video's event log."""

    name = "template"

    def __init__(self, cfg: DataGenConfig, source: str = "synthetic") -> None:
        self.cfg = cfg
        self.source = source

    def generate(self, jobs: Sequence[tuple[VideoItem, Timeline]]) -> Iterator[QAUnit]:
        """One unit per video; a video without an event log gives a unit holding that failure."""
        for video, _timeline in jobs:
            if not video.events_path.is_file():
                detail = f"{video.events_path} not found; template questions need a synthetic world's event log"
                yield QAUnit(
                    video=video.rel, failures=[QAFailure(video=video.rel, reason="no_event_log", detail=detail)]
                )
                continue
            records = generate_template_questions(
                video.events_path,
                video.rel,
                self.cfg.qa,
                video_index=video.index,
                clip_seconds=self.cfg.video.clip_seconds,
                source=self.source,
            )
            missing = self.cfg.qa.questions_per_video - len(records)
            failures = [
                QAFailure(video=video.rel, reason="no_cases", detail=f"{missing} question slot(s) found no case")
            ] * min(missing, 1)
            yield QAUnit(video=video.rel, records=records, failures=failures)
