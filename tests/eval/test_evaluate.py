"""The eval stage end to end on the tiny model, and benchmark files of each format with malformed rows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lvr1kit.config import ConfigError, EvalConfig, load_config
from lvr1kit.eval import load_benchmark, run_eval, stage_summary
from lvr1kit.eval.evaluate import resolve_models

LVR_ROWS = [
    '{"problem_id": 0, "problem": "Why did the man run?\\nA. late\\nB. rain\\nC. dog\\nD. fun", '
    '"answer": "<answer>B</answer>", "videos": "a.mp4", "problem_type": "goal", "data_type": "video"}',
    '{"problem_id": 1, "problem": "What came first? (A) a (B) b (C) c (D) d", "answer": "C", "videos": "b.mp4", '
    '"problem_type": "temporal"}',
    '{"problem_id": 147, "problem": "No options in this one", "answer": "<answer>A</answer>", "videos": "c.mp4"}',
    '{"problem_id": 379, "problem": "Where?\\nA. x\\nB. y", "answer": "<answer>Q</answer>", "videos": "d.mp4"}',
    '{"problem_id": 743, "problem": "truncated',
    '{"problem_id": 825, "answer": "<answer>A</answer>", "videos": "e.mp4"}',
]
VIDEOMME = [
    {
        "videoID": "fFjv93ACGo8",
        "question_id": "001-1",
        "duration": "short",
        "task_type": "Counting Problem",
        "question": "How many dogs?",
        "options": ["A. 1", "B. 2", "C. 3", "D. 4"],
        "answer": "C",
    },
    {"videoID": "x", "question_id": "001-2", "question": "Bad", "options": "A. 1", "answer": "A"},
    {"videoID": "y", "question_id": "001-3", "question": "No answer", "options": ["1", "2"]},
    ["not", "an", "object"],
]


def test_longvideo_reason_file_with_malformed_rows_is_read_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "lvr_eval.jsonl"
    path.write_text("\n".join(LVR_ROWS) + "\n")
    records, issues = load_benchmark(path, "longvideo-reason")
    assert [r.problem_id for r in records] == [0, 1]
    assert [r.answer_letter for r in records] == ["B", "C"] and records[1].options == ["a", "b", "c", "d"]
    assert [i.row for i in issues] == [3, 4, 5, 6]
    assert "options" in issues[0].problem and "JSON" in issues[2].problem and "problem" in issues[3].problem


def test_videomme_json_list_with_malformed_rows(tmp_path: Path) -> None:
    path = tmp_path / "videomme.json"
    path.write_text(json.dumps(VIDEOMME))
    records, issues = load_benchmark(path, "videomme")
    assert len(records) == 1 and records[0].videos == "fFjv93ACGo8.mp4" and records[0].answer_letter == "C"
    assert records[0].problem_type == "temporal" and records[0].options == ["1", "2", "3", "4"]
    assert [i.row for i in issues] == [2, 3, 4]


def test_benchmark_without_a_usable_row_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(LVR_ROWS[2] + "\n")
    with pytest.raises(ValueError, match="bad.jsonl: no usable longvideo-reason rows"):
        load_benchmark(path, "longvideo-reason")


def test_config_errors_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="decoding.do_sample=true"):
        load_config(EvalConfig, "eval/tiny", {"seeds": [0, 1]})
    with pytest.raises(ConfigError, match="sweep_model='rl'"):
        load_config(EvalConfig, "eval/tiny", {"sweep_model": "rl"})
    with pytest.raises(ConfigError, match="compare_to='sft' is not among the models"):
        load_config(EvalConfig, "eval/tiny", {"compare_to": "sft"})


def test_run_eval_on_the_tiny_model_writes_reproducible_results(
    tiny_dir: Path, world_dir: Path, bench_file: Path, tmp_path: Path
) -> None:
    cfg = load_config(
        EvalConfig,
        "eval/tiny",
        {
            "model.path": str(tiny_dir),
            "checkpoints": {"missing": str(tmp_path / "nope"), "again": str(tiny_dir)},
            "benchmark_file": str(bench_file),
            "videos_dir": str(world_dir),
            "video.num_frames": 8,
            "decoding.max_new_tokens": 8,
            "sweep_frames": [4, 8],
            "sweep_strategies": ["uniform", "per_clip"],
            "bootstrap_samples": 200,
            "compare_to": "untrained",
        },
    )
    assert list(resolve_models(cfg, tmp_path)) == ["untrained", "again"]  # the missing checkpoint is skipped
    result = run_eval(cfg, tmp_path / "run")
    out = tmp_path / "run"
    results = json.loads((out / "results.json").read_text())
    record = results["models"]["untrained"]["reproducibility"][0]
    for key in ("model_path", "model_hash", "video", "min_pixels", "max_pixels", "prompt_version", "decoding", "seed"):
        assert key in record
    assert record["scorer_version"] == results["scorer_version"] and "bootstrap" in results["ci_method"]
    assert results["baselines"]["majority"] == {"letter": "B", "accuracy": 0.5}
    # the same weights under two names give the same answers from the same cache entry
    untrained, again = results["models"]["untrained"], results["models"]["again"]
    assert untrained["overall"]["accuracy_lenient"] == again["overall"]["accuracy_lenient"]
    assert set(untrained["per_category"]) == {"temporal", "goal", "spatial", "plot"}
    table = pd.read_parquet(out / "table.parquet")
    assert {"baseline:majority", "baseline:random", "untrained", "again"} == set(table["model"])
    assert len(pd.read_csv(out / "scored.csv")) == 12
    sweep = pd.read_parquet(out / "sweep.parquet")
    overall = sweep[(sweep["group_type"] == "overall") & (sweep["metric"] == "accuracy_lenient")]
    assert sorted(zip(overall["strategy"], overall["frames"], strict=True)) == [
        ("per_clip", 4),
        ("per_clip", 8),
        ("uniform", 4),
        ("uniform", 8),
    ]
    used = dict(zip(zip(overall["strategy"], overall["frames"], strict=True), overall["frames_used"], strict=True))
    assert used[("uniform", 4)] == 4 and used[("per_clip", 8)] == 6  # 60 s in 10 s clips: 6 clips x 1 frame
    summary = stage_summary(result)
    assert summary["models"] == ["untrained", "again"] and set(summary["frame_scaling"]) == {"uniform", "per_clip"}
    assert summary["majority_baseline"]["accuracy"] == 0.5 and summary["questions"] == 6
    same = results["comparisons"]["models"]["again"]["all"]  # identical answers: a zero difference, no wins
    assert results["comparisons"]["reference"] == "untrained" and same["n"] == 6
    assert same["diff"] == 0 and same["ci"] == [0, 0] and same["wins"] == same["losses"] == 0
    assert summary["diff_vs_reference"]["again"]["all"] == 0
