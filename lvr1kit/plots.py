"""Plotly figure builders for notebooks and the app. Figures only: no file or model access here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "caption_timeline",
    "category_bars",
    "event_timeline",
    "frame_scaling",
    "frame_strip",
    "mrsp_phase_breakdown",
    "mrsp_speedup",
    "split_distribution",
]


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


def split_distribution(splits: dict[str, dict[str, Any]], field: str, title: str = "") -> go.Figure:
    """Grouped bars of one distribution (``categories`` or ``letters``) per dataset split.

    Args:
        splits: split name -> distribution dict as in a data ``report.json`` (``{"categories": {...}, ...}``).
        field: ``"categories"`` or ``"letters"``.
        title: figure title.
    """
    fig = go.Figure()
    for name, dist in splits.items():
        counts = dist[field]
        total = max(1, sum(counts.values()))
        fig.add_trace(
            go.Bar(
                x=list(counts),
                y=[v / total for v in counts.values()],
                name=f"{name} (n={total})",
                text=list(counts.values()),
                hovertemplate="%{x}: %{y:.1%} (%{text})<extra></extra>",
            )
        )
    fig.update_layout(title=title, barmode="group", yaxis_title="share", yaxis_tickformat=".0%", height=320)
    return fig


def caption_timeline(segments: Sequence[dict[str, Any]], title: str = "", wrap: int = 60) -> go.Figure:
    """A video's clip captions as bars on a time axis (hover for the caption text).

    Args:
        segments: ``{"start_s", "end_s", "caption"}`` dicts, as in a timeline file.
        title: figure title.
        wrap: characters per hover line.
    """
    texts = ["<br>".join(s["caption"][i : i + wrap] for i in range(0, len(s["caption"]), wrap)) for s in segments]
    fig = go.Figure(
        go.Bar(
            x=[s["end_s"] - s["start_s"] for s in segments],
            base=[s["start_s"] for s in segments],
            y=[f"clip {i}" for i in range(len(segments))],
            orientation="h",
            text=[s["caption"][:40] + ("…" if len(s["caption"]) > 40 else "") for s in segments],
            textposition="inside",
            customdata=texts,
            hovertemplate="from %{base:.0f} s, %{x:.0f} s long<br>%{customdata}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title, xaxis_title="time (s)", yaxis={"autorange": "reversed"}, height=60 + 28 * len(segments)
    )
    return fig


def category_bars(
    table: Any,
    metric: str = "accuracy_lenient",
    group_type: str = "category",
    labels: Mapping[str, str] | None = None,
    title: str = "",
) -> go.Figure:
    """Grouped bars of one metric per group (category, duration, letter) and model, with CI error bars.

    Args:
        table: Tidy eval table (``lvr1kit.eval.summary_table`` / ``table.parquet``): columns ``model``,
            ``group_type``, ``group``, ``metric``, ``n``, ``value``, ``ci_low``, ``ci_high``.
        metric: Which metric to show.
        group_type: ``category``, ``duration``, ``letter`` or ``overall``.
        labels: Display names of the groups (e.g. ``lvr1kit.eval.CATEGORY_NAMES``).
        title: Figure title.
    """
    part = table[(table["group_type"] == group_type) & (table["metric"] == metric)]
    fig = go.Figure()
    for model in part["model"].unique():
        rows = part[part["model"] == model]
        baseline = str(model).startswith("baseline:")
        fig.add_trace(
            go.Bar(
                x=[(labels or {}).get(g, g) for g in rows["group"]],
                y=rows["value"],
                name=str(model),
                opacity=0.45 if baseline else 1.0,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows["ci_high"] - rows["value"],
                    "arrayminus": rows["value"] - rows["ci_low"],
                },
                customdata=np.stack([rows["n"], rows["ci_low"], rows["ci_high"]], axis=-1),
                hovertemplate="%{x}: %{y:.1%} [%{customdata[1]:.1%}, %{customdata[2]:.1%}] (n=%{customdata[0]})"
                "<extra>" + str(model) + "</extra>",
            )
        )
    fig.update_layout(
        title=title, barmode="group", yaxis_title=metric, yaxis_tickformat=".0%", yaxis_range=[0, 1.05], height=380
    )
    return fig


def frame_scaling(
    table: Any, metric: str = "accuracy_lenient", labels: Mapping[str, str] | None = None, title: str = ""
) -> go.Figure:
    """Accuracy vs frame budget: one line per (sampling scheme, category), overall in bold, with CI error bars.

    Args:
        table: Tidy sweep table (``sweep.parquet``): columns ``strategy``, ``frames``, ``group_type``, ``group``,
            ``metric``, ``value``, ``ci_low``, ``ci_high``.
        metric: Which metric to show.
        labels: Display names of the categories.
        title: Figure title.
    """
    part = table[table["metric"] == metric].sort_values("frames")
    dashes = ["solid", "dash", "dot", "dashdot"]
    fig = go.Figure()
    for i, strategy in enumerate(part["strategy"].unique()):
        for (group_type, group), rows in part[part["strategy"] == strategy].groupby(["group_type", "group"]):
            overall = group_type == "overall"
            name = "overall" if overall else (labels or {}).get(group, group)
            fig.add_trace(
                go.Scatter(
                    x=rows["frames"],
                    y=rows["value"],
                    mode="lines+markers",
                    name=f"{name} · {strategy}",
                    legendgroup=str(strategy),
                    line={"dash": dashes[i % len(dashes)], "width": 4 if overall else 1.5},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": rows["ci_high"] - rows["value"],
                        "arrayminus": rows["value"] - rows["ci_low"],
                        "visible": overall,
                    },
                    hovertemplate="%{x} frames: %{y:.1%}<extra>" + f"{name} · {strategy}" + "</extra>",
                )
            )
    fig.update_layout(
        title=title,
        xaxis={"title": "frames per video", "type": "log", "dtick": np.log10(2)},
        yaxis={"title": metric, "tickformat": ".0%", "range": [0, 1.05]},
        height=420,
    )
    return fig


def metric_curves(records: Sequence[dict[str, Any]], keys: Sequence[str], title: str = "") -> go.Figure:
    """One small line chart per metric key against ``step`` (records as in ``metrics.jsonl``)."""
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=list(keys))
    for col, key in enumerate(keys, start=1):
        points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), int | float)]
        fig.add_trace(
            go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=key),
            row=1,
            col=col,
        )
    fig.update_layout(title=title, height=300, showlegend=False, margin={"l": 30, "r": 10, "t": 60, "b": 30})
    return fig


def group_table(rows: Sequence[dict[str, Any]], title: str = "") -> go.Figure:
    """One GRPO group's completions with reward parts and advantages side by side (rows of ``rollouts.jsonl``)."""
    columns = ["sample", "completion", "reward", "accuracy", "format", "advantage", "finish_reason"]
    values = [[r.get(c) if not isinstance(r.get(c), float) else round(r[c], 3) for r in rows] for c in columns]
    fig = go.Figure(
        go.Table(
            header={"values": columns}, cells={"values": values, "align": "left"}, columnwidth=[1, 8, 1, 1, 1, 1, 1]
        )
    )
    fig.update_layout(title=title, height=120 + 40 * len(rows), margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def mrsp_phase_breakdown(results: Sequence[dict[str, Any]], title: str = "GRPO step time by phase") -> go.Figure:
    """Stacked seconds per phase of one step, one bar per (frames, config) row of an ``lvr1 bench mrsp`` report."""
    labels = [f"{r['frames']} f<br>{r['config']}" for r in results]
    phases = list(dict.fromkeys(p for r in results for p in r["phases"]))
    fig = go.Figure()
    for phase in phases:
        fig.add_trace(go.Bar(x=labels, y=[r["phases"].get(phase, 0.0) for r in results], name=phase))
    fig.update_layout(barmode="stack", title=title, yaxis_title="seconds", xaxis_title="frames / configuration")
    return fig


def mrsp_speedup(results: Sequence[dict[str, Any]], title: str = "Speedup over the baseline step") -> go.Figure:
    """Measured speedup per configuration and the ideal (every redundant encode removed) per frame count."""
    frames = sorted({r["frames"] for r in results if "speedup" in r})
    fig = go.Figure()
    for config in dict.fromkeys(r["config"] for r in results if "speedup" in r):
        rows = {r["frames"]: r for r in results if r["config"] == config}
        fig.add_trace(
            go.Bar(
                x=[str(f) for f in frames], y=[rows[f]["speedup"] if f in rows else None for f in frames], name=config
            )
        )
    ideal = {r["frames"]: r["ideal_speedup"] for r in results if "ideal_speedup" in r}
    fig.add_trace(
        go.Scatter(
            x=[str(f) for f in frames],
            y=[ideal[f] for f in frames],
            name="ideal (no redundant encodes)",
            mode="lines+markers",
            line={"dash": "dash"},
        )
    )
    fig.add_hline(y=1.0, line={"color": "grey", "width": 1})
    fig.update_layout(barmode="group", title=title, xaxis_title="frames", yaxis_title="x baseline step time")
    return fig
