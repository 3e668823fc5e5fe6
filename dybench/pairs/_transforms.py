"""Counterfactual transforms: mirror a video (``hflip``), play it backwards (``reverse``), or play two of
its segments in the other order (``swap``).

:func:`apply_transform` works on decoded RGB frames (what a model sees); :func:`render_counterfactuals`
and :func:`render_swap` are file-to-file renders that a pairs build ships. The renders work on the
decoded YUV planes (no RGB round trip), so ``EncoderSettings(lossless=True)`` reproduces exactly
``apply_transform(read_frames(src), t)``, or for ``swap`` the concatenated frames of the two segments.
Memory stays bounded whatever the clip's length: ``hflip`` and ``swap`` stream frames from the decoder
straight into the encoders, and ``reverse`` keeps a bounded number of decoded frames in memory and
spills older ones to an anonymous temporary file, read back last-first with plain reads (ffmpeg's
``reverse`` filter holds the whole clip).
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np

from dybench.fileio import atomic_path, atomic_paths
from dybench.records import VIDEO_TRANSFORMS, Branch, Transform
from dybench.video import (
    DEFAULT_ENCODER,
    PLANAR_FORMATS,
    EncoderSettings,
    ProbeDetails,
    VideoError,
    VideoInfo,
    add_video_stream,
    check_size,
    decode_frames,
    for_codec,
    open_video,
    probe,
    probe_details,
)

#: Decoded frames the reverse render keeps in memory before spilling to disk (~180 frames of 720p).
REVERSE_MEMORY_BUDGET = 256 << 20
#: Frames waiting for each encoder thread (a few MB at 720p); bounds memory, smooths hand-offs.
_QUEUED_FRAMES = 8


def apply_transform(frames: np.ndarray, transform: Transform) -> np.ndarray:
    """The counterfactual of (T, H, W, C) frames: ``hflip`` mirrors left-right, ``reverse`` plays backwards.

    Returns a view; call ``np.ascontiguousarray`` if you need a compact copy.
    """
    if frames.ndim != 4:
        raise ValueError(f"frames must be (T, H, W, C), got shape {frames.shape}")
    if transform == "hflip":
        return frames[:, :, ::-1]
    if transform == "reverse":
        return frames[::-1]
    raise ValueError(f"unknown transform {transform!r}; use one of {', '.join(VIDEO_TRANSFORMS)}")


class NotReversible(VideoError):
    """The video has fewer than two distinct frames: played backwards it is the same video."""


def render_counterfactuals(
    src: str | os.PathLike,
    outputs: Mapping[Transform, str | os.PathLike],
    settings: EncoderSettings = DEFAULT_ENCODER,
    *,
    spill_dir: str | os.PathLike | None = None,
    memory_budget: int = REVERSE_MEMORY_BUDGET,
    within: str | os.PathLike | None = None,
) -> dict[Transform, VideoInfo]:
    """Render each requested transform of ``src`` to its output path; returns each output's info.

    Outputs keep the source's frame rate (a variable rate becomes its constant average), displayed
    size (rotation applied; outputs carry no rotation) and frame count; audio is dropped. Each output
    appears atomically or not at all, and only inside ``within`` when given (see
    :func:`dybench.fileio.inside`). ``reverse`` holds up to ``memory_budget`` bytes of decoded frames
    in memory and spills the rest to an anonymous file in ``spill_dir`` (default: the reverse output's
    folder), about 1.4 MB per 720p frame, gone when the render ends however it ends. A video with
    fewer than two distinct frames has no reverse: :class:`NotReversible`, and nothing is written.
    """
    src = Path(src)
    targets = {transform: Path(path) for transform, path in outputs.items()}
    for transform in targets:
        if transform not in VIDEO_TRANSFORMS:
            raise ValueError(f"unknown transform {transform!r}; use one of {', '.join(VIDEO_TRANSFORMS)}")
    if not targets:
        return {}
    details = probe_details(src)
    info = details.info
    if "reverse" in targets and info.frame_count < 2:
        raise _not_reversible(src, "has a single frame")
    work_fmt, codec, enc_fmt = _formats(info, settings)
    if not settings.lossless or enc_fmt != work_fmt:
        check_size(src, info.width, info.height, enc_fmt)
    encoder = for_codec(settings, codec, enc_fmt)

    with contextlib.ExitStack() as stack:
        backlog = None
        if "reverse" in targets:
            folder = Path(spill_dir) if spill_dir is not None else targets["reverse"].parent
            backlog = stack.enter_context(_ReverseBuffer(folder, src, info, work_fmt, memory_budget))
        writers: dict[Transform, _Writer] = {}
        for transform, path in targets.items():
            tmp = stack.enter_context(atomic_path(path, within=within))
            container = stack.enter_context(av.open(str(tmp), "w"))
            writers[transform] = _Writer(container, encoder, info, details.rate, enc_fmt)
            stack.callback(writers[transform].stop)  # before its container closes
        mirror = _FilterChain(["hflip"], info.width, info.height, work_fmt)
        count = 0
        for frame in stack.enter_context(contextlib.closing(_upright(src, details, work_fmt))):
            if "hflip" in writers:
                writers["hflip"].submit(mirror(frame))
            if backlog is not None:
                backlog.append(frame)
            count += 1
        if count != info.frame_count:
            raise VideoError(
                f"{src}: decoded {count} frames but the file holds {info.frame_count}; it is corrupt, "
                "re-export it, e.g. `ffmpeg -i in.mp4 -c:v libx264 -crf 17 out.mp4`"
            )
        if backlog is not None:
            if not backlog.distinct:
                raise _not_reversible(src, f"shows one picture in all its {count} frames")
            for frame in backlog.read_reversed():
                writers["reverse"].submit(frame)
        for writer in writers.values():
            writer.close()
    return {transform: _checked(probe(path), info, info.frame_count) for transform, path in targets.items()}


def _not_reversible(src: Path, problem: str) -> NotReversible:
    return NotReversible(
        f"{src}: {problem}, so played backwards it is the same video and a reverse pair would flip the "
        "answer of an unchanged video; drop reverse from the transforms of its questions"
    )


@dataclass(frozen=True)
class FrameRange:
    """Frames ``start`` to ``stop - 1`` of one video: a segment as :func:`render_swap` plays it."""

    video: Path
    start: int
    stop: int

    @classmethod
    def of_seconds(cls, video: str | os.PathLike, fps: float, start_s: float, end_s: float) -> FrameRange:
        """The frames shown from ``start_s`` until ``end_s``, each bound at the nearest frame boundary."""
        far = 2**53  # any time past this is past the end of every video, and still rounds to an int
        return cls(Path(video), round(min(start_s * fps, far)), round(min(end_s * fps, far)))

    def describe(self, fps: float) -> str:
        return f"frames {self.start}-{self.stop - 1} ({self.start / fps:g}-{self.stop / fps:g} s)"


def render_swap(
    first: FrameRange,
    second: FrameRange,
    outputs: Mapping[Branch, str | os.PathLike],
    settings: EncoderSettings = DEFAULT_ENCODER,
    *,
    within: str | os.PathLike | None = None,
) -> dict[Branch, VideoInfo]:
    """Render ``first`` then ``second`` to ``outputs["original"]`` and ``second`` then ``first`` to
    ``outputs["counterfactual"]`` (either may be left out); returns each output's info.

    DyBench's event-sequence construction. The segments may come from one video (they must not
    overlap) or from two that share their displayed size and frame rate; each holds 2 frames or more.
    Outputs keep that rate and size; audio is dropped. Each segment is decoded straight into the
    encoders (both outputs are encoded at once), so memory does not grow with the segments' length;
    frames before a segment are decoded and dropped, since seeking is not frame-exact. With
    ``settings.lossless``, decoding an output gives exactly the concatenated frames of its segments
    (when the two sources share a pixel format; else the second is converted to the first's). Every
    problem raises :class:`VideoError` before anything is written; the outputs appear together,
    atomically, and only inside ``within`` when given.
    """
    targets = {branch: Path(path) for branch, path in outputs.items()}
    for branch in targets:
        if branch not in ("original", "counterfactual"):
            raise ValueError(f"unknown output {branch!r}; use original and/or counterfactual")
    if not targets:
        return {}
    details = [probe_details(first.video), probe_details(second.video)]
    _check_segments(first, second, details)
    info, rate = details[0].info, details[0].rate
    work_fmt, codec, enc_fmt = _formats(info, settings)
    if not settings.lossless or enc_fmt != work_fmt:
        check_size(first.video, info.width, info.height, enc_fmt)
    encoder = for_codec(settings, codec, enc_fmt)
    a, b = (first, details[0]), (second, details[1])
    orders = {"original": (a, b), "counterfactual": (b, a)}

    with contextlib.ExitStack() as stack:
        temps = stack.enter_context(atomic_paths(*targets.values(), within=within))
        writers: list[_Writer] = []
        streams: list[Iterator[av.VideoFrame]] = []
        for branch, tmp in zip(targets, temps, strict=True):
            container = stack.enter_context(av.open(str(tmp), "w"))
            writers.append(_Writer(container, encoder, info, rate, enc_fmt))
            stack.callback(writers[-1].stop)  # before its container closes
            parts = [_segment_frames(segment, source, work_fmt) for segment, source in orders[branch]]
            for part in parts:
                stack.enter_context(contextlib.closing(part))
            streams.append(itertools.chain(*parts))
        for frames in zip(*streams, strict=True):  # the outputs hold the same frames, so they advance in step
            for writer, frame in zip(writers, frames, strict=True):
                writer.submit(frame)
        for writer in writers:
            writer.close()
    total = (first.stop - first.start) + (second.stop - second.start)
    return {branch: _checked(probe(path), info, total) for branch, path in targets.items()}


def _check_segments(first: FrameRange, second: FrameRange, details: list[ProbeDetails]) -> None:
    """Raise :class:`VideoError` unless the two segments can be played one after the other."""
    a, b = (d.info for d in details)
    if (a.width, a.height) != (b.width, b.height) or details[0].rate != details[1].rate:
        raise VideoError(
            f"{second.video}: {b.width}x{b.height} at {b.fps:g} fps, but {first.video} is {a.width}x{a.height} at "
            f"{a.fps:g} fps; segments of two videos need the same size and frame rate, re-encode one to match"
        )
    for name, segment, info in (("A", first, a), ("B", second, b)):
        if segment.start < 0 or segment.stop > info.frame_count:
            raise VideoError(
                f"{segment.video}: segment {name}, {segment.describe(info.fps)}, lies outside the video "
                f"(frames 0-{info.frame_count - 1}, 0-{info.frame_count / info.fps:g} s); fix the segment's times"
            )
        if segment.stop - segment.start < 2:
            held = max(0, segment.stop - segment.start)
            raise VideoError(
                f"{segment.video}: segment {name}, {segment.describe(info.fps)}, holds {held} frame(s); a segment "
                f"needs 2 or more ({2 / info.fps:g} s at {info.fps:g} fps), lengthen it"
            )
    if os.path.samefile(first.video, second.video) and first.start < second.stop and second.start < first.stop:
        raise VideoError(
            f"{first.video}: segments A ({first.describe(a.fps)}) and B ({second.describe(a.fps)}) overlap; "
            "give two separate time ranges"
        )


def _segment_frames(segment: FrameRange, details: ProbeDetails, work_fmt: str) -> Generator[av.VideoFrame, None, None]:
    """The frames of ``segment``, upright, in ``work_fmt``."""
    count = 0
    with contextlib.closing(_upright(segment.video, details, work_fmt)) as frames:
        for frame in itertools.islice(frames, segment.start, segment.stop):
            yield frame
            count += 1
    if count != segment.stop - segment.start:
        raise VideoError(
            f"{segment.video}: ended at frame {segment.start + count}, before frame {segment.stop - 1} that its "
            "header promises; it is corrupt, re-export it"
        )


def _upright(src: Path, details: ProbeDetails, work_fmt: str) -> Generator[av.VideoFrame, None, None]:
    """Every frame of ``src`` in ``work_fmt``, upright (display rotation applied), numbered from 0."""
    info = details.info
    orient = _FilterChain(_ORIENT[info.rotation], details.coded_width, details.coded_height, work_fmt)
    with open_video(src) as source:
        for index, frame in enumerate(decode_frames(src, source)):
            if frame.format.name != work_fmt:
                frame = frame.reformat(format=work_fmt)
            frame.pts = index
            yield orient(frame)


#: Filters that make a frame upright, by display rotation (degrees counterclockwise), as ffmpeg's autorotate.
_ORIENT: dict[int, list[str]] = {
    0: [],
    90: ["transpose=cclock"],
    180: ["hflip", "vflip"],
    270: ["transpose=clock"],
}


def _formats(info: VideoInfo, settings: EncoderSettings) -> tuple[str, str, str]:
    """(planes' working format, encoder, encoder pixel format) for rendering ``info`` with ``settings``.

    Lossless keeps the source's own pixels: its planar YUV format when libx264 takes it at this size,
    or RGB (libx264rgb) for an RGB source, so decoding the render gives exactly the transformed source.
    """
    src_fmt = av.video.format.VideoFormat(info.pix_fmt)
    if settings.lossless:
        if src_fmt.is_rgb:
            return "gbrp", "libx264rgb", "rgb24"
        if info.pix_fmt in PLANAR_FORMATS and _fits(info.pix_fmt, info.width, info.height, info.rotation):
            return info.pix_fmt, settings.codec, info.pix_fmt
    enc_fmt = settings.pix_fmt
    if enc_fmt in PLANAR_FORMATS and _fits(enc_fmt, info.width, info.height, info.rotation):
        return enc_fmt, settings.codec, enc_fmt
    return "yuv444p", settings.codec, enc_fmt  # reformatted per frame before encoding


def _fits(pix_fmt: str, width: int, height: int, rotation: int) -> bool:
    """Whether planes of ``pix_fmt`` can be flipped and rotated exactly at this size."""
    fmt = av.video.format.VideoFormat(pix_fmt)
    if len(fmt.components) == 1:
        return True
    sub_w = fmt.chroma_width(64) != 64
    sub_h = fmt.chroma_height(64) != 64
    if rotation in (90, 270) and sub_w != sub_h:
        return False  # 4:2:2 turned by 90 degrees is not 4:2:2
    return not (sub_w and width % 2) and not (sub_h and height % 2)


def _plane_views(frame: av.VideoFrame) -> list[np.ndarray]:
    """(height, width) numpy views of a frame's planes, without the line padding."""
    dtype = np.dtype("<u2") if any(c.bits > 8 for c in frame.format.components) else np.dtype(np.uint8)
    views = []
    for plane in frame.planes:
        row = plane.line_size // dtype.itemsize
        views.append(np.frombuffer(memoryview(plane), dtype=dtype).reshape(plane.height, row)[:, : plane.width])
    return views


class _FilterChain:
    """FFmpeg filters applied frame by frame (SIMD code: hflip is ~15x faster than a numpy copy)."""

    def __init__(self, filters: list[str], width: int, height: int, pix_fmt: str) -> None:
        self.pix_fmt = pix_fmt
        self.graph: av.filter.Graph | None = None
        if not filters:
            return
        graph = av.filter.Graph()
        node = graph.add_buffer(width=width, height=height, format=av.VideoFormat(pix_fmt), time_base=Fraction(1, 1000))
        for spec in filters:
            name, _, args = spec.partition("=")
            nxt = graph.add(name, args or None)
            node.link_to(nxt)
            node = nxt
        node.link_to(graph.add("buffersink"))
        graph.configure()
        self.graph = graph

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self.graph is None:
            return frame
        self.graph.push(frame)
        out = self.graph.vpull()
        return out if out.format.name == self.pix_fmt else out.reformat(format=self.pix_fmt)


class _Writer:
    """One output file, encoded in its own thread at a constant frame rate.

    PyAV releases the GIL inside the codec, so decoding, the other output's encoder and the spill
    overlap, as in ffmpeg's threaded pipeline.
    """

    def __init__(
        self,
        container: av.container.OutputContainer,
        settings: EncoderSettings,
        info: VideoInfo,
        rate: Fraction,
        enc_fmt: str,
    ) -> None:
        self.container = container
        self.stream = add_video_stream(
            container, settings, width=info.width, height=info.height, rate=rate, pix_fmt=enc_fmt
        )
        self.time_base = 1 / rate
        self.index = 0
        self._queue: queue.Queue[av.VideoFrame | None] = queue.Queue(maxsize=_QUEUED_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="dybench-encoder", daemon=True)
        self._thread.start()

    def submit(self, frame: av.VideoFrame) -> None:
        """Queue the next frame (it carries the source's colour tags) for encoding."""
        if self._error is not None:
            raise self._error
        if self.index == 0:  # before the encoder opens: tag the stream like the source
            context = self.stream.codec_context
            context.color_range, context.colorspace = frame.color_range, frame.colorspace
        frame.pts = self.index
        frame.time_base = self.time_base
        frame.pict_type = av.video.frame.PictureType.NONE  # else libx264 copies the source's I/P/B types
        self.index += 1
        self._queue.put(frame)

    def _run(self) -> None:
        while True:
            frame = self._queue.get()
            if self._error is None:  # after an error, keep draining so submit() never blocks
                try:
                    self.container.mux(self.stream.encode(frame))
                except BaseException as e:  # handed to the submitting thread
                    self._error = e
            if frame is None:
                return

    def close(self) -> None:
        """Flush the encoder and wait for it (the container closes with its context)."""
        self.stop()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """End the encoder thread; safe to call twice and on errors."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class _ReverseBuffer:
    """Decoded frames held for the reverse render, handed back last first, in bounded memory.

    The newest frames stay in memory (as decoded, no copy) up to ``budget`` bytes; older ones are
    spilled as packed planes to an anonymous temporary file and read back with plain ``readinto``
    calls straight into new frames' planes (not mmap, whose touched pages would count as the
    process's memory). So a short clip never touches the disk and a long one costs the same memory
    as a short one.
    """

    def __init__(self, folder: Path, src: Path, info: VideoInfo, work_fmt: str, budget: int) -> None:
        self.folder, self.src, self.work_fmt = folder, src, work_fmt
        self.width, self.height = info.width, info.height
        self.frame_bytes = sum(v.nbytes for v in _plane_views(av.VideoFrame(self.width, self.height, work_fmt)))
        self.capacity = max(1, budget // self.frame_bytes)
        self.expected = info.frame_count
        self.recent: collections.deque[av.VideoFrame] = collections.deque()
        self.spilled = 0
        self.file: io.BufferedRandom | None = None
        self.first: list[np.ndarray] | None = None
        self.distinct = False
        """Whether two of the frames differ (reversing a video of one picture changes nothing)."""

    def __enter__(self) -> _ReverseBuffer:
        need = self.frame_bytes * max(0, self.expected - self.capacity)
        if need:
            self.folder.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(self.folder).free
            if need > free:
                raise VideoError(
                    f"{self.src}: reversing needs {need / 1e9:.1f} GB of free disk for decoded frames in "
                    f"{self.folder}, only {free / 1e9:.1f} GB free; free space there or pass spill_dir"
                )
        return self

    def __exit__(self, *exc: object) -> None:
        self.recent.clear()
        if self.file is not None:
            self.file.close()

    def append(self, frame: av.VideoFrame) -> None:
        """Keep one frame; spill the oldest kept one when over budget."""
        if not self.distinct:  # compared until the first difference, usually the second frame
            planes = _plane_views(frame)
            if self.first is None:
                self.first = [np.array(p) for p in planes]
            else:
                self.distinct = not all(np.array_equal(a, b) for a, b in zip(self.first, planes, strict=True))
        self.recent.append(frame)
        if len(self.recent) > self.capacity:
            self._spill(self.recent.popleft())

    def _spill(self, frame: av.VideoFrame) -> None:
        if self.file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.file = tempfile.TemporaryFile(dir=self.folder, prefix=".dybench-reverse-")
        for plane in _plane_views(frame):
            self.file.write(np.ascontiguousarray(plane).data.cast("B"))
        self.spilled += 1

    def read_reversed(self) -> Iterator[av.VideoFrame]:
        """Every kept frame, last first (frames from the file are new frames with the same tags)."""
        tags = (self.recent[0].color_range, self.recent[0].colorspace) if self.recent else None
        while self.recent:
            yield self.recent.pop()
        if self.file is None or tags is None:
            return
        self.file.flush()
        for index in range(self.spilled - 1, -1, -1):
            self.file.seek(index * self.frame_bytes)
            frame = av.VideoFrame(self.width, self.height, self.work_fmt)
            frame.color_range, frame.colorspace = tags
            for plane, view in zip(frame.planes, _plane_views(frame), strict=True):
                if view.flags.c_contiguous:  # no line padding: read straight into the plane
                    got = self.file.readinto(memoryview(plane)[: view.nbytes])
                else:
                    scratch = bytearray(view.nbytes)
                    got = self.file.readinto(scratch)
                    view[...] = np.frombuffer(scratch, dtype=view.dtype).reshape(view.shape)
                if got != view.nbytes:
                    raise VideoError(f"{self.src}: temporary frame file in {self.folder} was cut short; retry")
            yield frame


def _checked(out: VideoInfo, src: VideoInfo, frames: int) -> VideoInfo:
    """The output's info, after checking it holds ``frames`` frames at the source's displayed size."""
    if out.frame_count != frames or (out.width, out.height) != (src.width, src.height):
        raise VideoError(
            f"{out.path}: render has {out.frame_count} frames at {out.width}x{out.height}, expected {frames} at "
            f"{src.width}x{src.height} from {src.path}; report this as a dybench bug"
        )
    return out


__all__ = ["FrameRange", "NotReversible", "apply_transform", "render_counterfactuals", "render_swap"]
