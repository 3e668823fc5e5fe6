"""Tracking sequences (GOT-10k layout) -> moving-direction questions from the box centroid's motion.

A sequence is a folder of numbered frames (``00000001.jpg``, ...) with ``groundtruth.txt``: one ``x,y,w,h``
box per frame. Frames where the object is absent (``absence.label`` says 1, or the box is empty or not
a number) are left out of the motion. The direction is the net displacement of the box centre from its
first to its last visible frame, as a fraction of the frame size: it must be at least
``min_displacement``, twice as large along its axis as across it, and most of the path travelled
(an object that goes back and forth is skipped). The frames are encoded into ``videos/<sequence>.mp4``.
GOT-10k's ``meta_info.ini`` names the object (``object_class``) when it is there.

Sequence folders lie directly under the root, or one level deeper (GOT-10k's ``train/``, ``val/``,
``test/``). Every visible box's centre must lie in the frame (the size of the first frame), every frame
must have that size, and a frame image larger than Pillow's ``Image.MAX_IMAGE_PIXELS`` (a
decompression bomb) is not decoded: each of these skips its sequence with the reason.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from dybench.errors import UserError
from dybench.fileio import inside
from dybench.pairs.importers._common import (
    VIDEOS,
    ImportReport,
    ordered_options,
    read_text,
    too_long,
    write_outputs,
)
from dybench.video import EncoderSettings, write_video

OPTIONS = ("to the left", "to the right", "up", "down")
_IMAGES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class Motion:
    """Where the tracked object went, or why that is unclear."""

    direction: str | None
    """One of OPTIONS, or None when the motion is ambiguous."""
    reason: str = ""
    """Why it is ambiguous (a skip reason)."""


def read_boxes(path: Path) -> list[tuple[float, float, float, float] | None]:
    """One box per line of ``groundtruth.txt`` (comma or space separated); None where there is no box."""
    boxes: list[tuple[float, float, float, float] | None] = []
    for line in read_text(path, "groundtruth file").splitlines():
        parts = line.replace(",", " ").split()
        try:
            x, y, w, h = (float(v) for v in parts)
        except ValueError:
            boxes.append(None)
            continue
        ok = all(math.isfinite(v) for v in (x, y, w, h)) and w > 0 and h > 0
        boxes.append((x, y, w, h) if ok else None)
    return boxes


def box_outside(boxes: list[tuple[float, float, float, float] | None], width: int, height: int) -> str | None:
    """Where the first box whose centre is not inside the frame is (a skip reason), or None."""
    for line, box in enumerate(boxes, 1):
        if box is not None:
            x, y, w, h = box
            cx, cy = x + w / 2, y + h / 2  # may overflow to inf
            if not (0 <= cx <= width and 0 <= cy <= height):
                return f"line {line}: box {x:g},{y:g},{w:g},{h:g} has its centre outside the {width}x{height} frame"
    return None


def motion_of(
    boxes: list[tuple[float, float, float, float] | None], width: int, height: int, *, min_displacement: float
) -> Motion:
    """The direction of the centroid's net displacement; see the module doc for the rules."""
    centres = [((x + w / 2) / width, (y + h / 2) / height) for x, y, w, h in (b for b in boxes if b is not None)]
    if len(centres) < 2:
        return Motion(None, "the object is visible in fewer than 2 frames")
    (x0, y0), (x1, y1) = centres[0], centres[-1]
    dx, dy = x1 - x0, y1 - y0
    net = max(abs(dx), abs(dy))
    if net < min_displacement:
        return Motion(None, f"moves less than {min_displacement:g} of the frame")
    if abs(dx) < 2 * abs(dy) and abs(dy) < 2 * abs(dx):
        return Motion(None, "moves diagonally")
    path = sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(centres, centres[1:], strict=False))
    if math.hypot(dx, dy) < 0.5 * path:
        return Motion(None, "goes back and forth")
    if abs(dx) >= 2 * abs(dy):
        return Motion("to the right" if dx > 0 else "to the left")
    return Motion("down" if dy > 0 else "up")


def _object_name(folder: Path) -> str:
    meta = folder / "meta_info.ini"
    if meta.is_file():
        for line in read_text(meta, "meta_info.ini").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "object_class" and value.strip():
                return " ".join(value.strip().split())
    return "tracked object"


class FrameError(ValueError):
    """A frame image that cannot be used: unreadable, another size, or a decompression bomb."""


@contextlib.contextmanager
def _opened(file: Path, size: tuple[int, int] | None = None) -> Iterator[Image.Image]:
    """The image in ``file`` (of ``size`` when given), never decoded when larger than Pillow's pixel limit."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit: refuse, not warn
        try:
            with Image.open(file) as image:
                if size is not None and image.size != size:
                    raise FrameError(f"{file.name} is {image.size[0]}x{image.size[1]}, the first frame {size[0]}x"
                                     f"{size[1]}; all frames of a sequence need one size")  # fmt: skip
                yield image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise FrameError(f"{file.name}: {e}") from e
        except (OSError, UnidentifiedImageError) as e:
            raise FrameError(f"{file.name}: not a readable image ({e})") from e


def _frames(files: list[Path], width: int, height: int) -> Iterator[np.ndarray]:
    for file in files:
        with _opened(file, (width, height)) as image:
            frame = np.asarray(image.convert("RGB"))
        yield frame[: height - height % 2, : width - width % 2]  # yuv420p needs an even size


def import_tracks(
    root: Path,
    out: Path,
    *,
    fps: float = 10.0,
    min_displacement: float = 0.15,
    seed: int = 0,
    encoder: EncoderSettings | None = None,
) -> ImportReport:
    """Write moving-direction annotations and clips for every sequence folder under ``root``."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder; pass the folder that holds the sequence folders")
    if not (fps > 0 and 0 < min_displacement < 1):
        raise UserError(f"--fps must be positive and --min-displacement in (0, 1), got {fps}, {min_displacement}")
    out.mkdir(parents=True, exist_ok=True)
    report = ImportReport("tracks", out)
    rows: list[dict] = []
    sequences = sorted(p.parent for pattern in ("*/groundtruth.txt", "*/*/groundtruth.txt") for p in root.glob(pattern))
    for folder in sequences:
        name = folder.name
        if not report.claim(name, str(folder), "sequence folder"):
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGES)
        try:
            boxes = read_boxes(folder / "groundtruth.txt")
            absence = folder / "absence.label"
            flags = read_text(absence, "absence.label").split() if absence.is_file() else []
            thing = _object_name(folder)
        except UserError as e:
            report.skip("unreadable label file", str(e))
            continue
        if len(boxes) == 1 and len(files) > 1:
            report.skip("one box for the first frame only (GOT-10k's test split: its other boxes are not public)",
                        name)  # fmt: skip
            continue
        if not files or len(files) != len(boxes):
            report.skip("frame count differs from box count", f"{name}: {len(files)} frames, {len(boxes)} boxes")
            continue
        boxes = [None if i < len(flags) and flags[i] == "1" else b for i, b in enumerate(boxes)]
        try:
            with _opened(files[0]) as first:
                width, height = first.size
        except FrameError as e:
            report.skip("unreadable frame", f"{name}: {e}")
            continue
        outside = box_outside(boxes, width, height)
        if outside:
            report.skip("a box lies outside the frame", f"{name}: {outside}")
            continue
        motion = motion_of(boxes, width, height, min_displacement=min_displacement)
        if motion.direction is None:
            report.skip(motion.reason, name)
            continue
        question = f"In which direction does the {thing} move?"
        problem = too_long(question, list(OPTIONS))
        if problem:
            report.skip(problem, name)
            continue
        clip = f"{VIDEOS}/{name}.mp4"
        target = inside(out, out / clip)  # a planted link stops the import, named
        try:
            write_video(target, _frames(files, width, height), fps, encoder or EncoderSettings())
        except (OSError, ValueError) as e:
            report.skip("frames could not be encoded", f"{name}: {e}")
            continue
        options, gold = ordered_options(list(OPTIONS), motion.direction, seed=seed, key=name)
        horizontal = motion.direction in ("to the left", "to the right")
        rows.append({
            "id": f"track-{name}",
            "video": clip,
            "question": question,
            "options": options,
            "answer": gold,
            "category": "moving_direction",
            "transforms": ["hflip", "reverse"] if horizontal else ["reverse"],
            "source": {"dataset": "tracks", "sequence": name, "frames": len(files)},
        })  # fmt: skip
    write_outputs(out, rows, report)
    return report
