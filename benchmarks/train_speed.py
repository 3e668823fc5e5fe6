"""Trainer throughput on tiny models, CPU: steps/s and rollout tokens/s per method and architecture.

    python benchmarks/train_speed.py [--steps 6] [--learn-steps 80]

Reference: the rollout (transformers ``generate``) is timed inside each step, so the table also gives
the share of a step spent generating versus scoring log-probs and updating. ``--learn-steps N`` also
runs N GRPO steps with the real rewards on DyBench-Synth and prints the mean-reward curve (the
learning-signal check). A GPU comparison of ``generate`` against vLLM needs a GPU machine and vLLM;
it is not part of this script.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from rich.console import Console
from rich.table import Table

from dybench.fileio import read_jsonl
from dybench.pairs import build_pairs
from dybench.synth import synthesize
from dybench.testing import ARCHES, build_tiny_model
from dybench.train import TrainConfig, train

TINY = {"prompts_per_step": 2, "num_generations": 8, "micro_batch_size": 16, "max_new_tokens": 16,
        "num_frames": 4, "min_pixels": 28 * 28, "max_pixels": 56 * 56, "lr": 1e-4}  # fmt: skip


def _run(method: str, model: Path, data: Path, out: Path, steps: int, **extra) -> list[dict]:
    cfg = TrainConfig(method=method, model=str(model), data=str(data), output_dir=str(out), max_steps=steps,
                      save_every=steps, **{**TINY, **extra})  # fmt: skip
    train(cfg)
    return read_jsonl(out / "metrics.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=8, help="steps per run (the first is warm-up; medians of the rest)"
    )
    parser.add_argument("--learn-steps", type=int, default=0, help="also run the learning-signal check")
    args = parser.parse_args()
    console = Console()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = synthesize(root / "synth", n=8, size=64, frames=8, categories=["moving_direction"], workers=1,
                            progress=False)  # fmt: skip
        pairs = root / "pairs"
        build_pairs(source, pairs)
        table = Table(title=f"dybench train, tiny models, CPU (median of {args.steps - 1} steps)")
        for col in ("arch", "method", "steps/s", "rollout tok/s", "rollout share", "rows/step"):
            table.add_column(col, justify="right")
        for arch in ARCHES:
            model = build_tiny_model(arch, root / arch)
            bias = build_tiny_model(arch, root / f"{arch}-bias", seed=1)
            for method in ("grpo", "crpo", "cdpo"):
                extra = {"bias_model": str(bias)} if method == "cdpo" else {}
                rows = _run(method, model, pairs, root / f"run-{arch}-{method}", args.steps, **extra)[1:]
                step_s = float(np.median([r["step_s"] for r in rows]))  # medians: the machine is shared
                tok_s = float(np.median([r["rollout_tokens"] / r["rollout_s"] for r in rows]))
                share = float(np.median([r["rollout_s"] / r["step_s"] for r in rows]))
                per_step = TINY["prompts_per_step"] * TINY["num_generations"] * (2 if method == "crpo" else 1)
                table.add_row(arch, method, f"{1 / step_s:.2f}", f"{tok_s:.0f}", f"{share:.0%}", str(per_step))
        console.print(table)

        if args.learn_steps:
            model = root / "qwen2_5_vl"
            rows = _run("grpo", model, pairs, root / "learn", args.learn_steps, max_new_tokens=8, lr=5e-3)
            rewards = np.array([r["reward"] for r in rows])
            chunks = np.array_split(rewards, 4)
            console.print(
                f"learning signal (grpo, qwen2_5_vl tiny, DyBench-Synth moving_direction, real rewards, "
                f"{args.learn_steps} steps): mean reward per quarter " + " -> ".join(f"{c.mean():.3f}" for c in chunks)
            )


if __name__ == "__main__":
    main()
