"""Offline scoring of a predictions file (``dybench score``).

Two formats: dybench's own, one ``{"item_id": ..., "response": ...}`` object per line (JSONL, or a JSON
list) against a pairs dataset folder; and TimeBlind's official ``predictions.json`` (a JSON list, or
JSONL, of ``{"index": ..., "model_output": ...}``) against a TimeBlind folder holding ``data.jsonl``
(and optionally the official ``tags.json`` for per-tag scores).

A bad file is refused with an error naming the file and the line (or list entry), never scored
half-way; whatever the file holds (binary data, JSON nested 100,000 levels, a 5,000-digit number),
the reader gives predictions or a `PredictionsError`, never another exception (``parse_json``). An
item predicted twice keeps its last prediction (as the official TimeBlind scorer does), with a warning.

Pairs: every item of the dataset is scored; an item without a prediction is wrong, and ``coverage``
(the share of items with a prediction) is reported and warned about when below 1 (DESIGN.md Contract 3).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dybench.errors import UserError
from dybench.fileio import JSONInputError, parse_json, utf8_text
from dybench.pairs import PairsDataset
from dybench.records import CATEGORIES
from dybench.scoring._messages import compact
from dybench.scoring._pair_metrics import pair_metrics, score_item
from dybench.scoring._timeblind import GOLD, timeblind_metrics

#: The answer the official scorer's role gold (1 / 0) stands for, per question type.
_ROLE_ANSWERS = {"yes_no": ("no", "yes"), "multiple_choice": ("b", "a")}
PAIR_TASKS = (
    *("dybench_pair", "dybench_pair_r1", "dybench_pair_single_frame", "dybench_pair_single_frame_r1"),
    *(f"dybench_pair_{c}" for c in CATEGORIES),
    *(f"dybench_pair_r1_{c}" for c in CATEGORIES),
)
TASKS = (*PAIR_TASKS, "timeblind")
"""Tasks ``score_predictions`` knows: every dybench_pair task (the ``_r1`` prompt changes what a model is
asked, not how its answers score) and timeblind."""


def pair_task_category(task: str) -> str | None:
    """The category a ``dybench_pair[_r1]_<category>`` task covers; None for any other task."""
    if not task.startswith("dybench_pair_"):
        return None
    category = task.removeprefix("dybench_pair_").removeprefix("r1_")
    return category if category in CATEGORIES else None


class PredictionsError(UserError, ValueError):
    """A predictions or data file cannot be scored; the message names the file, the line and the fix."""


def score_predictions(task: str, predictions: Path, data: Path) -> dict[str, float]:
    """Score a predictions file against its dataset; the flat metric dict of ``pair_metrics`` or
    ``timeblind_metrics`` (lmms-eval names).

    ``dybench_pair[_r1]_<category>`` scores only that category's items (a prediction for another item is
    an error); ``dybench_pair[_r1]`` and ``dybench_pair_single_frame[_r1]`` score every item. Every pair metric is
    over all pairs in that scope: an item without a prediction is wrong, ``coverage`` says how many had
    one. ``timeblind`` gives the official scorer's numbers; instances with no prediction at all are left
    out of them, as there, and counted in ``n_missing_instances``; ``coverage`` is reported there too.
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


def read_pair_predictions(path: str | Path) -> dict[str, str]:
    """``item_id -> response`` from dybench's own predictions file (JSONL, or a JSON list).

    Raises `PredictionsError` naming the file and the line (or entry) for anything else.
    """
    path = Path(path)
    example = '{"item_id": "...", "response": "..."}'
    responses: dict[str, str] = {}
    duplicates: list[object] = []
    for where, row in _records(path):
        item_id = _field(where, row, "item_id", str, example)
        response = _field(where, row, "response", str, example)
        if item_id in responses:
            duplicates.append(item_id)
        responses[item_id] = response
    _check_predictions(path, responses, duplicates, "item(s)")
    return responses


def read_timeblind_predictions(path: str | Path) -> dict[int, str | None]:
    """``index -> model_output`` from TimeBlind's ``predictions.json`` (a JSON list, or JSONL).

    Raises `PredictionsError` naming the file and the entry (or line) for anything else.
    """
    path = Path(path)
    example = '{"index": 0, "model_output": "..."}'
    preds: dict[int, str | None] = {}
    duplicates: list[object] = []
    for where, row in _records(path):
        index = _field(where, row, "index", int, example)
        output = _field(where, row, "model_output", (str, type(None)), example)
        if index in preds:
            duplicates.append(index)
        preds[index] = output
    _check_predictions(path, preds, duplicates, "index(es)")
    return preds


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, value) for each record of a JSONL file or a JSON list; ``where`` is ``file:line`` or
    ``file: entry N``."""
    try:
        text = utf8_text(path.read_bytes())
    except OSError as e:
        raise PredictionsError(f"{path}: cannot read it ({e.strerror})") from e
    except JSONInputError as e:
        raise PredictionsError(f"{path}:{e.lineno}: {e.reason}; save the predictions as UTF-8 JSON") from None
    if text.lstrip().startswith("["):
        try:
            rows = parse_json(text)
        except JSONInputError as e:
            line = "" if e.lineno is None else f":{e.lineno}"
            raise PredictionsError(f"{path}{line}: {e.reason}; fix the file") from None
        yield from ((f"{path}: entry {i}", row) for i, row in enumerate(rows))
        return
    for lineno, line in enumerate(text.split("\n"), 1):  # not splitlines: U+2028 may sit inside a string
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except JSONInputError as e:
            raise PredictionsError(f"{path}:{lineno}: {e.reason}; fix or remove that line") from None
        yield f"{path}:{lineno}", row


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
    if data.is_file():
        raise PredictionsError(
            f"{data} is a file; --data takes the pairs dataset's folder, the one holding {PairsDataset.LAYOUT} "
            f"(here: --data {data.parent})"
        )
    try:
        items = PairsDataset(data).items()
    except ValueError as e:
        raise PredictionsError(str(e)) from e
    category = pair_task_category(task)
    if category:
        items = [it for it in items if it.category == category]
    responses = read_pair_predictions(predictions)
    unknown = sorted(set(responses) - {it.item_id for it in items})
    if unknown:
        scope = f"the {category} items of" if category else "the items of"
        raise PredictionsError(
            f"{predictions}: {len(unknown)} item_id(s) not among {scope} the pairs dataset {data}: "
            f"{compact(unknown)}; score against the dataset the predictions were made on"
        )
    # every item of the dataset is scored: one without a prediction is wrong (and lowers coverage)
    return pair_metrics([score_item(it, responses.get(it.item_id)) for it in items])


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
    preds = read_timeblind_predictions(predictions)
    unknown = sorted(i for i in preds if not 0 <= i < len(types))
    if unknown:
        raise PredictionsError(
            f"{predictions}: {len(unknown)} index(es) not in {data_file} (0..{len(types) - 1}): "
            f"{compact(unknown)}; score against the TimeBlind data the predictions were made on"
        )
    out = timeblind_metrics(preds, types=types, tags=_read_tags(folder / "tags.json"))
    missing = len(types) // 4 - len({i // 4 for i in preds})
    if len(preds) < len(types):
        warnings.warn(
            f"coverage {len(preds)}/{len(types)} items: {missing} TimeBlind instance(s) have no prediction; "
            "left out of the scores as the official scorer does (an instance missing some of its four "
            "items counts as wrong)",
            stacklevel=2,
        )
    out["coverage"] = len(preds) / len(types) if types else float("nan")
    out["n_missing_instances"] = missing
    return out


def _read_tags(path: Path) -> dict[str, list[int]] | None:
    """TimeBlind's optional ``tags.json`` (tag -> item indices), checked; None when there is none."""
    if not path.is_file():
        return None
    fix = "fix it, or remove it (it only adds per-tag scores)"
    try:
        tags = parse_json(path.read_bytes())
    except OSError as e:
        raise PredictionsError(f"{path}: cannot read it ({e.strerror})") from e
    except JSONInputError as e:
        line = "" if e.lineno is None else f":{e.lineno}"
        raise PredictionsError(f"{path}{line}: {e.reason}; {fix}") from None
    if not isinstance(tags, dict):
        got = type(tags).__name__
        raise PredictionsError(f"{path}: expected an object {{tag: [item index, ...]}}, got {got}; {fix}")
    for tag, indices in tags.items():
        ok = isinstance(indices, list) and all(type(i) is int and i >= 0 for i in indices)
        if not ok:
            raise PredictionsError(
                f"{path}: tag {tag!r}: expected a list of item indices (integers >= 0), got {indices!r:.60}; {fix}"
            )
    return tags
