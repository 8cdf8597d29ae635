"""Plotly figures of the app that ``lvr1kit.plots`` does not have yet (candidates to move there).

Contents:
    - ``training_curves``: reward, accuracy and response length per GRPO step from ``metrics.jsonl`` records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["training_curves"]

CURVES: tuple[tuple[str, str], ...] = (
    ("reward/total", "reward"),
    ("reward/accuracy", "accuracy"),
    ("rollout/response_len", "response length (tokens)"),
)


def training_curves(metrics: Sequence[dict[str, Any]], title: str = "") -> go.Figure:
    """Reward, accuracy and response length vs step, one panel each (missing keys leave a panel empty)."""
    fig = make_subplots(rows=1, cols=len(CURVES), subplot_titles=[label for _, label in CURVES])
    for col, (key, label) in enumerate(CURVES, start=1):
        points = [(m["step"], m[key]) for m in metrics if m.get(key) is not None and "step" in m]
        fig.add_trace(
            go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=label),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="step", row=1, col=col)
    fig.update_layout(title=title, height=320, showlegend=False, margin={"t": 60, "b": 40})
    return fig
