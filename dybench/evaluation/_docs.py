"""The documents lmms-eval iterates over for the dybench_pair and timeblind tasks.

A document is a flat dict (lmms-eval keeps documents in a ``datasets.Dataset``). Every video path is
absolute and checked to exist when the documents are made, so a broken data set fails before any
model runs, with the item and the fix named.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from dybench.evaluation._locations import PAIRS, TIMEBLIND, DataLocation
from dybench.evaluation._task_prompts import TIMEBLIND_SUFFIX
from dybench.fileio import JSONInputError, parse_json, utf8_text
from dybench.pairs import PairsDataset, in_pair_order
from dybench.records import CATEGORIES

log = logging.getLogger(__name__)

PLACEHOLDER = "placeholder"
"""Document field: True on the stand-in document of a category the data set does not have."""


def pair_docs(category: str | None = None, folder: str | Path | None = None) -> list[dict]:
    """The pairs dataset's items (all, or one category's) as documents: the item's fields plus
    ``video_path`` (absolute) and ``placeholder`` (False). The two items of a pair are adjacent
    (pairs in the order of their first item), so lmms-eval's ``--limit`` cuts whole pairs.

    lmms-eval cannot run a task without documents, and a pairs dataset need not hold every category
    (DyBench's own has three of the five). ``dybench eval`` leaves such a category out of the run
    (:func:`pair_categories`); under lmms-eval's own command line it gets one stand-in document, a copy
    of the dataset's first item marked ``placeholder``: the model answers it, nothing scores it, and the
    task reports no metrics (a warning says so).
    """
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; the categories are {', '.join(CATEGORIES)}")
    root = PAIRS.folder(folder)
    everything = _all_pair_docs(root, PairsDataset(root).stamp())
    docs = [d for d in everything if category is None or d["category"] == category]
    if not docs:
        log.warning("%s has no %s items: the task of that category is skipped (it reports no metrics)", root, category)
        docs = [everything[0] | {PLACEHOLDER: True}]
    return docs


def pair_categories(folder: str | Path | None = None) -> set[str]:
    """The categories the pairs dataset has items of."""
    root = PAIRS.folder(folder)
    return {d["category"] for d in _all_pair_docs(root, PairsDataset(root).stamp())}


@lru_cache(maxsize=4)
def _all_pair_docs(root: Path, stamp: tuple) -> list[dict]:
    """Every item's document, read and checked once per dataset version (a group's five subtasks
    each ask for theirs; ``stamp``, :meth:`PairsDataset.stamp`, keys the cache). Callers must not modify
    the dicts."""
    try:
        items = in_pair_order(PairsDataset(root).items())
    except ValueError as e:
        raise PAIRS.error(str(e).rstrip(".")) from e
    if not items:
        raise PAIRS.error(f"{root} holds no items")
    docs = [item.to_row() | {"video_path": str(root / item.video), PLACEHOLDER: False} for item in items]
    _require_files(PAIRS, [(d["item_id"], Path(d["video_path"])) for d in docs], "rebuild it with `dybench build`")
    return docs


def timeblind_docs(folder: str | Path | None = None) -> list[dict]:
    """TimeBlind's ``data.jsonl`` (or a JSON list) as documents: ``index``, ``video_path`` (absolute),
    ``question``, ``type``, ``answer``.

    ``video_path`` in the file may be relative to the TimeBlind folder (``videos/vid_00000_0.mp4``) or to
    the folder above it (``TimeBlind/videos/...``, as the official README writes it).
    """
    root = TIMEBLIND.folder(folder)
    data = root / "data.jsonl"
    if not data.is_file():
        raise TIMEBLIND.error(f"{data} does not exist")
    rows = _read_json_rows(data, TIMEBLIND)
    if not rows:
        raise TIMEBLIND.error(f"{data} holds no questions")
    docs: list[dict[str, Any]] = []
    for n, row in enumerate(rows, 1):
        missing = [k for k in ("index", "video_path", "question", "type") if row.get(k) is None]
        if missing:
            raise TIMEBLIND.error(f"{data}:{n}: missing {', '.join(missing)}")
        if type(row["index"]) is not int:
            raise TIMEBLIND.error(f"{data}:{n}: index must be an integer, got {row['index']!r:.60}")
        if not isinstance(row["type"], str) or row["type"] not in TIMEBLIND_SUFFIX:
            raise TIMEBLIND.error(f"{data}:{n}: type must be one of {', '.join(TIMEBLIND_SUFFIX)}, got {row['type']!r}")
        rel = Path(str(row["video_path"]))
        candidates = [root / rel, root.parent / rel, root / "videos" / rel.name]
        video = next((c for c in candidates if c.is_file()), candidates[0])
        docs.append(
            {
                "index": int(row["index"]),
                "video_path": str(video),
                "question": str(row["question"]),
                "type": str(row["type"]),
                "answer": str(row.get("answer") or ""),
            }
        )
    _require_files(TIMEBLIND, [(str(d["index"]), Path(d["video_path"])) for d in docs], "download the videos")
    return docs


def _read_json_rows(path: Path, location: DataLocation) -> list[dict]:
    """A JSON list or JSON Lines file of objects (TimeBlind's own loader accepts both)."""
    try:
        text = utf8_text(path.read_bytes())
        if text.lstrip().startswith("["):
            rows = parse_json(text)
        else:
            rows = []
            for lineno, line in enumerate(text.split("\n"), 1):
                try:
                    rows += [parse_json(line)] if line.strip() else []
                except JSONInputError as e:
                    raise JSONInputError(e.reason, lineno) from None
    except JSONInputError as e:
        raise location.error(f"{path}:{e.lineno or 1}: {e.reason}") from None
    if not all(isinstance(r, dict) for r in rows):
        raise location.error(f"{path}: every record must be a JSON object")
    return rows


def _require_files(location: DataLocation, files: list[tuple[str, Path]], fix: str) -> None:
    """Raise one error naming how many documents lack their video, and the first few."""
    missing = [(key, path) for key, path in files if not path.exists()]
    if missing:
        shown = "; ".join(f"{key}: {path}" for key, path in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise location.error(f"{len(missing)} video(s) are missing ({shown}{more}); {fix}")
