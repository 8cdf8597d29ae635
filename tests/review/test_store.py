"""Review store: concurrent writers lose nothing, history is kept, stale edits are refused, export is correct."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

import pytest

from lvr1kit.data.io import read_records
from lvr1kit.data.schema import QARecord
from lvr1kit.review.store import ReviewStore, StaleEditError, apply_edits, default_store_url, export_version


def _record(n: int, split_letter: str = "A") -> QARecord:
    return QARecord.build(
        problem_id=f"v/{n}",
        question=f"What happened {n}?",
        options=["red", "green", "blue", "none"],
        answer_letter=split_letter,
        videos="v.mp4",
        problem_type="temporal",
        reasoning="At 00:05 it turned red.",
    )


def _writer(url: str, annotator: str, count: int) -> None:
    store = ReviewStore(url)
    for i in range(count):
        store.record("ds", "v0", f"v/{i % 5}", annotator, "accept" if i % 2 else "skip")
    store.close()


def test_threads_and_processes_write_at_once_without_loss(tmp_path: Path) -> None:
    url = default_store_url(tmp_path)
    ReviewStore(url).close()  # create the schema once, as the app does at start
    ctx = mp.get_context("fork")  # forked before any thread starts; spawn would re-import torch (slow)
    procs = [ctx.Process(target=_writer, args=(url, f"proc{i}", 25)) for i in range(2)]
    threads = [threading.Thread(target=_writer, args=(url, f"thread{i}", 25)) for i in range(4)]
    for worker in [*procs, *threads]:
        worker.start()
    for worker in [*threads, *procs]:
        worker.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs)
    store = ReviewStore(url)
    history = store.history("ds", "v0")
    assert len(history) == 6 * 25
    assert store.annotators("ds", "v0") == {f"thread{i}": 25 for i in range(4)} | {f"proc{i}": 25 for i in range(2)}
    assert len({v.id for v in history}) == len(history)


def test_history_kept_and_latest_non_skip_wins(tmp_path: Path) -> None:
    store = ReviewStore(default_store_url(tmp_path))
    store.record("ds", "v0", "v/1", "alice", "accept")
    store.record("ds", "v0", "v/1", "bob", "reject", reason="answer not in video")
    store.record("ds", "v0", "v/1", "carol", "skip")
    state = store.states("ds", "v0")["v/1"]
    assert (state.status, state.reason, state.annotator, state.count) == ("reject", "answer not in video", "carol", 3)
    assert [v.action for v in store.history("ds", "v0", "v/1")] == ["accept", "reject", "skip"]
    with pytest.raises(ValueError, match="needs a reason"):
        store.record("ds", "v0", "v/1", "bob", "reject")
    with pytest.raises(ValueError, match="annotator"):
        store.record("ds", "v0", "v/1", " ", "accept")


def test_second_edit_on_a_stale_state_is_refused(tmp_path: Path) -> None:
    store = ReviewStore(default_store_url(tmp_path))
    first = store.record("ds", "v0", "v/1", "alice", "edit", edits={"question": "Q1?"}, base_edit_id=None)
    with pytest.raises(StaleEditError, match="reload"):
        store.record("ds", "v0", "v/1", "bob", "edit", edits={"question": "Q2?"}, base_edit_id=None)
    store.record("ds", "v0", "v/1", "bob", "edit", edits={"reasoning": "At 00:07."}, base_edit_id=first.id)
    state = store.states("ds", "v0")["v/1"]
    assert state.edits == {"question": "Q1?", "reasoning": "At 00:07."}
    assert len(store.history("ds", "v0", "v/1")) == 2


def test_export_writes_accepted_and_edited_items_as_a_new_version(tmp_path: Path) -> None:
    store = ReviewStore(default_store_url(tmp_path))
    items = [("sft", _record(0)), ("rl", _record(1)), ("rl", _record(2)), ("eval", _record(3)), ("eval", _record(4))]
    store.record("ds", "v0", "v/0", "alice", "accept")
    store.record("ds", "v0", "v/1", "alice", "edit", edits={"answer_letter": "C", "options": ["a", "b", "c"]})
    store.record("ds", "v0", "v/2", "alice", "reject", reason="ambiguous")
    store.record("ds", "v0", "v/3", "alice", "accept")
    store.record("ds", "v0", "v/3", "bob", "skip")  # a skip does not undo the accept
    store.record("ds", "v0", "v/4", "bob", "accept")
    store.record("ds", "v0", "v/4", "bob", "reject", reason="leaks the answer")  # latest wins
    manifest = export_version(store, "ds", tmp_path / "ds", "v0", items, "alice")
    out = tmp_path / "ds" / "versions" / "v1"
    assert manifest["version"] == "v1" and manifest["counts"] == {"sft": 1, "rl": 1, "eval": 1}
    assert [r.problem_id for r in read_records(out / "sft.jsonl")] == ["v/0"]
    (edited,) = read_records(out / "rl.jsonl")
    assert (edited.answer_letter, edited.options, edited.answer) == ("C", ["a", "b", "c"], "<answer>C</answer>")
    assert edited.problem.endswith("C. c")
    assert [r.problem_id for r in read_records(out / "eval.jsonl")] == ["v/3"]
    assert len(read_records(out / "all.jsonl")) == 3
    again = export_version(store, "ds", tmp_path / "ds", "v0", items)
    assert again["version"] == "v2"
    assert [e["version"] for e in store.exports("ds")] == ["v1", "v2"]
    assert len(store.history("ds", "v0")) == 7  # export never touches verdicts


def test_apply_edits_validates() -> None:
    with pytest.raises(ValueError, match="answer_letter"):
        apply_edits(_record(0), {"answer_letter": "F"})
