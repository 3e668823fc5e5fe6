"""What dybench_pair costs on top of lmms-eval itself: wall time vs a minimal task over the same videos.

Both tasks run through lmms-eval's ``simple_evaluate`` with its ``dummy`` model decoding 8 frames of
every video (``decode_num_frames=8``), so the time is lmms-eval's loop plus video decoding, plus
whatever each task adds: dybench_pair's five category subtasks, data checks, prompts, scoring and
group pooling; the reference's one JSON dataset, a template prompt and a mean. The reference task is
written next to the data (``minimal_video``). Target: ratio <= 1.05.

    python benchmarks/eval_overhead.py                 # 60 clips (~100 items), 3 timed rounds
    python benchmarks/eval_overhead.py --clips 200 --repeats 5

Data (DyBench-Synth clips and their pairs) is built once into ``--work`` and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

MINIMAL_YAML = """task: minimal_video
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
process_results: !function utils.process_results
generation_kwargs:
  max_new_tokens: 32
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1
"""
MINIMAL_UTILS = """def doc_to_visual(doc):
    return [doc["video"]]


def doc_to_text(doc):
    return doc["question"]


def process_results(doc, results):
    return {"acc": float(results[0].strip() == doc["answer"])}
"""


def prepare(work: Path, clips: int, size: int, frames: int) -> tuple[Path, Path]:
    """The pairs dataset and the minimal task folder over the same videos (built once)."""
    from dybench.pairs import PairsDataset, build_pairs, load_items
    from dybench.synth import synthesize

    pairs = work / "pairs"
    if not PairsDataset(pairs).exists():
        synthesize(work / "synth", n=clips, seed=0, size=size, frames=frames)
        report = build_pairs(work / "synth", pairs)
        if not report.ok:
            raise SystemExit(f"building the benchmark pairs failed: {report.errors[0]}")
    minimal = work / "minimal_task"
    minimal.mkdir(exist_ok=True)
    rows = [{"video": str(pairs / i.video), "question": i.question, "answer": i.answer} for i in load_items(pairs)]
    (minimal / "videos.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (minimal / "minimal_video.yaml").write_text(MINIMAL_YAML.format(data=minimal / "videos.jsonl"))
    (minimal / "utils.py").write_text(MINIMAL_UTILS)
    return pairs, minimal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/dybench-bench-eval"))
    parser.add_argument("--clips", type=int, default=60, help="DyBench-Synth clips (each gives 1-2 pairs)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (after one warm-up round)")
    args = parser.parse_args()

    work = args.work / f"c{args.clips}-s{args.size}-f{args.frames}"
    pairs, minimal = prepare(work, args.clips, args.size, args.frames)
    os.environ.update({"DYBENCH_PAIRS": str(pairs), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})

    from lmms_eval import evaluator
    from lmms_eval.tasks import TaskManager
    from loguru import logger

    from dybench.evaluation import tasks_path

    logger.remove()
    manager = TaskManager("ERROR", include_path=[str(tasks_path()), str(minimal)])
    times: dict[str, list[float]] = {"minimal_video": [], "dybench_pair": []}
    for round_ in range(args.repeats + 1):
        for task in times if round_ % 2 else reversed(times):
            start = time.perf_counter()
            results = evaluator.simple_evaluate(
                model="dummy",
                model_args="decode_num_frames=8",
                tasks=[task],
                task_manager=manager,
                log_samples=False,
                bootstrap_iters=0,
                verbosity="ERROR",
            )
            elapsed = time.perf_counter() - start
            assert results and results["results"][task], f"{task} produced no results"
            if round_:  # round 0 warms caches (imports, the datasets cache, the page cache)
                times[task].append(elapsed)
    n_items = sum(1 for _ in open(minimal / "videos.jsonl"))
    print(f"{n_items} items, {args.size}x{args.size}, {args.frames} frames, dummy model decoding 8 frames each")
    for task, label in (("minimal_video", "minimal_video (reference)"), ("dybench_pair", "dybench_pair")):
        runs = ", ".join(f"{t:.2f}" for t in times[task])
        print(f"{label:26s} median {statistics.median(times[task]):6.2f} s  best {min(times[task]):6.2f} s  ({runs})")
    # on a shared machine the best round is the least disturbed one; both are printed
    for stat in (statistics.median, min):
        ratio = stat(times["dybench_pair"]) / stat(times["minimal_video"])
        print(f"ratio dybench_pair / minimal_video ({stat.__name__}) = {ratio:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
