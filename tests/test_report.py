"""The pipeline report and the results tables: built from hand-made run dirs and from a real two-stage pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from lvr1kit import runs
from lvr1kit.config import VideoConfig
from lvr1kit.pipeline import load_pipeline, run_pipeline
from lvr1kit.report import AblationsConfig, ablation_table, build_report, collect_results

FIXTURE = Path(__file__).parent / "notebooks" / "fixtures" / "echo_stage.ipynb"


def _eval_table(models: dict[str, float]) -> pd.DataFrame:
    rows = []
    for model, acc in models.items():
        groups = [("overall", "all", acc)]
        groups += [("category", c, acc - 0.05 * i) for i, c in enumerate(["temporal", "goal", "plot", "spatial"])]
        rows += [
            {"model": model, "group_type": gt, "group": g, "metric": "accuracy_lenient", "n": 40, "value": v}
            | {"ci_low": v - 0.1, "ci_high": v + 0.1}
            for gt, g, v in groups
        ]
    return pd.DataFrame(rows)


def _make_run(root: Path) -> Path:
    """A pipeline run dir by hand: an sft stage with curves and an eval stage with a results table."""
    sft = runs.start(root / "sft", VideoConfig(num_frames=8), stage="sft")
    for step in range(4):
        sft.log(step, **{"loss/sft": 2.0 - 0.4 * step, "train/lr": 1e-3})
    runs.finish(sft, {"train_loss_last": 0.8123, "steps": 4})
    ev = runs.start(root / "eval", VideoConfig(), stage="eval")
    _eval_table({"sft": 0.6, "sft_grpo": 0.7}).to_csv(ev.dir / "table.csv", index=False)
    runs.finish(ev, {"accuracy_lenient": {"sft": 0.6, "sft_grpo": 0.7}, "questions": 40})
    (root / "notebooks").mkdir()
    (root / "notebooks" / "sft.ipynb").write_text("{}")
    return root


def test_report_from_hand_made_run_dir(tmp_path: Path) -> None:
    root = _make_run(tmp_path / "run")
    page = build_report(root).read_text()
    assert "<script src=" not in page and page.count("plotly.js v") == 1  # inline once: the page works offline
    assert page.count("Plotly.newPlot") == 3  # sft curves, eval overall and per-category bars
    for text in ('id="stage-sft"', 'id="stage-eval"', "0.8123", "train_loss_last", "sft_grpo", "num_frames: 8"):
        assert text in page, text
    assert '<a href="notebooks/sft.ipynb">' in page
    assert "git commit" in page and "no executed notebook" in page  # eval has no executed notebook here


def test_report_survives_missing_files(tmp_path: Path) -> None:
    root = tmp_path / "run"
    (root / "half").mkdir(parents=True)
    runs.write_json_atomic(root / "half" / "summary.json", {"status": "running"})
    (root / "half" / "metrics.jsonl").write_text('{"step": 0, "loss/sft": 1.0}\n{"step": 1, "loss/')
    page = build_report(root).read_text()
    assert 'id="stage-half"' in page and "running" in page


def test_collect_results_and_ablation_table(tmp_path: Path) -> None:
    root = _make_run(tmp_path / "run")
    for seed, acc in enumerate([0.5, 0.6, 0.7]):
        stage = runs.start(root / f"eval_s{seed}", VideoConfig(), stage="eval")
        _eval_table({"grpo": acc}).to_csv(stage.dir / "table.csv", index=False)
        runs.finish(stage, {})
    tidy = collect_results(root)
    assert set(tidy["stage"]) == {"eval", "eval_s0", "eval_s1", "eval_s2"}
    cfg = AblationsConfig.model_validate(
        {
            "conditions": {
                "sft_rl": {"study": "recipe", "eval_dirs": [str(root / "eval")], "model": "sft_grpo"},
                "seeds": {"study": "seeds", "eval_dirs": [str(root / f"eval_s{i}") for i in range(3)]},
            }
        }
    )
    table = ablation_table(cfg).set_index("condition")
    assert table.loc["sft_rl", "value"] == pytest.approx(0.7)
    assert table.loc["sft_rl", "ci_low"] == pytest.approx(0.6)  # one run: the eval stage's bootstrap CI
    assert table.loc["seeds", "value"] == pytest.approx(0.6) and table.loc["seeds", "seeds"] == 3
    assert table.loc["seeds", "ci_low"] == pytest.approx(0.352, abs=1e-3)  # t-interval over the three seeds
    with pytest.raises(ValueError, match="set conditions.x.model"):
        ablation_table(
            AblationsConfig.model_validate({"conditions": {"x": {"study": "s", "eval_dirs": [str(root / "eval")]}}})
        )


def test_pipeline_writes_report(tmp_path: Path) -> None:
    import yaml

    stages = [
        {"name": "first", "notebook": str(FIXTURE), "preset": "", "overrides": {"num_frames": 4}},
        {"name": "second", "notebook": str(FIXTURE), "preset": "", "overrides": {"num_frames": 8}},
    ]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "stages": stages}))
    summary = run_pipeline(load_pipeline(path))
    page = Path(summary["report"]).read_text()
    for name in ("first", "second"):
        assert f'id="stage-{name}"' in page and f'<a href="notebooks/{name}.ipynb">' in page
    assert "<th>num_frames</th><td>8</td>" in page and page.count("Plotly.newPlot") == 2  # numbers, curves
    assert "pipeline file" in page and "first" in (tmp_path / "run" / "pipeline.yaml").read_text()
    stages_out = json.loads((tmp_path / "run" / "summary.json").read_text())["stages"]
    assert all(s["seconds"] > 0 for s in stages_out)
