"""Tools for tests and smoke runs: tiny Qwen2.5-VL / Qwen3-VL checkpoints built offline (``dybench tiny-model``).

Nothing here is needed to build, score or train for real; importing this package does not load torch
or transformers (a build does).
"""

from dybench.testing._tiny_model import ARCHES, SPECIAL_TOKENS, TAG_TOKENS, Arch, build_tiny_model

__all__ = ["ARCHES", "SPECIAL_TOKENS", "TAG_TOKENS", "Arch", "build_tiny_model"]
