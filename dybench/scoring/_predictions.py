"""Offline scoring of a predictions file (``dybench score``).

Two formats: dybench's own, one ``{"item_id": ..., "response": ...}`` object per line (JSONL, or a JSON
list) against a pairs dataset folder; and TimeBlind's official ``predictions.json`` (a JSON list, or
JSONL, of ``{"index": ..., "model_output": ...}``) against a TimeBlind folder holding ``data.jsonl``
(and optionally the official ``tags.json`` for per-tag scores).

A bad file is refused with an error naming the file and the line (or list entry), never scored
half-way. An item predicted twice keeps its last prediction (as the official TimeBlind scorer does),
with a warning.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dybench.errors import UserError
from dybench.records import CATEGORIES
from dybench.scoring._metrics import pair_metrics, score_item
from dybench.scoring._timeblind import GOLD, timeblind_metrics
from dybench.scoring._util import compact

#: The answer the official scorer's role gold (1 / 0) stands for, per question type.
_ROLE_ANSWERS = {"yes_no": ("no", "yes"), "multiple_choice": ("b", "a")}
PAIR_TASKS = ("dybench_pair", "dybench_pair_single_frame", *(f"dybench_pair_{c}" for c in CATEGORIES))
TASKS = (*PAIR_TASKS, "timeblind")
"""Tasks ``score_predictions`` knows."""


class PredictionsError(UserError, ValueError):
    """A predictions or data file cannot be scored; the message names the file, the line and the fix."""


def score_predictions(task: str, predictions: Path, data: Path) -> dict[str, float]:
    """Score a predictions file against its dataset; the flat metric dict of ``pair_metrics`` or
    ``timeblind_metrics`` (lmms-eval names).

    ``dybench_pair_<category>`` scores only that category's items (a prediction for another item is an
    error); ``dybench_pair`` and ``dybench_pair_single_frame`` score every item. ``timeblind`` gives the
    official scorer's numbers; instances with no prediction at all are left out of them, as there, and
    counted in ``n_missing_instances``.
    """
    predictions, data = Path(predictions), Path(data)
    if task == "timeblind":
        return _score_timeblind(predictions, data)
    if task in PAIR_TASKS:
        return _score_pairs(task, predictions, data)
    raise PredictionsError(
        f"task {task!r} cannot be scored offline; choose one of {', '.join(TASKS)} "
        "(the other benchmarks score inside `dybench eval`)"
    )


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, value) for each record of a JSONL file or a JSON list; ``where`` is ``file:line`` or
    ``file: entry N``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PredictionsError(f"{path}: cannot read it ({e.strerror})") from e
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise PredictionsError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); fix the file") from e
        for i, row in enumerate(rows):
            yield f"{path}: entry {i}", row
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{lineno}", json.loads(line)
        except json.JSONDecodeError as e:
            raise PredictionsError(f"{path}:{lineno}: not valid JSON ({e.msg}); fix or remove that line") from e


def _field(where: str, row: Any, name: str, kind: type | tuple[type, ...], example: str) -> Any:
    if not isinstance(row, dict):
        raise PredictionsError(f"{where}: expected a JSON object like {example}, got {type(row).__name__}")
    if name not in row:
        raise PredictionsError(f"{where}: missing field {name!r}; each record needs {example}")
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise PredictionsError(f"{where}: field {name!r} must be {_kind_name(kind)}, got {value!r:.60}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join({str: "a string", int: "an integer", type(None): "null"}[k] for k in kinds)


def _check_predictions(path: Path, seen: dict, duplicates: list[object], what: str) -> None:
    """Refuse an empty file; warn once about items predicted more than once."""
    if not seen:
        raise PredictionsError(f"{path}: no predictions in the file; nothing to score")
    if duplicates:
        distinct = sorted(set(duplicates), key=str)
        warnings.warn(
            f"{path}: {len(distinct)} {what} predicted more than once, the last prediction kept: {compact(distinct)}",
            stacklevel=3,
        )


def _score_pairs(task: str, predictions: Path, data: Path) -> dict[str, float]:
    from dybench.pairs import load_items  # pyarrow: only when a pairs dataset is read

    try:
        items = load_items(data)
    except ValueError as e:
        raise PredictionsError(str(e)) from e
    suffix = task.removeprefix("dybench_pair_")
    category = suffix if suffix in CATEGORIES else None
    if category:
        items = [it for it in items if it.category == category]
    by_id = {it.item_id: it for it in items}
    example = '{"item_id": "...", "response": "..."}'
    responses: dict[str, str] = {}
    duplicates: list[object] = []
    for where, row in _records(predictions):
        item_id = _field(where, row, "item_id", str, example)
        response = _field(where, row, "response", str, example)
        if item_id in responses:
            duplicates.append(item_id)
        responses[item_id] = response
    unknown = sorted(set(responses) - set(by_id))
    if unknown:
        scope = f"the {category} items of" if category else "the items of"
        raise PredictionsError(
            f"{predictions}: {len(unknown)} item_id(s) not among {scope} the pairs dataset {data}: "
            f"{compact(unknown)}; score against the dataset the predictions were made on"
        )
    _check_predictions(predictions, responses, duplicates, "item(s)")
    results = [score_item(by_id[i], r) for i, r in responses.items()]
    out = pair_metrics(results)
    answered = {r.pair_id for r in results}
    missing = len({it.pair_id for it in items} - answered)
    if missing:
        warnings.warn(f"{missing} pair(s) of {data} have no prediction and are not scored", stacklevel=2)
    return {**out, "n_missing_pairs": missing}


def _score_timeblind(predictions: Path, data: Path) -> dict[str, float]:
    folder = data.parent if data.is_file() else data
    data_file = data if data.is_file() else data / "data.jsonl"
    if not data_file.is_file():
        raise PredictionsError(
            f"{data}: no TimeBlind data.jsonl; pass the folder of the TimeBlind dataset "
            "(git clone https://huggingface.co/datasets/BaiqiL/TimeBlind)"
        )
    types: list[str] = []
    disagree, misplaced = [], []
    for position, (where, row) in enumerate(_records(data_file)):
        kind = _field(where, row, "type", str, '{"index": 0, "type": "yes_no", ...}')
        if kind not in ("yes_no", "multiple_choice"):
            raise PredictionsError(f"{where}: type must be 'yes_no' or 'multiple_choice', got {kind!r}")
        if row.get("index", position) != position:
            misplaced.append(position)
        types.append(kind)
        if (
            "answer" in row
            and str(row["answer"]).strip().strip("().").lower() != _ROLE_ANSWERS[kind][GOLD[position % 4]]
        ):
            disagree.append(position)
    if misplaced:
        warnings.warn(
            f"{data_file}: {len(misplaced)} row(s) whose index is not their position: {compact(misplaced)}; "
            "the official scorer looks question types up by position, and so does dybench",
            stacklevel=2,
        )
    if disagree:
        warnings.warn(
            f"{data_file}: {len(disagree)} row(s) have an answer that differs from the gold the official "
            f"scorer fixes by role (q0_i0, q1_i1: Yes/A; q0_i1, q1_i0: No/B), which is what is scored: "
            f"{compact(disagree)}",
            stacklevel=2,
        )
    example = '{"index": 0, "model_output": "..."}'
    preds: dict[int, str | None] = {}
    duplicates: list[object] = []
    for where, row in _records(predictions):
        index = _field(where, row, "index", int, example)
        output = _field(where, row, "model_output", (str, type(None)), example)
        if index in preds:
            duplicates.append(index)
        preds[index] = output
    unknown = sorted(i for i in preds if not 0 <= i < len(types))
    if unknown:
        raise PredictionsError(
            f"{predictions}: {len(unknown)} index(es) not in {data_file} (0..{len(types) - 1}): "
            f"{compact(unknown)}; score against the TimeBlind data the predictions were made on"
        )
    _check_predictions(predictions, preds, duplicates, "index(es)")
    tags_file = folder / "tags.json"
    tags = json.loads(tags_file.read_text(encoding="utf-8")) if tags_file.is_file() else None
    out = timeblind_metrics(preds, types=types, tags=tags)
    missing = len(types) // 4 - len({i // 4 for i in preds})
    if missing:
        warnings.warn(
            f"{missing} TimeBlind instance(s) have no prediction; left out of the scores as the official scorer does",
            stacklevel=2,
        )
    out["n_missing_instances"] = missing
    return out
