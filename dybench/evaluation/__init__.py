"""Evaluation with lmms-eval: dybench's task folders, their data, floor models and ``evaluate``.

Importing this package is cheap: lmms-eval and torch load when a run starts.
"""

from dybench.evaluation._eval_run import OFFLINE, EvalError, EvalRun, evaluate, results_folder
from dybench.evaluation._locations import (
    LOCATIONS,
    MVBENCH,
    PAIRS,
    QA,
    QA_VIDEOS,
    TEMPCOMPASS,
    TIMEBLIND,
    VIDEOMME,
    DataLocation,
    DataLocationError,
    StopEvaluation,
    location_of,
    tasks_path,
)
from dybench.evaluation._predictions_from_samples import predictions_from_samples
from dybench.evaluation._run_summary import comparison_table, output_console, print_summary, score_text, summary_table
from dybench.evaluation._task_prompts import PROMPT_STYLES, PromptStyle, question_prompt, timeblind_prompt

__all__ = [
    "LOCATIONS",
    "MVBENCH",
    "OFFLINE",
    "PAIRS",
    "PROMPT_STYLES",
    "QA",
    "QA_VIDEOS",
    "TEMPCOMPASS",
    "TIMEBLIND",
    "VIDEOMME",
    "DataLocation",
    "DataLocationError",
    "EvalError",
    "EvalRun",
    "PromptStyle",
    "StopEvaluation",
    "comparison_table",
    "evaluate",
    "location_of",
    "output_console",
    "predictions_from_samples",
    "print_summary",
    "question_prompt",
    "results_folder",
    "score_text",
    "summary_table",
    "tasks_path",
    "timeblind_prompt",
]
