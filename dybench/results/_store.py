"""The results folder (the source of truth) and its SQLite index (a cache for fast listing).

The folder holds lmms-eval results JSON files, in any layout (``lmms-eval --output_path`` writes
``<dir>/<model>/<date>_results.json``). Uploads go to ``<folder>/uploads/<run_id>_results.json``: the
name comes from the content hash, never from the uploaded name; the bytes are stored as uploaded, in
one atomic, exclusive create, so of two identical uploads at once one is added and the other is told
it is already there. The index remembers each file's size, mtime and parsed row; a listing re-reads
only new or changed files and rebuilds from scratch when the index is missing, damaged (even partly:
SQLite's "database disk image is malformed") or from another dybench version. A file that cannot be
used is skipped with a notice (`LoadProblem`); it never stops a listing.

Samples: lmms-eval's ``<date>_samples_<task>.jsonl`` beside ``<date>_results.json`` belong to that run;
the store re-scores them (``_verify``) against the pairs datasets it holds (``_reference``:
``<folder>/datasets/<name>/`` and the ``data`` folders it was given) and keeps the verification in the
row. A run's index entry is re-read when its results file, one of its samples files or the held
reference data change. Uploaded samples are stored as ``uploads/<run_id>_samples_<task>.jsonl``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from dybench import __version__
from dybench.errors import UserError
from dybench.fileio import OutsideFolder, create_bytes_atomic
from dybench.results._logged_samples import SAMPLES_NAME, SamplesError, TaskSamples, read_samples
from dybench.results._logged_samples import size_issue as samples_size_issue
from dybench.results._reference import (
    DATASETS_DIR,
    ReferenceData,
    ReferenceProblem,
    load_references,
    reference_folders,
    stamp,
)
from dybench.results._runs import (
    Origin,
    ResultsError,
    RunRow,
    content_hash,
    parse_results_json,
    run_from_results,
    size_issue,
    validate_results,
)
from dybench.results._task_metrics import TaskMetric, section
from dybench.results._verify import TaskCheck, Verification, is_pair_task, verify_run
from dybench.shipped import shipped_folder

UPLOADS_DIR = "uploads"
#: Changes with the parsing and verification rules (bump the number), the dybench version and the rows'
#: fields, so an index written by other code is rebuilt rather than trusted (4: the documents a run's
#: samples must answer are checked, issue 28).
_INDEX_FORMAT = ":".join(
    [
        "4",
        __version__,
        *(",".join(f.name for f in fields(cls)) for cls in (RunRow, TaskMetric, Verification, TaskCheck)),
    ]
)


class UnknownRun(UserError, LookupError):
    """A run id that names no run (or several) of a results folder."""


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

    @property
    def all_verified(self) -> bool:
        """Every run is labelled verified (not partly), and every file and reference dataset could be read."""
        return bool(self.runs) and not self.problems and all(r.verification.status == "verified" for r in self.runs)


@dataclass(frozen=True)
class Submission:
    """What happened to an upload."""

    run: RunRow
    added: bool
    """False when the same run was already on the leaderboard (nothing was written)."""
    samples_ignored: bool = False
    """Samples came with a run that was already there; they were not stored."""

    @property
    def message(self) -> str:
        status = f" Status: {self.run.verification.label}."
        if self.added:
            return f"Added run {self.run.run_id} ({self.run.model}, {self.run.display_date}).{status}"
        ignored = " The samples sent with it were not stored." if self.samples_ignored else ""
        there = f"Already on the leaderboard as run {self.run.run_id} ({self.run.model}); nothing was added."
        return there + ignored + status


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
    """A results folder with its index: list runs, accept uploads, re-score samples against held data."""

    def __init__(
        self,
        results_dir: str | os.PathLike,
        *,
        index_path: str | os.PathLike | None = None,
        data: Iterable[str | os.PathLike] = (),
    ):
        """``data``: pairs dataset folders held as reference data, beside ``<results_dir>/datasets/*/``."""
        self.root = Path(results_dir)
        self.index_path = Path(index_path) if index_path is not None else default_index_path(self.root)
        self.data = tuple(Path(d) for d in data)
        self._refs: tuple[str, tuple[ReferenceData, ...], tuple[ReferenceProblem, ...]] | None = None

    def references(self) -> tuple[tuple[ReferenceData, ...], tuple[ReferenceProblem, ...]]:
        """The pairs datasets held as reference data, and the folders that could not be read
        (re-read only when their items or manifest change)."""
        folders = reference_folders(self.root, self.data)
        key = stamp(folders) + str(folders)
        if self._refs is None or self._refs[0] != key:
            self._refs = (key, *load_references(folders))
        return self._refs[1], self._refs[2]

    def samples(self, run: RunRow) -> dict[str, TaskSamples]:
        """The readable samples files of a run's dybench_pair tasks (task -> samples), read from the folder."""
        found, _ = _read_samples(self.root, _samples_files(self.root, run.path))
        return found

    def read(self, rel: str) -> tuple[RunRow | None, str | None]:
        """One file of the folder (``rel`` inside it) read and verified as a listing reads it, without the index:
        ``(run, problem)``, both None for JSON that is not a results file."""
        _, run, problem = _read_file(self.root, rel, self.references()[0])
        return run, problem

    def find(self, run_id: str) -> RunRow:
        """The run with this id (or a unique prefix of it); `UnknownRun` naming the choices otherwise."""
        runs = self.listing().runs
        hits = [r for r in runs if r.run_id == run_id] or [r for r in runs if r.run_id.startswith(run_id)]
        if len(hits) != 1:
            known = ", ".join(f"{r.run_id} ({r.model})" for r in runs[:8]) or "none"
            why = "matches several runs" if hits else "is not a run"
            raise UnknownRun(f"{run_id} {why} in {self.root}; runs there: {known} (--results picks the folder)")
        return hits[0]

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
        refs, ref_problems = self.references()
        with self._index() as db:
            self._sync(db, refs)
            rows = db.execute("SELECT path, content_hash, run, problem FROM files ORDER BY path").fetchall()
        runs: dict[str, RunRow] = {}
        problems = [LoadProblem(p.path, f"reference data not used: {p.message}") for p in ref_problems]
        duplicates = 0
        for path, digest, run, problem in rows:
            if problem is not None:
                problems.append(LoadProblem(path, problem))
            elif run is not None:
                if digest in runs:
                    duplicates += 1
                else:
                    runs[digest] = RunRow.from_json(run)
        ordered = sorted(runs.values(), key=lambda r: (r.date_utc or r.date, r.run_id), reverse=True)
        return Listing(runs=tuple(ordered), problems=tuple(problems), duplicates=duplicates)

    def submit(self, data: bytes, samples: Mapping[str, bytes] | None = None) -> Submission:
        """Validate an uploaded results file (and its samples, task -> bytes) and store them; raise
        `ResultsError` with the reasons if refused.

        Only the bytes are used: the upload's own name never becomes a path. They are stored as
        uploaded (never re-indented, so the stored file has the size that was checked), and the run
        returned is the stored file read back (and its samples re-scored) as a listing reads it: "added"
        always means "shown". An identical run (same canonical content) is reported, not stored twice,
        also when the same run is uploaded several times at once; samples sent with a run that is already
        there are not added to it (they would change another submitter's row).
        """
        name = "the uploaded file"
        obj = parse_results_json(data, name=name)
        validate_results(obj, name=name, allow_unknown_tasks=False)
        samples = dict(samples or {})
        _check_upload_samples(obj, samples)
        digest = content_hash(obj)
        for listed in self.listing().runs:
            if listed.content_hash == digest:
                return Submission(run=listed, added=False, samples_ignored=bool(samples))
        rel = f"{UPLOADS_DIR}/{digest[:16]}_results.json"
        try:
            for task, blob in samples.items():  # the samples first: the results file makes the run visible
                where = self.root / f"{UPLOADS_DIR}/{digest[:16]}_samples_{task}.jsonl"
                create_bytes_atomic(where, blob, within=self.root)
            added = create_bytes_atomic(self.root / rel, data, within=self.root)
        except OSError as e:
            raise ResultsError(
                name,
                [f"could not store it in {self.root} ({e.strerror}); use a writable --results DIR"],
            ) from e
        except OutsideFolder as e:  # a link planted in the results folder
            raise ResultsError(name, [f"could not store it: {e}"]) from e
        _, run, problem = _read_file(self.root, rel, self.references()[0])
        if run is None or run.content_hash != digest:  # the file there is not this upload (changed, planted)
            found = problem or (f"it holds run {run.run_id}" if run else "it holds no results")
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

    def _format(self) -> str:
        """The index format, with the held reference data: other data means other verifications."""
        refs, _ = self.references()
        return _INDEX_FORMAT + ":" + ",".join(f"{r.name}={r.fingerprint}" for r in refs)

    def _connect(self) -> sqlite3.Connection:
        """Open the index; rebuild it if corrupt or of another format; in memory if the cache is read-only."""
        fmt_wanted = self._format()
        try:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.index_path, timeout=30)
        except (OSError, sqlite3.Error):
            return self._connect_fresh(":memory:", fmt_wanted)
        try:
            fmt = _index_format(db)
        except sqlite3.DatabaseError:  # not a database (e.g. truncated): start again
            db.close()
            self._discard_index()
            return self._connect_fresh(self.index_path, fmt_wanted)
        if fmt != fmt_wanted:
            with db:
                db.execute("DROP TABLE IF EXISTS files")
                db.execute("DROP TABLE IF EXISTS meta")
            _create(db, fmt_wanted)
        return db

    def _discard_index(self) -> None:
        """Delete the index and SQLite's side files; the next connection rebuilds it from the folder."""
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.index_path}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def _connect_fresh(where: str | Path, fmt: str) -> sqlite3.Connection:
        db = sqlite3.connect(where, timeout=30)
        _create(db, fmt)
        return db

    def _sync(self, db: sqlite3.Connection, refs: tuple[ReferenceData, ...]) -> None:
        """Bring the index in line with the folder: parse new and changed files (a results file or one
        of its samples), forget removed ones."""
        on_disk = dict(_scan(self.root))
        known = {
            p: (size, mtime, samples)
            for p, size, mtime, samples in db.execute("SELECT path, size, mtime_ns, samples FROM files")
        }
        for gone in known.keys() - on_disk.keys():
            db.execute("DELETE FROM files WHERE path = ?", (gone,))
        for rel, file_stamp in on_disk.items():
            samples = json.dumps(_samples_stamp(self.root, rel))
            if known.get(rel) == (*file_stamp, samples):
                continue
            digest, run, problem = _read_file(self.root, rel, refs)
            db.execute(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, samples, content_hash, run, problem)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rel, *file_stamp, samples, digest, run.to_json() if run else None, problem),
            )


def _create(db: sqlite3.Connection, fmt: str) -> None:
    with db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
            " samples TEXT, content_hash TEXT, run TEXT, problem TEXT)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (fmt,))


def _index_format(db: sqlite3.Connection) -> str | None:
    has_meta = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    return row[0] if row else None


def _scan(root: Path) -> Iterator[tuple[str, tuple[int, int]]]:
    """``(relative path, (size, mtime_ns))`` of every visible ``*.json`` file under ``root``.

    Hidden files and folders are skipped (atomic writes leave only hidden temporaries), and so is the
    reference data in ``datasets/``; symlinked folders are not followed.
    """
    for dirpath, dirnames, filenames in os.walk(root):
        top = Path(dirpath) == root
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not (top and d == DATASETS_DIR))
        for f in sorted(filenames):
            if f.startswith(".") or not f.endswith(".json"):
                continue
            full = Path(dirpath) / f
            with contextlib.suppress(OSError):
                st = full.stat()
                yield full.relative_to(root).as_posix(), (st.st_size, st.st_mtime_ns)


def _samples_files(root: Path, rel: str) -> dict[str, Path]:
    """Task -> the samples file of a dybench_pair task beside results file ``rel``
    (``<stem>_samples_<task>.jsonl`` for ``<stem>_results.json``)."""
    path = root / rel
    stem = path.name.removesuffix("_results.json")
    if stem == path.name:
        return {}
    found = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            m = SAMPLES_NAME.match(entry.name)
            if m and m.group("stem") == stem and is_pair_task(m.group("task")) and entry.is_file(follow_symlinks=False):
                found[m.group("task")] = Path(entry.path)
    return dict(sorted(found.items()))


def _samples_stamp(root: Path, rel: str) -> list[list]:
    """``[[task, size, mtime_ns], ...]`` of a results file's samples: a change re-reads the run."""
    out = []
    for task, path in _samples_files(root, rel).items():
        with contextlib.suppress(OSError):
            st = path.stat()
            out.append([task, st.st_size, st.st_mtime_ns])
    return out


def _read_samples(root: Path, files: Mapping[str, Path]) -> tuple[dict[str, TaskSamples], dict[str, str]]:
    """``(task -> samples, task -> why unreadable)``; sizes are checked before anything is read."""
    found, problems = {}, {}
    for task, path in files.items():
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        try:
            if (issue := samples_size_issue(path.stat().st_size, name)) is not None:
                raise SamplesError(issue)
            found[task] = read_samples(path.read_bytes(), task=task, name=name)
        except SamplesError as e:
            problems[task] = f"samples not readable: {e}"
        except OSError as e:
            problems[task] = f"samples not readable: {name} ({e.strerror})"
    return found, problems


def _check_upload_samples(obj: dict, samples: Mapping[str, bytes]) -> None:
    """Refuse uploaded samples that cannot be read, or that are of a task the results file does not hold."""
    issues = []
    groups = section(obj, "group_subtasks")
    tasks = set(obj["results"]) | {t for subtasks in groups.values() if isinstance(subtasks, list) for t in subtasks}
    for task, blob in samples.items():
        if not is_pair_task(task):
            issues.append(f"samples of {task!r}: dybench re-scores the dybench_pair tasks only; leave it out")
        elif task not in tasks:
            issues.append(f"samples of {task!r}, but the results file has no such task; send the run's own samples")
        else:
            try:
                read_samples(blob, task=task, name=f"the samples of {task}")
            except SamplesError as e:
                issues.append(str(e))
    if issues:
        raise ResultsError("the upload", issues)


def _read_file(
    root: Path, rel: str, refs: tuple[ReferenceData, ...] = ()
) -> tuple[str | None, RunRow | None, str | None]:
    """``(content hash, row, problem)`` for one file, its samples re-scored against ``refs``; JSON that is
    not a results file is ignored quietly.

    lmms-eval also writes other JSON next to results (``submissions/`` of some tasks): a file without
    a ``results`` key is neither a run nor a problem. One file never stops a listing: whatever goes
    wrong with it becomes its problem; an unreadable samples file only leaves its task unchecked.
    """
    path = root / rel
    try:
        if (issue := size_issue(path.stat().st_size)) is not None:
            return None, None, issue  # refused without reading it
        obj = parse_results_json(path.read_bytes(), name=rel)
        if "results" not in obj:
            return None, None, None
        validate_results(obj, name=rel, allow_unknown_tasks=True)
        origin: Origin = "uploaded" if rel.startswith(UPLOADS_DIR + "/") else "local"
        samples, sample_problems = _read_samples(root, _samples_files(root, rel))
        verification = verify_run(obj, samples, refs, sample_problems)
        run = run_from_results(obj, path=rel, origin=origin, verification=verification)
    except ResultsError as e:
        return None, None, "; ".join(e.issues)
    except OSError as e:
        return None, None, f"could not read it ({e.strerror})"
    except (ValueError, TypeError, OverflowError, RecursionError) as e:  # a case the checks above missed
        return None, None, f"could not be read ({type(e).__name__}: {str(e)[:200]})"
    return run.content_hash, run, None


def default_results_dir() -> Path:
    """The results folder that ships with dybench (the project's own baseline runs): ``results/`` of the
    leaderboard folder (``dybench.shipped``; ``leaderboard/results`` in a checkout, ``dybench/_leaderboard/results``
    in a wheel)."""
    folder = shipped_folder("leaderboard") / "results"
    if not folder.is_dir():
        raise FileNotFoundError(f"dybench's bundled results folder {folder} is missing; pass --results DIR")
    return folder
