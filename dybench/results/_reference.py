"""Reference data the leaderboard holds: pairs datasets whose gold answers submitted samples are scored on.

Re-scoring a run's samples against the gold answers logged *in those samples* proves only arithmetic:
that the claimed numbers follow from the per-item records. Re-scoring them against a pairs dataset the
leaderboard holds proves that the answers were scored on that data. A dataset is held when it is

- registered in the results folder: ``<results>/datasets/<name>/`` holding a pairs dataset's items and,
  for a build, its manifest (``dybench.pairs.PairsDataset``; the videos are not needed);
- or passed to ``dybench leaderboard --data DIR`` / ``dybench compare --data DIR`` (name: the folder's).

A dataset is identified by its name and its fingerprint, :meth:`PairsDataset.fingerprint`. A run's
samples are matched to the held dataset that holds every item they answer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dybench.pairs import PAIRS_JSONL, PAIRS_PARQUET, PairsDataset, in_pair_order
from dybench.records import Item

DATASETS_DIR = "datasets"


@dataclass(frozen=True)
class ReferenceData:
    """One pairs dataset the leaderboard holds."""

    name: str
    """The dataset's folder name."""
    fingerprint: str
    """:meth:`dybench.pairs.PairsDataset.fingerprint`: ``manifest:<sha256>``, or ``items:<sha256>`` without a
    manifest."""
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
    """What changes when any reference folder's items or manifest change (:meth:`PairsDataset.stamp`, cheap)."""
    parts = [(str(folder.resolve()), PairsDataset(folder).stamp()) for folder in folders]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def load_references(folders: Sequence[Path]) -> tuple[tuple[ReferenceData, ...], tuple[ReferenceProblem, ...]]:
    """Read every folder's items; a folder that is not a readable pairs dataset becomes a problem."""
    refs, problems = [], []
    for folder in folders:
        dataset = PairsDataset(folder)
        if not dataset.exists():
            problems.append(ReferenceProblem(str(folder), f"no {PAIRS_JSONL} or {PAIRS_PARQUET}; not a pairs dataset"))
            continue
        try:
            items = in_pair_order(dataset.items())
            fingerprint = dataset.fingerprint()
        except (OSError, ValueError) as e:  # PairsError is a ValueError
            problems.append(ReferenceProblem(str(folder), str(e)[:300]))
            continue
        refs.append(ReferenceData(folder.name, fingerprint, {it.item_id: it for it in items}))
    return tuple(refs), tuple(problems)
