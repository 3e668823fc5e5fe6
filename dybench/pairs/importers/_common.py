"""What every importer shares: the report, deterministic option order, links and the output files."""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dybench.errors import UserError
from dybench.fileio import write_json_atomic, write_jsonl_atomic
from dybench.records import letter

ANNOTATIONS = "annotations.jsonl"
REPORT = "import_report.json"
VIDEOS = "videos"
#: File name stems an importer writes under ``videos/`` (no separators, no dot files).
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
#: How many item ids a report keeps per skip reason, as examples.
_EXAMPLES = 5


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

    def skip(self, reason: str, item: str) -> None:
        self.skipped[reason] += 1
        kept = self.examples.setdefault(reason, [])
        if len(kept) < _EXAMPLES:
            kept.append(item)

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


def safe_name(name: str, what: str) -> str:
    """``name`` when it is a plain file name an importer may write under ``videos/``, else a UserError."""
    if not _SAFE_NAME.match(name) or ".." in name:
        raise UserError(f"{what}: {name!r} is not a plain file name (letters, digits, '_', '-', '.')")
    return name


def link_video(source: Path, out: Path, name: str) -> str:
    """Link ``out/videos/name`` to ``source`` (replacing an older link there) and return its path in ``out``.

    The link is made beside its final name and renamed over it, so nothing is ever written through an
    existing link and an interrupted import leaves either the old link or the new one.
    """
    folder = out / VIDEOS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / safe_name(name, "video name")
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
    write_jsonl_atomic(out / ANNOTATIONS, rows)
    write_json_atomic(out / REPORT, report.as_json())


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
    console.print(f"next: dybench build --src {report.out} --out PAIRS_DIR")
