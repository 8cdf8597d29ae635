"""Simulation of the synthetic world on a discrete time grid, producing the ground-truth event log.

Contents:
    - ``WorldLog``: header, events and per-step states of one video.
    - ``simulate_world(config, video_index)``: run the seeded simulation (with deterministic retries until the
      log covers every required event type) and return its ``WorldLog``.

Story: agents (unique shapes) start in random zones (some enter late), move between zones with a goal from
``GOAL_REASONS``, pick up / drop / hand over items, change colour, and some leave for good. A scripted thread
guarantees a long-range causal chain on the first item (the star): agent A fetches it, hands it to agent R, R
drops it somewhere, it lies untouched for at least ``min_link_gap_fraction`` of the video, then agent B
fetches it. An event at step ``t`` is visible during ``[t * step_seconds, (t + 1) * step_seconds)``; the state
of step ``t`` already includes it. See ``lvr1kit.video.synth`` for the JSONL schema.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lvr1kit.video.synth_config import (
    AGENT_COLORS,
    CELLS_PER_ZONE,
    GOAL_REASONS,
    ITEM_KINDS,
    SCHEMA_VERSION,
    SHAPES,
    WorldConfig,
    geometry_for,
)
from lvr1kit.video.synth_story import Agent, Item, StoryEngine, Task

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 64
"""Deterministic re-simulations tried (attempt 0, 1, ...) before giving up on coverage."""


@dataclass
class WorldLog:
    """Everything known about one simulated video.

    Attributes:
        header: The header record (``type == "header"``), without the ``video`` field filled in.
        events: Event records sorted by time (``type == "event"``).
        states: One state record per step (``type == "state"``).
    """

    header: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """Return events and states merged by step: a step's events first, then its state."""
        by_step: dict[int, list[dict[str, Any]]] = {}
        for event in self.events:
            by_step.setdefault(event["step"], []).append(event)
        out: list[dict[str, Any]] = []
        for state in self.states:
            out += by_step.get(state["step"], [])
            out.append(state)
        return out


def video_seed_sequence(seed: int, video_index: int, attempt: int) -> np.random.SeedSequence:
    """Return the seed sequence of video ``video_index`` at retry ``attempt`` (independent of video count)."""
    return np.random.SeedSequence(seed, spawn_key=(video_index, attempt))


def simulate_world(config: WorldConfig, video_index: int = 0) -> WorldLog:
    """Simulate one video of the world described by ``config``.

    Args:
        config: The world configuration.
        video_index: Index of the video within the world; selects its seed.

    Returns:
        The video's log. Identical for identical ``(config, video_index)``.

    Raises:
        RuntimeError: If no attempt covers the required events (a bug or an extreme config).
    """
    for attempt in range(MAX_ATTEMPTS):
        story_seq, distractor_seq = video_seed_sequence(config.seed, video_index, attempt).spawn(2)
        engine = _build_engine(config, np.random.default_rng(story_seq))
        engine.run()
        missing = coverage_gaps(config, engine.events)
        if not missing:
            _add_distractors(engine.states, config, np.random.default_rng(distractor_seq))
            log = WorldLog(_header(config, engine, video_index, attempt), engine.events, engine.states)
            return log
        logger.debug("video %d attempt %d misses %s; retrying", video_index, attempt, missing)
    raise RuntimeError(f"video {video_index}: no attempt covered every required event (missing: {missing})")


def coverage_gaps(config: WorldConfig, events: list[dict[str, Any]]) -> list[str]:
    """List what the events lack for questions in all four categories (empty when complete).

    Required: a move for every goal reason, at least one pickup, drop and handover, exactly the configured
    numbers of late entries, leaves and colour changes, and a long-range link (a pickup caused by another
    agent's drop at least ``min_link_gap_fraction`` of the video earlier).
    """
    missing = [f"move:{r}" for r in GOAL_REASONS if not any(e["goal"] == r for e in events)]
    kinds = [e["kind"] for e in events]
    missing += [k for k in ("pickup", "drop", "handover") if k not in kinds]
    late = sum(1 for e in events if e["kind"] == "enter" and e["step"] > 0)
    expect = {
        "late_enter": (late, config.num_late_agents),
        "leave": (kinds.count("leave"), config.num_leaving),
        "color_change": (kinds.count("color_change"), config.num_color_changes),
    }
    missing += [f"{name}:{got}!={want}" for name, (got, want) in expect.items() if got != want]
    if not long_range_links(config, events):
        missing.append("long_range_link")
    return missing


def long_range_links(config: WorldConfig, events: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Return ``(drop_id, pickup_id)`` pairs: pickups caused by another agent's drop long before."""
    gap_steps = math.ceil(config.min_link_gap_fraction * config.num_steps)
    by_id = {e["id"]: e for e in events}
    links = []
    for e in events:
        if e["kind"] != "pickup":
            continue
        for cause_id in e["caused_by"]:
            cause = by_id[cause_id]
            far = e["step"] - cause["step"] >= gap_steps
            if cause["kind"] == "drop" and cause["agent"] != e["agent"] and far:
                links.append((cause_id, e["id"]))
    return links


def _build_engine(config: WorldConfig, rng: np.random.Generator) -> StoryEngine:
    """Create agents, items, roles and the scripted agenda for one attempt."""
    n_steps, n_agents = config.num_steps, config.num_agents
    shapes = [SHAPES[i] for i in sorted(rng.choice(len(SHAPES), size=n_agents, replace=False))]
    color_names = list(AGENT_COLORS)
    colors = [color_names[i] for i in rng.choice(len(color_names), size=n_agents, replace=False)]
    agents = [Agent(index=i, shape=shapes[i], color=colors[i]) for i in range(n_agents)]
    items = [Item(index=j, name=ITEM_KINDS[j][0]) for j in range(config.num_items)]
    order = [int(i) for i in rng.permutation(n_agents)]
    a_idx, r_idx = order[0], order[1]
    b_idx = order[2] if n_agents >= 3 else a_idx
    late_pool = [b_idx] + [i for i in order if i not in (a_idx, r_idx, b_idx)] + [r_idx]
    late_pool = list(dict.fromkeys(i for i in late_pool if i != a_idx))
    for i in late_pool[: config.num_late_agents]:
        agents[i].entry_step = int(rng.integers(1, max(2, n_steps // 3)))
    leavers = [i for i in order if i != b_idx][: config.num_leaving]
    gap_steps = math.ceil(config.min_link_gap_fraction * n_steps)
    agents[a_idx].agenda += [
        Task("fetch", earliest=int(rng.integers(1, max(2, n_steps // 8))), item=0),
        Task("meet", item=0, other=r_idx),
    ]
    agents[r_idx].agenda.append(Task("deliver", item=0, then_reserve_for=b_idx, gap_steps=gap_steps))
    agents[b_idx].agenda.append(Task("fetch", item=0, release=True))
    keepers = [i for i in range(n_agents) if i not in leavers]
    for _ in range(config.num_color_changes):
        who = keepers[int(rng.integers(len(keepers)))]
        agents[who].agenda.append(Task("color", earliest=int(rng.integers(n_steps // 6, n_steps * 5 // 6))))
    for i in leavers:
        agents[i].agenda.append(Task("leave", earliest=int(rng.integers(n_steps // 2, n_steps * 9 // 10))))
    return StoryEngine(config, rng, agents, items, star_fetcher=a_idx)


def _add_distractors(states: list[dict[str, Any]], config: WorldConfig, rng: np.random.Generator) -> None:
    """Fill each state's ``distractors``: dots that jump to a random pixel with probability 1/2 per step.

    They use their own random stream, so adding distractors never changes the story.
    """
    lo, hi = 2, config.frame_size - 2
    positions = rng.integers(lo, hi, (config.num_distractors, 2))
    for state in states:
        jump = rng.random(config.num_distractors) < 0.5
        positions = np.where(jump[:, None], rng.integers(lo, hi, positions.shape), positions)
        state["distractors"] = positions.tolist()


def _header(config: WorldConfig, engine: StoryEngine, video_index: int, attempt: int) -> dict[str, Any]:
    """Build the header record (the caller adds ``video``)."""
    geo = geometry_for(config.frame_size, config.num_zones)
    zones = [
        {
            "zone": name,
            "row": geo.zone_grid[z][0],
            "col": geo.zone_grid[z][1],
            "rect_yxyx": list(geo.zone_rects[z]),
        }
        for z, name in enumerate(config.zone_names)
    ]
    agents = [
        {"agent": a.agent_id, "name": a.shape, "shape": a.shape, "initial_color": a.initial_color}
        for a in engine.agents
    ]
    items = [{"item": it.item_id, "name": it.name} for it in engine.items]
    return {
        "type": "header",
        "schema_version": SCHEMA_VERSION,
        "generator": "lvr1kit.video.synth",
        "video": None,
        "video_index": video_index,
        "seed": config.seed,
        "attempt": attempt,
        "duration_s": config.duration_s,
        "fps": config.fps,
        "step_seconds": config.step_seconds,
        "num_steps": config.num_steps,
        "frames_per_step": config.frames_per_step,
        "num_frames": config.num_steps * config.frames_per_step,
        "frame_size": config.frame_size,
        "cells_per_zone": CELLS_PER_ZONE,
        "goal_reasons": list(GOAL_REASONS),
        "zones": zones,
        "agents": agents,
        "items": items,
        "long_range_links": [list(p) for p in long_range_links(config, engine.events)],
        "world_config": config.model_dump(mode="json"),
    }
