"""Plotly figure builders for notebooks and the app. Figures only: no file or model access here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["event_timeline", "frame_strip"]


def frame_strip(
    frames: np.ndarray, timestamps_s: Sequence[float], title: str = "", max_frames: int = 12, columns: int = 6
) -> go.Figure:
    """A grid of sampled frames, each titled with its timestamp.

    Args:
        frames: uint8 RGB frames ``[T, H, W, 3]``.
        timestamps_s: time of each frame in seconds.
        title: figure title.
        max_frames: frames shown, spread evenly over ``T``.
        columns: frames per row.
    """
    if len(frames) != len(timestamps_s):
        raise ValueError(f"{len(frames)} frames but {len(timestamps_s)} timestamps")
    pick = np.unique(np.linspace(0, len(frames) - 1, num=min(max_frames, len(frames))).round().astype(int))
    rows = -(-len(pick) // columns)
    fig = make_subplots(
        rows=rows,
        cols=min(columns, len(pick)),
        subplot_titles=[f"{timestamps_s[i]:.1f} s" for i in pick],
        horizontal_spacing=0.01,
        vertical_spacing=0.08,
    )
    for n, i in enumerate(pick):
        fig.add_trace(go.Image(z=frames[i]), row=n // columns + 1, col=n % columns + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=title, height=170 * rows + 60, margin={"l": 10, "r": 10, "t": 60, "b": 10})
    return fig


def event_timeline(events: Sequence[dict[str, Any]], title: str = "") -> go.Figure:
    """Events of a synthetic-world log as markers on a time axis, one row per agent, one colour per kind."""
    fig = go.Figure()
    kinds = sorted({e["kind"] for e in events})
    for kind in kinds:
        chosen = [e for e in events if e["kind"] == kind]
        fig.add_trace(
            go.Scatter(
                x=[e["start_s"] for e in chosen],
                y=[e.get("agent") or "scene" for e in chosen],
                mode="markers",
                name=kind,
                marker={"size": 11, "symbol": "diamond"},
                text=[e.get("text") or kind for e in chosen],
                hovertemplate="%{x:.0f} s: %{text}<extra></extra>",
            )
        )
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="agent", height=320)
    return fig
