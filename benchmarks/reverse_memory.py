"""Reverse-render memory: dybench's peak RSS on a 1-minute and a 3-minute 720p clip.

ffmpeg's ``reverse`` filter holds the whole clip in memory (2.35 GB for 63 s of 720p), so its peak
grows with the clip. dybench keeps a fixed budget of frames in memory and spills the rest to disk,
so its peak should not grow. Targets: both peaks < 1 GB, and the 3-minute peak within 20% of the
1-minute peak. Each render runs in a child process; its peak RSS comes from ``wait4``'s rusage.

    python benchmarks/reverse_memory.py              # 1 and 3 minutes, 720p, 30 fps (several minutes)
    python benchmarks/reverse_memory.py --ffmpeg     # also ffmpeg's reverse on the 1-minute clip
    python benchmarks/reverse_memory.py --short 10 --long 30   # a quick look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

from dybench.video import EncoderSettings

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
CHILD = """
import sys
from dybench.pairs import render_counterfactuals
from dybench.video import EncoderSettings
render_counterfactuals(sys.argv[1], {"reverse": sys.argv[2]}, EncoderSettings(preset=sys.argv[3]))
"""


def make_clip(folder: Path, seconds: int, size: str, fps: int) -> Path:
    """A ``seconds`` long clip with motion and temporal noise, cached in ``folder``.

    Long clips repeat a 60 s (or shorter) base clip with stream copy, which is quick to make.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"reverse_{size}_{fps}fps_{seconds}s.mp4"
    if path.exists():
        return path
    base_seconds = min(seconds, 60)
    base = folder / f"reverse_{size}_{fps}fps_{base_seconds}s.mp4"
    if not base.exists():
        source = f"testsrc2=size={size}:rate={fps}:duration={base_seconds}"
        cmd = [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", source, "-vf", "noise=alls=6:allf=t+u"]
        cmd += ["-c:v", "libx264", "-crf", "23", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(base)]
        subprocess.run(cmd, check=True)
    if base_seconds == seconds:
        return base
    repeats = -(-seconds // base_seconds)
    listing = folder / f"concat_{seconds}.txt"
    listing.write_text("".join(f"file '{base.name}'\n" for _ in range(repeats)))
    cmd = [FFMPEG, "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-t", str(seconds)]
    subprocess.run([*cmd, "-c", "copy", str(path)], check=True)
    return path


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]}... failed with exit code {proc.returncode}")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", type=int, default=60, help="seconds")
    parser.add_argument("--long", type=int, default=180, help="seconds")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--preset", default=EncoderSettings().preset)
    parser.add_argument("--ffmpeg", action="store_true", help="also measure ffmpeg's reverse on the short clip")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dybench-bench-clips")
    args = parser.parse_args()

    peaks = {}
    with tempfile.TemporaryDirectory(prefix="dybench-bench-rev-") as tmp:
        for seconds in (args.short, args.long):
            clip = make_clip(args.cache, seconds, args.size, args.fps)
            out = Path(tmp) / f"reverse_{seconds}.mp4"
            peaks[seconds], wall = peak_rss([sys.executable, "-c", CHILD, str(clip), str(out), args.preset])
            print(f"dybench reverse, {seconds} s of {args.size} at {args.fps} fps: "
                  f"peak RSS {peaks[seconds]:.0f} MB ({wall:.0f} s)", flush=True)  # fmt: skip
        if args.ffmpeg:
            clip = make_clip(args.cache, args.short, args.size, args.fps)
            cmd = [FFMPEG, "-v", "error", "-y", "-i", str(clip), "-vf", "reverse", "-an", "-c:v", "libx264"]
            cmd += ["-crf", "17", "-preset", args.preset, "-pix_fmt", "yuv420p", str(Path(tmp) / "ff.mp4")]
            rss, wall = peak_rss(cmd)
            print(f"ffmpeg -vf reverse, {args.short} s: peak RSS {rss:.0f} MB ({wall:.0f} s)")
    short, long = peaks[args.short], peaks[args.long]
    ratio = long / short
    met = max(short, long) < 1024 and ratio <= 1.2
    print(f"peak RSS: {args.short} s {short:.0f} MB, {args.long} s {long:.0f} MB; ratio long/short = {ratio:.3f}")
    print(f"target (< 1024 MB each, ratio <= 1.2): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
