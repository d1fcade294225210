"""common.atomic: artifacts keep the umask's mode and reach the disk before they replace the old file."""
from __future__ import annotations

import os
import stat

import pytest

from common import atomic


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_artifacts_get_the_mode_the_umask_gives(tmp_path, umask, mask, mode):
    umask(mask)
    paths = [atomic.write_json(tmp_path / "report.json", {"a": 1}),
             atomic.write_bytes(tmp_path / "model.tflite", b"\0" * 8)]
    with atomic.atomic_path(tmp_path / "model.keras") as tmp:
        tmp.write_bytes(b"zip")  # written by a library (model.save): it may recreate the file
    paths.append(tmp_path / "model.keras")
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_replacing_keeps_the_umask_mode_not_the_old_files(tmp_path, umask):
    target = tmp_path / "report.json"
    target.write_text("{}")
    target.chmod(0o600)
    atomic.write_json(target, {"v": 2})
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_atomic_path_syncs_the_file_before_renaming(tmp_path, monkeypatch):
    """A kill or power loss after the rename must not leave a truncated file under the real name."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    atomic.write_bytes(tmp_path / "a.bin", b"data")
    assert events[:2] == ["fsync", "replace"], events
    assert (tmp_path / "a.bin").read_bytes() == b"data"
