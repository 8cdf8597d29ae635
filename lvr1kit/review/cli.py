"""``lvr1 app``: start the workbench app (the gradio code in ``apps/review_app.py`` is imported only here, lazily).

Contents:
    - ``app_command``: the typer command; register it with ``app.command("app")(app_command)`` in ``lvr1kit/cli.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

__all__ = ["app_command"]


def _review_app() -> ModuleType:
    """``apps.review_app``: importable from the repo root, else loaded from the checkout next to the package."""
    try:
        return importlib.import_module("apps.review_app")
    except ModuleNotFoundError as err:
        if err.name not in ("apps", "apps.review_app"):
            raise  # gradio missing: say so below
        path = Path(__file__).resolve().parents[2] / "apps" / "review_app.py"
        if not path.is_file():
            raise typer.BadParameter(f"{path} not found; run `lvr1 app` from a checkout of the repository") from err
        spec = importlib.util.spec_from_file_location("apps.review_app", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["apps.review_app"] = module
        spec.loader.exec_module(module)
        return module


def app_command(
    runs: Annotated[Path, typer.Option(help="Runs root: GRPO runs (rollouts.jsonl) and eval runs.")],
    data: Annotated[Path, typer.Option(help="Data root: datasets made by the data stage.")],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    store: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the review store (default SQLite).")] = None,
    host: Annotated[str, typer.Option(help="Bind address; 0.0.0.0 exposes the app (use --auth).")] = "127.0.0.1",
    auth: Annotated[str | None, typer.Option(help="user:password[,user2:password2] to require a login.")] = None,
) -> None:
    """Serve the review / rollouts / eval app over a data root and a runs root."""
    try:
        module = _review_app()
    except ModuleNotFoundError as err:
        raise typer.BadParameter(f"{err}; install the app extra: pip install -e '.[app]'") from err
    blocks = module.build_app(data, runs, store, module.parse_auth(auth))
    typer.echo(f"lvr1kit workbench on http://{host}:{port} (data {data}, runs {runs}; Ctrl-C stops)")
    module.serve(blocks, host, port)
