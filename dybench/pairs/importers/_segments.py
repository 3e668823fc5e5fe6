"""Action-segment files (Breakfast, 50Salads, plain seconds) -> event-order questions built with ``swap``.

DyBench's event-sequence pairs are two action segments concatenated in both orders. For each video this
importer keeps the segments of real actions (background labels dropped, at least ``min_seconds`` long),
picks up to ``per_video`` pairs of distinct actions with a seeded generator, and writes one question per
pair: "Which happens first: X or Y?". The original clip is segment A then B (their order in the video),
the ``swap`` counterfactual is B then A, and the answer follows ``events``.

Formats (one segment per line):
- ``breakfast``: ``<first>-<last> <label>``, 1-based inclusive frame numbers (``1-30 SIL``); the frame rate
  is read from the video.
- ``50salads``: ``<start> <end> <label>`` in the clock of the video's frame timestamps file
  (``timestamps-<key>.txt`` in ``--frame-times``: one timestamp per video frame, first number of each line);
  activity phases ``_prep``/``_core``/``_post`` of one action are merged.
- ``seconds``: ``<start_s> <end_s> <label>``.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dybench.errors import UserError
from dybench.pairs.importers._common import (
    VIDEO_EXTENSIONS,
    ImportReport,
    find_video,
    link_video,
    ordered_options,
    read_text,
    safe_name,
    write_outputs,
)
from dybench.video import probe

SegmentFormat = Literal["breakfast", "50salads", "seconds"]
SEGMENT_FORMATS: tuple[SegmentFormat, ...] = ("breakfast", "50salads", "seconds")
#: Labels that mark no action (Breakfast's SIL, 50Salads' start/end markers); compared in lower case.
BACKGROUND = frozenset({"sil", "background", "bg", "action_start", "action_end", "none"})
_PHASES = ("_prep", "_core", "_post")


@dataclass(frozen=True)
class Segment:
    """One action, in seconds of its video."""

    start_s: float
    end_s: float
    label: str


def _key(path: Path, fmt: SegmentFormat) -> str:
    """The name that links a segments file to its video (and, for 50Salads, its timestamps file)."""
    stem = path.name.split(".")[0]
    if fmt == "50salads":
        stem = stem.removesuffix("-activityAnnotation")
    return stem


def _video_stems(key: str, fmt: SegmentFormat) -> list[str]:
    return [key, f"rgb-{key}"] if fmt == "50salads" else [key]


def parse_segments(text: str, fmt: SegmentFormat, *, fps: float, frame_times: list[float] | None) -> list[Segment]:
    """The segments of one file, in seconds; a malformed line raises ValueError naming the line."""
    segments = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            if fmt == "breakfast":
                span, label = line.split(maxsplit=1)
                first, last = (int(v) for v in span.split("-"))
                start_s, end_s = (first - 1) / fps, last / fps
            else:
                start, end, label = line.split(maxsplit=2)
                if fmt == "seconds":
                    start_s, end_s = float(start), float(end)
                else:
                    assert frame_times is not None
                    start_s = bisect.bisect_left(frame_times, float(start)) / fps
                    end_s = bisect.bisect_right(frame_times, float(end)) / fps
        except (ValueError, AssertionError) as e:
            raise ValueError(f"line {number} {line.strip()!r} is not a {fmt} segment") from e
        if not end_s > start_s:
            raise ValueError(f"line {number} {line.strip()!r} ends before it starts")
        label = label.strip()
        if fmt == "50salads":
            label = next((label.removesuffix(p) for p in _PHASES if label.endswith(p)), label)
        segments.append(Segment(start_s, end_s, label))
    return _merge_runs(sorted(segments, key=lambda s: s.start_s))


def _merge_runs(segments: list[Segment]) -> list[Segment]:
    """Adjacent segments of the same action (50Salads' phases) as one."""
    merged: list[Segment] = []
    for seg in segments:
        if merged and merged[-1].label == seg.label and seg.start_s - merged[-1].end_s < 0.5:
            merged[-1] = Segment(merged[-1].start_s, max(merged[-1].end_s, seg.end_s), seg.label)
        else:
            merged.append(seg)
    return merged


def _read_frame_times(path: Path) -> list[float]:
    times = []
    for number, line in enumerate(read_text(path, "frame timestamps file").splitlines(), 1):
        if line.strip():
            try:
                times.append(float(line.split()[0]))
            except ValueError as e:
                raise UserError(f"{path}: line {number} does not start with a timestamp") from e
    return times


def _phrase(label: str) -> str:
    return " ".join(label.replace("_", " ").split())


def import_segments(
    segments: list[Path],
    videos: Path,
    out: Path,
    *,
    fmt: SegmentFormat,
    frame_times: Path | None = None,
    min_seconds: float = 1.0,
    per_video: int = 2,
    seed: int = 0,
) -> ImportReport:
    """Write event-order ``swap`` annotations for the given segment files; see the module doc."""
    if fmt not in SEGMENT_FORMATS:
        raise UserError(f"unknown segments format {fmt!r}; use one of {', '.join(SEGMENT_FORMATS)}")
    if fmt == "50salads" and frame_times is None:
        raise UserError("--format 50salads needs --frame-times DIR (50Salads' timestamps-<key>.txt files)")
    videos, out = Path(videos), Path(out)
    if not videos.is_dir():
        raise UserError(f"{videos}: no such folder; pass the folder that holds the videos")
    out.mkdir(parents=True, exist_ok=True)
    report = ImportReport("segments", out)
    rows: list[dict] = []
    for path in sorted(Path(p) for p in segments):
        key = _key(path, fmt)
        clip = find_video(videos, _video_stems(key, fmt), VIDEO_EXTENSIONS)
        if clip is None:
            report.skip("video missing", path.name)
            continue
        try:
            fps = float(probe(clip).fps)
            times = _read_frame_times(Path(frame_times) / f"timestamps-{key}.txt") if fmt == "50salads" else None
            found = parse_segments(read_text(path, "segments file"), fmt, fps=fps, frame_times=times)
        except (ValueError, UserError) as e:
            report.skip("unreadable segments or video", f"{path.name}: {e}")
            continue
        actions = [s for s in found if s.label.lower() not in BACKGROUND and s.end_s - s.start_s >= min_seconds]
        candidates = [(a, b) for i, a in enumerate(actions) for b in actions[i + 1 :] if a.label != b.label]
        if not candidates:
            report.skip(f"fewer than two distinct actions of {min_seconds:g} s or more", path.name)
            continue
        rng = random.Random(f"{seed}:{key}")
        for a, b in rng.sample(candidates, min(per_video, len(candidates))):
            first, second = _phrase(a.label), _phrase(b.label)
            item = f"{key}-{a.start_s:.2f}-{b.start_s:.2f}"
            options, gold = ordered_options([first, second], first, seed=seed, key=item)
            rows.append({
                "id": f"seg-{item}",
                "video": link_video(clip, out, safe_name(f"{key}{clip.suffix}", path.name)),
                "question": f"Which happens first in the video: {options[0]} or {options[1]}?",
                "options": options,
                "answer": gold,
                "category": "event_sequence",
                "transforms": ["swap"],
                "segments": [[round(a.start_s, 3), round(a.end_s, 3)], [round(b.start_s, 3), round(b.end_s, 3)]],
                "events": [first, second],
                "source": {"dataset": fmt, "file": path.name, "labels": [a.label, b.label]},
            })  # fmt: skip
    write_outputs(out, rows, report)
    return report


__all__ = ["SEGMENT_FORMATS", "Segment", "import_segments", "parse_segments"]
