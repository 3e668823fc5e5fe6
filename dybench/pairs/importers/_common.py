"""What every importer shares: the report, deterministic option order, links and the output files."""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dybench.errors import UserError
from dybench.fileio import inside, write_json_atomic, write_jsonl_atomic
from dybench.records import letter

ANNOTATIONS = "annotations.jsonl"
REPORT = "import_report.json"
VIDEOS = "videos"
#: File name stems an importer writes under ``videos/`` (no separators, no dot files).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
#: How many item ids a report keeps per skip reason, as examples.
_EXAMPLES = 5
#: The longest question and option an importer writes (DyBench's are under 100 characters).
MAX_QUESTION_CHARS = 500
MAX_OPTION_CHARS = 200


@dataclass
class ImportReport:
    """What an import wrote and what it skipped, by reason (also written as ``import_report.json``)."""

    source: str
    """The importer: ssv2, segments or tracks."""
    out: Path
    """The output folder (a ``dybench build --src``)."""
    written: int = 0
    """Annotation rows written."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Skipped records per reason."""
    examples: dict[str, list[str]] = field(default_factory=dict)
    """Up to five record ids per skip reason, to look at."""
    by_category: Counter[str] = field(default_factory=Counter)
    """Rows written per category."""

    names: dict[str, str] = field(default_factory=dict, repr=False)
    """The names taken so far (a name -> where it came from): each becomes ids and a file under ``videos/``."""

    def skip(self, reason: str, item: str) -> None:
        self.skipped[reason] += 1
        kept = self.examples.setdefault(reason, [])
        if len(kept) < _EXAMPLES:
            kept.append(item)

    def claim(self, name: str, where: str, what: str) -> bool:
        """Take ``name`` for the ``what`` at ``where``; False, with the skip counted, when another took it
        (ids would collide) or it is not a plain file name."""
        if name in self.names:
            self.skip(f"another {what} has the same name", f"{where} and {self.names[name]} ({name})")
            return False
        self.names[name] = where
        if not is_plain_name(name):
            self.skip(f"{what} name is not a plain file name", where)
            return False
        return True

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "written": self.written,
            "by_category": dict(sorted(self.by_category.items())),
            "skipped": dict(self.skipped.most_common()),
            "examples": self.examples,
        }


def ordered_options(options: list[str], answer: str, *, seed: int, key: str) -> tuple[list[str], str]:
    """The options in a fixed pseudo-random order per (seed, item) and the gold letter in that order.

    Shuffling keeps the gold letter from always being the same one (a shortcut of its own); the order
    depends only on the seed and the item, so a rerun writes the same file.
    """
    order = list(options)
    random.Random(f"{seed}:{key}").shuffle(order)
    return order, letter(order.index(answer))


def is_plain_name(name: str) -> bool:
    """True when ``name`` is a plain file name an importer may write under ``videos/``."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name


def safe_name(name: str, what: str) -> str:
    """``name`` when it is a plain file name (:func:`is_plain_name`), else a UserError."""
    if not is_plain_name(name):
        raise UserError(f"{what}: {name!r} is not a plain file name (letters, digits, '_', '-', '.')")
    return name


def too_long(question: str, options: list[str]) -> str | None:
    """Why a question cannot be written as it is (a skip reason), or None.

    A label or placeholder of any length would otherwise become a question of that length (a 200 KB
    placeholder, a 200 KB prompt); nothing is cut short silently.
    """
    if len(question) > MAX_QUESTION_CHARS:
        return f"question longer than {MAX_QUESTION_CHARS} characters"
    if any(len(option) > MAX_OPTION_CHARS for option in options):
        return f"an option longer than {MAX_OPTION_CHARS} characters"
    return None


def link_video(source: Path, out: Path, name: str) -> str:
    """Link ``out/videos/name`` to ``source`` (replacing an older link there) and return its path in ``out``.

    The link is made beside its final name and renamed over it, so nothing is ever written through an
    existing link and an interrupted import leaves either the old link or the new one.
    """
    folder = out / VIDEOS
    final = inside(out, folder / safe_name(name, "video name"))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(source.resolve(), tmp)
    os.replace(tmp, final)
    return f"{VIDEOS}/{name}"


def read_text(path: Path, what: str) -> str:
    """A label file's text (a UTF-8 BOM is accepted), or a UserError that names the file."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise UserError(f"{path}: no such {what}; check the path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read this {what} as UTF-8 text ({e})") from e


def read_lines(path: Path, what: str) -> Iterator[str]:
    """A label file's lines, read one at a time (a UTF-8 BOM is accepted); a UserError names the file."""
    try:
        with path.open(encoding="utf-8-sig") as file:
            yield from file
    except FileNotFoundError as e:
        raise UserError(f"{path}: no such {what}; check the path") from e
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read this {what} as UTF-8 text ({e})") from e


def read_json(path: Path, what: str) -> object:
    """A label file's JSON, or a UserError that names the file and the position of the problem."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON at line {e.lineno}, column {e.colno} ({e.msg})") from e
    except (RecursionError, ValueError) as e:
        raise UserError(f"{path}: this {what} cannot be read as JSON ({type(e).__name__}: nested or too large)") from e


def write_outputs(out: Path, rows: list[dict], report: ImportReport) -> None:
    """``annotations.jsonl`` then ``import_report.json``, each written atomically."""
    report.written = len(rows)
    report.by_category = Counter(r["category"] for r in rows)
    write_jsonl_atomic(out / ANNOTATIONS, rows, within=out)
    write_json_atomic(out / REPORT, report.as_json(), within=out)


def find_video(folder: Path, stems: list[str], extensions: tuple[str, ...]) -> Path | None:
    """The first ``folder/<stem><ext>`` that exists, trying stems and extensions in order."""
    for stem in stems:
        for ext in extensions:
            path = folder / f"{stem}{ext}"
            if path.is_file():
                return path
    return None


VIDEO_EXTENSIONS = (".webm", ".mp4", ".avi", ".mkv", ".mov", ".m4v")


def print_report(report: ImportReport) -> None:
    """A short human summary of an import on stderr (the JSON is in ``import_report.json``)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    categories = ", ".join(f"{n} {c}" for c, n in sorted(report.by_category.items())) or "none"
    console.print(f"[bold]{report.source}[/]: {report.written} questions written to {report.out} ({categories})")
    if report.skipped:
        table = Table("skipped because", "records", "e.g.")
        for reason, count in report.skipped.most_common():
            table.add_row(reason, str(count), ", ".join(report.examples.get(reason, [])[:3]))
        console.print(table)
    if report.written:
        console.print(f"next: dybench build --src {report.out} --out PAIRS_DIR")
    else:
        console.print("[bold red]nothing written[/]: every record was skipped for the reasons above")
