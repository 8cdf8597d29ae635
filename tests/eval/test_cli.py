"""``lvr1 eval score`` end to end: another system's outputs scored with exactly our scorer."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lvr1kit.eval.cli import eval_app

ROWS = [
    {"id": "1", "gold": "B", "output": "<think>saw it</think> <answer>B</answer>", "category": "temporal"},
    {"id": "2", "gold": "B", "output": "<think>hm</think><answer>B.</answer>", "category": "temporal"},
    {"id": "3", "gold": "<answer>C</answer>", "output": "The answer is C", "category": "goal"},
    {"id": "4", "gold": "A", "output": "<think>x</think><answer>A or D</answer>", "category": "goal"},
    {"id": "5", "gold": "D", "output": "<think>x</think><answer>B</answer>", "category": "plot"},
]


def test_score_writes_per_row_results_and_a_summary(tmp_path: Path) -> None:
    src = tmp_path / "outputs.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n{broken json\n" + '{"id": "7", "output": "B"}\n')
    out = tmp_path / "scored.jsonl"
    result = CliRunner().invoke(eval_app, ["score", str(src), "--out", str(out), "--bootstrap-samples", "200"])
    assert result.exit_code == 0, result.output
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["strict"], r["lenient"], r["format_ok"], r["parsed"]) for r in scored] == [
        (True, True, True, "B"),
        (False, True, True, "B"),
        (False, True, False, "C"),
        (False, False, True, None),
        (False, False, True, "B"),
    ]
    summary = json.loads((tmp_path / "scored.summary.json").read_text())
    overall = summary["models"]["model"]["overall"]
    assert (overall["accuracy_strict"], overall["accuracy_lenient"], overall["format_rate"]) == (0.2, 0.6, 0.8)
    assert overall["parse_fail"] == 1 and summary["malformed"] == 2 and summary["rows"] == 5
    assert summary["baselines"]["majority"] == {"letter": "B", "accuracy": 0.4}
    assert summary["models"]["model"]["per_category"]["goal"]["accuracy_lenient"] == 0.5
    lo, hi = overall["accuracy_lenient_ci"]
    assert lo <= 0.6 <= hi
    assert "line 6" in result.stderr and "row 6 (id 7)" in result.stderr


def test_score_of_a_missing_file_names_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(eval_app, ["score", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "none.jsonl not found" in result.stderr
