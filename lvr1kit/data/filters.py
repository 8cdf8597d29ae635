"""Question filters: option sanity, answer leakage, exact and near duplicates, letter and category balance, pass rate.

Contents:
    - ``Dropped`` / ``FilterResult``: what was kept, and each dropped record with its reason.
    - ``check_options``: the option-sanity problem of one record (``None`` when fine).
    - ``has_leakage``: the correct option's text appears in the question.
    - ``jaccard``: word-trigram Jaccard similarity (near-duplicate test).
    - ``interleave``: a deterministic order that alternates between groups (balanced truncation).
    - ``balance``: cap every class of a key within each group at ``max_ratio`` times the rarest class.
    - ``apply_filters``: every filter of a :class:`~lvr1kit.config.FilterConfig`, in order.
    - ``pass_rate_filter``: the paper's filter: drop questions whose G sampled answers are all right or all wrong.

All filters are deterministic: ties are broken by a hash of ``problem_id``, never by input order or chance.
Drop reasons (report keys): ``options``, ``leakage``, ``duplicate``, ``near_duplicate``, ``letter_balance``,
``category_balance``, ``pass_rate_all_correct``, ``pass_rate_all_wrong``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field

from lvr1kit.config import FilterConfig
from lvr1kit.data.schema import QARecord

__all__ = [
    "Dropped",
    "FilterResult",
    "apply_filters",
    "balance",
    "check_options",
    "has_leakage",
    "interleave",
    "jaccard",
    "normalize",
    "pass_rate_filter",
]

logger = logging.getLogger(__name__)

_TIMESTAMP = re.compile(r"\b\d{1,2}(?::\d{2}){1,2}\b")
_WORD = re.compile(r"[a-z0-9]+(?::[0-9]+)*")


@dataclass(frozen=True)
class Dropped:
    """A record a filter removed, with the reason and a detail for the report."""

    record: QARecord
    reason: str
    detail: str = ""


@dataclass
class FilterResult:
    """Records kept, records dropped (with reasons) and the drop counts per reason."""

    kept: list[QARecord]
    dropped: list[Dropped] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(d.reason for d in self.dropped))


def normalize(text: str) -> str:
    """Lower-case words joined by single spaces, punctuation dropped (timestamps kept whole).

    >>> normalize("Where was  the Ring, at 00:33?")
    'where was the ring at 00:33'
    """
    return " ".join(_WORD.findall(text.lower()))


def _order_key(record: QARecord, salt: str = "") -> str:
    return hashlib.sha256(f"{salt}\x1f{record.problem_id}".encode()).hexdigest()


def check_options(record: QARecord, num_options: int = 4) -> str | None:
    """What is wrong with a record's options, or ``None``.

    >>> r = QARecord.build(problem_id=0, question="Q?", options=["a", "b", "c", "A"], answer_letter="B",
    ...                    videos="v.mp4", problem_type="plot")
    >>> check_options(r)
    'options A and D are the same after normalising'
    """
    if len(record.options) != num_options:
        return f"{len(record.options)} options; need exactly {num_options}"
    seen: dict[str, int] = {}
    for i, option in enumerate(record.options):
        key = normalize(option)
        if not key:
            return f"option {'ABCDEFGHIJ'[i]} is empty after normalising"
        if key in seen:
            return f"options {'ABCDEFGHIJ'[seen[key]]} and {'ABCDEFGHIJ'[i]} are the same after normalising"
        seen[key] = i
    return None


def has_leakage(record: QARecord) -> bool:
    """True when the correct option's words appear, in order, in the question (timestamps ignored).

    >>> r = QARecord.build(problem_id=0, question="Why did he run to catch the bus?",
    ...                    options=["to catch the bus", "to rest", "to eat", "to sing"], answer_letter="A",
    ...                    videos="v.mp4", problem_type="goal")
    >>> has_leakage(r)
    True
    """
    answer = normalize(_TIMESTAMP.sub(" ", record.options[ord(record.answer_letter) - ord("A")]))
    question = normalize(_TIMESTAMP.sub(" ", record.question))
    return bool(answer) and re.search(rf"\b{re.escape(answer)}\b", question) is not None


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = normalize(text).split()
    if len(words) < 3:
        return {tuple(words)}
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def jaccard(a: str, b: str) -> float:
    """Word-trigram Jaccard similarity of two texts, in [0, 1].

    >>> jaccard("where was the ring at 00:33", "where was the ring at 00:33")
    1.0
    """
    ta, tb = _trigrams(a), _trigrams(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def _dedup(records: list[QARecord], threshold: float) -> FilterResult:
    """Drop exact duplicates (same video, question and options) and near duplicates within a video."""
    result = FilterResult([])
    exact: dict[tuple[str, str, tuple[str, ...]], QARecord] = {}
    kept_by_video: dict[str, list[QARecord]] = defaultdict(list)
    for record in records:
        key = (record.videos, normalize(record.question), tuple(normalize(o) for o in record.options))
        if key in exact:
            result.dropped.append(Dropped(record, "duplicate", f"same as {exact[key].problem_id}"))
            continue
        exact[key] = record
        near = next((k for k in kept_by_video[record.videos] if jaccard(k.problem, record.problem) >= threshold), None)
        if near is not None:
            result.dropped.append(Dropped(record, "near_duplicate", f"close to {near.problem_id}"))
            continue
        kept_by_video[record.videos].append(record)
        result.kept.append(record)
    return result


def interleave(records: Sequence[QARecord], key: Callable[[QARecord], Hashable], salt: str = "") -> list[QARecord]:
    """Records ordered so that any prefix holds the classes of ``key`` as evenly as possible (hash order within)."""
    groups: dict[Hashable, list[QARecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: _order_key(r, salt)):
        groups[key(record)].append(record)
    ranked = [(rank, str(k), r) for k, members in groups.items() for rank, r in enumerate(members)]
    return [r for _, _, r in sorted(ranked, key=lambda t: (t[0], t[1]))]


def balance(
    records: Sequence[QARecord],
    key: Callable[[QARecord], Hashable],
    max_ratio: float,
    *,
    group: Callable[[QARecord], Hashable] = lambda r: "all",
    reason: str = "balance",
    subkey: Callable[[QARecord], Hashable] | None = None,
) -> FilterResult:
    """Cap every class of ``key`` within each ``group`` at ``floor(max_ratio * rarest class count)``.

    Args:
        records: Records to balance.
        key: The class to balance (e.g. the answer letter).
        max_ratio: Largest allowed most/least frequent ratio (>= 1).
        group: Balance separately inside each group (e.g. per category).
        reason: Drop reason written for removed records.
        subkey: Inside a class, which records survive first: those that keep this key balanced (interleaved).

    Returns:
        Kept records in input order, and the dropped ones.
    """
    by_group: dict[Hashable, list[QARecord]] = defaultdict(list)
    for record in records:
        by_group[group(record)].append(record)
    dropped_ids: set[int] = set()
    result = FilterResult([])
    for name, members in by_group.items():
        counts = Counter(key(r) for r in members)
        cap = max(min(counts.values()), int(max_ratio * min(counts.values())))
        for cls in counts:
            chosen = [r for r in members if key(r) == cls]
            ordered = interleave(chosen, subkey, salt=str(name)) if subkey else interleave(chosen, key, str(name))
            for record in ordered[cap:]:
                dropped_ids.add(id(record))
                result.dropped.append(Dropped(record, reason, f"{cls} capped at {cap} in {name}"))
    result.kept = [r for r in records if id(r) not in dropped_ids]
    return result


def apply_filters(records: Iterable[QARecord], cfg: FilterConfig, num_options: int = 4) -> FilterResult:
    """Option sanity, leakage, dedup, then letter balance per category and category balance, as configured."""
    result = FilterResult([])
    for record in records:
        problem = check_options(record, num_options)
        if problem is not None:
            result.dropped.append(Dropped(record, "options", problem))
        elif cfg.drop_leakage and has_leakage(record):
            result.dropped.append(Dropped(record, "leakage", "the correct option's text is in the question"))
        else:
            result.kept.append(record)
    steps: list[Callable[[list[QARecord]], FilterResult]] = []
    if cfg.dedup:
        steps.append(lambda rs: _dedup(rs, cfg.near_dup_jaccard))
    if cfg.balance_letters:
        steps.append(
            lambda rs: balance(
                rs, lambda r: r.answer_letter, cfg.max_balance_ratio, group=lambda r: r.problem_type,
                reason="letter_balance",
            )
        )  # fmt: skip
    if cfg.balance_categories:
        steps.append(
            lambda rs: balance(
                rs, lambda r: r.problem_type, cfg.max_balance_ratio, reason="category_balance",
                subkey=lambda r: r.answer_letter,
            )
        )  # fmt: skip
    for step in steps:
        stage = step(result.kept)
        result = FilterResult(stage.kept, result.dropped + stage.dropped)
    return result


AnswerSampler = Callable[[QARecord, int], list[str | None]]
"""``(record, G) -> G answer letters`` (``None`` for an unparseable answer) sampled from a model."""


def pass_rate_filter(records: Iterable[QARecord], sampler: AnswerSampler, num_samples: int) -> FilterResult:
    """The paper's filter: drop a question when all G sampled answers are right, or all are wrong.

    Such questions give a GRPO group zero reward variance, hence zero advantage. Unparseable answers count as wrong.

    Args:
        records: Questions to test.
        sampler: Draws G answers per question from a model (e.g. the SFT model, see ``qa_llm``'s docs).
        num_samples: G (>= 2).
    """
    if num_samples < 2:
        raise ValueError(f"filter.pass_rate_samples={num_samples}: the pass-rate filter needs G >= 2")
    result = FilterResult([])
    for record in records:
        answers = sampler(record, num_samples)
        right = sum(a == record.answer_letter for a in answers)
        if right == len(answers):
            result.dropped.append(Dropped(record, "pass_rate_all_correct", f"{right}/{len(answers)}"))
        elif right == 0:
            result.dropped.append(Dropped(record, "pass_rate_all_wrong", f"0/{len(answers)}"))
        else:
            result.kept.append(record)
    return result
