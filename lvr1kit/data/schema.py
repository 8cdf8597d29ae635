"""The QA record schema: the public LongVideo-Reason fields plus our question, options, evidence and provenance.

Contents:
    - ``QARecord``: one multiple-choice reasoning question about one video (pydantic, validated).
    - ``PUBLIC_FIELDS``: the LongVideo-Reason keys, in the order public files write them.
    - ``Segment`` / ``Timeline``: a video's captioned clips (``start_s``, ``end_s``, ``caption``).
    - ``answer_tag`` / ``letter_from_answer``: ``"B"`` <-> ``"<answer>B</answer>"``.
    - ``format_timestamp``: seconds -> ``"mm:ss"`` (``"h:mm:ss"`` past an hour), as reasoning chains cite them.

``problem`` is always ``format_question(question, options)`` (:mod:`lvr1kit.models.prompt`), so the options are in
it (the published rewrite step dropped them, PAPER.md §11 hazard 8); the validator enforces it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lvr1kit.models.prompt import OPTION_LETTERS, format_question

__all__ = [
    "PUBLIC_FIELDS",
    "ProblemType",
    "QAFailure",
    "QARecord",
    "QAUnit",
    "Segment",
    "Timeline",
    "answer_tag",
    "format_timestamp",
    "letter_from_answer",
    "now_iso",
]

ProblemType = Literal["temporal", "goal", "spatial", "plot", "other"]
"""The paper's four categories; ``other`` only for imported records whose task maps to none of them."""

PUBLIC_FIELDS: tuple[str, ...] = ("problem_id", "problem", "answer", "videos", "problem_type", "reasoning", "data_type")
"""Keys of a public LongVideo-Reason record."""

_ANSWER_RE = re.compile(r"^\s*<answer>\s*([A-J])\s*</answer>\s*$")


def answer_tag(letter: str) -> str:
    """``"B"`` -> ``"<answer>B</answer>"``.

    >>> answer_tag("B")
    '<answer>B</answer>'
    """
    return f"<answer>{letter}</answer>"


def letter_from_answer(answer: str) -> str | None:
    """The letter inside ``<answer>X</answer>``, or ``None`` when the text is not exactly that.

    >>> letter_from_answer("<answer> C </answer>"), letter_from_answer("C")
    ('C', None)
    """
    match = _ANSWER_RE.match(answer)
    return match.group(1) if match else None


def format_timestamp(seconds: float) -> str:
    """Seconds as ``mm:ss`` (``h:mm:ss`` from one hour on).

    >>> format_timestamp(75), format_timestamp(3725)
    ('01:15', '1:02:05')
    """
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def now_iso() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class QARecord(BaseModel):
    """One multiple-choice reasoning question about one video.

    Public LongVideo-Reason fields come first; ``answer`` is ``<answer>X</answer>`` and ``videos`` is relative to
    the dataset's video folder. Everything after ``data_type`` is ours.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    problem_id: int | str
    """Stable id: an int in public files, ``<video id>/<n>`` for generated records."""
    problem: str
    """Question followed by lettered options, one per line (``format_question``)."""
    answer: str
    """``<answer>X</answer>`` with X the correct letter."""
    videos: str
    """Video path relative to the video folder."""
    problem_type: ProblemType
    """Reasoning category."""
    reasoning: str = ""
    """Step-by-step chain of thought citing timestamps (``mm:ss``)."""
    data_type: Literal["video"] = "video"
    """Always ``video``."""
    question: str
    """The question alone."""
    options: list[str]
    """Option texts, in letter order."""
    answer_letter: str
    """The correct letter, A.. (equals the letter inside ``answer``)."""
    question_type: str = ""
    """Finer question type (``spatial/agent_zone``), or the imported task type."""
    evidence: list[tuple[float, float]] = Field(default_factory=list)
    """``[start_s, end_s]`` windows of the events that justify the answer (for timestamp-grounding rewards)."""
    video_duration_s: float | None = None
    """Duration of the video in seconds, when known."""
    generator: str = ""
    """What wrote the question: ``template``, ``llm``, ``import:<format>``."""
    generator_model: str | None = None
    """LLM (or captioning VLM) that wrote it, when one did."""
    prompt_version: str = ""
    """Version of the generator prompt or template set."""
    source: str = ""
    """Where the video came from (``synthetic``, a folder, a public dataset name)."""
    clip_seconds: float | None = None
    """Clip length of the captions the question was written from."""
    created: str = ""
    """UTC time the record was made (ISO 8601)."""

    @model_validator(mode="after")
    def _check(self) -> QARecord:
        problems = []
        if len(self.options) < 2:
            problems.append(f"options: {len(self.options)} given; a multiple-choice question needs at least 2")
        letters = OPTION_LETTERS[: len(self.options)]
        if self.answer_letter not in letters:
            problems.append(f"answer_letter={self.answer_letter!r} is not one of the option letters {letters}")
        if letter_from_answer(self.answer) != self.answer_letter:
            problems.append(f"answer={self.answer!r} must be {answer_tag(self.answer_letter)!r}")
        if self.options and all(o.strip() for o in self.options):
            expected = format_question(self.question, self.options)
            if self.problem != expected:
                problems.append("problem must equal format_question(question, options); rebuild it with that")
        else:
            problems.append("options: every option needs text")
        for start, end in self.evidence:
            if not 0 <= start <= end:
                problems.append(f"evidence window [{start}, {end}] must have 0 <= start <= end")
        if problems:
            raise ValueError(f"record {self.problem_id}: " + "; ".join(problems))
        return self

    @property
    def video_id(self) -> str:
        """The video path without its extension (groups questions by video)."""
        return self.videos.rsplit(".", 1)[0]

    @classmethod
    def build(cls, *, question: str, options: list[str], answer_letter: str, **fields: Any) -> QARecord:
        """Make a record, filling ``problem`` and ``answer`` from the question, options and letter."""
        return cls(
            problem=format_question(question, options),
            answer=answer_tag(answer_letter),
            question=question,
            options=list(options),
            answer_letter=answer_letter,
            **fields,
        )

    def public(self) -> dict[str, Any]:
        """Only the LongVideo-Reason fields, as a public file writes them."""
        data = self.model_dump(mode="json")
        return {k: data[k] for k in PUBLIC_FIELDS}


class Segment(BaseModel):
    """One captioned clip of a timeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: float
    end_s: float
    caption: str


class Timeline(BaseModel):
    """A video's clip captions in time order: the input of question generation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    video: str
    """Video path relative to the video folder."""
    duration_s: float
    clip_seconds: float
    captioner: str
    """``oracle`` or ``vlm``."""
    captioner_model: str | None = None
    segments: list[Segment]

    def render(self) -> str:
        """The timeline as text for an LLM prompt, one ``[mm:ss-mm:ss] caption`` line per clip."""
        return "\n".join(
            f"[{format_timestamp(s.start_s)}-{format_timestamp(s.end_s)}] {s.caption}" for s in self.segments
        )


class QAFailure(BaseModel):
    """A question that could not be made: why, and the raw generator output kept for inspection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    video: str
    reason: str
    """Report key: ``parse:<what>``, ``no_event_log``, ``no_cases``, ..."""
    detail: str = ""
    category: str | None = None
    raw: str | None = None
    """The generator's raw reply (LLM path), verbatim."""


class QAUnit(BaseModel):
    """The question-generation result of one video: the resumable work unit written to ``qa/<video>.json``."""

    model_config = ConfigDict(extra="forbid")

    video: str
    records: list[QARecord] = Field(default_factory=list)
    failures: list[QAFailure] = Field(default_factory=list)
    complete: bool = True
    """False when a request failed for good in this run (timeouts, 5xx): not written, so a rerun retries it."""
