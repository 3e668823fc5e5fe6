"""``benchmarks/gpu_smoke.sh`` at ``SIZE=tiny`` on the CPU: the script a GPU user runs, end to end.

This checks the script (data, models, the three launches per sharding, the summary it prints), not a
GPU: the GPU numbers come only from running it on one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
@pytest.mark.parametrize("sharding", ["zero3", "fsdp"])
def test_gpu_smoke_script_runs_at_tiny_size(tmp_path_factory, sharding):
    if sharding == "zero3":
        pytest.importorskip("deepspeed")
    work = tmp_path_factory.getbasetemp() / "gpu_smoke"  # shared: the second run reuses data and models
    env = {**os.environ, "SIZE": "tiny", "SHARDING": sharding, "OMP_NUM_THREADS": "1"}
    env.pop("ACCELERATE_USE_CPU", None)
    env["PYTHON"] = sys.executable
    done = subprocess.run(["bash", "benchmarks/gpu_smoke.sh", str(work)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for method in ("grpo", "crpo", "cdpo"):
        line = rf"^{method} step (\d): step [\d.]+ s, rollout (\d+) tokens .* = (\d+) tokens/s"
        steps = re.findall(line, done.stdout, re.M)
        assert [s[0] for s in steps] == ["1", "2"], done.stdout
        assert all(int(tokens) > 0 and int(rate) > 0 for _, tokens, rate in steps)
        assert f"{method} ({sharding}): peak GPU memory (no GPU) GiB" in done.stdout
        assert (work / f"run_{sharding}_{method}" / "model" / "model.safetensors").is_file()
