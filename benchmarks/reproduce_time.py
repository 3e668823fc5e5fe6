"""Wall time of a ``dybench reproduce`` run against its budget (issue 19: tiny ``cdpo`` within 45 minutes on
2 CPU cores, bias model included).

    python benchmarks/reproduce_time.py cdpo OUT            # read a finished run's stage records
    python benchmarks/reproduce_time.py cdpo OUT --run      # run (or resume) it first, then read them

Reference: the 45-minute budget (``--budget``). Prints each stage kind's minutes, the sum of the stages' own
wall times (what the run's report also gives) and ``ratio = sum / budget`` (below 1: within budget), with
the 5-minute load average the stages ended at: above the CPU count, other work shared the machine and the
time is pessimistic. A resumed run counts each stage's last completing call only.
"""

from __future__ import annotations

import argparse
import time

from dybench.reproduce import make_plan, reproduce, wall_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["crpo", "cdpo", "grpo"])
    parser.add_argument("output_dir")
    parser.add_argument("--run", action="store_true", help="run (or resume) the reproduction first")
    parser.add_argument("--budget", type=float, default=45.0, help="minutes (default: 45, issue 19)")
    args = parser.parse_args()
    if args.run:
        t0 = time.perf_counter()
        reproduce(args.target, output_dir=args.output_dir, log=lambda line: None)
        print(f"this call: {(time.perf_counter() - t0) / 60:.1f} min end to end")
    stages = make_plan(args.target, output_dir=args.output_dir).report_input().stages
    wt = wall_time(stages)  # the same sum the run's report prints
    total = wt["total_s"] / 60
    print(", ".join(f"{kind} {seconds / 60:.1f} min" for kind, seconds in wt["by_kind_s"].items()))
    print(f"stages: {total:.1f} min on {wt['cpu_count']} CPUs (mean 5-minute load {wt['load_average_mean']})")
    missing = [s.name for s in stages if s.wall_s is None and s.kind != "report"]
    if missing:
        print(f"not finished: {', '.join(missing)}")
    print(f"ratio vs the {args.budget:g}-minute budget: {total / args.budget:.2f}")


if __name__ == "__main__":
    main()
