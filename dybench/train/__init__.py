"""The reference trainer (GRPO, CRPO, bias, CDPO) for Qwen2.5-VL / Qwen3-VL video models.

``train(load_config("recipes/cdpo_qwen2_5_vl_3b.yaml", method="cdpo", ...))`` is what
``dybench train`` runs. Heavy imports (torch, transformers, accelerate) happen when ``train`` is called,
after the config and its inputs are checked (``TrainConfig.check``), so a bad setting is one message.
"""

from __future__ import annotations

from pathlib import Path

from dybench.train.config import METHODS, Method, TrainConfig, TrainConfigError, load_config

__all__ = ["METHODS", "Method", "TrainConfig", "TrainConfigError", "load_config", "train"]


def train(cfg: TrainConfig) -> Path:
    """Run or resume a training run; returns the final model's folder (``<output_dir>/model``)."""
    cfg.check()  # before torch is imported
    from dybench.train.trainer import train as _train

    return _train(cfg)
