"""The ``lvr1`` command line: one sub-command per stage or tool, each a thin call into the library."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel

from lvr1kit.bench import bench_app
from lvr1kit.config import (
    STAGE_CONFIGS,
    ConfigError,
    SynthConfig,
    dump_config,
    list_presets,
    load_config,
    parse_override,
)
from lvr1kit.data.cli import data_app
from lvr1kit.eval.cli import eval_app
from lvr1kit.models.cli import model_app
from lvr1kit.review.cli import app_command
from lvr1kit.rl.cli import rl_app
from lvr1kit.sft.cli import sft_app
from lvr1kit.video.cli import video_app

app = typer.Typer(
    help="lvr1kit: long-video reasoning with RL. Stages: synth (world) -> data -> sft -> rl (GRPO + MR-SP) -> eval.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect presets and resolved stage configs.", no_args_is_help=True)
pipeline_app = typer.Typer(help="Run notebook pipelines (pipelines/*.yaml) with papermill.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(data_app, name="data")
app.add_typer(sft_app, name="sft")
app.add_typer(rl_app, name="rl")
app.add_typer(eval_app, name="eval")
app.add_typer(video_app, name="video")
app.add_typer(model_app, name="model")
app.add_typer(bench_app, name="bench")
app.command("app")(app_command)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _fail(err: Exception) -> typer.Exit:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


PresetOpt = Annotated[str, typer.Option("--preset", help="Packaged preset (e.g. synth/tiny) or YAML path.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Dotted override key=value (repeatable).")]


def _load(cls: type, preset: str, sets: list[str] | None, extra: Mapping[str, object] | None = None) -> object:
    """Config from a preset, ``--set`` overrides and command-line flags (flags win; ``None`` = not given)."""
    try:
        overrides = dict(parse_override(s) for s in sets or [])
        overrides.update({k: v for k, v in (extra or {}).items() if v is not None})
        return load_config(cls, preset, overrides)
    except ConfigError as err:
        raise _fail(err) from None


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="Output folder (created; a rerun resumes).")],
    num_videos: Annotated[int | None, typer.Option("--num-videos", min=1, help="Videos to make.")] = None,
    minutes: Annotated[float | None, typer.Option("--minutes", help="Minutes per video.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="World seed.")] = None,
    preset: PresetOpt = "synth/tiny",
    set_: SetOpt = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Make a synthetic long-video world: mp4 videos, ground-truth event logs (JSONL) and world.json."""
    from lvr1kit.video.synth import generate_world

    flags = {"num_videos": num_videos, "world.video_minutes": minutes, "world.seed": seed}
    cfg = _load(SynthConfig, preset, set_, flags)
    assert isinstance(cfg, SynthConfig)
    start = time.perf_counter()
    try:
        videos = generate_world(out, cfg.num_videos, cfg.world, progress=progress)
    except ValueError as err:
        raise _fail(err) from None
    seconds = round(time.perf_counter() - start, 2)
    video_s = sum(v.duration_s for v in videos)
    typer.echo(json.dumps({"out": str(out), "videos": len(videos), "video_s": video_s, "wall_s": seconds}))


@config_app.command("presets")
def config_presets(
    stage: Annotated[str | None, typer.Argument(help="Only this stage's presets.")] = None,
) -> None:
    """List the packaged presets."""
    for name in list_presets(stage):
        typer.echo(name)


@config_app.command("show")
def config_show(
    preset: Annotated[str, typer.Argument(help="Packaged preset (e.g. synth/tiny) or YAML path.")],
    stage: Annotated[str | None, typer.Option(help="Stage whose config class reads the preset.")] = None,
    set_: SetOpt = None,
) -> None:
    """Print the fully resolved config of a preset plus overrides, after validation."""
    stage_name = stage or str(preset).split("/")[0]
    if stage_name not in STAGE_CONFIGS:
        raise _fail(ConfigError(f"unknown stage {stage_name!r}; pass --stage, one of {', '.join(STAGE_CONFIGS)}"))
    cfg = _load(STAGE_CONFIGS[stage_name], preset, set_)
    assert isinstance(cfg, BaseModel)
    typer.echo(dump_config(cfg), nl=False)


@pipeline_app.command("run")
def pipeline_run(
    file: Annotated[Path, typer.Argument(help="Pipeline YAML, e.g. pipelines/demo.yaml.")],
    run_dir: Annotated[str | None, typer.Option(help="Replace the file's run_dir.")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Run only this stage (repeatable).")] = None,
    force: Annotated[bool, typer.Option(help="Rerun stages that are already done.")] = False,
) -> None:
    """Execute a pipeline's notebooks in order; finished stages are skipped on rerun."""
    from lvr1kit.pipeline import PipelineError, load_pipeline, run_pipeline

    started: dict[str, float] = {}
    t_all = time.perf_counter()

    def show(name: str, event: str) -> None:
        now = time.perf_counter()
        started.setdefault(name, now)
        elapsed = f" ({now - started[name]:.1f} s)" if event == "done" else ""
        typer.echo(f"[{event:>5}] {name}{elapsed}", err=True)

    try:
        cfg = load_pipeline(file, run_dir)
        summary = run_pipeline(cfg, only=only, force=force, on_stage=show)
    except (ConfigError, PipelineError) as err:
        raise _fail(err) from None
    typer.echo(json.dumps({s["name"]: s["status"] for s in summary["stages"]}))
    typer.echo(f"total {time.perf_counter() - t_all:.1f} s", err=True)
    typer.echo(f"outputs: {summary['run_dir']} (summary.json, report.html, notebooks/, one folder per stage)", err=True)


@pipeline_app.command("report")
def pipeline_report(
    run_dir: Annotated[Path, typer.Argument(help="A pipeline run dir, e.g. runs/demo.")],
    pipeline_file: Annotated[
        Path | None, typer.Option(help="Pipeline YAML to quote (default: RUN_DIR/pipeline.yaml).")
    ] = None,
) -> None:
    """(Re)write RUN_DIR/report.html from the stage run dirs: numbers, figures, notebooks, configs."""
    from lvr1kit.report import build_report

    if not run_dir.is_dir():
        raise _fail(ConfigError(f"run dir {run_dir} does not exist; pass a pipeline's run_dir, e.g. runs/demo"))
    typer.echo(str(build_report(run_dir, pipeline_file)))


def main() -> None:
    """Entry point for ``python -m lvr1kit.cli``."""
    app()


if __name__ == "__main__":
    main()
