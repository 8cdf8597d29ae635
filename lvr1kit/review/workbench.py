"""The app's back end: one method per UI action, returning display-ready values (HTML, tables, figures).

Contents:
    - ``Choices``: new choices and value of a dropdown (the app turns it into a component update).
    - ``Workbench``: holds the roots and the review store; methods for the Review, Rollouts and Eval tabs.

Each method is what one app callback calls; failures a user can fix come back as a ``message`` (the app shows it),
so a typo never crashes the page. Every file path comes from a root plus a relative name via
:func:`lvr1kit.review.paths.resolve_under`.
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lvr1kit.plots import category_bars, frame_scaling
from lvr1kit.review import datasets as ds
from lvr1kit.review import evals, rollouts
from lvr1kit.review.figures import training_curves
from lvr1kit.review.paths import PathRefused, resolve_under
from lvr1kit.review.render import completion_card, item_html, jump_link, timeline_html, video_html
from lvr1kit.review.store import ItemState, ReviewStore, StaleEditError, apply_edits, default_store_url, export_version
from lvr1kit.review.timestamps import render_completion_html
from lvr1kit.runs import read_metrics

__all__ = ["Choices", "Filters", "Workbench", "environment_roots"]

log = logging.getLogger(__name__)
QUEUE_COLUMNS = ["id", "split", "category", "status", "by", "generator"]
MAX_FRAMES_SHOWN = 16


@dataclass(frozen=True)
class Choices:
    """Dropdown contents: ``choices`` (values or ``(label, value)`` pairs) and the selected ``value``."""

    choices: list[Any]
    value: Any = None


@dataclass
class Filters:
    """The review queue's filters (``all`` = no filter)."""

    category: str = "all"
    status: str = "all"
    generator: str = "all"
    reason: str = "all"


@dataclass
class Workbench:
    """Back end of the review app over a data root, a runs root and a review store.

    Args:
        data_root: Folder holding datasets (data-stage outputs).
        runs_root: Folder holding run dirs (GRPO runs with ``rollouts.jsonl``, eval runs).
        store_url: SQLAlchemy URL of the review store (``None``: SQLite under ``<data_root>/.review``).
    """

    data_root: Path
    runs_root: Path
    store_url: str | None = None
    store: ReviewStore = field(init=False)

    def __post_init__(self) -> None:
        self.data_root = Path(self.data_root).resolve()
        self.runs_root = Path(self.runs_root).resolve()
        for name, root in (("data", self.data_root), ("runs", self.runs_root)):
            if not root.is_dir():
                raise FileNotFoundError(f"--{name} {root} is not a folder; point it at an existing directory")
        self.store = ReviewStore(self.store_url or default_store_url(self.data_root))

    @property
    def roots(self) -> list[Path]:
        """The folders files may be served from."""
        return [self.data_root, self.runs_root]

    def blocked_paths(self) -> list[str]:
        """Files under the roots that must never be served (the SQLite store and its WAL files)."""
        if not self.store.is_sqlite:
            return []
        db = Path(self.store.engine.url.database or "")
        return [str(db.parent)] if db.parent.name == ".review" else [str(db), f"{db}-wal", f"{db}-shm"]

    # ------------------------------------------------------------------------------------------------ review
    def dataset_choices(self, current: str | None = None) -> Choices:
        """Dataset versions under the data root (keeps ``current`` selected when still there)."""
        labels = [r.label for r in ds.list_datasets(self.data_root)]
        return Choices(labels, current if current in labels else (labels[0] if labels else None))

    def _load(self, label: str) -> tuple[ds.LoadedDataset, dict[str, ItemState]]:
        ref = ds.parse_label(label)
        dataset = ds.load_dataset(self.data_root, ref, extra_roots=[self.runs_root])
        return dataset, self.store.states(ref.name, ref.version)

    def _queue(self, label: str, filters: Filters) -> tuple[ds.LoadedDataset, dict[str, ItemState], list[ds.Item]]:
        dataset, states = self._load(label)
        queue = ds.filter_queue(
            dataset.items,
            states,
            category=filters.category,
            status=filters.status,
            generator=filters.generator,
            reason=filters.reason,
        )
        return dataset, states, queue

    @staticmethod
    def _progress_md(dataset: ds.LoadedDataset, states: dict[str, ItemState]) -> str:
        prog = ds.progress(dataset.items, states)
        cats = " · ".join(f"{k} {v['reviewed']}/{v['total']}" for k, v in prog["per_category"].items())
        stats = ", ".join(f"{k}: {v}" for k, v in sorted(prog["statuses"].items()))
        share = (dataset.report.get("dataset") or {}).get("all", {}).get("letter_share", {})
        letters = ", ".join(f"{k} {v:.0%}" for k, v in share.items())
        failures = (dataset.report.get("dataset") or {}).get("failures", {})
        lines = [
            f"**Reviewed {prog['reviewed']} / {prog['total']}** ({cats})",
            f"statuses: {stats}",
        ]
        if letters:
            lines.append(f"gold-letter share (answer bias check): {letters}")
        if failures:
            lines.append("generation failures: " + ", ".join(f"{k}: {v}" for k, v in sorted(failures.items())))
        if dataset.problems:
            lines.append(f"{len(dataset.problems)} unreadable rows (first: `{dataset.problems[0][:160]}`)")
        return "  \n".join(lines)

    def open_queue(
        self, label: str | None, category: str, status: str, generator: str, reason: str, current: str | None
    ) -> dict[str, Any]:
        """Queue of a dataset under filters: filter choices, queue table, item choice, progress, message."""
        empty = {
            "category": Choices(["all"], "all"),
            "status": Choices(["all"], "all"),
            "generator": Choices(["all"], "all"),
            "reason": Choices(["all"], "all"),
            "queue": pd.DataFrame(columns=QUEUE_COLUMNS),
            "item": Choices([], None),
            "progress": "",
        }
        if not label:
            return empty | {"message": f"No datasets under {self.data_root}; run the data stage (`lvr1 data`)."}
        try:
            filters = Filters(category or "all", status or "all", generator or "all", reason or "all")
            dataset, states, queue = self._queue(label, filters)
        except (PathRefused, FileNotFoundError, KeyError) as err:
            return empty | {"message": f"⚠ {err}"}
        choices = ds.filter_choices(dataset.items, states)
        values = {"category": filters.category, "status": filters.status}
        values |= {"generator": filters.generator, "reason": filters.reason}
        ids = [i.item_id for i in queue]
        return {
            **{k: Choices(choices[k], values[k] if values[k] in choices[k] else "all") for k in choices},
            "queue": self._queue_frame(queue, states),
            "item": Choices(ids, current if current in ids else (ids[0] if ids else None)),
            "progress": self._progress_md(dataset, states),
            "message": f"{len(queue)} items in the queue" if queue else "The queue is empty under these filters.",
        }

    @staticmethod
    def _queue_frame(queue: list[ds.Item], states: dict[str, ItemState]) -> pd.DataFrame:
        rows = []
        for item in queue[:1000]:
            state = states.get(item.item_id, ItemState())
            rows.append(
                [
                    item.item_id,
                    item.split,
                    item.record.problem_type,
                    state.status,
                    state.annotator,
                    item.record.generator,
                ]
            )
        return pd.DataFrame(rows, columns=QUEUE_COLUMNS)

    def show_item(self, label: str | None, item_id: str | None) -> dict[str, Any]:
        """Everything shown for one item: video, timeline, record, history, edit boxes, the edit it is based on."""
        blank = {
            "video": video_html(None, "no item selected"),
            "timeline": "",
            "item": "<i>No item selected.</i>",
            "history": pd.DataFrame(columns=["id", "time", "annotator", "action", "reason", "edits"]),
            "edit_question": "",
            "edit_options": "",
            "edit_answer": "",
            "edit_reasoning": "",
            "base_edit": None,
        }
        if not label or not item_id:
            return blank
        try:
            dataset, states = self._load(label)
            item = dataset.item(item_id)
        except (PathRefused, FileNotFoundError, KeyError) as err:
            return blank | {"item": f"⚠ {html.escape(str(err))}"}
        state = states.get(item_id, ItemState())
        try:
            record = apply_edits(item.record, state.edits)
        except ValueError as err:
            record = item.record
            log.warning("edits of %s do not validate: %s", item_id, err)
        path = ds.video_path(dataset, item)
        ref = ds.parse_label(label)
        history = self.store.history(ref.name, ref.version, item_id)
        return {
            "video": video_html(path, f"{record.videos} not found under the roots"),
            "timeline": timeline_html(dataset.timeline(record.videos), record.evidence),
            "item": item_html(record, item.split, item.dropped_reason, state.status),
            "history": pd.DataFrame(
                [[v.id, v.created[:19], v.annotator, v.action, v.reason, v.edits or ""] for v in history],
                columns=["id", "time", "annotator", "action", "reason", "edits"],
            ),
            "edit_question": record.question,
            "edit_options": "\n".join(record.options),
            "edit_answer": record.answer_letter,
            "edit_reasoning": record.reasoning,
            "base_edit": state.last_edit_id,
        }

    def act(
        self,
        label: str | None,
        item_id: str | None,
        annotator: str,
        action: str,
        reason: str = "",
        edit: dict[str, Any] | None = None,
        base_edit: int | None = None,
        filters: Filters | None = None,
    ) -> dict[str, Any]:
        """Record a verdict on the item, then return the refreshed queue and the next item.

        Args:
            label: Dataset label.
            item_id: The item.
            annotator: Who decides.
            action: ``accept``, ``reject``, ``edit`` or ``skip``.
            reason: Reject reason.
            edit: For ``edit``: ``question``, ``options`` (text, one per line), ``answer_letter``, ``reasoning`` as
                typed; only fields that differ from the item's current state are recorded.
            base_edit: The item's ``last_edit_id`` when it was shown.
            filters: The queue filters (to pick the next item).
        """
        filters = filters or Filters()
        if not label or not item_id:
            return {"message": "⚠ pick a dataset and an item first"}
        try:
            dataset, states = self._load(label)
            item = dataset.item(item_id)
            edits = self._edits(item, states.get(item_id, ItemState()), edit) if action == "edit" else None
            if action == "edit" and not edits:
                return {"message": "Nothing changed: edit a field below, then save the edit."}
            ref = ds.parse_label(label)
            verdict = self.store.record(
                ref.name,
                ref.version,
                item_id,
                annotator,
                action,
                reason=reason if action == "reject" else "",
                edits=edits,
                split=item.split,
                base_edit_id=base_edit if action == "edit" else None,
            )
        except (StaleEditError, ValueError, KeyError, PathRefused, FileNotFoundError) as err:
            return {"message": f"⚠ {err}"}
        after = self.open_queue(label, filters.category, filters.status, filters.generator, filters.reason, None)
        order = [i.item_id for i in dataset.items]
        position = order.index(item_id)
        queue_ids = after["item"].choices
        following = [i for i in queue_ids if order.index(i) > position]
        target = (following or queue_ids or [None])[0]
        note = f"Recorded {verdict.action} on {item_id} by {verdict.annotator} (verdict #{verdict.id})."
        return after | {"item": Choices(queue_ids, target), "message": note}

    @staticmethod
    def _edits(item: ds.Item, state: ItemState, typed: dict[str, Any] | None) -> dict[str, Any]:
        current = apply_edits(item.record, state.edits)
        typed = typed or {}
        new: dict[str, Any] = {}
        if "question" in typed and typed["question"].strip() != current.question:
            new["question"] = typed["question"].strip()
        if "options" in typed:
            options = [line.strip() for line in str(typed["options"]).splitlines() if line.strip()]
            if options != current.options:
                new["options"] = options
        if "answer_letter" in typed and str(typed["answer_letter"]).strip().upper() != current.answer_letter:
            new["answer_letter"] = str(typed["answer_letter"]).strip().upper()
        if "reasoning" in typed and typed["reasoning"].strip() != current.reasoning.strip():
            new["reasoning"] = typed["reasoning"].strip()
        if new:
            apply_edits(current, new)  # validates: raises ValueError naming the problem
        return new

    def next_item(self, label: str | None, item_id: str | None, filters: Filters | None = None) -> Choices:
        """The item after ``item_id`` in the queue (wrapping to the first)."""
        filters = filters or Filters()
        after = self.open_queue(label, filters.category, filters.status, filters.generator, filters.reason, None)
        ids: list[str] = after["item"].choices
        if not ids:
            return Choices([], None)
        position = ids.index(item_id) + 1 if item_id in ids else 0
        return Choices(ids, ids[position % len(ids)])

    def export(self, label: str | None, annotator: str) -> str:
        """Write accepted + edited items as a new version; returns a message naming the folder and counts."""
        if not label:
            return "⚠ pick a dataset first"
        try:
            dataset, _ = self._load(label)
            items = [(i.split, i.record) for i in dataset.items if i.split != "dropped"]
            manifest = export_version(self.store, dataset.ref.name, dataset.dir, dataset.ref.version, items, annotator)
        except (PathRefused, FileNotFoundError, OSError) as err:
            return f"⚠ export failed: {err}"
        counts = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
        warn = f" ({len(manifest['invalid_edits'])} invalid edits left out)" if manifest["invalid_edits"] else ""
        return f"Exported {dataset.ref.name}@{manifest['version']}: {counts}{warn}."

    # ---------------------------------------------------------------------------------------------- rollouts
    def run_choices(self, current: str | None = None) -> Choices:
        """GRPO runs (folders with ``rollouts.jsonl``) under the runs root."""
        runs = rollouts.list_runs(self.runs_root)
        return Choices(runs, current if current in runs else (runs[-1] if runs else None))

    def open_run(self, run: str | None, step: Any, zero_variance: bool, format_failures: bool) -> dict[str, Any]:
        """Steps, groups (under the group filters), training curves and a summary of a run."""
        if not run:
            return {
                "step": Choices([], None),
                "group": Choices([], None),
                "curves": training_curves([]),
                "summary": f"No GRPO runs with rollouts.jsonl under {self.runs_root}.",
            }
        try:
            log_ = rollouts.load_rollouts(self.runs_root, run)
            metrics = read_metrics(resolve_under(self.runs_root, run))
        except (PathRefused, OSError, ValueError) as err:
            return {"step": Choices([], None), "group": Choices([], None), "curves": None, "summary": f"⚠ {err}"}
        steps = sorted({int(r["step"]) for r in log_.rows})
        chosen = int(step) if step not in (None, "") and int(step) in steps else (steps[-1] if steps else None)
        groups = rollouts.filter_groups(
            rollouts.group_rollouts(log_.rows, chosen), zero_variance=zero_variance, format_failures=format_failures
        )
        labels = []
        for g in groups:
            flags = (" · zero-variance" if g.zero_variance else "") + (
                f" · {g.format_failures} format fail" if g.format_failures else ""
            )
            labels.append((f"group {g.group} · acc {g.accuracy:.2f}{flags}", str(g.group)))
        all_groups = rollouts.group_rollouts(log_.rows, chosen)
        zero = sum(g.zero_variance for g in all_groups)
        summary = (
            f"{len(log_.rows)} completions over {len(steps)} steps; step {chosen}: {len(all_groups)} groups, "
            f"{zero} zero-variance; {len(groups)} shown"
        )
        return {
            "step": Choices([str(s) for s in steps], None if chosen is None else str(chosen)),
            "group": Choices(labels, labels[0][1] if labels else None),
            "curves": training_curves(metrics, title=run),
            "summary": summary,
        }

    def show_group(self, run: str | None, step: Any, group: Any, outcome: str, order: str) -> dict[str, Any]:
        """One prompt group: video, frames used, prompt and gold, and one card per completion."""
        blank = {"video": video_html(None, "no group selected"), "frames": [], "group": "", "completions": ""}
        if not run or step in (None, "") or group in (None, ""):
            return blank
        try:
            log_ = rollouts.load_rollouts(self.runs_root, run)
        except (PathRefused, OSError) as err:
            return blank | {"group": f"⚠ {html.escape(str(err))}"}
        found = [g for g in rollouts.group_rollouts(log_.rows, int(step)) if g.group == int(group)]
        if not found:
            return blank | {"group": f"⚠ no group {group} at step {step}"}
        grp = found[0]
        first = grp.first
        videos_dir = rollouts.run_videos_dir(self.runs_root, run, self.roots)
        path = None
        if videos_dir is not None and first.get("video"):
            try:
                path = resolve_under(videos_dir, str(first["video"]))
            except PathRefused:
                path = None
        path = path if path is not None and path.is_file() else None
        times = [float(t) for t in first.get("frame_times_s") or []]
        cards = [
            completion_card(s, rollouts.extracted_answer(s))
            for s in rollouts.sort_samples(grp.samples, outcome=outcome, order=order)
        ]
        rewards = ", ".join(f"{r:.2f}" for r in grp.rewards)
        prompt = html.escape(str(first.get("prompt", ""))).replace("\n", "<br>")
        frame_links = " ".join(jump_link(t) for t in times[:64])
        esc = lambda value: html.escape(str(value))  # noqa: E731
        header = (
            f'<div class="lvr1-group"><b>step {grp.step} · group {grp.group}</b> · {esc(first.get("problem_id"))}'
            f" · {esc(first.get('problem_type', ''))} · gold <b>{esc(first.get('answer'))}</b>"
            f"<br>rewards [{rewards}]{' · <b>zero-variance group</b>' if grp.zero_variance else ''}"
            f" · {first.get('frames', len(times))} frames<br><div class='lvr1-prompt'>{prompt}</div>"
            f"<div class='lvr1-frametimes'><b>frame times</b>: {frame_links}</div></div>"
        )
        return {
            "video": video_html(path, f"{first.get('video')} not found under the roots"),
            "frames": self._frames(path, times),
            "group": header,
            "completions": "".join(cards) or "<i>No completion matches this filter.</i>",
        }

    @staticmethod
    def _frames(path: Path | None, times: list[float]) -> list[tuple[np.ndarray, str]]:
        if path is None or not times:
            return []
        from lvr1kit.video.io import VideoError, probe, read_frames

        picks = times if len(times) <= MAX_FRAMES_SHOWN else times[:: int(np.ceil(len(times) / MAX_FRAMES_SHOWN))]
        try:
            info = probe(path)
            indices = np.clip(np.round(np.asarray(picks) * info.fps).astype(np.int64), 0, info.num_frames - 1)
            frames, _ = read_frames(info, indices, height=96)
        except (VideoError, OSError, IndexError) as err:
            log.warning("frames of %s: %s", path, err)
            return []
        return [(frame, f"{t:.1f} s") for frame, t in zip(frames, picks, strict=False)]

    # -------------------------------------------------------------------------------------------------- eval
    def eval_run_choices(self) -> Choices:
        """Eval runs (folders with ``table.*``) under the runs root, all selected."""
        runs = evals.list_eval_runs(self.runs_root)
        return Choices(runs, runs)

    def show_eval(self, runs: list[str] | None, metric: str) -> dict[str, Any]:
        """Per-category bars with CIs across runs, frame-scaling curves, the category table, question choices."""
        runs = [r for r in (runs or []) if r]
        try:
            table = evals.combined_table(self.runs_root, runs)
            sweep = evals.combined_sweep(self.runs_root, runs)
            scored = evals.read_scored(self.runs_root, runs[0]) if runs else pd.DataFrame()
        except PathRefused as err:
            return {
                "categories": None,
                "scaling": None,
                "table": pd.DataFrame(),
                "question": Choices([]),
                "message": f"⚠ {err}",
            }
        if table.empty:
            return {
                "categories": go.Figure(),
                "scaling": go.Figure(),
                "table": pd.DataFrame(),
                "question": Choices([], None),
                "message": f"No eval tables in {runs or 'the selected runs'} yet.",
            }
        categories = category_bars(table, metric=metric, title=f"{metric} per category (CI error bars)")
        scaling = frame_scaling(sweep, metric=metric, title="frame scaling") if not sweep.empty else go.Figure()
        part = table[(table["group_type"].isin(["category", "overall"])) & (table["metric"] == metric)]
        shown = part[[c for c in ("model", "group", "n", "value", "ci_low", "ci_high") if c in part]].round(4)
        ids = sorted(scored["id"].astype(str).unique().tolist()) if "id" in scored else []
        note = "" if not sweep.empty else " (no sweep table: frame scaling empty)"
        return {
            "categories": categories,
            "scaling": scaling,
            "table": shown.reset_index(drop=True),
            "question": Choices(ids, ids[0] if ids else None),
            "message": f"{len(runs)} run(s), metric {metric}{note}",
        }

    def show_question(self, runs: list[str] | None, question_id: str | None) -> str:
        """Drill-down: the question, options and gold answer next to every model's output for it."""
        runs = [r for r in (runs or []) if r]
        if not runs or not question_id:
            return "<i>Pick a question.</i>"
        blocks = []
        record = None
        for run in runs:
            try:
                scored = evals.read_scored(self.runs_root, run)
                record = record or evals.benchmark_records(self.runs_root, run, self.roots).get(question_id)
            except PathRefused as err:
                blocks.append(f"⚠ {html.escape(str(err))}")
                continue
            if "id" not in scored:
                continue
            for _, row in scored[scored["id"].astype(str) == question_id].iterrows():
                verdict = "correct" if row.get("lenient") in (1, True) else "incorrect"
                head = (
                    f"{html.escape(run)} · {html.escape(str(row.get('model')))} · seed {row.get('seed')} · "
                    f"parsed {html.escape(str(row.get('parsed')))} · gold {html.escape(str(row.get('gold')))} · "
                    f"strict {row.get('strict')} · lenient {row.get('lenient')}"
                )
                body = render_completion_html(str(row.get("output") or ""))
                blocks.append(
                    f'<div class="lvr1-card lvr1-{verdict}"><div class="lvr1-card-head">{head}</div>{body}</div>'
                )
        top = (
            item_html(record, "eval")
            if record is not None
            else f"<div><b>{html.escape(question_id)}</b> (benchmark text not available under the roots)</div>"
        )
        return top + "".join(blocks)


def environment_roots() -> tuple[str | None, str | None]:
    """``LVR1_DATA`` and ``LVR1_RUNS`` (defaults of the app's ``--data`` / ``--runs``)."""
    return os.environ.get("LVR1_DATA"), os.environ.get("LVR1_RUNS")
