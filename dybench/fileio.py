"""Atomic writes, hashing and the folder check: nothing half-written, nothing outside its folder.

Every writer takes an optional ``within`` folder; when given, :func:`inside` checks the target before
anything is created, so a path from user data (``../x``) or a planted symbolic link cannot make a
write, rename or delete land outside that folder, nor go through a link no dybench writer made.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from dybench.errors import UserError

_UMASK = os.umask(0)
os.umask(_UMASK)
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[^.]+)?$")
_T = TypeVar("_T")


class OutsideFolder(UserError, ValueError):
    """A path that would be written, renamed or deleted outside the folder it belongs to."""


def inside(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """``path``, checked to lie inside ``root`` (both as given: absolute, or relative to the working folder).

    Every folder on the way is resolved through symbolic links, as the kernel would, so neither ``..`` nor
    a linked folder can lead out; and no folder between ``root`` and ``path`` may be a symbolic link at
    all, even one that leads back inside: dybench's writers never make a linked folder, so one there was
    planted (``<out>/videos -> /elsewhere``) and is refused rather than written through. ``root`` itself
    may be a link (the user named it). The last component is not followed: writers replace it (a link
    there is replaced, never written through) and :func:`remove_file` removes the link itself.
    """
    root, path = Path(root), Path(path)
    real_root = os.path.realpath(root)
    parent = os.path.realpath(path.parent)
    if path.name in ("", ".", "..") or os.path.commonpath([real_root, parent]) != real_root:
        raise OutsideFolder(
            f"{path}: lies outside {root} (through '..' or a symbolic link); dybench writes and deletes "
            f"only inside {root}; remove the link or fix the path"
        )
    if (link := _linked_folder(root, path.parent)) is not None:
        raise OutsideFolder(
            f"{path}: {link} is a symbolic link inside {root}, which no dybench writer makes; dybench writes "
            f"only through real folders there; remove the link (or write to another folder)"
        )
    return path


def _linked_folder(root: Path, folder: Path) -> Path | None:
    """The first folder the kernel passes through from ``root`` to ``folder`` that is a symbolic link, else None.

    Walks ``folder`` as spelled, one piece at a time as the kernel does (``a/b/..`` passes through ``b``;
    a folder that does not exist yet is walked as the real folder a writer would make there); a ``..`` above
    ``root`` on the way is refused. A ``folder`` spelled from another place than ``root`` is walked up to the
    first folder that is ``root``.
    """
    top, real_root = root.absolute(), os.path.realpath(root)
    current = folder.absolute()
    if current.parts[: len(top.parts)] == top.parts:
        walked, depth = top, 0
        for part in current.parts[len(top.parts) :]:
            if part == "..":
                if depth == 0:
                    raise OutsideFolder(
                        f"{folder}: leaves {root} through '..' on the way; dybench writes and deletes only "
                        f"inside {root}; fix the path"
                    )
                walked, depth = walked.parent, depth - 1
                continue
            walked, depth = walked / part, depth + 1
            if os.path.islink(walked):
                return walked
        return None
    while current.parent != current:
        if os.path.islink(current):
            return current
        if os.path.realpath(current) == real_root:
            return None
        current = current.parent
    return None


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike, within: str | os.PathLike | None = None) -> Iterator[list[Path]]:
    """Yield one temporary path beside each of ``paths``; only if the block succeeds, make each durable
    and then move them onto their targets, in the given order (put the file that vouches for the
    others, such as a manifest, last). A failure while writing leaves every target as it was.

    A temporary's name ends with its target's suffix, so writers that pick a format from the extension
    (PyAV, pyarrow) still work; it starts with a dot and holds ".tmp", so a crash leaves at most hidden
    ``.name.*.tmp.ext`` files that no reader mistakes for real ones. ``within``: see :func:`inside`.
    """
    targets = [inside(within, p) if within is not None else Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp" + target.suffix)
            os.close(fd)
            temps.append(Path(name))
        yield temps
        for tmp in temps:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
        for tmp, target in zip(temps, targets, strict=True):
            os.replace(tmp, target)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, within: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds
    (:func:`atomic_paths` for one file)."""
    with atomic_paths(path, within=within) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, within: str | os.PathLike | None = None) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; only if the block succeeds, make its files durable
    and rename it onto ``path``, so readers see the old folder or the whole new one, never a part.

    A folder already at ``path`` is renamed aside first and removed once the new one is in place. A
    failure removes the temporary and leaves ``path`` as it was. The temporary is a hidden
    ``.name.XXXXXXXX.tmp`` sibling (same filesystem, so the rename is atomic); those a killed process
    left for the same ``path`` are removed on entry, so write one folder from one process at a time.
    ``within``: see :func:`inside`.
    """
    target = inside(within, path) if within is not None else Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    stale = re.compile(rf"^\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.tmp(\.old)?$")
    for p in target.parent.iterdir():
        if stale.match(p.name):
            _remove_tree(p)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        for folder, _, names in os.walk(tmp):  # links are neither followed nor synced
            for name in names:
                if not os.path.islink(file := os.path.join(folder, name)):
                    with open(file, "rb") as fh:
                        os.fsync(fh.fileno())
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the folder ordinary permissions
        if not (target.exists() or target.is_symlink()):
            os.rename(tmp, target)
            return
        aside = tmp.with_name(tmp.name + ".old")
        os.rename(target, aside)
        try:
            os.rename(tmp, target)
        except BaseException:
            os.rename(aside, target)
            raise
        _remove_tree(aside)
    finally:
        _remove_tree(tmp)


def _remove_tree(path: Path) -> None:
    """Delete a folder and everything in it, or a file or link (never what a link points to); gone is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def remove_file(path: str | os.PathLike, *, within: str | os.PathLike) -> None:
    """Delete ``path`` (a link itself, never its target) when it lies inside ``within``; else raise."""
    inside(within, path).unlink(missing_ok=True)


def relative_path(text: str) -> str:
    """``text`` as a normalised relative path (``./a//b`` -> ``a/b``) whose spelling cannot leave its
    folder: ``ValueError`` for an empty or absolute path, a ``..`` part or a NUL character."""
    path = PurePosixPath(text)
    if "\0" in text or path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"{text!r} is not a relative path inside the folder (no leading '/', no '..')")
    return str(path)


def is_temporary(name: str) -> bool:
    """Whether a file name has the shape of :func:`atomic_paths`' temporaries (which builds delete)."""
    return bool(_TEMP_NAME.match(name))


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete temporary files that :func:`atomic_path` left under ``folder`` when a process was killed.

    Call it only while holding the folder (see :func:`exclusive`); returns how many were removed.
    """
    removed = 0
    for p in Path(folder).rglob(".*.tmp*"):
        if p.is_file() and is_temporary(p.name):
            remove_file(p, within=folder)
            removed += 1
    return removed


class FolderBusy(UserError, RuntimeError):
    """Another process holds the folder."""


@contextlib.contextmanager
def exclusive(folder: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` so two writers never interleave; fail fast if taken."""
    lock_path = inside(folder, Path(folder) / ".dybench" / "lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    try:  # never truncate, never follow a link: the lock file holds nothing
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise FolderBusy(f"{lock_path}: cannot open the lock file ({e}); remove it if it is a link") from e
    with os.fdopen(fd, "r+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise FolderBusy(f"{folder}: another {what} is writing here; wait for it or pick another folder") from e
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, within: str | os.PathLike | None = None) -> None:
    with atomic_path(path, within=within) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str, *, within: str | os.PathLike | None = None) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), within=within)


def json_text(obj: object) -> str:
    """The JSON text dybench writes for one document (indented, UTF-8, a final newline)."""
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def jsonl_text(rows: Iterable[dict]) -> str:
    """JSON Lines text: one compact record per line."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_json_atomic(path: str | os.PathLike, obj: object, *, within: str | os.PathLike | None = None) -> None:
    write_text_atomic(path, json_text(obj), within=within)


def write_jsonl_atomic(
    path: str | os.PathLike, rows: Iterable[dict], *, within: str | os.PathLike | None = None
) -> None:
    write_text_atomic(path, jsonl_text(rows), within=within)


class BadInputFile(UserError, ValueError):
    """A data file dybench reads that is not what it should be; the message names the file and line."""


def read_jsonl(path: str | os.PathLike) -> list:
    """Read a JSONL file through :func:`parse_json` (so nesting, huge integers and bytes that are not
    UTF-8 are refused, not crashed on); a bad line raises :class:`BadInputFile` naming the file and line.

    Lines end at ``\n`` only: a U+2028 inside a JSON string does not split a record.
    """
    try:
        text = utf8_text(Path(path).read_bytes())
    except JSONInputError as e:
        raise BadInputFile(f"{path}: {e}; save it as UTF-8 JSON Lines") from None
    rows = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rows.append(parse_json(line))
        except JSONInputError as e:
            raise BadInputFile(f"{path}:{lineno}: {e.reason}; fix or remove that line") from None
    return rows


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def create_bytes_atomic(path: str | os.PathLike, data: bytes, *, within: str | os.PathLike | None = None) -> bool:
    """Write ``data`` to ``path`` unless ``path`` exists; True when this call created it.

    Atomic and exclusive: readers see the whole file or none, and of concurrent calls for one path
    exactly one returns True. The finished, durable temporary is hard-linked to ``path``, which fails
    when the name is taken. ``within``: see :func:`inside`.
    """
    target = inside(within, path) if within is not None else Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".tmp" + target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


# --- JSON from users and uploads ----------------------------------------------------------------------

#: Deepest nesting and longest integer :func:`parse_json` accepts: far beyond any file dybench reads, far
#: below what breaks Python (a RecursionError near 1,000 levels, the 4,300-digit limit of ``int``,
#: an OverflowError when an integer above 1e308 becomes a float).
MAX_JSON_DEPTH = 64
MAX_JSON_INT_DIGITS = 100


class JSONInputError(ValueError):
    """Text that is not JSON dybench can use: ``reason`` says why, ``lineno`` where (1-based) when known.

    Readers turn it into their own `UserError`, adding the file (and the line or item) and the fix.
    """

    def __init__(self, reason: str, lineno: int | None = None):
        super().__init__(reason if lineno is None else f"line {lineno}: {reason}")
        self.reason = reason
        self.lineno = lineno


def utf8_text(data: bytes) -> str:
    """``data`` decoded as UTF-8 (a leading byte-order mark dropped), else a `JSONInputError` naming the line."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise JSONInputError(f"not UTF-8 text (byte {e.start})", data.count(b"\n", 0, e.start) + 1) from None


def parse_json(data: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for input from users and uploads: every way it can fail is a `JSONInputError`.

    Refuses bytes that are not UTF-8, bad syntax, nesting deeper than ``max_depth`` and integers of more
    than ``MAX_JSON_INT_DIGITS`` digits, so no reader meets a RecursionError, Python's integer-digit
    limit or an OverflowError later. ``NaN`` and ``Infinity`` parse, as in ``json``: callers that need
    finite numbers check them.
    """
    text = utf8_text(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    too_deep = JSONInputError(f"JSON nested deeper than {max_depth} levels")
    try:
        obj = json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as e:
        raise JSONInputError(f"not valid JSON ({e.msg}, column {e.colno})", e.lineno) from None
    except RecursionError:
        raise too_deep from None
    stack = [(obj, 1)]  # the depth, iteratively: no recursion limit to hit
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise too_deep
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return obj


def _bounded_int(digits: str) -> int:
    if (n := len(digits.lstrip("-"))) > MAX_JSON_INT_DIGITS:
        raise JSONInputError(f"an integer of {n:,} digits; at most {MAX_JSON_INT_DIGITS} are accepted")
    return int(digits)


def read_yaml_data(default: str, path: str | os.PathLike | None = None) -> tuple[Any, str]:
    """(parsed YAML, where it came from) of a user's ``path``, else of ``dybench/data/<default>``.

    The shipped tables (lexicon, SSv2 templates) are data a user may replace with a file of their own;
    an unreadable or malformed file is a :class:`BadInputFile` naming it.
    """
    import yaml

    from dybench.shipped import shipped_data

    if path is None:
        where = f"dybench/data/{default}"
        text = shipped_data(default).read_text(encoding="utf-8")
    else:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise BadInputFile(f"{where}: cannot read it ({e}); give a UTF-8 YAML file") from e
    try:
        return yaml.safe_load(text), where
    except yaml.YAMLError as e:
        raise BadInputFile(f"{where}: not valid YAML ({e})") from e


def load_yaml_data(
    default: str, path: str | os.PathLike | None, parse: Callable[[Any], _T], *, what: str, fix: str
) -> _T:
    """``parse`` of :func:`read_yaml_data`'s YAML, read once per file (cached); a table ``parse`` cannot read
    is a :class:`BadInputFile` naming the file, ``what`` it should be and ``fix`` (how it must look)."""
    return _load_yaml_data(default, None if path is None else str(path), parse, what, fix)


@functools.cache
def _load_yaml_data(default: str, path: str | None, parse: Callable[[Any], _T], what: str, fix: str) -> _T:
    spec, where = read_yaml_data(default, path)
    try:
        return parse(spec)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise BadInputFile(f"{where}: not a valid {what} ({e}); {fix}") from e
