"""Lazy package exports (PEP 562): a package's public names are imported from their submodules on first use.

Used by the package ``__init__`` files whose submodules pull in torch / transformers, so that importing a light
submodule (``lvr1kit.models.prompt``) or building the CLI (``lvr1 --help``) does not load them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose public ``name`` lives in ``package.<exports[name]>``.

    >>> getattr_, dir_ = lazy_exports("lvr1kit", {"lazy_exports": "_lazy"})
    >>> getattr_("lazy_exports") is lazy_exports, dir_()
    (True, ['lazy_exports'])
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
