"""Leaderboard listing: a warm SQLite index vs reading every results file on each page refresh.

Reference: read, parse and validate every results JSON in the folder and build its row (what the app
would do on each refresh without an index), with dybench's own parser. dybench's warm listing stats the
files and reads the rows from the index. Target: warm / reference <= 0.25 for 500 files. The cold
listing (index missing: parse everything and write the index) is printed too.

Every page event of the app lists the folder, so this is the cost of one click. Run::

    python benchmarks/leaderboard_listing.py                 # 500 files, 5 rounds
    python benchmarks/leaderboard_listing.py --files 100     # quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from dybench.results import ResultsStore, parse_results_json, run_from_results, validate_results

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "leaderboard" / "dybench_constant_results.json"


def make_folder(folder: Path, count: int) -> None:
    """``count`` distinct results files in lmms-eval's layout (one folder per model)."""
    base = json.loads(FIXTURE.read_text())
    for i in range(count):
        base["model_name"] = f"model-{i}"
        base["results"]["dybench_pair"]["p_acc,none"] = (i % 100) / 100
        path = folder / f"model-{i}" / f"20260101_{i:06d}_results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(base, indent=2))


def parse_all(folder: Path) -> int:
    """The reference: every file parsed, validated and turned into a row, nothing kept."""
    rows = 0
    for path in sorted(folder.rglob("*.json")):
        obj = parse_results_json(path.read_bytes(), name=str(path))
        validate_results(obj, name=str(path), allow_unknown_tasks=True)
        rows += run_from_results(obj, path=path.name, origin="local") is not None
    return rows


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, index = Path(tmp) / "results", Path(tmp) / "index.sqlite"
        make_folder(folder, args.files)
        store = ResultsStore(folder, index_path=index)
        assert len(store.listing().runs) == args.files
        ref, cold, warm = [], [], []
        for _ in range(args.rounds):  # interleaved, so machine noise hits all alike
            ref.append(timed(lambda: parse_all(folder)))
            index.unlink()
            cold.append(timed(store.listing))
            warm.append(timed(store.listing))
    r, c, w = (statistics.median(x) for x in (ref, cold, warm))
    print(f"{args.files} results files, median of {args.rounds} rounds")
    print(f"reference (parse + validate every file): {r * 1000:8.1f} ms")
    print(f"dybench, index missing (cold):           {c * 1000:8.1f} ms")
    print(f"dybench, warm index:                     {w * 1000:8.1f} ms")
    print(f"ratio warm / reference: {w / r:.3f}  (target <= 0.25)")


if __name__ == "__main__":
    main()
