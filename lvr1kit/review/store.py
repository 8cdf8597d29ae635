"""The review store: append-only verdicts of annotators (SQLAlchemy Core; SQLite in WAL mode by default).

Contents:
    - ``ACTIONS`` / ``EDITABLE_FIELDS``: what a verdict may do and which record fields an edit may change.
    - ``Verdict``: one row of the ``verdicts`` table.
    - ``ItemState``: an item's current state folded from its verdicts (status, merged edits, last annotator).
    - ``StaleEditError``: an edit based on an older state than the store holds (another annotator edited first).
    - ``ReviewStore``: ``record`` a verdict, ``history`` of an item, ``states`` of a dataset version, ``exports``.
    - ``default_store_url``: ``sqlite:///<data root>/.review/review.sqlite``.
    - ``apply_edits``: a record with edited fields applied and re-validated.
    - ``export_version``: write ``<dataset>/versions/vN/{sft,rl,eval,all}.jsonl`` + ``manifest.json``.

Semantics:
    - Verdicts are never updated or deleted: two annotators working at once each append rows, so neither can
      overwrite the other (history is the table itself).
    - An item's status is its latest verdict other than ``skip`` (``unreviewed`` without one; ``skipped`` when
      every verdict is a skip), so a skip never undoes another annotator's decision.
    - Edits accumulate in verdict order; an ``edit`` carries the id of the latest edit its author saw
      (``base_edit_id``) and is refused with :class:`StaleEditError` when someone else edited the item since
      (optimistic concurrency: the second editor reloads and re-applies instead of silently overwriting).
    - Export keeps items whose status is ``accept`` or ``edit``, with all edits applied.

SQLite: WAL journal, 30 s busy timeout, and write transactions opened with ``BEGIN IMMEDIATE`` so concurrent
writers (threads or processes) queue instead of failing. Other databases (PostgreSQL for a team) get write
transactions at SERIALIZABLE isolation.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lvr1kit.data.io import write_json_atomic, write_records
from lvr1kit.data.schema import QARecord

__all__ = [
    "ACTIONS",
    "EDITABLE_FIELDS",
    "SPLITS",
    "ItemState",
    "ReviewStore",
    "StaleEditError",
    "Verdict",
    "apply_edits",
    "default_store_url",
    "export_version",
    "verdict_rows",
]

log = logging.getLogger(__name__)

Action = Literal["accept", "reject", "edit", "skip"]
ACTIONS: tuple[str, ...] = ("accept", "reject", "edit", "skip")
EDITABLE_FIELDS: tuple[str, ...] = ("question", "options", "answer_letter", "reasoning")
SPLITS: tuple[str, ...] = ("sft", "rl", "eval")

_metadata = sa.MetaData()
verdicts_table = sa.Table(
    "verdicts",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(512), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("item_id", sa.String(512), nullable=False),
    sa.Column("split", sa.String(32), nullable=False, default=""),
    sa.Column("annotator", sa.String(128), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("edits", sa.Text, nullable=False, default="{}"),
    sa.Column("base_edit_id", sa.Integer, nullable=True),
    sa.Column("created", sa.String(40), nullable=False),
    sa.Index("ix_verdicts_item", "dataset", "version", "item_id"),
)
exports_table = sa.Table(
    "exports",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.String(512), nullable=False),
    sa.Column("source_version", sa.String(32), nullable=False),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("annotator", sa.String(128), nullable=False),
    sa.Column("last_verdict_id", sa.Integer, nullable=False),
    sa.Column("counts", sa.Text, nullable=False),
    sa.Column("created", sa.String(40), nullable=False),
)


class StaleEditError(RuntimeError):
    """An edit whose author had not seen the item's latest edit."""


@dataclass(frozen=True)
class Verdict:
    """One verdict row."""

    id: int
    dataset: str
    version: str
    item_id: str
    split: str
    annotator: str
    action: str
    reason: str
    edits: dict[str, Any]
    base_edit_id: int | None
    created: str


@dataclass
class ItemState:
    """An item's state folded from its verdicts (oldest first)."""

    status: str = "unreviewed"
    """``unreviewed``, ``skipped``, or the latest non-skip action (``accept``, ``reject``, ``edit``)."""
    edits: dict[str, Any] = field(default_factory=dict)
    """Edited fields, later edits winning per field."""
    reason: str = ""
    """Reason of the latest reject (empty otherwise)."""
    annotator: str = ""
    """Author of the latest verdict."""
    last_id: int = 0
    """Id of the latest verdict."""
    last_edit_id: int | None = None
    """Id of the latest edit (what a new edit must be based on)."""
    count: int = 0
    """Number of verdicts."""

    def fold(self, verdict: Verdict) -> None:
        """Apply one more verdict (newer than every verdict folded so far)."""
        self.count += 1
        self.annotator, self.last_id = verdict.annotator, verdict.id
        if verdict.action == "skip":
            if self.status == "unreviewed":
                self.status = "skipped"
            return
        self.status = verdict.action
        self.reason = verdict.reason if verdict.action == "reject" else ""
        if verdict.action == "edit":
            self.edits.update(verdict.edits)
            self.last_edit_id = verdict.id


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def default_store_url(data_root: str | os.PathLike[str]) -> str:
    """``sqlite:///<data_root>/.review/review.sqlite`` (the folder is created; the app never serves it)."""
    folder = Path(data_root).resolve() / ".review"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'review.sqlite'}"


def _row_to_verdict(row: Any) -> Verdict:
    return Verdict(
        id=row.id,
        dataset=row.dataset,
        version=row.version,
        item_id=row.item_id,
        split=row.split,
        annotator=row.annotator,
        action=row.action,
        reason=row.reason,
        edits=json.loads(row.edits or "{}"),
        base_edit_id=row.base_edit_id,
        created=row.created,
    )


class ReviewStore:
    """Verdicts in a SQL database (any SQLAlchemy URL; SQLite file by default).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:////data/.review/review.sqlite`` or
            ``postgresql+psycopg://user:pass@host/review``.
        busy_timeout_s: How long a SQLite writer waits for another writer's lock before failing.
    """

    def __init__(self, url: str, busy_timeout_s: float = 30.0) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = sa.create_engine(
                url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False}
            )
            self._setup_sqlite(busy_timeout_s)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
        _metadata.create_all(self.engine)

    def _setup_sqlite(self, busy_timeout_s: float) -> None:
        @sa.event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @sa.event.listens_for(self.engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("lvr1_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    @property
    def display_url(self) -> str:
        """The URL with any password hidden (for logs, manifests and the UI)."""
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def _write(self) -> Connection:
        conn = self.engine.connect()
        if self.is_sqlite:
            return conn.execution_options(lvr1_write=True)
        return conn.execution_options(isolation_level="SERIALIZABLE")

    def record(
        self,
        dataset: str,
        version: str,
        item_id: str,
        annotator: str,
        action: str,
        *,
        reason: str = "",
        edits: dict[str, Any] | None = None,
        split: str = "",
        base_edit_id: int | None = None,
    ) -> Verdict:
        """Append one verdict and return it (with its id and time).

        Args:
            dataset: Dataset name (its folder relative to the data root).
            version: Dataset version reviewed (``v0`` for the generated files, ``vN`` for an export).
            item_id: The record's ``problem_id``.
            annotator: Who decided (free text; the login name when auth is on).
            action: ``accept``, ``reject``, ``edit`` or ``skip``.
            reason: Why (required for ``reject``).
            edits: For ``edit``: new values of some of ``EDITABLE_FIELDS``.
            split: The split the item came from (``sft``, ``rl``, ``eval``).
            base_edit_id: For ``edit``: the item's ``last_edit_id`` its author saw (``None`` if none).

        Raises:
            ValueError: unknown action, empty annotator, reject without reason, edit of a field not editable.
            StaleEditError: another edit was recorded after ``base_edit_id``; reload the item and edit again.
        """
        if action not in ACTIONS:
            raise ValueError(f"action={action!r}; use one of {ACTIONS}")
        if not annotator.strip():
            raise ValueError("annotator name is empty; type your name in the 'Annotator' box first")
        if action == "reject" and not reason.strip():
            raise ValueError("a reject needs a reason (e.g. 'answer not supported by the video')")
        edits = dict(edits or {})
        if action == "edit":
            unknown = sorted(set(edits) - set(EDITABLE_FIELDS))
            if unknown or not edits:
                raise ValueError(f"edit fields {unknown or '(none)'}: give some of {EDITABLE_FIELDS}")
        elif edits:
            raise ValueError(f"edits given with action={action!r}; use action='edit'")
        row: dict[str, Any] = {
            "dataset": dataset,
            "version": version,
            "item_id": str(item_id),
            "split": split,
            "annotator": annotator.strip(),
            "action": action,
            "reason": reason.strip(),
            "edits": json.dumps(edits, ensure_ascii=False, sort_keys=True),
            "base_edit_id": base_edit_id,
            "created": _now(),
        }
        with self._write() as conn, conn.begin():
            if action == "edit":
                latest = conn.execute(
                    sa.select(sa.func.max(verdicts_table.c.id)).where(
                        verdicts_table.c.dataset == dataset,
                        verdicts_table.c.version == version,
                        verdicts_table.c.item_id == str(item_id),
                        verdicts_table.c.action == "edit",
                    )
                ).scalar()
                if latest is not None and latest != base_edit_id:
                    raise StaleEditError(
                        f"item {item_id} was edited by someone else (edit #{latest}) after the state you saw "
                        f"(edit #{base_edit_id}); reload the item and apply your edit again"
                    )
            inserted = conn.execute(verdicts_table.insert().values(**row)).inserted_primary_key
            assert inserted is not None  # None only for executemany inserts
            new_id = inserted[0]
        return Verdict(id=int(new_id), **(row | {"edits": edits}))

    def history(self, dataset: str, version: str, item_id: str | None = None) -> list[Verdict]:
        """Every verdict of a dataset version (or of one item), oldest first."""
        query = sa.select(verdicts_table).where(
            verdicts_table.c.dataset == dataset, verdicts_table.c.version == version
        )
        if item_id is not None:
            query = query.where(verdicts_table.c.item_id == str(item_id))
        with self.engine.connect() as conn:
            return [_row_to_verdict(r) for r in conn.execute(query.order_by(verdicts_table.c.id))]

    def states(self, dataset: str, version: str, upto_id: int | None = None) -> dict[str, ItemState]:
        """Each reviewed item's folded state (items without verdicts are absent: ``unreviewed``)."""
        states: dict[str, ItemState] = {}
        for verdict in self.history(dataset, version):
            if upto_id is not None and verdict.id > upto_id:
                break
            states.setdefault(verdict.item_id, ItemState()).fold(verdict)
        return states

    def annotators(self, dataset: str, version: str) -> dict[str, int]:
        """Verdict counts per annotator of a dataset version."""
        query = (
            sa.select(verdicts_table.c.annotator, sa.func.count())
            .where(verdicts_table.c.dataset == dataset, verdicts_table.c.version == version)
            .group_by(verdicts_table.c.annotator)
        )
        with self.engine.connect() as conn:
            return {str(a): int(n) for a, n in conn.execute(query)}

    def log_export(
        self, dataset: str, source_version: str, version: str, annotator: str, last_id: int, counts: dict[str, Any]
    ) -> None:
        """Remember an export (shown in the UI; the manifest in the version folder holds the same)."""
        with self._write() as conn, conn.begin():
            conn.execute(
                exports_table.insert().values(
                    dataset=dataset,
                    source_version=source_version,
                    version=version,
                    annotator=annotator,
                    last_verdict_id=last_id,
                    counts=json.dumps(counts),
                    created=_now(),
                )
            )

    def exports(self, dataset: str) -> list[dict[str, Any]]:
        """Exports of a dataset, oldest first."""
        query = sa.select(exports_table).where(exports_table.c.dataset == dataset).order_by(exports_table.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) | {"counts": json.loads(r.counts)} for r in conn.execute(query)]

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def apply_edits(record: QARecord, edits: dict[str, Any]) -> QARecord:
    """``record`` with edited fields applied; ``problem`` and ``answer`` rebuilt; validated.

    Raises:
        ValueError: naming the record and what is wrong (e.g. the answer letter is not an option letter).
    """
    if not edits:
        return record
    data = record.model_dump(mode="json")
    data.update({k: v for k, v in edits.items() if k in EDITABLE_FIELDS})
    data["options"] = [str(o).strip() for o in data["options"]]
    data["answer_letter"] = str(data["answer_letter"]).strip().upper()
    for key in ("problem", "answer"):
        data.pop(key)
    return QARecord.build(**data)


def _next_version_dir(versions: Path) -> tuple[str, Path]:
    versions.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name[1:]) for p in versions.glob("v*") if p.name[1:].isdigit()]
    number = max(taken, default=0) + 1
    while True:
        target = versions / f"v{number}"
        try:
            target.mkdir()  # atomic: two exports at once get different numbers
            return f"v{number}", target
        except FileExistsError:
            number += 1


def export_version(
    store: ReviewStore,
    dataset: str,
    dataset_dir: str | os.PathLike[str],
    source_version: str,
    items: Iterable[tuple[str, QARecord]],
    annotator: str = "",
) -> dict[str, Any]:
    """Write accepted and edited items of ``source_version`` as a new version ``<dataset_dir>/versions/vN``.

    Args:
        store: The review store holding the verdicts.
        dataset: Dataset name as recorded in the verdicts.
        dataset_dir: The dataset's folder (``versions/`` is created inside it).
        source_version: The version the verdicts were given on.
        items: ``(split, record)`` of every item of that version.
        annotator: Who exported (kept in the manifest).

    Returns:
        The manifest (also written to ``versions/vN/manifest.json``): version, counts per split and status,
        the id of the last verdict included.
    """
    with store.engine.connect() as conn:
        last_id = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(verdicts_table.c.id), 0))).scalar() or 0)
    states = store.states(dataset, source_version, upto_id=last_id)
    kept: dict[str, list[QARecord]] = {s: [] for s in SPLITS}
    statuses: dict[str, int] = {}
    problems: list[str] = []
    for split, record in items:
        state = states.get(str(record.problem_id), ItemState())
        statuses[state.status] = statuses.get(state.status, 0) + 1
        if state.status not in ("accept", "edit") or split not in kept:
            continue
        try:
            kept[split].append(apply_edits(record, state.edits))
        except ValueError as err:
            problems.append(str(err))
    version, target = _next_version_dir(Path(dataset_dir) / "versions")
    counts = {s: len(r) for s, r in kept.items()}
    for split, records in kept.items():
        write_records(target / f"{split}.jsonl", records)
    write_records(target / "all.jsonl", [r for s in SPLITS for r in kept[s]])
    manifest = {
        "dataset": dataset,
        "version": version,
        "source_version": source_version,
        "created": _now(),
        "exported_by": annotator,
        "store": store.display_url,
        "last_verdict_id": last_id,
        "counts": counts,
        "statuses": statuses,
        "invalid_edits": problems,
    }
    write_json_atomic(target / "manifest.json", manifest)
    store.log_export(dataset, source_version, version, annotator, last_id, counts)
    log.info("exported %s %s -> %s: %s", dataset, source_version, version, counts)
    return manifest


def verdict_rows(verdicts: Sequence[Verdict]) -> list[dict[str, Any]]:
    """Verdicts as plain dicts (for tables)."""
    return [v.__dict__ | {"edits": json.dumps(v.edits, ensure_ascii=False)} for v in verdicts]
