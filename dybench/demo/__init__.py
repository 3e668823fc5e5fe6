"""``dybench demo``: the point of the benchmark in one command, on the embedded default data.

It renders held-out DyBench-Synth clips with the tiny preset's planted cue, evaluates the shipped start,
GRPO and CRPO models (``dybench/data/demo_models/``, trained by ``dybench reproduce crpo``) with lmms-eval,
and prints Acc, P-Acc, the single-frame baseline and how often each model follows the cue. The demo sits
on top of ``dybench.reproduce`` (its preset and data stages) and ``dybench.evaluation``; neither imports it.

``python -m dybench.demo.models --from OUT`` ships the models of a reproduction folder.
"""

from dybench.demo._demo_run import DEMO_TASKS, DemoReport, DemoRow, demo
from dybench.demo.models import DEMO_MODELS, MODELS_DIR, DemoModel, DemoModelsError, check_shipped, ship, shipped

__all__ = [
    "DEMO_MODELS",
    "DEMO_TASKS",
    "MODELS_DIR",
    "DemoModel",
    "DemoModelsError",
    "DemoReport",
    "DemoRow",
    "check_shipped",
    "demo",
    "ship",
    "shipped",
]
