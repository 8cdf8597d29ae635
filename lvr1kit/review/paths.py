"""Safe file access under the configured roots: every file the app reads or serves goes through here.

Contents:
    - ``PathRefused``: a request for a path outside a root (traversal, absolute path, escaping symlink).
    - ``resolve_under``: ``root`` + a relative path -> the resolved path, refused unless it stays inside ``root``.
    - ``resolve_under_any``: the same against several roots (data root, runs root), first match wins.
    - ``relative_to_root``: the inverse, for showing paths without leaking the server's layout.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PathRefused", "relative_to_root", "resolve_under", "resolve_under_any"]


class PathRefused(PermissionError):
    """A path that would leave the configured roots."""


def resolve_under(root: str | os.PathLike[str], relative: str | os.PathLike[str]) -> Path:
    """``root / relative`` resolved (symlinks followed), refused unless it lies inside the resolved ``root``.

    >>> import tempfile; tmp = tempfile.mkdtemp()
    >>> resolve_under(tmp, "a/b.mp4") == Path(tmp).resolve() / "a" / "b.mp4"
    True
    >>> try:
    ...     resolve_under(tmp, "../etc/passwd")
    ... except PathRefused:
    ...     print("refused")
    refused

    Raises:
        PathRefused: for absolute paths, ``..`` escapes, NUL bytes, or symlinks pointing outside ``root``.
    """
    text = os.fspath(relative)
    base = Path(root).resolve()
    if "\x00" in text:
        raise PathRefused(f"{text!r} contains a NUL byte; give a plain relative path under {base}")
    if Path(text).is_absolute() or text.startswith(("/", "\\")):
        raise PathRefused(f"{text!r} is absolute; give a path relative to the root {base}")
    target = (base / text).resolve()
    if target != base and base not in target.parents:
        raise PathRefused(f"{text!r} is outside the root {base} (after resolving '..' and symlinks); refused")
    return target


def resolve_under_any(roots: Sequence[str | os.PathLike[str]], relative: str | os.PathLike[str]) -> Path:
    """:func:`resolve_under` against each root in turn; the first that contains an existing path wins.

    Raises:
        PathRefused: when no root contains the path.
    """
    errors = []
    fallback: Path | None = None
    for root in roots:
        try:
            path = resolve_under(root, relative)
        except PathRefused as err:
            errors.append(str(err))
            continue
        if path.exists():
            return path
        fallback = fallback or path
    if fallback is not None:
        return fallback
    raise PathRefused("; ".join(errors) or f"{os.fspath(relative)!r}: no roots configured")


def relative_to_root(roots: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str]) -> str | None:
    """``path`` relative to the first root that contains it (resolved), or ``None`` when none does."""
    target = Path(path).resolve()
    for root in roots:
        base = Path(root).resolve()
        if target == base or base in target.parents:
            return target.relative_to(base).as_posix() or "."
    return None
