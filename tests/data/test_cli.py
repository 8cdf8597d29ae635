"""``lvr1 data``: generate (summary line, bad --shard) and import (malformed rows on stderr, not fatal)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lvr1kit.data.cli import data_app, parse_shard

runner = CliRunner()


def test_generate_writes_splits_and_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["generate", "--out", str(out), "--no-progress", "--set", "num_videos=12", "--set", "split.eval_videos=2"]
    result = runner.invoke(data_app, args)
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(line["splits"]) == {"sft", "rl", "eval"} and all(line["splits"].values())
    assert (out / "report.json").exists() and (out / "config.yaml").exists()
    bad = runner.invoke(data_app, [*args, "--set", "qa.seed=3"])  # another config in the same run dir
    assert bad.exit_code == 2 and "different config" in bad.output


def test_bad_shard_and_preset_are_explained(tmp_path: Path) -> None:
    result = runner.invoke(data_app, ["generate", "--out", str(tmp_path), "--shard", "3/2"])
    assert result.exit_code == 2 and "0 <= i < n" in result.output
    result = runner.invoke(data_app, ["generate", "--out", str(tmp_path), "--set", "qa.option_ordr=shuffled"])
    assert result.exit_code == 2 and "did you mean 'qa.option_order'" in result.output
    assert parse_shard("0/4") == (0, 4)


def test_import_reports_malformed_rows(tmp_path: Path) -> None:
    rows = [
        {"problem": "Q?\nA. a\nB. b\nC. c\nD. d", "answer": "<answer>A</answer>", "videos": "x.mp4",
         "problem_type": "plot", "reasoning": "r", "problem_id": 0, "data_type": "video"},
        {"problem": "no options here", "answer": "<answer>A</answer>", "videos": "y.mp4"},
    ]  # fmt: skip
    src = tmp_path / "public.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = runner.invoke(
        data_app, ["import", str(src), "--format", "longvideo-reason", "--out", str(tmp_path / "o.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["records"] == 1
    assert '"row": 2' in result.stderr and "no lettered options" in result.stderr
