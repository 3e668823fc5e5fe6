"""lmms-eval's logged samples (``--log_samples``) of dybench's pair tasks, read as data.

lmms-eval writes one ``<date>_samples_<task>.jsonl`` per task beside ``<date>_results.json``. Each
line is one evaluated document: ``doc_id``, ``target``, the model's response (``filtered_resps``, the
one the task scored; ``resps`` when only that is there) and, per metric, the record the task's
``process_results`` returned; for dybench_pair tasks that record is an ``ItemResult`` row (item and
pair id, category, relation, branch, gold, parsed answer). A stand-in document of a category the
data set lacks carries no record and counts only as a document.

Files come from uploads and from folders other people filled: bytes are bounded, every line is parsed
with ``parse_json``, every field is type-checked, and a bad file is a `SamplesError` naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args

from dybench.errors import UserError
from dybench.fileio import JSONInputError, parse_json, utf8_text
from dybench.records import CATEGORIES, Branch, Relation
from dybench.scoring import ItemResult

#: Largest samples file accepted (a 1,000-pair DyBench run logs a few MB).
MAX_SAMPLES_BYTES = 32 * 1024 * 1024
#: ``<stem>_samples_<task>.jsonl``, lmms-eval's name; the task part is a plain identifier.
SAMPLES_NAME = re.compile(r"^(?P<stem>.+)_samples_(?P<task>[A-Za-z0-9_]+)\.jsonl$")
_DEPTH = 16


class SamplesError(UserError, ValueError):
    """A samples file that cannot be read; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class PairSample:
    """One evaluated item of a dybench_pair task, as its samples file logged it."""

    item_id: str
    response: str
    """The response the task scored."""
    logged: ItemResult
    """The record the run's own scorer wrote: its gold and parsed answer, as the run saw them."""


@dataclass(frozen=True)
class TaskSamples:
    """One samples file of a dybench_pair task."""

    task: str
    documents: int
    """Lines (evaluated documents), stand-ins included: lmms-eval's ``n-samples.effective``."""
    items: tuple[PairSample, ...]


def samples_task(name: str) -> str | None:
    """The task of a samples file name (``..._samples_<task>.jsonl``), else None."""
    m = SAMPLES_NAME.match(name)
    return m.group("task") if m else None


def size_issue(n_bytes: int, name: str) -> str | None:
    """Why a samples file of this size is refused, or None."""
    if n_bytes <= MAX_SAMPLES_BYTES:
        return None
    return f"{name}: {n_bytes:,} bytes; a samples file may hold at most {MAX_SAMPLES_BYTES:,}"


def read_samples(data: bytes, *, task: str, name: str) -> TaskSamples:
    """Parse the bytes of one dybench_pair samples file; raise `SamplesError` for anything else."""
    if (issue := size_issue(len(data), name)) is not None:
        raise SamplesError(issue)
    try:
        text = utf8_text(data)
    except JSONInputError as e:
        raise SamplesError(f"{name}:{e.lineno}: {e.reason}; send the file lmms-eval wrote") from None
    documents, items, seen = 0, [], set()
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line, max_depth=_DEPTH)
        except JSONInputError as e:
            raise SamplesError(f"{name}:{lineno}: {e.reason}; send the file lmms-eval wrote") from None
        if not isinstance(row, dict):
            raise SamplesError(f"{name}:{lineno}: a sample is a JSON object, got {type(row).__name__}")
        documents += 1
        record = row.get("p_acc")
        if record is None:
            if any(k in row for k in ("i_acc", "acc")):
                raise SamplesError(f"{name}:{lineno}: not a dybench_pair sample (no `p_acc` record); only those count")
            continue  # a stand-in document: no item behind it
        where = f"{name}:{lineno}"
        sample = PairSample(
            item_id=_text(record, "item_id", where), response=_response(row, where), logged=_item_result(record, where)
        )
        if sample.item_id in seen:
            raise SamplesError(f"{where}: item {sample.item_id!r} is logged twice; send the file lmms-eval wrote")
        seen.add(sample.item_id)
        items.append(sample)
    return TaskSamples(task=task, documents=documents, items=tuple(items))


def _response(row: dict[str, Any], where: str) -> str:
    """The scored response: lmms-eval logs it as a string, or nested in one-element lists."""
    value = row.get("filtered_resps", row.get("resps"))
    for _ in range(2):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
    if not isinstance(value, str):
        raise SamplesError(f"{where}: `filtered_resps` must be the model's response (text), got {value!r:.60}")
    return value


def _text(record: Any, key: str, where: str) -> str:
    value = record.get(key) if isinstance(record, dict) else None
    if not isinstance(value, str) or not value:
        raise SamplesError(f"{where}: `p_acc.{key}` must be text, got {value!r:.60}")
    return value


def _choice(record: dict, key: str, allowed: tuple[str, ...], where: str) -> str:
    value = record.get(key)
    if value not in allowed:
        raise SamplesError(f"{where}: `p_acc.{key}` must be one of {', '.join(allowed)}, got {value!r:.60}")
    return value


def _item_result(record: dict, where: str) -> ItemResult:
    pred = record.get("pred")
    if pred is not None and not isinstance(pred, str):
        raise SamplesError(f"{where}: `p_acc.pred` must be text or null, got {pred!r:.60}")
    missing = record.get("missing", False)
    if not isinstance(missing, bool):
        raise SamplesError(f"{where}: `p_acc.missing` must be true or false, got {missing!r:.60}")
    return ItemResult(
        item_id=_text(record, "item_id", where),
        pair_id=_text(record, "pair_id", where),
        category=_choice(record, "category", CATEGORIES, where),  # type: ignore[arg-type]
        relation=_choice(record, "relation", get_args(Relation), where),  # type: ignore[arg-type]
        branch=_choice(record, "branch", get_args(Branch), where),  # type: ignore[arg-type]
        transform=_text(record, "transform", where),  # type: ignore[arg-type]
        gold=_text(record, "gold", where),
        pred=pred,
        missing=missing,
    )
