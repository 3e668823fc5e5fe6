"""Evaluation with lmms-eval: dybench's task folders, their data, floor models, ``evaluate`` and ``demo``.

Importing this package is cheap: lmms-eval and torch load when a run starts.
"""

from dybench.evaluation._demo import DEMO_TASKS, DemoReport, DemoRow, demo
from dybench.evaluation._locations import (
    LOCATIONS,
    MVBENCH,
    PAIRS,
    TEMPCOMPASS,
    TIMEBLIND,
    VIDEOMME,
    DataLocation,
    DataLocationError,
    StopEvaluation,
    location_of,
)
from dybench.evaluation._paths import tasks_path
from dybench.evaluation._prompts import PROMPT_STYLES, PromptStyle, question_prompt, timeblind_prompt
from dybench.evaluation._report import comparison_table, print_summary, summary_table
from dybench.evaluation._run import OFFLINE, EvalError, EvalRun, evaluate, results_folder
from dybench.evaluation._samples import predictions_from_samples

__all__ = [
    "DEMO_TASKS",
    "LOCATIONS",
    "MVBENCH",
    "OFFLINE",
    "PAIRS",
    "PROMPT_STYLES",
    "TEMPCOMPASS",
    "TIMEBLIND",
    "VIDEOMME",
    "DataLocation",
    "DataLocationError",
    "DemoReport",
    "DemoRow",
    "EvalError",
    "EvalRun",
    "PromptStyle",
    "StopEvaluation",
    "comparison_table",
    "demo",
    "evaluate",
    "location_of",
    "predictions_from_samples",
    "print_summary",
    "question_prompt",
    "results_folder",
    "summary_table",
    "tasks_path",
    "timeblind_prompt",
]
