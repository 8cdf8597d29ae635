"""Notebook pipelines: run a list of parametrized notebooks with papermill, each into its own run dir.

A pipeline file (``pipelines/*.yaml``) names the pipeline's run dir and its stages::

    run_dir: runs/demo
    stages:
      - {name: world, notebook: notebooks/00_synthetic_world.ipynb, preset: synth/tiny}
      - {name: data, notebook: notebooks/01_generate_data.ipynb, preset: data/tiny,
         overrides: {videos_dir: "{world}/videos"}}

Each stage gets exactly ``preset``, ``overrides`` and ``run_dir`` (``<pipeline run_dir>/<stage name>``).
A ``{name}`` inside an override string is replaced by that earlier stage's run dir, which is how outputs
flow from one stage to the next. The runner stops at the first failing stage, pointing at the failing
cell of the executed notebook, and on rerun skips stages that finished with the same settings.

After the last stage (or the failing one) it writes ``summary.json`` (stage statuses and wall times),
``pipeline.yaml`` (the pipeline as run) and ``report.html`` (:func:`lvr1kit.report.build_report`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from lvr1kit import runs
from lvr1kit.config import ConfigError, StrictModel, format_validation_error

__all__ = ["PipelineConfig", "PipelineError", "StageSpec", "load_pipeline", "run_pipeline"]

log = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    """A stage failed; the message names the stage, the failing cell and the executed notebook."""


class StageSpec(StrictModel):
    """One stage: a notebook and its three parameters."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    """Stage name; also the name of its run dir inside the pipeline's run dir."""
    notebook: str
    """Path of the notebook, relative to the working directory the pipeline runs from."""
    preset: str
    """Packaged preset name or YAML path handed to the notebook."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Dotted config overrides; ``{stage}`` in a string becomes that earlier stage's run dir."""
    timeout_s: int | None = None
    """Per-cell time limit; ``None`` means no limit."""


class PipelineConfig(StrictModel):
    """A pipeline file."""

    run_dir: str
    """Where the pipeline's stage run dirs, executed notebooks and summary go."""
    stages: list[StageSpec]
    """Stages, run in order."""

    @field_validator("stages")
    @classmethod
    def _non_empty(cls, stages: list[StageSpec]) -> list[StageSpec]:
        if not stages:
            raise ValueError("a pipeline needs at least one stage under 'stages'")
        return stages

    @model_validator(mode="after")
    def _unique_names(self) -> PipelineConfig:
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(dupes)}")
        return self


def load_pipeline(path: str | Path, run_dir: str | None = None) -> PipelineConfig:
    """Read and validate a pipeline file; ``run_dir`` replaces the file's own when given."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pipeline file {path} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if run_dir is not None:
        data["run_dir"] = run_dir
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(PipelineConfig, err, str(path))) from None


def _resolve_overrides(overrides: dict[str, Any], stage_dirs: dict[str, Path]) -> dict[str, Any]:
    names = {name: str(d) for name, d in stage_dirs.items()}

    def sub(value: Any) -> Any:
        if isinstance(value, str):
            try:
                return value.format(**names)
            except KeyError as err:
                raise ConfigError(
                    f"override value {value!r} refers to stage {err.args[0]!r}, which does not run before it; "
                    f"earlier stages: {', '.join(names) or 'none'}"
                ) from None
        if isinstance(value, list):
            return [sub(v) for v in value]
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        return value

    return {k: sub(v) for k, v in overrides.items()}


def _fingerprint(stage: StageSpec, overrides: dict[str, Any]) -> str:
    notebook = Path(stage.notebook).read_bytes()
    blob = json.dumps([stage.preset, overrides], sort_keys=True).encode() + notebook
    return hashlib.sha256(blob).hexdigest()[:16]


def _execute(stage: StageSpec, out_nb: Path, params: dict[str, Any]) -> None:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(
            stage.notebook,
            str(out_nb),
            parameters=params,
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=stage.timeout_s,
        )
    except PapermillExecutionError as err:
        raise PipelineError(
            f"stage {stage.name!r} failed in cell {err.cell_index} (execution count {err.exec_count}): "
            f"{err.ename}: {err.evalue}. The executed notebook {out_nb} marks the failing cell "
            "('An Exception was encountered'). Fix it and rerun: finished stages are skipped."
        ) from err


def run_pipeline(
    cfg: PipelineConfig,
    *,
    only: list[str] | None = None,
    force: bool = False,
    on_stage: Callable[[str, str], None] | None = None,
    report: bool = True,
) -> dict[str, Any]:
    """Run the pipeline's stages in order, skipping those already done with the same settings.

    Args:
        cfg: the validated pipeline.
        only: run just these stages (earlier stages must already be done).
        force: rerun stages even when done.
        on_stage: called with ``(stage name, event)`` for ``start`` / ``skip`` / ``done``, for progress display.
        report: write ``<run_dir>/report.html`` at the end (also after a failure).

    Returns:
        The pipeline summary also written to ``<run_dir>/summary.json`` (plus ``report``, the page's path).

    Raises:
        PipelineError: at the first failing stage.
    """
    root = Path(cfg.run_dir).resolve()
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    from lvr1kit.report import save_pipeline_copy

    save_pipeline_copy(root, cfg.model_dump(mode="json"))
    stage_dirs: dict[str, Path] = {}
    results: list[dict[str, Any]] = []
    notify = on_stage or (lambda name, event: None)
    try:
        for stage in cfg.stages:
            results.append(_run_stage(stage, root, stage_dirs, only=only, force=force, notify=notify))
    except PipelineError as err:
        failed = next(s for s in cfg.stages if s.name not in {r["name"] for r in results})
        results.append({"name": failed.name, "status": "failed", "error": str(err), "run_dir": str(root / failed.name)})
        _write_outputs(root, results, report)
        raise
    return _write_outputs(root, results, report)


def _write_outputs(root: Path, results: list[dict[str, Any]], report: bool) -> dict[str, Any]:
    pipeline_summary: dict[str, Any] = {"run_dir": str(root), "stages": results}
    runs.write_json_atomic(root / "summary.json", pipeline_summary)
    if report:
        from lvr1kit.report import build_report

        try:
            pipeline_summary["report"] = str(build_report(root))
        except Exception:  # a broken report must not hide the stages' own outcome
            log.exception("could not write %s/report.html; the stage results are in summary.json", root)
    return pipeline_summary


def _run_stage(
    stage: StageSpec,
    root: Path,
    stage_dirs: dict[str, Path],
    *,
    only: list[str] | None,
    force: bool,
    notify: Callable[[str, str], None],
) -> dict[str, Any]:
    stage_dir = root / stage.name
    overrides = _resolve_overrides(stage.overrides, stage_dirs)
    stage_dirs[stage.name] = stage_dir
    if not Path(stage.notebook).is_file():
        raise PipelineError(f"stage {stage.name!r}: notebook {stage.notebook} does not exist")
    fingerprint = _fingerprint(stage, overrides)
    previous = runs.read_summary(stage_dir)
    done_before = previous.get("status") == "done" and previous.get("pipeline_fingerprint") == fingerprint
    if (only is not None and stage.name not in only) or (done_before and not force):
        if not done_before:
            raise PipelineError(f"stage {stage.name!r} has not finished; run it before {only}")
        notify(stage.name, "skip")
        return {**previous, "name": stage.name, "status": "skipped", "run_dir": str(stage_dir)}
    notify(stage.name, "start")
    params = {"preset": stage.preset, "overrides": overrides, "run_dir": str(stage_dir)}
    out_nb = root / "notebooks" / f"{stage.name}.ipynb"
    t0 = time.perf_counter()
    _execute(stage, out_nb, params)
    seconds = round(time.perf_counter() - t0, 2)
    summary = runs.read_summary(stage_dir)
    if summary.get("status") != "done":
        raise PipelineError(
            f"stage {stage.name!r}: notebook ran but {stage_dir}/summary.json says status="
            f"{summary.get('status')!r}; the notebook must end with runs.finish(...)"
        )
    # kept in the stage's own summary so a later skip still knows how long the stage took
    summary |= {"pipeline_fingerprint": fingerprint, "pipeline_seconds": seconds}
    runs.write_json_atomic(stage_dir / "summary.json", summary)
    log.info("stage %s done in %.1f s", stage.name, seconds)
    notify(stage.name, "done")
    return {
        **summary,
        "name": stage.name,
        "status": "done",
        "seconds": seconds,
        "notebook": str(out_nb),
        "run_dir": str(stage_dir),
    }
