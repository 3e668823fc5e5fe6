"""Action-segment files (Breakfast, MS-TCN ground truth, 50Salads, seconds) -> event-order questions (``swap``).

DyBench's event-sequence pairs are two action segments concatenated in both orders. For each video this
importer keeps the segments of real actions (background dropped, at least ``min_seconds`` long, inside
the video), picks up to ``per_video`` pairs of two different actions, one over before the other starts,
uniformly with a generator seeded by ``seed`` and the video's name, and writes one question per pair:
"Which happens first in the video: X or Y?". The original clip is A then B (their order in the video),
the ``swap`` counterfactual B then A, and the answer follows ``events``. The formats are read by
``_segment_files``.

Where each file's video is, and the name its ids carry:

- Breakfast's ``<P>/<camera>/<P>_<activity>.avi.labels``: the video beside it; the name is
  ``<P>_<camera>_<P>_<activity>``, the one Breakfast's coarse files and MS-TCN's ground truth use.
- any other ``<name>.<ext>``: ``<videos>/<name>.*`` (50Salads also ``rgb-<name>.*``) and, for a
  Breakfast name ``<P>_<camera>_<rest>``, Breakfast's own ``<videos>/<P>/<camera>/<rest>.*``
  (``stereo01``: ``<videos>/<P>/stereo/<rest>_ch0.*``, else ``_ch1``); ``videos`` defaults to the
  file's own folder.

An item id is ``seg-<name>-<i>-<j>`` (50Salads: ``seg-<name>-<level>-<i>-<j>``) with ``i`` and ``j`` the
two segments' places in the file's sorted segments: unique by construction and the same on every run.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dybench.errors import UserError
from dybench.pairs._transforms import FrameRange
from dybench.pairs.importers._common import (
    VIDEO_EXTENSIONS,
    ImportReport,
    find_video,
    link_video,
    ordered_options,
    read_lines,
    too_long,
    write_outputs,
)
from dybench.pairs.importers._segment_files import (
    BACKGROUND,
    LEVELS,
    SEGMENT_FORMATS,
    Level,
    Segment,
    SegmentFormat,
    parse_segments,
    phrase,
    read_frame_times,
    read_mapping,
)
from dybench.video import VideoError, VideoInfo, probe

#: The label files a folder argument stands for, per format.
_FOLDER_FILES: dict[SegmentFormat, tuple[str, ...]] = {
    "breakfast": ("*.labels", "*.txt", "*.coarse"),
    "mstcn": ("*.txt",),
    "50salads": ("*-activityAnnotation.txt",),
    "seconds": ("*.txt",),
}
_BREAKFAST_NAME = re.compile(r"^(P\d+)_((?:web)?cam\d+|stereo\d*)_(.+)$")
#: How far labels may run past their video's last frame (a rounding, one extra label) before the file
#: is taken for another video or another frame rate and skipped.
OVERRUN_S = 1.0


@dataclass(frozen=True)
class Span:
    """A usable action segment, in frames of its video."""

    index: int
    """Its place in the file's sorted segments (the ids use it)."""
    start: int
    stop: int
    """Exclusive."""
    text: str
    """The label in words: the option."""
    action: str
    """The action in words (50Salads' phase: its step); two spans of one action are never paired."""


def label_files(paths: Iterable[str | Path], fmt: SegmentFormat) -> list[Path]:
    """The files given, a folder standing for the label files under it, each file once, in order."""
    found: dict[Path, Path] = {}
    for path in map(Path, paths):
        if path.is_dir():
            inside = {p for pattern in _FOLDER_FILES[fmt] for p in path.rglob(pattern)}
            files = sorted(p for p in inside if p.is_file() and not p.name.startswith("."))
        else:
            files = [path]
        for file in files:
            found.setdefault(file.absolute(), file)
    return list(found.values())


def video_name(path: Path, fmt: SegmentFormat) -> str:
    """The name that ties a label file to its video (and its ids); see the module doc."""
    if fmt == "breakfast" and path.name.endswith(".labels"):
        folder = path.absolute().parent
        return f"{folder.parent.name}_{folder.name}_{path.name.split('.')[0]}"
    stem = path.name.split(".")[0]
    return stem.removesuffix("-activityAnnotation") if fmt == "50salads" else stem


def find_clip(path: Path, name: str, fmt: SegmentFormat, videos: Path | None) -> Path | None:
    """The video of label file ``path``: beside it (Breakfast's ``.labels``), else in ``videos``."""
    if fmt == "breakfast" and path.name.endswith(".labels"):
        beside = path.with_name(path.name.removesuffix(".labels"))
        if beside.is_file():
            return beside
    folder = path.parent if videos is None else videos
    clip = find_video(folder, [name, f"rgb-{name}"] if fmt == "50salads" else [name], VIDEO_EXTENSIONS)
    breakfast = _BREAKFAST_NAME.match(name)
    if clip is None and breakfast:
        person, camera, rest = breakfast.groups()
        if camera.startswith("stereo"):
            return find_video(folder / person / "stereo", [f"{rest}_ch0", f"{rest}_ch1"], VIDEO_EXTENSIONS)
        return find_video(folder / person / camera, [rest], VIDEO_EXTENSIONS)
    return clip


def usable_spans(found: list[Segment], clip: Path, info: VideoInfo, min_seconds: float) -> list[Span]:
    """The actions of ``found`` as frames of the video: background, short and out-of-video ones dropped."""
    spans = []
    for index, seg in enumerate(found):
        frames = FrameRange.of_seconds(clip, info.fps, seg.start_s, seg.end_s)
        stop = min(frames.stop, info.frame_count)
        if seg.label.lower() in BACKGROUND or stop - frames.start < max(2, min_seconds * info.fps - 1e-6):
            continue
        spans.append(Span(index, frames.start, stop, phrase(seg.label), phrase(seg.action)))
    return spans


def sample_pairs(spans: list[Span], k: int, rng: random.Random) -> list[tuple[Span, Span]]:
    """Up to ``k`` pairs (A, B): A over before B starts, different actions; uniform among all such pairs.

    The pairs are counted, not listed: memory grows with the spans (sorted by start), not with the pairs,
    and the time is O(n log n) plus O(n) for each pair drawn.
    """
    starts = [s.start for s in spans]
    of_action: dict[str, list[int]] = defaultdict(list)
    for span in spans:
        of_action[span.action].append(span.start)
    cumulative, total = [], 0  # pairs whose A is spans[0..i]
    for span in spans:
        same = of_action[span.action]
        total += len(spans) - bisect.bisect_left(starts, span.stop) - (len(same) - bisect.bisect_left(same, span.stop))
        cumulative.append(total)

    def pair(u: int) -> tuple[Span, Span]:
        i = bisect.bisect_right(cumulative, u)
        a, skip = spans[i], u - (cumulative[i - 1] if i else 0)
        for b in spans[bisect.bisect_left(starts, a.stop) :]:
            if b.action != a.action:
                if not skip:
                    return a, b
                skip -= 1
        raise AssertionError("the count and the spans disagree")

    return [pair(u) for u in sorted(rng.sample(range(total), min(k, total)))]


def _check_options(
    fmt: SegmentFormat, fps: float | None, level: Level | None, mapping: Path | None, frame_times: Path | None
) -> None:
    if fmt not in SEGMENT_FORMATS:
        raise UserError(f"unknown segments format {fmt!r}; use one of {', '.join(SEGMENT_FORMATS)}")
    if fmt == "50salads" and frame_times is None:
        raise UserError("--format 50salads needs --frame-times DIR (50Salads' timestamps-<name>.txt files)")
    if level is not None and (fmt != "50salads" or level not in LEVELS):
        raise UserError(f"--level {level} applies to --format 50salads only, as one of {', '.join(LEVELS)}")
    if mapping is not None and fmt != "mstcn":
        raise UserError("--mapping applies to --format mstcn only (its mapping.txt)")
    if fps is not None and (fmt not in ("breakfast", "mstcn") or not (math.isfinite(fps) and fps > 0)):
        raise UserError(f"--fps {fps:g}: the positive frame rate of frame-numbered labels (breakfast, mstcn)")


def import_segments(
    segments: Iterable[str | Path],
    videos: Path | None,
    out: Path,
    *,
    fmt: SegmentFormat,
    frame_times: Path | None = None,
    mapping: Path | None = None,
    fps: float | None = None,
    level: Level | None = None,
    min_seconds: float = 1.0,
    per_video: int = 2,
    seed: int = 0,
) -> ImportReport:
    """Write event-order ``swap`` annotations for the given label files (or folders of them); see the module doc.

    ``fps`` is the frame rate of frame-numbered labels (default: the video's); ``level`` is 50Salads'
    high (activities), mid (steps, the default) or low (phases); ``mapping`` is MS-TCN's mapping.txt.
    """
    _check_options(fmt, fps, level, mapping, frame_times)
    level = level or "mid"
    videos, out = (None if videos is None else Path(videos)), Path(out)
    if videos is not None and not videos.is_dir():
        raise UserError(f"{videos}: no such folder; pass the folder that holds the videos")
    labels = read_mapping(Path(mapping)) if mapping is not None else None
    out.mkdir(parents=True, exist_ok=True)
    report = ImportReport("segments", out)
    rows: list[dict] = []
    for path in label_files(segments, fmt):
        name = video_name(path, fmt)
        if not report.claim(name, str(path), "label file"):
            continue
        clip = find_clip(path, name, fmt, videos)
        if clip is None:
            report.skip("video missing", f"{path} (no {name}.* in {videos or path.parent})")
            continue
        try:
            info = probe(clip)
        except VideoError as e:
            report.skip("video unreadable", str(e))
            continue
        try:
            times = read_frame_times(Path(frame_times) / f"timestamps-{name}.txt") if frame_times else None
        except UserError as e:
            report.skip("frame timestamps unreadable", str(e))
            continue
        try:
            found = parse_segments(read_lines(path, "segments file"), fmt, fps=fps or info.fps, frame_times=times,
                                   level=level, mapping=labels)  # fmt: skip
        except (ValueError, UserError) as e:
            report.skip("segments file unreadable", f"{path}: {e}")
            continue
        end_s = max((s.end_s for s in found), default=0.0)
        if end_s > info.duration + OVERRUN_S:
            report.skip("labels run past the end of the video",
                        f"{path}: to {end_s:.1f} s, but {clip.name} is {info.duration:.1f} s long; check --fps "
                        "and that this is its video")  # fmt: skip
            continue
        spans = usable_spans(found, clip, info, min_seconds)
        pairs = sample_pairs(spans, per_video, random.Random(f"{seed}:{name}"))
        if not pairs:
            report.skip(f"no two different actions of {min_seconds:g} s or more, one after the other", str(path))
            continue
        prefix = f"seg-{name}-{level}" if fmt == "50salads" else f"seg-{name}"
        video = ""
        source = {"dataset": fmt, "file": str(path)} | ({"level": level} if fmt == "50salads" else {})
        for a, b in pairs:
            item = f"{prefix}-{a.index}-{b.index}"
            options, gold = ordered_options([a.text, b.text], a.text, seed=seed, key=item)
            question = f"Which happens first in the video: {options[0]} or {options[1]}?"
            problem = too_long(question, options)
            if problem:
                report.skip(problem, item)
                continue
            video = video or link_video(clip, out, f"{name}{clip.suffix}")
            rows.append({
                "id": item,
                "video": video,
                "question": question,
                "options": options,
                "answer": gold,
                "category": "event_sequence",
                "transforms": ["swap"],
                "segments": [[round(s.start / info.fps, 3), round(s.stop / info.fps, 3)] for s in (a, b)],
                "events": [a.text, b.text],
                "source": source | {"labels": [found[a.index].label, found[b.index].label]},
            })  # fmt: skip
    write_outputs(out, rows, report)
    return report


__all__ = ["Span", "import_segments", "label_files", "sample_pairs"]
