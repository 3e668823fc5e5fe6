"""Atomic writes: all or nothing, ordinary permissions, stale temporaries cleaned, one writer at a time."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

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


def test_inside_refuses_dotdot_and_linked_folders_but_not_a_link_it_replaces(tmp_path):
    from dybench.fileio import OutsideFolder, inside, remove_file, write_text_atomic

    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "victim.txt").write_text("keep me")
    (out / "file-link").symlink_to(elsewhere / "victim.txt")
    for bad in ("../x", "a/../../x", "linked/x", "linked/sub/x", "../../x", "."):
        with pytest.raises(OutsideFolder):
            inside(out, out / bad)
        with pytest.raises(OutsideFolder):
            write_text_atomic(out / bad, "x", within=out)
    assert list(elsewhere.iterdir()) == [elsewhere / "victim.txt"] and not (tmp_path / "x").exists()
    assert inside(out, out / "a/b/../c.txt") == out / "a/b/../c.txt"  # stays inside by its real folders
    write_text_atomic(out / "file-link", "new", within=out)  # replaces the link, never writes through it
    remove_file(out / "file-link", within=out)
    assert (elsewhere / "victim.txt").read_text() == "keep me" and not (out / "file-link").exists()


def test_atomic_paths_move_nothing_unless_every_file_is_written(tmp_path):
    from dybench.fileio import atomic_paths

    for name in ("a.txt", "b.txt"):
        write_text_atomic(tmp_path / name, "old")
    with pytest.raises(OSError), atomic_paths(tmp_path / "a.txt", tmp_path / "b.txt") as (a, b):
        a.write_text("new")
        raise OSError(27, "File too large")  # writing b failed
    assert [(tmp_path / n).read_text() for n in ("a.txt", "b.txt")] == ["old", "old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    with atomic_paths(tmp_path / "a.txt", tmp_path / "b.txt") as (a, b):
        a.write_text("new a")
        b.write_text("new b")
    assert [(tmp_path / n).read_text() for n in ("a.txt", "b.txt")] == ["new a", "new b"]


def test_read_jsonl_refuses_what_would_crash_readers_with_file_and_line(tmp_path):
    from dybench.fileio import BadInputFile, read_jsonl

    good = tmp_path / "good.jsonl"
    good.write_text('\ufeff{"a": 1}\n\n{"b": "x\u2028y"}\n')
    assert read_jsonl(good) == [{"a": 1}, {"b": "x\u2028y"}]
    for name, content, where in [
        ("deep.jsonl", b'{"a": 1}\n' + b"[" * 100_000 + b"\n", "deep.jsonl:2: JSON nested deeper"),
        ("huge.jsonl", b'{"n": ' + b"9" * 5000 + b"}\n", "huge.jsonl:1: an integer of 5,000 digits"),
        ("binary.jsonl", b'{"a": 1}\n\xff\xfe\x00', "binary.jsonl: line 2: not UTF-8"),
        ("cut.jsonl", b'{"a": 1}\n{"b": \n', "cut.jsonl:2: not valid JSON"),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(BadInputFile, match=where):
            read_jsonl(path)


def test_atomic_dir_moves_a_whole_folder_into_place_or_nothing(tmp_path):
    from dybench.fileio import OutsideFolder, atomic_dir

    out = tmp_path / "out"
    target = out / "model"
    with atomic_dir(target, within=out) as tmp:
        assert tmp.parent == out and tmp.name.startswith(".model.") and not any(tmp.iterdir())
        (tmp / "weights").write_text("v1")
    assert (target / "weights").read_text() == "v1" and [p.name for p in out.iterdir()] == ["model"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o777 & ~umask

    with pytest.raises(RuntimeError), atomic_dir(target, within=out) as tmp:
        (tmp / "weights").write_text("half")
        raise RuntimeError("killed mid-save")
    assert (target / "weights").read_text() == "v1", "a failed block leaves the old folder"
    assert [p.name for p in out.iterdir()] == ["model"], "and no temporary behind"

    with atomic_dir(target, within=out) as tmp:
        (tmp / "config").write_text("v2")
    assert sorted(p.name for p in target.iterdir()) == ["config"], "the old folder is replaced, not merged"
    assert [p.name for p in out.iterdir()] == ["model"], "and the old one renamed aside is gone"

    for bad in (tmp_path / "elsewhere", out / ".." / "x"):
        with pytest.raises(OutsideFolder), atomic_dir(bad, within=out):
            pass
        assert not bad.exists()


def test_atomic_dir_removes_what_a_killed_writer_left_for_the_same_folder(tmp_path):
    from dybench.fileio import atomic_dir

    for name in (".model.ab12cd_9.tmp", ".model.zz12cd_9.tmp.old", ".model.v2.ab12cd_9.tmp"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "shard").write_text("partial")
    with atomic_dir(tmp_path / "model") as tmp:
        (tmp / "weights").write_text("v1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.v2.ab12cd_9.tmp", "model"], (
        "only the temporaries of this folder go; another folder's (model.v2) stays"
    )


# --- planted links: a property of every writer ----------------------------------------------------------

#: Path pieces under the output folder: real folders, links to a folder inside it and outside it, a link
#: to a file outside, a link to the folder itself, parents and the current folder.
LINK_PIECES = ["a", "b", "new", "in-link", "up-link", "out-link", "file-link", "..", "."]


def _plant(root: Path) -> tuple[Path, Path]:
    """``root/out`` with real folders a/b and planted links; ``root/elsewhere`` with a file to protect."""
    out, elsewhere = root / "out", root / "elsewhere"
    (out / "a" / "b").mkdir(parents=True)
    elsewhere.mkdir()
    (elsewhere / "victim.txt").write_text("keep me")
    (out / "in-link").symlink_to(out / "a", target_is_directory=True)
    (out / "a" / "up-link").symlink_to("..", target_is_directory=True)
    (out / "out-link").symlink_to(elsewhere, target_is_directory=True)
    (out / "file-link").symlink_to(elsewhere / "victim.txt")
    return out, elsewhere


def _expected_refused(out: Path, target: Path) -> bool:
    """The kernel's walk to the file's folder, one piece at a time: refused when it meets a link or leaves ``out``."""
    parts = list(target.relative_to(out).parts)  # as pathlib spells it: "." dropped, ".." kept
    if not parts:
        return True  # ``out`` itself
    depth, current = 0, out
    for part in parts[:-1]:
        if part == ".":
            continue
        if part == "..":
            if depth == 0:
                return True
            depth, current = depth - 1, current.parent
            continue
        depth, current = depth + 1, current / part
        if current.is_symlink():
            return True
    return parts[-1] == ".."


@given(
    parts=st.lists(st.sampled_from(LINK_PIECES), min_size=0, max_size=4).map(lambda p: [*p, "f.txt"])
    | st.lists(st.sampled_from(LINK_PIECES), min_size=1, max_size=4),
    writer=st.sampled_from(["text", "create", "dir", "remove"]),
)
@example(parts=["b", "..", "in-link", "f.txt"], writer="text")  # a missing folder, then back up into a link
@example(parts=["b", "..", "in-link", "f.txt"], writer="dir")
@settings(max_examples=150, deadline=None)
def test_no_writer_goes_through_a_link_it_did_not_make(parts: list[str], writer: str):
    """Whatever the path: a writer given ``within=out`` refuses a path that passes through a planted link or
    leaves ``out`` (and only those), writes nothing outside ``out`` and never writes through a link."""
    from dybench.fileio import OutsideFolder, atomic_dir, create_bytes_atomic, remove_file, write_text_atomic

    with tempfile.TemporaryDirectory() as tmp:
        out, elsewhere = _plant(Path(tmp))
        target = out.joinpath(*parts)
        try:
            if writer == "text":
                write_text_atomic(target, "new", within=out)
            elif writer == "create":
                create_bytes_atomic(target, b"new", within=out)
            elif writer == "dir":
                with atomic_dir(target, within=out) as folder:
                    (folder / "weights").write_text("new")
            else:
                remove_file(target, within=out)
            refused = False
        except OutsideFolder:
            refused = True
        except (IsADirectoryError, NotADirectoryError, FileExistsError, FileNotFoundError):
            # inside, not through a link: a real folder where a file goes or the other way round, or a
            # folder spelled through itself (new/../new) that atomic_dir's rename moves away
            refused = False
        assert refused == _expected_refused(out, target), (parts, writer)
        assert sorted(p.name for p in elsewhere.iterdir()) == ["victim.txt"]
        assert (elsewhere / "victim.txt").read_text() == "keep me"
        for path in out.rglob("*"):  # every link is the one planted, pointing where it did
            if path.is_symlink():
                assert path.name in LINK_PIECES, path
