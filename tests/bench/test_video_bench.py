"""``lvr1 bench video`` on tiny parameters (0.2-minute video, 8 and 16 frames): JSON shape and caching."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lvr1kit.bench import bench_app


def test_bench_video_tiny(tmp_path: Path) -> None:
    out, cache = tmp_path / "bench.json", tmp_path / "cache"
    args = ["video", "--out", str(out), "--minutes", "0.2", "--frames", "8,16", "--height", "96", "--repeats", "2"]
    result = CliRunner().invoke(bench_app, [*args, "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert set(report) == {"machine", "settings", "results", "targets"}
    assert report["machine"]["cpu_count"] >= 1 and "torch_threads" in report["machine"]
    assert report["settings"]["repeats"] == 2 and len(report["machine"]["load_average_1_5_15min_before"]) == 3
    assert report["settings"]["videos"][0]["num_frames"] == 360  # 0.2 min at 30 fps
    assert report["settings"]["videos"][0]["width"] == 176  # 16:9 of 96, multiple of 16
    rows = report["results"]
    assert len(rows) == 2 * 2 * 2  # frames x backends x modes
    for row in rows:
        assert {"video_minutes", "frames", "backend", "seconds", "naive_seconds", "speedup_vs_naive"} <= set(row)
        assert row["seconds"] > 0 and row["naive_source"] == "measured"
    assert {r["backend"] for r in rows} == {"decord", "pyav"}
    targets = report["targets"]
    assert targets["512_frames_60min_under_3s"] is None  # not run at this size
    assert isinstance(targets["never_slower_than_naive"], bool)
    # second run reuses the cached video
    result = CliRunner().invoke(bench_app, [*args, "--cache-dir", str(cache), "--backends", "pyav", "--modes", "none"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["settings"]["videos"][0]["generation_seconds"] is None
