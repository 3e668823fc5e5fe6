"""The Video-R1 QA json (Contract 4): the one module that reads, writes and checks it.

Video-R1, VideoThinker-R1 (CDPO) and the training input of every ``dybench train`` method: a JSON list of
records, one question each::

    {"problem": "Which way does the ball roll?", "options": ["A. left", "B. right"],
     "solution": "<answer>B</answer>", "path": "./clips/ball.mp4", "problem_type": "multiple choice",
     "data_type": "video"}

- ``options``: lettered (``"A. left"``) or bare texts; ``[]`` for other kinds of question.
- ``solution``: the gold inside ``<answer>...</answer>`` (a letter, letters joined by commas, yes/no, ...).
- the video: ``path`` (Video-R1) or ``video`` (VideoThinker's evaluation files), relative to a video root
  (default: the json's folder); an absolute path that does not exist is also tried under the root
  (VideoThinker writes ``/MVBench/...``, Video-R1 ``./LLaVA-Video-178K/...``).
- ``problem_type``: ``multiple choice`` (the default when absent, as VideoThinker's evaluation treats it),
  ``yes/no``, ``numerical``, ``OCR``, ``free-form``, ``regression``; ``data_type``: ``video``, ``image``,
  ``frame``.
- dybench's optional fields: ``category`` (the router reads it), ``cue_answer`` (the answer a known shortcut
  cue points to; logged, never rewarded), ``source_id``; other fields are kept in ``extra``.

Some files also write the options into ``problem`` (VideoThinker's Video-Holmes file): the lines that repeat
them are cut from the question, so a prompt never lists them twice.

Only multiple-choice and yes/no video questions can be scored by dybench's answer parser; the rest are
skipped and counted (``VideoR1File.skipped``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dybench.errors import UserError
from dybench.fileio import parse_json, write_json_atomic
from dybench.records import MAX_OPTIONS, letter

_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S | re.I)
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-Z])[.):]\s*(.*)$", re.S)
_KNOWN = {"problem", "options", "solution", "path", "video", "problem_type", "data_type", "category", "cue_answer",
          "source_id"}  # fmt: skip


class VideoR1Error(UserError, ValueError):
    """A Video-R1 json that cannot be read: names the file, the record and the fix."""


@dataclass(frozen=True)
class VideoR1Question:
    """One scorable question of a Video-R1 json."""

    index: int
    """Its position in the file's list."""
    video: Path
    """The video, resolved against the video root."""
    question: str
    """The question without its options."""
    options: tuple[str, ...]
    """Option texts without their letters; empty for yes/no."""
    answer: str
    """Gold: one letter, sorted letters joined by commas ('A,C'), or 'yes'/'no'."""
    problem_type: str
    category: str | None = None
    cue_answer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """The record's other fields (``problem_id``, ``data_source``, ``original_question_type``, ...)."""


@dataclass(frozen=True)
class VideoR1File:
    """A Video-R1 json read: its scorable questions and what was skipped, counted by reason."""

    path: Path
    questions: list[VideoR1Question]
    skipped: Counter[str]


def read_video_r1(path: str | Path, video_root: str | Path | None = None) -> VideoR1File:
    """Read and check every record; raise ``VideoR1Error`` naming the record and the fix for a malformed one."""
    path = Path(path)
    root = Path(video_root) if video_root is not None else path.parent
    try:
        rows = parse_json(path.read_bytes())
    except (OSError, ValueError) as e:
        raise VideoR1Error(f"{path}: not a readable JSON file ({e})") from e
    if not isinstance(rows, list):
        raise VideoR1Error(f"{path}: a Video-R1 file is a JSON list of question records")
    questions: list[VideoR1Question] = []
    skipped: Counter[str] = Counter()
    for i, row in enumerate(rows):
        where = f"{path}[{i}]"
        if not isinstance(row, dict):
            raise VideoR1Error(f"{where}: a record is a JSON object, got {type(row).__name__}")
        missing = [k for k in ("problem", "solution") if k not in row] + ([] if _video_field(row) else ["path"])
        if missing:
            raise VideoR1Error(f"{where}: missing {missing}; Video-R1 rows need problem, options, solution, path")
        question = _question(row, i, root, where)
        if isinstance(question, str):
            skipped[question] += 1
        else:
            questions.append(question)
    return VideoR1File(path, questions, skipped)


def _video_field(row: dict) -> str | None:
    value = row.get("path", row.get("video"))
    return str(value) if value else None


def _question(row: dict, index: int, root: Path, where: str) -> VideoR1Question | str:
    """The record as a question, or why it cannot be scored."""
    match = _ANSWER_TAG.search(str(row["solution"]))
    gold = (match.group(1) if match else str(row["solution"])).strip()
    kind = str(row.get("problem_type") or "multiple choice").lower()
    if str(row.get("data_type", "video")).lower() not in ("video", "frame"):
        return f"data_type {row.get('data_type')!r} (not a video)"
    options = strip_letters(row.get("options") or [])
    if len(options) > MAX_OPTIONS:
        raise VideoR1Error(f"{where}: {len(options)} options; at most {MAX_OPTIONS} are lettered")
    if kind == "multiple choice" and options:
        letters = sorted({g.strip().upper() for g in gold.split(",") if g.strip()})
        if not letters or any(len(g) != 1 or not "A" <= g < letter(len(options)) for g in letters):
            raise VideoR1Error(f"{where}: solution {gold!r} is not option letters A-{letter(len(options) - 1)}")
        gold = ",".join(letters)
    elif gold.lower() in ("yes", "no") and not options:
        gold, kind = gold.lower(), "yes/no"
    else:
        return f"problem_type {kind!r} (not multiple choice or yes/no)"
    extra = {k: v for k, v in row.items() if k not in _KNOWN}
    category, cue = row.get("category"), row.get("cue_answer")
    return VideoR1Question(
        index,
        resolve_video(_video_field(row) or "", root),
        _without_embedded_options(str(row["problem"]), options),
        options,
        gold,
        kind,
        category=str(category) if category else None,
        cue_answer=str(cue) if cue else None,
        extra=extra,
    )


def strip_letters(options: list[Any]) -> tuple[str, ...]:
    """'A. left' -> 'left' when every option carries its own letter in order; otherwise the texts as they are."""
    parsed = [_OPTION_PREFIX.match(str(o)) for o in options]
    if parsed and all(m and m.group(1) == letter(i) for i, m in enumerate(parsed)):
        return tuple(m.group(2).strip() for m in parsed if m)
    return tuple(str(o) for o in options)


def _without_embedded_options(problem: str, options: tuple[str, ...]) -> str:
    """The question without trailing lines that list its options again ("A. ...", "Options:")."""
    if not options:
        return problem.strip()
    lines = problem.rstrip().splitlines()
    listed = [f"{letter(i)}. {text}".casefold() for i, text in enumerate(options)]
    cut = len(lines)
    while cut and (lines[cut - 1].strip().casefold() in listed or lines[cut - 1].strip().casefold() == "options:"):
        cut -= 1
    return "\n".join(lines[:cut]).strip() if cut < len(lines) and cut else problem.strip()


def resolve_video(value: str, root: Path) -> Path:
    """A record's video path: relative to ``root``; an absolute one that does not exist is tried under it."""
    path = Path(value)
    if path.is_absolute() and not path.exists():
        return (root / value.lstrip("/")).resolve()
    return (root / path).resolve()


def video_r1_row(
    question: str, options: list[str] | tuple[str, ...], answer: str, video: str, **extra: Any
) -> dict[str, Any]:
    """A record in the layout Video-R1 writes: lettered options, the gold in ``<answer>`` tags."""
    lettered = [f"{letter(i)}. {text}" for i, text in enumerate(options)]
    return {
        "problem": question,
        "options": lettered,
        "solution": f"<answer>{answer}</answer>",
        "path": video,
        "problem_type": "multiple choice" if lettered else "yes/no",
        "data_type": "video",
        **extra,
    }


def write_video_r1(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Write records atomically (``video_r1_row`` makes them)."""
    write_json_atomic(path, rows)


def video_r1_problem(path: str | Path, video_root: str | Path | None = None) -> str | None:
    """None when ``path`` is a Video-R1 json with scorable questions whose videos all exist, else what is wrong."""
    try:
        read = read_video_r1(path, video_root)
    except VideoR1Error as e:
        return str(e)
    if not read.questions:
        reasons = "; ".join(f"{n} x {why}" for why, n in read.skipped.most_common(3)) or "the list is empty"
        return f"{path}: no multiple-choice or yes/no video question ({reasons})"
    missing = [q.video for q in read.questions if not q.video.is_file()]
    if missing:
        return (
            f"{path}: {len(missing)} video(s) missing, e.g. {missing[0]} (give the folder they are under: "
            "video_root, --video-root)"
        )
    return None
