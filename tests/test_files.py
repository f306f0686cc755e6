"""Atomic writes: the old file or the new one, never half of one, and no temporary left behind."""

from __future__ import annotations

import pytest

from vidprior.files import atomic_write


def test_a_failed_write_keeps_the_old_file_and_a_finished_one_replaces_it(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("stopped while writing")
    assert path.read_text() == "old" and list(tmp_path.iterdir()) == [path]
    with atomic_write(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".") and tmp.suffix == ".json"
        tmp.write_text("new")
    assert path.read_text() == "new" and list(tmp_path.iterdir()) == [path]


def test_temporary_names_are_unique(tmp_path):
    with atomic_write(tmp_path / "a.txt") as first, atomic_write(tmp_path / "a.txt") as second:
        assert first != second
        first.write_text("first")
        second.write_text("second")
    assert (tmp_path / "a.txt").read_text() == "first" and len(list(tmp_path.iterdir())) == 1
