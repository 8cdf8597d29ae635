"""The notebook pipeline runner, executing a real notebook with papermill in a real kernel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lvr1kit import runs
from lvr1kit.config import ConfigError
from lvr1kit.pipeline import PipelineError, _resolve_overrides, load_pipeline, run_pipeline

FIXTURE = Path(__file__).parent / "notebooks" / "fixtures" / "echo_stage.ipynb"


def _write(tmp_path: Path, stages: list[dict]) -> Path:
    import yaml

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "stages": stages}))
    return path


def test_two_stages_run_skip_and_rerun_on_change(tmp_path: Path) -> None:
    stages = [
        {"name": "a", "notebook": str(FIXTURE), "preset": "", "overrides": {"num_frames": 4}},
        {"name": "b", "notebook": str(FIXTURE), "preset": "", "overrides": {"num_frames": 8}},
    ]
    events: list[tuple[str, str]] = []
    cfg = load_pipeline(_write(tmp_path, stages))
    summary = run_pipeline(cfg, on_stage=lambda n, e: events.append((n, e)))
    assert [s["status"] for s in summary["stages"]] == ["done", "done"]
    assert [s["num_frames"] for s in summary["stages"]] == [4, 8]
    assert runs.read_metrics(tmp_path / "run" / "b")[1]["demo/frames"] == 16
    assert (tmp_path / "run" / "notebooks" / "a.ipynb").exists()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["stages"][1]["name"] == "b"

    events.clear()
    stages[1]["overrides"] = {"num_frames": 8, "strategy": "fps"}
    # the changed config collides with b's existing run dir: refused rather than mixed
    with pytest.raises(PipelineError, match="holds a different config"):
        run_pipeline(load_pipeline(_write(tmp_path, stages)), on_stage=lambda n, e: events.append((n, e)))
    assert events[0] == ("a", "skip")


def test_failing_cell_is_reported_and_earlier_stage_kept(tmp_path: Path) -> None:
    stages = [
        {"name": "good", "notebook": str(FIXTURE), "preset": ""},
        {"name": "bad", "notebook": str(FIXTURE), "preset": "", "overrides": {"num_framez": 3}},
    ]
    with pytest.raises(PipelineError) as err:
        run_pipeline(load_pipeline(_write(tmp_path, stages)))
    text = str(err.value)
    assert "stage 'bad' failed in cell" in text and "num_framez: unknown key" in text
    assert "bad.ipynb" in text
    assert runs.read_summary(tmp_path / "run" / "good")["status"] == "done"
    # the summary and the report are written after a failure too, the failed stage marked
    stages = json.loads((tmp_path / "run" / "summary.json").read_text())["stages"]
    assert [(s["name"], s["status"]) for s in stages] == [("good", "done"), ("bad", "failed")]
    assert 'class="failed"' in (tmp_path / "run" / "report.html").read_text()


def test_stage_references_resolve_to_earlier_run_dirs(tmp_path: Path) -> None:
    dirs = {"world": tmp_path / "world"}
    out = _resolve_overrides({"videos_dir": "{world}/videos", "n": 3, "l": ["{world}"]}, dirs)
    assert out == {"videos_dir": f"{tmp_path}/world/videos", "n": 3, "l": [f"{tmp_path}/world"]}
    with pytest.raises(ConfigError, match="refers to stage 'later'"):
        _resolve_overrides({"x": "{later}/a"}, dirs)


def test_pipeline_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_pipeline(tmp_path / "none.yaml")
    dup = [{"name": "a", "notebook": "x", "preset": "p"}] * 2
    with pytest.raises(ConfigError, match="repeated: a"):
        load_pipeline(_write(tmp_path, dup))
    with pytest.raises(ConfigError, match="stages.0.preset"):
        load_pipeline(_write(tmp_path, [{"name": "a", "notebook": "x"}]))
