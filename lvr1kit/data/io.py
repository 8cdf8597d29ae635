"""JSON / JSONL reading and atomic writing for data-generation outputs.

Contents:
    - ``write_jsonl_atomic`` / ``write_json_atomic``: write through a temporary file and a rename, so a killed run
      never leaves half a file that a rerun would take as finished.
    - ``read_jsonl``: rows of a JSONL file with their line numbers; malformed lines are reported, not fatal.
    - ``read_records`` / ``write_records``: :class:`~lvr1kit.data.schema.QARecord` files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lvr1kit.data.schema import QARecord

__all__ = ["read_jsonl", "read_records", "write_json_atomic", "write_jsonl_atomic", "write_records"]


def _tmp_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_jsonl_atomic(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write ``rows`` as JSONL to ``path`` atomically (parent folders created); returns the row count."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_for(target)
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, target)
    return count


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write one JSON document to ``path`` atomically (parent folders created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_for(target)
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, target)


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Yield ``(line_number, row, error)`` per non-empty line (``row`` None and ``error`` set if bad)."""
    with Path(path).open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                yield number, None, f"not valid JSON ({err.msg} at column {err.colno})"
                continue
            if not isinstance(row, dict):
                yield number, None, f"a JSON {type(row).__name__}, expected an object"
                continue
            yield number, row, ""


def read_records(path: str | os.PathLike[str]) -> list[QARecord]:
    """All records of a JSONL file written by :func:`write_records`.

    Raises:
        ValueError: naming the file and line of the first bad row.
    """
    records = []
    for number, row, error in read_jsonl(path):
        if row is None:
            raise ValueError(f"{path}:{number}: {error}")
        try:
            records.append(QARecord.model_validate(row))
        except ValueError as err:
            raise ValueError(f"{path}:{number}: {err}") from None
    return records


def write_records(path: str | os.PathLike[str], records: Iterable[QARecord]) -> int:
    """Write records as JSONL (every field, public ones first) atomically; returns the count."""
    return write_jsonl_atomic(path, (r.model_dump(mode="json") for r in records))
