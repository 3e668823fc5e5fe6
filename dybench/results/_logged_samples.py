"""lmms-eval's logged samples (``--log_samples``), read as data: the one reader of samples files.

lmms-eval writes one ``<date>_samples_<task>.jsonl`` per task beside ``<date>_results.json``. Each
line is one evaluated document: ``doc_id``, ``target``, the model's response (:func:`scored_response`
says which of the logged ones was scored) and, per metric, the record the task's ``process_results``
returned; for dybench_pair tasks that record is an ``ItemResult`` row (item and pair id, category,
relation, branch, gold, parsed answer). A stand-in document of a category the data set lacks carries
no record and counts only as a document.

Offline re-scoring (``dybench.evaluation.predictions_from_samples``), the leaderboard's verification,
``dybench compare`` and ``dybench reproduce``'s report all read samples here (:func:`sample_rows`,
:func:`read_samples`), so they score the same response of every line.

Files come from uploads and from folders other people filled: every line is parsed with ``parse_json``,
every field is type-checked, and a bad file is a `SamplesError` naming the line; :func:`read_samples`
also bounds the bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_args

from dybench.errors import UserError
from dybench.fileio import JSONInputError, parse_json, utf8_text
from dybench.records import CATEGORIES, RELATIONS, Branch
from dybench.scoring import ItemResult

#: Largest samples file accepted (a 1,000-pair DyBench run logs a few MB).
MAX_SAMPLES_BYTES = 32 * 1024 * 1024
#: ``<stem>_samples_<task>.jsonl``, lmms-eval's name; the task part is a plain identifier.
SAMPLES_NAME = re.compile(r"^(?P<stem>.+)_samples_(?P<task>[A-Za-z0-9_]+)\.jsonl$")
_DEPTH = 16
_Name = TypeVar("_Name", bound=str)


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


def sample_rows(data: bytes, *, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each logged sample of a samples file's bytes, as ``(where, row)``: ``<name>:<line>`` and the line's
    JSON object. Raises `SamplesError` for text that is not UTF-8 or a line that is not a JSON object."""
    try:
        text = utf8_text(data)
    except JSONInputError as e:
        raise SamplesError(f"{name}:{e.lineno}: {e.reason}; send the file lmms-eval wrote") from None
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line, max_depth=_DEPTH)
        except JSONInputError as e:
            raise SamplesError(f"{name}:{lineno}: {e.reason}; send the file lmms-eval wrote") from None
        if not isinstance(row, dict):
            raise SamplesError(f"{name}:{lineno}: a sample is a JSON object, got {type(row).__name__}")
        yield f"{name}:{lineno}", row


def scored_response(row: Mapping[str, Any], where: str) -> str:
    """The response lmms-eval's metrics scored for one logged sample: ``filtered_resps``, else ``resps``.

    Why ``filtered_resps``: lmms-eval 0.7.3's evaluator (``_process_document_results`` in
    ``lmms_eval/evaluator.py``) calls the task's ``process_results(doc, [req.filtered_resps[filter_key]
    ...])``, so every metric, dybench's records included, is computed from the response *after* the task's
    filter pipeline (``take_first``, a regex extraction...) and after ``reasoning_tags`` stripping. It logs
    that response as ``filtered_resps``, and as ``resps`` the one before the reasoning tags were stripped
    (or the model's raw output), which a filter or the tags may have changed. ``resps`` is read only
    when ``filtered_resps`` is absent: ``dybench eval`` leaves ``resps`` out when the two are equal.

    lmms-eval logs each as a one-element list per request (``resps`` as a list of the model's outputs
    inside it); one or two levels of one-element lists are unwrapped. Anything but text is a `SamplesError`.
    """
    key = "filtered_resps" if "filtered_resps" in row else "resps"
    value = row.get(key)
    for _ in range(2):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
    if not isinstance(value, str):
        raise SamplesError(f"{where}: `{key}` must be the model's response (text), got {value!r:.60}")
    return value


def read_samples(data: bytes, *, task: str, name: str) -> TaskSamples:
    """Parse the bytes of one dybench_pair samples file; raise `SamplesError` for anything else."""
    if (issue := size_issue(len(data), name)) is not None:
        raise SamplesError(issue)
    documents, items, seen = 0, [], set()
    for where, row in sample_rows(data, name=name):
        documents += 1
        record = row.get("p_acc")
        if record is None:
            if any(k in row for k in ("i_acc", "acc")):
                raise SamplesError(f"{where}: not a dybench_pair sample (no `p_acc` record); only those count")
            continue  # a stand-in document: no item behind it
        sample = PairSample(
            item_id=_text(record, "item_id", where),
            response=scored_response(row, where),
            logged=_item_result(record, where),
        )
        if sample.item_id in seen:
            raise SamplesError(f"{where}: item {sample.item_id!r} is logged twice; send the file lmms-eval wrote")
        seen.add(sample.item_id)
        items.append(sample)
    return TaskSamples(task=task, documents=documents, items=tuple(items))


def _text(record: Any, key: str, where: str) -> str:
    value = record.get(key) if isinstance(record, dict) else None
    if not isinstance(value, str) or not value:
        raise SamplesError(f"{where}: `p_acc.{key}` must be text, got {value!r:.60}")
    return value


def _choice(record: dict, key: str, allowed: tuple[_Name, ...], where: str) -> _Name:
    value = record.get(key)
    for name in allowed:
        if value == name:
            return name
    raise SamplesError(f"{where}: `p_acc.{key}` must be one of {', '.join(allowed)}, got {value!r:.60}")


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
        category=_choice(record, "category", CATEGORIES, where),
        relation=_choice(record, "relation", RELATIONS, where),
        branch=_choice(record, "branch", get_args(Branch), where),
        transform=_text(record, "transform", where),  # type: ignore[arg-type]
        gold=_text(record, "gold", where),
        pred=pred,
        missing=missing,
    )
