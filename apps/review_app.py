"""The workbench app (Gradio): Review (annotators), Rollouts (GRPO inspector) and Eval tabs.

Layout and callbacks only: every callback is a single call into :class:`lvr1kit.review.Workbench`.

Contents:
    - ``build_app(data_root, runs_root, store_url, auth)``: the ``gr.Blocks`` (not launched).
    - ``serve(blocks, host, port, block)``: launch it with files limited to the roots, 127.0.0.1 by default.
    - ``main()``: ``python apps/review_app.py --data DIR --runs DIR [--port P] [--store URL] [--host H] [--auth u:p]``.

Keyboard shortcuts on the Review tab (outside text boxes): a accept, r reject (focuses the reason box when it is
empty; Enter there rejects), e edit (focuses the edit boxes), s skip, n next. Clicking a cited time (``mm:ss``) in
reasoning, the caption timeline, evidence or a completion seeks the visible video there.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from lvr1kit.review import Choices, Filters, Workbench

__all__ = ["CSS", "HEAD", "build_app", "main", "parse_auth", "serve"]

HEAD = """
<script>
(() => {
  const visibleVideo = () =>
    Array.from(document.querySelectorAll("video.lvr1-video")).find((v) => v.offsetParent !== null);
  document.addEventListener("click", (ev) => {
    const link = ev.target.closest ? ev.target.closest("a.lvr1-ts") : null;
    if (!link) return;
    ev.preventDefault();
    const t = parseFloat(link.dataset.t);
    const video = visibleVideo();
    if (!video || Number.isNaN(t)) return;
    const seek = () => { video.currentTime = t; video.dataset.lastJump = String(t); };
    if (video.readyState >= 1) seek(); else video.addEventListener("loadedmetadata", seek, { once: true });
  });
  const keys = { a: "btn-accept", r: "btn-reject", e: "edit-question", s: "btn-skip", n: "btn-next" };
  document.addEventListener("keydown", (ev) => {
    const el = ev.target;
    const tag = (el.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tab = document.getElementById("lvr1-review-tab");
    if (!tab || tab.offsetParent === null) return;
    const id = keys[ev.key];
    if (!id) return;
    const box = (sel) => document.querySelector(`#${sel} textarea, #${sel} input`);
    if (ev.key === "r") {
      const reason = box("reject-reason");
      if (reason && !reason.value.trim()) { ev.preventDefault(); reason.focus(); return; }
    }
    if (ev.key === "e") { const q = box("edit-question"); if (q) { ev.preventDefault(); q.focus(); } return; }
    const button = document.getElementById(id);
    if (button) { ev.preventDefault(); button.click(); }
  });
})();
</script>
"""

CSS = """
.lvr1-seg { padding: 2px 4px; border-left: 3px solid transparent; font-size: 0.9em; }
.lvr1-evidence { border-left-color: #e8a400; background: rgba(232, 164, 0, 0.12); }
.lvr1-timeline { max-height: 320px; overflow-y: auto; }
.lvr1-prov span { display: inline-block; margin-right: 10px; font-size: 0.85em; color: #555; }
.lvr1-gold { font-weight: bold; color: #0a7d2c; }
a.lvr1-ts { color: #1a5fb4; text-decoration: underline dotted; cursor: pointer; }
.lvr1-card { border: 1px solid #ccc; border-radius: 6px; padding: 6px 8px; margin: 6px 0; }
.lvr1-correct { border-left: 5px solid #2ea043; }
.lvr1-incorrect { border-left: 5px solid #d1242f; }
.lvr1-fmtfail { background: rgba(209, 36, 47, 0.06); }
.lvr1-card-head { font-size: 0.85em; color: #444; margin-bottom: 4px; }
.lvr1-think { white-space: normal; }
"""

SHORTCUTS_MD = (
    "**Shortcuts** (outside text boxes): **a** accept · **r** reject (type a reason, Enter) · **e** edit · "
    "**s** skip · **n** next. Click a cited time (e.g. `01:05`) to jump the video there."
)


def _ui(value: Any) -> Any:
    return gr.update(choices=value.choices, value=value.value) if isinstance(value, Choices) else value


def _outputs(result: dict[str, Any], keys: Sequence[str]) -> list[Any]:
    return [_ui(result[k]) if k in result else gr.skip() for k in keys]


def _who(name: str, request: gr.Request | None) -> str:
    return (request.username if request is not None and request.username else name) or ""


def build_app(
    data_root: str | os.PathLike[str],
    runs_root: str | os.PathLike[str],
    store_url: str | None = None,
    auth: Sequence[tuple[str, str]] | None = None,
) -> gr.Blocks:
    """The app over a data root, a runs root and a review store (``None``: SQLite under the data root).

    ``auth`` (login pairs) is kept on the returned blocks (``blocks.lvr1_auth``) and applied by :func:`serve`.
    """
    wb = Workbench(Path(data_root), Path(runs_root), store_url)
    with gr.Blocks(title="lvr1kit workbench") as demo:
        gr.Markdown(f"### lvr1kit workbench · data `{wb.data_root.name}` · runs `{wb.runs_root.name}`")
        with gr.Tab("Review", elem_id="lvr1-review-tab"):
            review = _review_tab(wb)
        with gr.Tab("Rollouts", elem_id="lvr1-rollouts-tab"):
            rollouts_load = _rollouts_tab(wb)
        with gr.Tab("Eval", elem_id="lvr1-eval-tab"):
            eval_load = _eval_tab(wb)
        for load in (review, rollouts_load, eval_load):
            load(demo)
    demo.lvr1_workbench = wb  # type: ignore[attr-defined]
    demo.lvr1_auth = list(auth) if auth else None  # type: ignore[attr-defined]
    return demo


def _review_tab(wb: Workbench) -> Callable[[gr.Blocks], None]:
    with gr.Row():
        annotator = gr.Textbox(label="Annotator", placeholder="your name", elem_id="annotator", scale=1)
        dataset = gr.Dropdown(label="Dataset", choices=[], elem_id="dataset", scale=2)
        refresh = gr.Button("Refresh", elem_id="btn-refresh", scale=0)
    with gr.Row():
        category = gr.Dropdown(label="Category", choices=["all"], value="all", elem_id="f-category")
        status = gr.Dropdown(label="Status", choices=["all"], value="all", elem_id="f-status")
        generator = gr.Dropdown(label="Generator", choices=["all"], value="all", elem_id="f-generator")
        reason = gr.Dropdown(label="Failure reason", choices=["all"], value="all", elem_id="f-reason")
    progress = gr.Markdown(elem_id="progress")
    gr.Markdown(SHORTCUTS_MD)
    with gr.Row():
        with gr.Column(scale=5):
            video = gr.HTML(elem_id="review-video")
            timeline = gr.HTML(elem_id="review-timeline")
        with gr.Column(scale=6):
            item = gr.Dropdown(label="Item (queue)", choices=[], elem_id="item")
            shown = gr.HTML(elem_id="review-item")
            with gr.Row():
                accept = gr.Button("Accept (a)", variant="primary", elem_id="btn-accept")
                skip = gr.Button("Skip (s)", elem_id="btn-skip")
                nxt = gr.Button("Next (n)", elem_id="btn-next")
            with gr.Row():
                reject_reason = gr.Textbox(label="Reject reason", elem_id="reject-reason", scale=3)
                reject = gr.Button("Reject (r)", variant="stop", elem_id="btn-reject", scale=1)
            message = gr.Markdown(elem_id="review-message")
            with gr.Group():
                gr.Markdown("**Edit** (e): change fields, then Save edit")
                edit_question = gr.Textbox(label="Question", elem_id="edit-question")
                edit_options = gr.Textbox(label="Options (one per line)", lines=4, elem_id="edit-options")
                edit_answer = gr.Textbox(label="Answer letter", max_lines=1, elem_id="edit-answer")
                edit_reasoning = gr.Textbox(label="Reasoning", lines=3, elem_id="edit-reasoning")
                save_edit = gr.Button("Save edit", elem_id="btn-edit")
            history = gr.Dataframe(label="History of this item", interactive=False, elem_id="history")
    with gr.Accordion("Queue and export", open=False):
        queue = gr.Dataframe(label="Queue", interactive=False, elem_id="queue")
        with gr.Row():
            export = gr.Button("Export accepted + edited as a new version", elem_id="btn-export")
            export_message = gr.Markdown(elem_id="export-message")
    base_edit = gr.State(None)

    queue_keys = ["category", "status", "generator", "reason", "queue", "item", "progress", "message"]
    queue_outs = [category, status, generator, reason, queue, item, progress, message]
    item_keys = ["video", "timeline", "item", "history", "edit_question", "edit_options", "edit_answer"]
    item_keys += ["edit_reasoning", "base_edit"]
    item_outs = [video, timeline, shown, history, edit_question, edit_options, edit_answer, edit_reasoning, base_edit]
    filters = [category, status, generator, reason]

    def open_queue(label: str, cat: str, st: str, gen: str, why: str, current: str) -> list[Any]:
        return _outputs(wb.open_queue(label, cat, st, gen, why, current), queue_keys)

    def show(label: str, item_id: str) -> list[Any]:
        return _outputs(wb.show_item(label, item_id), item_keys)

    def act(action: str) -> Callable[..., list[Any]]:
        def run(
            label: str, item_id: str, name: str, why: str, q: str, opts: str, ans: str, reasoning: str,
            base: int | None, cat: str, st: str, gen: str, fr: str, request: gr.Request,
        ) -> list[Any]:  # fmt: skip
            edit = {"question": q, "options": opts, "answer_letter": ans, "reasoning": reasoning}
            result = wb.act(label, item_id, _who(name, request), action, why, edit, base, Filters(cat, st, gen, fr))
            return _outputs(result, queue_keys)

        return run

    act_inputs = [dataset, item, annotator, reject_reason, edit_question, edit_options, edit_answer, edit_reasoning]
    act_inputs += [base_edit, *filters]
    for trigger, action in ((accept.click, "accept"), (skip.click, "skip"), (save_edit.click, "edit")):
        trigger(act(action), act_inputs, queue_outs).then(show, [dataset, item], item_outs)
    for trigger in (reject.click, reject_reason.submit):
        trigger(act("reject"), act_inputs, queue_outs).then(lambda: "", None, reject_reason).then(
            show, [dataset, item], item_outs
        )
    nxt.click(
        lambda label, item_id, c, s, g, r: _ui(wb.next_item(label, item_id, Filters(c, s, g, r))),
        [dataset, item, *filters],
        item,
    ).then(show, [dataset, item], item_outs)
    item.input(show, [dataset, item], item_outs)
    for control in (dataset, *filters):
        control.input(open_queue, [dataset, *filters, item], queue_outs).then(show, [dataset, item], item_outs)

    def export_version(label: str, name: str, request: gr.Request) -> str:
        return wb.export(label, _who(name, request))

    export.click(export_version, [dataset, annotator], export_message)

    def load(demo: gr.Blocks) -> None:
        for trigger in (demo.load, refresh.click):
            trigger(lambda current: _ui(wb.dataset_choices(current)), dataset, dataset).then(
                open_queue, [dataset, *filters, item], queue_outs
            ).then(show, [dataset, item], item_outs)

    return load


def _rollouts_tab(wb: Workbench) -> Callable[[gr.Blocks], None]:
    with gr.Row():
        run = gr.Dropdown(label="GRPO run", choices=[], elem_id="run", scale=3)
        step = gr.Dropdown(label="Step", choices=[], elem_id="step", scale=1)
        group = gr.Dropdown(label="Prompt group", choices=[], elem_id="group", scale=3)
        refresh = gr.Button("Refresh", elem_id="btn-refresh-runs", scale=0)
    with gr.Row():
        zero_var = gr.Checkbox(label="zero-variance groups only", elem_id="zero-var")
        fmt_fail = gr.Checkbox(label="groups with format failures only", elem_id="fmt-fail")
        outcome = gr.Dropdown(
            label="Completions", choices=["all", "correct", "incorrect", "format failure"], value="all"
        )
        order = gr.Dropdown(label="Sort by", choices=["sample", "reward", "advantage", "length"], value="sample")
    summary = gr.Markdown(elem_id="run-summary")
    with gr.Row():
        with gr.Column(scale=4):
            video = gr.HTML(elem_id="rollout-video")
            frames = gr.Gallery(label="Frames used", columns=8, height=220, elem_id="frames")
        with gr.Column(scale=6):
            header = gr.HTML(elem_id="group-header")
            completions = gr.HTML(elem_id="completions")
    curves = gr.Plot(label="Training curves", elem_id="curves")

    run_keys, run_outs = ["step", "group", "curves", "summary"], [step, group, curves, summary]
    group_keys, group_outs = ["video", "frames", "group", "completions"], [video, frames, header, completions]

    def open_run(name: str, st: str, zv: bool, ff: bool) -> list[Any]:
        return _outputs(wb.open_run(name, st, zv, ff), run_keys)

    def show(name: str, st: str, grp: str, out: str, by: str) -> list[Any]:
        return _outputs(wb.show_group(name, st, grp, out, by), group_keys)

    group_inputs = [run, step, group, outcome, order]
    for control in (run, step, zero_var, fmt_fail):
        control.input(open_run, [run, step, zero_var, fmt_fail], run_outs).then(show, group_inputs, group_outs)
    for control in (group, outcome, order):
        control.input(show, group_inputs, group_outs)

    def load(demo: gr.Blocks) -> None:
        for trigger in (demo.load, refresh.click):
            trigger(lambda current: _ui(wb.run_choices(current)), run, run).then(
                open_run, [run, step, zero_var, fmt_fail], run_outs
            ).then(show, group_inputs, group_outs)

    return load


def _eval_tab(wb: Workbench) -> Callable[[gr.Blocks], None]:
    with gr.Row():
        runs = gr.Dropdown(label="Eval runs", choices=[], multiselect=True, elem_id="eval-runs", scale=4)
        metric = gr.Dropdown(
            label="Metric", choices=["accuracy_lenient", "accuracy_strict"], value="accuracy_lenient", scale=1
        )
        refresh = gr.Button("Refresh", elem_id="btn-refresh-eval", scale=0)
    message = gr.Markdown(elem_id="eval-message")
    with gr.Row():
        categories = gr.Plot(label="Per category (CI)", elem_id="eval-categories")
        scaling = gr.Plot(label="Frame scaling", elem_id="eval-scaling")
    table = gr.Dataframe(label="Per-category results", interactive=False, elem_id="eval-table")
    question = gr.Dropdown(label="Question (drill-down)", choices=[], elem_id="eval-question")
    drill = gr.HTML(elem_id="eval-drill")

    keys, outs = (
        ["categories", "scaling", "table", "question", "message"],
        [categories, scaling, table, question, message],
    )

    def show(selected: list[str], name: str) -> list[Any]:
        return _outputs(wb.show_eval(selected, name), keys)

    for control in (runs, metric):
        control.input(show, [runs, metric], outs).then(wb.show_question, [runs, question], drill)
    question.input(wb.show_question, [runs, question], drill)

    def load(demo: gr.Blocks) -> None:
        for trigger in (demo.load, refresh.click):
            trigger(lambda: _ui(wb.eval_run_choices()), None, runs).then(show, [runs, metric], outs).then(
                wb.show_question, [runs, question], drill
            )

    return load


def parse_auth(text: str | None) -> list[tuple[str, str]] | None:
    """``"alice:pw1,bob:pw2"`` -> ``[("alice", "pw1"), ("bob", "pw2")]`` (``None`` for no login).

    Raises:
        ValueError: an entry without ``:``.
    """
    if not text:
        return None
    pairs = []
    for entry in text.split(","):
        user, sep, password = entry.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError(f"--auth entry {entry!r}: use user:password (several separated by commas)")
        pairs.append((user, password))
    return pairs


def serve(blocks: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> Any:
    """Launch ``blocks``: only files under the data and runs roots are served (the store is blocked)."""
    wb: Workbench = blocks.lvr1_workbench  # type: ignore[attr-defined]
    return blocks.launch(
        server_name=host,
        server_port=port,
        auth=blocks.lvr1_auth,  # type: ignore[attr-defined]
        allowed_paths=[str(r) for r in wb.roots],
        blocked_paths=wb.blocked_paths(),
        head=HEAD,
        css=CSS,
        ssr_mode=False,
        show_error=True,
        quiet=True,
        prevent_thread_lock=not block,
        footer_links=[],
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python apps/review_app.py --data DIR --runs DIR [--port P] ...``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="data root: datasets made by the data stage")
    parser.add_argument("--runs", required=True, help="runs root: GRPO runs (rollouts.jsonl) and eval runs")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 exposes it: use --auth)")
    parser.add_argument("--store", default=None, help="SQLAlchemy URL of the review store (default: SQLite)")
    parser.add_argument("--auth", default=None, help="user:password[,user2:password2] to require a login")
    args = parser.parse_args(argv)
    blocks = build_app(args.data, args.runs, args.store, parse_auth(args.auth))
    print(f"lvr1kit workbench on http://{args.host}:{args.port} (data {args.data}, runs {args.runs})")
    serve(blocks, args.host, args.port)


if __name__ == "__main__":
    main()
