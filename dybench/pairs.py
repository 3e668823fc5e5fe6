"""The pairs dataset on disk (Contract 2): ``pairs.parquet``, ``pairs.jsonl``, ``videos/``, ``manifest.json``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dybench.errors import UserError
from dybench.fileio import atomic_path, read_jsonl, write_jsonl_atomic
from dybench.records import Item

PAIRS_PARQUET = "pairs.parquet"
PAIRS_JSONL = "pairs.jsonl"
MANIFEST = "manifest.json"
VIDEOS = "videos"
FORMAT = "dybench-pairs/1"

SCHEMA = pa.schema(
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


def write_items(out: str | Path, items: list[Item]) -> None:
    """Write ``pairs.parquet`` and ``pairs.jsonl`` atomically, rows in the given order."""
    out = Path(out)
    rows = [item.to_row() for item in items]
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    with atomic_path(out / PAIRS_PARQUET) as tmp:
        pq.write_table(table, tmp)
    write_jsonl_atomic(out / PAIRS_JSONL, rows)


def load_items(pairs_dir: str | Path) -> list[Item]:
    """Read a pairs dataset's items (``pairs.jsonl``, else ``pairs.parquet``).

    Raises :class:`PairsError` naming the folder and the command that makes a pairs dataset.
    """
    pairs_dir = Path(pairs_dir)
    jsonl, parquet = pairs_dir / PAIRS_JSONL, pairs_dir / PAIRS_PARQUET
    if jsonl.is_file():
        rows = read_jsonl(jsonl)
        source = jsonl
    elif parquet.is_file():
        rows = pq.read_table(parquet).to_pylist()
        source = parquet
    else:
        raise PairsError(
            f"{pairs_dir}: no {PAIRS_JSONL} or {PAIRS_PARQUET}; make a pairs dataset with "
            "`dybench synth --out videos/ && dybench build --src videos/ --out " + str(pairs_dir) + "`"
        )
    items = []
    for i, row in enumerate(rows, 1):
        try:
            items.append(Item.from_row(row))
        except (KeyError, TypeError) as e:
            raise PairsError(f"{source}:{i}: not a pairs row ({e}); rebuild the dataset with `dybench build`") from e
    return items


def group_pairs(items: list[Item]) -> dict[str, dict[str, Item]]:
    """pair_id -> {branch: item}; a pair may miss a branch when a dataset was filtered."""
    pairs: dict[str, dict[str, Item]] = defaultdict(dict)
    for item in items:
        pairs[item.pair_id][item.branch] = item
    return dict(pairs)
