"""A model folder copied with its weights in another dtype: the demo ships bfloat16 copies of float32 runs, and the
tiny reproduction starts RL from a float32 copy of the shipped bfloat16 start model."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dybench.fileio import write_json_atomic

WEIGHTS = "model.safetensors"
"""The one weights file of a small model folder (sharded checkpoints are not converted here)."""


def copy_checkpoint(src: Path, dest: Path, *, dtype: str, skip: Sequence[str] = ()) -> None:
    """Copy the model folder ``src`` into the existing folder ``dest``: ``WEIGHTS`` with every floating tensor in
    ``dtype`` (``float32`` or ``bfloat16``), ``config.json`` saying so (top level and sub-configs), every other
    file as it is but those named in ``skip``. Make ``dest`` atomic at the caller (``fileio.atomic_dir``)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    src, dest = Path(src), Path(dest)
    if not (src / WEIGHTS).is_file():
        raise FileNotFoundError(f"{src}: no {WEIGHTS}; is this a model folder?")
    to = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    for path in sorted(src.iterdir()):
        if path.is_file() and not path.is_symlink() and path.name not in (WEIGHTS, *skip):
            shutil.copyfile(path, dest / path.name)
    with safe_open(src / WEIGHTS, framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: _cast(f.get_tensor(k), to) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    save_file(tensors, dest / WEIGHTS, metadata=metadata)
    config = json.loads((dest / "config.json").read_text(encoding="utf-8"))
    write_json_atomic(dest / "config.json", with_dtype(config, dtype))


def _cast(tensor: Any, dtype: Any) -> Any:
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def with_dtype(config: dict[str, Any], dtype: str) -> dict[str, Any]:
    """The config with every ``dtype`` (top level and sub-configs) set to ``dtype``."""
    return {
        k: dtype if k in ("dtype", "torch_dtype") else with_dtype(v, dtype) if isinstance(v, dict) else v
        for k, v in config.items()
    }
