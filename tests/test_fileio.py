"""Atomic writes: all or nothing, ordinary permissions, stale temporaries cleaned, one writer at a time."""

from __future__ import annotations

import os
import stat

import pytest

from dybench.fileio import FolderBusy, atomic_path, exclusive, remove_stale_temps, write_text_atomic


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "data.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        assert tmp.suffix == ".json" and tmp.name.startswith(".data.")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_written_files_get_ordinary_permissions(tmp_path):
    write_text_atomic(tmp_path / "a.txt", "x")
    mode = stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_remove_stale_temps_only_touches_our_temporaries(tmp_path):
    (tmp_path / "sub").mkdir()
    stale = tmp_path / "sub" / ".clip.ab12cd_9.tmp.mp4"
    stale.write_bytes(b"partial")
    keep = [tmp_path / ".hidden", tmp_path / "clip.tmp.mp4", tmp_path / "sub" / "clip.mp4"]
    for p in keep:
        p.write_bytes(b"user data")
    assert remove_stale_temps(tmp_path) == 1
    assert not stale.exists() and all(p.exists() for p in keep)


def test_exclusive_refuses_a_second_writer(tmp_path):
    with exclusive(tmp_path, "build"):
        with pytest.raises(FolderBusy, match="another build is writing"), exclusive(tmp_path, "build"):
            pass
    with exclusive(tmp_path, "build"):  # released
        pass
