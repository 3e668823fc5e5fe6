"""Tiny test videos with known frames, written with PyAV directly (not with dybench's writer).

Usable from any test: ``from tests.videos import make_frames, write_clip`` or the ``clip`` /
``clip_factory`` fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def make_frames(n: int = 12, height: int = 24, width: int = 32, *, seed: int = 0) -> np.ndarray:
    """(n, height, width, 3) uint8 RGB frames: a gradient, a bright square moving right, light noise.

    Left-right and forward-backward asymmetric, so a wrong flip or order is always visible.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    side = max(2, min(height, width) // 4)
    for t in range(n):
        img = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), np.full_like(x, 60)], -1)
        left = (t * max(1, (width - side) // max(1, n - 1))) % max(1, width - side + 1)
        img[height // 3 : height // 3 + side, left : left + side] = (250, 240, 20)
        img = img + rng.integers(0, 8, img.shape)
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


def write_clip(
    path: str | Path,
    frames: np.ndarray | None = None,
    *,
    fps: int | Fraction = 10,
    pix_fmt: str = "yuv420p",
    lossless: bool = True,
    pts_ms: Sequence[int] | None = None,
    audio: bool = False,
    faststart: bool = False,
) -> Path:
    """Write ``frames`` (default :func:`make_frames`) as H.264 in MP4 and return the path.

    ``pts_ms`` gives each frame's timestamp in milliseconds (for variable-frame-rate clips);
    ``audio`` adds a silent AAC track; ``faststart`` puts the index (moov) before the frames.
    An empty ``frames`` array writes a video stream that holds no frame.
    """
    path = Path(path)
    frames = make_frames() if frames is None else frames
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1], frames.shape[2]
        stream.pix_fmt = pix_fmt
        stream.options = {"qp": "0"} if lossless else {"crf": "23"}
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        sound = container.add_stream("aac", rate=16000) if audio else None
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[index], Fraction(1, 1000)
            else:
                frame.pts, frame.time_base = index, 1 / Fraction(fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            samples = np.zeros((1, 16000 * len(frames) // int(fps)), dtype=np.float32)
            chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, 0
            container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def ffmpeg_exe() -> str | None:
    """The reference ffmpeg binary (imageio-ffmpeg's, else one on PATH), or None."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


def with_rotation(src: Path, dst: Path, degrees: int) -> Path:
    """Copy ``src`` to ``dst`` with display-rotation metadata (counterclockwise degrees), no re-encode.

    PyAV cannot write a display matrix, so this uses the ffmpeg binary; callers skip without one.
    """
    exe = ffmpeg_exe()
    if exe is None:
        raise RuntimeError("no ffmpeg binary")
    cmd = [
        exe,
        "-v",
        "error",
        "-y",
        "-display_rotation",
        str(degrees),
        "-i",
        str(src),
        "-c",
        "copy",
        str(dst),
    ]
    subprocess.run(cmd, check=True)
    return dst


def cut_without_reencoding(src: Path, dst: Path, start: float) -> Path:
    """Copy ``src`` from ``start`` seconds on without re-encoding, as users trim clips.

    The cut falls between keyframes, so MP4 keeps the frames before it as decoder references and
    hides them with an edit list: a classic source of wrong frame counts. Needs the ffmpeg binary.
    """
    exe = ffmpeg_exe()
    if exe is None:
        raise RuntimeError("no ffmpeg binary")
    subprocess.run([exe, "-v", "error", "-y", "-ss", str(start), "-i", str(src), "-c", "copy", str(dst)], check=True)
    return dst
