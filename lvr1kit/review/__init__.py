"""Reads and writes behind the review app (no gradio import): store, datasets, rollouts, evals, safe paths.

Contents:
    - ``store``: append-only verdicts (SQLite WAL / any SQLAlchemy URL), history, export of new dataset versions.
    - ``datasets``: dataset discovery and loading under the data root, queues, progress.
    - ``rollouts``: ``rollouts.jsonl`` read incrementally, prompt groups, filters, zero-variance detection.
    - ``evals``: eval tables across runs, frame-scaling tables, per-question rows.
    - ``paths``: ``resolve_under`` (no traversal, no escaping symlinks), used for every file access.
    - ``timestamps`` / ``render``: cited ``mm:ss`` times as jump links; HTML fragments of the app.
    - ``workbench``: ``Workbench``, one method per app action (what ``apps/review_app.py`` calls).
"""

from lvr1kit.review.paths import PathRefused, resolve_under
from lvr1kit.review.store import ReviewStore, StaleEditError, export_version
from lvr1kit.review.workbench import Choices, Filters, Workbench

__all__ = [
    "Choices",
    "Filters",
    "PathRefused",
    "ReviewStore",
    "StaleEditError",
    "Workbench",
    "export_version",
    "resolve_under",
]
