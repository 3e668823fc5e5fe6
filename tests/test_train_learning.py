"""Learning signal: with the real rewards, a tiny model's mean reward rises on a DyBench-Synth task.

A few minutes of CPU, so it is marked slow. ``benchmarks/train_speed.py --learn-steps 80`` prints the
same curve.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

pytest.importorskip("torch")

from dybench.fileio import read_jsonl  # noqa: E402
from dybench.pairs import build_pairs  # noqa: E402
from dybench.synth import synthesize  # noqa: E402
from dybench.testing import build_tiny_model  # noqa: E402
from dybench.train import TrainConfig, train  # noqa: E402


@pytest.mark.slow
def test_mean_reward_rises_on_dybench_synth(tmp_path):
    source = synthesize(tmp_path / "synth", n=8, size=64, frames=8, categories=["moving_direction"], workers=1,
                        progress=False)  # fmt: skip
    assert build_pairs(source, tmp_path / "pairs").ok
    model = build_tiny_model("qwen2_5_vl", tmp_path / "model")
    cfg = TrainConfig(method="grpo", model=str(model), data=str(tmp_path / "pairs"), output_dir=str(tmp_path / "run"),
                      max_steps=80, prompts_per_step=2, num_generations=8, micro_batch_size=16, max_new_tokens=8,
                      num_frames=4, min_pixels=28 * 28, max_pixels=56 * 56, lr=5e-3, save_every=80)  # fmt: skip
    train(cfg)
    rewards = [row["reward"] for row in read_jsonl(tmp_path / "run" / "metrics.jsonl")]
    first, last = np.mean(rewards[:20]), np.mean(rewards[-20:])
    assert last > first + 0.1, f"mean reward {first:.3f} over the first 20 steps, {last:.3f} over the last 20"
