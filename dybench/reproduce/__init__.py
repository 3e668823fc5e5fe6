"""`dybench reproduce crpo|cdpo|grpo`: data -> (bias model) -> train -> evaluate -> leaderboard -> report.

One call runs the whole chain as resumable stages (``stages.py``); ``--dry-run`` checks the inputs and
prints each stage's command and expected compute. Presets (``presets.py``): ``tiny`` runs on a CPU with
nothing downloaded; ``paper`` holds the published settings for GPUs and local weights.
Heavy libraries (torch, lmms-eval, matplotlib) load only when a stage runs.
"""

from dybench.reproduce.checks import ReproduceInputError
from dybench.reproduce.layout import Layout
from dybench.reproduce.plan import Plan, Reproduction, TrainRun, make_plan, reproduce
from dybench.reproduce.presets import (
    PRESET_NAMES,
    RUNS,
    TARGETS,
    TINY,
    Evaluation,
    Preset,
    SynthData,
    Target,
    Warmup,
    get_preset,
)
from dybench.reproduce.stages import Stage, StageError, StageRecord, run_stages

__all__ = [
    "PRESET_NAMES",
    "RUNS",
    "TARGETS",
    "TINY",
    "Evaluation",
    "Layout",
    "Plan",
    "Preset",
    "ReproduceInputError",
    "Reproduction",
    "Stage",
    "StageError",
    "StageRecord",
    "SynthData",
    "Target",
    "TrainRun",
    "Warmup",
    "get_preset",
    "make_plan",
    "reproduce",
    "run_stages",
]
