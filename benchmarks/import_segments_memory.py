"""Segment-import memory: peak RSS of `dybench import segments` as the segments file grows.

Until issue 27 the importer listed every candidate pair of a file's segments before drawing
``--per-video`` of them: 7,000 segments made 24.5 million tuples (1.8 GB, 15 s) to write 2 questions.
It now counts the pairs and draws them without listing them. Reference: that old listing, run on the
same parsed segments (the line the importer had). Target: the import's peak grows by less than 10 MB
from the smallest to the largest file, while the reference grows quadratically. Each run is a child
process; its peak RSS comes from ``wait4``'s rusage.

    python benchmarks/import_segments_memory.py                  # 1,000 to 7,000 segments (about a minute)
    python benchmarks/import_segments_memory.py --sizes 1000 2000 --no-reference   # a quick look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dybench.video import EncoderSettings, write_video

FPS = 5  # a segment of 0.4 s is 2 frames
IMPORT = """
import sys
from pathlib import Path
from dybench.pairs.importers import import_segments
path = Path(sys.argv[1])
report = import_segments([path], path.parent, path.parent / ("out-" + path.stem), fmt="seconds", min_seconds=0.1)
assert report.written == 2, report.as_json()
"""
REFERENCE = """
import random, sys
from pathlib import Path
from dybench.pairs.importers._segment_files import parse_segments
lines = Path(sys.argv[1]).read_text().splitlines()
actions = parse_segments(lines, "seconds", fps=5.0)
candidates = [(a, b) for i, a in enumerate(actions) for b in actions[i + 1 :] if a.label != b.label]
print(len(candidates))
random.Random(0).sample(candidates, 2)
"""


def write_inputs(folder: Path, sizes: list[int]) -> list[Path]:
    """One seconds file per size (labels cycling through 10 actions) and a video long enough for all."""
    frames = 2 * max(sizes)
    video = folder / "long.mp4"
    gray = (np.arange(frames, dtype=np.uint32)[:, None, None, None] * 7 % 256).astype(np.uint8)
    write_video(video, np.broadcast_to(gray, (frames, 16, 16, 3)), FPS, EncoderSettings(preset="ultrafast"))
    files = []
    for n in sizes:
        path = folder / f"s{n}.txt"
        path.write_text("".join(f"{2 * i / FPS:g} {2 * (i + 1) / FPS:g} action_{i % 10}\n" for i in range(n)))
        (folder / f"s{n}.mp4").symlink_to(video)
        files.append(path)
    return files


def peak_rss(code: str, arg: Path) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of ``python -c code arg``."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, str(arg)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the child for {arg.name} failed")
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000, 7000], help="segments per file")
    parser.add_argument("--no-reference", action="store_true", help="skip the old listing (1.8 GB at 7,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_inputs(Path(tmp), sorted(args.sizes))
        print(f"{'segments':>8} {'file KB':>8} {'import MB':>10} {'s':>6} {'reference MB':>13} {'s':>6} {'ratio':>6}")
        peaks = []
        for path in files:
            n, kb = int(path.stem[1:]), path.stat().st_size / 1024
            mb, seconds = peak_rss(IMPORT, path)
            peaks.append(mb)
            if args.no_reference:
                print(f"{n:>8} {kb:>8.0f} {mb:>10.0f} {seconds:>6.1f}")
                continue
            ref_mb, ref_s = peak_rss(REFERENCE, path)
            print(f"{n:>8} {kb:>8.0f} {mb:>10.0f} {seconds:>6.1f} {ref_mb:>13.0f} {ref_s:>6.1f} {ref_mb / mb:>6.1f}")
        growth = peaks[-1] - peaks[0]
        verdict = "flat" if growth < 10 else "NOT flat"
        print(f"import peak grows {growth:.1f} MB from {files[0].stem[1:]} to {files[-1].stem[1:]} segments: {verdict}")


if __name__ == "__main__":
    main()
