"""Every notebook runs headlessly with papermill on its tiny preset and leaves the summary keys it promises."""

from __future__ import annotations

from pathlib import Path

import papermill as pm
import pytest

from lvr1kit import runs

REPO = Path(__file__).resolve().parents[2]

# notebook -> (tiny preset, overrides, keys its summary.json must carry)
NOTEBOOKS: dict[str, tuple[str, dict, set[str]]] = {
    "00_synthetic_world.ipynb": (
        "synth/tiny",
        {"num_videos": 2},
        {"num_videos", "video_seconds_total", "frames_sampled", "sample_backends", "event_counts"},
    ),
    "02_cot_sft.ipynb": (
        "sft/tiny",  # makes its own data/tiny dataset and tiny model; 10 steps keep it short
        {"train.max_steps": 10, "eval_questions": 2, "eval_max_new_tokens": 24},
        {"train_loss_first", "train_loss_last", "eval_format_rate", "eval_accuracy", "checkpoint"},
    ),
    "03_grpo_mrsp.ipynb": (
        "rl/tiny",
        {"steps": 2, "grpo.max_response_tokens": 16, "standalone_videos": 4},
        {
            "steps",
            "reward_mean_first",
            "reward_mean_last",
            "frac_zero_std_mean",
            "params_changed",
            "encoder_calls_per_step",
            "distinct_videos_per_step",
        },
    ),
    "01_generate_data.ipynb": (
        "data/tiny",
        {"num_videos": 16, "split.eval_videos": 3},  # videos_dir null: the notebook makes its own small world
        {"num_records", "splits", "categories", "letter_share", "failures", "seconds", "dataset_dir"},
    ),
    "04_evaluate.ipynb": (
        "eval/tiny",  # makes its own 16-video dataset and a random tiny model; a 2x2 sweep keeps it short
        {"sweep_frames": [4, 8], "sweep_strategies": ["uniform", "per_clip"]},
        {
            "models",
            "accuracy_lenient",
            "accuracy_strict",
            "format_rate",
            "majority_baseline",
            "per_category",
            "frame_scaling",
        },
    ),
    "05_mrsp_benchmark.ipynb": (
        "bench/tiny",  # tiny model, frames 8 and 16, G=2, one rank: the baseline and stage-1 rows only
        {},
        {"frames", "configs", "stage1_speedup", "ideal_speedup", "encodes_equal_distinct_videos", "load_avg"},
    ),
    "06_ablations.ipynb": (
        "",  # AblationsConfig has no presets: four conditions read from a hand-made eval stage (fixtures/)
        {
            "sweep_dir": str(REPO / "tests/notebooks/fixtures/ablations_eval"),
            "conditions": {
                name: {
                    "study": study,
                    "eval_dirs": [str(REPO / "tests/notebooks/fixtures/ablations_eval")],
                    "model": name,
                }
                for name, study in [
                    ("sft_only", "recipe"),
                    ("sft_rl", "recipe"),
                    ("rl_only", "recipe"),
                    ("kl_on", "KL"),
                ]
            },
        },
        {"metric", "conditions", "studies", "best_per_study", "values"},
    ),
}


def test_every_notebook_is_covered() -> None:
    assert {p.name for p in (REPO / "notebooks").glob("*.ipynb")} == set(NOTEBOOKS)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_with_tiny_preset(name: str, tmp_path: Path) -> None:
    preset, overrides, keys = NOTEBOOKS[name]
    run_dir = tmp_path / "run"
    pm.execute_notebook(
        str(REPO / "notebooks" / name),
        str(tmp_path / name),
        parameters={"preset": preset, "overrides": overrides, "run_dir": str(run_dir)},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    summary = runs.read_summary(run_dir)
    assert summary["status"] == "done"
    assert keys <= set(summary), keys - set(summary)
