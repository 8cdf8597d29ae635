"""Importers: public LongVideo-Reason JSONL and VideoMME-like files -> :class:`QARecord`, malformed rows reported.

Contents:
    - ``FORMATS``: format name -> row converter (``longvideo-reason``, ``videomme``).
    - ``split_problem``: a ``problem`` text -> (question, options), for the layouts public records use.
    - ``ImportIssue`` / ``ImportResult``: a malformed row (its row number and what is wrong), and the outcome.
    - ``import_file``: read a JSONL file (or a JSON array) and convert every row, never stopping on a bad one.
    - ``TASK_TYPE_CATEGORIES``: VideoMME task types -> our four categories (``other`` when none fits).

Deviations from the public files:
1. ``problem`` is re-laid with :func:`lvr1kit.models.prompt.format_question` (one ``A. text`` line per option), so a
   public record whose options were inline comes back with the same question and options in our layout; the
   count of such rows is ``ImportResult.relaid``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lvr1kit.data.io import read_jsonl
from lvr1kit.data.schema import QARecord, letter_from_answer, now_iso

__all__ = ["FORMATS", "TASK_TYPE_CATEGORIES", "ImportIssue", "ImportResult", "import_file", "split_problem"]

_OPTION_LINE = re.compile(r"^\s*\(?([A-J])[.):]\s*(.*\S)\s*$")
_INLINE_OPTION = re.compile(r"(?:^|\s)\(?([A-J])[.)]\s+")
_BARE_LETTER = re.compile(r"^\s*\(?([A-J])\)?[.:]?\s*$")

TASK_TYPE_CATEGORIES: dict[str, str] = {
    "temporal perception": "temporal",
    "temporal reasoning": "temporal",
    "counting problem": "temporal",
    "spatial perception": "spatial",
    "spatial reasoning": "spatial",
    "action reasoning": "goal",
    "object reasoning": "goal",
    "information synopsis": "plot",
}
"""VideoMME ``task_type`` (lower-cased) -> category; unlisted task types import as ``other``."""


class RowError(ValueError):
    """What is wrong with one row (the importer adds the row number)."""


def split_problem(problem: str) -> tuple[str, list[str]]:
    """Split a ``problem`` into its question and lettered options (one per line, or inline as a fallback).

    >>> split_problem("Who left?\\nA. the cat\\nB. the dog")
    ('Who left?', ['the cat', 'the dog'])
    >>> split_problem("Who left? (A) the cat (B) the dog")
    ('Who left?', ['the cat', 'the dog'])

    Raises:
        RowError: No options A, B, ... in order.
    """
    lines = problem.strip().splitlines()
    first = next((i for i, line in enumerate(lines) if _OPTION_LINE.match(line)), None)
    if first is not None:
        matches = [_OPTION_LINE.match(line) for line in lines[first:] if line.strip()]
        if all(matches) and [m.group(1) for m in matches if m] == list("ABCDEFGHIJ"[: len(matches)]):
            return "\n".join(lines[:first]).strip(), [m.group(2).strip() for m in matches if m]
    marks = list(_INLINE_OPTION.finditer(problem))
    letters = [m.group(1) for m in marks]
    if len(marks) >= 2 and letters == list("ABCDEFGHIJ"[: len(marks)]):
        bounds = [m.start() for m in marks] + [len(problem)]
        options = [problem[marks[i].end() : bounds[i + 1]].strip() for i in range(len(marks))]
        return problem[: marks[0].start()].strip(), options
    raise RowError("problem: no lettered options (A. ... B. ...) found; the options must be written into problem")


def _letter(answer: Any, field_name: str = "answer") -> str:
    text = str(answer)
    letter = letter_from_answer(text)
    bare = _BARE_LETTER.match(text)
    if letter is None and bare is None:
        raise RowError(f"{field_name}={text[:40]!r}: expected <answer>X</answer> or a letter A-J")
    return letter or bare.group(1)  # type: ignore[union-attr]


def _need(row: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if row.get(k) in (None, "")]
    if missing:
        raise RowError(f"missing {', '.join(missing)}")


def from_longvideo_reason(row: dict[str, Any], number: int) -> tuple[QARecord, bool]:
    """A public LongVideo-Reason row (or one of our own exports) -> ``(record, problem_relaid)``."""
    if "answer_letter" in row:  # our own export: every field is there
        return QARecord.model_validate(row), False
    _need(row, "problem", "answer", "videos")
    question, options = split_problem(str(row["problem"]))
    category = str(row.get("problem_type") or "other").lower()
    record = QARecord.build(
        problem_id=row.get("problem_id", number),
        question=question,
        options=options,
        answer_letter=_letter(row["answer"]),
        videos=str(row["videos"]),
        problem_type=category if category in ("temporal", "goal", "spatial", "plot") else "other",
        reasoning=str(row.get("reasoning") or ""),
        question_type=category,
        generator="import:longvideo-reason",
        source="longvideo-reason",
        created=now_iso(),
    )
    return record, record.problem != row["problem"]


def from_videomme(row: dict[str, Any], number: int) -> tuple[QARecord, bool]:
    """A VideoMME-like row (``videoID``, ``question``, ``options``, ``answer``, ``duration``, ``domain``,
    ``task_type``) -> ``(record, False)``."""
    _need(row, "videoID", "question", "options", "answer")
    raw_options = row["options"]
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        raise RowError(f"options: expected a list of at least 2 strings, got {str(raw_options)[:60]!r}")
    options = []
    for i, text in enumerate(raw_options):
        match = _OPTION_LINE.match(str(text))
        if match and match.group(1) != "ABCDEFGHIJ"[i]:
            raise RowError(f"options[{i}]={text!r} is lettered {match.group(1)}, expected {'ABCDEFGHIJ'[i]}")
        options.append(match.group(2) if match else str(text).strip())
    task = str(row.get("task_type") or "")
    duration = row.get("duration")
    return (
        QARecord.build(
            problem_id=row.get("question_id", number),
            question=str(row["question"]).strip(),
            options=options,
            answer_letter=_letter(row["answer"]),
            videos=f"{row['videoID']}.mp4",
            problem_type=TASK_TYPE_CATEGORIES.get(task.lower(), "other"),  # type: ignore[arg-type]
            question_type=task,
            video_duration_s=float(duration) if isinstance(duration, int | float) else None,
            generator="import:videomme",
            source=f"videomme/{row.get('domain') or 'unknown'}/{duration if duration is not None else 'unknown'}",
            created=now_iso(),
        ),
        False,
    )


FORMATS: dict[str, Callable[[dict[str, Any], int], tuple[QARecord, bool]]] = {
    "longvideo-reason": from_longvideo_reason,
    "videomme": from_videomme,
}
"""Format name (the CLI's ``--format``) -> row converter."""


@dataclass(frozen=True)
class ImportIssue:
    """A malformed row: its 1-based row (line) number and what is wrong."""

    row: int
    problem: str


@dataclass
class ImportResult:
    """Records converted, malformed rows, and how many problems were re-laid."""

    records: list[QARecord] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    relaid: int = 0


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    text_start = path.read_text(encoding="utf-8", errors="replace").lstrip()[:1]
    if text_start != "[":
        yield from read_jsonl(path)
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        yield 0, None, f"not a valid JSON array ({err.msg} at line {err.lineno}); give JSONL or a JSON list"
        return
    for number, row in enumerate(data, start=1):
        yield (number, row, "") if isinstance(row, dict) else (number, None, f"a {type(row).__name__}, not an object")


def import_file(path: str | os.PathLike[str], fmt: str) -> ImportResult:
    """Convert every row of a public file; a malformed row becomes an :class:`ImportIssue` and the rest go on.

    Raises:
        ValueError: Unknown ``fmt``.
        FileNotFoundError: ``path`` does not exist.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"{source} not found")
    convert = FORMATS[fmt]
    result = ImportResult()
    for number, row, error in _rows(source):
        if row is None:
            result.issues.append(ImportIssue(number, error))
            continue
        try:
            record, relaid = convert(row, number)
        except RowError as err:
            result.issues.append(ImportIssue(number, str(err)))
            continue
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in err.errors())
            result.issues.append(ImportIssue(number, problems))
            continue
        result.records.append(record)
        result.relaid += relaid
    return result
