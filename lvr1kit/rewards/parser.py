r"""The one answer parser, shared by the accuracy rewards and by eval.

Contents:
    - :class:`ParsedAnswer` and :func:`extract_answer`: the ``<answer>`` span of a response (the whole response
      when there is none).
    - :func:`extract_choice`: a lenient option-letter extractor that returns ``None`` when the answer is absent
      or ambiguous.
    - :func:`strict_format_ok`: the paper's format check, ``<think>.*?</think>\s*<answer>.*?</answer>`` as a full
      match.
    - :func:`strict_match` / :func:`lenient_match` and the ``SCORERS`` registry: the official evaluator's exact span
      equality (``"B."`` is not ``"B"``) next to the robust letter comparison.
    - :func:`normalize_ground_truth`: a record's ground-truth letter (``"B"``, ``"(B)"``, ``"<answer>B</answer>"``).

Rules of :func:`extract_choice`, tried in order on the answer span; the first rule that finds any letter decides,
and it decides ``None`` when it finds two different letters:

1. The span is one letter, optionally bracketed or followed by ``.``, ``)`` or ``:`` (``C``, ``c``, ``(C)``,
   ``C.``); lower case is accepted here because it cannot mean anything else.
2. With ``options`` given, the span (less a leading letter marker and a leading article) equals one option's text,
   ignoring case, punctuation and spacing.
3. A stated answer: ``answer``/``option``/``choice`` [``is``] [``:``] followed by a capital letter, or by a lower-case
   letter that ends the phrase (``the answer is (c).``, but not ``the answer is a dog``).
4. Marked letters: ``(C)``, or a capital followed by ``.`` or ``)`` (``C.``, ``C)``).
5. Bare capital letters standing alone, only in short spans (at most 8 words), so reasoning prose is not mined.

Letters outside the first ``num_options`` letters are ignored. A negation such as ``not A, it's C`` names two
letters and is therefore ambiguous (``None``): the parser does not try to read intent.

Deviations from the paper:
1. The paper grades with ``mathruler.grade_answer`` after deleting all whitespace; MC letters here go through the
   rules above, which also accept ``(B)``, ``B.`` and ``The answer is B`` (the strict scorer keeps exact equality).
2. With several ``<answer>`` spans the last complete one counts (the paper's ``re.search`` takes the first).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "SCORERS",
    "ParsedAnswer",
    "extract_answer",
    "extract_choice",
    "lenient_match",
    "normalize_ground_truth",
    "option_letters",
    "strict_format_ok",
    "strict_match",
]

_FORMAT_RE = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
# Innermost spans: no second <answer> between the opening tag and the closing one (nested tags).
_SPAN_RE = re.compile(r"<answer>((?:(?!<answer>).)*?)</answer>", re.DOTALL | re.IGNORECASE)
_OPEN_RE = re.compile(r"<answer>", re.IGNORECASE)
_FIRST_SPAN_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_TAG_RE = re.compile(r"</?(?:answer|think)>", re.IGNORECASE)

_SINGLE_RE = re.compile(r"^[\(\[]?\s*([A-Za-z])\s*[\)\]]?[.:)]?$")
_STATED_RE = re.compile(
    r"\b(?i:answer|option|choice)\b(?:\s+(?i:is))?\s*[:\-]?\s*[\(\[]?"
    r"(?:([A-Z])(?![A-Za-z])|([a-z])(?=[\)\]]|\s*[.:,;!]|\s*$))"
)
_MARKED_RE = re.compile(r"\(([A-Z])\)|(?<![A-Za-z])([A-Z])[.)](?![A-Za-z0-9])")
_BARE_RE = re.compile(r"(?<![A-Za-z'’])([A-Z])(?![A-Za-z'’])")
_LEADING_MARKER_RE = re.compile(r"^[\(\[]?[A-Za-z][\)\].:]\s+")
_MAX_BARE_WORDS = 8
_ARTICLES = frozenset({"the", "a", "an"})


@dataclass(frozen=True)
class ParsedAnswer:
    """The answer part of a response.

    Attributes:
        text: the span content with surrounding whitespace stripped (the whole response when no tag).
        has_tag: whether an ``<answer>`` tag was found (closed or not).
        closed: whether the span was closed by ``</answer>``.
        num_spans: how many complete ``<answer>…</answer>`` spans the response holds.
    """

    text: str
    has_tag: bool
    closed: bool
    num_spans: int

    @property
    def compact(self) -> str:
        """The span with every whitespace character deleted (the paper's grading input)."""
        return "".join(self.text.split())


def extract_answer(text: str) -> ParsedAnswer:
    """The last complete ``<answer>`` span; an unclosed tag gives the text after it; no tag gives the whole text.

    >>> extract_answer("<think>hm</think> <answer> B </answer>").text
    'B'
    >>> extract_answer("<answer><answer>C</answer></answer>").text
    'C'
    >>> extract_answer("<answer>A</answer> wait <answer>D</answer>").text
    'D'
    >>> p = extract_answer("<think>x</think><answer>B")
    >>> (p.text, p.closed)
    ('B', False)
    >>> extract_answer("  just C  ").text
    'just C'
    """
    spans = _SPAN_RE.findall(text)
    if spans:
        inner = _TAG_RE.sub(" ", spans[-1]).strip()
        return ParsedAnswer(text=inner, has_tag=True, closed=True, num_spans=len(spans))
    opens = list(_OPEN_RE.finditer(text))
    if opens:
        inner = _TAG_RE.sub(" ", text[opens[-1].end() :]).strip()
        return ParsedAnswer(text=inner, has_tag=True, closed=False, num_spans=0)
    return ParsedAnswer(text=text.strip(), has_tag=False, closed=False, num_spans=0)


def strict_format_ok(text: str) -> bool:
    r"""The paper's format rule: ``<think>.*?</think>\s*<answer>.*?</answer>`` matches the whole response.

    >>> strict_format_ok("<think>a</think>\n<answer>B</answer>")
    True
    >>> strict_format_ok("<think>a</think><answer>B</answer> trailing")
    False
    >>> strict_format_ok("<answer>B</answer>")
    False
    """
    return _FORMAT_RE.fullmatch(text) is not None


def option_letters(num_options: int) -> str:
    """The valid letters for ``num_options`` options.

    >>> option_letters(4)
    'ABCD'
    """
    if not 1 <= num_options <= 26:
        raise ValueError(f"num_options={num_options} must be between 1 and 26")
    return string.ascii_uppercase[:num_options]


def _decide(letters: Sequence[str], valid: str) -> tuple[bool, str | None]:
    """(found any, the letter or None when ambiguous) over candidate letters within ``valid``."""
    found = {letter.upper() for letter in letters if letter and letter.upper() in valid}
    if not found:
        return False, None
    return True, found.pop() if len(found) == 1 else None


def _norm_option(text: str) -> str:
    text = _LEADING_MARKER_RE.sub("", text.strip())
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    return " ".join(words[1:] if words and words[0] in _ARTICLES else words)


def _rule_single(span: str, valid: str, options: Sequence[str] | None) -> tuple[bool, str | None]:
    match = _SINGLE_RE.match(span)
    return _decide([match.group(1)] if match else [], valid)


def _rule_option_text(span: str, valid: str, options: Sequence[str] | None) -> tuple[bool, str | None]:
    if not options:
        return False, None
    target = _norm_option(span)
    hits = [valid[i] for i, opt in enumerate(options[: len(valid)]) if target and _norm_option(opt) == target]
    return _decide(hits, valid)


def _rule_stated(span: str, valid: str, options: Sequence[str] | None) -> tuple[bool, str | None]:
    return _decide([upper or lower for upper, lower in _STATED_RE.findall(span)], valid)


def _rule_marked(span: str, valid: str, options: Sequence[str] | None) -> tuple[bool, str | None]:
    return _decide([a or b for a, b in _MARKED_RE.findall(span)], valid)


def _rule_bare(span: str, valid: str, options: Sequence[str] | None) -> tuple[bool, str | None]:
    if len(span.split()) > _MAX_BARE_WORDS:
        return False, None
    return _decide(_BARE_RE.findall(span), valid)


_CHOICE_RULES: tuple[Callable[[str, str, Sequence[str] | None], tuple[bool, str | None]], ...] = (
    _rule_single,
    _rule_option_text,
    _rule_stated,
    _rule_marked,
    _rule_bare,
)


def extract_choice(text: str, num_options: int = 4, options: Sequence[str] | None = None) -> str | None:
    """The option letter a response chose, or ``None`` when absent or ambiguous (rules in the module docstring).

    >>> extract_choice("<think>...</think><answer> c </answer>")
    'C'
    >>> extract_choice("<answer>(B)</answer>"), extract_choice("<answer>B.</answer>")
    ('B', 'B')
    >>> extract_choice("I looked twice. The answer is D because the star moved.")
    'D'
    >>> extract_choice("<answer>A or B</answer>") is None
    True
    >>> extract_choice("<answer>not A, it's C</answer>") is None
    True
    >>> extract_choice("<answer>the blue agent</answer>", options=["red agent", "Blue agent"])
    'B'
    >>> extract_choice("<answer>E</answer>") is None
    True
    """
    valid = option_letters(num_options)
    span = extract_answer(text).text
    if not span:
        return None
    for rule in _CHOICE_RULES:
        found, letter = rule(span, valid, options)
        if found:
            return letter
    return None


def normalize_ground_truth(answer: str, num_options: int = 4) -> str:
    """The ground-truth letter of a record; bad data raises instead of scoring 0.

    >>> normalize_ground_truth("<answer>B</answer>"), normalize_ground_truth(" (c) ")
    ('B', 'C')

    Raises:
        ValueError: the ground truth holds no single valid letter.
    """
    letter = _rule_single(extract_answer(answer).text, option_letters(num_options), None)[1]
    if letter is None:
        raise ValueError(f"ground-truth answer {answer!r} is not an option letter among {option_letters(num_options)}")
    return letter


def strict_match(response: str, ground_truth: str) -> bool:
    """The official evaluator's rule: the first ``<answer>`` span, stripped, equals the stripped ground truth.

    >>> strict_match("<answer>B</answer>", "B"), strict_match("<answer>B.</answer>", "B")
    (True, False)
    >>> strict_match("B", "B")
    False
    """
    match = _FIRST_SPAN_RE.search(response)
    return match is not None and match.group(1).strip() == extract_answer(ground_truth).text


def lenient_match(response: str, ground_truth: str, num_options: int = 4, options: Sequence[str] | None = None) -> bool:
    """The robust rule: the extracted letter equals the ground-truth letter.

    >>> lenient_match("<answer>B.</answer>", "B")
    True
    """
    choice = extract_choice(response, num_options=num_options, options=options)
    return choice is not None and choice == normalize_ground_truth(ground_truth, num_options)


SCORERS: dict[str, Callable[..., bool]] = {"strict": strict_match, "lenient": lenient_match}
"""Eval scorer name -> ``(response, ground_truth, **kw) -> bool``; ``strict`` is the official evaluator's rule."""
