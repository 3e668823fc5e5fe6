"""Start-up and small builds: what `make setup`'s bytecode and `dybench build`'s writer and worker rule save.

Three comparisons, each printed with its ratio against the named reference:

1. ``dybench --help``, CPU seconds, with every module's bytecode at hand (as `make setup` installs it:
   uv's ``--compile-bytecode``) vs compiled from source on the spot (the reference: a first run, or a
   read-only install where .pyc files cannot be written). Both use a private ``PYTHONPYCACHEPREFIX``, so
   the venv's own ``__pycache__`` folders play no part.
2. ``dybench build`` of a few clips, CPU seconds and peak memory, writing ``pairs.parquet`` with Arrow's
   JSON reader (now) vs ``pa.Table.from_pylist`` (the reference: the old writer, which imports pandas).
3. ``dybench build`` wall time, ``--workers`` 1 vs 2 at 8 and at 32 clips (automatic picks 1 below 16
   videos per worker, see ``dybench.video.render_workers``).

Each run is a fresh process; the sides alternate round by round so that other work on the machine hits
both alike. Measured on 2 CPUs shared with other work (load average 6-7), 3 rounds: --help 0.28 s vs
0.62 s (0.45); 8-clip build CPU 2.96 vs 3.65 s, peak 161 vs 198 MiB (0.81 each); --workers 2 vs 1 at 8
clips 0.92, at 32 clips 0.51 (wall time, noisy on a busy machine). Run::

    python benchmarks/startup_and_build.py            # 5 rounds
    python benchmarks/startup_and_build.py --rounds 2 --skip-workers   # quick look
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

DYBENCH = [sys.executable, "-m", "dybench.cli"]

#: Builds with the old parquet writer: the same build, with ``_table`` swapped for ``from_pylist``.
OLD_WRITER = """
import sys
import pyarrow as pa
from dybench.pairs import _dataset
from dybench.fileio import parse_json

def from_pylist(jsonl):
    rows = [parse_json(line) for line in jsonl.decode().splitlines()]
    return pa.Table.from_pylist(rows, schema=_dataset.SCHEMA)

_dataset._table = from_pylist
from dybench.cli import app
app(sys.argv[1:])
"""
NEW_WRITER = "import sys\nfrom dybench.cli import app\napp(sys.argv[1:])\n"


def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MiB) of one child process (user + system time from wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} failed:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def median(values: list[float]) -> float:
    return statistics.median(values)


#: Runs ``dybench --help`` in this process and prints the source file of every module it imported.
IMPORTED = """
import sys
from dybench.cli import app
try:
    app(["--help"])
except SystemExit:
    pass
print("\\n".join(f for m in list(sys.modules.values()) if (f := getattr(m, "__file__", None)) and f.endswith(".py")))
"""
COMPILE = "import py_compile, sys\nfor f in sys.stdin.read().split():\n    py_compile.compile(f, doraise=True)\n"


def startup(rounds: int, tmp: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    files = subprocess.run([sys.executable, "-c", IMPORTED], capture_output=True, text=True, check=True, env=env)
    imported = [f for f in files.stdout.split() if f.endswith(".py") and os.path.isfile(f)]
    stdlib = sysconfig.get_paths()["stdlib"]
    prefixes = {"bytecode": tmp / "all", "source": tmp / "stdlib-only"}
    for name, chosen in (("bytecode", imported), ("source", [f for f in imported if f.startswith(stdlib)])):
        compiled = {**env, "PYTHONPYCACHEPREFIX": str(prefixes[name])}
        subprocess.run([sys.executable, "-c", COMPILE], input="\n".join(chosen), text=True, check=True, env=compiled)
    times: dict[str, list[float]] = {"bytecode": [], "source": []}
    for _ in range(rounds):
        for name, prefix in prefixes.items():
            run_env = {**env, "PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": "1"}
            times[name].append(measured([*DYBENCH, "--help"], run_env)[1])
    a, b = median(times["bytecode"]), median(times["source"])
    print(
        f"dybench --help, CPU s (median of {rounds}; the standard library compiled in both): bytecode {a:.2f}, "
        f"compiled from source {b:.2f} (reference); ratio {a / b:.2f}"
    )


def clips(tmp: Path, n: int) -> Path:
    src = tmp / f"clips{n}"
    if not src.exists():
        # dybench synth's default clips (224 px, 16 frames), as the README's first build makes them
        subprocess.run([*DYBENCH, "synth", "--out", str(src), "--n", str(n)], check=True, capture_output=True)
    return src


def build(src: Path, out: Path, script: str, *extra: str) -> tuple[float, float, float]:
    shutil.rmtree(out, ignore_errors=True)
    return measured([sys.executable, "-c", script, "build", "--src", str(src), "--out", str(out), *extra])


def writer(rounds: int, tmp: Path) -> None:
    src = clips(tmp, 8)
    new, old = [], []
    for _ in range(rounds):
        new.append(build(src, tmp / "out", NEW_WRITER, "--workers", "1"))
        old.append(build(src, tmp / "out", OLD_WRITER, "--workers", "1"))
    for k, what in ((1, "CPU s"), (2, "peak MiB")):
        a, b = median([r[k] for r in new]), median([r[k] for r in old])
        print(f"build of 8 clips, {what}: Arrow JSON writer {a:.2f}, from_pylist + pandas {b:.2f} (reference); "
              f"ratio {a / b:.2f}")  # fmt: skip


def workers(rounds: int, tmp: Path) -> None:
    for n in (8, 32):
        src = clips(tmp, n)
        one, two = [], []
        for _ in range(rounds):
            one.append(build(src, tmp / "out", NEW_WRITER, "--workers", "1")[0])
            two.append(build(src, tmp / "out", NEW_WRITER, "--workers", "2")[0])
        a, b = median(two), median(one)
        print(f"build of {n} clips, wall s: --workers 2 {a:.2f}, --workers 1 {b:.2f} (reference); ratio {a / b:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-workers", action="store_true", help="Leave out the --workers comparison (slowest).")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        startup(args.rounds, tmp)
        writer(args.rounds, tmp)
        if not args.skip_workers:
            workers(args.rounds, tmp)


if __name__ == "__main__":
    main()
