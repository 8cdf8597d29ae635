"""``lvr1 bench mrsp`` on tiny parameters: baseline, stage 1 and stage 1 + SP (2 gloo ranks) rows and JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lvr1kit.bench import bench_app


def test_bench_mrsp_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "mrsp.json"
    args = ["mrsp", "--model", "tiny", "--frames", "8,16", "--generations", "2", "--response-tokens", "4",
            "--sp", "2", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert set(report) >= {"machine", "settings", "results", "memory"}
    assert "load_avg_start" in report["machine"] and "load_avg_end" in report["machine"]
    rows = report["results"]
    assert [(r["frames"], r["config"]) for r in rows] == [
        (n, c) for n in (8, 16) for c in ("baseline", "stage1", "stage1+sp")
    ]
    for row in rows:
        for key in ("frames", "config", "sp", "distinct_videos", "encoder_calls", "step_s", "phases", "peak_mem_mb"):
            assert key in row, key
        assert row["step_s"] > 0 and set(row["phases"]) >= {"encode", "rollout", "old_logprob", "update"}
        assert row["distinct_videos"] == 2
        if row["config"] == "baseline":
            assert row["encoder_calls"] > row["distinct_videos"] and "speedup" not in row
        else:
            assert row["encoder_calls"] == row["distinct_videos"]  # encode once per video per step
            assert row["speedup"] > 0 and row["ideal_speedup"] >= 1
    assert [r["sp"] for r in rows if r["config"] == "stage1+sp"] == [2, 2]
    assert len(rows[2]["peak_mem_mb_per_rank"]) == 2
    memory = report["memory"]
    assert [p["frames"] for p in memory["one_rank"]] == [8, 16] == [p["frames"] for p in memory["2_ranks"]]
    assert {"budget_mb", "fits_one_rank", "fits_2_ranks", "prefill_ratio_at_largest"} <= set(memory)


PINNED_PROBE = """
import json, time, psutil, torch
from lvr1kit.bench.mrsp import PeakMemory, pin_malloc_for_measurement
assert pin_malloc_for_measurement()
rows = []
with PeakMemory():  # warm-up: the first tensor op and sampler thread allocate a few MB of their own
    torch.ones(2**18).sum()
for size_mb in (8, 24, 8, 40, 8):
    with PeakMemory() as mem:
        parts = [torch.ones(size_mb * 2**18 // 4) for _ in range(4)]  # 4 tensors of size_mb / 4 MB, touched
        time.sleep(0.05)  # RSS is sampled every 2 ms
        del parts
    rows.append([size_mb, mem.peak_mb, (psutil.Process().memory_info().rss - mem._base) / 2**20])
print(json.dumps(rows))
"""


def test_pinned_malloc_makes_cpu_peaks_follow_live_tensors() -> None:
    import subprocess
    import sys

    # Its own process: pinning is process-wide.
    done = subprocess.run([sys.executable, "-c", PINNED_PROBE], capture_output=True, text=True, check=True)
    for size_mb, peak_mb, left_mb in json.loads(done.stdout.splitlines()[-1]):
        assert size_mb * 0.9 <= peak_mb <= size_mb + 4, (size_mb, peak_mb)  # small ones after big ones too
        assert abs(left_mb) < 2, (size_mb, left_mb)  # freed tensors leave RSS
