"""``lvr1 video ...`` commands: ``probe FILE...`` prints one JSON line per file.

Contents:
    * ``video_app``: the Typer app, registered by the main CLI under ``video``.
    * ``probe_command``: JSON line per file, ``{"path", "backend", "duration_s", "fps", "frames", "width",
      "height"}`` or ``{"path", "error"}``; exit status 1 if any file failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lvr1kit.video.io import VideoError, probe

video_app = typer.Typer(help="Long-video I/O: probing, sampling, clips.", no_args_is_help=True)


@video_app.callback()
def _video() -> None:
    """Long-video I/O commands."""


@video_app.command("probe")
def probe_command(
    files: Annotated[list[Path], typer.Argument(help="Video files to probe.")],
    backend: Annotated[str, typer.Option(help="auto, decord or pyav.")] = "auto",
) -> None:
    """Print one JSON line per file: its backend, duration, fps, frame count and size, or the error."""
    failed = False
    for file in files:
        try:
            info = probe(file, backend=backend)  # type: ignore[arg-type]
            line = {
                "path": str(file),
                "backend": info.backend,
                "duration_s": round(info.duration_s, 3),
                "fps": round(info.fps, 3),
                "frames": info.num_frames,
                "width": info.width,
                "height": info.height,
            }
        except VideoError as exc:
            failed = True
            line = {"path": str(file), "error": str(exc)}
        typer.echo(json.dumps(line))
    if failed:
        raise typer.Exit(code=1)
