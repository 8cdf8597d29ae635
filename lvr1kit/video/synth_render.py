"""Drawing and H.264 encoding of the synthetic world (vectorised numpy; one frame per simulation step).

Contents:
    - ``shape_mask(shape, size)``: boolean sprites for agent shapes and item markers.
    - ``FrameRenderer``: draws the frame of one step from its state record (zone tints, clock, distractors,
      items on the ground, agents, carried items).
    - ``write_video(path, log, config)``: encodes every step's frame, repeated ``frames_per_step`` times, as
      an mp4 (libx264, yuv420p, ultrafast) with PyAV.

Drawing order: zone background (tinted or plain grey), zone borders (the clock: grey level rising from 40 to
255 over the video when ``clock`` is on, a constant 90 otherwise), distractor dots, items on the ground,
agents, and a small item marker at the centre of an agent that carries one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import numpy as np

from lvr1kit.video.synth_config import AGENT_COLORS, ITEM_KINDS, WorldConfig, geometry_for, zone_tint_colors
from lvr1kit.video.synth_world import WorldLog

logger = logging.getLogger(__name__)

PLAIN_BACKGROUND = (60, 60, 60)
"""Background colour of every zone when ``zone_tints`` is off."""

STATIC_BORDER_LEVEL = 90
"""Grey level of the zone borders when ``clock`` is off."""

CLOCK_LEVELS = (40, 255)
"""Grey level of the zone borders at the first and at the last step when ``clock`` is on."""

DISTRACTOR_COLOR = (150, 150, 150)
"""Colour of the distractor dots."""

ITEM_SHAPES = {"star": "asterisk", "coin": "circle", "gem": "diamond"}
"""Sprite used for each item kind."""

ENCODER_OPTIONS = {"preset": "ultrafast", "crf": "17"}
"""libx264 options used for every video."""


@lru_cache(maxsize=64)
def shape_mask(shape: str, size: int) -> np.ndarray:
    """Return a ``(size, size)`` boolean sprite of ``shape``.

    Args:
        shape: One of ``SHAPES`` or ``"asterisk"``.
        size: Sprite side in pixels.

    Returns:
        A read-only boolean mask.
    """
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = np.abs(x - c), np.abs(y - c)
    r = size / 2.0
    dist = np.hypot(dx, dy)
    thick = max(1.0, size / 6.0)
    masks = {
        "circle": dist <= r,
        "square": (dx <= r * 0.85) & (dy <= r * 0.85),
        "triangle": dx <= (y + 1.0) / 2.0,
        "diamond": dx + dy <= r,
        "cross": (dx < thick) | (dy < thick),
        "ring": (dist <= r) & (dist >= r - max(1.5, size / 4.0)),
        "asterisk": (dx < thick * 0.75) | (dy < thick * 0.75) | (np.abs(dx - dy) < thick * 0.75),
    }
    if shape not in masks:
        raise ValueError(f"unknown shape {shape!r}; known: {sorted(masks)}")
    mask = masks[shape]
    mask.flags.writeable = False
    return mask


class FrameRenderer:
    """Draws frames of one video from its header and state records."""

    def __init__(self, config: WorldConfig, header: dict[str, Any]) -> None:
        self.cfg = config
        self.geo = geometry_for(config.frame_size, config.num_zones)
        self.shapes = {a["agent"]: a["shape"] for a in header["agents"]}
        item_names = {it["item"]: it["name"] for it in header["items"]}
        colors = {name: np.array(rgb, np.uint8) for name, rgb in ITEM_KINDS}
        self.item_sprites = {item: (ITEM_SHAPES[name], colors[name]) for item, name in item_names.items()}
        self.base, self.border = self._background()

    def _background(self) -> tuple[np.ndarray, np.ndarray]:
        size = self.cfg.frame_size
        base = np.empty((size, size, 3), np.uint8)
        border = np.zeros((size, size), bool)
        tints = zone_tint_colors(self.cfg.num_zones) if self.cfg.zone_tints else None
        b = self.geo.border_px
        for z, (y0, x0, y1, x1) in enumerate(self.geo.zone_rects):
            base[y0:y1, x0:x1] = tints[z] if tints else PLAIN_BACKGROUND
            border[y0:y1, x0:x1] = True
            border[y0 + b : y1 - b, x0 + b : x1 - b] = False
        return base, border

    def clock_level(self, step: int) -> int:
        """Grey level of the zone borders at ``step``."""
        if not self.cfg.clock:
            return STATIC_BORDER_LEVEL
        lo, hi = CLOCK_LEVELS
        return round(lo + (hi - lo) * step / max(1, self.cfg.num_steps - 1))

    def render(self, state: dict[str, Any]) -> np.ndarray:
        """Return the ``(H, W, 3)`` uint8 RGB frame of one state record."""
        frame = self.base.copy()
        frame[self.border] = self.clock_level(state["step"])
        for x, y in state["distractors"]:
            frame[y - 1 : y + 1, x - 1 : x + 1] = DISTRACTOR_COLOR
        sprite = self.geo.sprite_px
        for item in state["items"]:
            if item["holder"] is None:
                shape, color = self.item_sprites[item["item"]]
                _paste(frame, shape_mask(shape, max(3, sprite * 3 // 4)), item["x"], item["y"], color)
        carried = {it["holder"]: it["item"] for it in state["items"] if it["holder"] is not None}
        for agent in state["agents"]:
            if not agent["present"]:
                continue
            body = AGENT_COLORS[agent["color"]]
            _paste(frame, shape_mask(self.shapes[agent["agent"]], sprite), agent["x"], agent["y"], body)
            if agent["agent"] in carried:
                shape, item_color = self.item_sprites[carried[agent["agent"]]]
                _paste(frame, shape_mask(shape, max(3, sprite // 2)), agent["x"], agent["y"], item_color)
        return frame

    def frames(self, log: WorldLog) -> Iterator[np.ndarray]:
        """Yield one frame per step of ``log``."""
        for state in log.states:
            yield self.render(state)


def _paste(frame: np.ndarray, mask: np.ndarray, cx: int, cy: int, color: Any) -> None:
    """Paint ``color`` where ``mask`` is true, with the mask centred at pixel ``(cx, cy)``."""
    h, w = mask.shape
    y0, x0 = cy - h // 2, cx - w // 2
    frame[y0 : y0 + h, x0 : x0 + w][mask] = color


def write_video(path: Path, log: WorldLog, config: WorldConfig) -> int:
    """Encode the video of ``log`` to ``path`` (H.264 in mp4).

    Args:
        path: Output file; its suffix should be ``.mp4`` (the container format is forced to mp4).
        log: The simulated world whose states are drawn.
        config: The world configuration (frame size, fps, cues).

    Returns:
        The number of frames written (``num_steps * frames_per_step``).
    """
    renderer = FrameRenderer(config, log.header)
    frames_per_step = config.frames_per_step
    n_written = 0
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(config.fps).limit_denominator(1000))
        stream.width = stream.height = config.frame_size
        stream.pix_fmt = "yuv420p"
        stream.options = dict(ENCODER_OPTIONS)
        for rgb in renderer.frames(log):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            for _ in range(frames_per_step):
                frame.pts = n_written
                container.mux(stream.encode(frame))
                n_written += 1
        container.mux(stream.encode(None))
    logger.debug("wrote %s (%d frames)", path, n_written)
    return n_written
