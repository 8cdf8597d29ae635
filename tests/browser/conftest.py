"""Browser-test fixtures: sample roots, the real app in a subprocess on a free 127.0.0.1 port, Debian's chromium.

Tests skip (with the reason) when ``/usr/bin/chromium`` or the ``playwright``/``gradio`` packages are missing.
Screenshots go to ``test-artifacts/browser/`` at the repository root.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="pip install playwright (Python package only)")
pytest.importorskip("gradio", reason="install the app extra (gradio)")


@pytest.fixture(scope="session")
def roots(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny generated dataset and hand-written GRPO and eval runs."""
    from lvr1kit.review.sample import write_sample_roots

    return write_sample_roots(tmp_path_factory.mktemp("roots"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppServer:
    """``apps/review_app.py`` running in a subprocess."""

    def __init__(self, data_root: Path, runs_root: Path, extra: list[str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, str(REPO / "apps" / "review_app.py"), "--data", str(data_root), "--runs", str(runs_root)]
        cmd += ["--port", str(self.port), *(extra or [])]
        env = os.environ | {"GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}:\n{Path(self.log.name).read_text()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"app did not answer on {self.url} within 120 s:\n{Path(self.log.name).read_text()}")

    def stop(self) -> None:
        """Terminate the subprocess (kill after 10 s)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def server(roots: tuple[Path, Path]) -> Iterator[AppServer]:
    """One app for the module's tests."""
    app = AppServer(*roots)
    yield app
    app.stop()


@pytest.fixture
def start_server(roots: tuple[Path, Path]) -> Iterator[Any]:
    """Start apps on demand (all stopped at the end)."""
    started: list[AppServer] = []

    def start(extra: list[str] | None = None) -> AppServer:
        started.append(AppServer(*roots, extra))
        return started[-1]

    yield start
    for app in started:
        app.stop()


@contextmanager
def browser_page(playwright: Any) -> Iterator[Any]:
    """A page in a fresh chromium profile (separate browser per call)."""
    with tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under ``test-artifacts/browser``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def pw() -> Iterator[Any]:
    """A Playwright instance (sync API)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def helpers() -> Any:
    """``helpers.browser_page(pw)`` and ``helpers.screenshot(page, name)`` for the tests."""

    class Helpers:
        browser_page = staticmethod(browser_page)
        screenshot = staticmethod(screenshot)

    return Helpers
