"""resolve_under refuses traversal, absolute paths and symlinks escaping the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from lvr1kit.review.paths import PathRefused, relative_to_root, resolve_under, resolve_under_any


@pytest.mark.parametrize("bad", ["../x", "a/../../x", "/etc/passwd", "a/\x00b", "..", "a/../../../etc/passwd"])
def test_traversal_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(PathRefused):
        resolve_under(tmp_path, bad)


def test_symlink_escaping_the_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("x")
    (root / "link").symlink_to(outside)
    (root / "inside").mkdir()
    (root / "ok").symlink_to(root / "inside")
    with pytest.raises(PathRefused, match="outside the root"):
        resolve_under(root, "link/secret.txt")
    assert resolve_under(root, "ok") == (root / "inside").resolve()


def test_any_root_and_relative(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "f").write_text("x")
    assert resolve_under_any([tmp_path / "a", tmp_path / "b"], "f") == (tmp_path / "b" / "f").resolve()
    with pytest.raises(PathRefused):
        resolve_under_any([tmp_path / "a", tmp_path / "b"], "../b/f/../../x/../..")
    assert relative_to_root([tmp_path], tmp_path / "b" / "f") == "b/f"
    assert relative_to_root([tmp_path / "b"], "/etc") is None
