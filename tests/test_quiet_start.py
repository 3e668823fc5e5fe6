"""Commands start without other libraries' notices on stdout (stdout carries `dybench score`'s JSON)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_deepspeed_says_nothing_about_the_cpu_when_dybench_is_loaded():
    """transformers and accelerate import DeepSpeed in every command that loads a model; on a machine without
    a GPU it printed "Setting accelerator to CPU..." to stdout. Its other messages still come through."""
    code = (
        "import dybench, logging, deepspeed\n"
        "from deepspeed.accelerator import get_accelerator\n"
        "get_accelerator()\n"
        "logging.getLogger('DeepSpeed').warning('still heard')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    import torch

    if torch.cuda.is_available():
        pytest.skip("DeepSpeed prints the notice on CPU machines only")
    assert "Setting accelerator to CPU" not in done.stdout + done.stderr
    assert "still heard" in done.stdout
