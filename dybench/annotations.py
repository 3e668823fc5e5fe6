"""Read and validate a user's annotations (Contract 1): JSONL, a JSON list, or CSV.

Every problem is reported per row, naming the file, the row and the fix; good rows load regardless.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from dybench.records import CATEGORIES, DEFAULT_TRANSFORMS, TRANSFORMS, YES_NO, Annotation, letter, letter_index

REQUIRED = ("id", "video", "question", "options", "answer", "category")


@dataclass(frozen=True)
class RowError:
    """A problem with one annotation row (or one item of the build)."""

    file: str
    """The annotations file, or the video file the problem is about."""
    row: int | None
    """1-based line (JSONL/CSV data row) or list index, when known."""
    id: str | None
    """The annotation id, when known."""
    message: str
    """What is wrong and how to fix it."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}" if self.row is not None else self.file
        who = f" (id={self.id})" if self.id is not None else ""
        return f"{where}{who}: {self.message}"


def load_annotations(path: str | Path) -> tuple[list[Annotation], list[RowError]]:
    """Load annotations; return the valid ones and one error per bad row.

    A missing or unreadable file, or one that is not JSONL / a JSON list / CSV, raises ``ValueError``:
    nothing can be built from it.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"{path}: annotations file not found; write one record per question as described in "
            "data_cards/pairs-format.md, or pass --annotations FILE"
        )
    raw = _read_rows(path)
    annotations: list[tuple[int, Annotation]] = []
    errors: list[RowError] = []
    for row_no, record in raw:
        try:
            annotations.append((row_no, _parse(record, row_no)))
        except ValueError as e:
            rid = record.get("id") if isinstance(record, dict) else None
            errors.append(RowError(str(path), row_no, None if rid is None else str(rid), str(e)))

    rows_by_id: dict[str, list[int]] = defaultdict(list)
    for row_no, ann in annotations:
        rows_by_id[ann.id].append(row_no)
    good = []
    for row_no, ann in annotations:
        rows = rows_by_id[ann.id]
        if len(rows) > 1:
            errors.append(
                RowError(
                    str(path),
                    row_no,
                    ann.id,
                    f"duplicate id: rows {', '.join(map(str, rows))} share it; ids must be unique, rename all but one",
                )
            )
        else:
            good.append(ann)
    errors.sort(key=lambda e: (e.row or 0, e.message))
    return good, errors


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    """(row number, record) pairs; row numbers are what a user sees in an editor."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read annotations ({e}); check the file's permissions and encoding") from e
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        # line 1 is the header, so data row k sits on line k + 1
        return [(i + 2, dict(r)) for i, r in enumerate(reader)]
    stripped = text.lstrip()
    if suffix == ".json" or stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg}); fix the file") from e
        if not isinstance(data, list):
            raise ValueError(f"{path}: a JSON annotations file must hold a list of records")
        return [(i + 1, r) for i, r in enumerate(data)]
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as e:
            # one broken line is one bad row, not a broken file
            rows.append((lineno, {"__error__": f"not valid JSON ({e.msg}); fix or remove this line"}))
    return rows


def _parse(record: object, row: int) -> Annotation:
    if not isinstance(record, dict):
        raise ValueError("a record must be a JSON object with the fields " + ", ".join(REQUIRED))
    if "__error__" in record:
        raise ValueError(record["__error__"])
    missing = [f for f in REQUIRED if f not in record or record[f] is None]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}; every record needs {', '.join(REQUIRED)}")
    ann_id = str(record["id"]).strip()
    if not ann_id:
        raise ValueError("empty id; give every record a unique id")
    video = str(record["video"]).strip()
    if not video:
        raise ValueError("empty video path; give the video file's path relative to the source folder")
    options = _list_field(record["options"], "options")
    category = str(record["category"]).strip()
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    answer = _normalise_answer(str(record["answer"]), options)
    raw_transforms = record.get("transforms")
    transforms = tuple(_list_field(raw_transforms, "transforms")) if raw_transforms not in (None, "") else None
    if transforms is not None:
        bad = [t for t in transforms if t not in TRANSFORMS]
        if bad or not transforms:
            raise ValueError(f"transforms {list(transforms)!r} invalid; use a non-empty subset of {list(TRANSFORMS)}")
    cf_raw = record.get("cf_answer") or {}
    if isinstance(cf_raw, str):
        cf_raw = json.loads(cf_raw)  # CSV cells carry JSON
    if not isinstance(cf_raw, dict) or any(k not in TRANSFORMS for k in cf_raw):
        raise ValueError(f"cf_answer must map transforms ({', '.join(TRANSFORMS)}) to answers, got {cf_raw!r}")
    cf_answer = {k: _normalise_answer(str(v), options, field=f"cf_answer[{k}]") for k, v in cf_raw.items()}
    events = tuple(_list_field(record.get("events") or [], "events"))

    return Annotation(
        id=ann_id,
        video=video,
        question=str(record["question"]).strip(),
        options=tuple(options),
        answer=answer,
        category=category,  # type: ignore[arg-type]
        transforms=transforms or DEFAULT_TRANSFORMS[category],  # type: ignore[index]
        cf_answer=cf_answer,
        events=events,
        row=row,
    )


def _list_field(value: object, name: str) -> list[str]:
    """A list of strings; CSV cells may hold a JSON list or a '|'-separated list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise ValueError(f"{name}: not a valid JSON list ({e.msg})") from e
        else:
            value = [v.strip() for v in text.split("|")] if text else []
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ValueError(f"{name} must be a list of strings, got {value!r}")
    return [str(v).strip() for v in value]


def _normalise_answer(answer: str, options: list[str], field: str = "answer") -> str:
    """Gold as an option letter ('B') or 'yes'/'no'; an answer given as the option's text is accepted."""
    text = answer.strip()
    if not options:
        if text.lower() not in YES_NO:
            raise ValueError(f"{field} {answer!r}: a question without options is yes/no; answer 'yes' or 'no'")
        return text.lower()
    if len(options) < 2:
        raise ValueError(f"options {options!r}: give two or more options, or none for a yes/no question")
    if len(text) == 1 and text.isalpha() and 0 <= letter_index(text) < len(options):
        return text.upper()
    matches = [i for i, o in enumerate(options) if o.strip().lower() == text.lower()]
    if len(matches) == 1:
        return letter(matches[0])
    valid = ", ".join(letter(i) for i in range(len(options)))
    raise ValueError(f"{field} {answer!r} is not among the options {options!r}; use one of the letters {valid}")
