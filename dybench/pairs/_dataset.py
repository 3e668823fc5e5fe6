"""The pairs dataset on disk (Contract 2): ``pairs.parquet``, ``pairs.jsonl``, ``videos/``, ``manifest.json``.

:class:`PairsDataset` is the one home of that layout: every package finds a dataset's files, reads its
items and manifest, and identifies its version through it, so no file name is spelled elsewhere.

Originals in ``videos/`` are hard links to the build's sources unless it was built with ``--copy``, so
a source edited in place edits the dataset. :meth:`PairsDataset.items`, the one reader every consumer
uses (``dybench score``, the lmms-eval tasks, the trainer, the leaderboard), therefore checks each
video its items name against the manifest's sha256. To stay cheap it hashes only files whose size or
modification time differ from ``.dybench/file-stats.json``, the stat of each file when it was last hashed.

pyarrow loads only when a parquet file is read or written (``pairs.jsonl`` is read first).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dybench.errors import UserError
from dybench.fileio import (
    JSONInputError,
    atomic_paths,
    json_text,
    jsonl_text,
    parse_json,
    read_jsonl,
    relative_path,
    sha256_file,
    write_json_atomic,
)
from dybench.records import Item

if TYPE_CHECKING:
    import pyarrow as pa

PAIRS_PARQUET = "pairs.parquet"
PAIRS_JSONL = "pairs.jsonl"
MANIFEST = "manifest.json"
VIDEOS = "videos"
FORMAT = "dybench-pairs/1"
#: Size, modification time and sha256 of each video when it was last hashed (not part of the dataset).
FILE_STATS = ".dybench/file-stats.json"
#: One stamp per render (``dybench build``): what it was made from (sources, encoder, a swap's frame ranges).
STAMPS = ".dybench/renders"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LFS_POINTER = b"version https://git-lfs.github.com/spec/"


@cache
def _schema() -> pa.Schema:
    """The columns of ``pairs.parquet`` (Contract 2)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("item_id", pa.string()),
            ("pair_id", pa.string()),
            ("branch", pa.string()),
            ("transform", pa.string()),
            ("relation", pa.string()),
            ("category", pa.string()),
            ("video", pa.string()),
            ("question", pa.string()),
            ("options", pa.list_(pa.string())),
            ("answer", pa.string()),
            ("source_id", pa.string()),
        ]
    )


class PairsError(UserError, ValueError):
    """A folder that is not a readable pairs dataset."""


class PairsChanged(PairsError):
    """Videos of a pairs dataset no longer match its manifest."""


@dataclass(frozen=True, init=False)
class PairsDataset:
    """A pairs dataset folder (Contract 2): where its files are, its items, its manifest, and what
    identifies its version. Making one touches no file; each method reads what it needs."""

    root: Path
    """The folder ``dybench build --out`` wrote."""

    LAYOUT: ClassVar[str] = f"{PAIRS_JSONL} (or {PAIRS_PARQUET}) and {VIDEOS}/"
    """The files a pairs dataset folder holds, for messages that tell a user what to pass."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def jsonl(self) -> Path:
        """``pairs.jsonl``: the items, one JSON object a line (lmms-eval's json loader reads it)."""
        return self.root / PAIRS_JSONL

    @property
    def parquet(self) -> Path:
        """``pairs.parquet``: the same items as a table."""
        return self.root / PAIRS_PARQUET

    @property
    def manifest_path(self) -> Path:
        """``manifest.json``: tool version, parameters, per-file sha256, counts, per-item errors."""
        return self.root / MANIFEST

    @property
    def videos(self) -> Path:
        """``videos/``: originals (linked or copied) and counterfactual renders."""
        return self.root / VIDEOS

    def items_file(self) -> Path | None:
        """The file the items are read from: ``pairs.jsonl``, else ``pairs.parquet``; None without either."""
        return next((f for f in (self.jsonl, self.parquet) if f.is_file()), None)

    def exists(self) -> bool:
        """Whether the folder holds items (a folder without them is not a pairs dataset)."""
        return self.items_file() is not None

    def items(self) -> list[Item]:
        """The items (``pairs.jsonl``, else ``pairs.parquet``), after checking that the videos they name
        still match the manifest (:func:`check_videos`).

        Raises :class:`PairsError` naming the folder (or the row) and the command that makes a pairs dataset.
        """
        source = self.items_file()
        if source is None:
            raise PairsError(
                f"{self.root}: no {PAIRS_JSONL} or {PAIRS_PARQUET}; make a pairs dataset with "
                f"`dybench synth --out videos/ && dybench build --src videos/ --out {self.root}`"
            )
        if source == self.jsonl:
            rows = read_jsonl(source)
        else:
            import pyarrow.parquet as pq

            rows = pq.read_table(source).to_pylist()
        items = []
        for i, row in enumerate(rows, 1):
            try:
                items.append(Item.from_row(row))
            except (KeyError, TypeError) as e:
                raise PairsError(
                    f"{source}:{i}: not a pairs row ({e}); rebuild the dataset with `dybench build`"
                ) from e
        check_videos(self, (item.video for item in items))
        return items

    def manifest(self) -> dict[str, Any] | None:
        """The manifest a build wrote; None when there is none.

        Raises :class:`PairsError` for a manifest dybench did not write: not JSON, another format, or a
        ``files`` entry that is not a relative path inside the dataset with a sha256. Nothing in it is
        trusted then.
        """
        path = self.manifest_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as e:
            raise PairsError(f"{path}: cannot read it ({e})") from e
        try:
            manifest = parse_json(text)
        except JSONInputError as e:
            raise PairsError(f"{path}: {e}") from e
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise PairsError(f"{path}: not a {FORMAT} manifest")
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise PairsError(f"{path}: its files are not a mapping of paths to sha256")
        for rel, digest in files.items():
            if not isinstance(digest, str) or not _SHA256.match(digest):
                raise PairsError(f"{path}: files[{rel!r}] is not a sha256")
            try:
                ok = relative_path(rel) == rel
            except ValueError:
                ok = False
            if not ok:
                raise PairsError(f"{path}: files lists {rel!r}, which is not a path inside the dataset")
        return manifest

    def fingerprint(self) -> str:
        """What identifies this version of the dataset: ``manifest:<sha256 of manifest.json>`` (which holds
        the sha256 of every file of the build), else ``items:<sha256 of the items file>``.

        Raises :class:`PairsError` when the folder holds no items.
        """
        if self.manifest_path.is_file():
            return f"manifest:{sha256_file(self.manifest_path)}"
        source = self.items_file()
        if source is None:
            raise PairsError(f"{self.root}: no {PAIRS_JSONL} or {PAIRS_PARQUET}, nothing to identify")
        return f"items:{sha256_file(source)}"

    def stamp(self) -> tuple[tuple[str, int, int], ...]:
        """What changes whenever the items or the manifest change, without reading them: the name, size
        and modification time of each of those files that exists (for caches; :meth:`fingerprint` hashes)."""
        stamp = []
        for path in (self.jsonl, self.parquet, self.manifest_path):
            with contextlib.suppress(OSError):
                st = path.stat()
                stamp.append((path.name, st.st_size, st.st_mtime_ns))
        return tuple(stamp)


def write_items(
    out: str | Path, items: list[Item], *, manifest: Callable[[dict[str, str]], dict] | None = None
) -> None:
    """Write ``pairs.parquet`` and ``pairs.jsonl`` (rows in the given order) and, when given, the
    manifest that ``manifest(sha256 of each pairs file)`` returns.

    All go to temporaries first and are moved into place together, the manifest last, only once every
    one is written: a failed write (a full disk, a file size limit) leaves the previous set whole.
    """
    import pyarrow.parquet as pq

    out = Path(out)
    jsonl = jsonl_text([item.to_row() for item in items]).encode("utf-8")
    names = [PAIRS_PARQUET, PAIRS_JSONL] + ([MANIFEST] if manifest is not None else [])
    with atomic_paths(*(out / name for name in names), within=out) as temps:
        pq.write_table(_table(jsonl), temps[0])
        temps[1].write_bytes(jsonl)
        if manifest is not None:
            hashes = {PAIRS_PARQUET: sha256_file(temps[0]), PAIRS_JSONL: sha256_file(temps[1])}
            temps[2].write_text(json_text(manifest(hashes)), encoding="utf-8")


def stamp_path(out: Path, output: str) -> Path:
    """The stamp of the render at ``output``: a flat name, so no output's path can clash with a stamp's."""
    return out / STAMPS / f"{hashlib.sha256(output.encode()).hexdigest()[:32]}.json"


def items_table(items: list[Item]) -> pa.Table:
    """The items as the Arrow table ``pairs.parquet`` holds (without pandas, see :func:`_table`)."""
    return _table(jsonl_text([item.to_row() for item in items]).encode("utf-8"))


def _table(jsonl: bytes) -> pa.Table:
    """The rows of ``pairs.jsonl`` as an Arrow table, parsed by Arrow's JSON reader: converting Python
    objects (``pa.Table.from_pylist``) imports pandas, which costs a build 0.4 s and 56 MB."""
    import pyarrow as pa
    import pyarrow.json as pj

    if not jsonl:
        return pa.Table.from_batches([], schema=_schema())  # (_schema().empty_table() imports pandas)
    options = pj.ParseOptions(explicit_schema=_schema(), unexpected_field_behavior="error")
    return pj.read_json(pa.py_buffer(jsonl), read_options=pj.ReadOptions(block_size=len(jsonl)), parse_options=options)


def record_file_stats(pairs_dir: str | Path, hashes: dict[str, str], *, unhashed: Iterable[str] = ()) -> None:
    """Remember the size and modification time of each file whose sha256 was just computed, so that
    :func:`check_videos` hashes only files that changed since. Files in ``unhashed`` (listed, but not
    hashed now) keep what was remembered of them, if it is for the same sha256."""
    root = Path(pairs_dir)
    old, unhashed = _read_file_stats(root), set(unhashed)
    stats = {}
    for rel, digest in hashes.items():
        if rel in unhashed:
            if isinstance(old.get(rel), list) and old[rel][2:] == [digest]:
                stats[rel] = old[rel]
            continue
        with contextlib.suppress(OSError):
            st = (root / rel).stat()
            stats[rel] = [st.st_size, st.st_mtime_ns, digest]
    write_json_atomic(root / FILE_STATS, dict(sorted(stats.items())), within=root)


def check_videos(dataset: PairsDataset, videos: Iterable[str]) -> None:
    """Raise :class:`PairsChanged` when a video the manifest lists no longer has its sha256 there.

    Missing videos, or a dataset without a manifest dybench wrote, are not this check's business
    (readers that open the videos report missing ones). A file is hashed only when its size or
    modification time differ from what :func:`record_file_stats` saw; a file that is hashed and
    matches is remembered again, when the folder is writable.
    """
    root = dataset.root
    try:
        manifest = dataset.manifest()
    except PairsError:
        return  # nothing dybench can vouch for to compare with
    files = manifest["files"] if manifest else None
    if not files:
        return
    stats = _read_file_stats(root)
    changed: list[str] = []
    rehashed: dict[str, list] = {}
    for rel in sorted(set(videos)):
        expected = files.get(rel)
        if expected is None:
            continue
        try:
            st = (root / rel).stat()
        except OSError:
            continue
        if stats.get(rel) == [st.st_size, st.st_mtime_ns, expected]:
            continue
        if sha256_file(root / rel) != expected:
            changed.append(rel)
        else:
            rehashed[rel] = [st.st_size, st.st_mtime_ns, expected]  # as it was before hashing
    if changed:
        pointers = [rel for rel in changed if _is_lfs_pointer(root / rel)]
        if pointers:
            raise PairsChanged(
                f"{root}: {len(pointers)} video(s) are Git LFS pointers, not videos ({_listed(pointers)}): a clone "
                "of a dataset repository whose videos were not fetched. Run `git lfs pull` in it, or download the "
                "repository with `hf download REPO --repo-type dataset --local-dir DIR`"
            )
        raise PairsChanged(
            f"{root}: {len(changed)} video(s) changed since the build (their sha256 no longer matches "
            f"{MANIFEST}): {_listed(changed)}. Originals are hard links to the build's sources, so a source edited "
            "in place edits the dataset; run `dybench build` again (with --copy the dataset keeps its own copies)"
        )
    if rehashed:
        with contextlib.suppress(OSError, UserError):  # a read-only dataset is simply hashed again next time
            write_json_atomic(root / FILE_STATS, dict(sorted({**stats, **rehashed}.items())), within=root)


def _listed(paths: list[str]) -> str:
    return ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


def _is_lfs_pointer(path: Path) -> bool:
    """Whether ``path`` holds a Git LFS pointer (what a clone has in place of a file it did not fetch)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(_LFS_POINTER)) == _LFS_POINTER
    except OSError:
        return False


def _read_file_stats(root: Path) -> dict[str, list]:
    try:
        stats = parse_json((root / FILE_STATS).read_bytes())
    except (OSError, JSONInputError):
        return {}
    return stats if isinstance(stats, dict) else {}


def load_items(pairs_dir: str | Path) -> list[Item]:
    """``PairsDataset(pairs_dir).items()``."""
    return PairsDataset(pairs_dir).items()


def read_manifest(pairs_dir: str | Path) -> dict[str, Any] | None:
    """``PairsDataset(pairs_dir).manifest()``."""
    return PairsDataset(pairs_dir).manifest()


def in_pair_order(items: Iterable[Item]) -> list[Item]:
    """``items`` with each pair's items adjacent, pairs in the order of their first item (else file order).

    The order of the dybench_pair tasks' documents, so lmms-eval's ``--limit`` N evaluates the first N of
    this list and cuts at most one pair; the leaderboard checks a run's samples against it.
    """
    items = list(items)
    rank = {pid: n for n, pid in reversed(list(enumerate(it.pair_id for it in items)))}
    return sorted(items, key=lambda it: rank[it.pair_id])  # stable: a pair's items in file order


def group_pairs(items: list[Item]) -> dict[str, dict[str, Item]]:
    """pair_id -> {branch: item}; a pair may miss a branch when a dataset was filtered."""
    pairs: dict[str, dict[str, Item]] = defaultdict(dict)
    for item in items:
        pairs[item.pair_id][item.branch] = item
    return dict(pairs)
