"""Peak memory per process of FSDP (``fsdp=true``) against DDP, 2 CPU processes under torchrun.

    python benchmarks/fsdp_memory.py [--width 768] [--layers 12] [--steps 2]

Reference: the same grpo run under plain DDP (every process holds the whole model, its gradients and
its AdamW moments). Each process reports its peak resident memory (``ru_maxrss``) when it exits; the
script prints both and the ratio FSDP / DDP. Both runs load the model whole in fp32 before wrapping
it, and FSDP gathers it whole for generation, so what FSDP saves is the sharded gradients and
optimiser moments, never the process's own baseline (torch, transformers, data: ~1.6 GiB here).
The model is a random Qwen2.5-VL at the given width and depth (the tiny model's tokenizer), on
DyBench-Synth clips; the numbers measure memory, not answers.

Measured (2 CPU cores, defaults: 86.4M parameters, 330 MiB fp32): DDP 2925 MiB, FSDP 2709 MiB per
process at the peak, ratio 0.93.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: ``dybench train`` that prints this process's peak resident memory (MiB) when it exits.
_RUN = """
import atexit, os, resource, sys
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
atexit.register(lambda: print(f"peak_rss_mib {os.environ['RANK']} {peak():.0f}", flush=True))
from dybench.cli import app
app(["train", *sys.argv[1:]])
"""


def _peaks(model: Path, data: Path, out: Path, steps: int, *settings: str) -> list[float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
               "--no-python", sys.executable, "-c", _RUN, "grpo", "--model", str(model), "--data", str(data),
               "--output-dir", str(out), "--max-steps", str(steps), f"save_every={steps}", "num_generations=4",
               "micro_batch_size=4", "max_new_tokens=8", "num_frames=4", "min_pixels=784", "max_pixels=3136",
               *settings]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("ACCELERATE_USE_CPU", None)
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    peaks = {}
    for line in done.stdout.splitlines():
        if line.startswith("peak_rss_mib"):
            _, rank, mib = line.split()
            peaks[int(rank)] = float(mib)
    return [peaks[r] for r in sorted(peaks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()

    from dybench.pairs import build_pairs
    from dybench.synth import synthesize
    from dybench.testing import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        synthesize(work / "synth", n=4, size=64, frames=8, categories=["moving_direction"], workers=1,
                   progress=False)  # fmt: skip
        assert build_pairs(work / "synth", work / "pairs").ok
        model = build_tiny_model("qwen2_5_vl", work / "model", width=args.width, layers=args.layers)
        from safetensors import safe_open

        with safe_open(str(model / "model.safetensors"), "pt") as f:
            params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
        ddp = _peaks(model, work / "pairs", work / "ddp", args.steps)
        fsdp = _peaks(model, work / "pairs", work / "fsdp", args.steps, "fsdp=true")
    model_mib = params * 4 / 2**20
    print(f"model: width {args.width}, {args.layers} layers, {params / 1e6:.1f}M parameters "
          f"({model_mib:.0f} MiB in fp32; DDP holds 4x that in weights, gradients and AdamW moments)")  # fmt: skip
    print(f"peak resident memory per process, DDP:  {', '.join(f'{m:.0f}' for m in ddp)} MiB")
    print(f"peak resident memory per process, FSDP: {', '.join(f'{m:.0f}' for m in fsdp)} MiB")
    print(f"ratio FSDP / DDP (max over processes): {max(fsdp) / max(ddp):.2f}")


if __name__ == "__main__":
    main()
