r"""Numbers in answers: parsing simple LaTeX, fractions, decimals and percentages, and equality with tolerance.

Contents:
    - :func:`parse_number`: the value of an answer span (``\frac{1}{2}``, ``1/2``, ``0.5``, ``50%``, ``1,000``,
      ``\boxed{3}``, ``$-2.5$``), or ``None``.
    - :func:`extract_number`: the whole span if it parses, else the last number written in it.
    - :func:`numbers_equal`: equality within ``rel_tol``/``abs_tol``; a percentage also matches its value read
      without the sign, so ``50%`` equals both ``0.5`` and ``50``.

Deviations from the paper:
1. The paper uses ``mathruler.grade_answer`` (symbolic equality through sympy); only numbers are handled here.
"""

from __future__ import annotations

import math
import re

__all__ = ["extract_number", "numbers_equal", "parse_number"]

_NUM = r"[-+]?(?:\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_WRAPPERS_RE = re.compile(r"\\boxed\{(.*)\}|\\text\{(.*)\}", re.DOTALL)
_FRAC_RE = re.compile(rf"^([-+]?)\\[dt]?frac\{{\s*({_NUM})\s*\}}\{{\s*({_NUM})\s*\}}$")
_SLASH_RE = re.compile(rf"^({_NUM})\s*/\s*({_NUM})$")
_PLAIN_RE = re.compile(rf"^{_NUM}$")
_ANY_NUM_RE = re.compile(
    rf"[-+]?\\[dt]?frac\{{\s*{_NUM}\s*\}}\{{\s*{_NUM}\s*\}}|{_NUM}\s*/\s*{_NUM}|{_NUM}\s*(?:\\?%|percent\b)?"
)
_PERCENT_RE = re.compile(r"\s*(?:\\?%|percent)$")


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))


def _unwrap(text: str) -> str:
    text = text.strip().strip("$").strip()
    for _ in range(3):
        match = _WRAPPERS_RE.fullmatch(text)
        if not match:
            break
        text = (match.group(1) or match.group(2) or "").strip().strip("$").strip()
    return text.replace("\\left", "").replace("\\right", "").replace("\\,", "").replace("{,}", ",").rstrip(".")


def parse_number(text: str) -> tuple[float, bool] | None:
    r"""The value of a whole answer span and whether it was a percentage, or ``None``.

    >>> parse_number(r"\frac{1}{2}"), parse_number("1/2"), parse_number("0.5")
    ((0.5, False), (0.5, False), (0.5, False))
    >>> parse_number("50%"), parse_number(r"$\boxed{1,000}$")
    ((50.0, True), (1000.0, False))
    >>> parse_number("twelve") is None
    True
    """
    text = _unwrap(text)
    percent = bool(_PERCENT_RE.search(text))
    text = _PERCENT_RE.sub("", text).strip()
    if match := _FRAC_RE.match(text):
        sign, num, den = match.groups()
        value = _to_float(num) / _to_float(den) if _to_float(den) != 0 else math.nan
        return (-value if sign == "-" else value), percent
    if match := _SLASH_RE.match(text):
        den = _to_float(match.group(2))
        return (_to_float(match.group(1)) / den if den != 0 else math.nan), percent
    if _PLAIN_RE.match(text):
        return _to_float(text), percent
    return None


def extract_number(text: str) -> tuple[float, bool] | None:
    """The whole span's value if it parses, else the last number written in it, else ``None``.

    >>> extract_number("about 12 seconds")
    (12.0, False)
    >>> extract_number("none") is None
    True
    """
    whole = parse_number(text)
    if whole is not None:
        return whole
    found = _ANY_NUM_RE.findall(text)
    return parse_number(found[-1]) if found else None


def numbers_equal(
    pred: tuple[float, bool], truth: tuple[float, bool], rel_tol: float = 1e-4, abs_tol: float = 1e-6
) -> bool:
    """Equality within tolerance; a percentage is compared both as ``v/100`` and as ``v``.

    >>> numbers_equal((50.0, True), (0.5, False)), numbers_equal((50.0, True), (50.0, False))
    (True, True)
    >>> numbers_equal((0.3333, False), (1 / 3, False), rel_tol=1e-3)
    True
    """

    def readings(value: tuple[float, bool]) -> list[float]:
        return [value[0] / 100.0, value[0]] if value[1] else [value[0]]

    return any(math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol) for a in readings(pred) for b in readings(truth))
