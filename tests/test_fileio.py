"""Atomic writes keep the permissions a plain open() would give, and leave nothing behind on failure."""

from __future__ import annotations

import os

import pytest

from aekit.fileio import _umask, atomic_write


def test_atomic_write_uses_normal_permissions(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, b"abc")
    assert target.read_bytes() == b"abc"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_failure_leaves_no_temporary(tmp_path):
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "x", "not bytes")
    assert list(tmp_path.iterdir()) == []


def test_make_folder_names_the_file_in_the_way(tmp_path):
    from aekit.errors import AekitError
    from aekit.fileio import ensure_parent, make_folder

    (tmp_path / "f.png").write_bytes(b"x")
    assert make_folder(tmp_path / "a" / "b").is_dir()
    for path in (tmp_path / "f.png", tmp_path / "f.png" / "sub"):
        with pytest.raises(AekitError, match="f.png is not a folder, so .* cannot be written there"):
            make_folder(path)
    with pytest.raises(AekitError, match="not a folder, so .*e.npy cannot be written there"):
        ensure_parent(tmp_path / "f.png" / "e.npy")
    assert (tmp_path / "f.png").read_bytes() == b"x"
