"""Reference data the leaderboard holds: pairs datasets whose gold answers submitted samples are scored on.

Re-scoring a run's samples against the gold answers logged *in those samples* proves only arithmetic:
that the claimed numbers follow from the per-item records. Re-scoring them against a pairs dataset the
leaderboard holds proves that the answers were scored on that data. A dataset is held when it is

- registered in the results folder: ``<results>/datasets/<name>/`` holding ``pairs.jsonl`` (or
  ``pairs.parquet``) and, for a build, its ``manifest.json`` (the videos are not needed);
- or passed to ``dybench leaderboard --data DIR`` / ``dybench compare --data DIR`` (name: the folder's).

A dataset is identified by its name and its fingerprint: the sha256 of ``manifest.json`` (which holds
the sha256 of every file of the build), or, for a folder without a manifest, the sha256 of the items
file itself. A run's samples are matched to the held dataset that holds every item they answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dybench.fileio import sha256_file
from dybench.records import Item

DATASETS_DIR = "datasets"
_ITEMS_FILES = ("pairs.jsonl", "pairs.parquet")
_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ReferenceData:
    """One pairs dataset the leaderboard holds."""

    name: str
    """The dataset's folder name."""
    fingerprint: str
    """``manifest:<sha256 of manifest.json>``, or ``items:<sha256 of pairs.jsonl>`` without a manifest."""
    items: dict[str, Item]
    """item_id -> item (gold answers, options, pair, category), in the order of the tasks' documents
    (``dybench.pairs.in_pair_order``): a run with ``--limit`` N evaluated the first N of a task's items."""

    @property
    def short(self) -> str:
        """``name (manifest 1a2b3c4d5e6f)``: how a label names it."""
        kind, digest = self.fingerprint.split(":", 1)
        return f"{self.name} ({kind} {digest[:12]})"


@dataclass(frozen=True)
class ReferenceProblem:
    """A folder offered as reference data that could not be read."""

    path: str
    message: str


def reference_folders(results_dir: str | os.PathLike, extra: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """The folders to read reference data from: ``<results>/datasets/*/``, then ``extra`` in order."""
    registered = Path(results_dir) / DATASETS_DIR
    found = sorted(p for p in registered.iterdir() if p.is_dir()) if registered.is_dir() else []
    found = [p for p in found if not p.name.startswith(".")]
    return [*found, *(Path(p) for p in extra)]


def stamp(folders: Sequence[Path]) -> str:
    """What changes when any reference folder's items or manifest change (size and mtime, cheap)."""
    parts = []
    for folder in folders:
        for name in (*_ITEMS_FILES, _MANIFEST):
            with contextlib.suppress(OSError):
                st = (folder / name).stat()
                parts.append(f"{folder.resolve()}/{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def load_references(folders: Sequence[Path]) -> tuple[tuple[ReferenceData, ...], tuple[ReferenceProblem, ...]]:
    """Read every folder's items; a folder that is not a readable pairs dataset becomes a problem."""
    from dybench.pairs import in_pair_order, load_items  # pyarrow: only when reference data is read

    refs, problems = [], []
    for folder in folders:
        items_file = next((folder / n for n in _ITEMS_FILES if (folder / n).is_file()), None)
        if items_file is None:
            problems.append(ReferenceProblem(str(folder), f"no {' or '.join(_ITEMS_FILES)}; not a pairs dataset"))
            continue
        try:
            items = in_pair_order(load_items(folder))
            manifest = folder / _MANIFEST
            fingerprint = (
                f"manifest:{sha256_file(manifest)}" if manifest.is_file() else f"items:{sha256_file(items_file)}"
            )
        except (OSError, ValueError) as e:  # PairsError is a ValueError
            problems.append(ReferenceProblem(str(folder), str(e)[:300]))
            continue
        refs.append(ReferenceData(folder.name, fingerprint, {it.item_id: it for it in items}))
    return tuple(refs), tuple(problems)
