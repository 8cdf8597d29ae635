"""The ``lvr1 synth`` command: generate a synthetic long-video world (videos + event logs) into a directory.

Contents:
    - ``synth_command``: a typer command function; register it with ``app.command("synth")(synth_command)``.
    - ``build_world_config``: merge an optional YAML/JSON file of ``WorldConfig`` fields with command-line
      flags.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from lvr1kit.video.synth import generate_world
from lvr1kit.video.synth_config import WorldConfig

logger = logging.getLogger(__name__)


def build_world_config(config_file: Path | None, overrides: dict[str, Any]) -> WorldConfig:
    """Build a ``WorldConfig`` from a file of fields (YAML or JSON) and flag overrides (``None`` = not given).

    Args:
        config_file: Optional file holding a mapping of ``WorldConfig`` fields (or ``{"world": {...}}``).
        overrides: Field values from the command line; ``None`` values are ignored.

    Returns:
        The validated configuration.

    Raises:
        ValueError: If the file is not a mapping.
        pydantic.ValidationError: If the merged fields are invalid.
    """
    fields: dict[str, Any] = {}
    if config_file is not None:
        loaded = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
        if isinstance(loaded, dict) and isinstance(loaded.get("world"), dict):
            loaded = loaded["world"]
        if not isinstance(loaded, dict):
            raise ValueError(f"{config_file}: expected a mapping of WorldConfig fields")
        fields.update(loaded)
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return WorldConfig(**fields)


def synth_command(
    out: Annotated[Path, typer.Option("--out", help="Output directory (created; reruns resume).")],
    num_videos: Annotated[int, typer.Option("--num-videos", min=1, help="Number of videos.")] = 8,
    minutes: Annotated[float | None, typer.Option("--minutes", help="Minutes per video [2.0].")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="World seed [0].")] = None,
    fps: Annotated[float | None, typer.Option("--fps", help="Frames per second of the mp4 [2.0].")] = None,
    step_seconds: Annotated[float | None, typer.Option("--step-seconds", help="Step length [4.0].")] = None,
    frame_size: Annotated[int | None, typer.Option("--frame-size", help="Frame side [56].")] = None,
    num_agents: Annotated[int | None, typer.Option("--num-agents", help="Agents per video [3].")] = None,
    num_items: Annotated[int | None, typer.Option("--num-items", help="Items per video [1].")] = None,
    num_zones: Annotated[int | None, typer.Option("--num-zones", help="Zones: 2, 4, 6 or 9 [4].")] = None,
    distractors: Annotated[int | None, typer.Option("--distractors", help="Distractor dots [0].")] = None,
    zone_tints: Annotated[
        bool | None, typer.Option("--zone-tints/--no-zone-tints", help="Tint each zone [on].")
    ] = None,
    clock: Annotated[bool | None, typer.Option("--clock/--no-clock", help="Border clock [on].")] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", exists=True, dir_okay=False, help="YAML/JSON of WorldConfig fields."),
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Generate a synthetic long-video world: mp4 videos, JSONL event logs and world.json."""
    overrides = {
        "video_minutes": minutes,
        "seed": seed,
        "fps": fps,
        "step_seconds": step_seconds,
        "frame_size": frame_size,
        "num_agents": num_agents,
        "num_items": num_items,
        "num_zones": num_zones,
        "num_distractors": distractors,
        "zone_tints": zone_tints,
        "clock": clock,
    }
    try:
        world_config = build_world_config(config, overrides)
        start = time.perf_counter()
        videos = generate_world(out, num_videos, world_config, progress=progress)
    except (ValidationError, ValueError) as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from err
    seconds = time.perf_counter() - start
    total_s = sum(v.duration_s for v in videos)
    summary = {"out": str(out), "videos": len(videos), "video_s": total_s, "wall_s": round(seconds, 2)}
    typer.echo(json.dumps(summary))
