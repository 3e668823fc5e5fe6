"""The reference trainer (GRPO, CRPO, bias, CDPO) for Qwen2.5-VL / Qwen3-VL video models.

``train(load_config("recipes/cdpo_qwen2_5_vl_3b.yaml", method="cdpo", ...))`` is what
``dybench train`` runs. Heavy imports (torch, transformers, accelerate) happen when ``train`` is called,
after the config and its inputs are checked (``TrainConfig.check``), so a bad setting is one message.

The rollout pieces (prompt encoding, sampling, log-probs) are public too, for the reproduction's
supervised warm-up; they load torch on first use (``__getattr__`` below), not on ``import dybench.train``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from dybench.train._config import METHODS, Method, TrainConfig, TrainConfigError, load_config, parse_overrides

#: Public names that need torch: name -> the private module that defines it (imported on first use).
_LAZY = {
    "ClipLoader": "_data",
    "load_examples": "_data",
    "load_model": "_models",
    "completion_logprobs": "_rollout",
    "encode_prompts": "_rollout",
    "forbidden_token_ids": "_rollout",
    "generate_completions": "_rollout",
    "make_rollout": "_rollout",
    "model_arch": "_rollout",
    "sampling_config": "_rollout",
    "stop_token_ids": "_rollout",
}

__all__ = ["METHODS", "Method", "TrainConfig", "TrainConfigError", "load_config", "parse_overrides", "train", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"dybench.train.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'dybench.train' has no attribute {name!r}")


def train(cfg: TrainConfig) -> Path:
    """Run or resume a training run; returns the final model's folder (``<output_dir>/model``)."""
    cfg.check()  # before torch is imported
    from dybench.train._trainer import train as _train

    return _train(cfg)
