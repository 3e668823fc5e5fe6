"""Action-segment label files, each read as its dataset ships it, into segments in seconds of the video.

The formats and where they come from are in ``data_cards/importers.md``:

- ``breakfast``: ``<first>-<last> <label>`` per line, 1-based inclusive frame numbers (``1-30 SIL``):
  Breakfast's coarse files and the ``.avi.labels`` files beside its videos.
- ``mstcn``: one label per line, one line per frame (``groundTruth/<video>.txt`` of MS-TCN, ASFormer,
  DiffAct), optionally checked against their ``mapping.txt`` (``<index> <label>`` per line).
- ``50salads``: ``<start> <end> <label>`` in the clock of the video's frame timestamps file (one
  timestamp per video frame, the first number of each line). The file mixes levels: three high-level
  activities, and low-level steps ``<action>_prep|_core|_post`` whose phases make one mid-level action.
- ``seconds``: ``<start_s> <end_s> <label>`` per line.

A malformed line raises ``ValueError`` naming the line; lines are read one at a time, so memory grows
with the number of segments, not the number of frames.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dybench.errors import UserError
from dybench.pairs.importers._common import read_text

SegmentFormat = Literal["breakfast", "mstcn", "50salads", "seconds"]
SEGMENT_FORMATS: tuple[SegmentFormat, ...] = ("breakfast", "mstcn", "50salads", "seconds")
Level = Literal["high", "mid", "low"]
LEVELS: tuple[Level, ...] = ("high", "mid", "low")
#: Labels that mark no action, compared in lower case: Breakfast's SIL, GTEA's background, 50Salads'
#: action_start / action_end (the labels MS-TCN-style repositories leave out of their segments).
BACKGROUND = frozenset({"sil", "background", "bg", "action_start", "action_end", "none"})
#: 50Salads' high-level activities; each spans low-level steps of the same file.
SALADS_ACTIVITIES = frozenset({"cut_and_mix_ingredients", "prepare_dressing", "serve_salad"})
#: The phases of a 50Salads step, in the order they happen.
PHASES = ("prep", "core", "post")


@dataclass(frozen=True)
class Segment:
    """One labelled time range of a video."""

    start_s: float
    end_s: float
    """Exclusive: the segment holds the frames shown from ``start_s`` until ``end_s``."""
    label: str
    """As the file spells it (a 50Salads step at the mid level: without its phase)."""
    action: str
    """What a segment may not be paired with: its label, or for a 50Salads phase the step it belongs to."""


def _split_phase(label: str) -> tuple[str, int] | None:
    """``("cut_tomato", 0)`` for ``cut_tomato_prep``; None for a label without a phase."""
    action, _, phase = label.rpartition("_")
    return (action, PHASES.index(phase)) if action and phase in PHASES else None


def parse_segments(
    lines: Iterable[str],
    fmt: SegmentFormat,
    *,
    fps: float,
    frame_times: list[float] | None = None,
    level: Level = "mid",
    mapping: dict[str, str] | None = None,
) -> list[Segment]:
    """The segments of one file, sorted by time; ``fps`` is the rate of the labels' frame numbers.

    ``frame_times`` (50salads) is the video's frame clock; ``level`` picks 50Salads' activities, steps
    (phases merged) or phases; ``mapping`` (mstcn) is ``mapping.txt`` as label -> label.
    """
    if fmt == "mstcn":
        found = _runs(lines, fps, mapping)
    elif fmt == "50salads":
        assert frame_times is not None, "50salads needs the video's frame timestamps"
        found = _salads(_spans(lines, fmt, fps, frame_times), level)
    else:
        found = [Segment(a, b, label, label) for a, b, label in _spans(lines, fmt, fps, None)]
    return sorted(found, key=lambda s: (s.start_s, s.end_s, s.label))


def _spans(
    lines: Iterable[str], fmt: SegmentFormat, fps: float, frame_times: list[float] | None
) -> Iterable[tuple[float, float, str]]:
    """(start_s, end_s, label) of each line of a breakfast, 50salads or seconds file."""
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            if fmt == "breakfast":
                span, label = line.split(maxsplit=1)
                first, last = (int(v) for v in span.split("-"))
                if first < 1:
                    raise ValueError("frame numbers start at 1")
                start_s, end_s = (first - 1) / fps, last / fps
            else:
                start, end, label = line.split(maxsplit=2)
                if frame_times is None:
                    start_s, end_s = float(start), float(end)
                else:  # the frames shown from start until end, on the video's own clock
                    start_s = bisect.bisect_left(frame_times, float(start)) / fps
                    end_s = bisect.bisect_left(frame_times, float(end)) / fps
        except ValueError as e:
            raise ValueError(f"line {number} {line.strip()[:80]!r} is not a {fmt} segment ({e})") from e
        if not (math.isfinite(start_s) and math.isfinite(end_s) and 0 <= start_s < end_s):
            raise ValueError(f"line {number} {line.strip()[:80]!r} is not a time range (it must start at 0 or "
                             "later and end after it starts)")  # fmt: skip
        yield start_s, end_s, label.strip()


def _runs(lines: Iterable[str], fps: float, mapping: dict[str, str] | None) -> list[Segment]:
    """Runs of one label in a per-frame file: frame ``i`` (line ``i + 1``) is shown from ``i / fps``."""
    segments: list[Segment] = []
    label, start, frames, blank = "", 0, 0, 0
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            blank = blank or number
            continue
        if blank:
            raise ValueError(f"line {blank} is empty; the file needs one label per frame, on every line")
        if mapping is not None:
            if text not in mapping:
                raise ValueError(f"line {number}: label {text[:80]!r} is not in the mapping file")
            text = mapping[text]
        if text != label:
            if frames:
                segments.append(Segment(start / fps, frames / fps, label, label))
            label, start = text, frames
        frames += 1
    if frames:
        segments.append(Segment(start / fps, frames / fps, label, label))
    return segments


def _salads(spans: Iterable[tuple[float, float, str]], level: Level) -> list[Segment]:
    """50Salads' lines at one level: activities, steps (their phases merged) or phases."""
    steps: list[Segment] = []
    phases: list[tuple[float, float, str, str, int]] = []
    for start_s, end_s, label in spans:
        phase = _split_phase(label)
        if label in SALADS_ACTIVITIES:
            if level == "high":
                steps.append(Segment(start_s, end_s, label, label))
        elif phase is not None:
            phases.append((start_s, end_s, label, *phase))
        elif level != "high" or label.lower() in BACKGROUND:
            steps.append(Segment(start_s, end_s, label, label))  # a step without phases, or background
    if level == "low":
        return steps + [Segment(a, b, label, action) for a, b, label, action, _ in phases]
    if level == "high":
        return steps
    merged: list[Segment] = []
    last = -1
    for start_s, end_s, _, action, index in sorted(phases):
        if merged and merged[-1].action == action and index >= last:  # prep -> core -> post of one step
            merged[-1] = Segment(merged[-1].start_s, max(merged[-1].end_s, end_s), action, action)
        else:
            merged.append(Segment(start_s, end_s, action, action))
        last = index
    return steps + merged


def phrase(label: str) -> str:
    """A label as words: ``cut_tomato`` -> ``cut tomato``, a phase ``cut_tomato_prep`` -> ``cut tomato (prep)``."""
    phase = _split_phase(label)
    words = " ".join(label.replace("_", " ").split()) if phase is None else phrase(phase[0])
    return words if phase is None else f"{words} ({PHASES[phase[1]]})"


def read_mapping(path: Path) -> dict[str, str]:
    """``mapping.txt`` (``<index> <label>`` per line) as label -> label and index -> label."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(read_text(path, "mapping file").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise UserError(f"{path}: line {number} {line.strip()[:80]!r} is not '<index> <label>'; fix the line")
        index, label = parts
        if mapping.get(index, label) != label or mapping.get(label, label) != label:
            raise UserError(f"{path}: line {number} gives {index} or {label!r} a second meaning; fix the line")
        mapping[index], mapping[label] = label, label
    if not mapping:
        raise UserError(f"{path}: the mapping file is empty; it lists '<index> <label>' per line")
    return mapping


def read_frame_times(path: Path) -> list[float]:
    """A 50Salads timestamps file: the first number of each line, one line per video frame."""
    times = []
    for number, line in enumerate(read_text(path, "frame timestamps file").splitlines(), 1):
        if line.strip():
            try:
                times.append(float(line.split()[0]))
            except ValueError as e:
                raise UserError(f"{path}: line {number} does not start with a timestamp") from e
    if any(b < a for a, b in zip(times, times[1:], strict=False)) or not all(map(math.isfinite, times)):
        raise UserError(f"{path}: the timestamps are not increasing numbers; is this a timestamps file?")
    return times


__all__ = [
    "BACKGROUND",
    "LEVELS",
    "SEGMENT_FORMATS",
    "Level",
    "Segment",
    "SegmentFormat",
    "parse_segments",
    "phrase",
    "read_frame_times",
    "read_mapping",
]
