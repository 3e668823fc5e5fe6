"""Atomic writes and hashing: nothing half-written is ever left behind."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from dybench.errors import UserError

_UMASK = os.umask(0)
os.umask(_UMASK)
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[^.]+)?$")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    The temporary name ends with ``path``'s own suffix, so writers that pick a format from the
    extension (PyAV, pyarrow) still work; it starts with a dot and holds ".tmp", so a crash leaves
    at most a hidden ``.name.*.tmp.ext`` file that no reader mistakes for the real one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp" + path.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp_path, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete temporary files that :func:`atomic_path` left under ``folder`` when a process was killed.

    Call it only while holding the folder (see :func:`exclusive`); returns how many were removed.
    """
    removed = 0
    for p in Path(folder).rglob(".*.tmp*"):
        if p.is_file() and _TEMP_NAME.match(p.name):
            p.unlink(missing_ok=True)
            removed += 1
    return removed


class FolderBusy(UserError, RuntimeError):
    """Another process holds the folder."""


@contextlib.contextmanager
def exclusive(folder: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` so two writers never interleave; fail fast if taken."""
    lock_path = Path(folder) / ".dybench" / "lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise FolderBusy(f"{folder}: another {what} is writing here; wait for it or pick another folder") from e
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: object) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL file; a bad line raises ValueError naming the file and line number."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg}); fix or remove that line") from e
    return rows


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
