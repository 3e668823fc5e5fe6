"""The results folder (the source of truth) and its SQLite index (a cache for fast listing).

The folder holds lmms-eval results JSON files, in any layout (``lmms-eval --output_path`` writes
``<dir>/<model>/<date>_results.json``). Uploads go to ``<folder>/uploads/<run_id>_results.json``: the
name comes from the content hash, never from the uploaded name; the bytes are stored as uploaded, in
one atomic, exclusive create, so of two identical uploads at once one is added and the other is told
it is already there. The index remembers each file's size, mtime and parsed row; a listing re-reads
only new or changed files and rebuilds from scratch when the index is missing, damaged (even partly:
SQLite's "database disk image is malformed") or from another dybench version. A file that cannot be
used is skipped with a notice (`LoadProblem`); it never stops a listing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from dybench import __version__
from dybench.fileio import create_bytes_atomic
from dybench.results._runs import (
    ResultsError,
    RunRow,
    Score,
    content_hash,
    parse_results_json,
    run_from_results,
    size_issue,
    validate_results,
)

UPLOADS_DIR = "uploads"
#: Changes with the parsing rules (bump the number), the dybench version and `RunRow`'s fields, so an
#: index written by other code is rebuilt rather than trusted.
_INDEX_FORMAT = ":".join(
    ["1", __version__, ",".join(f.name for f in fields(RunRow)), ",".join(f.name for f in fields(Score))]
)


@dataclass(frozen=True)
class LoadProblem:
    """A file in the results folder that looks like a results file but could not be used."""

    path: str
    message: str


@dataclass(frozen=True)
class Listing:
    """Everything the folder holds: one row per distinct run, and the files that were refused."""

    runs: tuple[RunRow, ...]
    problems: tuple[LoadProblem, ...]
    duplicates: int = 0
    """Files whose content equals another file's (shown once)."""


@dataclass(frozen=True)
class Submission:
    """What happened to an upload."""

    run: RunRow
    added: bool
    """False when the same run was already on the leaderboard (nothing was written)."""

    @property
    def message(self) -> str:
        if self.added:
            return f"Added run {self.run.run_id} ({self.run.model}, {self.run.display_date})."
        return f"Already on the leaderboard as run {self.run.run_id} ({self.run.model}); nothing was added."


def default_index_path(results_dir: Path) -> Path:
    """Where the index of a results folder lives: the user's cache, one file per folder.

    Outside the folder, so a read-only folder (an installed package) still gets an index and the
    folder stays exactly what users put there. ``DYBENCH_CACHE_DIR`` overrides the cache root.
    """
    root = (
        os.environ.get("DYBENCH_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dybench"
    )
    key = hashlib.sha256(str(Path(results_dir).resolve()).encode()).hexdigest()[:16]
    return Path(root) / f"leaderboard-index-{key}.sqlite"


class ResultsStore:
    """A results folder with its index: list runs, accept uploads."""

    def __init__(self, results_dir: str | os.PathLike, *, index_path: str | os.PathLike | None = None):
        self.root = Path(results_dir)
        self.index_path = Path(index_path) if index_path is not None else default_index_path(self.root)

    def listing(self) -> Listing:
        """All runs in the folder, newest first, re-reading only files changed since the last listing."""
        if not self.root.is_dir():
            raise FileNotFoundError(f"results folder {self.root} does not exist; pass --results DIR (a folder)")
        with self._index_lock():  # one listing at a time per index, across threads and processes
            try:
                return self._listing()
            except (sqlite3.DatabaseError, ValueError, TypeError, KeyError):
                # a damaged index (a torn page, a row that no longer decodes): the folder is the truth
                self._discard_index()
                return self._listing()

    def _listing(self) -> Listing:
        with self._index() as db:
            self._sync(db)
            rows = db.execute("SELECT path, content_hash, run, problem FROM files ORDER BY path").fetchall()
        runs: dict[str, RunRow] = {}
        problems, duplicates = [], 0
        for path, digest, run, problem in rows:
            if problem is not None:
                problems.append(LoadProblem(path, problem))
            elif run is not None:
                if digest in runs:
                    duplicates += 1
                else:
                    runs[digest] = RunRow.from_json(run)
        ordered = sorted(runs.values(), key=lambda r: (r.date, r.run_id), reverse=True)
        return Listing(runs=tuple(ordered), problems=tuple(problems), duplicates=duplicates)

    def submit(self, data: bytes) -> Submission:
        """Validate an uploaded results file and store it; raise `ResultsError` with the reasons if refused.

        Only the bytes are used: the upload's own name never becomes a path. They are stored as
        uploaded (never re-indented, so the stored file has the size that was checked), and the run
        returned is the stored file read back as a listing reads it: "added" always means "shown". An
        identical run (same canonical content) is reported, not stored twice, also when the same run is
        uploaded several times at once.
        """
        name = "the uploaded file"
        obj = parse_results_json(data, name=name)
        validate_results(obj, name=name, allow_unknown_tasks=False)
        digest = content_hash(obj)
        for run in self.listing().runs:
            if run.content_hash == digest:
                return Submission(run=run, added=False)
        rel = f"{UPLOADS_DIR}/{digest[:16]}_results.json"
        try:
            added = create_bytes_atomic(self.root / rel, data, within=self.root)
        except OSError as e:
            raise ResultsError(
                name,
                [f"could not store it in {self.root} ({e.strerror}); use a writable --results DIR"],
            ) from e
        _, run, problem = _read_file(self.root, rel)
        if run is None or run.content_hash != digest:  # the file there is not this upload (changed, planted)
            found = problem or f"it holds run {run.run_id}"  # type: ignore[union-attr]
            raise ResultsError(name, [f"{rel} in {self.root} is not this upload ({found}); remove it, then retry"])
        return Submission(run=run, added=added)

    # --- index -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _index_lock(self) -> Iterator[None]:
        """Hold ``<index>.lock`` (waiting for it), so only one caller reads, repairs or rebuilds the index."""
        try:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(f"{self.index_path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError:  # a read-only cache: each listing builds its own index in memory
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    @contextlib.contextmanager
    def _index(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            with db:
                yield db
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        """Open the index; rebuild it if corrupt or of another format; in memory if the cache is read-only."""
        try:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.index_path, timeout=30)
        except (OSError, sqlite3.Error):
            return self._connect_fresh(":memory:")
        try:
            fmt = _index_format(db)
        except sqlite3.DatabaseError:  # not a database (e.g. truncated): start again
            db.close()
            self._discard_index()
            return self._connect_fresh(self.index_path)
        if fmt != _INDEX_FORMAT:
            with db:
                db.execute("DROP TABLE IF EXISTS files")
                db.execute("DROP TABLE IF EXISTS meta")
            _create(db)
        return db

    def _discard_index(self) -> None:
        """Delete the index and SQLite's side files; the next connection rebuilds it from the folder."""
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.index_path}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def _connect_fresh(where: str | Path) -> sqlite3.Connection:
        db = sqlite3.connect(where, timeout=30)
        _create(db)
        return db

    def _sync(self, db: sqlite3.Connection) -> None:
        """Bring the index in line with the folder: parse new and changed files, forget removed ones."""
        on_disk = dict(_scan(self.root))
        known = {p: (size, mtime) for p, size, mtime in db.execute("SELECT path, size, mtime_ns FROM files")}
        for gone in known.keys() - on_disk.keys():
            db.execute("DELETE FROM files WHERE path = ?", (gone,))
        for rel, stamp in on_disk.items():
            if known.get(rel) == stamp:
                continue
            digest, run, problem = _read_file(self.root, rel)
            db.execute(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, content_hash, run, problem)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (rel, *stamp, digest, run.to_json() if run else None, problem),
            )


def _create(db: sqlite3.Connection) -> None:
    with db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
            " content_hash TEXT, run TEXT, problem TEXT)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (_INDEX_FORMAT,))


def _index_format(db: sqlite3.Connection) -> str | None:
    has_meta = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    return row[0] if row else None


def _scan(root: Path) -> Iterator[tuple[str, tuple[int, int]]]:
    """``(relative path, (size, mtime_ns))`` of every visible ``*.json`` file under ``root``.

    Hidden files and folders are skipped (atomic writes leave only hidden temporaries); symlinked
    folders are not followed.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.startswith(".") or not f.endswith(".json"):
                continue
            full = Path(dirpath) / f
            with contextlib.suppress(OSError):
                st = full.stat()
                yield full.relative_to(root).as_posix(), (st.st_size, st.st_mtime_ns)


def _read_file(root: Path, rel: str) -> tuple[str | None, RunRow | None, str | None]:
    """``(content hash, row, problem)`` for one file; JSON that is not a results file is ignored quietly.

    lmms-eval also writes other JSON next to results (``submissions/`` of some tasks): a file without
    a ``results`` key is neither a run nor a problem. One file never stops a listing: whatever goes
    wrong with it becomes its problem.
    """
    path = root / rel
    try:
        if (issue := size_issue(path.stat().st_size)) is not None:
            return None, None, issue  # refused without reading it
        obj = parse_results_json(path.read_bytes(), name=rel)
        if "results" not in obj:
            return None, None, None
        validate_results(obj, name=rel, allow_unknown_tasks=True)
        origin = "uploaded" if rel.startswith(UPLOADS_DIR + "/") else "local"
        run = run_from_results(obj, path=rel, origin=origin)
    except ResultsError as e:
        return None, None, "; ".join(e.issues)
    except OSError as e:
        return None, None, f"could not read it ({e.strerror})"
    except (ValueError, TypeError, OverflowError, RecursionError) as e:  # a case the checks above missed
        return None, None, f"could not be read ({type(e).__name__}: {str(e)[:200]})"
    return run.content_hash, run, None


def default_results_dir() -> Path:
    """The results folder that ships with dybench (the project's own baseline runs).

    In a source checkout it is ``leaderboard/results``; in an installed wheel the same folder is
    packaged as ``dybench/_leaderboard/results``.
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_leaderboard" / "results", package.parent / "leaderboard" / "results"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("dybench's bundled results folder is missing; pass --results DIR")
