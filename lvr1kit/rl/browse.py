"""An ipywidgets browser over ``rollouts.jsonl``: step and group sliders, one group's completions side by side.

``rollout_browser(path)`` returns a widget (display it as a notebook cell's last expression); the table it shows
is built by :func:`group_rows`, which the notebook and the review app can also use without widgets.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from lvr1kit.rl.rollout_log import read_rollouts

__all__ = ["group_rows", "rollout_browser"]

COLUMNS = ("sample", "completion", "reward", "accuracy", "format", "advantage", "finish_reason", "response_len")


def group_rows(records: list[dict[str, Any]], step: int, group: int) -> list[dict[str, Any]]:
    """The completions of one question (``group``) at ``step``, by sample index."""
    rows = [r for r in records if r["step"] == step and r["group"] == group]
    return sorted(rows, key=lambda r: r["sample"])


def _html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<i>no completions for this step and group</i>"
    head = rows[0]
    title = (
        f"<b>{html.escape(str(head['problem_id']))}</b> ({head['problem_type']}, video {html.escape(head['video'])}, "
        f"{head['frames']} frames) answer <b>{head['answer']}</b><pre>{html.escape(head['prompt'])}</pre>"
    )
    cells = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(r.get(c)))}</td>" for c in COLUMNS) + "</tr>"
        for r in rows
    )
    return f"{title}<table><tr>{cells}</tr>{body}</table>"


def rollout_browser(path: str | Path) -> Any:
    """A ``VBox`` with step / group sliders over ``path`` (a ``rollouts.jsonl``) and an HTML table of the group.

    Raises:
        FileNotFoundError: naming the file when it does not exist.
    """
    import ipywidgets as widgets

    records = read_rollouts(path)
    steps = sorted({r["step"] for r in records}) or [0]
    groups = sorted({r["group"] for r in records}) or [0]
    step = widgets.IntSlider(value=steps[-1], min=steps[0], max=steps[-1], description="step")
    group = widgets.IntSlider(value=groups[0], min=groups[0], max=groups[-1], description="group")
    view = widgets.HTML(_html(group_rows(records, step.value, group.value)))

    def refresh(_: Any = None) -> None:
        view.value = _html(group_rows(records, step.value, group.value))

    step.observe(refresh, names="value")
    group.observe(refresh, names="value")
    return widgets.VBox([widgets.HBox([step, group]), view])
