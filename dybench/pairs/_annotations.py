"""Read and validate a user's annotations (Contract 1): JSONL, a JSON list, or CSV.

Every problem is reported per row, naming the file, the row and the fix; good rows load regardless.
Whatever the file holds (a UTF-8 byte-order mark, JSON nested 100,000 deep, a 5000-digit number), the
reader returns rows and per-row errors, or raises ``ValueError`` for a file it cannot read at all (a
JSON list that does not parse as a whole); every ``video`` it returns is a normalised relative path
that stays inside the source folder. JSON is parsed by :func:`dybench.fileio.parse_json`.
"""

from __future__ import annotations

import csv
import io
import math
import reprlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from dybench.fileio import JSONInputError, is_temporary, parse_json, relative_path
from dybench.records import (
    CATEGORIES,
    DEFAULT_TRANSFORMS,
    MAX_OPTIONS,
    RELATIONS,
    TRANSFORMS,
    YES_NO,
    Annotation,
    Segment,
    Transform,
    letter,
)

REQUIRED = ("id", "video", "question", "options", "answer", "category")
T = TypeVar("T")


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
    """Load annotations; return the valid ones and every problem of the bad rows, in line order.

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
        except RowProblems as e:
            rid = record.get("id") if isinstance(record, dict) else None
            errors += [RowError(str(path), row_no, None if rid is None else str(rid), m) for m in e.problems]

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
    errors.sort(key=lambda e: e.row or 0)  # stable: a row's problems stay in the order of its fields
    return good, errors


def _read_rows(path: Path) -> list[tuple[int, object]]:
    """(row number, record) pairs; row numbers are what a user sees in an editor."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel's CSV, Notepad) is not data
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read annotations ({e}); check the file's permissions and encoding") from e
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows: list[tuple[int, object]] = []
        try:
            for record in reader:
                rows.append((reader.line_num, record))  # the line the record ends on (the header is line 1)
        except csv.Error as e:
            raise ValueError(f"{path}:{reader.line_num}: not valid CSV ({e}); fix that line") from e
        return rows
    if suffix == ".json" or text.lstrip().startswith("["):
        try:
            data = parse_json(text)
        except JSONInputError as e:
            where = f"{path}:{e.lineno}" if e.lineno is not None else str(path)
            raise ValueError(f"{where}: {e.reason}; fix the file") from e
        if not isinstance(data, list):
            raise ValueError(f"{path}: a JSON annotations file must hold a list of records")
        return [(i + 1, r) for i, r in enumerate(data)]
    rows = []
    # split on newlines only: JSON strings may hold U+2028 and friends, which str.splitlines() splits on
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, parse_json(line)))
        except JSONInputError as e:  # one broken line is one bad row, not a broken file
            rows.append((lineno, {"__error__": f"{e.reason}; fix or remove this line"}))
    return rows


def _short(value: object) -> str:
    """A value for an error message: its repr, cut short."""
    return reprlib.repr(value)


class RowProblems(ValueError):
    """Every problem found in one annotation row, in the order of its fields."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


_BAD: Any = object()
"""What a field that did not parse holds (its problem is recorded); checks that need it are skipped."""


def _parse(record: object, row: int) -> Annotation:
    """The row as an :class:`Annotation`, or :class:`RowProblems` listing every problem it has (a check
    that needs a field which did not parse is skipped, so no problem is reported twice)."""
    if not isinstance(record, dict):
        raise RowProblems(["a record must be a JSON object with the fields " + ", ".join(REQUIRED)])
    if "__error__" in record:
        raise RowProblems([record["__error__"]])
    problems: list[str] = []

    def check(parse: Callable[[], T]) -> T:
        try:
            return parse()
        except ValueError as e:
            problems.append(str(e))
            return _BAD

    def ok(*values: object) -> bool:
        return all(v is not _BAD for v in values)

    missing = [f for f in REQUIRED if f not in record or record[f] is None]
    if missing:
        problems.append(f"missing field(s) {', '.join(missing)}; every record needs {', '.join(REQUIRED)}")

    def required(name: str, parse: Callable[[object], T]) -> T:
        return _BAD if name in missing else check(lambda: parse(record[name]))

    ann_id = required("id", _id)
    video = required("video", lambda v: video_path(_text(v, "video")))
    question = required("question", lambda v: _text(v, "question"))
    options = required("options", lambda v: _list_field(v, "options"))
    category = required("category", _category)
    answer = required("answer", lambda v: _normalise_answer(_text(v, "answer"), options)) if ok(options) else _BAD
    listed = check(lambda: _listed_transforms(record.get("transforms")))
    cf_answer = check(lambda: _cf_answers(record.get("cf_answer"), options)) if ok(options) else _BAD
    events = check(lambda: tuple(_list_field(record.get("events") or [], "events")))
    segments = check(lambda: _segments(record.get("segments"), video)) if ok(video) else _BAD
    cf_video = (
        check(lambda: video_path(_text(record["cf_video"], "cf_video"), "cf_video"))
        if _given(record, "cf_video")
        else None
    )
    stated = check(lambda: _relation(record["relation"])) if _given(record, "relation") else None
    transforms = (
        check(lambda: _transforms(listed, category, segments, cf_video))
        if ok(listed, category, segments, cf_video)
        else _BAD
    )
    if ok(video, answer, cf_answer, cf_video, stated):
        check(lambda: _check_given(video, answer, cf_answer, cf_video, stated))
    if problems:
        raise RowProblems(problems)
    return Annotation(
        id=ann_id,
        video=video,
        question=question,
        options=tuple(options),
        answer=answer,
        category=category,  # type: ignore[arg-type]
        transforms=transforms,
        cf_answer=cf_answer,
        events=events,
        segments=segments,
        cf_video=cf_video,
        relation=stated,  # type: ignore[arg-type]
        row=row,
    )


def _id(value: object) -> str:
    ann_id = _text(value, "id")
    if not ann_id:
        raise ValueError("empty id; give every record a unique id")
    return ann_id


def _category(value: object) -> str:
    category = _text(value, "category")
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    return category


def _listed_transforms(value: object) -> tuple[str, ...] | None:
    """The transforms a row lists; None when it lists none (the defaults apply)."""
    if value in (None, ""):
        return None
    transforms = tuple(_list_field(value, "transforms"))
    if not transforms or any(t not in TRANSFORMS for t in transforms):
        raise ValueError(f"transforms {list(transforms)!r} invalid; use a non-empty subset of {list(TRANSFORMS)}")
    return transforms


def _cf_answers(value: object, options: list[str]) -> dict[str, str]:
    """``cf_answer``: transform -> the answer on that counterfactual (a CSV cell holds it as JSON)."""
    cf_raw = value or {}
    if isinstance(cf_raw, str):
        cf_raw = _json_cell(cf_raw, "cf_answer")
    if not isinstance(cf_raw, dict) or any(k not in TRANSFORMS for k in cf_raw):
        raise ValueError(
            f"cf_answer must map transforms ({', '.join(TRANSFORMS)}) to answers, got {_short(cf_raw)}"
        )  # fmt: skip
    return {
        k: _normalise_answer(_text(v, f"cf_answer[{k}]"), options, field=f"cf_answer[{k}]") for k, v in cf_raw.items()
    }


def _relation(value: object) -> str:
    stated = _text(value, "relation")
    if stated not in RELATIONS:
        raise ValueError(f"relation {_short(stated)} is not one of {', '.join(RELATIONS)}")
    return stated


def _check_given(video: str, answer: str, cf_answer: dict[str, str], cf_video: str | None, stated: str | None) -> None:
    """A cf_video with what a given pair needs: another video, its answer, a relation that fits them."""
    if cf_video is None:
        if stated is not None or "given" in cf_answer:
            raise ValueError("relation and cf_answer.given belong to a cf_video; name it, or remove them")
        return
    if cf_video == video:
        raise ValueError(f"cf_video {cf_video!r} is the video itself; a pair needs two different videos")
    if "given" not in cf_answer:
        raise ValueError('cf_video needs its answer: add cf_answer {"given": "<letter>"} (the answer on cf_video)')
    actual = "keep" if cf_answer["given"] == answer else "change"
    if stated not in (None, actual):
        raise ValueError(
            f"relation {stated!r}, but the answer is {answer} on video and {cf_answer['given']} on cf_video "
            f"({actual}); fix relation or cf_answer"
        )


def _given(record: dict, name: str) -> bool:
    return record.get(name) not in (None, "")


def _transforms(
    listed: tuple[str, ...] | None, category: str, segments: tuple[Segment, ...], cf_video: str | None
) -> tuple[Transform, ...]:
    """The transforms to build: as listed, else ``swap`` for segments, ``given`` for a cf_video, else the
    category's default; ``ValueError`` when they and the fields they need do not go together."""
    if listed is None and segments:
        listed = ("swap",)
    elif listed is None:
        listed = ("given",) if cf_video is not None else DEFAULT_TRANSFORMS[category]  # type: ignore[index]
    if segments and cf_video is not None:
        raise ValueError("segments and cf_video make different pairs; give them in two annotations")
    if segments and listed != ("swap",):
        raise ValueError(
            f"segments are played by swap only, but transforms are {list(listed)!r}; hflip or reverse of the whole "
            'video is another question: give it its own annotation, here "transforms": ["swap"]'
        )
    if "swap" in listed and not segments:
        raise ValueError("swap needs segments: two [start_s, end_s] time ranges of the video, A then B")
    if cf_video is not None and "given" not in listed:
        raise ValueError(f'cf_video is named but transforms {list(listed)!r} leave out "given"; add it')
    if "given" in listed and cf_video is None:
        raise ValueError("transform given needs cf_video: the counterfactual video, relative to the source folder")
    return listed  # type: ignore[return-value]


def _segments(value: object, video: str) -> tuple[Segment, ...]:
    """Two segments from ``[start_s, end_s]`` lists (of ``video``) or ``{video, start_s, end_s}`` objects."""
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = _json_cell(value, "segments")
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(
            f"segments must be two time ranges, A then B: [[start_s, end_s], [start_s, end_s]] or "
            f"{{video, start_s, end_s}} objects; got {_short(value)}"
        )
    segments = []
    for k, item in enumerate(value):
        name = f"segments[{k}]"
        if isinstance(item, dict):
            clip = (
                video_path(_text(item["video"], f"{name}.video"), f"{name}.video") if _given(item, "video") else video
            )
            bounds = [item.get("start_s"), item.get("end_s")]
        elif isinstance(item, list) and len(item) == 2:
            clip, bounds = video, item
        else:
            raise ValueError(f"{name} must be [start_s, end_s] or {{video, start_s, end_s}}, got {_short(item)}")
        if not all(isinstance(b, int | float) and not isinstance(b, bool) and math.isfinite(b) for b in bounds):
            raise ValueError(f"{name}: start_s and end_s must be numbers of seconds, got {_short(bounds)}")
        start_s, end_s = float(bounds[0]), float(bounds[1])  # type: ignore[arg-type]
        if not 0 <= start_s < end_s:
            raise ValueError(f"{name}: {start_s:g}-{end_s:g} s is not a time range; give 0 <= start_s < end_s")
        segments.append(Segment(clip, start_s, end_s))
    return tuple(segments)


def video_path(text: str, field: str = "video") -> str:
    """``text`` as a normalised path relative to the source folder; ``ValueError`` unless it stays inside.

    The same file always gets the same spelling (``./a//b.mp4`` -> ``a/b.mp4``), so its outputs get one
    name. Symbolic links inside the source folder may point anywhere: they are only read.
    """
    if not text:
        raise ValueError(f"empty {field} path; give the video file's path relative to the source folder")
    try:
        path = relative_path(text)
    except ValueError:
        raise ValueError(
            f"{field} {_short(text)} must be a path inside the source folder, relative to it, without '..' "
            "(e.g. clips/a.mp4); move or link the file into the source folder"
        ) from None
    temporary = [part for part in PurePosixPath(path).parts if is_temporary(part)]
    if temporary:
        raise ValueError(f"{field} {text!r}: {temporary[0]!r} is named like a dybench temporary file; rename it")
    return path


def _text(value: object, name: str) -> str:
    """A scalar field as stripped text; numbers are accepted (ids are often numbers), nothing else."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{name} must be text, got {_short(value)}")
    return str(value).strip()


def _json_cell(text: str, name: str) -> object:
    """A CSV cell that holds JSON."""
    try:
        return parse_json(text)
    except JSONInputError as e:
        raise ValueError(f"{name}: {e.reason}") from e


def _list_field(value: object, name: str) -> list[str]:
    """A list of strings; CSV cells may hold a JSON list or a '|'-separated list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = _json_cell(text, name)
        else:
            value = [v.strip() for v in text.split("|")] if text else []
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ValueError(f"{name} must be a list of strings, got {_short(value)}")
    return [_text(v, name) for v in value]


def _normalise_answer(answer: str, options: list[str], field: str = "answer") -> str:
    """Gold as an option letter ('B') or 'yes'/'no'; an answer given as the option's text is accepted."""
    text = answer.strip()
    if not options:
        if text.lower() not in YES_NO:
            raise ValueError(
                f"{field} {_short(answer)}: a question without options is yes/no; answer 'yes' or 'no'"
            )  # fmt: skip
        return text.lower()
    if len(options) < 2:
        raise ValueError(f"options {_short(options)}: give two or more options, or none for a yes/no question")
    if len(options) > MAX_OPTIONS:
        raise ValueError(
            f"{len(options)} options: answers are the letters A-Z, so at most {MAX_OPTIONS}; split the question"
        )
    letters = [letter(i) for i in range(len(options))]
    if text.upper() in letters:  # exact ASCII letters only ('ß'.upper() is 'SS')
        return text.upper()
    matches = [i for i, o in enumerate(options) if o.strip().lower() == text.lower()]
    if len(matches) == 1:
        return letter(matches[0])
    raise ValueError(
        f"{field} {_short(answer)} is not among the options {_short(options)}; "
        f"use one of the letters {', '.join(letters)}"
    )
