"""Annotation records (Contract 1) for the build tests: one default question, overridable per field."""

from __future__ import annotations

import json
from pathlib import Path


def record(id: str, video: str, **kw) -> dict:
    """A moving-direction question about ``video`` (answer B, "right"); ``kw`` replaces or adds fields."""
    base = {"id": id, "video": video, "question": "Which way does the square move?",
            "options": ["left", "right", "up"], "answer": "B", "category": "moving_direction"}  # fmt: skip
    return {**base, **kw}


def write_annotations(src: Path, rows: list[dict]) -> None:
    """``rows`` as the source folder's ``annotations.jsonl``."""
    (src / "annotations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
