"""HTML fragments of the app (escaped text; citations as ``lvr1-ts`` jump links). No gradio here.

Contents:
    - ``video_html``: a ``<video class="lvr1-video">`` served through gradio's file route (``gradio_api/file=``).
    - ``timeline_html``: clip captions with clickable start times; clips overlapping evidence highlighted.
    - ``item_html``: question, lettered options, gold answer, reasoning, evidence and provenance of a record.
    - ``completion_card``: one GRPO completion with its reward parts, advantage and readable ``<think>`` chain.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lvr1kit.data.schema import QARecord, Timeline, format_timestamp
from lvr1kit.models.prompt import OPTION_LETTERS
from lvr1kit.review.timestamps import render_completion_html, render_reasoning_html

__all__ = ["completion_card", "item_html", "jump_link", "timeline_html", "video_html"]

FILE_ROUTE = "gradio_api/file="


def jump_link(start_s: float, end_s: float | None = None) -> str:
    """``<a class="lvr1-ts" data-t=...>mm:ss[-mm:ss]</a>``."""
    label = format_timestamp(start_s) + (f"-{format_timestamp(end_s)}" if end_s not in (None, start_s) else "")
    return f'<a href="#" class="lvr1-ts" data-t="{float(start_s)}">{label}</a>'


def video_html(path: Path | None, note: str = "") -> str:
    """The video player (``None``: a notice saying why there is no video)."""
    if path is None:
        return f'<div class="lvr1-novideo">no video: {html.escape(note or "file missing or outside the roots")}</div>'
    src = FILE_ROUTE + quote(str(path))
    return (
        f'<video class="lvr1-video" controls preload="metadata" src="{src}" '
        f'style="width:100%;max-height:380px;background:#000"></video>'
        f'<div class="lvr1-videoname">{html.escape(path.name)}</div>'
    )


def timeline_html(timeline: Timeline | None, evidence: Sequence[tuple[float, float]] = ()) -> str:
    """Clip captions, each starting with a jump link; clips overlapping an evidence window are marked."""
    if timeline is None:
        return '<div class="lvr1-timeline"><i>no caption timeline for this video</i></div>'
    rows = []
    for seg in timeline.segments:
        hit = any(seg.start_s < end and start < seg.end_s for start, end in evidence) or any(
            start == end and seg.start_s <= start <= seg.end_s for start, end in evidence
        )
        cls = "lvr1-seg lvr1-evidence" if hit else "lvr1-seg"
        rows.append(f'<div class="{cls}">{jump_link(seg.start_s, seg.end_s)} {html.escape(seg.caption)}</div>')
    head = f"<b>caption timeline</b> ({timeline.captioner}, {timeline.clip_seconds:g} s clips)"
    return f'<div class="lvr1-timeline">{head}{"".join(rows)}</div>'


def _provenance(record: QARecord, split: str, dropped_reason: str) -> str:
    fields = {
        "split": split,
        "category": record.problem_type,
        "question type": record.question_type,
        "generator": record.generator,
        "generator model": record.generator_model or "",
        "prompt version": record.prompt_version,
        "source": record.source,
        "clip seconds": "" if record.clip_seconds is None else f"{record.clip_seconds:g}",
        "video duration": "" if record.video_duration_s is None else format_timestamp(record.video_duration_s),
        "created": record.created,
        "dropped by filter": dropped_reason,
    }
    cells = "".join(f"<span><b>{html.escape(k)}</b>: {html.escape(str(v))}</span> " for k, v in fields.items() if v)
    return f'<div class="lvr1-prov">{cells}</div>'


def item_html(record: QARecord, split: str, dropped_reason: str = "", status: str = "") -> str:
    """The record as the annotator reads it (edits already applied by the caller)."""
    options = "".join(
        f'<li class="{"lvr1-gold" if letter == record.answer_letter else ""}"><b>{letter}.</b> {html.escape(text)}</li>'
        for letter, text in zip(OPTION_LETTERS, record.options, strict=False)
    )
    evidence = ", ".join(jump_link(s, e) for s, e in record.evidence) or "<i>none recorded</i>"
    return (
        f'<div class="lvr1-item" data-item="{html.escape(str(record.problem_id))}">'
        f"<div><b>{html.escape(str(record.problem_id))}</b> <span class='lvr1-status'>status: {status}</span></div>"
        f"{_provenance(record, split, dropped_reason)}"
        f'<div class="lvr1-question"><b>Question</b>: {html.escape(record.question)}</div>'
        f'<ul class="lvr1-options" style="list-style:none;padding-left:8px">{options}</ul>'
        f'<div class="lvr1-answer"><b>Gold answer</b>: {record.answer_letter}</div>'
        f'<div class="lvr1-reasoning"><b>Reasoning</b>: {render_reasoning_html(record.reasoning)}</div>'
        f'<div class="lvr1-evidence-list"><b>Evidence windows</b>: {evidence}</div>'
        "</div>"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:+.3f}" if value < 0 or value > 1 else f"{value:.3f}"
    return html.escape(str(value))


def completion_card(sample: dict[str, Any], extracted: str | None) -> str:
    """One completion: sample index, extracted answer vs gold, reward parts, advantage, rendered chain."""
    correct = (sample.get("accuracy") or 0) >= 1
    fmt_ok = (sample.get("format") or 0) >= 1 and sample.get("parse_ok") is not False
    badges = [
        f"sample {sample.get('sample', '?')}",
        f"answer {extracted or '—'} (gold {sample.get('answer', '?')})",
        f"reward {_fmt(float(sample.get('reward') or 0))}",
        f"accuracy {_fmt(sample.get('accuracy'))}",
        f"format {_fmt(sample.get('format'))}",
        f"advantage {_fmt(float(sample.get('advantage') or 0))}",
        f"{sample.get('response_len', '?')} tokens, {sample.get('finish_reason', '?')}",
    ]
    if sample.get("in_loss") is False:
        badges.append("not in loss")
    cls = "lvr1-card " + ("lvr1-correct" if correct else "lvr1-incorrect") + ("" if fmt_ok else " lvr1-fmtfail")
    head = " · ".join(html.escape(b) for b in badges)
    body = render_completion_html(str(sample.get("completion") or ""))
    return f'<div class="{cls}"><div class="lvr1-card-head">{head}</div>{body}</div>'
