"""Video I/O on PyAV: probe a file, sample and read frames, write frames to H.264.

Everything a benchmark needs to trust about a video is decided here, once: the exact frame count
(counted from the demuxed packets, never taken from a header that may be missing or wrong), the
frame rate (and whether it is variable), and the orientation (rotation metadata is applied, as
ffmpeg's autorotate does, so frames come out upright). Every failure is a :class:`VideoError` whose
message names the file and says how to fix it.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from dybench.errors import UserError
from dybench.fileio import atomic_path

#: Pixel formats whose planes dybench handles directly (planar YUV or gray, 8 or 10 bit).
PLANAR_FORMATS = frozenset(
    {
        "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
        "yuv420p10le", "yuv422p10le", "yuv444p10le", "gray", "gray10le",
    }
)  # fmt: skip
#: Demuxers that read still images (or text); a file they open is not a video. GIF is a video here.
_IMAGE_DEMUXERS = ("image2", "_pipe", "tty")


class VideoError(UserError, ValueError):
    """A video cannot be read or written; the message names the file and how to fix it."""


@dataclass(frozen=True)
class EncoderSettings:
    """How renders and written videos are encoded. Part of a build's identity (stamps, manifest)."""

    codec: str = "libx264"
    """FFmpeg encoder name. ``lossless`` needs libx264."""
    pix_fmt: str = "yuv420p"
    """Output pixel format; yuv420p plays everywhere but needs even width and height, yuv444p does not."""
    crf: int = 17
    """Constant rate factor (libx264/libx265); 17 is visually lossless. Ignored when ``lossless``."""
    preset: str = "medium"
    """x264/x265 speed preset: slower presets give smaller files at the same quality."""
    lossless: bool = False
    """Exact pixels: libx264 at qp 0. Renders keep the source's pixel format (so decoding a render gives
    exactly the transformed source); :func:`write_video` encodes RGB (libx264rgb) so RGB frames round-trip."""
    threads: int = 4
    """Encoder threads. libx264's output depends on its thread count, so a fixed count keeps renders
    byte-identical whatever the CPUs a process may use and however many build workers share them;
    0 lets the encoder pick one per CPU (faster on big machines, but the bytes then follow the CPUs).
    Parallelism across videos comes from the build's ``workers``."""

    def __post_init__(self) -> None:
        problem = _settings_problem(self)
        if problem:
            raise VideoError(f"encoder settings: {problem}")


#: x264 / x265 speed presets, fastest first.
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
#: The constant-rate-factor range of libx264 and libx265 (8-bit).
CRF_RANGE = (0, 51)


@functools.cache
def _encoder_formats(codec: str) -> tuple[str, ...] | None:
    """The pixel formats ``codec`` encodes; None when FFmpeg has no such encoder."""
    try:
        return tuple(f.name for f in av.codec.Codec(codec, "w").video_formats or ())
    except (av.error.FFmpegError, ValueError):
        return None


def _settings_problem(settings: EncoderSettings) -> str | None:
    """What is wrong with ``settings`` and how to fix it, or None."""
    formats = _encoder_formats(settings.codec)
    if formats is None:
        return f"codec {settings.codec!r} is not an FFmpeg video encoder here; use libx264"
    if settings.pix_fmt not in formats:
        return f"pixel format {settings.pix_fmt!r} cannot be encoded by {settings.codec}; use {', '.join(formats)}"
    if settings.codec.startswith(("libx264", "libx265")):
        if settings.preset not in PRESETS:
            return f"preset {settings.preset!r} is not an x264 preset; use one of {', '.join(PRESETS)}"
        low, high = CRF_RANGE
        if isinstance(settings.crf, bool) or not isinstance(settings.crf, int) or not low <= settings.crf <= high:
            return f"crf {settings.crf!r} is out of range; use {low} to {high} (lower is better, 17 looks lossless)"
    if isinstance(settings.threads, bool) or not isinstance(settings.threads, int) or settings.threads < 0:
        return f"threads {settings.threads!r}: use a count of 1 or more, or 0 for one per core"
    return None


#: The default encoder settings (H.264, yuv420p, crf 17).
DEFAULT_ENCODER = EncoderSettings()


@dataclass(frozen=True)
class VideoInfo:
    """What dybench knows about one video file (as displayed: after rotation)."""

    path: Path
    """The file probed."""
    width: int
    """Displayed width in pixels (after rotation)."""
    height: int
    """Displayed height in pixels (after rotation)."""
    fps: float
    """Frame rate; for a variable-frame-rate file, the average (frame_count / duration)."""
    frame_count: int
    """Exact number of frames, counted from the demuxed packets."""
    duration: float
    """Seconds, from the first frame's start to the last frame's end."""
    rotation: int
    """Display rotation in degrees counterclockwise (0, 90, 180 or 270), already applied to frames."""
    codec: str
    """Video codec name, e.g. ``h264``."""
    pix_fmt: str
    """Decoded pixel format, e.g. ``yuv420p``."""
    variable_frame_rate: bool
    """True when frame durations differ; renders then use the constant average rate."""
    has_audio: bool
    """True when the file has an audio stream (renders drop audio)."""


@dataclass(frozen=True)
class ProbeDetails:
    """``VideoInfo`` plus what the readers and the renderer need and users do not."""

    info: VideoInfo
    rate: Fraction
    """Frame rate as an exact fraction, for encoders' time bases."""
    coded_width: int
    """Width of the decoded frames, before rotation."""
    coded_height: int
    """Height of the decoded frames, before rotation."""


def _fail(path: Path, problem: str, fix: str) -> VideoError:
    return VideoError(f"{path}: {problem}; {fix}")


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise _fail(path, "video file not found", "check the path (relative to the source folder)")
    if path.is_dir():
        raise _fail(path, "is a directory, not a video file", "point to the video file itself")
    if not os.access(path, os.R_OK):
        raise _fail(path, "video file is not readable (permission denied)", f"run `chmod u+r '{path}'`")
    if path.stat().st_size == 0:
        raise _fail(path, "video file is empty (0 bytes)", "re-copy or re-export the video")


def open_video(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading and return the container; errors become :class:`VideoError`."""
    _check_readable(path)
    try:
        container = av.open(str(path), "r")
    except PermissionError as e:
        raise _fail(path, "permission denied", f"run `chmod u+r '{path}'`") from e
    except av.error.FFmpegError as e:
        raise _fail(
            path,
            f"not a readable video ({e.strerror or e}); the file is corrupt, truncated or not a video",
            "re-export or re-download it (a truncated MP4 loses its index, the moov atom, beyond repair)",
        ) from e
    fmt = container.format.name
    if any(key in fmt for key in _IMAGE_DEMUXERS):
        container.close()
        raise _fail(path, f"is a still image ({fmt}), not a video", "pass a video file (e.g. MP4)")
    if not container.streams.video:
        container.close()
        raise _fail(path, "has no video stream (no frames)", "pass a file that holds video, not audio only or empty")
    return container


def _decode_error(path: Path, e: Exception, where: str) -> VideoError:
    return _fail(
        path,
        f"decoding failed {where} ({e}); the file is corrupt or truncated",
        "re-export the video, e.g. `ffmpeg -i in.mp4 -c:v libx264 -crf 17 out.mp4`",
    )


def _rotation_of(frame: av.VideoFrame) -> int:
    """Display rotation of a decoded frame, degrees counterclockwise, snapped to a multiple of 90."""
    try:
        rotation = frame.rotation
    except (AttributeError, ValueError):
        return 0
    return int(round((rotation or 0) / 90.0)) % 4 * 90


def probe_details(path: str | os.PathLike) -> ProbeDetails:
    """:func:`probe`, plus the exact frame rate and coded size that renderers need."""
    path = Path(path)
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # one frame is decoded: frame threads would only delay it
        has_audio = bool(container.streams.audio)
        pts: list[int | None] = []
        first: av.VideoFrame | None = None
        stored = 0  # packets in the file, shown or not
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream marker
                stored += 1
                if first is None:  # decode until the first shown frame (discarded ones are references)
                    frame = next(iter(packet.decode()), None)
                    first = frame if isinstance(frame, av.VideoFrame) else None
                if packet.is_discard:
                    continue  # cut away by an edit list: decoded as a reference, never shown
                ts = packet.pts if packet.pts is not None else packet.dts
                pts.append(ts)
            if first is None and pts:
                first = next(iter(stream.decode(None)), None)  # frames held back by the decoder
        except av.error.FFmpegError as e:
            raise _decode_error(path, e, f"after {len(pts)} packets") from e
        header_frames = stream.frames
        if not pts:
            raise _fail(path, "video stream has no frames", "re-export the video; it holds no picture at all")
        if first is None:
            raise _decode_error(path, RuntimeError("no frame decoded"), "at the first frame")
        if header_frames and header_frames > stored and container.format.name.startswith("mov"):
            raise _fail(
                path,
                f"truncated: its index lists {header_frames} frames but only {stored} are present",
                "re-copy or re-download the complete file",
            )
        tb = stream.time_base or Fraction(1, 90000)
        rate, variable, duration = _timing(pts, tb, stream.guessed_rate or stream.average_rate)
        rotation = _rotation_of(first)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        info = VideoInfo(
            path=path,
            width=width,
            height=height,
            fps=float(rate),
            frame_count=len(pts),
            duration=duration,
            rotation=rotation,
            codec=stream.codec_context.name,
            pix_fmt=first.format.name,
            variable_frame_rate=variable,
            has_audio=has_audio,
        )
        details = ProbeDetails(info=info, rate=rate, coded_width=first.width, coded_height=first.height)
    return details


def _timing(pts: list[int | None], tb: Fraction, header_rate: Fraction | None) -> tuple[Fraction, bool, float]:
    """Frame rate, whether it is variable, and duration, from the frames' presentation timestamps.

    Timestamps are integers in ``tb`` units, so a constant rate that does not divide the time base
    (29.97 fps in milliseconds) alternates by one tick; only larger deviations mean a variable rate.
    Without timestamps (raw elementary streams) the header's rate is all there is.
    """
    n = len(pts)
    if n < 2 or any(ts is None for ts in pts):
        rate = Fraction(header_rate) if header_rate else Fraction(25)
        return rate, False, float(n / rate)
    ordered = sorted(ts for ts in pts if ts is not None)
    diffs = np.diff(np.asarray(ordered, dtype=np.float64))  # timestamps are integers far below 2**53: exact
    mean = (ordered[-1] - ordered[0]) / (n - 1)
    tolerance = 1 + max(1.0, 0.01 * mean)
    variable = bool(mean <= 0 or np.any(np.abs(diffs - mean) > tolerance))
    measured = Fraction(n - 1) / ((ordered[-1] - ordered[0]) * tb) if ordered[-1] > ordered[0] else None
    if measured is None:
        rate = Fraction(header_rate) if header_rate else Fraction(25)
    elif not variable and header_rate and abs(float(header_rate) / float(measured) - 1) < 0.01:
        rate = Fraction(header_rate)  # the exact nominal rate (30000/1001, not 2997/100)
    else:
        rate = measured.limit_denominator(1001)
    return rate, variable, float(n / rate)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe a video: displayed size, exact frame count, fps, rotation, codec, VFR and audio.

    Counts frames by demuxing packets (cheap: nothing is decoded except the first frame, which
    also proves the file decodes and carries the rotation). Raises :class:`VideoError` for a
    missing, unreadable, corrupt, truncated, frameless or non-video file.
    """
    return probe_details(path).info


VIDEOS_PER_WORKER = 16
"""Automatic parallelism starts one render process per this many videos: on a few, a pool saves little or
costs (``dybench build`` of 8 default synth clips on 2 busy CPUs: 2 processes 18 % slower than 1 in one
measurement, 8 % faster in another; of 32 clips, 22-49 % faster; ``benchmarks/startup_and_build.py``)."""


def render_workers(videos: int, workers: int | None = None) -> int:
    """The processes ``dybench synth`` and ``dybench build`` render ``videos`` videos with: ``workers``
    when given (> 0), else one per CPU but at most one per :data:`VIDEOS_PER_WORKER` videos, at least one."""
    if workers:
        return workers
    return max(1, min(os.cpu_count() or 1, videos // VIDEOS_PER_WORKER))


def sample_indices(
    frame_count: int, *, num_frames: int | None = None, fps: float | None = None, src_fps: float | None = None
) -> list[int]:
    """Frame indices to read: ``num_frames`` spread uniformly (first and last included), or one
    frame every ``1/fps`` seconds of a ``src_fps`` video; all frames when neither is given.

    With ``num_frames`` larger than ``frame_count`` some frames repeat, so a model that needs a fixed
    count always gets it. With ``fps`` at or above ``src_fps`` every frame is returned once.
    """
    if frame_count <= 0:
        raise ValueError(f"frame_count must be positive, got {frame_count}")
    if num_frames is not None and fps is not None:
        raise ValueError("pass num_frames or fps, not both")
    if num_frames is not None:
        if num_frames <= 0:
            raise ValueError(f"num_frames must be positive, got {num_frames}")
        if num_frames == 1:
            return [(frame_count - 1) // 2]
        return [int(round(x)) for x in np.linspace(0, frame_count - 1, num_frames)]
    if fps is not None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if src_fps is None or src_fps <= 0:
            raise ValueError("sampling by fps needs the source frame rate (src_fps)")
        step = src_fps / fps
        if step <= 1:
            return list(range(frame_count))
        count = int(math.floor((frame_count - 1) / step + 1e-9)) + 1
        return [int(math.floor(k * step + 1e-9)) for k in range(count)]
    return list(range(frame_count))


def rotate_array(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn an (H, W, ...) image counterclockwise by ``rotation`` degrees (a multiple of 90), as a view."""
    k = (rotation // 90) % 4
    return np.rot90(image, k) if k else image


def decode_frames(path: Path, container: av.container.InputContainer) -> Iterator[av.VideoFrame]:
    """All frames of the first video stream, decode errors as :class:`VideoError`."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    count = 0
    try:
        for frame in container.decode(stream):
            yield frame
            count += 1
    except av.error.FFmpegError as e:
        raise _decode_error(path, e, f"at frame {count}") from e


def read_frames(
    path: str | os.PathLike,
    *,
    num_frames: int | None = None,
    fps: float | None = None,
    indices: Iterable[int] | None = None,
) -> np.ndarray:
    """Decode frames as a (T, H, W, 3) uint8 RGB array, upright (rotation applied).

    Which frames: ``indices`` if given, else :func:`sample_indices` with ``num_frames`` or ``fps``,
    else all frames. Indices may repeat and come in any order; the array follows their order.
    """
    path = Path(path)
    meta = probe_details(path)
    info = meta.info
    if indices is None:
        wanted = sample_indices(info.frame_count, num_frames=num_frames, fps=fps, src_fps=info.fps)
    else:
        wanted = [int(i) for i in indices]
        bad = [i for i in wanted if not 0 <= i < info.frame_count]
        if bad:
            fix = f"use indices in [0, {info.frame_count - 1}]"
            raise _fail(path, f"frame index {bad[0]} out of range", fix)
    if not wanted:
        return np.zeros((0, info.height, info.width, 3), dtype=np.uint8)
    need = set(wanted)
    last = max(need)
    got: dict[int, np.ndarray] = {}
    with open_video(path) as container:
        for index, frame in enumerate(decode_frames(path, container)):
            if index in need:
                rgb = rotate_array(frame.to_ndarray(format="rgb24"), info.rotation)
                got[index] = np.ascontiguousarray(rgb)
            if index >= last:
                break
    missing = need - got.keys()
    if missing:
        short = RuntimeError(f"only {len(got)} of the wanted frames decoded")
        raise _decode_error(path, short, f"at frame {min(missing)}")
    return np.stack([got[i] for i in wanted])


def even_size_fix(path: Path, width: int, height: int) -> str:
    """The advice for an odd-sized video and a chroma-subsampled pixel format: crop one pixel off, or,
    for a video 1 pixel wide or high (nothing left to crop to), scale it up."""
    if width < 2 or height < 2:
        resize = f"scale={width + width % 2}:{height + height % 2}"
        how = "scale it up to an even size (it is too small to crop)"
    else:
        resize = f"crop={width - width % 2}:{height - height % 2}:0:0"
        how = "crop it to an even size"
    return (
        f"{how}, e.g. `ffmpeg -i '{path}' -vf {resize} -c:v libx264 -crf 17 even.mp4`,"
        " or encode with pix_fmt yuv444p (--pix-fmt yuv444p)"
    )


def check_size(path: Path, width: int, height: int, pix_fmt: str) -> None:
    """Raise :class:`VideoError` when ``pix_fmt`` subsamples chroma and the size is odd (H.264 cannot)."""
    fmt = av.video.format.VideoFormat(pix_fmt)
    odd_w = width % 2 and fmt.chroma_width(64) != 64
    odd_h = height % 2 and fmt.chroma_height(64) != 64
    if len(fmt.components) > 1 and (odd_w or odd_h):
        problem = f"size {width}x{height} is odd, which pixel format {pix_fmt} cannot encode"
        raise _fail(path, problem, even_size_fix(path, width, height))


def _as_rate(fps: float | Fraction) -> Fraction:
    if isinstance(fps, Fraction):
        return fps
    if fps <= 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def add_video_stream(
    container: av.container.OutputContainer,
    settings: EncoderSettings,
    *,
    width: int,
    height: int,
    rate: Fraction,
    pix_fmt: str,
) -> av.video.stream.VideoStream:
    """Add an encoder stream to ``container`` configured from ``settings`` (shared by every writer)."""
    codec = settings.codec
    if settings.lossless and codec not in ("libx264", "libx264rgb"):
        raise ValueError(f"lossless encoding needs codec libx264, not {codec!r}")
    stream = container.add_stream(codec, rate=rate)
    if not isinstance(stream, av.video.stream.VideoStream):
        raise ValueError(f"{codec!r} is not a video codec")
    stream.width = width
    stream.height = height
    stream.pix_fmt = pix_fmt
    stream.codec_context.thread_count = settings.threads
    # PyAV defaults to slice threads, which libx264 then uses (slower, worse compression than the
    # frame threads the ffmpeg CLI uses); AUTO gives libx264 frame threads, like the CLI.
    stream.codec_context.thread_type = "AUTO"
    options: dict[str, object] = {}
    if codec.startswith(("libx264", "libx265")):
        options["preset"] = settings.preset
        if settings.lossless:
            options["qp"] = "0"
        else:
            options["crf"] = str(settings.crf)
    stream.options = options
    return stream


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float | Fraction,
    settings: EncoderSettings = DEFAULT_ENCODER,
) -> None:
    """Encode RGB frames ((T, H, W, 3) uint8, or an iterable of (H, W, 3)) to ``path``, atomically.

    With ``settings.lossless`` the video is coded in RGB (libx264rgb, qp 0): :func:`read_frames`
    then returns exactly ``frames``. Otherwise ``settings.pix_fmt`` (default yuv420p) is used, which
    needs an even width and height.
    """
    path = Path(path)
    rate = _as_rate(fps)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write; pass at least one (H, W, 3) uint8 frame")
    height, width = _check_frame(path, first, None)
    if settings.lossless and settings.codec != "libx264":
        raise ValueError(f"lossless encoding needs codec libx264, not {settings.codec!r}")
    codec, pix_fmt = ("libx264rgb", "rgb24") if settings.lossless else (settings.codec, settings.pix_fmt)
    if not settings.lossless:
        check_size(path, width, height, pix_fmt)
    with atomic_path(path) as tmp, av.open(str(tmp), "w") as container:
        stream = add_video_stream(
            container, for_codec(settings, codec, pix_fmt), width=width, height=height, rate=rate, pix_fmt=pix_fmt
        )
        for index, image in enumerate(_chain(first, it)):
            _check_frame(path, image, (height, width))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = index
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def for_codec(settings: EncoderSettings, codec: str, pix_fmt: str) -> EncoderSettings:
    """``settings`` for another encoder and pixel format (libx264rgb for RGB), checked as a whole."""
    if (codec, pix_fmt) == (settings.codec, settings.pix_fmt):
        return settings
    return replace(settings, codec=codec, pix_fmt=pix_fmt)


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _check_frame(path: Path, image: np.ndarray, shape: tuple[int, int] | None) -> tuple[int, int]:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"{path}: frames must be (H, W, 3) uint8 RGB arrays, got {got}")
    if shape is not None and image.shape[:2] != shape:
        raise ValueError(f"{path}: all frames must have the same size {shape}, got {image.shape[:2]}")
    return image.shape[0], image.shape[1]


__all__ = [
    "EncoderSettings",
    "VideoError",
    "VideoInfo",
    "probe",
    "read_frames",
    "sample_indices",
    "write_video",
]
