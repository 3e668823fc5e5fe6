"""How fast `dybench synth` renders, against the budget in issue #3.

Reference: 1,000 clips of 16 frames at 224x224 in under 120 seconds on the 2-core development
machine. Prints the wall time, clips per second and the ratio to that budget (under 1.0 is within
it), plus a JSON line for scripts. The machine is shared: the load average is printed with the
figure, since other people's jobs slow it down.

    .venv/bin/python benchmarks/synth_speed.py            # the reference run (about a minute)
    .venv/bin/python benchmarks/synth_speed.py --n 100    # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from dybench.synth import synthesize

BUDGET_SECONDS = 120.0
BUDGET_CLIPS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=BUDGET_CLIPS)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="0: one per CPU")
    parser.add_argument("--out", type=Path, default=None, help="keep the clips here (default: a temporary folder)")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="synth-speed-"))
    if (out / "annotations.jsonl").exists():
        raise SystemExit(f"{out} already holds a synth run, which would be reused; pass an empty --out")
    try:
        cpu_start, start = _cpu_seconds(), time.perf_counter()
        synthesize(out, n=args.n, size=args.size, frames=args.frames, workers=args.workers or None, progress=False)
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
        megabytes = sum(p.stat().st_size for p in out.rglob("*.mp4")) / 1e6
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)

    budget = BUDGET_SECONDS * args.n / BUDGET_CLIPS
    ratio = seconds / budget
    load = os.getloadavg()[0]
    print(
        f"rendered {args.n} clips ({args.frames} frames, {args.size}x{args.size}) in {seconds:.1f} s "
        f"= {args.n / seconds:.1f} clips/s on {os.cpu_count()} CPUs (load average {load:.1f}); "
        f"{megabytes:.0f} MB of mp4"
    )
    print(f"ratio to the issue #3 budget (1000 clips in 120 s): {ratio:.2f} ({'within' if ratio < 1 else 'OVER'})")
    idle = cpu / (os.cpu_count() or 1)
    print(
        f"CPU time {cpu:.1f} s ({1000 * cpu / args.n:.0f} ms per clip): on an idle machine about {idle:.1f} s, "
        f"ratio {idle / budget:.2f} (an estimate; the wall-clock ratio above is the measurement)"
    )
    record = {"clips": args.n, "size": args.size, "frames": args.frames, "seconds": round(seconds, 2)}
    record |= {"budget_seconds": budget, "ratio": round(ratio, 3), "cpu_seconds": round(cpu, 2)}
    record |= {"cpus": os.cpu_count(), "load_average": round(load, 2), "megabytes": round(megabytes, 1)}
    print(json.dumps(record))


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the render workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
