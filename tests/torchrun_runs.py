"""Two-process training runs under ``torchrun`` on CPU, shared by the DeepSpeed and FSDP tests.

``torchrun`` (not ``accelerate launch``, which falls back to one process on CPU) starts ``dybench train``
with two test hooks: a random tiny model earns no real reward, so a dense stand-in (its share of capital
letters, as in test_train_integration.py) gives every group a spread; and each rank SIGKILLs itself
right after the checkpoint of step $KILL_AFTER is complete on disk.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent

_KILLER = """
import os, signal, sys
from dybench.train import _checkpoint as checkpoint, _rewards as rewards
rewards.accuracy_reward = lambda text, prompt: sum(c.isupper() for c in text) / (1 + len(text))
save = checkpoint.save_checkpoint
def save_then_die(accelerator, output_dir, step, *args, **kwargs):
    path = save(accelerator, output_dir, step, *args, **kwargs)
    if step == int(os.environ.get("KILL_AFTER", "0")):
        os.kill(os.getpid(), signal.SIGKILL)
    return path
checkpoint.save_checkpoint = save_then_die
from dybench.cli import app
app(["train", *sys.argv[1:]])
"""

TIMING = {"rollout_s", "step_s"}
"""Metric keys that differ between identical runs."""

KL = ("kl_beta=0.1",)
"""A KL anchor, so kl_ref shows that the policy moved."""


def tiny_inputs(root: Path) -> dict[str, Path]:
    """A tiny policy, a different tiny bias model and a pairs dataset under ``root``."""
    from test_train_fixtures import make_pairs_dataset

    from dybench.testing import build_tiny_model

    return {
        "policy": build_tiny_model("qwen2_5_vl", root / "policy", seed=0),
        "bias": build_tiny_model("qwen2_5_vl", root / "bias", seed=1),
        "pairs": make_pairs_dataset(root / "data", n_videos=2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(command: list[str], *, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node 2 <command>`` from the repository root, offline,
    one thread per process (accelerate's CPU switch unset: the trainer must find the CPU by itself)."""
    base = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port())]
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    full_env.pop("ACCELERATE_USE_CPU", None)
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests"), full_env.get("PYTHONPATH", "")])
    return subprocess.run([*base, *command], env=full_env, capture_output=True, text=True, timeout=600, cwd=ROOT)


def train_run(inputs: dict, method: str, out: Path, *settings: str, kill_after: int = 0) -> subprocess.CompletedProcess:
    """``dybench train METHOD`` on two processes with the tiny inputs and small rollouts."""
    args = [method, "--model", str(inputs["policy"]), "--data", str(inputs["pairs"]), "--output-dir", str(out),
            "num_generations=4", "micro_batch_size=2", "max_new_tokens=8", "num_frames=4", "min_pixels=784",
            "max_pixels=3136", "lr=0.002", *settings]  # fmt: skip
    if method == "cdpo":
        args.append(f"bias_model={inputs['bias']}")
    return torchrun(["--no-python", sys.executable, "-c", _KILLER, *args], env={"KILL_AFTER": str(kill_after)})


def metric_rows(out: Path) -> list[dict]:
    from dybench.fileio import read_jsonl

    return read_jsonl(out / "metrics.jsonl")


def same_metrics(a: list[dict], b: list[dict]) -> bool:
    """Equal rows, timings aside."""
    strip = [[{k: v for k, v in r.items() if k not in TIMING} for r in rows] for rows in (a, b)]
    return strip[0] == strip[1]
