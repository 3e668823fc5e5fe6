"""Render throughput: dybench's hflip+reverse render vs the ffmpeg CLI doing the same two renders.

Reference: for each clip, two ffmpeg runs (``-vf hflip`` and ``-vf reverse``, ``-an``, the same codec,
crf, preset and pixel format) with imageio-ffmpeg's binary on the same cores. dybench decodes each
clip once and feeds both encoders. Target: dybench / ffmpeg <= 1.1.

The two sides alternate round by round (dybench first, then ffmpeg first, ...) so that noise from
other work on the machine hits both alike. Run::

    python benchmarks/render_throughput.py                      # 8 clips of 5 s 720p, 2 rounds
    python benchmarks/render_throughput.py --clips 2 --rounds 1 --size 854x480   # quick look
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

from dybench.pairs import render_counterfactuals
from dybench.video import EncoderSettings, probe

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def make_clips(folder: Path, count: int, seconds: float, size: str, fps: int) -> list[Path]:
    """``count`` distinct clips with motion and light temporal noise (camera-like), cached in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for k in range(count):
        path = folder / f"clip{k}_{size}_{seconds:g}s.mp4"
        if not path.exists():
            source = f"testsrc2=size={size}:rate={fps}:duration={seconds}"
            effects = f"hue=h={k * 45},noise=alls=6:allf=t+u"
            cmd = [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", source, "-vf", effects]
            cmd += ["-c:v", "libx264", "-crf", "20", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)]
            subprocess.run(cmd, check=True)
        clips.append(path)
    return clips


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (less sensitive to other users than wall time)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_dybench(clips: list[Path], out: Path, settings: EncoderSettings) -> None:
    for clip in clips:
        outputs = {"hflip": out / f"{clip.stem}_h.mp4", "reverse": out / f"{clip.stem}_r.mp4"}
        render_counterfactuals(clip, outputs, settings)


def run_ffmpeg(clips: list[Path], out: Path, settings: EncoderSettings) -> None:
    codec = ["-c:v", settings.codec, "-crf", str(settings.crf), "-preset", settings.preset]
    codec += ["-pix_fmt", settings.pix_fmt, "-an"]
    for clip in clips:
        for name, vf in (("h", "hflip"), ("r", "reverse")):
            target = out / f"{clip.stem}_ff{name}.mp4"
            subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(clip), "-vf", vf, *codec, str(target)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--preset", default=EncoderSettings().preset)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dybench-bench-clips")
    args = parser.parse_args()

    settings = EncoderSettings(preset=args.preset)
    clips = make_clips(args.cache, args.clips, args.seconds, args.size, args.fps)
    frames = sum(probe(c).frame_count for c in clips)
    print(f"{len(clips)} clips, {args.size}, {args.seconds:g} s at {args.fps} fps ({frames} frames); "
          f"libx264 crf {settings.crf} preset {settings.preset} {settings.pix_fmt}; ffmpeg: {FFMPEG}")  # fmt: skip
    wall = {"dybench": 0.0, "ffmpeg": 0.0}
    cpu = {"dybench": 0.0, "ffmpeg": 0.0}
    with tempfile.TemporaryDirectory(prefix="dybench-bench-out-") as tmp:
        out = Path(tmp)
        for r in range(args.rounds):
            order = ("dybench", "ffmpeg") if r % 2 == 0 else ("ffmpeg", "dybench")
            times = {}
            for side in order:
                runner = run_dybench if side == "dybench" else run_ffmpeg
                start, start_cpu = time.perf_counter(), cpu_seconds()
                runner(clips, out, settings)
                times[side] = time.perf_counter() - start
                wall[side] += times[side]
                cpu[side] += cpu_seconds() - start_cpu
            print(
                f"round {r + 1} ({order[0]} first): dybench {times['dybench']:.2f} s, ffmpeg {times['ffmpeg']:.2f} s,"
                f" ratio {times['dybench'] / times['ffmpeg']:.3f} (load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    ratio = wall["dybench"] / wall["ffmpeg"]
    print(f"wall: dybench {wall['dybench']:.2f} s, ffmpeg CLI {wall['ffmpeg']:.2f} s")
    cpu_ratio = cpu["dybench"] / cpu["ffmpeg"]
    print(f"cpu:  dybench {cpu['dybench']:.2f} s, ffmpeg CLI {cpu['ffmpeg']:.2f} s, ratio {cpu_ratio:.3f}")
    print(f"ratio dybench/ffmpeg (wall) = {ratio:.3f} (target <= 1.1: {'met' if ratio <= 1.1 else 'NOT met'})")


if __name__ == "__main__":
    main()
