"""``lvr1 data``: generate a dataset (stages 1-6, resumable, shardable) and import public QA files.

``data_app`` is registered in :mod:`lvr1kit.cli`; ``python -m lvr1kit.data.cli`` runs it alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from lvr1kit import runs
from lvr1kit.config import ConfigError, DataGenConfig, load_config, parse_override

__all__ = ["data_app", "parse_shard"]

data_app = typer.Typer(
    help="Data engine: videos -> clips -> captions -> reasoning QA -> filter -> sft/rl/eval jsonl; importers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)``; ``None`` reads torchrun's ``RANK``/``WORLD_SIZE`` (``(0, 1)`` when unset).

    >>> parse_shard("1/4")
    (1, 4)
    """
    if text is None:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    index, sep, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise ConfigError(f"--shard {text!r} must be i/n with 0 <= i < n, e.g. --shard 0/4")
    return shard


@data_app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option("--out", help="Output run folder (created; a rerun resumes).")],
    videos: Annotated[
        Path | None, typer.Option("--videos", help="Input video folder; omitted: the preset's (or a synthetic world).")
    ] = None,
    preset: Annotated[str, typer.Option("--preset", help="Packaged preset (data/tiny) or YAML path.")] = "data/tiny",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Dotted override key=value (repeatable).")] = None,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="i/n: only videos with index i mod n (default: torchrun RANK/WORLD_SIZE)."),
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
) -> None:
    """Run stages 1-6 into OUT: timelines/, qa/, dataset/{sft,rl,eval}.jsonl and report.json."""
    from lvr1kit.data.generate import generate_dataset

    try:
        overrides = dict(parse_override(s) for s in set_ or [])
        if videos is not None:
            overrides["videos_dir"] = str(videos)
        overrides["progress"] = progress
        cfg = load_config(DataGenConfig, preset, overrides)
        shard_index, shard_count = parse_shard(shard)
        run = runs.start(out, cfg, stage="data")
    except (ConfigError, runs.RunError) as err:
        raise _fail(str(err)) from None
    try:
        report = generate_dataset(cfg, out, shard=(shard_index, shard_count))
    except (FileNotFoundError, ValueError) as err:
        runs.finish(run, {"error": str(err)}, status="failed")
        raise _fail(str(err)) from None
    dataset = report["dataset"]
    line = {"out": str(out), "shard": report["shard"], "seconds": report["seconds"], "stages": report["stages"]}
    if dataset is not None:
        line |= {
            "splits": {k: v["count"] for k, v in dataset["splits"].items()},
            "letter_share": dataset["all"]["letter_share"],
            "categories": dataset["all"]["categories"],
            "failures": dataset["failures"],
        }
        runs.finish(run, {"report": str(out / "report.json"), **line})
    typer.echo(json.dumps(line))


@data_app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(help="Public file: LongVideo-Reason JSONL, or VideoMME-like JSONL / JSON list.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="longvideo-reason | videomme")],
    out: Annotated[Path, typer.Option("--out", help="Output JSONL in our schema.")],
) -> None:
    """Convert a public QA file to our schema; malformed rows are listed on stderr (row and problem), not fatal."""
    from lvr1kit.data.importers import import_file
    from lvr1kit.data.io import write_records

    try:
        result = import_file(file, fmt)
    except (ValueError, FileNotFoundError) as err:
        raise _fail(str(err)) from None
    for issue in result.issues:
        typer.echo(json.dumps({"row": issue.row, "problem": issue.problem}), err=True)
    written = write_records(out, result.records)
    typer.echo(
        json.dumps({"out": str(out), "records": written, "malformed": len(result.issues), "relaid": result.relaid})
    )
    if written == 0:
        raise _fail(f"{file}: no row could be imported as {fmt}", code=1)


if __name__ == "__main__":
    data_app()
