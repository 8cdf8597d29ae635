"""Configuration, fixed vocabularies and frame geometry of the synthetic long-video world.

Contents:
    - Fixed vocabularies: ``ZONE_LAYOUTS`` (zone grids and compass names), ``GOAL_REASONS`` (why an agent
      moves, in a fixed order), ``EVENT_KINDS``, ``SHAPES`` (one per agent), ``AGENT_COLORS`` and
      ``ITEM_KINDS``.
    - ``WorldConfig``: the difficulty knobs of the world (pydantic v2, frozen, validated with every complaint
      collected before raising).
    - ``Geometry`` / ``geometry_for``: pixel rectangles of zones, their borders and the 2x2 cells inside each
      zone.

The simulation lives in ``synth_world.py`` and the drawing/encoding in ``synth_render.py``.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1
"""Version of the JSONL event-log schema written by ``lvr1kit.video.synth``."""

ZONE_LAYOUTS: dict[int, tuple[int, int, tuple[str, ...]]] = {
    2: (1, 2, ("W", "E")),
    4: (2, 2, ("NW", "NE", "SW", "SE")),
    6: (2, 3, ("NW", "N", "NE", "SW", "S", "SE")),
    9: (3, 3, ("NW", "N", "NE", "W", "C", "E", "SW", "S", "SE")),
}
"""Supported zone counts: number of zones -> (grid rows, grid cols, zone names in row-major order)."""

GOAL_REASONS: tuple[str, ...] = ("fetch", "deliver", "meet", "wander")
"""Why an agent moves, in a fixed order (use it as the fixed option order A-D of goal questions)."""

GOAL_TEMPLATES: dict[str, str] = {
    "fetch": "to fetch the {item}",
    "deliver": "to drop off the {item}",
    "meet": "to hand the {item} to the {other}",
    "wander": "just wandering",
}
"""Human-readable goal phrases; ``{item}`` and ``{other}`` are filled with item and agent names."""

EVENT_KINDS: tuple[str, ...] = (
    "item_placed",
    "enter",
    "move",
    "pickup",
    "drop",
    "handover",
    "color_change",
    "leave",
)
"""Every event ``kind`` that can appear in an event log."""

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "ring")
"""Agent shapes; each agent has a unique shape, which is also its stable name ("the circle")."""

AGENT_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 190, 60),
    "blue": (60, 110, 255),
    "magenta": (220, 60, 220),
    "orange": (255, 140, 0),
    "cyan": (0, 210, 220),
    "pink": (255, 150, 190),
    "lime": (170, 255, 60),
}
"""Agent colours (RGB). Agents start with distinct colours; a colour change picks one no agent is wearing."""

ITEM_KINDS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("star", (255, 220, 0)),
    ("coin", (250, 250, 250)),
    ("gem", (170, 120, 255)),
)
"""Item names and colours (RGB), in the order items are created."""

CELLS_PER_ZONE = 4
"""Each zone holds a 2x2 grid of cells; an agent or an item lying on the ground occupies one cell."""

MIN_STEPS = 16
"""Fewest simulation steps a video may have (the scripted story needs room)."""

MIN_ZONE_PX = 20
"""Smallest zone side in pixels that still leaves legible shapes."""


class WorldConfig(BaseModel):
    """Difficulty knobs of the synthetic long-video world (one config describes every video of a world)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    num_agents: int = Field(default=3, ge=2, le=len(SHAPES))
    """Number of agents (distinct coloured shapes); at least 2 so that hand-overs are possible."""

    num_items: int = Field(default=1, ge=1, le=len(ITEM_KINDS))
    """Number of items (star, coin, gem); the first one (the star) carries the scripted long-range story."""

    event_rate: float = Field(default=0.25, gt=0.0, le=1.0)
    """Event density: probability that an idle agent starts a new unscripted plan at a step."""

    num_color_changes: int = Field(default=1, ge=0, le=8)
    """How many times an agent changes colour during a video."""

    num_late_agents: int = Field(default=1, ge=0)
    """Agents that are absent at the start and enter in the first third of the video."""

    num_leaving: int = Field(default=1, ge=0)
    """Agents that leave the scene for good in the second half of the video."""

    num_distractors: int = Field(default=0, ge=0, le=16)
    """Small grey dots that jump around at random; they never take part in events."""

    min_link_gap_fraction: float = Field(default=0.35, ge=0.0, le=0.6)
    """The star lies untouched for at least this fraction of the video between one agent's drop and another
    agent's pickup (the long-range causal link)."""

    video_minutes: float = Field(default=2.0, gt=0.0, le=600.0)
    """Duration of each video in minutes."""

    step_seconds: float = Field(default=4.0, gt=0.0)
    """Length of one simulation step in seconds; the scene is constant within a step."""

    fps: float = Field(default=2.0, gt=0.0, le=60.0)
    """Frame rate of the written video (frames per second)."""

    frame_size: int = Field(default=56, ge=32, le=1024)
    """Width and height of the square frames in pixels (even, for yuv420p)."""

    num_zones: int = 4
    """Number of named zones laid out as a grid: 2 (W, E), 4 (quadrants NW, NE, SW, SE), 6 or 9."""

    zone_tints: bool = True
    """Give every zone a distinct background tint (tells a position-blind vision tower *which* zone)."""

    clock: bool = True
    """Draw a visible clock: zone borders brighten step by step from dark grey to white over the video."""

    seed: int = Field(default=0, ge=0)
    """World seed; video i uses ``numpy.random.SeedSequence(seed, spawn_key=(i, attempt))``."""

    @property
    def duration_s(self) -> float:
        """Duration of each video in seconds."""
        return self.num_steps * self.step_seconds

    @property
    def num_steps(self) -> int:
        """Number of simulation steps per video."""
        return round(self.video_minutes * 60.0 / self.step_seconds)

    @property
    def frames_per_step(self) -> int:
        """Identical video frames written per simulation step."""
        return round(self.fps * self.step_seconds)

    @property
    def zone_names(self) -> tuple[str, ...]:
        """Zone names in row-major order."""
        return ZONE_LAYOUTS[self.num_zones][2]

    @model_validator(mode="after")
    def _check_consistency(self) -> WorldConfig:
        problems = _consistency_problems(self)
        if problems:
            raise ValueError("invalid WorldConfig:\n" + "\n".join(f"- {p}" for p in problems))
        return self


def _consistency_problems(cfg: WorldConfig) -> list[str]:
    """Return every cross-field problem of ``cfg``, each naming the field(s) and the fix."""
    problems: list[str] = []
    if cfg.num_zones not in ZONE_LAYOUTS:
        problems.append(f"num_zones={cfg.num_zones}: use one of {sorted(ZONE_LAYOUTS)}")
    if cfg.frame_size % 2:
        problems.append(f"frame_size={cfg.frame_size}: must be even for yuv420p; use {cfg.frame_size + 1}")
    if cfg.num_zones in ZONE_LAYOUTS:
        rows, cols, _ = ZONE_LAYOUTS[cfg.num_zones]
        need_px = MIN_ZONE_PX * max(rows, cols)
        if cfg.frame_size < need_px:
            problems.append(
                f"frame_size={cfg.frame_size}: too small for num_zones={cfg.num_zones}; "
                f"raise frame_size to >= {need_px + need_px % 2} or lower num_zones"
            )
        capacity = (cfg.num_zones - 1) * CELLS_PER_ZONE
        if cfg.num_agents + cfg.num_items > capacity:
            problems.append(
                f"num_agents + num_items = {cfg.num_agents + cfg.num_items}: the scene holds at most "
                f"{capacity} for num_zones={cfg.num_zones}; lower num_agents/num_items or raise num_zones"
            )
    raw_steps = cfg.video_minutes * 60.0 / cfg.step_seconds
    if not math.isclose(raw_steps, round(raw_steps), abs_tol=1e-6):
        problems.append(
            f"video_minutes={cfg.video_minutes}, step_seconds={cfg.step_seconds}: video_minutes*60 must be a "
            f"multiple of step_seconds; e.g. video_minutes={round(raw_steps) * cfg.step_seconds / 60:g}"
        )
    elif round(raw_steps) < MIN_STEPS:
        problems.append(
            f"video_minutes={cfg.video_minutes}, step_seconds={cfg.step_seconds}: only {round(raw_steps)} "
            f"steps; raise video_minutes or lower step_seconds to get >= {MIN_STEPS} steps"
        )
    raw_fps = cfg.fps * cfg.step_seconds
    if raw_fps < 1 or not math.isclose(raw_fps, round(raw_fps), abs_tol=1e-6):
        problems.append(
            f"fps={cfg.fps}, step_seconds={cfg.step_seconds}: fps*step_seconds must be a whole number >= 1 "
            "(frames per step); change fps or step_seconds"
        )
    if cfg.num_late_agents > cfg.num_agents - 1:
        problems.append(f"num_late_agents={cfg.num_late_agents}: at most num_agents-1={cfg.num_agents - 1}")
    if cfg.num_leaving > cfg.num_agents - 1:
        problems.append(f"num_leaving={cfg.num_leaving}: at most num_agents-1={cfg.num_agents - 1}")
    if cfg.num_color_changes and cfg.num_agents >= len(AGENT_COLORS):
        problems.append(
            f"num_color_changes={cfg.num_color_changes}: no spare colour with num_agents={cfg.num_agents}; "
            f"set num_color_changes=0 or num_agents <= {len(AGENT_COLORS) - 1}"
        )
    return problems


@dataclass(frozen=True)
class Geometry:
    """Pixel layout of one frame. Rectangles are ``(y0, x0, y1, x1)`` with exclusive ends."""

    frame_size: int
    zone_rects: tuple[tuple[int, int, int, int], ...]
    zone_grid: tuple[tuple[int, int], ...]
    border_px: int
    cell_rects: tuple[tuple[int, int, int, int], ...]
    sprite_px: int

    def cell_center(self, cell: int) -> tuple[int, int]:
        """Return the ``(x, y)`` pixel centre of global cell ``cell`` (zone * 4 + local cell)."""
        y0, x0, y1, x1 = self.cell_rects[cell]
        return (x0 + x1) // 2, (y0 + y1) // 2


@lru_cache(maxsize=32)
def geometry_for(frame_size: int, num_zones: int) -> Geometry:
    """Compute the zone, border and cell rectangles of a frame.

    Args:
        frame_size: Square frame side in pixels.
        num_zones: A key of ``ZONE_LAYOUTS``.

    Returns:
        The frame geometry; cell ``z * 4 + k`` is local cell ``k`` (row-major 2x2) of zone ``z``.
    """
    rows, cols, _ = ZONE_LAYOUTS[num_zones]
    ys = [round(frame_size * r / rows) for r in range(rows + 1)]
    xs = [round(frame_size * c / cols) for c in range(cols + 1)]
    zone_rects, zone_grid = [], []
    for r in range(rows):
        for c in range(cols):
            zone_rects.append((ys[r], xs[c], ys[r + 1], xs[c + 1]))
            zone_grid.append((r, c))
    side = min(min(y1 - y0, x1 - x0) for y0, x0, y1, x1 in zone_rects)
    border_px = max(1, round(side / 14))
    cell_rects = []
    for y0, x0, y1, x1 in zone_rects:
        iy0, ix0, iy1, ix1 = y0 + border_px, x0 + border_px, y1 - border_px, x1 - border_px
        my, mx = (iy0 + iy1) // 2, (ix0 + ix1) // 2
        cell_rects += [(iy0, ix0, my, mx), (iy0, mx, my, ix1), (my, ix0, iy1, mx), (my, mx, iy1, ix1)]
    cell_side = min(min(y1 - y0, x1 - x0) for y0, x0, y1, x1 in cell_rects)
    sprite_px = max(4, cell_side - 2 * max(1, cell_side // 8))
    return Geometry(frame_size, tuple(zone_rects), tuple(zone_grid), border_px, tuple(cell_rects), sprite_px)


def zone_tint_colors(num_zones: int) -> list[tuple[int, int, int]]:
    """Return distinct, muted background tints (RGB), one per zone, evenly spaced in hue."""
    tints = []
    for z in range(num_zones):
        r, g, b = colorsys.hsv_to_rgb(z / num_zones, 0.6, 0.36)
        tints.append((round(r * 255), round(g * 255), round(b * 255)))
    return tints
