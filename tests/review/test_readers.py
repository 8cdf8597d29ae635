"""Readers on small hand-written files: datasets (queue, progress), rollouts (incremental, groups), evals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lvr1kit.data.io import write_records
from lvr1kit.data.schema import QARecord
from lvr1kit.review import datasets as ds
from lvr1kit.review import evals, rollouts
from lvr1kit.review.paths import PathRefused
from lvr1kit.review.sample import write_sample_eval_run, write_sample_grpo_run
from lvr1kit.review.store import ItemState
from lvr1kit.review.timestamps import find_citations, render_completion_html
from lvr1kit.rewards import find_timestamps


def _records(n: int) -> list[QARecord]:
    return [
        QARecord.build(
            problem_id=f"v{i % 2}/{i}",
            question=f"Q{i}?",
            options=["a", "b", "c", "d"],
            answer_letter="ABCD"[i % 4],
            videos=f"v{i % 2}.mp4",
            problem_type=("temporal", "goal")[i % 2],
            generator=("template", "llm")[i % 2],
            evidence=[(3.0, 6.0)],
            reasoning="At 00:03 it starts.",
        )
        for i in range(n)
    ]


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    records = _records(6)
    folder = tmp_path / "data" / "set1"
    write_records(folder / "dataset" / "sft.jsonl", records[:2])
    write_records(folder / "dataset" / "rl.jsonl", records[2:4])
    write_records(folder / "dataset" / "eval.jsonl", records[4:])
    dropped = records[0].model_copy(update={"problem_id": "v0/99"}).model_dump(mode="json") | {"reason": "dedup"}
    (folder / "dataset" / "dropped.jsonl").write_text(json.dumps(dropped) + "\n{broken\n")
    write_records(folder / "versions" / "v1" / "rl.jsonl", records[2:3])
    return tmp_path / "data"


def test_datasets_list_load_queue_progress(data_root: Path) -> None:
    refs = ds.list_datasets(data_root)
    assert [r.label for r in refs] == ["set1", "set1@v1"]
    loaded = ds.load_dataset(data_root, refs[0])
    assert len(loaded.items) == 7 and len(loaded.problems) == 1  # the broken line is reported, not fatal
    assert loaded.item("v0/99").dropped_reason == "dedup"
    states = {"v0/0": ItemState(status="accept"), "v1/1": ItemState(status="reject", reason="ambiguous")}
    assert [i.item_id for i in ds.filter_queue(loaded.items, states, reason="dedup")] == ["v0/99"]
    assert [i.item_id for i in ds.filter_queue(loaded.items, states, reason="ambiguous")] == ["v1/1"]
    assert len(ds.filter_queue(loaded.items, states, category="goal", generator="llm")) == 3
    assert len(ds.filter_queue(loaded.items, states, status="unreviewed")) == 5
    prog = ds.progress(loaded.items, states)
    assert (prog["reviewed"], prog["total"]) == (2, 7)
    assert prog["per_category"]["goal"] == {"reviewed": 1, "total": 3}
    assert len(ds.load_dataset(data_root, refs[1]).items) == 1
    with pytest.raises(PathRefused):
        ds.load_dataset(data_root, ds.DatasetRef("../..", "v0"))


def test_rollouts_read_incrementally_and_group(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_sample_grpo_run(runs / "grpo", _records(2), tmp_path)
    path = runs / "grpo" / "rollouts.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:10]) + lines[10][:20])  # a writer in the middle of a line
    assert rollouts.list_runs(runs) == ["grpo"]
    log = rollouts.load_rollouts(runs, "grpo")
    assert len(log.rows) == 10
    with path.open("a") as fh:
        fh.write(lines[10][20:] + "".join(lines[11:]))
    assert len(rollouts.load_rollouts(runs, "grpo").rows) == 16 == len(lines)
    groups = rollouts.group_rollouts(log.rows, step=2)
    assert [(g.group, len(g.samples), g.zero_variance) for g in groups] == [(0, 4, False), (1, 4, True)]
    assert [g.group for g in rollouts.filter_groups(groups, zero_variance=True)] == [1]
    assert [g.group for g in rollouts.filter_groups(groups, format_failures=True)] == [0]
    correct = rollouts.sort_samples(groups[0].samples, outcome="correct")
    assert all(s["accuracy"] == 1 for s in correct) and len(correct) == 2
    assert rollouts.sort_samples(groups[0].samples, order="reward")[0]["reward"] == max(groups[0].rewards)
    assert rollouts.extracted_answer(groups[0].samples[0]) == groups[0].samples[0]["answer"]
    with pytest.raises(PathRefused):
        rollouts.load_rollouts(runs, "../../etc")


def test_evals_combine_runs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    records = _records(4)
    write_records(tmp_path / "bench.jsonl", records)
    write_sample_eval_run(runs / "a", records, tmp_path / "bench.jsonl")
    write_sample_eval_run(runs / "b", records, tmp_path / "bench.jsonl")
    assert evals.list_eval_runs(runs) == ["a", "b"]
    table = evals.combined_table(runs, ["a", "b"])
    assert set(table["model"]) == {"a:sft", "a:sft_rl", "b:sft", "b:sft_rl"}
    assert {"ci_low", "ci_high"} <= set(table.columns)
    assert set(evals.combined_sweep(runs, ["a"])["frames"]) == {8, 16, 32}
    assert set(evals.benchmark_records(runs, "a", [tmp_path])) == {str(r.problem_id) for r in records}
    assert evals.benchmark_records(runs, "a", [runs]) == {}  # benchmark outside the roots: not read


@pytest.mark.parametrize(
    "text", ["at 01:05 and 00:12-00:20, then 1:02:03", "[12-20s] then 3.5 s and 0:07", "zone 3 has 2 agents"]
)
def test_citations_agree_with_the_reward_parser(text: str) -> None:
    assert [(c.start_s, c.end_s) for c in find_citations(text)] == find_timestamps(text)


def test_completion_rendering_escapes_and_links() -> None:
    out = render_completion_html("<think>at 00:04 <script>x</script></think><answer>B</answer>")
    assert 'data-t="4.0"' in out and "&lt;script&gt;" in out and "<b>answer</b>: B" in out
