"""`dybench reproduce crpo|cdpo|grpo`: data -> (bias model) -> train -> evaluate -> leaderboard -> report.

One call runs the whole chain as resumable stages (``_stages.py``); ``--dry-run`` checks the inputs and
prints each stage's command and expected compute. Presets are YAML files (``recipes/reproduce_<name>.yaml``,
read by ``_presets.py``): ``tiny`` runs on a CPU with nothing downloaded; ``paper`` holds the published
settings for GPUs and local weights.
Heavy libraries (torch, lmms-eval, matplotlib) load only when a stage runs.
"""

from dybench.reproduce._checks import ReproduceInputError
from dybench.reproduce._data_stages import build_split, synthesize_split
from dybench.reproduce._layout import Layout
from dybench.reproduce._plan import Plan, Reproduction, TrainRun, make_plan, reproduce
from dybench.reproduce._presets import (
    PRESET_NAMES,
    TARGETS,
    Ablation,
    Evaluation,
    Preset,
    PresetError,
    SynthData,
    Target,
    TinyModel,
    get_preset,
    load_preset,
)
from dybench.reproduce._stages import Stage, StageError, StageRecord, marker_path, run_stages
from dybench.reproduce._summary import training_summary, wall_time

__all__ = [
    "PRESET_NAMES",
    "Ablation",
    "PresetError",
    "load_preset",
    "TARGETS",
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
    "TinyModel",
    "build_split",
    "get_preset",
    "make_plan",
    "marker_path",
    "reproduce",
    "run_stages",
    "synthesize_split",
    "training_summary",
    "wall_time",
]
