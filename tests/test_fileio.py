"""Atomic writes keep the permissions a plain open() would give, and leave nothing behind on failure."""

from __future__ import annotations

import os

import pytest

from aekit.fileio import _UMASK, atomic_write


def test_atomic_write_uses_normal_permissions(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, b"abc")
    assert target.read_bytes() == b"abc"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~_UMASK
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_failure_leaves_no_temporary(tmp_path):
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "x", "not bytes")
    assert list(tmp_path.iterdir()) == []
