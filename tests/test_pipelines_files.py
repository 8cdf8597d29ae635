"""Every shipped pipeline (``pipelines/*.yaml``) is valid without running it: notebooks exist, presets and overrides
validate against the stage's config class, and ``{stage}`` references point at earlier stages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lvr1kit import report
from lvr1kit.config import STAGE_CONFIGS, StrictModel, load_config
from lvr1kit.pipeline import _resolve_overrides, load_pipeline

REPO = Path(__file__).resolve().parents[1]
PIPELINES = sorted((REPO / "pipelines").glob("*.yaml"))
CLASSES: dict[str, type[StrictModel]] = {cls.__name__: cls for cls in STAGE_CONFIGS.values()}
CLASSES["AblationsConfig"] = report.AblationsConfig


def notebook_config_class(notebook: Path) -> type[StrictModel]:
    """The config class a notebook loads (``load_config(XConfig, ...)`` in its code cells)."""
    cells = json.loads(notebook.read_text())["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    found = set(re.findall(r"load_config\(\s*(\w+)", source))
    assert len(found) == 1, f"{notebook.name} loads {found or 'no config'}; expected exactly one config class"
    name = found.pop()
    assert name in CLASSES, f"{notebook.name} loads {name}, which is no stage config class"
    return CLASSES[name]


def test_pipelines_found() -> None:
    assert {"demo.yaml", "paper.yaml", "bench.yaml", "ablations.yaml"} <= {p.name for p in PIPELINES}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_pipeline_stages_validate(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # notebooks and presets are named relative to the repo root, as the runner runs them
    cfg = load_pipeline(path)
    dummy_dirs: dict[str, Path] = {}
    for stage in cfg.stages:
        notebook = REPO / stage.notebook
        assert notebook.is_file(), f"{path.name}: stage {stage.name!r} names missing notebook {stage.notebook}"
        cls = notebook_config_class(notebook)
        if "/" in stage.preset and not stage.preset.endswith(".yaml"):
            preset_stage = stage.preset.split("/")[0]
            assert STAGE_CONFIGS.get(preset_stage) is cls, (
                f"{path.name}: stage {stage.name!r} hands preset {stage.preset} to {stage.notebook}, which loads "
                f"{cls.__name__}"
            )
        # {stage} placeholders become dummy run dirs of earlier stages (a later or unknown one raises ConfigError)
        overrides = _resolve_overrides(stage.overrides, dummy_dirs)
        dummy_dirs[stage.name] = Path("/nonexistent/run") / stage.name
        load_config(cls, stage.preset or None, overrides)
